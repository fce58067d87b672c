package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ocrpool/ocrpool/config"
	"github.com/ocrpool/ocrpool/modules/datapool"
	"github.com/ocrpool/ocrpool/modules/datapool/webhook"
	"github.com/ocrpool/ocrpool/modules/platform/audit"
)

// patternsCmd manages pattern set versions: the same Service methods as
// POST /patterns/refresh and friends, run against the database directly.
// With a shared Redis configured, an activation reaches running servers at
// once; otherwise they notice it from the database within ten seconds.
func (c *cli) patternsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "patterns", Short: "Learn, list, inspect, activate and roll back pattern set versions"}
	var asJSON bool
	var reason, at string

	refresh := &cobra.Command{
		Use: "refresh", Short: "Learn a pattern set from recent corrections; activate it if it passes validation", Args: cobra.NoArgs,
		RunE: c.withDatapool(true, func(ctx context.Context, cfg config.Config, svc *datapool.Service) error {
			fmt.Fprintln(c.errOut, "learning from the corrections of the last", cfg.Datapool.PatternWindow, "…")
			start := time.Now()
			res, err := svc.RefreshPatterns(ctx, c.actor())
			c.audit(ctx, "refresh", res.Version, err, map[string]any{"created": res.Created, "activated": res.Activated})
			if err != nil {
				return err
			}
			if asJSON {
				return c.json(res)
			}
			fmt.Fprintf(c.out, "%s (%d corrections, %s)\n", res.Reason, res.Corrections, time.Since(start).Round(time.Millisecond))
			if res.Created {
				fmt.Fprintf(c.out, "version %s, active: %v\n", res.Version, res.Activated)
			}
			return nil
		}),
	}
	list := &cobra.Command{
		Use: "list", Short: "List versions, newest first", Args: cobra.NoArgs,
		RunE: c.withDatapool(false, func(ctx context.Context, _ config.Config, svc *datapool.Service) error {
			vs, err := svc.PatternVersions(ctx)
			if err != nil {
				return err
			}
			if asJSON {
				return c.json(vs)
			}
			tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tACTIVE\tCREATED\tPATTERNS\tCORRECTIONS\tAVG CONF\tNOTES")
			for _, v := range vs {
				active := ""
				if v.Active {
					active = "*"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%.3f\t%s\n", v.Version, active, v.CreatedAt.Format(time.RFC3339),
					v.PatternCount, v.BasedOnCorrections, v.AvgConfidence, oneLine(v.Notes, 80))
			}
			return tw.Flush()
		}),
	}
	show := &cobra.Command{
		Use: "show VERSION", Short: "Print a version with its patterns (JSON)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withDatapool(false, func(ctx context.Context, _ config.Config, svc *datapool.Service) error {
				ps, err := svc.PatternSetVersion(ctx, args[0])
				if err != nil {
					return err
				}
				return c.json(ps)
			})(cmd, args)
		},
	}
	diff := &cobra.Command{
		Use: "diff FROM TO", Short: "Show what changed between two versions (JSON)", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withDatapool(false, func(ctx context.Context, _ config.Config, svc *datapool.Service) error {
				d, err := svc.DiffPatterns(ctx, args[0], args[1])
				if err != nil {
					return err
				}
				return c.json(d)
			})(cmd, args)
		},
	}
	switchCmd := func(action string) *cobra.Command {
		use, short := "activate VERSION", "Make a version active at once, whatever its validation said"
		if action == "rollback" {
			use, short = "rollback VERSION --reason TEXT", "Make an earlier version active at once and record why"
		}
		return &cobra.Command{
			Use: use, Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return c.withDatapool(true, func(ctx context.Context, cfg config.Config, svc *datapool.Service) error {
					var (
						v   datapool.PatternVersion
						err error
					)
					if action == "rollback" {
						v, err = svc.RollbackPatterns(ctx, args[0], c.actor(), reason)
					} else {
						v, err = svc.ActivatePatterns(ctx, args[0], c.actor(), reason)
					}
					c.audit(ctx, action, args[0], err, map[string]any{"reason": reason})
					if err != nil {
						return err
					}
					fmt.Fprintf(c.out, "%s is active since %s\n", v.Version, v.ActivatedAt.Format(time.RFC3339))
					if cfg.Redis.Embedded() {
						fmt.Fprintln(c.errOut, "note: no shared Redis configured; running servers switch within 10 s (database poll)")
					}
					return nil
				})(cmd, args)
			},
		}
	}
	activate, rollback := switchCmd("activate"), switchCmd("rollback")
	activate.Flags().StringVar(&reason, "reason", "", "why (recorded in the history)")
	rollback.Flags().StringVar(&reason, "reason", "", "why (required; recorded with the version)")
	history := &cobra.Command{
		Use: "history [--at TIME]", Short: "List activations, or say which version was live at a time (RFC 3339)", Args: cobra.NoArgs,
		RunE: c.withDatapool(false, func(ctx context.Context, _ config.Config, svc *datapool.Service) error {
			if at != "" {
				t, err := time.Parse(time.RFC3339, at)
				if err != nil {
					return fmt.Errorf("--at: want an RFC 3339 time such as 2026-11-28T12:00:00Z: %w", err)
				}
				a, err := svc.PatternsLiveAt(ctx, t)
				if err != nil {
					return err
				}
				fmt.Fprintf(c.out, "%s was live at %s (activated %s by %s)\n", a.Version, t.UTC().Format(time.RFC3339), a.ActivatedAt.Format(time.RFC3339), a.Actor)
				return nil
			}
			as, err := svc.PatternActivations(ctx, 100)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tACTION\tFROM\tUNTIL\tBY\tREASON")
			for _, a := range as {
				until := "now"
				if a.DeactivatedAt != nil {
					until = a.DeactivatedAt.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.Version, a.Action, a.ActivatedAt.Format(time.RFC3339), until, a.Actor, oneLine(a.Reason, 60))
			}
			return tw.Flush()
		}),
	}
	history.Flags().StringVar(&at, "at", "", "a time (RFC 3339): print the version live then")
	for _, sub := range []*cobra.Command{refresh, list} {
		sub.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	}
	cmd.AddCommand(refresh, list, show, diff, activate, rollback, history)
	return cmd
}

// webhooksCmd manages the apps notified of pattern set activations.
func (c *cli) webhooksCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "webhooks", Short: "Register and inspect apps notified when the active pattern set changes"}
	var in webhook.NewSubscription
	var status string
	add := &cobra.Command{
		Use: "add --url URL --app NAME --env ENV", Short: "Register a receiver; prints its signing secret once", Args: cobra.NoArgs,
		RunE: c.withDatapool(false, func(ctx context.Context, cfg config.Config, svc *datapool.Service) error {
			sub, err := svc.Webhooks().Subscribe(ctx, in, c.actor())
			c.audit(ctx, "subscribe", sub.ID, err, map[string]any{"url": in.URL, "app_name": in.AppName})
			if err != nil {
				return err
			}
			fmt.Fprintf(c.out, "webhook %s registered for %s\nsigning secret (shown once): %s\n", sub.ID, strings.Join(sub.Events, ", "), sub.Secret)
			fmt.Fprintf(c.out, "verify %s = sha256=HMAC-SHA256(secret, %s + \".\" + body)\n", webhook.SignatureHeader, webhook.TimestampHeader)
			return nil
		}),
	}
	f := add.Flags()
	f.StringVar(&in.URL, "url", "", "receiver URL (http or https)")
	f.StringVar(&in.AppName, "app", "", "app name")
	f.StringVar(&in.Environment, "env", "", "environment")
	f.StringVar(&in.Secret, "secret", "", "signing secret (default: generated)")
	f.StringSliceVar(&in.Events, "events", nil, "events to send (default: all)")
	f.StringVar(&in.Notes, "notes", "", "free text")
	list := &cobra.Command{
		Use: "list", Short: "List receivers", Args: cobra.NoArgs,
		RunE: c.withDatapool(false, func(ctx context.Context, _ config.Config, svc *datapool.Service) error {
			subs, err := svc.Webhooks().Subscriptions(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tACTIVE\tAPP\tENV\tURL\tEVENTS")
			for _, s := range subs {
				fmt.Fprintf(tw, "%s\t%v\t%s\t%s\t%s\t%s\n", s.ID, s.Active, s.AppName, s.Environment, s.URL, strings.Join(s.Events, ","))
			}
			return tw.Flush()
		}),
	}
	remove := &cobra.Command{
		Use: "remove ID", Short: "Stop notifying a receiver (its history stays)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withDatapool(false, func(ctx context.Context, cfg config.Config, svc *datapool.Service) error {
				err := svc.Webhooks().Unsubscribe(ctx, args[0])
				c.audit(ctx, "unsubscribe", args[0], err, nil)
				return err
			})(cmd, args)
		},
	}
	deliveries := &cobra.Command{
		Use: "deliveries", Short: "List deliveries with their attempts (JSON)", Args: cobra.NoArgs,
		RunE: c.withDatapool(false, func(ctx context.Context, _ config.Config, svc *datapool.Service) error {
			ds, err := svc.Webhooks().Deliveries(ctx, webhook.DeliveryFilter{Status: status})
			if err != nil {
				return err
			}
			return c.json(ds)
		}),
	}
	deliveries.Flags().StringVar(&status, "status", "", "pending, delivered or failed")
	cmd.AddCommand(add, list, remove, deliveries)
	return cmd
}

// audit records one row for an operation made from the command line, as
// the guard does for the same operation over HTTP. Failing to write it is
// reported, not fatal: the operation itself already happened.
func (c *cli) audit(ctx context.Context, action, resourceID string, opErr error, details map[string]any) {
	err := func() error {
		st, err := c.openStore(ctx, false)
		if err != nil {
			return err
		}
		d := st.db
		al := audit.New(d, st.log, 4)
		ev := audit.Event{Time: time.Now(), ActorType: audit.ActorUser, ActorID: c.actor(), Action: action,
			ResourceType: "pattern", ResourceID: resourceID, Details: details, UserAgent: "ocrpool-cli", Success: opErr == nil}
		if action == "subscribe" || action == "unsubscribe" {
			ev.ResourceType = "webhook"
		}
		if opErr != nil {
			ev.Error = opErr.Error()
		}
		al.Record(ctx, ev)
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return errors.Join(al.Close(closeCtx), d.Close())
	}()
	if err != nil {
		fmt.Fprintln(c.errOut, "warning: writing the audit row failed:", err)
	}
}

func (c *cli) actor() string { return "cli:" + osUser() }

func (c *cli) json(v any) error {
	enc := json.NewEncoder(c.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n-1] + "…"
	}
	return s
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ocrpool/ocrpool/modules/platform/audit"
	"github.com/ocrpool/ocrpool/modules/platform/auth"
	"github.com/ocrpool/ocrpool/modules/platform/cache"
	"github.com/ocrpool/ocrpool/modules/platform/db"
)

// security is what the keys and audit commands work with: the database
// opened directly (like migrate), the key store, and an audit logger that
// Close flushes.
type security struct {
	db    *db.DB
	keys  *auth.Keys
	audit *audit.Logger
	// actor is who runs the command, for the audit log.
	actor string
}

// withSecurity opens the database (refusing an old schema) and, when a
// shared Redis is configured, connects to it so revocations reach running
// processes at once. Without one they notice within security.key_cache_ttl.
func (c *cli) withSecurity(run func(ctx context.Context, s *security) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) (err error) {
		ctx := cmd.Context()
		st, err := c.openStore(ctx, true)
		if err != nil {
			return err
		}
		cfg, log, d := st.cfg, st.log, st.db
		defer func() { err = errors.Join(err, d.Close()) }()
		opts := auth.KeysOptions{CacheTTL: 0, Log: log}
		if !cfg.Redis.Embedded() {
			rc, err := cache.Open(ctx, cfg.Redis)
			if err != nil {
				return err
			}
			defer func() { err = errors.Join(err, rc.Close()) }()
			opts.Redis, opts.Channel = rc.Client, rc.Key("auth", "revoked")
		}
		keys, err := auth.NewKeys(ctx, d, opts)
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, keys.Close()) }()
		al := audit.New(d, log, 16)
		defer func() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Server.ShutdownTimeout)
			defer cancel()
			err = errors.Join(err, al.Close(ctx))
		}()
		return run(ctx, &security{db: d, keys: keys, audit: al, actor: "cli:" + osUser()})
	}
}

// record writes the audit row of a key operation made from the CLI.
func (s *security) record(ctx context.Context, action string, key auth.Key, err error, details map[string]any) {
	if details == nil {
		details = map[string]any{}
	}
	if key.ID != "" {
		details["key_prefix"] = key.Prefix
		details["key_role"] = string(key.Role)
		details["app_name"] = key.AppName
		details["environment"] = key.Environment
	}
	ev := audit.Event{
		Time: time.Now(), ActorType: audit.ActorUser, ActorID: s.actor,
		Action: action, ResourceType: "api_key", ResourceID: key.ID,
		Details: details, UserAgent: "ocrpool-cli", Success: err == nil,
	}
	if err != nil {
		ev.Error = err.Error()
	}
	s.audit.Record(ctx, ev)
}

func osUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "unknown"
}

func (c *cli) keysCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Create, list and revoke API keys (directly in the database)"}

	var n struct{ role, app, env, expires, notes string }
	create := &cobra.Command{
		Use:   "create --role app|admin|training_service --app NAME --env ENV [--expires 90d] [--notes TEXT]",
		Short: "Create an API key and print it (once: only its hash is stored)",
		Args:  cobra.NoArgs,
		RunE: c.withSecurity(func(ctx context.Context, s *security) error {
			exp, err := auth.ParseExpiry(n.expires, time.Now())
			if err != nil {
				return fmt.Errorf("--expires: %w", err)
			}
			created, err := s.keys.Create(ctx, auth.NewKey{
				Role: auth.Role(n.role), AppName: n.app, Environment: n.env,
				ExpiresAt: exp, CreatedBy: s.actor, Notes: n.notes,
			})
			s.record(ctx, "create", created.Key, err, nil)
			if err != nil {
				return err
			}
			k := created.Key
			expires := "never"
			if k.ExpiresAt != nil {
				expires = k.ExpiresAt.Format(time.RFC3339)
			}
			fmt.Fprintf(c.out, "API key created. It is shown now and never again; store it safely:\n\n    %s\n\n", created.Secret)
			tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "id\t%s\nrole\t%s\napp\t%s\nenvironment\t%s\nexpires\t%s\n", k.ID, k.Role, k.AppName, k.Environment, expires)
			return tw.Flush()
		}),
	}
	f := create.Flags()
	f.StringVar(&n.role, "role", "", "role: app, admin or training_service (required)")
	f.StringVar(&n.app, "app", "", "name of the app or service that uses the key (required)")
	f.StringVar(&n.env, "env", "", "environment: production gives an ocp_live_ key, anything else ocp_test_ (required)")
	f.StringVar(&n.expires, "expires", "", "lifetime such as 90d, 2w or 12h (default: never expires)")
	f.StringVar(&n.notes, "notes", "", "free text shown in keys list")
	for _, name := range []string{"role", "app", "env"} {
		_ = create.MarkFlagRequired(name)
	}

	list := &cobra.Command{
		Use:   "list",
		Short: "List API keys (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: c.withSecurity(func(ctx context.Context, s *security) error {
			keys, err := s.keys.List(ctx)
			s.record(ctx, "list", auth.Key{}, err, map[string]any{"count": len(keys)})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tPREFIX\tROLE\tAPP\tENV\tSTATUS\tCREATED\tEXPIRES\tLAST USED\tCREATED BY")
			for _, k := range keys {
				fmt.Fprintf(tw, "%s\t%s…\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Prefix, k.Role, k.AppName, k.Environment,
					k.Status, k.CreatedAt.Format(time.RFC3339), timeOr(k.ExpiresAt, "never"), timeOr(k.LastUsedAt, "-"), orDash(k.CreatedBy))
			}
			return tw.Flush()
		}),
	}

	var revokeID string
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API key for good",
		Args:  cobra.ExactArgs(1),
		PreRun: func(_ *cobra.Command, args []string) {
			revokeID = args[0]
		},
		RunE: c.withSecurity(func(ctx context.Context, s *security) error {
			if auth.LooksLikeKey(revokeID) {
				// Audited, but the argument is never stored.
				err := errors.New("that is an API key, not a key id: revoke by the ID column of `ocrpool keys list`")
				s.record(ctx, "revoke", auth.Key{}, err, nil)
				return err
			}
			k, err := s.keys.Revoke(ctx, revokeID)
			if k.ID == "" {
				k.ID = revokeID
			}
			s.record(ctx, "revoke", k, err, nil)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.out, "revoked API key %s (%s…, role %s, app %s)\n", k.ID, k.Prefix, k.Role, k.AppName)
			return nil
		}),
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

func timeOr(t *time.Time, def string) string {
	if t == nil {
		return def
	}
	return t.Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

package cli

import (
	"context"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ocrpool/ocrpool/modules/platform/audit"
)

func (c *cli) auditCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Verify and read the audit log (directly in the database)"}

	verify := &cobra.Command{
		Use:   "verify",
		Short: "Check the audit log's hash chain; exit non-zero naming the first broken row",
		Args:  cobra.NoArgs,
		RunE: c.withSecurity(func(ctx context.Context, s *security) error {
			rep, err := audit.Verify(ctx, s.db)
			if err != nil {
				return err
			}
			if !rep.OK() {
				return fmt.Errorf("audit log broken at row %d: %s (%d rows checked)", rep.BrokenAt, rep.Reason, rep.Rows)
			}
			fmt.Fprintf(c.out, "audit log intact: %d rows, head row %d hash %s\n", rep.Rows, rep.HeadID, rep.Head)
			return nil
		}),
	}

	var (
		q                     audit.Query
		since, until, success string
	)
	list := &cobra.Command{
		Use:   "list [--actor ID] [--action A] [--resource-type T] [--resource-id ID] [--since T] [--until T] [--success true|false] [--limit N]",
		Short: "List audit rows, newest first",
		Args:  cobra.NoArgs,
		RunE: c.withSecurity(func(ctx context.Context, s *security) error {
			for _, tp := range []struct {
				flag, val string
				dst       **time.Time
			}{{"--since", since, &q.Since}, {"--until", until, &q.Until}} {
				if tp.val == "" {
					continue
				}
				t, err := time.Parse(time.RFC3339Nano, tp.val)
				if err != nil {
					return fmt.Errorf("%s: want an RFC 3339 time such as 2025-01-31T00:00:00Z", tp.flag)
				}
				*tp.dst = &t
			}
			if success != "" {
				b, err := strconv.ParseBool(success)
				if err != nil {
					return fmt.Errorf("--success: want true or false")
				}
				q.Success = &b
			}
			page, err := audit.List(ctx, s.db, q)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTIME\tACTOR\tACTION\tRESOURCE\tOK\tERROR")
			for _, e := range page.Entries {
				res := e.ResourceType
				if e.ResourceID != "" {
					res += "/" + e.ResourceID
				}
				fmt.Fprintf(tw, "%d\t%s\t%s:%s\t%s\t%s\t%t\t%s\n", e.ID, e.Timestamp.Format(time.RFC3339),
					e.ActorType, e.ActorID, e.Action, res, e.Success, e.ErrorMessage)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if page.NextCursor != "" {
				fmt.Fprintf(c.out, "more: --cursor %s\n", page.NextCursor)
			}
			return nil
		}),
	}
	f := list.Flags()
	f.StringVar(&q.ActorType, "actor-type", "", "app, service, user, system or anonymous")
	f.StringVar(&q.ActorID, "actor", "", "actor id (an API key id, cli:<user>, …)")
	f.StringVar(&q.Action, "action", "", "action, e.g. create, revoke, ingest")
	f.StringVar(&q.ResourceType, "resource-type", "", "resource type, e.g. api_key")
	f.StringVar(&q.ResourceID, "resource-id", "", "resource id")
	f.StringVar(&since, "since", "", "only rows at or after this RFC 3339 time")
	f.StringVar(&until, "until", "", "only rows before this RFC 3339 time")
	f.StringVar(&success, "success", "", "true or false")
	f.IntVar(&q.Limit, "limit", 50, fmt.Sprintf("rows per page, at most %d", audit.MaxLimit))
	f.StringVar(&q.Cursor, "cursor", "", "continue after the page that printed this cursor")

	cmd.AddCommand(verify, list)
	return cmd
}

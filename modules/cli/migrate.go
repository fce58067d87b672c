package cli

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ocrpool/ocrpool/modules/platform/db"
)

func (c *cli) migrateCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "migrate", Short: "Apply, revert or show database migrations"}
	withDB := func(run func(ctx context.Context, d *db.DB) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, _ []string) error {
			st, err := c.openStore(cmd.Context(), false)
			if err != nil {
				return err
			}
			return errors.Join(run(cmd.Context(), st.db), st.db.Close())
		}
	}
	up := &cobra.Command{Use: "up", Short: "Apply every pending migration", Args: cobra.NoArgs,
		RunE: withDB(func(ctx context.Context, d *db.DB) error {
			// Say what is about to run: a migration that rewrites a large
			// table (0005) takes a while and prints nothing until it ends.
			st, err := d.MigrationStatus(ctx)
			if err != nil {
				return err
			}
			for _, s := range st {
				if !s.Applied {
					fmt.Fprintf(c.out, "pending %s\n", s.Name)
				}
			}
			start := time.Now()
			applied, err := d.MigrateUp(ctx)
			if err != nil {
				return err
			}
			if len(applied) == 0 {
				fmt.Fprintln(c.out, "schema is up to date")
			}
			for _, v := range applied {
				fmt.Fprintf(c.out, "applied %d\n", v)
			}
			if len(applied) > 0 {
				fmt.Fprintf(c.out, "took %s\n", time.Since(start).Round(time.Millisecond))
			}
			return nil
		})}
	down := &cobra.Command{Use: "down", Short: "Revert the most recent migration", Args: cobra.NoArgs,
		RunE: withDB(func(ctx context.Context, d *db.DB) error {
			v, err := d.MigrateDown(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.out, "reverted %d\n", v)
			return nil
		})}
	status := &cobra.Command{Use: "status", Short: "List migrations and whether they are applied", Args: cobra.NoArgs,
		RunE: withDB(func(ctx context.Context, d *db.DB) error {
			states, err := d.MigrationStatus(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "DIALECT\t%s\n", d.Dialect)
			fmt.Fprintln(tw, "VERSION\tNAME\tSTATE\tAPPLIED AT")
			for _, s := range states {
				state, at := "pending", ""
				if s.Applied {
					state, at = "applied", s.AppliedAt.UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", s.Version, s.Name, state, at)
			}
			return tw.Flush()
		})}
	cmd.AddCommand(up, down, status)
	return cmd
}

package cli

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/ocrpool/ocrpool/modules"
	"github.com/ocrpool/ocrpool/modules/platform"
)

func (c *cli) serveCmd() *cobra.Command {
	var migrate bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the service with the selected roles",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := c.load()
			if err != nil {
				return err
			}
			log := platform.NewLogger(cfg.Log, c.out)
			app, err := modules.New(cmd.Context(), cfg, log, modules.Options{Migrate: migrate, AdminKeyOut: c.out})
			if err != nil {
				return err
			}
			return app.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.String("roles", "all", "roles to run: all, or a comma-separated list of "+strings.Join(modules.RoleNames()[1:], ", "))
	f.String("addr", ":8080", "listen address (server.addr)")
	f.BoolVar(&migrate, "migrate", false, "apply pending database migrations before starting")
	c.flags["roles"] = f.Lookup("roles")
	c.flags["server.addr"] = f.Lookup("addr")
	return cmd
}

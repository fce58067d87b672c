package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ocrpool/ocrpool/config"
	"github.com/ocrpool/ocrpool/modules"
	"github.com/ocrpool/ocrpool/modules/platform/version"
)

func (c *cli) rolesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "roles",
		Short: "List roles, the modules they run and what they call elsewhere",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ROLE\tMODULES\tCALLS (peers.<role>_url when not local)")
			for _, r := range modules.Describe() {
				calls := "-"
				if len(r.Deps) > 0 {
					calls = strings.Join(r.Deps, ", ")
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Role, strings.Join(r.Modules, ", "), calls)
			}
			fmt.Fprintf(tw, "%s\t%s\t-\n", modules.RoleAll, "every module, one process")
			return tw.Flush()
		},
	}
}

func (c *cli) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(*cobra.Command, []string) {
			v := version.Get()
			fmt.Fprintf(c.out, "ocrpool %s (commit %s, %s)\n", v.Version, v.Commit, v.GoVersion)
		},
	}
}

// healthcheckCmd is the container HEALTHCHECK: the runtime image has no
// curl, so the binary asks its own /healthz.
func (c *cli) healthcheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "healthcheck",
		Short: "Exit 0 when the local server answers /healthz",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := c.load()
			if err != nil {
				return err
			}
			_, port, err := net.SplitHostPort(cfg.Server.Addr)
			if err != nil {
				return fmt.Errorf("server.addr: %w", err)
			}
			scheme := "http"
			if cfg.Server.TLS.Enabled() {
				scheme = "https"
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 3*time.Second)
			defer cancel()
			url := scheme + "://127.0.0.1:" + port + "/healthz"
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return err
			}
			resp, err := healthClient(cfg).Do(req)
			if err != nil {
				return fmt.Errorf("healthcheck: %w", err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("healthcheck: %s answered %s", url, resp.Status)
			}
			return nil
		},
	}
}

// healthClient talks to this machine's own server. With TLS the certificate
// names the public host, not 127.0.0.1, and the check asks only "is the
// process up", so verification is skipped for this loopback call alone.
func healthClient(cfg config.Config) *http.Client {
	if !cfg.Server.TLS.Enabled() {
		return http.DefaultClient
	}
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}, //nolint:gosec // loopback liveness probe only
	}}
}

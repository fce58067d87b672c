// Package cli is ocrpool's command line: the cobra command tree that
// main.go executes. Each command loads the configuration and calls into
// modules/; no business logic lives here.
package cli

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ocrpool/ocrpool/config"
	"github.com/ocrpool/ocrpool/modules/platform"
	"github.com/ocrpool/ocrpool/modules/platform/db"
)

// cli carries what every command needs: where to write and how to load
// the configuration.
type cli struct {
	out, errOut io.Writer
	configFile  string
	// flags maps config keys to the flags that may override them.
	flags map[string]*pflag.Flag
}

func (c *cli) load() (config.Config, error) {
	return config.Load(config.Source{File: c.configFile, Flags: c.flags})
}

// NewRoot returns the ocrpool command tree writing to out and errOut.
func NewRoot(out, errOut io.Writer) *cobra.Command {
	c := &cli{out: out, errOut: errOut, flags: map[string]*pflag.Flag{}}
	root := &cobra.Command{
		Use:   "ocrpool",
		Short: "Central pool of receipt OCR corrections, pattern learning, training and OCR",
		Long: `ocrpool collects users' corrections of receipt OCR from every app, learns
versioned pattern sets from them, trains and deploys better extraction rules,
and reads receipts with Tesseract. One binary; --roles picks what runs.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(out)
	root.SetErr(errOut)
	root.PersistentFlags().StringVar(&c.configFile, "config", "", "config file (default ./"+config.DefaultFile+" if present)")
	// One command (group) per line, each in its own file.
	root.AddCommand(
		c.serveCmd(),
		c.migrateCmd(),
		c.rolesCmd(),
		c.versionCmd(),
		c.healthcheckCmd(),
		c.evalCmd(),
		c.keysCmd(),
		c.auditCmd(),
		c.exportCmd(),
		c.importCmd(),
		c.patternsCmd(),
		c.webhooksCmd(),
	)
	return root
}

// store is what commands that work on the database directly share: the
// validated configuration, a logger on stderr and the open database.
type store struct {
	cfg config.Config
	log *slog.Logger
	db  *db.DB
}

// openStore loads and validates the configuration and opens the database;
// current refuses a schema older than the binary. The caller closes db.
func (c *cli) openStore(ctx context.Context, current bool) (*store, error) {
	cfg, err := c.load()
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := platform.NewLogger(cfg.Log, c.errOut)
	d, err := db.Open(ctx, cfg.Database, log)
	if err != nil {
		return nil, err
	}
	if current {
		if err := d.CheckUpToDate(ctx); err != nil {
			return nil, errors.Join(err, d.Close())
		}
	}
	return &store{cfg: cfg, log: log, db: d}, nil
}

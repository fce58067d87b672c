// Package cli is ocrpool's command line: the cobra command tree that
// main.go executes. Each command loads the configuration and calls into
// modules/; no business logic lives here.
package cli

import (
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ocrpool/ocrpool/config"
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

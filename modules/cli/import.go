package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/ocrpool/ocrpool/config"
	"github.com/ocrpool/ocrpool/modules/datapool"
)

func (c *cli) importCmd() *cobra.Command {
	var (
		opts datapool.ImportOptions
		file string
	)
	cmd := &cobra.Command{
		Use:   "import --file FILE --app APP --env ENV",
		Short: "Import a v1 corrections export (JSON lines) into the data pool",
		Long: `Import the JSON lines the v1 per-app sync service exported, one correction per
line with the fields of POST /corrections/ingest. Every line goes through the
same pipeline as the API: PII masking, normalisation, quality scoring,
idempotent storage and an event on the stream.

--app and --env fill source_app and source_environment of lines that lack
them; lines naming another app or environment are rejected.

Safe to repeat: lines already stored count as duplicates. Resumable: after
every batch a checkpoint is kept in FILE.import-state.json, and running the
same command again continues where an interrupted run stopped (--restart
starts over). Rejected lines are listed, by line number and reason, in
FILE.rejects.jsonl (or --rejects).`,
		Example: `  ocrpool import --file corrections.jsonl --app expenseapp --env sandbox`,
		Args:    cobra.NoArgs,
		RunE: c.withDatapool(true, func(ctx context.Context, _ config.Config, svc *datapool.Service) error {
			bar := progressbar.NewOptions64(1,
				progressbar.OptionSetWriter(c.errOut),
				progressbar.OptionSetDescription("importing"),
				progressbar.OptionShowBytes(true),
				progressbar.OptionSetWidth(30),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionOnCompletion(func() { fmt.Fprintln(c.errOut) }),
			)
			opts.Progress = func(done, total int64) {
				bar.ChangeMax64(max(total, 1))
				_ = bar.Set64(done)
			}
			sum, err := svc.ImportFile(ctx, file, opts)
			_ = bar.Finish()
			if err != nil {
				if sum.Lines > 0 {
					fmt.Fprintf(c.errOut, "import stopped after %d lines (%d imported, %d duplicates, %d rejected); run the same command again to resume\n",
						sum.Lines, sum.Imported, sum.Duplicates, sum.Rejected)
				}
				return err
			}
			if sum.Resumed {
				fmt.Fprintln(c.out, "resumed an interrupted import (counts include the earlier run)")
			}
			fmt.Fprintf(c.out, "imported %d, duplicates %d, rejected %d of %d lines\n", sum.Imported, sum.Duplicates, sum.Rejected, sum.Lines)
			if sum.Rejected > 0 {
				fmt.Fprintf(c.out, "rejected lines and reasons: %s\n", sum.RejectsPath)
			}
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&file, "file", "", "the JSON-lines file to import (required)")
	f.StringVar(&opts.App, "app", "", "source_app of the corrections (required)")
	f.StringVar(&opts.Environment, "env", "", "source_environment of the corrections (required)")
	f.StringVar(&opts.RejectsPath, "rejects", "", "where to list rejected lines (default FILE.rejects.jsonl)")
	f.IntVar(&opts.BatchSize, "batch", 500, "corrections stored per batch")
	f.BoolVar(&opts.Restart, "restart", false, "ignore the checkpoint of an interrupted run and start over")
	for _, name := range []string{"file", "app", "env"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

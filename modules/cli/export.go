package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/shopspring/decimal"
	"github.com/spf13/cobra"

	"github.com/ocrpool/ocrpool/config"
	"github.com/ocrpool/ocrpool/modules/datapool"
	"github.com/ocrpool/ocrpool/modules/platform/cache"
)

// withDatapool opens the database (refusing an old schema) and builds the
// data pool's Service on it, the same code the server runs. events opens
// the configured Redis so stored corrections are published; an embedded
// Redis has no listeners outside this process, so it is skipped.
func (c *cli) withDatapool(events bool, run func(ctx context.Context, cfg config.Config, svc *datapool.Service) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) (err error) {
		ctx := cmd.Context()
		st, err := c.openStore(ctx, true)
		if err != nil {
			return err
		}
		cfg, log, d := st.cfg, st.log, st.db
		defer func() { err = errors.Join(err, d.Close()) }()
		deps := datapool.Deps{Log: log.With("module", datapool.Name), DB: d,
			PIIKey: cfg.Security.PIIKey, SQLitePath: cfg.Database.Path}
		if events && !cfg.Redis.Embedded() {
			rc, err := cache.Open(ctx, cfg.Redis)
			if err != nil {
				return err
			}
			defer func() { err = errors.Join(err, rc.Close()) }()
			deps.Cache = rc
		}
		svc, err := datapool.NewService(cfg.Datapool, deps)
		if err != nil {
			return err
		}
		return run(ctx, cfg, svc)
	}
}

func (c *cli) exportCmd() *cobra.Command {
	var (
		since, until, minQuality, format, out, url string
		apps, envs, fields                         []string
		includeOutliers                            bool
	)
	cmd := &cobra.Command{
		Use:   "export -o FILE",
		Short: "Export corrections as training data (jsonl, csv or parquet)",
		Long: `Export corrections from the data pool to a file, streaming, with a progress bar
on stderr. The export is recorded in training_datasets; its id is printed.

By default the database of the configuration is read directly. With --url the
export comes from a data pool role elsewhere over HTTP, authenticated with
peers.service_key (OCRPOOL_PEERS_SERVICE_KEY).

The file is written next to FILE and renamed into place when complete, so an
interrupted export never leaves a partial FILE. "-o -" writes to stdout.`,
		Example: `  ocrpool export --since 7d --min-quality 0.7 -o week.jsonl
  ocrpool export --since 2024-01-01 --apps expenseapp --fields merchant,amount --format parquet -o data.parquet`,
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	f.StringVar(&since, "since", "", "only corrections created since: 24h, 7d, 2w, a date or an RFC 3339 time")
	f.StringVar(&until, "until", "", "only corrections created before (same forms as --since)")
	f.StringVar(&minQuality, "min-quality", "", "minimum data_quality_score, 0–1")
	f.StringSliceVar(&apps, "apps", nil, "only these source apps (comma-separated)")
	f.StringSliceVar(&envs, "environments", nil, "only these source environments (comma-separated)")
	f.StringSliceVar(&fields, "fields", nil, "only corrections of these fields: merchant, amount, date, category, card_last_four")
	f.BoolVar(&includeOutliers, "include-outliers", false, "also export corrections flagged as outliers")
	f.StringVar(&format, "format", "", "jsonl (default), csv or parquet; default from the file extension")
	f.StringVarP(&out, "output", "o", "", "file to write (required; - for stdout)")
	f.StringVar(&url, "url", "", "export from the data pool at this URL instead of the database")
	_ = cmd.MarkFlagRequired("output")

	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		now := time.Now()
		var q datapool.ExportQuery
		var err error
		if q.Since, err = datapool.ParseSince(since, now); err != nil {
			return fmt.Errorf("--since: %w", err)
		}
		if q.Until, err = datapool.ParseSince(until, now); err != nil {
			return fmt.Errorf("--until: %w", err)
		}
		if minQuality != "" {
			if q.MinQuality, err = decimal.NewFromString(minQuality); err != nil {
				return fmt.Errorf("--min-quality: %q is not a number", minQuality)
			}
		}
		q.Apps, q.Environments, q.Fields, q.IncludeOutliers = apps, envs, fields, includeOutliers
		q.Format = datapool.Format(strings.ToLower(format))
		if q.Format == "" {
			switch strings.ToLower(filepath.Ext(out)) {
			case ".csv":
				q.Format = datapool.CSV
			case ".parquet":
				q.Format = datapool.Parquet
			default:
				q.Format = datapool.JSONL
			}
		}
		export := func(ctx context.Context, client datapool.Client) error {
			return c.writeExport(ctx, client, q, out)
		}
		if url != "" {
			cfg, err := c.load()
			if err != nil {
				return err
			}
			client, err := datapool.NewHTTPClient(url, cfg.Peers.ServiceKey, nil)
			if err != nil {
				return fmt.Errorf("--url: %w", err)
			}
			return export(cmd.Context(), client)
		}
		return c.withDatapool(false, func(ctx context.Context, _ config.Config, svc *datapool.Service) error {
			return export(ctx, svc)
		})(cmd, args)
	}
	return cmd
}

// writeExport runs the export into out (a temporary file renamed into
// place on success, or stdout) with a progress bar on stderr.
func (c *cli) writeExport(ctx context.Context, client datapool.Client, q datapool.ExportQuery, out string) (err error) {
	bar := progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(c.errOut),
		progressbar.OptionSetDescription("exporting"),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(20),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(c.errOut) }),
	)
	var w io.Writer
	var tmp *os.File
	if out == "-" {
		w = c.out
	} else {
		tmp, err = os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".partial-*")
		if err != nil {
			return fmt.Errorf("creating %s: %w", out, err)
		}
		defer func() {
			if err != nil {
				tmp.Close()
				os.Remove(tmp.Name())
			}
		}()
		w = tmp
	}
	ds, err := client.Export(ctx, q, io.MultiWriter(w, bar))
	_ = bar.Finish()
	if err != nil {
		return err
	}
	if tmp != nil {
		if err = tmp.Sync(); err != nil {
			return fmt.Errorf("writing %s: %w", out, err)
		}
		if err = tmp.Close(); err != nil {
			return fmt.Errorf("writing %s: %w", out, err)
		}
		if err = os.Rename(tmp.Name(), out); err != nil {
			return fmt.Errorf("writing %s: %w", out, err)
		}
	}
	msg := c.out
	if out == "-" {
		msg = c.errOut
	}
	count := fmt.Sprint(ds.Count)
	if ds.Count < 0 {
		count = "?"
	}
	fmt.Fprintf(msg, "exported %s corrections (%d bytes, %s) to %s; dataset %s\n", count, ds.Bytes, ds.Format, out, ds.ID)
	return nil
}

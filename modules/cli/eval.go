package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ocrpool/ocrpool/modules/ocr"
	"github.com/ocrpool/ocrpool/modules/ocr/eval"
)

func (c *cli) evalCmd() *cobra.Command {
	var (
		dir      string
		asJSON   bool
		limit    int
		workers  int
		learn    bool
		minFreq  int
		disabled []string
		enabled  []string
	)
	cmd := &cobra.Command{
		Use:   "eval --dir DIR",
		Short: "Measure OCR and extraction on a folder of labelled receipts",
		Long: `eval runs the whole OCR pipeline in this process (decode, preprocessing,
Tesseract, extraction) over every STEM.jpg (or .png) in DIR that has a
STEM.json with its truth ({"company", "date", "total"}, the SROIE layout),
and reports per-field accuracy (merchant vs company after normalisation,
date as a date, amount as a number), how often each true value appears in
the OCR text at all, and timing. The ocr section of the configuration
applies; --disable-step and --enable-step override its preprocessing
switches for an ablation.

--learn splits the folder by a stable hash of each file name into a learn
half and a test half, sends the learn half's true values as user corrections
through a data pool on a temporary embedded database (the configured
database is not touched), refreshes the patterns there and reports the test
half's accuracy before and after, on the same OCR texts. Merchant accuracy is
also given for the test receipts whose merchant is on a receipt of the learn
half ("seen") and for the others. A folder has a few receipts per merchant
where a pool has hundreds, so --learn lowers patterns' min_frequency to
--min-frequency (1 unless set).`,
		Example: `  ocrpool eval --dir ../shared/datasets/sroie/dev
  ocrpool eval --dir ../shared/datasets/sroie/dev --disable-step deskew --json
  ocrpool eval --dir ../shared/datasets/sroie/dev --learn`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return errors.New("eval: --dir is required")
			}
			cfg, err := c.load()
			if err != nil {
				return err
			}
			for _, s := range disabled {
				if err := ocr.SetStep(&cfg.OCR.Preprocess, s, false); err != nil {
					return fmt.Errorf("--disable-step: %w", err)
				}
			}
			for _, s := range enabled {
				if err := ocr.SetStep(&cfg.OCR.Preprocess, s, true); err != nil {
					return fmt.Errorf("--enable-step: %w", err)
				}
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			samples, err := eval.Load(dir, limit)
			if err != nil {
				return err
			}
			if workers <= 0 {
				workers = cfg.OCR.PoolSize
			}
			if workers <= 0 {
				workers = defaultWorkers()
			}
			cfg.OCR.PoolSize = workers
			svc, err := ocr.NewService(cfg.OCR, slog.New(slog.DiscardHandler))
			if err != nil {
				return err
			}
			defer svc.Close()

			progress, finish := c.evalProgress(len(samples))
			if learn {
				// Warnings only: the temporary pool's migrations are not news.
				logger := slog.New(slog.NewTextHandler(c.errOut, &slog.HandlerOptions{Level: slog.LevelWarn}))
				learner := eval.NewPoolLearner(cfg.Datapool, minFreq, "", logger)
				rep, err := eval.RunLearn(cmd.Context(), svc, learner, samples, workers, progress)
				finish()
				if err != nil {
					return err
				}
				rep.OCR.Dir = dir
				if asJSON {
					return writeJSON(c.out, rep)
				}
				return printLearn(c.out, rep)
			}
			rep, err := eval.Run(cmd.Context(), svc, samples, workers, progress)
			finish()
			if err != nil {
				return err
			}
			rep.Dir = dir
			if asJSON {
				return writeJSON(c.out, rep)
			}
			return printEval(c.out, rep, disabled, enabled)
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "folder of receipts: STEM.jpg + STEM.json (company, date, total)")
	f.BoolVar(&asJSON, "json", false, "print the report, with every receipt, as JSON")
	f.IntVar(&limit, "limit", 0, "evaluate only the first N receipts (by name)")
	f.IntVar(&workers, "workers", 0, "receipts processed at once (default ocr.pool_size, or one per CPU)")
	f.StringSliceVar(&disabled, "disable-step", nil, "switch a preprocessing step off (repeatable): orient, grayscale, rescale, denoise, contrast, binarize, deskew, border")
	f.StringSliceVar(&enabled, "enable-step", nil, "switch a preprocessing step on (repeatable)")
	f.BoolVar(&learn, "learn", false, "split the folder, learn patterns from one half through a temporary data pool and report the other half before and after")
	f.IntVar(&minFreq, "min-frequency", 1, "with --learn: the patterns' min_frequency in the temporary data pool")
	return cmd
}

// evalProgress draws a progress bar when stderr is a terminal and prints a
// plain line every tenth of the way otherwise (logs, CI).
func (c *cli) evalProgress(total int) (func(int), func()) {
	if f, ok := c.errOut.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		bar := progressbar.NewOptions(total,
			progressbar.OptionSetWriter(f),
			progressbar.OptionSetDescription("eval"),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionClearOnFinish())
		return func(int) { _ = bar.Add(1) }, func() { _ = bar.Finish() }
	}
	step := max(1, total/10)
	return func(done int) {
		if done%step == 0 || done == total {
			fmt.Fprintf(c.errOut, "eval: %d/%d receipts\n", done, total)
		}
	}, func() {}
}

func printEval(w io.Writer, r eval.Report, disabled, enabled []string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "receipts\t%d in %s (%d failed)\n", r.Receipts, r.Dir, r.Failed)
	if len(disabled)+len(enabled) > 0 {
		fmt.Fprintf(tw, "steps\toff: %s; on: %s\n", orNone(disabled), orNone(enabled))
	}
	fmt.Fprintln(tw, "\nFIELD\tEXTRACTED CORRECTLY\tTRUE VALUE IN OCR TEXT")
	fmt.Fprintf(tw, "merchant\t%s\t%s\n", r.Merchant, r.CompanyInText)
	fmt.Fprintf(tw, "date\t%s\t%s\n", r.Date, r.DateInText)
	fmt.Fprintf(tw, "amount\t%s\t%s\n", r.Amount, r.TotalInText)
	if r.WordsInText.Total > 0 {
		fmt.Fprintf(tw, "all words\t-\t%s\n", r.WordsInText)
	}
	fmt.Fprintf(tw, "\ntime per receipt\tmean %.0f ms, p50 %.0f ms, p95 %.0f ms (%d at once, %.2f receipts/s)\n",
		r.MeanMS, r.P50MS, r.P95MS, r.Workers, r.Throughput)
	steps := make([]string, 0, len(r.StepsMS))
	for k := range r.StepsMS {
		steps = append(steps, k)
	}
	sort.Slice(steps, func(i, j int) bool { return r.StepsMS[steps[i]] > r.StepsMS[steps[j]] })
	parts := make([]string, 0, len(steps))
	for _, k := range steps {
		parts = append(parts, fmt.Sprintf("%s %.0f", k, r.StepsMS[k]))
	}
	fmt.Fprintf(tw, "mean ms by step\t%s\n", strings.Join(parts, ", "))
	return tw.Flush()
}

func printLearn(w io.Writer, r eval.LearnReport) error {
	if err := printEval(w, r.OCR, nil, nil); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	l := r.Learned
	fmt.Fprintf(tw, "\nlearning\t%d receipts taught (%d stored as corrections), %d tested\n", r.LearnReceipts, l.Corrections, r.TestReceipts)
	if l.Version != "" {
		fmt.Fprintf(tw, "pattern set\t%s with %d patterns\n", l.Version, l.PatternCount)
	}
	if l.Note != "" {
		fmt.Fprintf(tw, "refresh\t%s\n", l.Note)
	}
	fmt.Fprintln(tw, "\nTEST HALF\tBEFORE\tAFTER")
	b, a := r.Before, r.After
	fmt.Fprintf(tw, "merchant\t%s\t%s\n", b.Merchant, a.Merchant)
	fmt.Fprintf(tw, "  seen in the learn half\t%s\t%s\n", b.MerchantSeen, a.MerchantSeen)
	fmt.Fprintf(tw, "  not seen\t%s\t%s\n", b.MerchantUnseen, a.MerchantUnseen)
	fmt.Fprintf(tw, "date\t%s\t%s\n", b.Date, a.Date)
	fmt.Fprintf(tw, "amount\t%s\t%s\n", b.Amount, a.Amount)
	return tw.Flush()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func orNone(xs []string) string {
	if len(xs) == 0 {
		return "-"
	}
	return strings.Join(xs, ", ")
}

func defaultWorkers() int { return runtime.NumCPU() }

package eval

import (
	"context"
	"log/slog"
	"testing"

	"github.com/ocrpool/ocrpool/config"
	"github.com/ocrpool/ocrpool/modules/ocr"
)

// TestSROIEDev runs the whole pipeline on the first receipts of the SROIE
// dev set, when it is present (../shared/datasets/sroie/dev from the
// repository root; CI has it), and holds the line on how often the true
// values are legible in the OCR text. The floors sit below what the
// defaults measure on these receipts (docs/OCR.md), so they catch a broken
// step or a lost Tesseract setting, not noise.
func TestSROIEDev(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Tesseract on real receipts")
	}
	dir, ok := FindDevSet()
	if !ok {
		t.Skipf("%s not found above this folder: skipping the SROIE evaluation", DevSetPath)
	}
	samples, err := Load(dir, 10)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default().OCR
	cfg.PoolSize = 2
	svc, err := ocr.NewService(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	rep, err := Run(context.Background(), svc, samples, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("in text: total %s, date %s, company %s, words %s; extracted: amount %s, date %s, merchant %s; %.0f ms per receipt",
		rep.TotalInText, rep.DateInText, rep.CompanyInText, rep.WordsInText, rep.Amount, rep.Date, rep.Merchant, rep.MeanMS)
	if rep.Failed > 0 {
		t.Errorf("%d receipts failed", rep.Failed)
	}
	floors := []struct {
		name  string
		s     Score
		floor float64
	}{
		{"total in text", rep.TotalInText, 0.7},
		{"date in text", rep.DateInText, 0.7},
		{"company in text", rep.CompanyInText, 0.3},
		{"word recall", rep.WordsInText, 0.65},
	}
	for _, f := range floors {
		if f.s.Rate < f.floor {
			t.Errorf("%s = %s, below the floor of %.0f %%", f.name, f.s, 100*f.floor)
		}
	}
}

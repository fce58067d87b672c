package cli

import (
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocrpool/ocrpool/modules/ocr/eval"
	"github.com/ocrpool/ocrpool/modules/ocr/synth"
)

// writeReceipt puts one synthetic receipt in dir, in the SROIE layout.
func writeReceipt(t *testing.T, dir, stem string, seed uint64) synth.Receipt {
	t.Helper()
	r := synth.Random(seed)
	img, err := synth.Render(r, synth.Options{FontSize: 24})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, stem+".png"))
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	truth, _ := json.Marshal(map[string]string{"company": r.Merchant, "date": r.Date, "total": r.Total})
	if err := os.WriteFile(filepath.Join(dir, stem+".json"), truth, 0o600); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestEvalErrors(t *testing.T) {
	t.Chdir(t.TempDir())
	empty := t.TempDir()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"eval", "--dir", empty, "--learn"}, "no labelled receipts"},
		{[]string{"eval"}, "--dir is required"},
		{[]string{"eval", "--dir", empty}, "no labelled receipts"},
		{[]string{"eval", "--dir", "/nonexistent/receipts"}, "/nonexistent/receipts"},
		{[]string{"eval", "--dir", empty, "--disable-step", "sharpen"}, `unknown preprocessing step "sharpen"`},
	}
	for _, tt := range tests {
		_, err := run(t, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ocrpool %v = %v, want an error with %q", tt.args, err, tt.want)
		}
	}
}

func TestEvalReports(t *testing.T) {
	t.Chdir(t.TempDir())
	dir := t.TempDir()
	writeReceipt(t, dir, "001", 11)
	writeReceipt(t, dir, "002", 12)
	out, err := run(t, "eval", "--dir", dir, "--workers", "1")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"receipts  2 in", "merchant", "amount", "time per receipt", "mean ms by step"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	out, err = run(t, "eval", "--dir", dir, "--json", "--limit", "1", "--disable-step", "deskew", "--enable-step", "binarize")
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Receipts int `json:"receipts"`
		Amount   struct {
			Total int `json:"total"`
		} `json:"amount"`
		TotalInText struct {
			Hits int `json:"hits"`
		} `json:"total_in_text"`
		StepsMS map[string]float64 `json:"steps_ms"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	if rep.Receipts != 1 || rep.Amount.Total != 1 || rep.TotalInText.Hits != 1 {
		t.Errorf("report %+v: want the one receipt read, its total legible", rep)
	}
	if _, ok := rep.StepsMS["deskew"]; ok {
		t.Error("deskew ran although disabled")
	}
	if _, ok := rep.StepsMS["binarize"]; !ok {
		t.Error("binarize did not run although enabled")
	}
}

// TestEvalLearn runs --learn end to end on synthetic receipts: real OCR,
// corrections through a temporary data pool, a refresh, before and after.
func TestEvalLearn(t *testing.T) {
	t.Chdir(t.TempDir())
	dir := t.TempDir()
	learn, test := 0, 0
	for i := 1; learn < 2 || test < 2; i++ {
		stem := fmt.Sprintf("%03d", i)
		writeReceipt(t, dir, stem, uint64(20+i))
		if eval.InLearnHalf(stem) {
			learn++
		} else {
			test++
		}
	}
	out, err := run(t, "eval", "--dir", dir, "--learn", "--json", "--workers", "2")
	if err != nil {
		t.Fatal(err)
	}
	var rep eval.LearnReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if rep.LearnReceipts != learn || rep.TestReceipts != test || rep.OCR.Receipts != learn+test {
		t.Errorf("halves %d/%d of %d, want %d/%d", rep.LearnReceipts, rep.TestReceipts, rep.OCR.Receipts, learn, test)
	}
	// Extraction gets clean synthetic receipts right, and a "correction"
	// that changes nothing is an outlier to the data pool: then nothing is
	// learned, and the report says why. (TestRunLearn in modules/ocr/eval
	// covers what learning changes.)
	l := rep.Learned
	if l.Corrections != learn || !(l.Version == "v1" && l.PatternCount > 0 || l.Version == "" && strings.Contains(l.Note, "recurs")) {
		t.Errorf("learned %+v from %d receipts", l, learn)
	}
	if rep.Before.Merchant.Total != test || rep.After.Merchant.Total != test || len(rep.Test) != test {
		t.Errorf("scored %d/%d receipts before/after, want %d", rep.Before.Merchant.Total, rep.After.Merchant.Total, test)
	}
	out, err = run(t, "eval", "--dir", dir, "--learn")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"TEST HALF", "BEFORE", "AFTER", "seen in the learn half", "receipts taught"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

package eval

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocrpool/ocrpool/config"
	"github.com/ocrpool/ocrpool/modules/ocr"
	"github.com/ocrpool/ocrpool/modules/ocr/extract"
)

// textReader stands in for OCR (the one thing a test cannot run fast): its
// "image" files hold the text OCR would have read. Extraction is the real
// one, rules and learned patterns.
type textReader struct {
	patterns atomic.Pointer[patternsBox]
}

type patternsBox struct{ p extract.Patterns }

func (r *textReader) SetPatterns(p extract.Patterns) { r.patterns.Store(&patternsBox{p}) }

func (r *textReader) Extract(_ context.Context, text string, _ ocr.Options) (ocr.Result, error) {
	var p extract.Patterns
	if b := r.patterns.Load(); b != nil {
		p = b.p
	}
	f := extract.New(extract.Options{}).Extract(text, p)
	field := func(x *extract.Field) *ocr.Field {
		if x == nil {
			return nil
		}
		return &ocr.Field{Value: x.Value, Confidence: x.Confidence, Source: x.Source}
	}
	return ocr.Result{Text: text, Fields: ocr.Fields{Merchant: field(f.Merchant), Amount: field(f.Amount), Date: field(f.Date)}}, nil
}

func (r *textReader) Process(ctx context.Context, image []byte, opts ocr.Options) (ocr.Result, error) {
	res, err := r.Extract(ctx, string(image), opts)
	conf := 0.9
	res.OCRConfidence = &conf
	return res, err
}

// misread applies OCR-like damage to a name, different per receipt: every
// receipt of a chain needs a correction (a receipt read right teaches the
// data pool nothing: its "correction" is an outlier).
func misread(name string, k int) string {
	swaps := []struct{ from, to string }{{"N", "Q"}, {"O", "0"}, {"I", "1"}, {"E", "F"}, {"A", "4"}, {"R", "K"}}
	for i := range swaps {
		s := swaps[(k+i)%len(swaps)]
		if strings.Contains(strings.ToUpper(name), s.from) {
			return strings.Replace(strings.ToUpper(name), s.from, s.to, 1)
		}
	}
	return name + " X"
}

// writeFolder writes receipts in the SROIE layout: repeat receipts for each
// of the chains and one for each of the one-off shops.
func writeFolder(t *testing.T, chains, oneOffs []string, repeat int) string {
	t.Helper()
	dir := t.TempDir()
	n := 0
	write := func(company, header string, k int) {
		n++
		stem := fmt.Sprintf("r%03d", n)
		date := time.Date(2026, 10, 1+k%28, 0, 0, 0, 0, time.UTC)
		total := fmt.Sprintf("%d.%02d", 10+n, k%100)
		text := fmt.Sprintf("%s\nNO %d JALAN MAJU %d\nTEL 03-%07d\nTAX INVOICE\nDATE: %s\nITEM %d   %s\nTOTAL   %s\nTHANK YOU PLEASE COME AGAIN\n",
			header, n, k, 1000000+n, date.Format("02/01/2006"), k, total, total)
		truth, err := json.Marshal(Truth{Company: company, Date: date.Format("02/01/2006"), Total: total})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, stem+".jpg"), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, stem+".json"), truth, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range chains {
		for k := range repeat {
			// the header line as OCR read it: misread, or an abbreviation
			// the rules cannot tie to the name
			header := misread(strings.ToUpper(c), k) + " SDN BHD"
			if k%3 == 2 {
				header = "** " + strings.ToLower(misread(c, k+1)) + " **"
			}
			write(c, header, k)
		}
	}
	for i, c := range oneOffs {
		write(c, strings.ToUpper(c)+" ENTERPRISE", i)
	}
	return dir
}

func TestRunLearn(t *testing.T) {
	chains := []string{"Gardenia Bakeries", "Unihakka International", "Sanyu Stationery Shop", "Restoran Wan Sheng",
		"Speed Mart Ninety Nine", "Popular Book Company", "Perniagaan Gin Kee", "Kedai Runcit Ah Seng"}
	oneOffs := []string{"Kedai Papan Yew Chuan", "Lim Seng Tho Hardware", "Tonymoly Viva City", "Three Stooges Cafe",
		"Ikano Handel", "Print Expert", "Warakuya Permas", "Lian Hing Stationery"}
	dir := writeFolder(t, chains, oneOffs, 5)
	samples, err := Load(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	learner := NewPoolLearner(config.Default().Datapool, 1, t.TempDir(), nil)
	var progressed atomic.Int32
	rep, err := RunLearn(context.Background(), &textReader{}, learner, samples, 2, func(int) { progressed.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	if got := int(progressed.Load()); got != len(samples) {
		t.Errorf("progress called %d times, want %d", got, len(samples))
	}
	if rep.LearnReceipts+rep.TestReceipts != len(samples) || rep.LearnReceipts == 0 || rep.TestReceipts == 0 {
		t.Fatalf("split %d + %d of %d receipts", rep.LearnReceipts, rep.TestReceipts, len(samples))
	}
	for _, s := range samples {
		if InLearnHalf(s.Stem) != InLearnHalf(s.Stem) {
			t.Fatal("InLearnHalf is not stable")
		}
	}
	if rep.Learned.Corrections != rep.LearnReceipts || rep.Learned.Version == "" || rep.Learned.PatternCount == 0 {
		t.Fatalf("learned %+v from %d receipts", rep.Learned, rep.LearnReceipts)
	}
	t.Logf("before %+v", rep.Before)
	t.Logf("after  %+v", rep.After)
	for _, r := range rep.Test {
		if r.Seen && !r.AfterOK {
			t.Logf("missed: %+v", r)
		}
	}
	b, a := rep.Before, rep.After
	if a.MerchantSeen.Total == 0 || a.MerchantUnseen.Total == 0 {
		t.Fatalf("the test half should hold seen and unseen merchants: %+v", a)
	}
	// The misread and abbreviated headers of known chains become their
	// names; nothing learned may hurt the shops never seen.
	if a.MerchantSeen.Rate < 0.9 || a.MerchantSeen.Rate <= b.MerchantSeen.Rate {
		t.Errorf("merchant on seen merchants: before %s, after %s; want ≥ 90 %% and better", b.MerchantSeen, a.MerchantSeen)
	}
	if a.MerchantUnseen.Hits < b.MerchantUnseen.Hits {
		t.Errorf("merchant on unseen merchants fell: before %s, after %s", b.MerchantUnseen, a.MerchantUnseen)
	}
	if a.Date != b.Date || a.Amount != b.Amount {
		t.Errorf("date or amount changed: before %+v, after %+v", b, a)
	}
	for _, r := range rep.Test {
		if r.AfterOK && !r.BeforeOK && !strings.HasPrefix(r.SourceAfter, "pattern:"+rep.Learned.Version+":") {
			t.Errorf("%s fixed by %q, want a pattern of %s", r.Stem, r.SourceAfter, rep.Learned.Version)
		}
	}
}

// A data pool section left at its zero value (a caller that builds its own)
// still learns: the batch size falls back to the default.
func TestPoolLearnerZeroConfig(t *testing.T) {
	dir := writeFolder(t, []string{"Gardenia Bakeries", "Sanyu Stationery Shop"}, nil, 6)
	samples, err := Load(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := RunLearn(ctx, &textReader{}, NewPoolLearner(config.DatapoolConfig{}, 1, t.TempDir(), nil), samples, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Learned.Corrections != rep.LearnReceipts || rep.Learned.Version == "" {
		t.Fatalf("learned %+v from %d receipts", rep.Learned, rep.LearnReceipts)
	}
}

func TestRunLearnNeedsBothHalves(t *testing.T) {
	dir := writeFolder(t, []string{"Gardenia Bakeries"}, nil, 1)
	samples, err := Load(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = RunLearn(context.Background(), &textReader{}, NewPoolLearner(config.Default().Datapool, 1, t.TempDir(), nil), samples, 1, nil)
	if err == nil || !strings.Contains(err.Error(), "both halves") {
		t.Fatalf("one receipt: err = %v, want the folder refused", err)
	}
}

// Package eval measures the OCR pipeline on labelled receipts (a folder in
// the SROIE layout: STEM.jpg + STEM.json with company, date and total): the
// accuracy of the extracted merchant, date and amount, how often the true
// values appear in the OCR text at all, and the time taken. `ocrpool eval`
// and the SROIE test run it.
package eval

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/ocrpool/ocrpool/modules/ocr"
)

// Processor is what is measured: ocr.Service in-process.
type Processor interface {
	Process(ctx context.Context, image []byte, opts ocr.Options) (ocr.Result, error)
}

// Score is a count of hits out of a total.
type Score struct {
	Hits  int     `json:"hits"`
	Total int     `json:"total"`
	Rate  float64 `json:"rate"`
}

func (s *Score) add(hit bool) {
	s.Total++
	if hit {
		s.Hits++
	}
	s.Rate = float64(s.Hits) / float64(s.Total)
}

// String is "45/60 (75.0 %)".
func (s Score) String() string {
	return fmt.Sprintf("%d/%d (%.1f %%)", s.Hits, s.Total, 100*s.Rate)
}

// Receipt is the outcome on one receipt.
type Receipt struct {
	Stem  string `json:"stem"`
	Truth Truth  `json:"truth"`
	// Merchant, Date and Amount are the extracted values ("" when none).
	Merchant string `json:"merchant"`
	Date     string `json:"date"`
	Amount   string `json:"amount"`

	MerchantOK bool `json:"merchant_ok"`
	DateOK     bool `json:"date_ok"`
	AmountOK   bool `json:"amount_ok"`

	CompanyInText bool `json:"company_in_text"`
	DateInText    bool `json:"date_in_text"`
	TotalInText   bool `json:"total_in_text"`
	// WordsFound of WordsTotal words of the true text lines were read.
	WordsFound int `json:"words_found"`
	WordsTotal int `json:"words_total"`

	OCRConfidence float64            `json:"ocr_confidence"`
	MS            float64            `json:"ms"`
	TimingsMS     map[string]float64 `json:"timings_ms,omitempty"`
	Error         string             `json:"error,omitempty"`

	// text is what OCR read, kept for --learn (and out of the JSON report:
	// receipts are not to be copied around).
	text string
}

// Report is the result of a run.
type Report struct {
	Dir      string `json:"dir"`
	Receipts int    `json:"receipts"`
	Failed   int    `json:"failed"`

	// Accuracy of the extracted fields against the truth.
	Merchant Score `json:"merchant"`
	Date     Score `json:"date"`
	Amount   Score `json:"amount"`

	// How often the true value is legible anywhere in the OCR text: the
	// ceiling for extraction, and the measure of OCR quality.
	CompanyInText Score `json:"company_in_text"`
	DateInText    Score `json:"date_in_text"`
	TotalInText   Score `json:"total_in_text"`
	// WordsInText is the word recall of the OCR over the true text lines,
	// when the folder has them (SROIE's STEM.box.csv).
	WordsInText Score `json:"words_in_text"`

	// Per receipt, in milliseconds: Process end to end, and each step on
	// average.
	MeanMS  float64            `json:"mean_ms"`
	P50MS   float64            `json:"p50_ms"`
	P95MS   float64            `json:"p95_ms"`
	StepsMS map[string]float64 `json:"steps_ms"`
	// Throughput is receipts per second over the run (with Workers at once).
	Throughput float64 `json:"throughput"`
	Workers    int     `json:"workers"`
	WallMS     float64 `json:"wall_ms"`

	Details []Receipt `json:"details"`
}

// Run processes every sample with workers at once and scores the results.
// progress, when set, is called after each receipt with the number done.
// A receipt that fails counts as wrong on every field.
func Run(ctx context.Context, p Processor, samples []Sample, workers int, progress func(done int)) (Report, error) {
	workers = max(1, workers)
	rep := Report{Receipts: len(samples), Workers: workers, Details: make([]Receipt, len(samples)), StepsMS: map[string]float64{}}
	jobs := make(chan int)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		done int
	)
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				r := score(ctx, p, samples[i])
				mu.Lock()
				rep.Details[i] = r
				done++
				if progress != nil {
					progress(done)
				}
				mu.Unlock()
			}
		}()
	}
	for i := range samples {
		select {
		case jobs <- i:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(jobs)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	wall := time.Since(start)
	rep.WallMS = ms(wall)
	rep.Throughput = float64(len(samples)) / wall.Seconds()

	var times []float64
	for _, r := range rep.Details {
		if r.Error != "" {
			rep.Failed++
		}
		rep.Merchant.add(r.MerchantOK)
		rep.Date.add(r.DateOK)
		rep.Amount.add(r.AmountOK)
		rep.CompanyInText.add(r.CompanyInText)
		rep.DateInText.add(r.DateInText)
		rep.TotalInText.add(r.TotalInText)
		if r.WordsTotal > 0 {
			rep.WordsInText.Hits += r.WordsFound
			rep.WordsInText.Total += r.WordsTotal
			rep.WordsInText.Rate = float64(rep.WordsInText.Hits) / float64(rep.WordsInText.Total)
		}
		times = append(times, r.MS)
		for k, v := range r.TimingsMS {
			if k != "total" {
				rep.StepsMS[k] += v / float64(len(samples))
			}
		}
	}
	sort.Float64s(times)
	if n := len(times); n > 0 {
		sum := 0.0
		for _, t := range times {
			sum += t
		}
		rep.MeanMS = sum / float64(n)
		rep.P50MS = times[n/2]
		rep.P95MS = times[min(n-1, n*95/100)]
	}
	return rep, nil
}

func score(ctx context.Context, p Processor, s Sample) Receipt {
	r := Receipt{Stem: s.Stem, Truth: s.Truth}
	data, err := os.ReadFile(s.Image)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	start := time.Now()
	res, err := p.Process(ctx, data, ocr.Options{App: "eval"})
	r.MS = ms(time.Since(start))
	if err != nil {
		r.Error = err.Error()
		return r
	}
	r.TimingsMS = res.TimingsMS
	r.text = res.Text
	if res.OCRConfidence != nil {
		r.OCRConfidence = *res.OCRConfidence
	}
	if f := res.Fields.Merchant; f != nil {
		r.Merchant = f.Value
	}
	if f := res.Fields.Date; f != nil {
		r.Date = f.Value
	}
	if f := res.Fields.Amount; f != nil {
		r.Amount = f.Value
	}
	r.MerchantOK = MerchantMatches(r.Merchant, s.Truth.Company)
	r.DateOK = DateMatches(r.Date, s.Truth.Date)
	r.AmountOK = AmountMatches(r.Amount, s.Truth.Total)
	r.CompanyInText = CompanyAppears(res.Text, s.Truth.Company)
	r.DateInText = DateAppears(res.Text, s.Truth.Date)
	r.TotalInText = AmountAppears(res.Text, s.Truth.Total)
	r.WordsFound, r.WordsTotal = WordRecall(res.Text, s.Lines)
	return r
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

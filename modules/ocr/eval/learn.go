package eval

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"

	"github.com/ocrpool/ocrpool/modules/ocr"
	"github.com/ocrpool/ocrpool/modules/ocr/extract"
	"github.com/ocrpool/ocrpool/modules/patternset"
)

// Extractor is what --learn needs besides Process: extraction from a text
// with a given pattern set. ocr.Service is one.
type Extractor interface {
	Processor
	Extract(ctx context.Context, text string, opts ocr.Options) (ocr.Result, error)
	SetPatterns(p extract.Patterns)
}

// Taught is one receipt of the learn half as a user correction: what OCR
// read, what extraction guessed, and what the user fixed it to (the truth).
type Taught struct {
	Stem          string
	Text          string
	OCRConfidence float64
	// Merchant, Date and Amount are the extraction's guesses.
	Merchant, Date, Amount string
	Truth                  Truth
}

// Learner turns corrections into a pattern set, the way the data pool
// does: `ocrpool eval --learn` ingests them into a data pool on a
// temporary database and refreshes its patterns (PoolLearner).
type Learner interface {
	Learn(ctx context.Context, taught []Taught) (LearnOutcome, error)
}

// LearnOutcome is what a Learner made of the corrections.
type LearnOutcome struct {
	Patterns extract.Patterns `json:"-"`
	// Set is the learned set itself, for the JSON report.
	Set *patternset.Set `json:"pattern_set,omitempty"`
	// Corrections is how many were stored; PatternCount how many patterns
	// the new set holds.
	Corrections  int    `json:"corrections"`
	PatternCount int    `json:"pattern_count"`
	Version      string `json:"version"`
	// Note says why no set was made, or how it was validated.
	Note string `json:"note,omitempty"`
}

// InLearnHalf reports whether a receipt belongs to the learn half: a
// stable hash of its stem, so the split is the same on every run and does
// not depend on which other receipts are in the folder.
func InLearnHalf(stem string) bool {
	h := fnv.New32a()
	h.Write([]byte(stem))
	return h.Sum32()%2 == 0
}

// FieldScores are the three scored fields on one half, with merchant also
// split by whether the merchant was seen in the learn half.
type FieldScores struct {
	Merchant Score `json:"merchant"`
	Date     Score `json:"date"`
	Amount   Score `json:"amount"`
	// MerchantSeen counts receipts whose merchant (company after
	// NormalizeCompany) is also on a receipt of the learn half;
	// MerchantUnseen the others, where learning can only do harm.
	MerchantSeen   Score `json:"merchant_seen"`
	MerchantUnseen Score `json:"merchant_unseen"`
}

// LearnedReceipt is one receipt of the test half before and after.
type LearnedReceipt struct {
	Stem           string `json:"stem"`
	Company        string `json:"company"`
	Seen           bool   `json:"seen"`
	MerchantBefore string `json:"merchant_before"`
	MerchantAfter  string `json:"merchant_after"`
	SourceAfter    string `json:"source_after,omitempty"`
	BeforeOK       bool   `json:"before_ok"`
	AfterOK        bool   `json:"after_ok"`
}

// LearnReport is the result of RunLearn.
type LearnReport struct {
	// OCR is the plain evaluation of every receipt (both halves).
	OCR           Report           `json:"ocr"`
	LearnReceipts int              `json:"learn_receipts"`
	TestReceipts  int              `json:"test_receipts"`
	Learned       LearnOutcome     `json:"learned"`
	Before        FieldScores      `json:"before"`
	After         FieldScores      `json:"after"`
	Test          []LearnedReceipt `json:"test"`
}

// RunLearn evaluates samples as Run does, then splits them (InLearnHalf),
// teaches the learn half's truth to l as corrections and scores the test
// half's extraction before and after, on the same OCR texts: only the
// pattern set differs between the two.
func RunLearn(ctx context.Context, p Extractor, l Learner, samples []Sample, workers int, progress func(done int)) (LearnReport, error) {
	rep := LearnReport{}
	ocrRep, err := Run(ctx, p, samples, workers, progress)
	if err != nil {
		return rep, err
	}
	rep.OCR = ocrRep

	var taught []Taught
	var test []Receipt
	seen := map[string]bool{}
	for _, r := range ocrRep.Details {
		if !InLearnHalf(r.Stem) {
			test = append(test, r)
			continue
		}
		rep.LearnReceipts++
		seen[NormalizeCompany(r.Truth.Company)] = true
		if r.Error != "" || r.text == "" {
			continue // nothing read: no app would have had a correction to send
		}
		taught = append(taught, Taught{Stem: r.Stem, Text: r.text, OCRConfidence: r.OCRConfidence,
			Merchant: r.Merchant, Date: r.Date, Amount: r.Amount, Truth: r.Truth})
	}
	rep.TestReceipts = len(test)
	if len(taught) == 0 || len(test) == 0 {
		return rep, errors.New("eval --learn: the folder needs receipts in both halves (add more receipts)")
	}

	learned, err := l.Learn(ctx, taught)
	if err != nil {
		return rep, fmt.Errorf("eval --learn: learning: %w", err)
	}
	rep.Learned = learned

	// Before and after on the test half, from the same texts.
	p.SetPatterns(nil)
	defer p.SetPatterns(nil)
	before, err := extractAll(ctx, p, test)
	if err != nil {
		return rep, err
	}
	p.SetPatterns(learned.Patterns)
	after, err := extractAll(ctx, p, test)
	if err != nil {
		return rep, err
	}
	for i, r := range test {
		lr := LearnedReceipt{Stem: r.Stem, Company: r.Truth.Company, Seen: seen[NormalizeCompany(r.Truth.Company)]}
		lr.MerchantBefore, _, lr.BeforeOK = rep.Before.add(before[i], r.Truth, lr.Seen)
		lr.MerchantAfter, lr.SourceAfter, lr.AfterOK = rep.After.add(after[i], r.Truth, lr.Seen)
		rep.Test = append(rep.Test, lr)
	}
	return rep, nil
}

// extractAll runs extraction over each receipt's OCR text; a receipt OCR
// failed on has the zero result (wrong on every field).
func extractAll(ctx context.Context, p Extractor, rs []Receipt) ([]ocr.Result, error) {
	out := make([]ocr.Result, len(rs))
	for i, r := range rs {
		if r.Error != "" || r.text == "" {
			continue
		}
		res, err := p.Extract(ctx, r.text, ocr.Options{App: "eval"})
		if err != nil {
			return nil, fmt.Errorf("eval --learn: extracting %s: %w", r.Stem, err)
		}
		out[i] = res
	}
	return out, nil
}

// add scores one extraction and returns the merchant found, its source and
// whether it was right.
func (f *FieldScores) add(res ocr.Result, t Truth, seen bool) (merchant, source string, ok bool) {
	if m := res.Fields.Merchant; m != nil {
		merchant, source = m.Value, m.Source
	}
	var date, amount string
	if d := res.Fields.Date; d != nil {
		date = d.Value
	}
	if a := res.Fields.Amount; a != nil {
		amount = a.Value
	}
	ok = MerchantMatches(merchant, t.Company)
	f.Merchant.add(ok)
	if seen {
		f.MerchantSeen.add(ok)
	} else {
		f.MerchantUnseen.add(ok)
	}
	f.Date.add(DateMatches(date, t.Date))
	f.Amount.add(AmountMatches(amount, t.Total))
	return merchant, source, ok
}

package extract

import (
	"math"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// FuzzExtract: never panics; amount is a decimal ≥ 0 with two decimals;
// date is a valid ISO date; card_last_four is exactly four digits;
// confidences are in [0,1]. The fuzzed value is also fed back as a learned
// pattern for every field, so the validation of pattern values is fuzzed too.
//
//	go test ./modules/ocr/extract -run '^$' -fuzz FuzzExtract -fuzztime 60s
func FuzzExtract(f *testing.F) {
	seeds := []string{
		sampleReceipt,
		"TOTAL RM 1O. 6O\nCASH 2O.OO\nCHANGE 9.4O",
		"SUMME EUR 1.234,56\nDatum: 09.06.2018",
		"VISA ************1234\nDATE 0l/02/2018",
		"GRAND TOTAL $1,234.56\nMar 15, 2018",
		"AMOUNT DUE\n\n10.50",
		"03/04/2018 12/25/2018 31/02/2018",
		"\x00\xff\xfe TOTAL \u2212 12.00 ₹ ¥ € £",
		"SUB-TOTAL\nTOTAL TAX\nTOTAL\nCASH\nCHANGE\n1.00\n2.00\n3.00\n4.00\n5.00",
		"99999999999.99 0.00 -0.00 .00 ,00",
		"ie || OCEAN VIEW CAFE SDN BHO 7",
		"Net Total RM28 05",
	}
	for _, s := range seeds {
		f.Add(s, "12.50", 0.5)
	}
	f.Add("", "", math.NaN())
	f.Add("x", "2019-13-45", math.Inf(1))
	e := New(Options{})
	eRef := New(Options{ReferenceDate: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), DateOrder: DateOrderMDY})
	f.Fuzz(func(t *testing.T, text, pv string, pc float64) {
		p := &fakePatterns{version: "fz", hits: []PatternHit{
			{Field: "merchant", Value: pv, Confidence: pc, PatternID: "m"},
			{Field: "amount", Value: pv, Confidence: pc, PatternID: "a"},
			{Field: "date", Value: pv, Confidence: pc, PatternID: "d"},
			{Field: "card_last_four", Value: pv, Confidence: pc, PatternID: "c"},
			{Field: "currency", Value: pv, Confidence: pc, PatternID: "u"},
			{Field: "category", Value: pv, Confidence: pc, PatternID: "g"},
		}}
		for _, ex := range []*Extractor{e, eRef} {
			checkFields(t, ex.Extract(text, nil))
			checkFields(t, ex.Extract(text, p))
		}
	})
}

func checkFields(t *testing.T, f Fields) {
	t.Helper()
	for name, fl := range map[string]*Field{
		"merchant": f.Merchant, "amount": f.Amount, "currency": f.Currency,
		"date": f.Date, "category": f.Category, "card_last_four": f.CardLastFour,
	} {
		if fl == nil {
			continue
		}
		if !(fl.Confidence >= 0 && fl.Confidence <= 1) {
			t.Fatalf("%s confidence %v out of [0,1]", name, fl.Confidence)
		}
		if fl.Value == "" || fl.Source == "" {
			t.Fatalf("%s has empty value or source: %+v", name, fl)
		}
	}
	if f.Amount != nil {
		d, err := decimal.NewFromString(f.Amount.Value)
		if err != nil || d.IsNegative() {
			t.Fatalf("amount %q is not a decimal ≥ 0", f.Amount.Value)
		}
	}
	if f.Date != nil {
		d, err := time.Parse("2006-01-02", f.Date.Value)
		if err != nil || d.Format("2006-01-02") != f.Date.Value {
			t.Fatalf("date %q is not a valid ISO date", f.Date.Value)
		}
	}
	if f.CardLastFour != nil && (len(f.CardLastFour.Value) != 4 || !allDigits(f.CardLastFour.Value)) {
		t.Fatalf("card_last_four %q is not four digits", f.CardLastFour.Value)
	}
}

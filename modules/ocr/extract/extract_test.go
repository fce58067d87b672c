package extract

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
)

// fakePatterns is a pattern set that returns fixed hits for texts containing
// a phrase.
type fakePatterns struct {
	version string
	phrase  string
	hits    []PatternHit
}

func (p *fakePatterns) Version() string { return p.version }
func (p *fakePatterns) Match(text string, _ map[string]string) []PatternHit {
	if p.phrase != "" && !strings.Contains(strings.ToUpper(text), p.phrase) {
		return nil
	}
	return p.hits
}

const sampleReceipt = `
GOLDEN DRAGON RESTAURANT SDN BHD (123456-A)
NO 5, JALAN BUNGA 3
47400 PETALING JAYA
GST ID: 000111222333
TAX INVOICE
DATE: 14/03/2018 12:45
Fried rice        1   8.00
Iced tea          1   2.50
SUBTOTAL             10.50
GST 6%                0.63
TOTAL (RM)           11.13
VISA ************4242 11.13
`

func TestExtractSample(t *testing.T) {
	f := New(Options{}).Extract(sampleReceipt, nil)
	want := map[string]string{
		"merchant": "GOLDEN DRAGON RESTAURANT SDN BHD", "amount": "11.13", "currency": "MYR",
		"date": "2018-03-14", "category": "meals", "card_last_four": "4242",
	}
	got := map[string]*Field{
		"merchant": f.Merchant, "amount": f.Amount, "currency": f.Currency,
		"date": f.Date, "category": f.Category, "card_last_four": f.CardLastFour,
	}
	for k, w := range want {
		g := got[k]
		if g == nil {
			t.Errorf("%s = nil, want %q", k, w)
			continue
		}
		if g.Value != w {
			t.Errorf("%s = %q, want %q", k, g.Value, w)
		}
		if g.Confidence <= 0 || g.Confidence > 1 || !strings.HasPrefix(g.Source, "rule:") {
			t.Errorf("%s: confidence %.2f source %q", k, g.Confidence, g.Source)
		}
	}
	// JSON shape other modules rely on
	b, _ := json.Marshal(f)
	for _, key := range []string{`"merchant":{"value"`, `"card_last_four":{`, `"confidence":`, `"source":"rule:`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON %s lacks %s", b, key)
		}
	}
}

func TestNilPatternsAndEmptyText(t *testing.T) {
	e := New(Options{})
	f := e.Extract("", nil)
	if f != (Fields{}) {
		t.Errorf("empty text gave %+v", f)
	}
	var p Patterns // nil interface
	if got := e.Extract(sampleReceipt, p); got.Amount == nil || got.Amount.Value != "11.13" {
		t.Errorf("nil Patterns: %+v", got.Amount)
	}
	// a pattern set with no hits changes nothing
	empty := &fakePatterns{version: "v1"}
	if a, b := e.Extract(sampleReceipt, empty), e.Extract(sampleReceipt, nil); !fieldsEqual(a, b) {
		t.Errorf("empty pattern set changed the result: %+v vs %+v", a, b)
	}
}

func TestPatternsOverrideRules(t *testing.T) {
	e := New(Options{})
	p := &fakePatterns{version: "v7", phrase: "GOLDEN DRAGON", hits: []PatternHit{
		{Field: "merchant", Value: "Golden Dragon Restaurant", Confidence: 0.98, PatternID: "p3"},
		{Field: "merchant", Value: "Golden Dragon (old alias)", Confidence: 0.60, PatternID: "p1"},
		{Field: "category", Value: "business_meals", Confidence: 0.9, PatternID: "p9"},
		{Field: "amount", Value: "11.13", Confidence: 0.2, PatternID: "p4"}, // weaker than the rule
		{Field: "date", Value: "2018-03-15", Confidence: 0.99, PatternID: "p5"},
		{Field: "card_last_four", Value: "12345", Confidence: 0.99, PatternID: "p6"}, // invalid → ignored
		{Field: "currency", Value: "sgd", Confidence: 0.99, PatternID: "p7"},
		{Field: "unknown", Value: "x", Confidence: 1, PatternID: "p8"},
	}}
	f := e.Extract(sampleReceipt, p)
	check := func(name string, fl *Field, value, source string) {
		t.Helper()
		if fl == nil || fl.Value != value || fl.Source != source {
			t.Errorf("%s = %+v, want %q from %q", name, fl, value, source)
		}
	}
	check("merchant", f.Merchant, "Golden Dragon Restaurant", "pattern:v7:p3")
	check("category", f.Category, "business_meals", "pattern:v7:p9")
	check("amount", f.Amount, "11.13", "rule:total-keyword")
	check("date", f.Date, "2018-03-15", "pattern:v7:p5")
	check("card", f.CardLastFour, "4242", "rule:card-masked")
	check("currency", f.Currency, "SGD", "pattern:v7:p7")
	if f.Merchant.Confidence != 0.98 {
		t.Errorf("merchant confidence %.2f", f.Merchant.Confidence)
	}
}

func TestPatternsFillMissingFields(t *testing.T) {
	e := New(Options{})
	p := &fakePatterns{version: "2024.1", hits: []PatternHit{
		{Field: "total", Value: "RM 1.234,50", Confidence: 0.3, PatternID: "a"},
		{Field: "date", Value: "03 MAR 2018", Confidence: 0.3, PatternID: "b"},
		{Field: "merchant", Value: "  ~Mystery Shop~ ", Confidence: 1.7, PatternID: "c"}, // clamped
	}}
	f := e.Extract("nothing useful here", p)
	if f.Amount == nil || f.Amount.Value != "1234.50" || f.Amount.Source != "pattern:2024.1:a" {
		t.Errorf("amount = %+v", f.Amount)
	}
	if f.Date == nil || f.Date.Value != "2018-03-03" {
		t.Errorf("date = %+v", f.Date)
	}
	if f.Merchant == nil || f.Merchant.Value != "Mystery Shop" || f.Merchant.Confidence != 1 {
		t.Errorf("merchant = %+v", f.Merchant)
	}
}

func TestPatternTieOrderIsStable(t *testing.T) {
	e := New(Options{})
	a := &fakePatterns{version: "v", hits: []PatternHit{
		{Field: "merchant", Value: "B Shop", Confidence: 0.95, PatternID: "p2"},
		{Field: "merchant", Value: "A Shop", Confidence: 0.95, PatternID: "p1"},
	}}
	b := &fakePatterns{version: "v", hits: []PatternHit{a.hits[1], a.hits[0]}}
	fa, fb := e.Extract("x", a), e.Extract("x", b)
	if fa.Merchant == nil || fb.Merchant == nil || fa.Merchant.Value != fb.Merchant.Value || fa.Merchant.Value != "A Shop" {
		t.Errorf("tie resolved differently: %+v vs %+v", fa.Merchant, fb.Merchant)
	}
}

func TestExtractConcurrent(t *testing.T) {
	e := New(Options{})
	want := e.Extract(sampleReceipt, nil)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				if got := e.Extract(sampleReceipt, nil); !fieldsEqual(got, want) {
					t.Error("concurrent result differs")
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestCurrency(t *testing.T) {
	tests := []struct{ text, want string }{
		{"TOTAL $12.00\nAUSTIN, TX, USA", "USD"},
		{"TOTAL $12.00\nORCHARD ROAD SINGAPORE 238801", "SGD"},
		{"TOTAL S$12.00", "SGD"},
		{"TOTAL 12.00 €", "EUR"},
		{"Total £9.99", "GBP"},
		{"AMOUNT (RM)\nTOTAL 12.00", "MYR"},
		{"ACME SDN BHD\nTOTAL 12.00", "MYR"},
		{"TOTAL 12.00", ""},
	}
	for _, tt := range tests {
		f := New(Options{}).Extract(tt.text, nil)
		got := ""
		if f.Currency != nil {
			got = f.Currency.Value
		}
		if got != tt.want {
			t.Errorf("%q: currency = %q, want %q", tt.text, got, tt.want)
		}
	}
	if f := New(Options{DefaultCurrency: "eur"}).Extract("TOTAL 12.00", nil); f.Currency == nil || f.Currency.Value != "EUR" {
		t.Errorf("default currency: %+v", f.Currency)
	}
}

func fieldsEqual(a, b Fields) bool {
	eq := func(x, y *Field) bool { return x == nil && y == nil || x != nil && y != nil && *x == *y }
	return eq(a.Merchant, b.Merchant) && eq(a.Amount, b.Amount) && eq(a.Currency, b.Currency) &&
		eq(a.Date, b.Date) && eq(a.Category, b.Category) && eq(a.CardLastFour, b.CardLastFour)
}

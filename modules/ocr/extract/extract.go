package extract

import (
	"math"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Options are the knobs of an Extractor. The zero value is usable.
type Options struct {
	// ReferenceDate, when set, rejects dates after it (one day of slack for
	// time zones) and more than 30 years before it, and anchors two-digit
	// years and dates printed without a year. Usually the upload time.
	ReferenceDate time.Time
	// DateOrder resolves numeric dates that read both ways (03/04/2019):
	// DateOrderAuto (default) uses the receipt's unambiguous dates, then the
	// currency (USD → month first), then day first.
	DateOrder DateOrder
	// Categories maps a category name to lower-case keywords or phrases; nil
	// means DefaultCategories(). An empty non-nil map disables keyword
	// categories (learned patterns still apply).
	Categories map[string][]string
	// DefaultCurrency (ISO 4217) is reported, with low confidence, when the
	// text names no currency and points to no country; "" reports none.
	DefaultCurrency string
}

// Extractor extracts fields from receipt text. It holds no mutable state and
// is safe for concurrent use.
type Extractor struct {
	opts Options
	cats *categoryIndex
}

// New returns an Extractor configured by opts.
func New(opts Options) *Extractor {
	tax := opts.Categories
	if tax == nil {
		tax = DefaultCategories()
	}
	return &Extractor{opts: opts, cats: buildCategoryIndex(tax)}
}

// Extract returns the fields found in text: the rules first, then the learned
// patterns p (may be nil), which win a field when their confidence is higher
// than the rule's (for merchant and category, when at least as high).
func (e *Extractor) Extract(text string, p Patterns) Fields {
	lines := splitLines(text)
	var f Fields

	amt, okAmt := findAmount(lines)
	if okAmt {
		f.Amount = &Field{Value: amt.val.StringFixed(2), Confidence: amt.conf, Source: amt.source}
	}
	cur, okCur := e.findCurrency(lines, amt.cur)
	if okCur {
		f.Currency = &Field{Value: cur.iso, Confidence: cur.conf, Source: cur.source}
	}
	if d, ok := e.findDate(lines, cur.iso); ok {
		f.Date = &Field{Value: d.iso, Confidence: d.conf, Source: d.source}
	}
	if c, ok := findCard(lines); ok {
		f.CardLastFour = &Field{Value: c.last4, Confidence: c.conf, Source: c.source}
	}
	if m, ok := findMerchant(lines); ok {
		f.Merchant = &Field{Value: m.name, Confidence: m.conf, Source: m.source}
	}

	var hits map[string][]PatternHit
	version := ""
	if p != nil {
		version = p.Version()
		guesses := map[string]string{}
		if f.Merchant != nil {
			guesses["merchant"] = f.Merchant.Value
		}
		hits = groupHits(p.Match(text, guesses))
	}
	e.override(&f.Merchant, "merchant", hits["merchant"], version, true)

	merchant := ""
	if f.Merchant != nil {
		merchant = f.Merchant.Value
	}
	if c, ok := e.cats.find(merchant, lines); ok {
		f.Category = &Field{Value: c.name, Confidence: c.conf, Source: c.source}
	}
	e.override(&f.Category, "category", hits["category"], version, true)
	e.override(&f.Amount, "amount", hits["amount"], version, false)
	e.override(&f.Currency, "currency", hits["currency"], version, false)
	e.override(&f.Date, "date", hits["date"], version, false)
	e.override(&f.CardLastFour, "card_last_four", hits["card_last_four"], version, false)
	return f
}

// fieldAliases accepts the names a pattern set may use for a field.
var fieldAliases = map[string]string{
	"merchant": "merchant", "company": "merchant", "vendor": "merchant", "store": "merchant",
	"amount": "amount", "total": "amount",
	"currency":       "currency",
	"date":           "date",
	"category":       "category",
	"card_last_four": "card_last_four", "card_last4": "card_last_four", "card": "card_last_four", "cardlastfour": "card_last_four",
}

// groupHits sorts pattern hits by field, best first (ties by pattern id, so
// the result does not depend on the order the pattern set returns them).
func groupHits(hs []PatternHit) map[string][]PatternHit {
	if len(hs) == 0 {
		return nil
	}
	out := map[string][]PatternHit{}
	for _, h := range hs {
		name, ok := fieldAliases[strings.ToLower(strings.TrimSpace(h.Field))]
		if !ok || math.IsNaN(h.Confidence) {
			continue
		}
		out[name] = append(out[name], h)
	}
	for _, v := range out {
		sort.SliceStable(v, func(i, j int) bool {
			if v[i].Confidence != v[j].Confidence {
				return v[i].Confidence > v[j].Confidence
			}
			return v[i].PatternID < v[j].PatternID
		})
	}
	return out
}

// override replaces *dst by the best valid hit when it is more confident.
func (e *Extractor) override(dst **Field, field string, hits []PatternHit, version string, ties bool) {
	for _, h := range hits {
		v, ok := e.normalise(field, h.Value)
		if !ok {
			continue
		}
		c := clamp01(h.Confidence)
		if cur := *dst; cur != nil && (c < cur.Confidence || c == cur.Confidence && !ties) {
			return
		}
		*dst = &Field{Value: v, Confidence: c, Source: "pattern:" + version + ":" + h.PatternID}
		return
	}
}

// normalise checks and canonicalises a learned value for field.
func (e *Extractor) normalise(field, v string) (string, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", false
	}
	switch field {
	case "amount":
		var ms []money
		ms = scanMoney(strings.ToUpper(fixDigits(v)), ms)
		if len(ms) == 1 && !ms[0].neg {
			return ms[0].val.StringFixed(2), true
		}
		d, err := decimal.NewFromString(v)
		if err != nil || d.IsNegative() {
			return "", false
		}
		return d.StringFixed(2), true
	case "date":
		if t, err := time.Parse("2006-01-02", v); err == nil {
			return t.Format("2006-01-02"), e.plausible(t.Year(), int(t.Month()), t.Day())
		}
		d, ok := e.findDate(splitLines(v), "")
		return d.iso, ok
	case "card_last_four":
		if len(v) == 4 && allDigits(v) {
			return v, true
		}
		return "", false
	case "currency":
		v = strings.ToUpper(v)
		if len(v) != 3 || countLetters(v) != 3 {
			return "", false
		}
		return v, true
	case "merchant":
		v = cleanName(v)
		return v, v != ""
	case "category":
		return v, true
	}
	return "", false
}

package datapool

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// Quality score (data_quality_score, 0.00–1.00):
//
//	score = 0.30·C + 0.20·K + 0.25·V + 0.15·T + 0.10·P, rounded half up to 2 places
//
//	C  OCR confidence (0–1); 0.5 when the engine gave none.
//	K  how much was corrected: 1 field 1.0, 2 → 0.9, 3 → 0.7, 4 → 0.5,
//	   5 → 0.3, none → 0 (a "correction" that changes nothing teaches nothing;
//	   it is also an outlier). Correcting everything usually means the wrong
//	   receipt or an OCR failure, not a learnable misread.
//	V  consistency of the corrected values with the receipt: the share of
//	   the given corrected fields that the OCR text supports — a word of the
//	   merchant, the amount (in either decimal convention), the date (in a
//	   usual receipt format) or the card's last four appear in the text, and
//	   the category is in the taxonomy. 0.5 when no field can be checked.
//	T  text length: 0 below 20 non-space characters, rising linearly to 1 at
//	   200 (short texts are usually failed scans).
//	P  PII hits: 1 − 0.25 per masked card, e-mail or phone number, floor 0
//	   (texts full of personal data are often not receipts).
var (
	weightConfidence  = decimal.RequireFromString("0.30")
	weightExtent      = decimal.RequireFromString("0.20")
	weightConsistency = decimal.RequireFromString("0.25")
	weightLength      = decimal.RequireFromString("0.15")
	weightPII         = decimal.RequireFromString("0.10")
)

// qualityInputs are the measurements the score is made of.
type qualityInputs struct {
	Confidence  *float64
	Corrected   int     // fields in fields_corrected
	Consistency float64 // V, 0–1
	TextChars   int     // non-space characters of the masked OCR text
	PIIHits     int
}

func extentScore(corrected int) float64 {
	switch corrected {
	case 0:
		return 0
	case 1:
		return 1
	case 2:
		return 0.9
	case 3:
		return 0.7
	case 4:
		return 0.5
	}
	return 0.3
}

// qualityScore computes data_quality_score. The sum is taken in
// millionths (integers), so the rounding to two places is exact.
func qualityScore(in qualityInputs) decimal.Decimal {
	c := 0.5
	if in.Confidence != nil {
		c = *in.Confidence
	}
	t := clamp01(float64(in.TextChars-20) / 180)
	p := clamp01(1 - 0.25*float64(in.PIIHits))
	micro := func(w decimal.Decimal, v float64) int64 {
		return w.Shift(2).IntPart() * int64(math.Round(clamp01(v)*1e4)) // weight in hundredths × value in 1e-4
	}
	sum := micro(weightConfidence, c) + micro(weightExtent, extentScore(in.Corrected)) +
		micro(weightConsistency, in.Consistency) + micro(weightLength, t) + micro(weightPII, p)
	// sum is in millionths; round half up to hundredths.
	return decimal.New((sum+5000)/10000, -2)
}

func clamp01(f float64) float64 {
	switch {
	case math.IsNaN(f) || f < 0:
		return 0
	case f > 1:
		return 1
	}
	return f
}

// textChars counts the non-space characters of s.
func textChars(s string) int {
	n := 0
	for _, r := range s {
		if !unicode.IsSpace(r) {
			n++
		}
	}
	return n
}

// consistency is V: the share of checkable corrected fields the text
// supports. upperText is the masked OCR text in upper case.
func consistency(upperText string, n normalized, categoryKnown bool) float64 {
	checked, passed := 0, 0
	check := func(ok bool) {
		checked++
		if ok {
			passed++
		}
	}
	if n.merchant != "" {
		found := false
		for _, w := range merchantTokens(n.merchant) {
			if utf8.RuneCountInString(w) >= 3 && strings.Contains(upperText, w) {
				found = true
				break
			}
		}
		check(found)
	}
	if n.amount != nil {
		check(containsAny(upperText, amountSpellings(*n.amount)))
	}
	if n.date != "" {
		check(dateSpelledIn(upperText, n.date))
	}
	if n.category != "" {
		check(categoryKnown)
	}
	if n.card != "" {
		check(strings.Contains(upperText, n.card))
	}
	if checked == 0 {
		return 0.5
	}
	return float64(passed) / float64(checked)
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// amountSpellings are the ways a receipt prints an amount: 1234.56,
// 1,234.56, 1.234,56, 1234,56 (and 12 for 12.00).
func amountSpellings(a decimal.Decimal) []string {
	fixed := a.StringFixed(2) // 1234.56
	intPart, frac, _ := strings.Cut(fixed, ".")
	grouped := groupThousands(intPart)
	out := []string{
		fixed,
		grouped + "." + frac,
		strings.ReplaceAll(grouped, ",", ".") + "," + frac,
		intPart + "," + frac,
	}
	if frac == "00" && len(intPart) > 1 {
		out = append(out, grouped)
	}
	return out
}

func groupThousands(digits string) string {
	if len(digits) <= 3 {
		return digits
	}
	var b strings.Builder
	pre := len(digits) % 3
	if pre > 0 {
		b.WriteString(digits[:pre])
	}
	for i := pre; i < len(digits); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(digits[i : i+3])
	}
	return b.String()
}

var monthAbbr = [...]string{"", "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}

// dateSpelledIn reports whether upperText holds the ISO date in one of
// the usual receipt spellings (upper case). It builds one spelling at a
// time and stops at the first found: this runs for every correction, and
// building all 21 would cost as many allocations.
func dateSpelledIn(upperText, iso string) bool {
	if !isoDateLayout(iso) {
		return false
	}
	y, m, d := iso[:4], iso[5:7], iso[8:10]
	mi := atoi(m)
	if mi < 1 || mi > 12 {
		return false
	}
	yy := y[2:]
	d1, m1 := strings.TrimPrefix(d, "0"), strings.TrimPrefix(m, "0")
	mon, long := monthAbbr[mi], monthUpper[mi]
	for i := 0; ; i++ {
		var sp string
		switch i {
		case 0:
			sp = iso
		case 1:
			sp = y + "/" + m + "/" + d
		case 2:
			sp = d + "/" + m + "/" + y
		case 3:
			sp = d + "-" + m + "-" + y
		case 4:
			sp = d + "." + m + "." + y
		case 5:
			sp = d + "/" + m + "/" + yy
		case 6:
			sp = d + "-" + m + "-" + yy
		case 7:
			sp = d + "." + m + "." + yy
		case 8:
			sp = d1 + "/" + m1 + "/" + y
		case 9:
			sp = d1 + "/" + m1 + "/" + yy
		case 10:
			sp = m + "/" + d + "/" + y
		case 11:
			sp = m1 + "/" + d1 + "/" + y
		case 12:
			sp = d1 + " " + mon + " " + y
		case 13:
			sp = d + " " + mon + " " + y
		case 14:
			sp = d1 + "-" + mon + "-" + yy
		case 15:
			sp = d + "-" + mon + "-" + y
		case 16:
			sp = d + mon + yy
		case 17:
			sp = mon + " " + d1 + ", " + y
		case 18:
			sp = mon + " " + d1 + " " + y
		case 19:
			sp = d1 + " " + long + " " + y
		case 20:
			sp = long + " " + d1 + ", " + y
		default:
			return false
		}
		if strings.Contains(upperText, sp) {
			return true
		}
	}
}

// monthUpper are the month names in upper case, for dateSpelledIn.
var monthUpper = func() [13]string {
	var out [13]string
	for i, m := range monthLong {
		out[i] = strings.ToUpper(m)
	}
	return out
}()

func isoDateLayout(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	return isDigits(s[:4]) && isDigits(s[5:7]) && isDigits(s[8:])
}

// Outlier rules. A correction may break several; outlier_reason lists them
// as "code: detail" separated by "; ".
const (
	reasonIdentical       = "identical_to_original"
	reasonFutureDate      = "future_date"
	reasonOldDate         = "old_date"
	reasonFutureCreatedAt = "future_created_at"
	reasonAmountMedian    = "amount_far_from_merchant_median"
	reasonDuplicate       = "duplicate_receipt"
)

// Outlier thresholds.
const (
	// futureSlack tolerates time zones: a receipt dated tomorrow in UTC may
	// be today where it was printed.
	futureSlack = 36 * time.Hour
	// oldAfter flags receipts dated more than two years before the correction.
	oldAfter = 2 * 365 * 24 * time.Hour
	// minMerchantSample is how many earlier amounts a merchant needs before
	// its median means anything.
	minMerchantSample = 5
	// medianFactor and madFactor: an amount is far from a merchant's median
	// when it is an order of magnitude away (≥ 10× or ≤ 1/10 of the median,
	// the typical decimal-point misread) and more than 5 robust standard
	// deviations (1.4826 × MAD) from it.
	medianFactor = 10
	madFactor    = 5
)

// amountOutlier reports whether x is far from the merchant's recent amounts
// and says how. (Statistics over amounts are floats: nothing here is stored.)
func amountOutlier(x decimal.Decimal, recent []float64) (string, bool) {
	if len(recent) < minMerchantSample {
		return "", false
	}
	vals := recent
	med := median(vals)
	dev := make([]float64, len(vals))
	for i, v := range vals {
		dev[i] = math.Abs(v - med)
	}
	mad := median(dev)
	xf := x.InexactFloat64()
	far := (med > 0 && (xf >= medianFactor*med || xf <= med/medianFactor)) || (med == 0 && xf > 0)
	if !far || math.Abs(xf-med) <= madFactor*1.4826*mad {
		return "", false
	}
	return fmt.Sprintf("%s: %s against a median of %.2f over %d receipts", reasonAmountMedian, x.StringFixed(2), med, len(recent)), true
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// dateOutliers applies the date rules to a receipt date (yyyy-mm-dd) given
// when the correction was made and now.
func dateOutliers(date string, createdAt, now time.Time) []string {
	var out []string
	if createdAt.After(now.Add(futureSlack)) {
		out = append(out, fmt.Sprintf("%s: created_at %s is in the future", reasonFutureCreatedAt, createdAt.Format(time.RFC3339)))
	}
	if date == "" {
		return out
	}
	d, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return out
	}
	ref := createdAt
	if ref.After(now) {
		ref = now
	}
	switch {
	case d.After(ref.Add(futureSlack)):
		out = append(out, fmt.Sprintf("%s: receipt dated %s, after the correction", reasonFutureDate, date))
	case d.Before(ref.Add(-oldAfter)):
		out = append(out, fmt.Sprintf("%s: receipt dated %s, over two years before the correction", reasonOldDate, date))
	}
	return out
}

// merchantCache keeps recent amounts per merchant in memory, so the amount
// rule costs no query for merchants seen in the last few minutes. Entries
// expire after merchantTTL (other replicas' inserts show up then) and the
// whole cache is dropped when it reaches merchantCacheMax entries.
type merchantCache struct {
	mu      sync.Mutex
	entries map[string]*merchantEntry
}

type merchantEntry struct {
	amounts []float64 // newest last, at most merchantSample
	loaded  time.Time
}

const (
	merchantTTL      = 5 * time.Minute
	merchantCacheMax = 20000
)

func newMerchantCache() *merchantCache {
	return &merchantCache{entries: map[string]*merchantEntry{}}
}

// get returns the cached amounts of merchant and whether they are fresh.
func (c *merchantCache) get(merchant string, now time.Time) ([]float64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[merchant]
	if !ok || now.Sub(e.loaded) > merchantTTL {
		return nil, false
	}
	return append([]float64(nil), e.amounts...), true
}

// put replaces merchant's amounts with ones read from the database
// (newest first, as the query returns them).
func (c *merchantCache) put(merchant string, newestFirst []float64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= merchantCacheMax {
		c.entries = map[string]*merchantEntry{}
	}
	amounts := make([]float64, 0, len(newestFirst))
	for i := len(newestFirst) - 1; i >= 0; i-- {
		amounts = append(amounts, newestFirst[i])
	}
	c.entries[merchant] = &merchantEntry{amounts: amounts, loaded: now}
}

// add appends an amount just stored, if the merchant is cached.
func (c *merchantCache) add(merchant string, amount float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[merchant]
	if !ok {
		return
	}
	e.amounts = append(e.amounts, amount)
	if len(e.amounts) > merchantSample {
		e.amounts = e.amounts[len(e.amounts)-merchantSample:]
	}
}

package datapool

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func TestQualityScore(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	tests := []struct {
		name string
		in   qualityInputs
		want string
	}{
		// 0.30·C + 0.20·K + 0.25·V + 0.15·T + 0.10·P
		{"Perfect", qualityInputs{Confidence: f(1), Corrected: 1, Consistency: 1, TextChars: 500}, "1.00"},
		{"NothingCorrected", qualityInputs{Confidence: f(1), Corrected: 0, Consistency: 1, TextChars: 500}, "0.80"},
		{"NoConfidence", qualityInputs{Corrected: 1, Consistency: 1, TextChars: 500}, "0.85"},
		{"TwoFields", qualityInputs{Confidence: f(0.9), Corrected: 2, Consistency: 0.5, TextChars: 110}, "0.75"},
		{"EverythingCorrected", qualityInputs{Confidence: f(0.4), Corrected: 5, Consistency: 0, TextChars: 20}, "0.28"},
		{"ShortText", qualityInputs{Confidence: f(0.8), Corrected: 1, Consistency: 1, TextChars: 10}, "0.79"},
		{"PIIHeavy", qualityInputs{Confidence: f(0.8), Corrected: 1, Consistency: 1, TextChars: 500, PIIHits: 2}, "0.89"},
		{"PIIFloor", qualityInputs{Confidence: f(0.8), Corrected: 1, Consistency: 1, TextChars: 500, PIIHits: 9}, "0.84"},
		{"Worst", qualityInputs{Confidence: f(0), Corrected: 0, Consistency: 0, TextChars: 0, PIIHits: 9}, "0.00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := qualityScore(tt.in).StringFixed(2); got != tt.want {
				t.Fatalf("qualityScore(%+v) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestConsistency(t *testing.T) {
	text := strings.ToUpper("STARBUCKS #12\nDate 12/03/2024\nTOTAL RM 1,234.50\nVISA ****4242")
	amt := decimal.RequireFromString("1234.50")
	other := decimal.RequireFromString("99.00")
	tests := []struct {
		name  string
		n     normalized
		known bool
		want  float64
	}{
		{"AllSupported", normalized{merchant: "Starbucks", amount: &amt, date: "2024-03-12", card: "4242", category: "meals"}, true, 1},
		{"AmountNotInText", normalized{amount: &other}, false, 0},
		{"HalfUnknownCategory", normalized{merchant: "Starbucks", category: "other"}, false, 0.5},
		{"Nothing", normalized{}, false, 0.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := consistency(text, tt.n, tt.known); got != tt.want {
				t.Fatalf("consistency = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAmountOutlier(t *testing.T) {
	d := decimal.RequireFromString
	coffee := []float64{4.50, 5.00, 5.25, 4.75, 6.00, 5.50}
	tests := []struct {
		name   string
		x      decimal.Decimal
		recent []float64
		far    bool
	}{
		{"Typical", d("5.10"), coffee, false},
		{"BigOrder", d("25.00"), coffee, false},
		{"DecimalPointMissed", d("510.00"), coffee, true},
		{"TenthOf", d("0.45"), coffee, true},
		{"TooFewToJudge", d("510.00"), coffee[:4], false},
		{"WideSpread", d("400"), []float64{5, 30, 60, 120, 300, 15}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			why, far := amountOutlier(tt.x, tt.recent)
			if far != tt.far {
				t.Fatalf("amountOutlier(%s) = %v (%s), want %v", tt.x, far, why, tt.far)
			}
			if far && !strings.HasPrefix(why, reasonAmountMedian) {
				t.Fatalf("reason = %q", why)
			}
		})
	}
}

func TestDateOutliers(t *testing.T) {
	now := time.Date(2024, 3, 12, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		date    string
		created time.Time
		want    string
	}{
		{"Recent", "2024-03-10", now, ""},
		{"TomorrowInAnotherZone", "2024-03-13", now, ""},
		{"Future", "2024-04-01", now, reasonFutureDate},
		{"YearsOld", "2021-01-01", now, reasonOldDate},
		{"OldButCorrectedLongAgo", "2021-01-01", now.AddDate(-3, 0, 0), ""},
		{"CreatedInFuture", "2024-03-10", now.AddDate(0, 0, 5), reasonFutureCreatedAt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strings.Join(dateOutliers(tt.date, tt.created, now), "; ")
			if (tt.want == "") != (got == "") || !strings.HasPrefix(got, tt.want) {
				t.Fatalf("dateOutliers = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestOutliersStored runs the outlier rules through ingest and checks
// is_outlier and outlier_reason.
func TestOutliersStored(t *testing.T) {
	e := newTestEnv(t, withClock(fixedNow))
	ctx := context.Background()
	// Six ordinary coffees at one merchant make its median.
	var coffees []Correction
	for i := 0; i < 6; i++ {
		c := sample()
		c.OCRText = fmt.Sprintf("COSTA COFFEE receipt number %d, total %d.50", i, 4+i%3)
		c.CorrectedFields = Fields{Merchant: "Costa Coffee", Amount: Value(fmt.Sprintf("%d.50", 4+i%3))}
		coffees = append(coffees, c)
	}
	if _, err := e.svc.IngestBatch(ctx, coffees); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		modify func(*Correction)
		reason string
	}{
		{"Clean", func(c *Correction) { c.OCRText = "a fresh receipt text for the clean case" }, ""},
		{"Identical", func(c *Correction) {
			c.OCRText = "a receipt whose correction changes nothing"
			c.OriginalInference = c.CorrectedFields
		}, reasonIdentical},
		{"FutureDate", func(c *Correction) {
			c.OCRText = "a receipt dated next year by mistake"
			c.CorrectedFields.Date = "2025-03-12"
		}, reasonFutureDate},
		{"OldDate", func(c *Correction) {
			c.OCRText = "a receipt from long ago, found in a drawer"
			c.CorrectedFields.Date = "2019-03-12"
		}, reasonOldDate},
		{"FarFromMedian", func(c *Correction) {
			c.OCRText = "COSTA COFFEE big one"
			c.CorrectedFields = Fields{Merchant: "COSTA COFFEE", Amount: "550.00"}
		}, reasonAmountMedian},
		{"DuplicateReceipt", func(c *Correction) { c.OCRText = coffees[0].OCRText }, reasonDuplicate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := sample()
			tt.modify(&c)
			res, err := e.svc.Ingest(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			r := e.row(t, res.ID)
			reason := ""
			if r.OutlierReason != nil {
				reason = *r.OutlierReason
			}
			if r.IsOutlier != (tt.reason != "") || !strings.HasPrefix(reason, tt.reason) {
				t.Fatalf("is_outlier = %v, reason %q; want reason %q", r.IsOutlier, reason, tt.reason)
			}
		})
	}
}

// dateSpellingsList is the list dateSpelledIn goes through, written out
// as a list: the reference it is tested against.
func dateSpellingsList(iso string) []string {
	if !isoDateLayout(iso) {
		return nil
	}
	y, m, d := iso[:4], iso[5:7], iso[8:10]
	mi := atoi(m)
	if mi < 1 || mi > 12 {
		return nil
	}
	yy := y[2:]
	d1, m1 := strings.TrimPrefix(d, "0"), strings.TrimPrefix(m, "0")
	mon, long := monthAbbr[mi], strings.ToUpper(monthLong[mi])
	return []string{
		iso, y + "/" + m + "/" + d,
		d + "/" + m + "/" + y, d + "-" + m + "-" + y, d + "." + m + "." + y,
		d + "/" + m + "/" + yy, d + "-" + m + "-" + yy, d + "." + m + "." + yy,
		d1 + "/" + m1 + "/" + y, d1 + "/" + m1 + "/" + yy,
		m + "/" + d + "/" + y, m1 + "/" + d1 + "/" + y,
		d1 + " " + mon + " " + y, d + " " + mon + " " + y, d1 + "-" + mon + "-" + yy,
		d + "-" + mon + "-" + y, d + mon + yy,
		mon + " " + d1 + ", " + y, mon + " " + d1 + " " + y,
		d1 + " " + long + " " + y, long + " " + d1 + ", " + y,
	}
}

func TestDateSpelledIn(t *testing.T) {
	dates := []string{"2024-03-12", "2024-11-05", "1999-01-01", "2024-12-31", "2024-13-01", "2024-00-10", "24-03-12", ""}
	var texts []string
	for _, d := range dates {
		for _, sp := range dateSpellingsList(d) {
			texts = append(texts, "DATE: "+sp+" 10:31\nTOTAL 12.50")
		}
	}
	texts = append(texts, "", "NO DATE HERE", "12 MARCH 2024", "MARCH 12, 2024", "2024/3/12")
	for _, d := range dates {
		for _, text := range texts {
			want := containsAny(text, dateSpellingsList(d))
			if got := dateSpelledIn(text, d); got != want {
				t.Errorf("dateSpelledIn(%q, %q) = %v, want %v", text, d, got, want)
			}
		}
	}
}

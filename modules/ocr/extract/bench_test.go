package extract

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// benchReceipt is a synthetic receipt of about 2 KB.
var benchReceipt = func() string {
	var b strings.Builder
	b.WriteString(`SEASIDE HARDWARE & TRADING SDN BHD (123456-X)
NO. 12, JALAN PERUSAHAAN 4, TAMAN INDUSTRI
43300 SERI KEMBANGAN, SELANGOR
TEL: 03-8941 0243 FAX: 03-8941 0244
GST REG NO: 000549584896
TAX INVOICE
INVOICE NO: CS-20243        CASHIER: ADMIN
DATE: 11/06/2018 3:38:36 PM
ITEM                      QTY   U/PRICE   AMOUNT
`)
	items := []string{"PVC PIPE 1/2\"", "CEMENT 50KG", "WOOD SCREW 2\"", "PAINT BRUSH 3\"", "SAND PAPER #120",
		"MASKING TAPE 24MM", "WALL PLUG 6MM", "HINGE 4\" SS", "DOOR KNOB SET", "SILICONE SEALANT"}
	for i, it := range items {
		b.WriteString(it)
		b.WriteString(strings.Repeat(" ", 26-len(it)))
		b.WriteString("  2    ")
		b.WriteString([]string{"3.50", "18.90", "4.20", "6.00", "1.10", "2.80", "0.90", "7.50", "25.00", "12.40"}[i])
		b.WriteString("     SR\n")
	}
	b.WriteString(`TOTAL QTY: 20
SUB-TOTAL (EXCLUDING GST):      164.60
GST @ 6%:                         9.88
ROUNDING ADJUSTMENT:             -0.03
TOTAL (INCLUSIVE OF GST):       174.45
CASH:                           200.00
CHANGE:                          25.55
GST SUMMARY      AMOUNT(RM)   TAX(RM)
SR @ 6%              164.60      9.88
GOODS SOLD ARE NOT RETURNABLE. THANK YOU, PLEASE COME AGAIN.
VISA ************4242 AUTH 123456
`)
	for b.Len() < 2048 {
		b.WriteString("THANK YOU FOR SHOPPING WITH US. KEEP THIS RECEIPT FOR RETURNS.\n")
	}
	return b.String()
}()

func BenchmarkExtract(b *testing.B) {
	e := New(Options{})
	b.SetBytes(int64(len(benchReceipt)))
	b.ReportAllocs()
	for b.Loop() {
		_ = e.Extract(benchReceipt, nil)
	}
}

// BenchmarkExtractVsBaseline runs Extract and the baseline alternately in the
// same loop, so load from other processes hits both alike, and reports
// Extract's cost as a multiple of the baseline ("x-baseline").
func BenchmarkExtractVsBaseline(b *testing.B) {
	e := New(Options{})
	re := regexp.MustCompile(`[0-9]+[.,][0-9]{2}`)
	var te, tb time.Duration
	n := 0
	for b.Loop() {
		t0 := time.Now()
		_ = e.Extract(benchReceipt, nil)
		t1 := time.Now()
		for _, l := range strings.Split(benchReceipt, "\n") {
			n += len(re.FindAllStringIndex(l, -1))
		}
		te += t1.Sub(t0)
		tb += time.Since(t1)
	}
	_ = n
	b.ReportMetric(float64(te.Nanoseconds())/float64(b.N), "extract-ns/op")
	b.ReportMetric(float64(tb.Nanoseconds())/float64(b.N), "baseline-ns/op")
	b.ReportMetric(float64(te)/float64(tb), "x-baseline")
}

// BenchmarkBaseline is the floor Extract is compared with: split the text
// into lines and scan every line once with one amount regexp.
func BenchmarkBaseline(b *testing.B) {
	re := regexp.MustCompile(`[0-9]+[.,][0-9]{2}`)
	b.SetBytes(int64(len(benchReceipt)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for _, l := range strings.Split(benchReceipt, "\n") {
			n += len(re.FindAllStringIndex(l, -1))
		}
	}
	_ = n
}

// TestBenchReceipt keeps the benchmark honest: the receipt is about 2 KB and
// Extract reads it correctly.
func TestBenchReceipt(t *testing.T) {
	if n := len(benchReceipt); n < 2000 || n > 2300 {
		t.Errorf("bench receipt is %d bytes", n)
	}
	f := New(Options{}).Extract(benchReceipt, nil)
	if f.Amount == nil || f.Amount.Value != "174.45" || f.Date == nil || f.Date.Value != "2018-06-11" ||
		f.CardLastFour == nil || f.CardLastFour.Value != "4242" || f.Merchant == nil ||
		f.Merchant.Value != "SEASIDE HARDWARE & TRADING SDN BHD" || f.Category == nil || f.Category.Value != "supplies" {
		t.Errorf("bench receipt: %+v %+v %+v %+v %+v", f.Amount, f.Date, f.CardLastFour, f.Merchant, f.Category)
	}
}

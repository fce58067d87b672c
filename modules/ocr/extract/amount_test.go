package extract

import (
	"strings"
	"testing"
)

func TestAmount(t *testing.T) {
	tests := []struct {
		name, text, want, cur string
	}{
		{"us grand total after subtotal and tax", `
WALNUT GROCERY
Subtotal        $23.47
Sales Tax 8.875%  $2.08
TOTAL           $25.55
VISA            $25.55
`, "25.55", "USD"},
		{"subtotal is larger than nothing else", `
SUBTOTAL 40.00
DISCOUNT -5.00
TOTAL 35.00
CASH 50.00
CHANGE 15.00
`, "35.00", ""},
		{"change and cash are not the total", `
TOTAL RM 12.30
CASH RM 50.00
CHANGE RM 37.70
`, "12.30", "MYR"},
		{"keyword line without amount, value on next line", `
Item A 4.00
Item B 6.50
AMOUNT DUE
10.50
Thank you
`, "10.50", ""},
		{"column of labels then column of values", `
SUB-TOTAL (EX)
TOTAL TAX
ROUNDING
TOTAL
CASH
CHANGE
16.98
1.02
0.00
18.00
20.00
2.00
`, "18.00", ""},
		{"uk total with pound and vat included line", `
THE CORNER CAFE LTD
Flat White      £3.20
Croissant       £2.60
TOTAL           £5.80
Total includes VAT 20%  £0.97
Card            £5.80
`, "5.80", "GBP"},
		{"eu decimal comma and thousands dot", `
SUMME EUR 1.234,56
Gegeben BAR 1.300,00
Rückgeld 65,44
`, "1234.56", "EUR"},
		{"us thousands comma", `
GRAND TOTAL $1,234.56
`, "1234.56", "USD"},
		{"ocr misreads O S l and spaces in number", `
SUB TOTAL 1O.00
GST 6% 0.6O
TOTAL RM 1O. 6O
CASH RM 2O.OO
`, "10.60", "MYR"},
		{"rounded total wins over unrounded incl. gst total", `
TOTAL INCL. GST RM 27.27
ROUNDING ADJUSTMENT -RM 0.02
TOTAL ROUNDED RM 27.25
CASH RM 30.00
CHANGE RM 2.75
`, "27.25", "MYR"},
		{"gst summary table total is ignored", `
TOTAL SALES (INCLUSIVE OF GST) : 93.07
CASH : 100.00
CHANGE : 6.93
GST SUMMARY
TAX CODE % AMT(RM) TAX(RM)
SR 6 87.80 5.27
TOTAL : 87.80 5.27
`, "93.07", ""},
		{"quantity and item count lines are ignored", `
TOTAL QTY: 12 3.00
ITEM COUNT 3
TOTAL 45.90
`, "45.90", ""},
		{"singapore nett total with service charge", `
Subtotal S$ 50.00
10% Service Charge S$ 5.00
7% GST S$ 3.85
NETT TOTAL S$ 58.85
`, "58.85", "SGD"},
		{"balance due", `
Total Charges 120.00
Deposit Paid 20.00
BALANCE DUE 100.00
`, "100.00", ""},
		{"no keyword: largest amount near the bottom", `
SHOP
Apples 2.10
Bread 3.45
5.55
`, "5.55", ""},
		{"total printed with currency code after", `
Total: 45.00 EUR
Bar: 50.00 EUR
`, "45.00", "EUR"},
		{"cash minus change decides between two totals", `
TOTAL 14.64
TOTAL 14.65
CASH 50.00
CHANGE 35.35
`, "14.65", ""},
		{"negative rounding line is not the total", `
TOTAL (INCLUSIVE OF GST): 65.72
ROUNDING ADJ: -0.02
TOTAL : 65.70
`, "65.70", ""},
		{"decimal point lost by ocr on keyword line", `
Net Total RM28 05
Received Cash RM28 05
Change RM0.00
`, "28.05", "MYR"},
		{"percentages and unit prices are not amounts", `
1 X 35.0000 35.00 SR
TOTAL SALES INCLUSIVE GST @6% 35.00
`, "35.00", ""},
		{"indian rupee", `
Grand Total ₹ 1,250.00
`, "1250.00", "INR"},
		{"amount paid by card equals total", `
Total 18.40
Mastercard 18.40
`, "18.40", ""},
	}
	e := New(Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := e.Extract(tt.text, nil)
			if f.Amount == nil {
				t.Fatalf("amount = nil, want %s", tt.want)
			}
			if f.Amount.Value != tt.want {
				t.Errorf("amount = %s (%s, %.2f), want %s", f.Amount.Value, f.Amount.Source, f.Amount.Confidence, tt.want)
			}
			if tt.cur != "" && (f.Currency == nil || f.Currency.Value != tt.cur) {
				t.Errorf("currency = %+v, want %s", f.Currency, tt.cur)
			}
		})
	}
}

func TestAmountNone(t *testing.T) {
	for _, text := range []string{"", "HELLO WORLD\nTEL 03-1234 5678", "DATE 12/03/2018"} {
		if f := New(Options{}).Extract(text, nil); f.Amount != nil {
			t.Errorf("%q: amount = %+v, want nil", text, f.Amount)
		}
	}
}

func TestAmountConfidenceReflectsEvidence(t *testing.T) {
	e := New(Options{})
	strong := e.Extract("GRAND TOTAL 25.00\nCASH 30.00\nCHANGE 5.00\n", nil).Amount
	weak := e.Extract("Apples 2.00\nPears 25.00\n", nil).Amount
	if strong == nil || weak == nil {
		t.Fatal("missing amount")
	}
	if strong.Confidence <= weak.Confidence {
		t.Errorf("confidence with keyword and cash−change %.2f ≤ fallback %.2f", strong.Confidence, weak.Confidence)
	}
	if strong.Confidence < 0.8 {
		t.Errorf("agreeing evidence gives only %.2f", strong.Confidence)
	}
}

func TestScanMoney(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"TOTAL 12.50", []string{"12.50"}},
		{"1,234.56 1.234,56 1'234.56", []string{"1234.56", "1234.56", "1234.56"}},
		{"RM .01", []string{"0.01"}},
		{"12 .50", []string{"12.50"}},
		{"14. 65", []string{"14.65"}},
		{"GST @6.00% 5%", nil},
		{"5.6600 09.06.18 2018.01.02", nil},
		{"12,50 EUR", []string{"12.50"}},
		{"-RM 0.02", []string{"0.02"}},
	}
	for _, tt := range tests {
		got := scanMoney(strings.ToUpper(tt.in), nil)
		var vals []string
		for _, m := range got {
			vals = append(vals, m.val.StringFixed(2))
		}
		if strings.Join(vals, " ") != strings.Join(tt.want, " ") {
			t.Errorf("scanMoney(%q) = %v, want %v", tt.in, vals, tt.want)
		}
	}
	if m := scanMoney("-RM 0.02", nil); len(m) != 1 || !m[0].neg || m[0].cur != "MYR" {
		t.Errorf("negative with currency: %+v", m)
	}
}

func TestFixDigits(t *testing.T) {
	tests := map[string]string{
		"0l/02/2018": "01/02/2018",
		"1O.5O":      "10.50",
		"RH3S.20":    "RH35.20",
		"15.50SR":    "15.50SR",
		"CS1801":     "CS1801",
		"NO.59":      "NO.59",
		"S.00":       "5.00",
		"TOTAL":      "TOTAL",
	}
	for in, want := range tests {
		if got := fixDigits(in); got != want {
			t.Errorf("fixDigits(%q) = %q, want %q", in, got, want)
		}
	}
}

package extract

import (
	"strings"
	"testing"
)

func TestCardLastFour(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"stars", "VISA ************1234\nAPPROVED", "1234"},
		{"grouped X", "CARD NO: XXXX XXXX XXXX 5678", "5678"},
		{"lower-case x and dashes", "Mastercard xxxx-xxxx-xxxx-4321", "4321"},
		{"dots after label", "CARD NO: ...9876", "9876"},
		{"first six shown", "AMEX 371234******1005", "1005"},
		{"ending in", "Paid with card ending in 4242", "4242"},
		{"ending without in", "DEBIT ENDING 0007", "0007"},
		{"brand and four digits", "VISA 1234\nAUTH CODE 123456", "1234"},
		{"hashes", "Card: ####-####-####-1111", "1111"},
		{"full pan only last four", "CARD 4111 1111 1111 1111", "1111"},
		{"dot leaders on total line are not a card", "TOTAL ........ 1234", ""},
		{"invoice number is not a card", "INVOICE NO 1234\nTOTAL 5.00", ""},
		{"year on card line is a date, not a card", "CARD DATE 12/03/2018", ""},
		{"phone is not a card", "TEL 03-3271 9872", ""},
		{"amount on card line is not a card", "VISA 12.50", ""},
		{"unmasked number failing luhn is ignored", "CARD 1234 5678 9012 3456", ""},
	}
	e := New(Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := e.Extract(tt.text, nil)
			got := ""
			if f.CardLastFour != nil {
				got = f.CardLastFour.Value
			}
			if got != tt.want {
				t.Errorf("card = %q (%+v), want %q", got, f.CardLastFour, tt.want)
			}
		})
	}
}

// The other digits of a printed card number never appear in the output.
func TestCardNeverLeaksPAN(t *testing.T) {
	pan := "4111111111111111"
	f := New(Options{}).Extract("VISA CARD "+pan+"\nTOTAL 10.00", nil)
	for _, fl := range []*Field{f.Merchant, f.Amount, f.Currency, f.Date, f.Category, f.CardLastFour} {
		if fl != nil && strings.Contains(fl.Value, pan[:12]) {
			t.Errorf("field leaks the card number: %+v", fl)
		}
	}
	if f.CardLastFour == nil || f.CardLastFour.Value != "1111" {
		t.Errorf("card = %+v", f.CardLastFour)
	}
}

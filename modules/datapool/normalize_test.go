package datapool

import (
	"strings"
	"testing"
)

func TestNormalizeMerchant(t *testing.T) {
	tests := []struct{ in, want string }{
		{"STARBUCKS #1234", "Starbucks"},
		{"Starbucks Coffee Store 45", "Starbucks"},
		{"  starbucks   ", "Starbucks"},
		{"McDonald's", "McDonald's"},
		{"MCDONALDS 00231", "McDonald's"},
		{"mcd", "McDonald's"},
		{"AMZN Mktp US*2K4LM", "Amazon"},
		{"Amazon.com", "Amazon"},
		{"UBER   *TRIP HELP.UBER.COM", "Uber"},
		{"Uber Eats", "Uber Eats"},
		{"WAL-MART SUPERCENTER #5231", "Walmart"},
		{"7-ELEVEN", "7-Eleven"},
		{"SQ *BLUE BOTTLE COFFEE", "Blue Bottle Coffee"},
		{"Acme Widgets, Inc.", "Acme Widgets"},
		{"ACME WIDGETS LLC", "Acme Widgets"},
		{"Kedai Makan Ali SDN. BHD.", "Kedai Makan Ali"},
		{"TAN CHAY YEE SDN BHD", "Tan Chay Yee"},
		{"ABC Trading Co. Ltd", "Abc Trading"},
		{"Foo Pte. Ltd.", "Foo"},
		{"Bar GmbH", "Bar"},
		{"KFC", "KFC"},
		{"kfc restaurant", "KFC Restaurant"},
		{"H&M", "H&M"},
		{"h & m", "H&M"},
		{"Café de Flore", "Café De Flore"},
		{"ＳＨＥＬＬ", "Shell"}, // full-width letters fold (NFKC)
		{"Forever 21", "Forever 21"},
		{"LTD", "LTD"}, // a suffix alone is the name
		{"#123", ""},   // a store number alone is no name
		{"", ""},
		{"  ...  ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := NormalizeMerchant(tt.in)
			if got != tt.want {
				t.Fatalf("NormalizeMerchant(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if again := NormalizeMerchant(got); again != got {
				t.Fatalf("not idempotent: %q → %q → %q", tt.in, got, again)
			}
		})
	}
}

func TestMerchantKey(t *testing.T) {
	if a, b := MerchantKey("Starbucks #12"), MerchantKey("STARBUCKS COFFEE"); a != b {
		t.Fatalf("keys differ: %q vs %q", a, b)
	}
}

func TestTaxonomy(t *testing.T) {
	tax := DefaultTaxonomy()
	tests := []struct {
		in    string
		want  string
		known bool
	}{
		{"Meals", "meals", true},
		{"Food & Beverage", "meals", true},
		{"F&B", "meals", true},
		{"restaurants", "meals", true},
		{"office_supplies", "office_supplies", true},
		{"Office Supplies", "office_supplies", true},
		{"Stationery", "office_supplies", true},
		{"Taxi/Uber", "transportation", true},
		{"parking fees", "transportation", true},
		{"PETROL", "fuel", true},
		{"Hotel", "lodging", true},
		{"Misc.", "other", true},
		{"quantum widgets", "other", false},
		{"", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, known := tax.Normalize(tt.in)
			if got != tt.want || known != tt.known {
				t.Fatalf("Normalize(%q) = %q, %v; want %q, %v", tt.in, got, known, tt.want, tt.known)
			}
			if got != "" {
				if again, _ := tax.Normalize(got); again != got {
					t.Fatalf("not idempotent: %q → %q → %q", tt.in, got, again)
				}
			}
		})
	}
}

func TestNewTaxonomyErrors(t *testing.T) {
	tests := []struct {
		name string
		cats map[string][]string
		want string
	}{
		{"NoOther", map[string][]string{"meals": {"food"}}, `"other"`},
		{"BadName", map[string][]string{"other": nil, "Meals": nil}, "snake_case"},
		{"Clash", map[string][]string{"other": nil, "meals": {"coffee"}, "drinks": {"coffee"}}, "belongs to both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewTaxonomy(tt.cats)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewTaxonomy error = %v, want one containing %q", err, tt.want)
			}
		})
	}
	custom, err := NewTaxonomy(map[string][]string{"other": nil, "pets": {"vet", "pet food"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := custom.Normalize("Pet Food"); got != "pets" {
		t.Fatalf("custom taxonomy: got %q, want pets", got)
	}
}

func TestNormalizeDate(t *testing.T) {
	tests := []struct{ in, want string }{
		{"2024-03-12", "2024-03-12"},
		{"2024/03/12", "2024-03-12"},
		{"2024.3.2", "2024-03-02"},
		{"20240312", "2024-03-12"},
		{"12/03/2024", "2024-03-12"},
		{"12-03-2024", "2024-03-12"},
		{"12.03.2024", "2024-03-12"},
		{"12/03/24", "2024-03-12"},
		{"12-03-24", "2024-03-12"},
		{"1/2/99", "1999-02-01"},
		{"12/31/2024", "2024-12-31"}, // month first when the day cannot be a month
		{"12 Mar 2024", "2024-03-12"},
		{"12 MAR 2024", "2024-03-12"},
		{"12-MAR-24", "2024-03-12"},
		{"12MAR24", "2024-03-12"},
		{"3 March 2024", "2024-03-03"},
		{"Mar 12, 2024", "2024-03-12"},
		{"March 12th, 2024", "2024-03-12"},
		{"MAR 12 2024", "2024-03-12"},
		{"Tue, 12 Mar 2024", "2024-03-12"},
		{"12 Mac 2024", "2024-03-12"}, // Malay
		{"2024-03-12T10:00:00Z", "2024-03-12"},
		{"2024-03-12 14:30", "2024-03-12"},
		{"12/03/2024 2:30 PM", "2024-03-12"},
		{"2024-02-29", "2024-02-29"},
		{"  2024-03-12  ", "2024-03-12"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := NormalizeDate(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("NormalizeDate(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
			if again, err := NormalizeDate(got); err != nil || again != got {
				t.Fatalf("not idempotent: %q → %q → %q, %v", tt.in, got, again, err)
			}
		})
	}
}

func TestNormalizeDateErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"31/02/2024", "February 2024 has 29 days, not 31"},
		{"2023-02-29", "February 2023 has 28 days, not 29"},
		{"2024-04-31", "April 2024 has 30 days"},
		{"2024-13-01", "month 13 does not exist"},
		{"13/13/2024", "month 13 does not exist"},
		{"00/03/2024", "day 0 does not exist"},
		{"1850-01-01", "year 1850 is outside 1900–2100"},
		{"9999-12-31", "outside"},
		{"Mar 12", "no year"},
		{"yesterday", "not a recognised date"},
		{"12/03-2024", "not a recognised date"},
		{"2024-03-12abc", "not a recognised date"},
		{"12 Foo 2024", "not a recognised date"},
		{"", "empty"},
		{strings.Repeat("1", 100), "longer than 64"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := NormalizeDate(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NormalizeDate(%q) = %q, %v; want an error containing %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestNormalizeAmount(t *testing.T) {
	tests := []struct{ in, amount, currency string }{
		{"12.50", "12.5", ""},
		{"12.5", "12.5", ""},
		{"12", "12", ""},
		{"0", "0", ""},
		{".99", "0.99", ""},
		{"$12.50", "12.5", "USD"},
		{"US$ 12.50", "12.5", "USD"},
		{"RM 1,234.50", "1234.5", "MYR"},
		{"rm12.30", "12.3", "MYR"},
		{"1.234,56 €", "1234.56", "EUR"},
		{"EUR 1.234,56", "1234.56", "EUR"},
		{"1234,56", "1234.56", ""},
		{"1,234", "1234", ""},
		{"1.234", "1234", ""},
		{"0.500", "0.5", ""},
		{"12.345", "12345", ""}, // one separator before three digits groups thousands
		{"12,345,678.90", "12345678.9", ""},
		{"12.345.678,90", "12345678.9", ""},
		{"1 234,56", "1234.56", ""},
		{"1'234.50 CHF", "1234.5", "CHF"},
		{"£3.20", "3.2", "GBP"},
		{"¥1,500", "1500", "JPY"},
		{"S$ 5.00", "5", "SGD"},
		{"12.50 USD", "12.5", "USD"},
		{"+12.50", "12.5", ""},
		{"99999999.99", "99999999.99", ""},
		{"１２．５０", "12.5", ""}, // full-width digits
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			m, err := NormalizeAmount(tt.in)
			if err != nil {
				t.Fatalf("NormalizeAmount(%q): %v", tt.in, err)
			}
			if m.Amount.String() != tt.amount || m.Currency != tt.currency {
				t.Fatalf("NormalizeAmount(%q) = %s %q, want %s %q", tt.in, m.Amount, m.Currency, tt.amount, tt.currency)
			}
			if again, err := NormalizeAmount(m.Amount.StringFixed(2)); err != nil || !again.Amount.Equal(m.Amount) {
				t.Fatalf("not idempotent: %q → %s → %v, %v", tt.in, m.Amount.StringFixed(2), again.Amount, err)
			}
		})
	}
}

func TestNormalizeAmountErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"-12.50", "negative"},
		{"$-5", "negative"},
		{"-$5", "negative"},
		{"(12.50)", "negative"},
		{"12.50-", "negative"},
		{"12.50 CR", "negative"},
		{"100000000", "over the limit"},
		{"123456789012345678901234567890", "over the limit"},
		{"12.3456", "more than 2 decimal places"},
		{"1234.567", "more than 2 decimal places"},
		{"1e3", "plain notation"},
		{"1E400", "plain notation"},
		{"12.5O", "not a number"},
		{"abc", "not a number"},
		{"$", "no digits"},
		{"12..50", "two separators"},
		{"1,2,3", "misplaced thousands"},
		{"1234,567.89", "misplaced thousands"},
		{"12 50", "misplaced thousands"},
		{"12.", "ends with a separator"},
		{"", "empty"},
		{strings.Repeat("9", 65), "longer than 64"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			m, err := NormalizeAmount(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NormalizeAmount(%q) = %v, %v; want an error containing %q", tt.in, m.Amount, err, tt.want)
			}
		})
	}
}

func TestNormalizeCurrency(t *testing.T) {
	for in, want := range map[string]string{"usd": "USD", " MYR ": "MYR", "rm": "MYR", "€": "EUR", "$": "USD", "": ""} {
		if got, err := NormalizeCurrency(in); err != nil || got != want {
			t.Fatalf("NormalizeCurrency(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := NormalizeCurrency("dollars"); err == nil {
		t.Fatal("NormalizeCurrency(dollars): want an error")
	}
}

func TestNormalizeCardLastFour(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"1234", "1234", ""},
		{"**** 1234", "1234", ""},
		{"xxxx-xxxx-xxxx-9876", "9876", ""},
		{"ending in 4242", "4242", ""},
		{"4111 1111 1111 1111", "1111", ""},
		{"0042", "0042", ""},
		{"123", "", "four digits"},
		{"VISA", "", "four digits"},
		{strings.Repeat("1", 20), "", "more digits than a card"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := NormalizeCardLastFour(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("NormalizeCardLastFour(%q) = %q, %v; want an error containing %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("NormalizeCardLastFour(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestFieldsCorrected(t *testing.T) {
	s := &Service{taxonomy: DefaultTaxonomy()}
	tests := []struct {
		name      string
		orig, fix Fields
		want      string
	}{
		{"MerchantOnly", Fields{Merchant: "STARBUCKS #12", Amount: "12.50"}, Fields{Merchant: "Tim Hortons", Amount: "12.50"}, "merchant"},
		{"SameAfterNormalising", Fields{Merchant: "STARBUCKS #12", Amount: "RM 12.5", Date: "12/03/2024"},
			Fields{Merchant: "Starbucks", Amount: "12.50", Date: "2024-03-12"}, ""},
		{"AmountMisread", Fields{Amount: "12.5O"}, Fields{Amount: "12.50"}, "amount"},
		{"DecimalPoint", Fields{Amount: "1250"}, Fields{Amount: "12.50"}, "amount"},
		{"CurrencyDiffers", Fields{Amount: "12.50", Currency: "USD"}, Fields{Amount: "12.50", Currency: "MYR"}, "amount"},
		{"MissingInOriginal", Fields{}, Fields{Date: "12 Mar 2024", Category: "meals"}, "date,category"},
		{"Card", Fields{CardLastFour: "**** 1234"}, Fields{CardLastFour: "1284"}, "card_last_four"},
		{"CardSame", Fields{CardLastFour: "4111111111111111"}, Fields{CardLastFour: "1111"}, ""},
		{"Everything", Fields{Merchant: "A", Amount: "1", Date: "2024-01-01", Category: "meals", CardLastFour: "1111"},
			Fields{Merchant: "B", Amount: "2", Date: "2024-01-02", Category: "fuel", CardLastFour: "2222"},
			"merchant,amount,date,category,card_last_four"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig, _, err := s.normalizeOriginal(tt.orig)
			if err != nil {
				t.Fatal(err)
			}
			n, _, err := s.normalizeCorrected(tt.fix)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(fieldsCorrected(orig, n), ","); got != tt.want {
				t.Fatalf("fieldsCorrected = %q, want %q", got, tt.want)
			}
		})
	}
}

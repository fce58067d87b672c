package extract

import "strings"

// countryHints are phrases that tell where a receipt was printed, used to
// resolve "$" and to guess the currency when none is printed.
var countryHints = []struct {
	phrase, iso string
}{
	{"SDN BHD", "MYR"}, {"SDN. BHD", "MYR"}, {"MALAYSIA", "MYR"}, {"KUALA LUMPUR", "MYR"}, {"SELANGOR", "MYR"},
	{"JOHOR", "MYR"}, {"PENANG", "MYR"}, {"SABAH", "MYR"}, {"SARAWAK", "MYR"}, {"JALAN", "MYR"}, {"JLN", "MYR"},
	{"SINGAPORE", "SGD"}, {"PTE LTD", "SGD"}, {"PTE. LTD", "SGD"}, {"UEN", "SGD"},
	{"AUSTRALIA", "AUD"}, {"ABN", "AUD"}, {"PTY LTD", "AUD"}, {"PTY. LTD", "AUD"},
	{"NEW ZEALAND", "NZD"}, {"CANADA", "CAD"}, {"GST/HST", "CAD"}, {"HONG KONG", "HKD"},
	{"UNITED KINGDOM", "GBP"}, {"VAT REG", "GBP"}, {"U.S.A", "USD"}, {"USA", "USD"}, {"SALES TAX", "USD"},
	{"MWST", "EUR"}, {"UST-ID", "EUR"}, {"TVA", "EUR"}, {"IVA", "EUR"}, {"BTW", "EUR"},
}

type currencyResult struct {
	iso    string
	conf   float64
	source string
}

// findCurrency: the currency printed next to the total, else the most
// frequent one next to amounts or as a column unit ("(RM)"), else the
// country the text points to, else the configured default.
func (e *Extractor) findCurrency(lines []line, totalCur string) (currencyResult, bool) {
	ctx := ""
	contextISO := func() string {
		if ctx == "" {
			var b strings.Builder
			for i := range lines {
				b.WriteString(lines[i].up)
				b.WriteByte('\n')
			}
			ctx = b.String()
		}
		for _, h := range countryHints {
			if containsWord(ctx, h.phrase) {
				return h.iso
			}
		}
		return ""
	}
	resolve := func(iso string) string {
		if iso != "$" {
			return iso
		}
		switch c := contextISO(); c {
		case "SGD", "AUD", "NZD", "CAD", "HKD", "MYR":
			return c
		}
		return "USD"
	}
	if totalCur != "" {
		return currencyResult{iso: resolve(totalCur), conf: 0.9, source: "rule:currency-total"}, true
	}
	counts := map[string]int{}
	for i := range lines {
		for _, m := range lines[i].money {
			if m.cur != "" {
				counts[m.cur]++
			}
		}
		for _, w := range lines[i].words {
			if len(w) < 2 || len(w) > 3 {
				continue
			}
			switch w {
			case "RM", "MYR", "SGD", "USD", "EUR", "GBP", "AUD", "NZD", "CAD", "HKD", "JPY", "CNY", "INR", "IDR",
				"THB", "PHP", "CHF", "SEK", "NOK", "DKK", "PLN", "AED":
				iso := w
				if w == "RM" {
					iso = "MYR"
				}
				counts[iso]++
			}
		}
		for _, sym := range []string{"€", "£", "₹", "¥", "₱", "฿"} {
			if strings.Contains(lines[i].up, sym) {
				iso, _ := currencyBefore(sym, len(sym))
				counts[iso]++
			}
		}
	}
	best, bn := "", 0
	for iso, n := range counts {
		if n > bn || n == bn && iso < best {
			best, bn = iso, n
		}
	}
	if best != "" {
		return currencyResult{iso: resolve(best), conf: 0.8, source: "rule:currency-symbol"}, true
	}
	if c := contextISO(); c != "" {
		return currencyResult{iso: c, conf: 0.4, source: "rule:currency-country"}, true
	}
	if e.opts.DefaultCurrency != "" {
		return currencyResult{iso: strings.ToUpper(e.opts.DefaultCurrency), conf: 0.3, source: "rule:currency-default"}, true
	}
	return currencyResult{}, false
}

// containsWord reports whether phrase occurs in s with no letter or digit
// right before or after it.
func containsWord(s, phrase string) bool {
	for off := 0; ; {
		i := strings.Index(s[off:], phrase)
		if i < 0 {
			return false
		}
		i += off
		j := i + len(phrase)
		if (i == 0 || !isWordByte(s[i-1])) && (j >= len(s) || !isWordByte(s[j])) {
			return true
		}
		off = i + 1
	}
}

func isWordByte(c byte) bool { return isLetter(c) || isDigit(c) }

package extract

import (
	"strings"

	"github.com/shopspring/decimal"
)

// money is one amount printed with two decimals.
type money struct {
	val        decimal.Decimal // absolute value
	neg        bool            // "-12.00", "12.00-", "-RM 0.02"
	cur        string          // ISO code of an adjacent currency symbol or code, "" if none
	start, end int             // byte offsets in line.up
}

// currencyTokens are the symbols and codes recognised next to an amount, most
// specific first, with the ISO 4217 code they stand for ("$" is resolved from
// context later, see resolveDollar).
var currencyTokens = []struct{ tok, iso string }{
	{"US$", "USD"}, {"S$", "SGD"}, {"SG$", "SGD"}, {"A$", "AUD"}, {"AU$", "AUD"}, {"NZ$", "NZD"},
	{"HK$", "HKD"}, {"C$", "CAD"}, {"CA$", "CAD"}, {"R$", "BRL"}, {"MX$", "MXN"},
	{"MYR", "MYR"}, {"SGD", "SGD"}, {"USD", "USD"}, {"EUR", "EUR"}, {"GBP", "GBP"}, {"AUD", "AUD"},
	{"NZD", "NZD"}, {"CAD", "CAD"}, {"HKD", "HKD"}, {"JPY", "JPY"}, {"CNY", "CNY"}, {"RMB", "CNY"},
	{"INR", "INR"}, {"IDR", "IDR"}, {"THB", "THB"}, {"PHP", "PHP"}, {"VND", "VND"}, {"KRW", "KRW"},
	{"CHF", "CHF"}, {"SEK", "SEK"}, {"NOK", "NOK"}, {"DKK", "DKK"}, {"PLN", "PLN"}, {"CZK", "CZK"},
	{"AED", "AED"}, {"SAR", "SAR"}, {"ZAR", "ZAR"}, {"BND", "BND"}, {"TWD", "TWD"}, {"BRL", "BRL"},
	{"MXN", "MXN"}, {"HUF", "HUF"}, {"TRY", "TRY"},
	{"RM", "MYR"}, {"RP", "IDR"}, {"RS", "INR"}, {"KR", "SEK"}, {"FR", "CHF"},
	{"€", "EUR"}, {"£", "GBP"}, {"¥", "JPY"}, {"₹", "INR"}, {"₱", "PHP"}, {"฿", "THB"}, {"₩", "KRW"},
	{"₫", "VND"}, {"₺", "TRY"}, {"ZŁ", "PLN"}, {"$", "$"},
}

// currencyBefore returns the currency written right before s[:i] (one space
// allowed in between), and where it starts.
func currencyBefore(s string, i int) (iso string, at int) {
	j := i
	if j > 0 && s[j-1] == ' ' {
		j--
	}
	for _, c := range currencyTokens {
		if strings.HasSuffix(s[:j], c.tok) {
			k := j - len(c.tok)
			if isLetter(c.tok[0]) && k > 0 && isLetter(s[k-1]) {
				continue // "FORM 12.00" is not RM
			}
			return c.iso, k
		}
	}
	return "", i
}

// currencyAfter returns the currency written right after s[j:].
func currencyAfter(s string, j int) string {
	if j < len(s) && s[j] == ' ' {
		j++
	}
	for _, c := range currencyTokens {
		if strings.HasPrefix(s[j:], c.tok) {
			k := j + len(c.tok)
			if isLetter(c.tok[0]) && k < len(s) && isLetter(s[k]) {
				continue
			}
			return c.iso
		}
	}
	return ""
}

// scanMoney finds the amounts with two decimals in s (an upper-cased line).
// It accepts both decimal conventions (1,234.56 and 1.234,56, 1'234.56), a
// lone space next to the decimal separator ("12 .50", "14. 65") and a
// missing integer part (".01"); it rejects percentages, dates (09.06.18) and
// numbers with more decimals (5.6600).
func scanMoney(s string, out []money) []money {
	n := len(s)
	for i := 0; i < n; {
		c := s[i]
		startsNum := isDigit(c) || (c == '.' || c == ',') && i+2 < n && isDigit(s[i+1]) && isDigit(s[i+2])
		if !startsNum || i > 0 && (isDigit(s[i-1]) || s[i-1] == '.' || s[i-1] == ',') {
			i++
			continue
		}
		st, j := i, i
		seps := 0
		var tok [48]byte
		t := 0
		for j < n && t < len(tok)-1 {
			d := s[j]
			switch {
			case isDigit(d):
				tok[t] = d
				t++
				j++
				continue
			case (d == '.' || d == ',' || d == '\'') && j+1 < n && isDigit(s[j+1]):
				tok[t] = d
				t++
				seps++
				j++
				continue
			case (d == '.' || d == ',') && j+3 < n && s[j+1] == ' ' && isDigit(s[j+2]) && isDigit(s[j+3]) &&
				(j+4 >= n || !isDigit(s[j+4])) && t > 0:
				// "14. 65": only when exactly two digits follow
				tok[t] = d
				t++
				seps++
				j += 2
				continue
			case d == ' ' && j+3 < n && (s[j+1] == '.' || s[j+1] == ',') && isDigit(s[j+2]) && isDigit(s[j+3]) &&
				(j+4 >= n || !isDigit(s[j+4])) && t > 0 && seps == 0:
				// "12 .50"
				j++
				continue
			}
			break
		}
		end := j
		tk := string(tok[:t])
		i = j
		if end < n && (s[end] == '%' || isDigit(s[end])) {
			continue
		}
		if end+1 < n && s[end] == ' ' && s[end+1] == '%' {
			continue
		}
		// a date or version continuing with a separator and digits: "09.06.18"
		if end+1 < n && (s[end] == '.' || s[end] == '/' || s[end] == '-' || s[end] == ':') && isDigit(s[end+1]) {
			continue
		}
		v, ok := parseMoneyToken(tk)
		if !ok {
			continue
		}
		m := money{val: v, start: st, end: end}
		iso, at := currencyBefore(s, m.start)
		m.cur = iso
		p := at
		if p > 0 && s[p-1] == ' ' {
			p--
		}
		if p > 0 && (s[p-1] == '-') {
			m.neg = true
		} else if iso != "" && m.start > 0 && s[m.start-1] == '-' {
			m.neg = true
		}
		if m.cur == "" {
			m.cur = currencyAfter(s, end)
		}
		if end < n && s[end] == '-' {
			m.neg = true
		}
		out = append(out, m)
		if len(out) > 64 {
			break
		}
	}
	return out
}

// parseMoneyToken turns "1,234.56", "1.234,56", "12,50", ".01" into a
// decimal; it needs exactly two decimals.
func parseMoneyToken(tk string) (decimal.Decimal, bool) {
	p := strings.LastIndexAny(tk, ".,")
	if p < 0 || len(tk)-p-1 != 2 {
		return decimal.Decimal{}, false
	}
	dec := tk[p+1:]
	ip := tk[:p]
	var digits strings.Builder
	if ip != "" {
		groups := strings.FieldsFunc(ip, func(r rune) bool { return r == '.' || r == ',' || r == '\'' })
		if len(groups) == 0 {
			return decimal.Decimal{}, false
		}
		if len(groups) > 1 {
			if len(groups[0]) > 3 {
				return decimal.Decimal{}, false
			}
			for _, g := range groups[1:] {
				if len(g) != 3 {
					return decimal.Decimal{}, false
				}
			}
		}
		for _, g := range groups {
			digits.WriteString(g)
		}
	}
	num := strings.TrimLeft(digits.String(), "0")
	if len(num) > 9 {
		return decimal.Decimal{}, false // implausible for a receipt
	}
	if num == "" {
		num = "0"
	}
	v, err := decimal.NewFromString(num + "." + dec)
	if err != nil {
		return decimal.Decimal{}, false
	}
	return v, true
}

package extract

import (
	"regexp"
	"strings"
)

var (
	// a masked card number: at least four mask characters (*, X, #, •, .),
	// possibly grouped, optionally after the first digits of the PAN, then
	// the last four digits.
	reMasked = regexp.MustCompile(`(?:^|[^0-9A-Z])(?:[0-9]{4,6}[ -]?)?((?:[*X#•·.]{2,}[ -]?){1,5})([0-9]{4})(?:[^0-9]|$)`)
	// "ENDING IN 1234", "ENDS WITH 1234", "LAST 4 DIGITS: 1234"
	reEnding = regexp.MustCompile(`(?:ENDING(?: IN| WITH)?|ENDS(?: IN| WITH)?|LAST (?:4|FOUR)(?: DIGITS)?) ?[:#]? ?[*X#.]*([0-9]{4})(?:[^0-9]|$)`)
	// a standalone four-digit group
	reFour = regexp.MustCompile(`(?:^|[^0-9.,:/-])([0-9]{4})(?:[^0-9.,:/-]|$)`)
	// an unmasked card number, grouped or not
	rePAN = regexp.MustCompile(`(?:^|[^0-9])((?:[0-9]{4}[ -]?){3}[0-9]{1,7})(?:[^0-9]|$)`)
)

type cardResult struct {
	last4  string
	conf   float64
	source string
}

// findCard finds the last four digits of the card that paid. Only those four
// digits ever leave this function.
func findCard(lines []line) (cardResult, bool) {
	var best cardResult
	consider := func(r cardResult) {
		if r.conf > best.conf {
			best = r
		}
	}
	for i := range lines {
		s := lines[i].up
		if !hasDateChars(s) {
			continue
		}
		cardLine := lines[i].kw.has(kwCard | kwAcct | kwEnding)
		if !cardLine && !hasMaskRun(s) && !strings.Contains(s, "LAST") {
			continue
		}
		for _, m := range reMasked.FindAllStringSubmatch(s, -1) {
			masks := 0
			for _, c := range m[1] {
				if c != ' ' && c != '-' {
					masks++
				}
			}
			if masks < 3 || masks == 3 && !cardLine || !cardLine && strings.Trim(m[1], ". -") == "" {
				continue // dot leaders ("TOTAL ....... 1234") only count on a card line
			}
			c := 0.85
			if cardLine {
				c = 0.95
			}
			consider(cardResult{last4: m[2], conf: c, source: "rule:card-masked"})
		}
		if m := reEnding.FindStringSubmatch(s); m != nil {
			consider(cardResult{last4: m[1], conf: 0.9, source: "rule:card-ending"})
		}
		if !cardLine {
			continue
		}
		if m := rePAN.FindStringSubmatch(s); m != nil {
			digits := make([]byte, 0, 19)
			for i := 0; i < len(m[1]); i++ {
				if isDigit(m[1][i]) {
					digits = append(digits, m[1][i])
				}
			}
			if len(digits) >= 13 && len(digits) <= 19 && luhn(digits) {
				consider(cardResult{last4: string(digits[len(digits)-4:]), conf: 0.5, source: "rule:card-number"})
				continue
			}
		}
		// "VISA 1234", "CARD NO: 1234": one four-digit group on a card line,
		// not part of a date, time or amount
		fours := reFour.FindAllStringSubmatch(s, -1)
		if len(fours) == 1 && !lines[i].kw.has(kwDate) {
			consider(cardResult{last4: fours[0][1], conf: 0.6, source: "rule:card-keyword"})
		}
	}
	return best, best.last4 != ""
}

// luhn checks a card number's check digit.
func luhn(d []byte) bool {
	sum := 0
	for i := 0; i < len(d); i++ {
		v := int(d[len(d)-1-i] - '0')
		if i%2 == 1 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return sum%10 == 0
}

// hasMaskRun: two mask characters in a row ("**", "XX", "##", "..", "••").
func hasMaskRun(s string) bool {
	return strings.Contains(s, "**") || strings.Contains(s, "XX") || strings.Contains(s, "##") ||
		strings.Contains(s, "..") || strings.Contains(s, "•") || strings.Contains(s, "·")
}

package eval

import (
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// This file compares extracted values with the truth of a labelled receipt.
// The comparisons are deliberately local to the evaluation: they decide what
// counts as "the same merchant, date or amount" for scoring, and must not
// change when the extraction rules change.

// legalSuffixes are dropped from the end of a company name before
// comparing, longest first within each family: "SDN BHD", "S/B", "LTD" …
// parenRe matches a parenthesised qualifier: "(M)", "(KL)", "(SETIA ALAM)".
var parenRe = regexp.MustCompile(`\([^()]*\)`)

var legalSuffixes = []string{
	"sdn bhd", "sdn berhad", "s b", "sb", "bhd", "berhad", "pte ltd", "pte", "ltd", "limited",
	"plc", "llc", "inc", "incorporated", "corp", "corporation", "co", "company", "gmbh", "ag", "sa", "sarl",
	"enterprise", "enterprises", "trading", "m",
}

// NormalizeCompany reduces a company name to what identifies it: lower case,
// parenthesised qualifiers ("(M)", "(KL)", "(SETIA ALAM)") removed,
// punctuation dropped, "&" read as "and", spaces collapsed and legal suffixes
// ("SDN BHD", "S/B", "LTD" …) removed from the end.
func NormalizeCompany(s string) string {
	s = parenRe.ReplaceAllString(strings.ToLower(s), " ")
	s = strings.ReplaceAll(s, "&", " and ")
	var b strings.Builder
	for _, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		default:
			b.WriteByte(' ')
		}
	}
	words := strings.Fields(b.String())
	// Drop suffix words from the end, repeatedly: "co (m) sdn bhd" → "".
	for changed := true; changed && len(words) > 1; {
		changed = false
		tail := strings.Join(words, " ")
		for _, suf := range legalSuffixes {
			n := len(strings.Fields(suf))
			if len(words) > n && strings.HasSuffix(tail, " "+suf) {
				words = words[:len(words)-n]
				changed = true
				break
			}
		}
	}
	return strings.Join(words, " ")
}

// squash drops everything but letters and digits, so line breaks and OCR'd
// spacing do not hide a name.
func squash(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// MerchantMatches reports whether an extracted merchant names the company.
// Either normalised name may contain the other when the shorter one keeps at
// least 60 % of the longer one's letters ("MR DIY" for "MR. D.I.Y. (M) SDN
// BHD", not "SHOP" for "SANYU STATIONERY SHOP").
func MerchantMatches(got, company string) bool {
	if merchantMatches(got, company) {
		return true
	}
	// A bracketed part may be the branch that tells two shops of a chain
	// apart: "MR DIY KUCHAI" is "MR. D.I.Y. (KUCHAI) SDN BHD" as well.
	unbracketed := strings.NewReplacer("(", " ", ")", " ").Replace(company)
	return unbracketed != company && merchantMatches(got, unbracketed)
}

func merchantMatches(got, company string) bool {
	g, c := squash(NormalizeCompany(got)), squash(NormalizeCompany(company))
	if g == "" || c == "" {
		return false
	}
	if g == c {
		return true
	}
	short, long := g, c
	if len(short) > len(long) {
		short, long = long, short
	}
	return strings.Contains(long, short) && float64(len(short)) >= 0.6*float64(len(long))
}

// CompanyAppears reports whether the company name is legible somewhere in
// text: its normalised letters and digits occur in the text's, across line
// breaks and spacing.
func CompanyAppears(text, company string) bool {
	c := squash(NormalizeCompany(company))
	return c != "" && strings.Contains(squash(text), c)
}

// ParseAmount reads a money amount ("RM 68.10", "$8.20", "1,234.50") as
// cents. It reports false when s holds no amount.
func ParseAmount(s string) (int64, bool) {
	m := amountRe.FindString(s)
	if m == "" {
		return 0, false
	}
	return amountCents(m)
}

var (
	amountRe = regexp.MustCompile(`\d[\d,]*(?:\.\d{1,2})?`)
	// textAmountRe finds amounts in OCR text: digits with a decimal point or
	// comma and two decimals, allowing OCR's stray space after the point.
	textAmountRe = regexp.MustCompile(`\d[\d,.]*[.,] ?\d{2}\b`)
)

// amountCents parses "1,234.50", "1234,50", "68.1" or "12" into cents; a
// separator followed by three digits groups thousands.
func amountCents(s string) (int64, bool) {
	s = strings.ReplaceAll(s, " ", "")
	dec := ""
	if i := strings.LastIndexAny(s, ".,"); i >= 0 && len(s)-i-1 >= 1 && len(s)-i-1 <= 2 {
		dec = s[i+1:]
		if len(dec) == 1 {
			dec += "0" // "68.1" is 68.10
		}
		s = s[:i]
	}
	s = strings.NewReplacer(",", "", ".", "").Replace(s)
	if s == "" {
		s = "0"
	}
	whole, err := strconv.ParseInt(s, 10, 64)
	if err != nil || whole > 1e12 {
		return 0, false
	}
	cents := whole * 100
	if dec != "" {
		d, err := strconv.Atoi(dec)
		if err != nil {
			return 0, false
		}
		cents += int64(d)
	}
	return cents, true
}

// AmountMatches reports whether an extracted amount equals the truth as a
// number ("8.2" = "$8.20").
func AmountMatches(got, truth string) bool {
	g, ok1 := ParseAmount(got)
	t, ok2 := ParseAmount(truth)
	return ok1 && ok2 && g == t
}

// AmountAppears reports whether some amount written with two decimals in
// text equals the truth.
func AmountAppears(text, truth string) bool {
	t, ok := ParseAmount(truth)
	if !ok {
		return false
	}
	for _, m := range textAmountRe.FindAllString(text, -1) {
		if c, ok := amountCents(m); ok && c == t {
			return true
		}
	}
	return false
}

var months = map[string]time.Month{
	"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
	"jul": 7, "aug": 8, "sep": 9, "sept": 9, "oct": 10, "nov": 11, "dec": 12,
}

var (
	numDateRe   = regexp.MustCompile(`\b(\d{1,4})\s?[/.\-]\s?(\d{1,2})\s?[/.\-]\s?(\d{2,4})\b`)
	named1Re    = regexp.MustCompile(`(?i)\b(\d{1,2})(?:st|nd|rd|th)?[\s/.\-]*([a-z]{3,9})[\s/.\-,]*(\d{2,4})\b`)
	named2Re    = regexp.MustCompile(`(?i)\b([a-z]{3,9})[\s/.\-]*(\d{1,2})(?:st|nd|rd|th)?[\s,/.\-]+(\d{2,4})\b`)
	isoPrefixRe = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}`)
)

// DatesIn lists every calendar date that text may be read as, day-first and
// month-first alike, in order of appearance.
func DatesIn(text string) []time.Time {
	var out []time.Time
	add := func(y, m, d int) {
		if y < 100 {
			y += 2000
		}
		if y < 1970 || y > 2100 || m < 1 || m > 12 || d < 1 || d > 31 {
			return
		}
		t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
		if t.Day() == d { // rejects 31 Feb
			out = append(out, t)
		}
	}
	// Numeric dates are searched at every start, not only after the last
	// match: in "#19- 10/03/2018" the false "19- 10/03" must not hide
	// the real date.
	for _, g := range allSubmatches(numDateRe, text) {
		a, _ := strconv.Atoi(g[1])
		b, _ := strconv.Atoi(g[2])
		c, _ := strconv.Atoi(g[3])
		if len(g[1]) == 4 { // yyyy-mm-dd
			add(a, b, c)
			continue
		}
		add(c, b, a) // day first
		add(c, a, b) // month first
	}
	for _, g := range named1Re.FindAllStringSubmatch(text, -1) {
		if m, ok := monthOf(g[2]); ok {
			d, _ := strconv.Atoi(g[1])
			y, _ := strconv.Atoi(g[3])
			add(y, int(m), d)
		}
	}
	for _, g := range named2Re.FindAllStringSubmatch(text, -1) {
		if m, ok := monthOf(g[1]); ok {
			d, _ := strconv.Atoi(g[2])
			y, _ := strconv.Atoi(g[3])
			add(y, int(m), d)
		}
	}
	return out
}

// allSubmatches is FindAllStringSubmatch with overlapping matches: after
// each match the search resumes one character after its start. A match
// that starts inside a longer run of digits is skipped.
func allSubmatches(re *regexp.Regexp, s string) [][]string {
	var out [][]string
	for i := 0; i < len(s); {
		loc := re.FindStringSubmatchIndex(s[i:])
		if loc == nil {
			break
		}
		if start := i + loc[0]; start > 0 && s[start-1] >= '0' && s[start-1] <= '9' {
			i = start + 1 // inside a longer number: \b held only because s was cut
			continue
		}
		g := make([]string, len(loc)/2)
		for k := range g {
			if loc[2*k] >= 0 {
				g[k] = s[i+loc[2*k] : i+loc[2*k+1]]
			}
		}
		out = append(out, g)
		i += loc[0] + 1
	}
	return out
}

func monthOf(s string) (time.Month, bool) {
	s = strings.ToLower(s)
	if m, ok := months[s]; ok {
		return m, true
	}
	if len(s) > 3 {
		if m, ok := months[s[:3]]; ok {
			return m, true
		}
	}
	return 0, false
}

// ParseTruthDate reads a labelled date as written on the receipt. Numeric
// dates are day-first, as on the receipts of the dev set, unless only
// month-first makes a date.
func ParseTruthDate(s string) (time.Time, bool) {
	ds := DatesIn(s)
	if len(ds) == 0 {
		return time.Time{}, false
	}
	return ds[0], true
}

// DateMatches reports whether an extracted ISO date (yyyy-mm-dd) is the
// truth's date.
func DateMatches(gotISO, truth string) bool {
	t, ok := ParseTruthDate(truth)
	if !ok {
		return false
	}
	m := isoPrefixRe.FindString(strings.TrimSpace(gotISO))
	if m == "" {
		return false
	}
	g, err := time.Parse("2006-01-02", m)
	return err == nil && g.Equal(t)
}

// DateAppears reports whether text contains the truth's date in some form.
func DateAppears(text, truth string) bool {
	t, ok := ParseTruthDate(truth)
	if !ok {
		return false
	}
	for _, d := range DatesIn(text) {
		if d.Equal(t) {
			return true
		}
	}
	return false
}

// words splits text into upper-case words of at least two letters or
// digits, trimmed of punctuation.
func words(text string) []string {
	var out []string
	for _, w := range strings.Fields(strings.ToUpper(text)) {
		w = strings.TrimFunc(w, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
		if len(w) >= 2 {
			out = append(out, w)
		}
	}
	return out
}

// WordRecall counts how many words of the true lines appear in text (each
// OCR'd word used at most once): found out of total.
func WordRecall(text string, lines []string) (found, total int) {
	have := map[string]int{}
	for _, w := range words(text) {
		have[w]++
	}
	for _, l := range lines {
		for _, w := range words(l) {
			total++
			if have[w] > 0 {
				have[w]--
				found++
			}
		}
	}
	return found, total
}

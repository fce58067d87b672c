package extract

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// DateOrder resolves numeric dates whose day and month could be swapped.
type DateOrder string

const (
	// DateOrderAuto decides from the text: unambiguous dates on the same
	// receipt first, then the currency (USD → month first), then day first.
	DateOrderAuto DateOrder = ""
	DateOrderDMY  DateOrder = "dmy"
	DateOrderMDY  DateOrder = "mdy"
)

var (
	reYMD   = regexp.MustCompile(`(?:^|[^0-9])((?:19|20)[0-9]{2}) ?([-/.]) ?([0-9]{1,2}) ?([-/.]) ?([0-9]{1,2})`)
	reNum   = regexp.MustCompile(`(?:^|[^0-9.,])([0-9]{1,2}) ?([-/.]) ?([0-9]{1,2}) ?([-/.]) ?([0-9]{4}|[0-9]{2})`)
	reDMonY = regexp.MustCompile(`(?:^|[^0-9])([0-9]{1,2})(?:ST|ND|RD|TH)? ?[-/. ]? ?(\p{L}{3,9})\.? ?[-/., ]? ?'?([0-9]{4}|[0-9]{2})`)
	reMonDY = regexp.MustCompile(`(?:^|[^\p{L}])(\p{L}{3,9})\.? ?([0-9]{1,2})(?:ST|ND|RD|TH)?(?: ?,? ?([0-9]{4}))?`)
	reTime  = regexp.MustCompile(`[0-9]{1,2} ?: ?[0-9]{2}`)
)

// monthNames maps month names and abbreviations (upper case) to 1..12. Read
// only.
var monthNames = buildMonthNames()

func buildMonthNames() map[string]int {
	out := map[string]int{}
	for i, names := range [][]string{
		{"JAN", "JANUARY", "JANUARI", "JANVIER", "JANV", "JANUAR", "ENERO", "GENNAIO", "JANEIRO"},
		{"FEB", "FEBRUARY", "FEBRUARI", "FEVRIER", "FÉVRIER", "FÉVR", "FEVR", "FÉV", "FEV", "FEBRUAR", "FEBRERO", "FEBBRAIO"},
		{"MAR", "MARCH", "MAC", "MARS", "MÄRZ", "MARZ", "MRZ", "MARZO", "MARET"},
		{"APR", "APRIL", "AVRIL", "AVR", "ABRIL", "ABR", "APRILE"},
		{"MAY", "MEI", "MAI", "MAYO", "MAGGIO"},
		{"JUN", "JUNE", "JUNI", "JUIN", "JUNIO", "GIUGNO"},
		{"JUL", "JULY", "JULAI", "JULI", "JUILLET", "JUIL", "JULIO", "LUGLIO"},
		{"AUG", "AUGUST", "OGOS", "AOUT", "AOÛT", "AGOSTO", "AGUSTUS"},
		{"SEP", "SEPT", "SEPTEMBER", "SEPTEMBRE", "SEPTIEMBRE", "SETTEMBRE", "SETEMBRO"},
		{"OCT", "OCTOBER", "OKT", "OKTOBER", "OCTOBRE", "OCTUBRE", "OTTOBRE"},
		{"NOV", "NOVEMBER", "NOVEMBRE", "NOVIEMBRE", "NOPEMBER"},
		{"DEC", "DECEMBER", "DIS", "DISEMBER", "DEZ", "DEZEMBER", "DECEMBRE", "DÉCEMBRE", "DÉC", "DICIEMBRE", "DIC", "DICEMBRE", "DESEMBER"},
	} {
		for _, n := range names {
			out[n] = i + 1
		}
	}
	return out
}

type dateCand struct {
	y, m, d int
	numeric bool // nn/nn/yy: tells the document's day/month order when unambiguous
	dayFirst,
	monthFirst bool // which readings are valid
	votes bool // day and month cannot be swapped: tells the receipt's order
	line  int
	score float64
}

type dateResult struct {
	iso    string
	conf   float64
	source string
}

// expandYear turns a two-digit year into four digits, near ref when known.
func expandYear(y int, ref time.Time) int {
	if y >= 100 {
		return y
	}
	if !ref.IsZero() {
		c := ref.Year() / 100 * 100
		if c+y > ref.Year()+1 {
			return c - 100 + y
		}
		return c + y
	}
	if y < 70 {
		return 2000 + y
	}
	return 1900 + y
}

func validDate(y, m, d int) bool {
	if m < 1 || m > 12 || d < 1 || y < 1 {
		return false
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	return t.Day() == d && int(t.Month()) == m
}

// plausible: a real calendar date, and recent: 1980–2099, or with a
// reference date, not after it (one day of slack) nor 30 years before it.
func (e *Extractor) plausible(y, m, d int) bool {
	if !validDate(y, m, d) {
		return false
	}
	ref := e.opts.ReferenceDate
	if ref.IsZero() {
		return y >= 1980 && y <= 2099
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	r := time.Date(ref.Year(), ref.Month(), ref.Day(), 0, 0, 0, 0, time.UTC)
	return !t.After(r.AddDate(0, 0, 1)) && y >= ref.Year()-30
}

// findDate picks the transaction date.
func (e *Extractor) findDate(lines []line, currency string) (dateResult, bool) {
	var cands []dateCand
	ref := e.opts.ReferenceDate
	for i := range lines {
		s := lines[i].up
		if !hasDateChars(s) {
			continue
		}
		hint := dateHints(s)
		if hint == 0 {
			continue
		}
		before := len(cands)
		taken := make([][2]int, 0, 2)
		overlaps := func(a, b int) bool {
			for _, t := range taken {
				if a < t[1] && b > t[0] {
					return true
				}
			}
			return false
		}
		eachMatch(reYMD, s, hint&hintYear != 0 && hint&hintSeps != 0, func(m []int) bool {
			if s[m[4]:m[5]] != s[m[8]:m[9]] || followedByDigitSep(s, m[1]) {
				return false
			}
			y, mo, d := atoi(s[m[2]:m[3]]), atoi(s[m[6]:m[7]]), atoi(s[m[10]:m[11]])
			if !e.plausible(y, mo, d) {
				return false
			}
			cands = append(cands, dateCand{y: y, m: mo, d: d, line: i})
			taken = append(taken, [2]int{m[2], m[1]})
			return true
		})
		eachMatch(reNum, s, hint&hintSeps != 0, func(m []int) bool {
			if s[m[4]:m[5]] != s[m[8]:m[9]] || followedByDigitSep(s, m[1]) || overlaps(m[2], m[1]) {
				return false
			}
			a, b := atoi(s[m[2]:m[3]]), atoi(s[m[6]:m[7]])
			y := expandYear(atoi(s[m[10]:m[11]]), ref)
			dmy := e.plausible(y, b, a)
			mdy := e.plausible(y, a, b)
			if !dmy && !mdy {
				return false
			}
			// the order vote counts only calendar facts (13/03), not plausibility
			c := dateCand{numeric: true, dayFirst: dmy, monthFirst: mdy, line: i, y: y,
				votes: validDate(y, b, a) != validDate(y, a, b)}
			if dmy {
				c.m, c.d = b, a
			} else {
				c.m, c.d = a, b
			}
			cands = append(cands, c)
			taken = append(taken, [2]int{m[2], m[1]})
			return true
		})
		eachMatch(reDMonY, s, hint&hintMonth != 0, func(m []int) bool {
			mo, ok := monthNames[s[m[4]:m[5]]]
			if !ok || overlaps(m[2], m[1]) || followedByDigitSep(s, m[1]) {
				return false
			}
			d := atoi(s[m[2]:m[3]])
			y := expandYear(atoi(s[m[6]:m[7]]), ref)
			if !e.plausible(y, mo, d) {
				return false
			}
			cands = append(cands, dateCand{y: y, m: mo, d: d, line: i, score: 0.3})
			taken = append(taken, [2]int{m[2], m[1]})
			return true
		})
		eachMatch(reMonDY, s, hint&hintMonth != 0, func(m []int) bool {
			mo, ok := monthNames[s[m[2]:m[3]]]
			if !ok || overlaps(m[2], m[1]) {
				return false
			}
			d := atoi(s[m[4]:m[5]])
			y := 0
			score := 0.3
			if m[6] >= 0 {
				y = atoi(s[m[6]:m[7]])
			} else {
				// "MAR 15" with no year: only with a reference date, and
				// weaker; a following digit means it was something else
				if ref.IsZero() || m[5] < len(s) && isDigit(s[m[5]]) {
					return false
				}
				y = ref.Year()
				if !e.plausible(y, mo, d) {
					y--
				}
				score = -0.5
			}
			if !e.plausible(y, mo, d) {
				return false
			}
			cands = append(cands, dateCand{y: y, m: mo, d: d, line: i, score: score})
			return true
		})
		if len(cands) == before {
			continue
		}
		kw := lines[i].kw
		bonus := 1.0
		if kw.has(kwDate) {
			bonus += 2
		}
		if kw.has(kwPrint | kwExpiry) {
			bonus -= 0.7
		}
		if reTime.MatchString(s) {
			bonus += 0.5
		}
		for j := before; j < len(cands); j++ {
			cands[j].score += bonus
			if cands[j].y >= 1000 && !cands[j].numeric {
				cands[j].score += 0.3
			}
		}
	}
	if len(cands) == 0 {
		return dateResult{}, false
	}

	// day/month order of the document
	order := e.opts.DateOrder
	if order == DateOrderAuto {
		dmy, mdy := 0, 0
		for _, c := range cands {
			if c.votes {
				if c.dayFirst {
					dmy++
				} else {
					mdy++
				}
			}
		}
		switch {
		case dmy > mdy:
			order = DateOrderDMY
		case mdy > dmy:
			order = DateOrderMDY
		case currency == "USD":
			order = DateOrderMDY
		default:
			order = DateOrderDMY
		}
	}
	ambiguous := false
	for k := range cands {
		c := &cands[k]
		if c.numeric && c.dayFirst && c.monthFirst && c.m != c.d {
			ambiguous = true
			if order == DateOrderMDY {
				c.m, c.d = c.d, c.m
			}
		}
	}

	// same date printed several times
	type agg struct {
		score float64
		first int
		n     int
	}
	byDate := map[[3]int]*agg{}
	keys := make([][3]int, 0, len(cands))
	for _, c := range cands {
		k := [3]int{c.y, c.m, c.d}
		a := byDate[k]
		if a == nil {
			a = &agg{first: c.line}
			byDate[k] = a
			keys = append(keys, k)
		}
		if c.score > a.score {
			a.score = c.score
		}
		a.n++
	}
	var best [3]int
	bs, ss := -math.MaxFloat64, -math.MaxFloat64
	for _, k := range keys {
		a := byDate[k]
		s := a.score + 0.3*math.Min(float64(a.n-1), 3)
		if s > bs || s == bs && a.first < byDate[best].first {
			ss = bs
			best, bs = k, s
		} else if s > ss {
			ss = s
		}
	}
	if len(keys) == 1 {
		bs += 0.5 // the only date on the receipt
	}
	conf := 1 - math.Exp(-bs/1.5)
	if ss > -math.MaxFloat64 {
		conf *= 0.75 + 0.25*math.Min(1, (bs-ss)/1.5)
	}
	src := "rule:date"
	if byDate[best].score >= 3 {
		src = "rule:date-label"
	}
	if ambiguous && e.opts.DateOrder == DateOrderAuto {
		conf *= 0.85
	}
	return dateResult{
		iso:    fmt.Sprintf("%04d-%02d-%02d", best[0], best[1], best[2]),
		conf:   clamp01(math.Min(conf, 0.97)),
		source: src,
	}, true
}

// eachMatch calls fn for the matches of re in s, left to right. A match fn
// rejects does not hide a later one that overlaps it ("#19- 24/07/2016"): the
// search resumes one character after the rejected match's first group. A
// match whose first group continues a number or word is skipped.
func eachMatch(re *regexp.Regexp, s string, maybe bool, fn func(m []int) bool) {
	if !maybe {
		return
	}
	for off, guard := 0, 0; off < len(s) && guard < 64; guard++ {
		m := re.FindStringSubmatchIndex(s[off:])
		if m == nil {
			return
		}
		for k := range m {
			if m[k] >= 0 {
				m[k] += off
			}
		}
		g := m[2]
		if g > 0 && (isDigit(s[g]) && (isDigit(s[g-1]) || s[g-1] == '.' || s[g-1] == ',') || isLetter(s[g]) && isLetter(s[g-1])) {
			off = g + 1
			continue
		}
		if fn(m) {
			off = max(m[1], off+1)
		} else {
			off = g + 1
		}
	}
}

const (
	hintYear  = 1 << iota // four digits in a row
	hintSeps              // two date separators between digits
	hintMonth             // a month name
)

// dateHints is a cheap scan telling which date regexps can match s.
func dateHints(s string) int {
	h, run, seps := 0, 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isDigit(c) {
			run++
			if run == 4 {
				h |= hintYear
			}
			continue
		}
		run = 0
		if (c == '-' || c == '/' || c == '.') && i > 0 && i+1 < len(s) {
			p, n := s[i-1], s[i+1]
			if p == ' ' && i > 1 {
				p = s[i-2]
			}
			if n == ' ' && i+2 < len(s) {
				n = s[i+2]
			}
			if isDigit(p) && isDigit(n) {
				seps++
			}
		}
	}
	if seps >= 2 {
		h |= hintSeps
	}
	// letter runs that name a month
	for i := 0; i < len(s); {
		if !isLetter(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isLetter(s[j]) {
			j++
		}
		if j-i >= 3 && j-i <= 18 {
			if _, ok := monthNames[s[i:j]]; ok {
				h |= hintMonth
			} else if j-i > 3 && (isDigit(s[max(i-1, 0)]) || j < len(s) && isDigit(s[j])) {
				// glued to digits: "03MAR2018"
				if _, ok := monthNames[s[i:i+3]]; ok {
					h |= hintMonth
				}
			}
		}
		i = j
	}
	return h
}

// hasDateChars is a cheap filter: a digit and something that can separate
// the parts of a date.
func hasDateChars(s string) bool {
	digits := 0
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			digits++
		}
	}
	return digits >= 3
}

// followedByDigitSep: "12.03.2018.5" or "1.32.50" continue as numbers.
func followedByDigitSep(s string, end int) bool {
	if end < len(s) && isDigit(s[end]) {
		return true
	}
	return end+1 < len(s) && (s[end] == '.' || s[end] == ',' || s[end] == '/' || s[end] == '-') && isDigit(s[end+1])
}

func atoi(s string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(s))
	return n
}

package extract

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// line is one non-empty line of the receipt, prepared for the rules.
type line struct {
	idx   int      // position among the non-empty lines
	raw   string   // as printed, trimmed
	up    string   // upper-cased, whitespace collapsed, OCR digit confusions fixed inside numbers
	words []string // alphanumeric words of up, keyword aliases canonicalised
	kw    kwSet    // keywords present in words
	money []money  // amounts with two decimals on the line (scanMoney)
}

// maxTextBytes bounds the work done on hostile input; receipts are a few KB.
const maxTextBytes = 64 << 10

// maxLines bounds the number of lines looked at.
const maxLines = 400

// splitLines prepares the text: one line per non-empty input line.
func splitLines(text string) []line {
	if len(text) > maxTextBytes {
		text = text[:maxTextBytes]
	}
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, " ")
	}
	out := make([]line, 0, strings.Count(text, "\n")+1)
	for len(text) > 0 && len(out) < maxLines {
		var s string
		if i := strings.IndexAny(text, "\n\r\f\v"); i >= 0 {
			s, text = text[:i], text[i+1:]
		} else {
			s, text = text, ""
		}
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		up := strings.ToUpper(fixDigits(collapseSpaces(s)))
		l := line{idx: len(out), raw: s, up: up}
		l.words = splitWords(up)
		l.kw = keywordsOf(l.words)
		l.money = scanMoney(up, nil)
		out = append(out, l)
	}
	return out
}

// collapseSpaces turns every run of whitespace (tabs, NBSP, thin spaces)
// into one ASCII space.
func collapseSpaces(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || c < ' ' || c == ' ' && (i == 0 || s[i-1] == ' ') {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) || r == '\u00a0' || r == '\u202f' || r == '\u2009' {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		if r == '\u2212' {
			r = '-'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// digitFor maps letters that OCR confuses with digits.
func digitFor(c byte) byte {
	switch c {
	case 'O', 'o', 'Q':
		return '0'
	case 'I', 'l', '|', '!':
		return '1'
	case 'S', 's':
		return '5'
	case 'B':
		return '8'
	}
	return 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isNumSep(c byte) bool { return c == '.' || c == ',' || c == '/' || c == '-' || c == ':' }

func isLetter(c byte) bool { return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= 0x80 }

// fixDigits repairs OCR letter/digit confusions inside numbers, word by word:
// a confusable letter becomes a digit when it sits between digits or number
// separators ("0l/02/2018", "3S.20"), or when the word has digits and no other
// letters at all ("l0.5O"). Words with real letters ("15.50SR", "CS1801")
// keep them.
func fixDigits(s string) string {
	var b []byte
	start := 0
	for start < len(s) {
		end := strings.IndexByte(s[start:], ' ')
		if end < 0 {
			end = len(s)
		} else {
			end += start
		}
		w := s[start:end]
		if fixed, ok := fixWord(w); ok {
			if b == nil {
				b = []byte(s)
			}
			copy(b[start:end], fixed)
		}
		start = end + 1
	}
	if b == nil {
		return s
	}
	return string(b)
}

func fixWord(w string) ([]byte, bool) {
	hasDigit, onlyConfusable, hasConfusable := false, true, false
	for i := 0; i < len(w); i++ {
		c := w[i]
		switch {
		case isDigit(c):
			hasDigit = true
		case digitFor(c) != 0:
			hasConfusable = true
		case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z':
			onlyConfusable = false
		}
	}
	if !hasDigit || !hasConfusable {
		return nil, false
	}
	b := []byte(w)
	numeric := func(i int) bool { return i >= 0 && i < len(b) && (isDigit(b[i]) || isNumSep(b[i])) }
	changed := false
	for pass := 0; pass < 2; pass++ {
		for i := 0; i < len(b); i++ {
			d := digitFor(b[i])
			if d == 0 {
				continue
			}
			between := numeric(i-1) && numeric(i+1) && (i > 0 && isDigit(b[i-1]) || i+1 < len(b) && isDigit(b[i+1]))
			edge := onlyConfusable && (numeric(i-1) || numeric(i+1))
			if between || edge {
				b[i] = d
				changed = true
			}
		}
	}
	return b, changed
}

// splitWords returns the runs of letters and digits of s.
func splitWords(s string) []string {
	out := make([]string, 0, strings.Count(s, " ")+2)
	start := -1
	for i, r := range s {
		alnum := unicode.IsLetter(r) || unicode.IsDigit(r)
		if alnum && start < 0 {
			start = i
		}
		if !alnum && start >= 0 {
			out = append(out, s[start:i])
			start = -1
		}
	}
	if start >= 0 {
		out = append(out, s[start:])
	}
	return out
}

// hasWord reports whether words contains w.
func hasWord(words []string, w string) bool {
	for _, x := range words {
		if x == w {
			return true
		}
	}
	return false
}

// editDistance1 reports whether a and b differ by at most one edit
// (substitution, insertion or deletion).
func editDistance1(a, b string) bool {
	if len(a) < len(b) {
		a, b = b, a
	}
	if len(a)-len(b) > 1 {
		return false
	}
	i := 0
	for i < len(b) && a[i] == b[i] {
		i++
	}
	if i == len(b) {
		return true
	}
	if len(a) == len(b) {
		return a[i+1:] == b[i+1:]
	}
	return a[i+1:] == b[i:]
}

func clamp01(x float64) float64 {
	if x < 0 || x != x {
		return 0
	}
	if x > 1 {
		return 1
	}
	return x
}

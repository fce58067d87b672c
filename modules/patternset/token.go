package patternset

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Tokenisation is shared by learning and matching, so a phrase learned from
// the pool matches exactly the texts it was counted in:
//
//   - a token is a maximal run of word runes: Unicode letters (L), marks (M)
//     and numbers (N), and '_' (on ASCII this is exactly regexp's \w);
//   - everything else (spaces, punctuation, invalid UTF-8) separates tokens,
//     and any run of separators counts as one gap, so "TRIP WITH",
//     "trip\nwith" and "Trip-With" are all the phrase "trip with";
//   - tokens are case-folded rune by rune to a canonical member of the rune's
//     Unicode simple-folding orbit (the same equivalence regexp's (?i) uses),
//     which for ASCII is plain lower case.

// isWordRune reports whether r is part of a token.
func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_'
	}
	return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsNumber(r)
}

// foldRune maps r to a canonical member of its simple-folding orbit: the
// lower case of the orbit's smallest rune. Every rune of an orbit gets the
// same result ('K', 'k' and the Kelvin sign all give 'k'; 'ſ' gives 's').
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return r
	}
	lowest := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < lowest {
			lowest = f
		}
	}
	return unicode.ToLower(lowest)
}

// tokenizer walks a text token by token. The token returned by next is only
// valid until the following call; the zero value is not usable, use
// newTokenizer or reset.
type tokenizer struct {
	text string
	pos  int
	buf  []byte
}

func (t *tokenizer) reset(text string) {
	t.text = text
	t.pos = 0
	t.buf = t.buf[:0]
}

// next returns the next folded token, whether it is numeric (it has at
// least as many digits — any Unicode number — as other runes: "1234",
// "12mar2026", "3m", but not the misread "starbuck5"), and false at the end
// of the text.
func (t *tokenizer) next() (tok []byte, numeric, ok bool) {
	s := t.text
	i := t.pos
	// Skip separators.
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' {
				break
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r != utf8.RuneError && isWordRune(r) {
			break
		}
		i += size
	}
	if i >= len(s) {
		t.pos = i
		return nil, false, false
	}
	buf := t.buf[:0]
	digits, others := 0, 0
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case 'a' <= c && c <= 'z' || c == '_':
				others++
			case 'A' <= c && c <= 'Z':
				c += 'a' - 'A'
				others++
			case '0' <= c && c <= '9':
				digits++
			default:
				goto done
			}
			buf = append(buf, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || !isWordRune(r) {
			break
		}
		if unicode.IsNumber(r) {
			digits++
		} else {
			others++
		}
		buf = utf8.AppendRune(buf, foldRune(r))
		i += size
	}
done:
	t.pos = i
	t.buf = buf
	return buf, digits > 0 && digits >= others, true
}

// Tokens returns the folded tokens of s, the units phrases are made of.
// Tokens("Your RIDE, trip-with Ünal") is ["your" "ride" "trip" "with" "ünal"].
func Tokens(s string) []string {
	var (
		t   tokenizer
		out []string
	)
	t.reset(s)
	for {
		tok, _, ok := t.next()
		if !ok {
			return out
		}
		out = append(out, string(tok))
	}
}

// CanonicalPhrase returns the canonical form of a phrase: its tokens joined
// by single spaces ("" when s has no token).
func CanonicalPhrase(s string) string {
	return strings.Join(Tokens(s), " ")
}

// valueKey is the lookup key of a field value typed by a person or produced
// by OCR (an alias's original, a merchant looked up for its category): its
// tokens without the numeric ones, joined by spaces. Store numbers and
// amounts are noise here: "STARBUCKS #1234" and "Starbucks 0815" both give
// "starbucks"; an OCR misreading like "RIDEC0" is kept.
func valueKey(s string) string {
	var (
		t tokenizer
		b strings.Builder
	)
	t.reset(s)
	for {
		tok, numeric, ok := t.next()
		if !ok {
			return b.String()
		}
		if numeric {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.Write(tok)
	}
}

// sameValue reports whether two normalised field values are the same value;
// values are compared as given after trimming outer white space (the data
// pool normalises them before they get here).
func sameValue(a, b string) bool {
	return strings.TrimSpace(a) == strings.TrimSpace(b)
}

// Regexps rendered for phrases. An all-ASCII phrase gets the short form
// `(?i)\btrip\W+with\b`; a phrase with other letters needs Unicode-aware
// boundaries, because regexp's \b and \W only know ASCII word characters.
const (
	uniSep      = `[^\pL\pM\pN_]`
	uniPrefix   = `(?:^|` + uniSep + `)`
	uniSuffix   = `(?:` + uniSep + `|$)`
	asciiPrefix = `\b`
	asciiSuffix = `\b`
)

// PhraseRegexp renders phrases (canonical or not) as one case-insensitive,
// word-bounded regexp alternation, the `pattern` string of a text pattern:
// ["your ride", "trip with"] gives `(?i)\b(?:your\W+ride|trip\W+with)\b`.
//
// On text made only of ASCII characters, regexp.MatchString with the result
// agrees exactly with the Matcher (FuzzMatch checks this). Where a non-ASCII
// letter touches an all-ASCII phrase ("étrip with") the two can differ; the
// Matcher, whose tokens are Unicode-aware, is the reference.
func PhraseRegexp(phrases ...string) string {
	var alts []string
	ascii := true
	for _, p := range phrases {
		toks := Tokens(p)
		if len(toks) == 0 {
			continue
		}
		for _, tok := range toks {
			if !isASCII(tok) {
				ascii = false
			}
		}
		alts = append(alts, strings.Join(quoteAll(toks), "\x00"))
	}
	if len(alts) == 0 {
		return ""
	}
	sep, prefix, suffix := `\W+`, asciiPrefix, asciiSuffix
	if !ascii {
		sep, prefix, suffix = uniSep+"+", uniPrefix, uniSuffix
	}
	for i, a := range alts {
		alts[i] = strings.ReplaceAll(a, "\x00", sep)
	}
	body := alts[0]
	if len(alts) > 1 {
		body = "(?:" + strings.Join(alts, "|") + ")"
	}
	return "(?i)" + prefix + body + suffix
}

func quoteAll(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = regexp.QuoteMeta(t)
	}
	return out
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// phrasesFromRegexp recovers the phrases of a text pattern that was stored
// without its "phrases" (hand-written, or from an older exporter). It accepts
// what PhraseRegexp renders and the architecture document's `/a b|c d/i`
// form: an optional (?i) or /…/i wrapper, optional word boundaries, and an
// alternation of literal words separated by white space, \W+, \s+ or the
// Unicode separator class. Anything else is not a phrase list: ok is false.
func phrasesFromRegexp(pattern string) (phrases []string, ok bool) {
	p := strings.TrimSpace(pattern)
	if len(p) >= 3 && p[0] == '/' && strings.HasSuffix(p, "/i") {
		p = p[1 : len(p)-2]
	}
	p = strings.TrimPrefix(p, "(?i)")
	for _, w := range [][2]string{{asciiPrefix, asciiSuffix}, {uniPrefix, uniSuffix}} {
		if strings.HasPrefix(p, w[0]) && strings.HasSuffix(p, w[1]) && len(p) >= len(w[0])+len(w[1]) {
			p = p[len(w[0]) : len(p)-len(w[1])]
			break
		}
	}
	if strings.HasPrefix(p, "(?:") && strings.HasSuffix(p, ")") {
		p = p[3 : len(p)-1]
	}
	for _, sep := range []string{uniSep + "+", `\W+`, `\s+`} {
		p = strings.ReplaceAll(p, sep, " ")
	}
	var cur strings.Builder
	flush := func() bool {
		c := CanonicalPhrase(cur.String())
		cur.Reset()
		if c == "" {
			return false
		}
		phrases = append(phrases, c)
		return true
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\':
			if i+1 >= len(p) || !strings.ContainsRune(`\.+*?()|[]{}^$`, rune(p[i+1])) {
				return nil, false
			}
			i++
			cur.WriteByte(p[i])
		case c == '|':
			if !flush() {
				return nil, false
			}
		case strings.IndexByte(`.+*?()[]{}^$`, c) >= 0:
			return nil, false
		default:
			cur.WriteByte(c)
		}
	}
	if !flush() {
		return nil, false
	}
	return phrases, true
}

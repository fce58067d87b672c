package patternset

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// checkHits checks what every result of MatchWithOriginal must satisfy:
// hits name patterns of the set with their field, value and kind; a
// confidence in [0,1]; best first per field; one hit per pattern.
func checkHits(t *testing.T, m *Matcher, hits []Hit) {
	t.Helper()
	ids := make(map[string]bool)
	for i, h := range hits {
		p, ok := m.Pattern(h.PatternID)
		if !ok {
			t.Fatalf("hit %+v names no pattern of the set", h)
		}
		if p.Field != h.Field || p.CorrectedValue != h.Value || p.Kind != h.Kind {
			t.Fatalf("hit %+v does not match its pattern %+v", h, p)
		}
		if math.IsNaN(h.Confidence) || h.Confidence < 0 || h.Confidence > 1 {
			t.Fatalf("hit %+v: confidence out of [0,1]", h)
		}
		if h.Kind != KindCategory && h.Confidence != p.Confidence {
			t.Fatalf("hit %+v: confidence differs from its pattern's %v", h, p.Confidence)
		}
		if i > 0 && compareHits(hits[i-1], h) > 0 {
			t.Fatalf("hits out of order: %+v before %+v", hits[i-1], h)
		}
		if ids[h.PatternID] {
			t.Fatalf("pattern %s hit twice", h.PatternID)
		}
		ids[h.PatternID] = true
	}
}

// regexpOracle compiles every text pattern's regexp once; its check
// verifies that, on ASCII text, each regexp matches exactly when the
// Matcher reports its pattern.
type regexpOracle []struct {
	id string
	re *regexp.Regexp
}

func newRegexpOracle(s *Set) regexpOracle {
	var o regexpOracle
	for _, p := range s.All() {
		if p.Kind == KindText {
			o = append(o, struct {
				id string
				re *regexp.Regexp
			}{p.ID, regexp.MustCompile(p.Pattern)})
		}
	}
	return o
}

func (o regexpOracle) check(t *testing.T, m *Matcher, text string) {
	t.Helper()
	if !isASCII(text) {
		return
	}
	got := make(map[string]bool)
	for _, h := range m.Match(text) {
		if h.Kind == KindText {
			got[h.PatternID] = true
		}
	}
	for _, c := range o {
		if want := c.re.MatchString(text); want != got[c.id] {
			t.Fatalf("pattern %s %s: regexp match %v, matcher %v, on %q", c.id, c.re, want, got[c.id], text)
		}
	}
}

func fuzzSet(tb testing.TB) *Set {
	tb.Helper()
	s := Learn(synthExamples(11, 4, 40), Options{})
	extra := []Pattern{
		tp(FieldMerchant, "trip with", "RideCo", 0.8),
		tp(FieldMerchant, "your ride", "RideCo", 0.9),
		tp(FieldMerchant, "a b c d", "ABCD", 0.5),
		tp(FieldMerchant, "b c", "BC", 0.5),
		tp(FieldMerchant, "c", "C", 0.51),
		tp(FieldMerchant, "café müller", "Müller", 0.85),
		tp(FieldMerchant, "x_y", "XY", 0.6),
		tp(FieldCategory, "unleaded", "Fuel", 0.9),
		{Field: FieldMerchant, Kind: KindAlias, Pattern: "UBFR", CorrectedValue: "Uber", Confidence: 0.8},
		{Field: FieldCategory, Kind: KindCategory, Pattern: "Uber", CorrectedValue: "Transport", Confidence: 0.9},
		{Field: FieldCategory, Kind: KindCategory, Pattern: "RideCo", CorrectedValue: "Transport", Confidence: 0.99},
	}
	for _, p := range extra {
		p.ID = PatternID(p)
		s.Patterns[p.Field] = append(s.Patterns[p.Field], p)
	}
	s.sortPatterns()
	return s
}

func FuzzMatch(f *testing.F) {
	s := fuzzSet(f)
	m, err := Compile(s)
	if err != nil {
		f.Fatal(err)
	}
	oracle := newRegexpOracle(s)
	ex := synthExamples(11, 12, 20)
	for _, e := range ex[:5] {
		f.Add(e.Text, e.Original[FieldMerchant])
	}
	f.Add("", "")
	f.Add("YOUR RIDE, trip-with a b c d", "ubfr 12")
	f.Add("CAFÉ MÜLLER \xff trip\u00a0with", "UBFR")
	f.Add("x_y x-y x__y", "")
	f.Add(strings.Repeat("a b c ", 100), "RideCo")
	f.Fuzz(func(t *testing.T, text, merchant string) {
		hits := m.MatchWithOriginal(text, map[string]string{FieldMerchant: merchant, FieldCategory: merchant})
		checkHits(t, m, hits)
		// The regexps only agree on ASCII text: check the text, and its
		// projection to 7 bits so that random bytes get checked too.
		oracle.check(t, m, text)
		ascii := []byte(text)
		for i := range ascii {
			ascii[i] &= 0x7f
		}
		oracle.check(t, m, string(ascii))
		// Matching is a function of the text alone.
		if again := m.MatchWithOriginal(text, map[string]string{FieldMerchant: merchant, FieldCategory: merchant}); !slices.Equal(hits, again) {
			t.Fatalf("two matches of the same input differ")
		}
	})
}

// FuzzCompile compiles arbitrary phrase sets: one text pattern per line
// (and an alias for every third). A set with a phrase without words must be
// refused; any other must compile, every phrase's regexp must compile, and
// each phrase must match itself.
func FuzzCompile(f *testing.F) {
	f.Add("trip with\nyour ride\nuber")
	f.Add("a\na b\na b c\nb c\nc")
	f.Add("café müller\nΣΊΣΥΦΟΣ\n\u212aelvin")
	f.Add("x\n--\ny")
	f.Add("(?i)\\b.*+\n[a-z]\n$^|")
	f.Add("")
	f.Fuzz(func(t *testing.T, data string) {
		lines := strings.Split(data, "\n")
		if len(lines) > 200 {
			lines = lines[:200]
		}
		s := &Set{Version: "fuzz", Patterns: map[string][]Pattern{}}
		wordless := false
		for i, line := range lines {
			if CanonicalPhrase(line) == "" {
				wordless = true
			}
			p := Pattern{Field: FieldMerchant, Kind: KindText, Pattern: PhraseRegexp(line), Phrases: []string{line},
				CorrectedValue: fmt.Sprintf("v%d", i), Confidence: float64(i%101) / 100}
			s.Patterns[FieldMerchant] = append(s.Patterns[FieldMerchant], p)
			if i%3 == 0 {
				a := Pattern{Field: FieldCategory, Kind: KindAlias, Pattern: line, CorrectedValue: fmt.Sprintf("c%d", i), Confidence: 0.5}
				if valueKey(line) == "" {
					wordless = true
				}
				s.Patterns[FieldCategory] = append(s.Patterns[FieldCategory], a)
			}
		}
		m, err := Compile(s)
		if wordless {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("a set with a wordless phrase compiled: %v", err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Compile: %v", err)
		}
		all := m.Match(strings.Join(lines, "\n"))
		checkHits(t, m, all)
		for i, line := range lines {
			p := s.Patterns[FieldMerchant][i]
			re, err := regexp.Compile(p.Pattern)
			if err != nil {
				t.Fatalf("phrase %q: regexp %q does not compile: %v", line, p.Pattern, err)
			}
			hits := m.Match(line)
			checkHits(t, m, hits)
			if !slices.ContainsFunc(hits, func(h Hit) bool { return h.Value == p.CorrectedValue && h.Kind == KindText }) {
				t.Fatalf("phrase %q does not match itself: %+v", line, hits)
			}
			if !slices.ContainsFunc(all, func(h Hit) bool { return h.Value == p.CorrectedValue }) {
				t.Fatalf("phrase %q not found in all the lines", line)
			}
			if isASCII(line) && !re.MatchString(line) {
				t.Fatalf("regexp %q does not match its phrase %q", p.Pattern, line)
			}
		}
	})
}

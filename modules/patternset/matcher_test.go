package patternset

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
)

func tp(field, phrase, value string, conf float64) Pattern {
	p := Pattern{Field: field, Kind: KindText, Pattern: PhraseRegexp(phrase), Phrases: []string{CanonicalPhrase(phrase)},
		CorrectedValue: value, Confidence: conf, Frequency: 3, Matched: 3}
	p.ID = PatternID(p)
	return p
}

func setOf(ps ...Pattern) *Set {
	s := &Set{Version: "t1", Patterns: map[string][]Pattern{}}
	for _, p := range ps {
		if p.ID == "" {
			p.ID = PatternID(p)
		}
		s.Patterns[p.Field] = append(s.Patterns[p.Field], p)
	}
	s.sortPatterns()
	return s
}

func mustCompile(t testing.TB, s *Set) *Matcher {
	t.Helper()
	m, err := Compile(s)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return m
}

// hitsOf renders hits as "field=value@conf(evidence)".
func hitsOf(hits []Hit) []string {
	var out []string
	for _, h := range hits {
		out = append(out, fmt.Sprintf("%s=%s@%v(%s)", h.Field, h.Value, h.Confidence, h.Evidence))
	}
	return out
}

func TestMatchText(t *testing.T) {
	t.Parallel()
	m := mustCompile(t, setOf(
		tp(FieldMerchant, "trip with", "RideCo", 0.8),
		tp(FieldMerchant, "your ride", "RideCo", 0.9),
		tp(FieldMerchant, "new york", "NY Deli", 0.6),
		tp(FieldMerchant, "york pizza", "York Pizza", 0.7),
		tp(FieldMerchant, "new york pizza co", "NYPC", 0.95),
		tp(FieldMerchant, "pizza co", "Pizza Co", 0.65),
		tp(FieldMerchant, "a b c", "ABC", 0.5),
		tp(FieldMerchant, "b d", "BD", 0.5),
		tp(FieldMerchant, "café müller", "Müller", 0.85),
		tp(FieldCategory, "unleaded", "Fuel", 0.9),
	))
	tests := []struct {
		name, text string
		want       []string
	}{
		{"empty", "", nil},
		{"no match", "nothing to see here", nil},
		{"case and separators", "Your TRIP-with\nMaria", []string{"merchant=RideCo@0.8(trip with)"}},
		{"phrase across lines", "TRIP\n\n  WITH", []string{"merchant=RideCo@0.8(trip with)"}},
		{"no partial word at the start", "atrip with", nil},
		{"no partial word at the end", "trip without", nil},
		{"no partial word inside", "triple with", nil},
		{"digits are part of a word", "trip with2", nil},
		{"punctuation is a boundary", "(trip with)", []string{"merchant=RideCo@0.8(trip with)"}},
		{"best first", "trip with ... your ride", []string{"merchant=RideCo@0.9(your ride)", "merchant=RideCo@0.8(trip with)"}},
		{"overlapping phrases all hit", "NEW YORK PIZZA CO", []string{
			"merchant=NYPC@0.95(new york pizza co)", "merchant=York Pizza@0.7(york pizza)",
			"merchant=Pizza Co@0.65(pizza co)", "merchant=NY Deli@0.6(new york)"}},
		{"failure link to a shorter phrase", "a b d", []string{"merchant=BD@0.5(b d)"}},
		{"unicode folding", "CAFÉ MÜLLER", []string{"merchant=Müller@0.85(café müller)"}},
		{"non-ASCII letter is part of the word", "écafé müller", nil},
		{"several fields", "unleaded fuel, your ride", []string{"category=Fuel@0.9(unleaded)", "merchant=RideCo@0.9(your ride)"}},
		{"same phrase twice counts once", "trip with trip with", []string{"merchant=RideCo@0.8(trip with)"}},
		{"invalid UTF-8 separates", "trip\xffwith", []string{"merchant=RideCo@0.8(trip with)"}},
	}
	for _, tt := range tests {
		if got := hitsOf(m.Match(tt.text)); !slices.Equal(got, tt.want) {
			t.Errorf("%s: Match(%q) = %q, want %q", tt.name, tt.text, got, tt.want)
		}
	}
}

func TestMatchBestConfidenceWins(t *testing.T) {
	t.Parallel()
	m := mustCompile(t, setOf(
		tp(FieldMerchant, "coffee", "Generic Cafe", 0.61),
		tp(FieldMerchant, "starbucks", "Starbucks", 0.97),
		tp(FieldMerchant, "frappuccino", "Starbucks", 0.9),
		tp(FieldMerchant, "tie a", "Alpha", 0.7),
		tp(FieldMerchant, "tie b", "Beta", 0.7),
	))
	best := Best(m.Match("STARBUCKS COFFEE - FRAPPUCCINO"))
	if b := best[FieldMerchant]; b.Value != "Starbucks" || b.Confidence != 0.97 || b.Evidence != "starbucks" {
		t.Errorf("best = %+v", b)
	}
	// Equal confidence: the order is still fixed (value, then ID).
	for range 5 {
		if b := Best(m.Match("tie b, tie a"))[FieldMerchant]; b.Value != "Alpha" {
			t.Fatalf("tie broken to %q", b.Value)
		}
	}
	if len(Best(nil)) != 0 {
		t.Error("Best(nil) not empty")
	}
}

func TestMatchAliasesAndCategory(t *testing.T) {
	t.Parallel()
	alias := Pattern{Field: FieldMerchant, Kind: KindAlias, Pattern: "UBFR", CorrectedValue: "Uber", Confidence: 0.8}
	catAlias := Pattern{Field: FieldCategory, Kind: KindAlias, Pattern: "Transprt", CorrectedValue: "Transport", Confidence: 0.7}
	cat := Pattern{Field: FieldCategory, Kind: KindCategory, Pattern: "Uber", CorrectedValue: "Transport", Confidence: 0.9}
	cat2 := Pattern{Field: FieldCategory, Kind: KindCategory, Pattern: "Lyft", CorrectedValue: "Rides", Confidence: 0.5}
	m := mustCompile(t, setOf(alias, catAlias, cat, cat2, tp(FieldMerchant, "lyft", "Lyft", 0.6)))
	tests := []struct {
		name     string
		text     string
		original map[string]string
		want     []string
	}{
		{"alias by value key", "", map[string]string{FieldMerchant: "ubfr #0042"}, []string{
			"category=Transport@0.72(Uber)", "merchant=Uber@0.8(ubfr #0042)"}},
		{"alias of another field", "", map[string]string{FieldCategory: "TRANSPRT"}, []string{"category=Transport@0.7(TRANSPRT)"}},
		{"no alias for other values", "", map[string]string{FieldMerchant: "Uber"}, []string{"category=Transport@0.9(Uber)"}},
		{"original merchant only when none found", "LYFT ride", map[string]string{FieldMerchant: "Uber"}, []string{
			"category=Rides@0.3(Lyft)", "merchant=Lyft@0.6(lyft)"}},
		{"every merchant found", "lyft", map[string]string{FieldMerchant: "ubfr"}, []string{
			"category=Transport@0.72(Uber)", "category=Rides@0.3(Lyft)", "merchant=Uber@0.8(ubfr)", "merchant=Lyft@0.6(lyft)"}},
		{"unknown field ignored", "", map[string]string{"nope": "UBFR"}, nil},
		{"nil original", "", nil, nil},
	}
	for _, tt := range tests {
		if got := hitsOf(m.MatchWithOriginal(tt.text, tt.original)); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	good := tp(FieldMerchant, "uber", "Uber", 0.9)
	with := func(f func(p *Pattern)) *Set {
		p := good
		f(&p)
		return &Set{Patterns: map[string][]Pattern{FieldMerchant: {p}}}
	}
	tests := []struct {
		name string
		set  *Set
	}{
		{"nil set", nil},
		{"unknown kind", with(func(p *Pattern) { p.Kind = "regex" })},
		{"empty value", with(func(p *Pattern) { p.CorrectedValue = " " })},
		{"confidence above 1", with(func(p *Pattern) { p.Confidence = 1.5 })},
		{"negative confidence", with(func(p *Pattern) { p.Confidence = -0.1 })},
		{"NaN confidence", with(func(p *Pattern) { p.Confidence = math.NaN() })},
		{"negative count", with(func(p *Pattern) { p.Matched = -1 })},
		{"wrong field", with(func(p *Pattern) { p.Field = FieldCategory })},
		{"phrase without words", with(func(p *Pattern) { p.Phrases = []string{"--"} })},
		{"regexp that is not a phrase list", with(func(p *Pattern) { p.Phrases = nil; p.Pattern = `ub.r` })},
		{"alias of digits only", with(func(p *Pattern) { p.Kind = KindAlias; p.Pattern = "1234" })},
		{"empty field name", &Set{Patterns: map[string][]Pattern{"": {good}}}},
		{"same pattern twice", &Set{Patterns: map[string][]Pattern{FieldMerchant: {good, good}}}},
		{"same ID twice", &Set{Patterns: map[string][]Pattern{FieldMerchant: {good, func() Pattern {
			p := tp(FieldMerchant, "lyft", "Lyft", 0.9)
			p.ID = good.ID
			return p
		}()}}}},
	}
	for _, tt := range tests {
		_, err := Compile(tt.set)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Compile error = %v, want ErrInvalid", tt.name, err)
		}
	}
}

func TestCompileLenient(t *testing.T) {
	t.Parallel()
	// A hand-written pattern without phrases, field or ID, in the
	// architecture document's notation, still compiles.
	s := &Set{Version: "hand", Patterns: map[string][]Pattern{FieldMerchant: {{
		Kind: KindText, Pattern: "/your ride|trip with/i", CorrectedValue: "Uber", Confidence: 0.95,
	}}}}
	m := mustCompile(t, s)
	hits := m.Match("Thanks for your RIDE")
	if len(hits) != 1 || hits[0].Value != "Uber" || hits[0].Evidence != "your ride" || hits[0].PatternID == "" {
		t.Fatalf("hits = %+v", hits)
	}
	p, ok := m.Pattern(hits[0].PatternID)
	if !ok || p.Field != FieldMerchant || !slices.Equal(p.Phrases, []string{"your ride", "trip with"}) {
		t.Errorf("Pattern(%q) = %+v, %v", hits[0].PatternID, p, ok)
	}
	if _, ok := m.Pattern("nope"); ok {
		t.Error("Pattern(nope) found")
	}
	if m.Version() != "hand" || m.Len() != 1 {
		t.Errorf("Version/Len = %q/%d", m.Version(), m.Len())
	}
}

func TestMatchConcurrent(t *testing.T) {
	t.Parallel()
	ex := synthExamples(8, 30, 600)
	learn, holdout := Split(ex, 20)
	m := mustCompile(t, Learn(learn, Options{}))
	want := make([][]Hit, len(holdout))
	for i, e := range holdout {
		want[i] = m.MatchWithOriginal(e.Text, e.Original)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Go(func() {
			for round := range 3 {
				for k := range holdout {
					i := (k + g*7 + round) % len(holdout)
					got := m.MatchWithOriginal(holdout[i].Text, holdout[i].Original)
					if !slices.Equal(got, want[i]) {
						errs <- fmt.Sprintf("goroutine %d, example %d: different hits", g, i)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestMatchAgreesWithRegexpsOnLearnedSet(t *testing.T) {
	t.Parallel()
	ex := synthExamples(9, 25, 500)
	s := Learn(ex, Options{})
	m := mustCompile(t, s)
	oracle := newRegexpOracle(s)
	for _, text := range []string{ex[0].Text, ex[1].Text, strings.ToLower(ex[2].Text), ex[3].Text + ex[4].Text} {
		oracle.check(t, m, text)
	}
}

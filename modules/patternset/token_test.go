package patternset

import (
	"regexp"
	"slices"
	"testing"
	"unicode"
)

func TestTokens(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"  \n\t.,;  ", nil},
		{"Your RIDE, trip-with Ünal", []string{"your", "ride", "trip", "with", "ünal"}},
		{"TRIP\nWITH", []string{"trip", "with"}},
		{"McDonald's #1234", []string{"mcdonald", "s", "1234"}},
		{"snake_case x", []string{"snake_case", "x"}},
		{"CAFÉ MÜLLER", []string{"café", "müller"}},
		{"\u212aelvin \u017ftop", []string{"kelvin", "stop"}},             // Kelvin sign, long s
		{"e\u0301cole", []string{"e\u0301cole"}},                          // combining mark stays in the word
		{"bad\xffbyte", []string{"bad", "byte"}},                          // invalid UTF-8 separates
		{"ΣΊΣΥΦΟΣ σίσυφος", []string{"σίσυφοσ", "σίσυφοσ"}},               // final sigma folds with sigma
		{"١٢٣ total", []string{"١٢٣", "total"}},                           // Arabic-Indic digits are a token
		{"ＡＢＣ ｄｅｆ", []string{"ａｂｃ", "ｄｅｆ"}},                               // full-width letters fold
		{"İstanbul", []string{string(foldRune('İ')) + "stanbul"}},         // no special Turkish casing
		{"12.50 RM", []string{"12", "50", "rm"}},                          //
		{"a\u00a0b", []string{"a", "b"}},                                  // no-break space
		{"x—y", []string{"x", "y"}},                                       // em dash
		{"日本語 テキスト", []string{"日本語", "テキスト"}},                             // no word splitting without spaces
		{"Straße STRASSE", []string{"straße", "strasse"}},                 // ß has no simple fold to ss
		{"ǅemal ǆ Ǆ", []string{string(foldRune('ǅ')) + "emal", "ǆ", "ǆ"}}, // title case digraph
	}
	for _, tt := range tests {
		if got := Tokens(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("Tokens(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFoldRuneIsOrbitInvariant(t *testing.T) {
	t.Parallel()
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if r >= 0xd800 && r <= 0xdfff {
			continue
		}
		want := foldRune(r)
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if got := foldRune(f); got != want {
				t.Fatalf("foldRune(%U) = %U but foldRune(%U) = %U", r, want, f, got)
			}
		}
	}
}

func TestValueKey(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"STARBUCKS #1234":  "starbucks",
		"Starbucks 0815":   "starbucks",
		"  Uber   *Trip ":  "uber trip",
		"7-Eleven":         "eleven",
		"RIDEC0 SDN BHD":   "ridec0 sdn bhd",
		"3M 12mar2026 b2b": "b2b",
		"1234":             "",
		"":                 "",
	}
	for in, want := range tests {
		if got := valueKey(in); got != want {
			t.Errorf("valueKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPhraseRegexp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		phrases []string
		want    string
		match   []string
		noMatch []string
	}{
		{
			phrases: []string{"your ride", "trip with"},
			want:    `(?i)\b(?:your\W+ride|trip\W+with)\b`,
			match:   []string{"YOUR RIDE", "a trip-with b", "Trip\n  With", "(trip with)"},
			noMatch: []string{"triple with", "trip without", "atrip with", "your rides"},
		},
		{
			phrases: []string{"a.b+c"}, // punctuation is a separator, so it is a 3-word phrase
			want:    `(?i)\ba\W+b\W+c\b`,
			match:   []string{"a.b+c", "A B C"},
			noMatch: []string{"abc"},
		},
		{
			phrases: []string{"Café Müller"},
			want:    `(?i)(?:^|[^\pL\pM\pN_])café[^\pL\pM\pN_]+müller(?:[^\pL\pM\pN_]|$)`,
			match:   []string{"CAFÉ MÜLLER", "x café-müller", "café müller."},
			noMatch: []string{"cafés müller", "xcafé müller", "café müllerei"},
		},
		{phrases: []string{"  ", "..."}, want: ""},
	}
	for _, tt := range tests {
		got := PhraseRegexp(tt.phrases...)
		if got != tt.want {
			t.Errorf("PhraseRegexp(%q) = %q, want %q", tt.phrases, got, tt.want)
			continue
		}
		if got == "" {
			continue
		}
		re := regexp.MustCompile(got)
		for _, s := range tt.match {
			if !re.MatchString(s) {
				t.Errorf("%s does not match %q", got, s)
			}
		}
		for _, s := range tt.noMatch {
			if re.MatchString(s) {
				t.Errorf("%s matches %q", got, s)
			}
		}
	}
}

func TestPhrasesFromRegexp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
		ok   bool
	}{
		{`/your ride|trip with/i`, []string{"your ride", "trip with"}, true},
		{`(?i)your ride|trip with`, []string{"your ride", "trip with"}, true},
		{PhraseRegexp("your ride", "trip with"), []string{"your ride", "trip with"}, true},
		{PhraseRegexp("Café Müller"), []string{"café müller"}, true},
		{`(?i)\bstarbucks\s+coffee\b`, []string{"starbucks coffee"}, true},
		{`uber`, []string{"uber"}, true},
		{`a\.b`, []string{"a b"}, true},
		{`tr.p`, nil, false},
		{`trip|`, nil, false},
		{`(trip)`, nil, false},
		{`\d+`, nil, false},
		{``, nil, false},
		{`//i`, nil, false},
	}
	for _, tt := range tests {
		got, ok := phrasesFromRegexp(tt.in)
		if ok != tt.ok || !slices.Equal(got, tt.want) {
			t.Errorf("phrasesFromRegexp(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

package patternset

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func aliasPattern(original, value string) Pattern {
	p := Pattern{Field: FieldMerchant, Kind: KindAlias, Pattern: valueKey(original), CorrectedValue: value,
		Confidence: 0.8, Frequency: 3, Matched: 3}
	p.ID = PatternID(p)
	return p
}

func TestNamesMatch(t *testing.T) {
	t.Parallel()
	n := NewNames(setOf(
		tp(FieldMerchant, "thank you for shopping", "Gardenia Bakeries KL", 0.7),
		tp(FieldMerchant, "speedmart", "99 Speed Mart", 0.9),
		tp(FieldMerchant, "member", "AEON", 0.6),
		tp(FieldMerchant, "stationery", "Sanyu Stationery Shop", 0.6),
		aliasPattern("KEDAI RUNCIT AH SENG", "Ah Seng Grocery"),
		tp(FieldCategory, "bread", "groceries", 0.9), // another field: not a name
	), FieldMerchant)
	tests := []struct {
		name string
		text string
		// want is "value@lowest..highest confidence", best first; nil: no hit.
		want []string
	}{
		{"exact name in the header", "GARDENIA BAKERIES KL\nLOT 3, JALAN\nTOTAL 5.00", []string{"Gardenia Bakeries KL@0.95..0.95"}},
		{"legal form and brackets differ", "GARDENIA BAKERIES (KL) SDN. BHD.\nTOTAL 5.00", []string{"Gardenia Bakeries KL@0.95..0.95"}},
		{"one misread letter", "GARDEQIA BAKERIES (KL) SDN BHD\n", []string{"Gardenia Bakeries KL@0.85..0.95"}},
		{"digits OCR confuses with letters", "99 SPEED MART S/B\n", []string{"99 Speed Mart@0.95..0.95"}},
		{"misread beyond one in five letters", "GXRDEQIX BXKERIES\n", nil},
		{"name broken over two lines", "SANYU STATIONERY\nSHOP\nNO 31G", []string{"Sanyu Stationery Shop@0.95..0.95"}},
		{"short name as a word", "AEON CO. (M) BHD\nTAX INVOICE", []string{"AEON@0.95..0.95"}},
		{"short name inside a word", "PAEONY FLOWERS\nTAX INVOICE", nil},
		{"short name misread", "AEQN CO. (M) BHD", nil},
		{"an alias is not a name", "KEDAI RUNCIT AH SENG\nNO 1", nil},
		{"unrelated receipt", "SHELL STATION 1234\nDIESEL 40.00\nTOTAL 40.00", nil},
		{"below the header", strings.Repeat("ITEM 1.00\n", 25) + "GARDENIA BAKERIES KL", nil},
		{"two names: surest, then longest first", "SANYU STATI0NERY SH0P\n99 SPEED MART\nGARDEQIA BAKERIES", []string{"Sanyu Stationery Shop@0.95..0.95", "99 Speed Mart@0.95..0.95", "Gardenia Bakeries KL@0.75..0.9"}},
		{"empty text", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hits := n.Match(tt.text)
			if len(hits) != len(tt.want) {
				t.Fatalf("Match(%q) = %v, want %d hits %v", tt.text, hits, len(tt.want), tt.want)
			}
			for i, h := range hits {
				var lo, hi float64
				at := strings.LastIndex(tt.want[i], "@")
				value := tt.want[i][:at]
				if _, err := fmt.Sscanf(tt.want[i][at+1:], "%g..%g", &lo, &hi); err != nil {
					t.Fatal(err)
				}
				if h.Value != value || h.Confidence < lo || h.Confidence > hi {
					t.Errorf("hit %d = %s@%v, want %s", i, h.Value, h.Confidence, tt.want[i])
				}
				if h.Field != FieldMerchant || h.Kind != KindName || h.PatternID == "" {
					t.Errorf("hit %d = %+v: want a merchant name hit naming its pattern", i, h)
				}
			}
		})
	}
}

func TestNamesGuess(t *testing.T) {
	t.Parallel()
	n := NewNames(setOf(
		tp(FieldMerchant, "thank you for shopping", "Gardenia Bakeries KL", 0.7),
		tp(FieldMerchant, "member", "AEON", 0.6),
		tp(FieldMerchant, "big", "AEON Big Wangsa", 0.6),
	), FieldMerchant)
	tests := []struct {
		guess, want string
		lo, hi      float64
	}{
		{"GARDENIA BAKERIES (KL) SDN BHD", "Gardenia Bakeries KL", 0.95, 0.95},
		{"GARDEQIA BAKERIES (KL) SDN BHD", "Gardenia Bakeries KL", guessConf, 0.95},
		{"AEON CO. (M) BHD", "AEON", 0.95, 0.95},
		{"AEON BIG WANGSA", "AEON Big Wangsa", 0.95, 0.95},
		// the guess must be the name, not contain it
		{"GARDENIA BAKERIES KL OUTLET KEPONG TAMAN", "", 0, 0},
		{"PAEONY", "", 0, 0},
		{"", "", 0, 0},
	}
	for _, tt := range tests {
		h, ok := n.Guess(tt.guess)
		if tt.want == "" {
			if ok {
				t.Errorf("Guess(%q) = %+v, want none", tt.guess, h)
			}
			continue
		}
		if !ok || h.Value != tt.want || h.Confidence < tt.lo || h.Confidence > tt.hi {
			t.Errorf("Guess(%q) = %+v %v, want %s at %v..%v", tt.guess, h, ok, tt.want, tt.lo, tt.hi)
		}
	}
}

func TestNameKey(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"MR. D.I.Y. (M) SDN BHD", "mrdiy"},
		{"GARDENIA (KL (CENTRAL)) BAKERIES)", "gardeniabakeries"},
		{"99 SPEED MART S/B", "99speedmart"},
		{"99 Speed Mart S B", "99speedmart"},
		{"MR Diy M", "mrdiy"},
		{"A B", "ab"},
		{"Popular Book Co.", "popuiarbook"},
		{"  ", ""},
		{"CAFÉ MÜLLER GmbH", "cafémüiier"},
	} {
		if got := nameKey(tt.in); got != tt.want {
			t.Errorf("nameKey(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSimilarity(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, line string
		want       float64
	}{
		{"gardenia", "xxgardeniayy", 1},
		{"gardenia", "gardeqia", 0.875},
		{"gardenia", "gardnia", 0.875},
		{"abcd", "wxyz", 0},
		{"abc", "", 0},
	} {
		if got := similarity(tt.name, tt.line); got != tt.want {
			t.Errorf("similarity(%q, %q) = %v, want %v", tt.name, tt.line, got, tt.want)
		}
	}
}

func BenchmarkNames(b *testing.B) {
	// 5,000 merchants (a third of them "… Trading"), a 40-line receipt that
	// names one of them with a misread letter.
	rng := rand.New(rand.NewPCG(1, 2))
	name := func() string {
		var parts []string
		for range 2 + rng.IntN(2) {
			w := make([]byte, 4+rng.IntN(6))
			for i := range w {
				w[i] = byte('a' + rng.IntN(26))
			}
			parts = append(parts, string(w))
		}
		if rng.IntN(3) == 0 {
			parts = append(parts, "trading")
		}
		return strings.Join(parts, " ")
	}
	s := &Set{Version: "b", Patterns: map[string][]Pattern{}}
	var target string
	for i := range 5000 {
		v := name()
		if i == 4321 {
			target = v
		}
		s.Patterns[FieldMerchant] = append(s.Patterns[FieldMerchant], tp(FieldMerchant, fmt.Sprintf("phrase%d", i), v, 0.9))
	}
	n := NewNames(s, FieldMerchant)
	var sb strings.Builder
	misread := []byte(strings.ToUpper(target))
	misread[2] = 'Q'
	sb.WriteString(string(misread) + " SDN BHD\nNO 12 JALAN SATU\n")
	for i := range 38 {
		fmt.Fprintf(&sb, "ITEM %d %s %d.00\n", i, strings.ToUpper(name()), i)
	}
	text := sb.String()
	if hits := n.Match(text); len(hits) == 0 || hits[0].Value != target {
		b.Fatalf("hits %v, want %q first", hits, target)
	}
	// The baseline aligns every name with every line, as Names would
	// without its trigram index.
	var lineKeys []string
	for _, l := range strings.Split(text, "\n")[:nameLines] {
		lineKeys = append(lineKeys, nameKey(l))
	}
	var bare time.Duration
	b.Run("every-name", func(b *testing.B) {
		start := time.Now()
		for b.Loop() {
			for _, k := range lineKeys {
				for _, e := range n.entries {
					similarity(e.key, k)
				}
			}
		}
		bare = time.Since(start) / time.Duration(b.N)
	})
	b.Run("indexed", func(b *testing.B) {
		b.ReportAllocs()
		start := time.Now()
		for b.Loop() {
			n.Match(text)
		}
		if per := time.Since(start) / time.Duration(b.N); per > 0 && bare > 0 {
			b.ReportMetric(float64(bare)/float64(per), "x-faster-than-every-name")
		}
	})
}

package patternset

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// uniq returns a word no other call returns: letters only (a word with a
// digit never makes a phrase), never a stop word.
type uniq struct{ n int }

func (u *uniq) word() string {
	u.n++
	var b []byte
	for n := u.n; n > 0; n /= 26 {
		b = append(b, byte('a'+n%26))
	}
	return "zq" + string(b)
}

// words returns n fresh words.
func (u *uniq) words(n int) string {
	ws := make([]string, n)
	for i := range ws {
		ws[i] = u.word()
	}
	return strings.Join(ws, " ")
}

type poolBuilder struct {
	u   uniq
	ex  []Example
	at  time.Time
	seq int
}

func newPool() *poolBuilder { return &poolBuilder{at: synthBase} }

// add appends n receipts corrected to merchant (and category when not
// ""), each made of lines in which "~" is replaced by fresh words.
func (p *poolBuilder) add(n int, merchant, category string, lines ...string) *poolBuilder {
	for range n {
		p.seq++
		var b strings.Builder
		b.WriteString(p.u.words(2) + "\n")
		for _, l := range lines {
			for strings.Contains(l, "~") {
				l = strings.Replace(l, "~", p.u.word(), 1)
			}
			b.WriteString(l + "\n")
		}
		fmt.Fprintf(&b, "TOTAL %d.%02d\n%s\n", p.seq, p.seq%100, p.u.words(2))
		corrected := map[string]string{FieldMerchant: merchant}
		if category != "" {
			corrected[FieldCategory] = category
		}
		p.ex = append(p.ex, Example{
			ID:        fmt.Sprintf("p-%05d", p.seq),
			Text:      b.String(),
			Corrected: corrected,
			Quality:   1,
			At:        p.at.Add(-time.Duration(p.seq) * time.Hour),
		})
	}
	return p
}

func textPatterns(s *Set, field, value string) []Pattern {
	var out []Pattern
	for _, p := range s.Patterns[field] {
		if p.Kind == KindText && p.CorrectedValue == value {
			out = append(out, p)
		}
	}
	return out
}

func findPhrase(s *Set, field, value, phrase string) (Pattern, bool) {
	for _, p := range textPatterns(s, field, value) {
		if slices.Contains(p.Phrases, phrase) {
			return p, true
		}
	}
	return Pattern{}, false
}

// The issue's "done when": merchant X's receipts always contain "TRIP
// WITH" and were corrected to X at least three times → a pattern that maps
// new receipts of X to X, whose confidence drops when other merchants'
// receipts contain the phrase too.
func TestLearnTripWith(t *testing.T) {
	t.Parallel()
	base := func() *poolBuilder {
		return newPool().
			add(5, "RideCo", "", "TRIP WITH ~", "~ ~ ~").
			// Other merchants say "trip", but not "trip with": so "trip"
			// alone is not precise and the two-word phrase wins.
			add(5, "AirCo", "", "ROUND TRIP FARE ~", "~ ~").
			add(4, "ShopCo", "", "~ ~ ~", "~")
	}
	newReceipt := "Thanks for riding!\nYour trip with MARIA on 12/03/2026\nTOTAL 23.10"

	s := Learn(base().ex, Options{})
	p, ok := findPhrase(s, FieldMerchant, "RideCo", "trip with")
	if !ok {
		t.Fatalf("no \"trip with\" → RideCo pattern; got %+v", textPatterns(s, FieldMerchant, "RideCo"))
	}
	if p.Pattern != `(?i)\btrip\W+with\b` || p.Frequency != 5 || p.Matched != 5 || p.Confidence != round4(6.0/7) {
		t.Errorf("pattern = %+v", p)
	}
	if _, ok := findPhrase(s, FieldMerchant, "RideCo", "trip"); ok {
		t.Error(`"trip" alone learned although AirCo's receipts have it too`)
	}
	m, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	best := Best(m.Match(newReceipt))[FieldMerchant]
	if best.Value != "RideCo" || best.PatternID != p.ID || best.Evidence != "trip with" {
		t.Errorf("new receipt: best merchant hit = %+v, want RideCo via %s", best, p.ID)
	}

	// Other merchants' receipts with the phrase lower the confidence:
	// (5+1)/(5+k+2) with k of them.
	prev := 1.0
	for _, k := range []int{0, 1, 2, 4, 8} {
		pool := base()
		for i := range k {
			pool.add(1, fmt.Sprintf("BusCo %d", i), "", "PLAN A TRIP WITH US ~")
		}
		s := Learn(pool.ex, Options{MinConfidence: -1})
		p, ok := findPhrase(s, FieldMerchant, "RideCo", "trip with")
		if !ok {
			t.Fatalf("k=%d: no pattern with MinConfidence < 0", k)
		}
		want := round4(6.0 / float64(7+k))
		if p.Confidence != want || p.Matched != 5+k || p.Frequency != 5 {
			t.Errorf("k=%d: confidence %v (%d/%d), want %v", k, p.Confidence, p.Frequency, p.Matched, want)
		}
		if p.Confidence >= prev {
			t.Errorf("k=%d: confidence %v did not drop below %v", k, p.Confidence, prev)
		}
		prev = p.Confidence

		// With the default threshold (0.6) the phrase stops being a
		// pattern once it is no longer precise enough.
		s = Learn(pool.ex, Options{})
		_, kept := findPhrase(s, FieldMerchant, "RideCo", "trip with")
		if wantKept := confidence(5, 5+k) >= defaultMinConfidence; kept != wantKept {
			t.Errorf("k=%d: kept = %v, want %v", k, kept, wantKept)
		}
	}
}

// When the phrase gets imprecise, a longer one that only X prints takes
// over: precision, not frequency, picks phrases.
func TestLearnPrefersPrecisePhrase(t *testing.T) {
	t.Parallel()
	pool := newPool().
		add(6, "RideCo", "", "YOUR TRIP WITH ~").
		add(6, "BusCo", "", "BOOK A TRIP WITH US ~")
	s := Learn(pool.ex, Options{MinConfidence: -1, MaxPhrasesPerValue: 1})
	got := textPatterns(s, FieldMerchant, "RideCo")
	if len(got) != 1 || !slices.Equal(got[0].Phrases, []string{"your trip"}) {
		t.Fatalf("RideCo phrases = %+v, want [your trip]", got)
	}
	if got[0].Confidence != round4(7.0/8) {
		t.Errorf("confidence = %v", got[0].Confidence)
	}
}

func TestLearnMinFrequency(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n, minFrequency int
		want            bool
	}{
		{n: 2, want: false},
		{n: 3, want: true},
		{n: 3, minFrequency: 4, want: false},
		{n: 4, minFrequency: 4, want: true},
		{n: 1, minFrequency: 1, want: true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("n=%d,min=%d", tt.n, tt.minFrequency), func(t *testing.T) {
			t.Parallel()
			pool := newPool().add(tt.n, "Tiny", "", "TINY XYZZY EMPORIUM ~").add(6, "Other", "", "~ ~")
			s := Learn(pool.ex, Options{MinFrequency: tt.minFrequency})
			got := len(textPatterns(s, FieldMerchant, "Tiny")) > 0
			if got != tt.want {
				t.Errorf("learned = %v, want %v (%+v)", got, tt.want, s.Patterns)
			}
			if s.Stats.Params.MinFrequency != max(tt.minFrequency, defaultMinFrequency*boolInt(tt.minFrequency == 0)) {
				t.Errorf("Params.MinFrequency = %d", s.Stats.Params.MinFrequency)
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestLearnGreedyCover(t *testing.T) {
	t.Parallel()
	// Half of Acme's receipts print the name, half only the slogan: one
	// phrase cannot cover them, so both are kept; the redundant longer
	// "acme widgets ltd" adds nothing and is not.
	pool := newPool().
		add(6, "Acme", "", "ACME WIDGETS LTD ~").
		add(6, "Acme", "", "BEST BOLTS IN TOWN ~").
		add(10, "Other", "", "~ ~ ~")
	s := Learn(pool.ex, Options{})
	var phrases []string
	for _, p := range textPatterns(s, FieldMerchant, "Acme") {
		phrases = append(phrases, p.Phrases...)
	}
	// Single words are precise here and fewer words win ties; "bolts"
	// and "town"/"best" are disjoint backups, up to five phrases.
	if len(phrases) == 0 || len(phrases) > defaultMaxPhrases {
		t.Fatalf("phrases = %q", phrases)
	}
	covers := func(text string) bool {
		for _, ph := range phrases {
			if slices.Contains(phraseWindows(Tokens(text)), ph) {
				return true
			}
		}
		return false
	}
	if !covers("ACME WIDGETS LTD") || !covers("BEST BOLTS IN TOWN") {
		t.Errorf("phrases %q do not cover both kinds of receipt", phrases)
	}
	for _, ph := range phrases {
		if strings.Count(ph, " ") > 0 && slices.ContainsFunc(phrases, func(o string) bool {
			return o != ph && strings.Contains(" "+ph+" ", " "+o+" ")
		}) {
			t.Errorf("%q kept next to a phrase inside it", ph)
		}
	}
}

// phraseWindows returns every 1–4 word window of toks, joined.
func phraseWindows(toks []string) []string {
	var out []string
	for i := range toks {
		for n := 1; n <= 4 && i+n <= len(toks); n++ {
			out = append(out, strings.Join(toks[i:i+n], " "))
		}
	}
	return out
}

func TestLearnSkipsNumbersAndStopWords(t *testing.T) {
	t.Parallel()
	pool := newPool().
		add(5, "Numbers", "", "TOTAL CASH TAX DATE 12/03/2026 12.50", "THANK YOU", "TEL 0312345678").
		add(5, "Other", "", "~ ~")
	s := Learn(pool.ex, Options{MinConfidence: -1})
	for _, p := range textPatterns(s, FieldMerchant, "Numbers") {
		t.Errorf("learned %q from numbers and stop words", p.Phrases)
	}
}

func TestLearnAliases(t *testing.T) {
	t.Parallel()
	var ex []Example
	add := func(n int, orig, corrected string) {
		for range n {
			ex = append(ex, Example{ID: fmt.Sprintf("a%03d", len(ex)), Text: "x",
				Original:  map[string]string{FieldMerchant: orig},
				Corrected: map[string]string{FieldMerchant: corrected}, At: synthBase})
		}
	}
	add(3, "UBFR", "Uber")
	add(1, "ubfr ", "Uber")
	add(3, "Uber Eats", "Uber")      // but usually right: 3 of 8
	add(5, "Uber Eats", "Uber Eats") //
	add(3, "STARBUCKS #123", "Starbucks")
	add(2, "LYTF", "Lyft")
	add(3, "", "Lyft")
	add(3, "RIDEC0 SDN", "RideCo") // a letter read as a digit is kept
	s := Learn(ex, Options{Fields: []string{}})

	var got []string
	for _, p := range s.Patterns[FieldMerchant] {
		if p.Kind != KindAlias {
			t.Errorf("unexpected %s pattern %+v", p.Kind, p)
			continue
		}
		got = append(got, fmt.Sprintf("%s→%s %v %d/%d", p.Pattern, p.CorrectedValue, p.Confidence, p.Frequency, p.Matched))
	}
	want := []string{"RIDEC0 SDN→RideCo 0.8 3/3", "UBFR→Uber 0.8333 4/4"}
	if !slices.Equal(got, want) {
		t.Errorf("aliases = %q, want %q", got, want)
	}

	// With no threshold the usually-right original shows up, with its low
	// precision.
	s = Learn(ex, Options{Fields: []string{}, MinConfidence: -1})
	var low []string
	for _, p := range s.Patterns[FieldMerchant] {
		low = append(low, fmt.Sprintf("%s→%s %v", p.Pattern, p.CorrectedValue, p.Confidence))
	}
	if want := []string{"RIDEC0 SDN→RideCo 0.8", "UBFR→Uber 0.8333", "Uber Eats→Uber 0.4"}; !slices.Equal(low, want) {
		t.Errorf("aliases without threshold = %q, want %q", low, want)
	}

	m, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	best := Best(m.MatchWithOriginal("", map[string]string{FieldMerchant: "Ubfr"}))[FieldMerchant]
	if best.Value != "Uber" || best.Kind != KindAlias || best.Evidence != "Ubfr" {
		t.Errorf("alias hit = %+v", best)
	}
	if hits := m.MatchWithOriginal("", map[string]string{FieldMerchant: "OTHER SDN"}); len(hits) != 0 {
		t.Errorf("alias fired for another original: %+v", hits)
	}
}

func TestLearnMerchantCategory(t *testing.T) {
	t.Parallel()
	pool := newPool().
		add(5, "Uber", "Transport", "UBER TECHNOLOGIES ~").
		add(1, "Uber", "Meals", "UBER TECHNOLOGIES ~").
		add(2, "Lyft", "Transport", "~").
		add(4, "Cafe Uno", "Meals", "~")
	s := Learn(pool.ex, Options{Fields: []string{}, AliasFields: []string{}})
	var got []string
	for _, p := range s.Patterns[FieldCategory] {
		got = append(got, fmt.Sprintf("%s %s→%s %v %d/%d", p.Kind, p.Pattern, p.CorrectedValue, p.Confidence, p.Frequency, p.Matched))
	}
	want := []string{
		"category Cafe Uno→Meals 0.8333 4/4",
		"category Uber→Transport 0.75 5/6",
	}
	if !slices.Equal(got, want) {
		t.Errorf("merchant → category = %q, want %q", got, want)
	}
	if s := Learn(pool.ex, Options{Fields: []string{}, AliasFields: []string{}, NoMerchantCategory: true}); s.Count() != 0 {
		t.Errorf("NoMerchantCategory: %d patterns", s.Count())
	}

	// Applied: to the merchant found in the text (confidences multiply),
	// else to the caller's original merchant.
	s = Learn(pool.ex, Options{Fields: []string{FieldMerchant}, AliasFields: []string{}})
	m, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	best := Best(m.Match("Uber Technologies Inc\nTrip 12.00"))
	mh, ch := best[FieldMerchant], best[FieldCategory]
	if mh.Value != "Uber" || ch.Value != "Transport" || ch.Kind != KindCategory || ch.Evidence != "Uber" {
		t.Fatalf("best = %+v", best)
	}
	if want := round4(mh.Confidence * 0.75); ch.Confidence != want {
		t.Errorf("category confidence %v, want %v", ch.Confidence, want)
	}
	best = Best(m.MatchWithOriginal("nothing known here", map[string]string{FieldMerchant: "CAFE UNO 0042"}))
	if ch := best[FieldCategory]; ch.Value != "Meals" || ch.Confidence != 0.8333 {
		t.Errorf("from original merchant: %+v", ch)
	}
}

func TestLearnFilters(t *testing.T) {
	t.Parallel()
	pool := newPool().add(3, "Recent", "", "RECENT SHOP ~").add(3, "Other", "", "~")
	old := newPool()
	old.at = synthBase.Add(-200 * 24 * time.Hour)
	old.u.n = 10000
	old.add(3, "Ancient", "", "ANCIENT SHOP ~")
	low := newPool()
	low.u.n = 20000
	low.seq = 500
	low.add(3, "Sloppy", "", "SLOPPY SHOP ~")
	for i := range low.ex {
		low.ex[i].Quality = 0.2
	}
	ex := slices.Concat(pool.ex, old.ex, low.ex)

	s := Learn(ex, Options{MinQuality: 0.5})
	if len(textPatterns(s, FieldMerchant, "Recent")) == 0 {
		t.Error("recent merchant not learned")
	}
	if len(textPatterns(s, FieldMerchant, "Ancient")) != 0 {
		t.Error("examples older than the window were used")
	}
	if len(textPatterns(s, FieldMerchant, "Sloppy")) != 0 {
		t.Error("low-quality examples were used")
	}
	if s.Stats.Examples != 12 || s.Stats.Used != 6 {
		t.Errorf("stats examples/used = %d/%d", s.Stats.Examples, s.Stats.Used)
	}
	if !s.Stats.WindowEnd.Equal(pool.ex[0].At) || s.Stats.WindowStart.After(s.Stats.WindowEnd) {
		t.Errorf("window %v – %v", s.Stats.WindowStart, s.Stats.WindowEnd)
	}
	// No window: the ancient merchant is back.
	if s := Learn(ex, Options{Window: -1}); len(textPatterns(s, FieldMerchant, "Ancient")) == 0 {
		t.Error("Window < 0 still filtered")
	}
}

func TestLearnNeverLearnsCardNumbers(t *testing.T) {
	t.Parallel()
	pool := newPool().add(5, "Shop", "", "CARD HOLDER JANE DOE ~")
	for i := range pool.ex {
		pool.ex[i].Corrected[FieldCardLastFour] = "4242"
		pool.ex[i].Original = map[string]string{FieldCardLastFour: "4244"}
	}
	s := Learn(pool.ex, Options{
		Fields:      []string{FieldMerchant, FieldCardLastFour},
		AliasFields: []string{FieldCardLastFour},
	})
	if len(s.Patterns[FieldCardLastFour]) != 0 {
		t.Errorf("card_last_four patterns: %+v", s.Patterns[FieldCardLastFour])
	}
	if !slices.Equal(s.Stats.SkippedFields, []string{FieldCardLastFour}) {
		t.Errorf("SkippedFields = %q", s.Stats.SkippedFields)
	}
}

func TestLearnPhraseShare(t *testing.T) {
	t.Parallel()
	// A big merchant whose receipts name one of many drivers: a driver on
	// 4 of 600 receipts is below 1 % and is not learned, however precise.
	pool := newPool()
	for range 150 {
		driver := strings.ToUpper(pool.u.word()) // one name on 4 receipts
		pool.add(4, "RideCo", "", "RIDE WITH DRIVER "+driver+" ~")
	}
	pool.add(10, "Other", "", "~ ~")
	s := Learn(pool.ex, Options{})
	for _, p := range textPatterns(s, FieldMerchant, "RideCo") {
		if p.Frequency < 6 {
			t.Errorf("phrase %q on %d of 600 receipts learned", p.Phrases, p.Frequency)
		}
	}
	if len(textPatterns(s, FieldMerchant, "RideCo")) == 0 {
		t.Error("the common phrase was not learned")
	}
	if s := Learn(pool.ex, Options{MinPhraseShare: -1, MaxPhrasesPerValue: 100}); len(textPatterns(s, FieldMerchant, "RideCo")) < 10 {
		t.Error("MinPhraseShare < 0 should let the drivers through")
	}
}

func synthExamples(seed uint64, merchants, n int) []Example {
	r := rand.New(rand.NewPCG(seed, 99))
	w := newSynthWorld(r, merchants, 8, 300)
	return w.pool(r, n, 600)
}

func TestLearnDeterministic(t *testing.T) {
	t.Parallel()
	ex := synthExamples(3, 40, 800)
	ref := Learn(ex, Options{Version: "v1", Workers: 1})
	refJSON, _ := json.Marshal(ref)
	if ref.Count() == 0 {
		t.Fatal("nothing learned")
	}
	r := rand.New(rand.NewPCG(5, 5))
	for _, workers := range []int{1, 2, 7} {
		shuffled := slices.Clone(ex)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		got := Learn(shuffled, Options{Version: "v1", Workers: workers})
		gotJSON, _ := json.Marshal(got)
		if string(gotJSON) != string(refJSON) {
			t.Errorf("workers=%d, shuffled input: different set", workers)
		}
		if got.Hash() != ref.Hash() {
			t.Errorf("workers=%d: hash %s != %s", workers, got.Hash(), ref.Hash())
		}
	}
	// IDs are stable and unique.
	ids := make(map[string]bool)
	for _, p := range ref.All() {
		if p.ID != PatternID(p) || ids[p.ID] {
			t.Errorf("pattern %+v: bad or duplicate ID", p)
		}
		ids[p.ID] = true
	}
}

func TestHashStability(t *testing.T) {
	t.Parallel()
	ex := synthExamples(4, 30, 500)
	latest := ex[0].At
	for _, e := range ex {
		if e.At.After(latest) {
			latest = e.At
		}
	}
	a := Learn(ex, Options{Version: "v1"})
	tests := []struct {
		name string
		set  *Set
		same bool
	}{
		{"another version name, later refresh", Learn(ex, Options{Version: "v2", Now: latest.Add(36 * time.Hour)}), true},
		{"same input", Learn(ex, Options{Version: "v1"}), true},
		{"a new correction", Learn(append(slices.Clone(ex), Example{ID: "new", Text: ex[0].Text, Corrected: ex[0].Corrected, At: latest}), Options{}), false},
		{"a stricter threshold", Learn(ex, Options{MinConfidence: 0.97}), false},
	}
	for _, tt := range tests {
		if got := tt.set.Hash() == a.Hash(); got != tt.same {
			t.Errorf("%s: same hash = %v, want %v", tt.name, got, tt.same)
		}
	}
	// last_seen and as_of are not content.
	b := Learn(ex, Options{})
	for f := range b.Patterns {
		for i := range b.Patterns[f] {
			b.Patterns[f][i].LastSeen = time.Time{}
		}
	}
	b.AsOf = time.Now()
	if b.Hash() != a.Hash() {
		t.Error("hash depends on last_seen or as_of")
	}
	var empty *Set
	if empty.Hash() != (&Set{}).Hash() {
		t.Error("nil and empty sets hash differently")
	}
}

func TestSetJSONRoundTrip(t *testing.T) {
	t.Parallel()
	s := Learn(synthExamples(6, 20, 300), Options{Version: "v7"})
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s, back) {
		t.Errorf("round trip changed the set:\n%s\n%s", data, must(json.Marshal(back)))
	}
	if back.Hash() != s.Hash() {
		t.Error("round trip changed the hash")
	}
	// The architecture document's shape.
	var raw struct {
		Patterns map[string][]map[string]any `json:"patterns"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"pattern", "corrected_value", "confidence", "frequency", "last_seen"} {
		if _, ok := raw.Patterns[FieldMerchant][0][key]; !ok {
			t.Errorf("pattern JSON lacks %q", key)
		}
	}
	if _, err := Parse([]byte(`{"patterns":{"merchant":[{"kind":"nope"}]}}`)); err == nil {
		t.Error("Parse accepted an invalid set")
	}
	if _, err := Parse([]byte(`{`)); err == nil {
		t.Error("Parse accepted bad JSON")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestLearnEmpty(t *testing.T) {
	t.Parallel()
	for _, ex := range [][]Example{nil, {{ID: "x"}}, {{ID: "y", Text: "only text"}}} {
		s := Learn(ex, Options{})
		if s.Count() != 0 || s.Patterns == nil {
			t.Errorf("Learn(%v) = %+v", ex, s)
		}
		if _, err := Compile(s); err != nil {
			t.Errorf("Compile(empty): %v", err)
		}
	}
}

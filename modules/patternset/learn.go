package patternset

import (
	"cmp"
	"math"
	"math/bits"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Example is one non-outlier correction as learning sees it, already
// normalised and PII-masked by the data pool.
type Example struct {
	// ID identifies the correction; Split hashes it.
	ID string
	// Text is the OCR text of the receipt.
	Text string
	// Original holds the values the OCR inference produced (may be "").
	Original map[string]string
	// Corrected holds the normalised values the user confirmed, by field
	// ("merchant", "category", "amount", "date", …). A field that is absent
	// or "" is unknown: the example does not count for that field at all,
	// neither as evidence for a value nor against one. When the data pool
	// knows the fields the user left untouched, it should put them here too
	// (with the inferred value), so precision is measured on every receipt
	// and not only on the ones where OCR was wrong.
	Corrected map[string]string
	// Quality is the data pool's quality score; see Options.MinQuality.
	Quality float64
	// At is when the correction was made; see Options.Window.
	At time.Time
}

// Options tune Learn. The zero value means the defaults.
type Options struct {
	// Fields get text patterns. nil means merchant and category; an empty,
	// non-nil slice means none. card_last_four is never learned.
	Fields []string
	// AliasFields get aliases (wrong original value → corrected value). nil
	// means merchant and category; an empty, non-nil slice means none.
	AliasFields []string
	// CategoryField is the field merchant → category patterns predict
	// (default "category"); NoMerchantCategory turns them off.
	CategoryField      string
	NoMerchantCategory bool
	// MinFrequency is how often a (field, value) — and each phrase, alias
	// or merchant → category pair for it — must be seen (default 3).
	MinFrequency int
	// MinConfidence drops patterns whose smoothed precision is lower
	// (default 0.6; negative keeps every pattern).
	MinConfidence float64
	// MaxPhrasesPerValue bounds the text patterns per (field, value)
	// (default 5); MaxAliasesPerValue the aliases (default 20).
	MaxPhrasesPerValue int
	MaxAliasesPerValue int
	// MinPhraseShare is the share of a value's examples a phrase must occur
	// in, on top of MinFrequency (default 0.01; negative: none).
	MinPhraseShare float64
	// MaxWords is the longest phrase in words (default and maximum 4).
	MaxWords int
	// MinQuality ignores examples with a lower Quality (default 0: none).
	MinQuality float64
	// Window keeps the examples with At in (Now-Window, Now] (default 90
	// days; negative: no window). Examples with a zero At are kept.
	Window time.Duration
	// Now ends the window. Zero means the latest At among the examples, so
	// Learn never reads the clock and the same input gives the same set.
	Now time.Time
	// StopWords are added to DefaultStopWords (see there).
	StopWords []string
	// MaxTokens caps the tokens read per text (default 2000), so one huge
	// text cannot dominate the cost.
	MaxTokens int
	// Version is copied to Set.Version.
	Version string
	// Workers is how many goroutines learn text patterns (default
	// GOMAXPROCS). The result does not depend on it.
	Workers int
}

const (
	defaultMinFrequency   = 3
	defaultMinConfidence  = 0.6
	defaultMaxPhrases     = 5
	defaultMinPhraseShare = 0.01
	defaultMaxAliases     = 20
	maxWordsLimit         = 4
	defaultMaxTokens      = 2000
	defaultWindow         = 90 * 24 * time.Hour
	// candidateCap bounds, per value, the phrases whose precision is
	// measured on the whole pool: the ones with the most support win. It
	// only bites on values with thousands of receipts (a category); a
	// merchant's receipts rarely share more than a few dozen phrases.
	candidatesPerPhrase = 64
	// rankedPerPhrase: the best-ranked candidates per slot that the greedy
	// cover looks at.
	rankedPerPhrase = 8
)

// DefaultOptions returns the options Learn uses for a zero Options.
func DefaultOptions() Options {
	return Options{}.withDefaults()
}

func (o Options) withDefaults() Options {
	if o.Fields == nil {
		o.Fields = []string{FieldMerchant, FieldCategory}
	}
	if o.AliasFields == nil {
		o.AliasFields = []string{FieldMerchant, FieldCategory}
	}
	if o.CategoryField == "" {
		o.CategoryField = FieldCategory
	}
	if o.MinFrequency <= 0 {
		o.MinFrequency = defaultMinFrequency
	}
	if o.MinConfidence == 0 {
		o.MinConfidence = defaultMinConfidence
	}
	if o.MinPhraseShare == 0 {
		o.MinPhraseShare = defaultMinPhraseShare
	}
	if o.MaxPhrasesPerValue <= 0 {
		o.MaxPhrasesPerValue = defaultMaxPhrases
	}
	if o.MaxAliasesPerValue <= 0 {
		o.MaxAliasesPerValue = defaultMaxAliases
	}
	if o.MaxWords <= 0 || o.MaxWords > maxWordsLimit {
		o.MaxWords = maxWordsLimit
	}
	if o.Window == 0 {
		o.Window = defaultWindow
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.MaxTokens <= 0 {
		o.MaxTokens = defaultMaxTokens
	}
	return o
}

// confidence is the smoothed precision of a pattern that matched n examples
// with a known value, tp of which had the pattern's value: Laplace's rule of
// succession, (tp+1)/(n+2), the mean of the precision's posterior under a
// uniform prior. 3 of 3 gives 0.8, 10 of 10 0.917, 47 of 47 0.98, 47 of 60
// 0.774; it is never 0 or 1, and more evidence moves it towards tp/n.
func confidence(tp, n int) float64 {
	return float64(tp+1) / float64(n+2)
}

func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }

// Learn builds a pattern set from examples (see the package documentation
// and docs/PATTERNS.md for the method). It is deterministic: the same
// examples and options, in any order, give the same set with the same Hash.
// Every text is read: learning is exact. For a pool too large to hold, see
// LearnPool.
func Learn(examples []Example, opts Options) *Set {
	o := opts.withDefaults()

	// Window and quality filters.
	end := o.Now
	if end.IsZero() {
		for i := range examples {
			if examples[i].At.After(end) {
				end = examples[i].At
			}
		}
	}
	var start time.Time
	if o.Window > 0 && !end.IsZero() {
		start = end.Add(-o.Window)
	}
	used := make([]*Example, 0, len(examples))
	for i := range examples {
		e := &examples[i]
		if o.MinQuality > 0 && e.Quality < o.MinQuality {
			continue
		}
		if !e.At.IsZero() && (!start.IsZero() && !e.At.After(start) || !end.IsZero() && e.At.After(end)) {
			continue
		}
		used = append(used, e)
	}
	groups := make([]Group, len(used))
	for i, e := range used {
		groups[i] = Group{Original: e.Original, Corrected: e.Corrected, Count: 1, First: e.At, Last: e.At}
	}
	return learn(o, end, len(examples), groups, used, Sampling{})
}

// Group is examples that agree on their original and corrected values,
// without their texts. Everything learning counts except phrases — how many
// examples each value has, aliases, merchant → category — comes from
// groups, which a database computes with one GROUP BY.
type Group struct {
	Original  map[string]string
	Corrected map[string]string
	// Count is the number of examples; First and Last bound their At.
	Count       int
	First, Last time.Time
}

// Pool is a pool of examples too large to read whole: exact counts by
// group, and a bounded sample of the texts.
type Pool struct {
	// Groups cover every example of the pool, already filtered (window,
	// quality, outliers, held-out slice): LearnPool does not filter them.
	Groups []Group
	// Texts are examples with their OCR text, each also counted in Groups.
	// They must include every example Sampling selects; others are
	// ignored. Their Quality is not used.
	Texts []Example
	// Sampling is how Texts were drawn; the zero value means they are all
	// of the pool's examples.
	Sampling Sampling
}

// LearnPool builds a pattern set from a pool given as counts and sampled
// texts. Aliases and merchant → category are exact (they only need
// counts); text patterns are learned from samples: each (field, value)'s
// candidates and support from its own sample (about Sampling.PerValue of its
// examples, all of them when it has fewer), and each candidate's precision
// from a uniform sample of the pool (about Sampling.Pool examples), scaled
// to the pool's counts. It is deterministic: the samples are chosen by
// SampleKey, not at random. With the pool's every example as one group each
// and all their texts, it gives exactly what Learn gives.
func LearnPool(p Pool, opts Options) *Set {
	o := opts.withDefaults()
	end := o.Now
	if end.IsZero() {
		for _, g := range p.Groups {
			if g.Last.After(end) {
				end = g.Last
			}
		}
	}
	texts := make([]*Example, len(p.Texts))
	for i := range p.Texts {
		texts[i] = &p.Texts[i]
	}
	n := 0
	for _, g := range p.Groups {
		n += g.Count
	}
	return learn(o, end, n, p.Groups, texts, p.Sampling)
}

// learn is Learn and LearnPool after filtering: groups are the pool, texts
// its (sampled) examples with their text.
func learn(o Options, end time.Time, examples int, groups []Group, texts []*Example, smp Sampling) *Set {
	// Learn must not depend on the order of its input. The data pool's IDs
	// are unique, which makes this order total there; an unstable sort is
	// a tenth of a second faster than a stable one at 60,000 texts.
	slices.SortFunc(texts, func(a, b *Example) int {
		if c := strings.Compare(a.ID, b.ID); c != 0 {
			return c
		}
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return strings.Compare(a.Text, b.Text)
	})
	var first, last time.Time
	used := 0
	for _, g := range groups {
		used += g.Count
		if !g.First.IsZero() && (first.IsZero() || g.First.Before(first)) {
			first = g.First
		}
		if g.Last.After(last) {
			last = g.Last
		}
	}

	var skipped []string
	textFields := learnable(o.Fields, &skipped)
	aliasFields := learnable(o.AliasFields, &skipped)
	slices.Sort(skipped)
	skipped = slices.Compact(skipped)

	s := &Set{
		Version:  o.Version,
		AsOf:     utc(end),
		Patterns: make(map[string][]Pattern),
	}
	add := func(p Pattern) {
		p.Confidence = round4(p.Confidence)
		p.LastSeen = utc(p.LastSeen)
		p.ID = PatternID(p)
		s.Patterns[p.Field] = append(s.Patterns[p.Field], p)
	}

	merchantCategory := false
	switch {
	case o.NoMerchantCategory || o.CategoryField == FieldMerchant:
	case o.CategoryField == FieldCardLastFour:
		skipped = append(skipped, FieldCardLastFour)
		skipped = slices.Compact(skipped)
	default:
		merchantCategory = true
	}
	// Aliases and merchant → category need only the counts: they are
	// learned beside the text patterns, which take most of the time, and
	// added after them (sortPatterns fixes the order).
	var counted []Pattern
	var wg sync.WaitGroup
	wg.Go(func() {
		collect := func(p Pattern) { counted = append(counted, p) }
		for _, f := range aliasFields {
			learnAliases(o, groups, f, collect)
		}
		if merchantCategory {
			learnMerchantCategory(o, groups, collect)
		}
	})
	if len(textFields) > 0 {
		l := newLearner(o, texts, textFields)
		l.learnText(groups, used, smp, add)
	}
	wg.Wait()
	for _, p := range counted {
		add(p)
	}
	s.sortPatterns()

	byKind := make(map[string]int)
	for _, ps := range s.Patterns {
		for _, p := range ps {
			byKind[p.Kind]++
		}
	}
	window := 0.0
	if o.Window > 0 {
		window = o.Window.Hours() / 24
	}
	categoryField := o.CategoryField
	if o.NoMerchantCategory || o.CategoryField == FieldMerchant || o.CategoryField == FieldCardLastFour {
		categoryField = ""
	}
	var sampling *Sampling
	if smp != (Sampling{}) {
		sampling = &smp
	}
	s.Stats = Stats{
		Examples:      examples,
		Used:          used,
		Texts:         len(texts),
		WindowStart:   utc(first),
		WindowEnd:     utc(last),
		PatternCount:  s.Count(),
		AvgConfidence: s.AvgConfidence(),
		ByKind:        byKind,
		SkippedFields: skipped,
		Params: Params{
			Fields:             textFields,
			AliasFields:        aliasFields,
			CategoryField:      categoryField,
			MinFrequency:       o.MinFrequency,
			MinConfidence:      o.MinConfidence,
			MinPhraseShare:     o.MinPhraseShare,
			MaxPhrasesPerValue: o.MaxPhrasesPerValue,
			MaxAliasesPerValue: o.MaxAliasesPerValue,
			MaxWords:           o.MaxWords,
			MaxTokens:          o.MaxTokens,
			StopWords:          slices.Clone(o.StopWords),
			MinQuality:         o.MinQuality,
			WindowDays:         window,
			Sampling:           sampling,
		},
	}
	return s
}

// learnable drops duplicates, empty names and card_last_four.
func learnable(fields []string, skipped *[]string) []string {
	out := make([]string, 0, len(fields))
	for _, f := range fields {
		f = strings.TrimSpace(f)
		switch {
		case f == "":
		case f == FieldCardLastFour:
			*skipped = append(*skipped, f)
		case !slices.Contains(out, f):
			out = append(out, f)
		}
	}
	return out
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

func truth(e *Example, field string) string {
	return strings.TrimSpace(e.Corrected[field])
}

func groupTruth(g *Group, field string) string {
	return strings.TrimSpace(g.Corrected[field])
}

// ---------------------------------------------------------------------------
// Text patterns.

// gram is a phrase as token IDs, unused slots zero (IDs start at 1).
type gram [maxWordsLimit]uint32

type learner struct {
	o      Options
	ex     []*Example
	fields []string

	// Every example's tokens, as IDs into words; 0 marks a token that can
	// never be part of a phrase (it is numeric) and so breaks phrases.
	toks    []uint32
	off     []int
	vocab   map[string]uint32
	words   []string
	content []bool // a word that can carry a phrase on its own

	// uniform[i]: l.ex[i] is in the pool's uniform sample; scale: see
	// learnText.
	uniform []bool
	scale   []float64
}

// scratch is one worker's memory, sized to the vocabulary: mark[id] ==
// stamp selects the tokens a pass looks at; count and last count words.
type scratch struct {
	mark  []uint32
	stamp uint32
	count []int32
	last  []int32
	// df and dfLast: this worker's share of pass 2.
	df, dfLast []int32
	// grams and counters: the phrases of one value, and their counts.
	grams    gramIndex
	counters []gramCounter
}

// gramCounter counts a phrase over a value's examples: in how many (n),
// how many of those are in the uniform sample (u), and the last example
// that counted it (1-based).
type gramCounter struct{ n, u, last int32 }

// gramHash mixes a gram's token IDs into 64 well-spread bits.
func gramHash(g gram) uint64 {
	h := uint64(g[0])*0x9e3779b97f4a7c15 ^ uint64(g[1])*0xc2b2ae3d27d4eb4f ^
		uint64(g[2])*0x165667b19e3779f9 ^ uint64(g[3])*0xd6e8feb86659fd93
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 32
	return h
}

func (l *learner) newScratch() *scratch {
	n := len(l.words)
	return &scratch{mark: make([]uint32, n), count: make([]int32, n), last: make([]int32, n)}
}

// next starts a new selection of tokens.
func (sc *scratch) next() uint32 {
	sc.stamp++
	if sc.stamp == 0 { // wrapped: clear and start again
		clear(sc.mark)
		sc.stamp = 1
	}
	return sc.stamp
}

func newLearner(o Options, ex []*Example, fields []string) *learner {
	l := &learner{o: o, ex: ex, fields: fields, vocab: make(map[string]uint32), words: []string{""}, content: []bool{false}}
	stop := make(map[string]bool, len(defaultStopWords)+len(o.StopWords))
	for _, w := range defaultStopWords {
		stop[w] = true
	}
	for _, w := range o.StopWords {
		if c := CanonicalPhrase(w); c != "" {
			stop[c] = true
		}
	}
	// Tokenise slices of the texts in parallel, each with its own
	// vocabulary, then merge the vocabularies in slice order. Token IDs
	// then depend on the number of slices, which nothing learned depends on
	// (ties are settled by the phrases' text).
	parts := sliceCount(len(ex), o.Workers, 2048)
	chunks := make([]tokenChunk, parts)
	inSlices(len(ex), parts, func(c, lo, hi int) { chunks[c] = tokenize(ex[lo:hi], o.MaxTokens) })
	total := 0
	for _, c := range chunks {
		total += len(c.toks)
	}
	l.toks = make([]uint32, 0, total)
	l.off = make([]int, 0, len(ex)+1)
	l.off = append(l.off, 0)
	for _, c := range chunks {
		remap := make([]uint32, len(c.words))
		for local, w := range c.words {
			if local == 0 {
				continue
			}
			id, ok := l.vocab[w]
			if !ok {
				id = uint32(len(l.words))
				l.vocab[w] = id
				l.words = append(l.words, w)
				l.content = append(l.content, !stop[w] && utf8.RuneCountInString(w) >= 2)
			}
			remap[local] = id
		}
		base := len(l.toks)
		for _, t := range c.toks {
			l.toks = append(l.toks, remap[t]) // remap[0] is 0: a phrase break
		}
		for _, o := range c.off[1:] {
			l.off = append(l.off, base+o)
		}
	}
	return l
}

// tokenChunk is a slice of texts as token IDs into its own words (0: a
// numeric token, which breaks phrases).
type tokenChunk struct {
	words []string
	toks  []uint32
	off   []int
}

func tokenize(ex []*Example, maxTokens int) tokenChunk {
	// About one token per five bytes of text: sized once, toks is not
	// copied over and over as it grows (a quarter of tokenising 60,000
	// texts, growing by a quarter at a time).
	size := 0
	for _, e := range ex {
		size += min(len(e.Text)/4+1, maxTokens)
	}
	c := tokenChunk{words: []string{""}, toks: make([]uint32, 0, size), off: make([]int, 1, len(ex)+1)}
	vocab := make(map[string]uint32)
	var t tokenizer
	for _, e := range ex {
		t.reset(e.Text)
		n := 0
		prevBreak := true
		for n < maxTokens {
			tok, numeric, ok := t.next()
			if !ok {
				break
			}
			n++
			if numeric {
				if !prevBreak {
					c.toks = append(c.toks, 0)
					prevBreak = true
				}
				continue
			}
			id, ok := vocab[string(tok)]
			if !ok {
				w := string(tok)
				id = uint32(len(c.words))
				vocab[w] = id
				c.words = append(c.words, w)
			}
			c.toks = append(c.toks, id)
			prevBreak = false
		}
		c.off = append(c.off, len(c.toks))
	}
	return c
}

func (l *learner) tokens(i int) []uint32 { return l.toks[l.off[i]:l.off[i+1]] }

// grams calls fn for every phrase of toks: 1 to MaxWords consecutive
// selected tokens (mark == stamp) with at least one content word.
func (l *learner) grams(toks []uint32, mark []uint32, stamp uint32, fn func(g gram)) {
	maxN := l.o.MaxWords
	content := l.content
	for i, t := range toks {
		if t == 0 || mark[t] != stamp {
			continue
		}
		var g gram
		hasContent := false
		for n := 0; n < maxN && i+n < len(toks); n++ {
			t := toks[i+n]
			if t == 0 || mark[t] != stamp {
				break
			}
			g[n] = t
			hasContent = hasContent || content[t]
			if hasContent {
				fn(g)
			}
		}
	}
}

func (l *learner) phrase(g gram) string {
	var b strings.Builder
	for _, t := range g {
		if t == 0 {
			break
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(l.words[t])
	}
	return b.String()
}

func gramLen(g gram) int {
	n := 0
	for n < len(g) && g[n] != 0 {
		n++
	}
	return n
}

// minSupport is how many of a value's n examples a phrase must occur in
// to be considered: MinFrequency, and MinPhraseShare of them. The share
// matters for values with many receipts: a category, or a ride-hailing
// merchant whose receipts name the driver — a name on 0.2 % of its receipts
// is precise (always that merchant) but is noise, and personal.
func (l *learner) minSupport(n int) int {
	return max(l.o.MinFrequency, int(math.Ceil(l.o.MinPhraseShare*float64(n))))
}

// valueGroup is the examples whose field has one value.
type valueGroup struct {
	field int
	value string
	// n is the value's number of examples in the pool; ex its sample,
	// indexes into l.ex (all n of them when learning is exact).
	n  int
	ex []int
	// found: the phrases in at least minSupport of ex, with that count.
	found []gramCount
	cands []groupCand
	out   []Pattern
}

type gramCount struct {
	g gram
	n int32
	// u: how many of the n are in the pool's uniform sample.
	u int32
}

type groupCand struct {
	cand int32
	// tp: in how many of the value's sampled examples the candidate
	// occurs; tpU: how many of those are in the uniform sample.
	tp, tpU int32
}

// parallel calls fn(sc, i) for i in [0, n) on up to Options.Workers
// goroutines, each with its own scratch, and returns the scratches. The
// results must not depend on which worker ran what.
func (l *learner) parallel(n int, fn func(sc *scratch, i int)) []*scratch {
	workers := max(1, min(l.o.Workers, n))
	scratches := make([]*scratch, workers)
	if workers == 1 {
		sc := l.newScratch()
		scratches[0] = sc
		for i := range n {
			fn(sc, i)
		}
		return scratches
	}
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			sc := l.newScratch()
			scratches[w] = sc
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(sc, i)
			}
		})
	}
	wg.Wait()
	return scratches
}

// learnText learns the text patterns of every field in three passes:
//
//  1. per (field, value) with at least MinFrequency examples in the pool:
//     count in how many of its sampled examples each phrase occurs (tp),
//     keeping those with tp ≥ minSupport of the sample as candidates (only
//     words that occur in minSupport of them can be part of one);
//  2. once over the pool's uniform sample: count, for every candidate, in
//     how many examples with a known value for the field it occurs (df);
//  3. per value: scale tp and the occurrences under other values to the
//     pool, rank candidates by smoothed precision (tp+1)/(df+2) and pick a
//     few by greedy cover.
//
// Passes 1 and 3 run per value and pass 2 per slice of the pool, on
// Options.Workers goroutines. When every text is there (no Sampling), both
// samples are the whole pool and every count is exact.
func (l *learner) learnText(pool []Group, total int, smp Sampling, add func(Pattern)) {
	nf := len(l.fields)
	// keys are only needed when sampling: SHA-256 of a non-UUID ID costs.
	var keys []uint32
	if smp != (Sampling{}) {
		keys = make([]uint32, len(l.ex))
		inSlices(len(l.ex), sliceCount(len(l.ex), l.o.Workers, 1024), func(_, lo, hi int) {
			for i := lo; i < hi; i++ {
				keys[i] = SampleKey(l.ex[i].ID)
			}
		})
	}
	key := func(i int) uint64 {
		if keys == nil {
			return 0
		}
		return uint64(keys[i])
	}
	poolThr := smp.PoolThreshold(total)
	l.uniform = make([]bool, len(l.ex))
	for i := range l.ex {
		l.uniform[i] = key(i) < poolThr
	}
	// scale[fi]: examples with a known value for the field in the pool per
	// such example in the uniform sample.
	l.scale = make([]float64, nf)
	// hasValue[i*nf+fi]: example i has a value for field fi (pass 2 asks).
	hasValue := make([]bool, len(l.ex)*nf)
	// Each field's values and their samples, one goroutine per field.
	perField := make([][]*valueGroup, nf)
	var wg sync.WaitGroup
	for fi := range l.fields {
		wg.Go(func() { perField[fi] = l.valueGroups(fi, pool, total, smp, key, hasValue) })
	}
	wg.Wait()
	var groups []*valueGroup
	for _, gs := range perField {
		groups = append(groups, gs...)
	}

	// Pass 1: candidates per group, then one index over all of them (in
	// group order, so the numbering is deterministic).
	l.parallel(len(groups), func(sc *scratch, i int) { l.groupCandidates(sc, groups[i]) })
	var candIndex gramIndex
	for _, g := range groups {
		g.cands = make([]groupCand, len(g.found))
		for k, c := range g.found {
			ci, _ := candIndex.add(c.g)
			g.cands[k] = groupCand{cand: ci, tp: c.n, tpU: c.u}
		}
		g.found = nil
	}
	cands := candIndex.grams
	if len(cands) == 0 {
		return
	}

	// Pass 2: document frequency of every candidate, per field, over the
	// uniform sample's examples with a known value for that field; one
	// slice of the pool per task, summed afterwards.
	candTok := make([]bool, len(l.words))
	for _, c := range cands {
		for _, t := range c {
			candTok[t] = true
		}
	}
	// Most phrases looked up are not candidates: a bit table over a hash
	// of the candidates answers most misses without touching the map.
	filterBits := uint(16)
	for 1<<filterBits < 16*len(cands) {
		filterBits++
	}
	filter := make([]uint64, 1<<filterBits/64)
	for _, c := range cands {
		h := gramHash(c) >> (64 - filterBits)
		filter[h/64] |= 1 << (h % 64)
	}
	const slice = 4096
	tasks := (len(l.ex) + slice - 1) / slice
	scratches := l.parallel(tasks, func(sc *scratch, task int) {
		if sc.df == nil {
			sc.df = make([]int32, len(cands)*nf)
			sc.dfLast = make([]int32, len(cands))
		}
		df, lastIn := sc.df, sc.dfLast // lastIn: example+1 that last counted it
		stamp := sc.next()
		for t, ok := range candTok {
			if ok {
				sc.mark[t] = stamp
			}
		}
		fields := make([]int, 0, nf)
		for i := task * slice; i < min(len(l.ex), (task+1)*slice); i++ {
			if !l.uniform[i] {
				continue
			}
			fields = fields[:0]
			for fi := range nf {
				if hasValue[i*nf+fi] {
					fields = append(fields, fi)
				}
			}
			if len(fields) == 0 {
				continue
			}
			l.grams(l.tokens(i), sc.mark, stamp, func(gr gram) {
				if h := gramHash(gr) >> (64 - filterBits); filter[h/64]&(1<<(h%64)) == 0 {
					return
				}
				ci := candIndex.find(gr)
				if ci < 0 || lastIn[ci] == int32(i+1) {
					return
				}
				lastIn[ci] = int32(i + 1)
				for _, fi := range fields {
					df[int(ci)*nf+fi]++
				}
			})
		}
	})
	var df []int32
	for _, sc := range scratches {
		if sc.df == nil {
			continue
		}
		if df == nil {
			df = sc.df
			continue
		}
		for i, n := range sc.df {
			df[i] += n
		}
	}

	// Pass 3: rank and select per group.
	l.parallel(len(groups), func(sc *scratch, i int) { l.selectPhrases(sc, groups[i], cands, df) })
	for _, g := range groups {
		for _, p := range g.out {
			add(p)
		}
	}
}

// valueGroups returns field fi's values with at least MinFrequency
// examples in the pool, each with its sampled examples, in value order; it
// sets l.scale[fi] and hasValue[i*nf+fi], so fields can run side by side.
func (l *learner) valueGroups(fi int, pool []Group, total int, smp Sampling, key func(int) uint64, hasValue []bool) []*valueGroup {
	f, nf := l.fields[fi], len(l.fields)
	counts := make(map[string]int)
	known := 0
	for i := range pool {
		if v := groupTruth(&pool[i], f); v != "" {
			counts[v] += pool[i].Count
			known += pool[i].Count
		}
	}
	sampled := 0
	byValue := make(map[string][]int)
	thr := make(map[string]uint64)
	for i, e := range l.ex {
		v := truth(e, f)
		if v == "" {
			continue
		}
		hasValue[i*nf+fi] = true
		if l.uniform[i] {
			sampled++
		}
		n := counts[v]
		if n < l.o.MinFrequency {
			continue
		}
		t, ok := thr[v]
		if !ok {
			t = smp.ValueThreshold(n, total)
			thr[v] = t
		}
		if key(i) < t {
			byValue[v] = append(byValue[v], i)
		}
	}
	if sampled > 0 {
		l.scale[fi] = float64(known) / float64(sampled)
	}
	values := make([]string, 0, len(byValue))
	for v := range byValue {
		values = append(values, v)
	}
	slices.Sort(values)
	groups := make([]*valueGroup, 0, len(values))
	for _, v := range values {
		groups = append(groups, &valueGroup{field: fi, value: v, n: counts[v], ex: byValue[v]})
	}
	return groups
}

// sliceCount is how many slices of [0, n) to work on side by side: at
// most workers, each of at least minSlice items (a goroutine costs less
// than that many), and at least one.
func sliceCount(n, workers, minSlice int) int {
	return max(1, min(workers, n/minSlice))
}

// inSlices calls fn(part, lo, hi) on parts equal slices of [0, n), side by
// side.
func inSlices(n, parts int, fn func(part, lo, hi int)) {
	per := (n + parts - 1) / parts
	var wg sync.WaitGroup
	for p := range parts {
		wg.Go(func() { fn(p, min(n, p*per), min(n, (p+1)*per)) })
	}
	wg.Wait()
}

// groupCandidates fills g.found: the phrases in at least minSupport of the
// group's examples, at most candidatesPerPhrase × MaxPhrasesPerValue of
// them (most support first).
func (l *learner) groupCandidates(sc *scratch, g *valueGroup) {
	minF := int32(l.minSupport(len(g.ex)))
	// Words in at least minF of the group's examples.
	var touched []uint32
	for k, i := range g.ex {
		for _, t := range l.tokens(i) {
			if t == 0 || sc.last[t] == int32(k+1) {
				continue
			}
			if sc.count[t] == 0 {
				touched = append(touched, t)
			}
			sc.last[t] = int32(k + 1)
			sc.count[t]++
		}
	}
	stamp := sc.next()
	for _, t := range touched {
		if sc.count[t] >= minF {
			sc.mark[t] = stamp
		}
		sc.count[t], sc.last[t] = 0, 0
	}
	index := &sc.grams
	index.reset()
	counts := sc.counters[:0]
	for k, i := range g.ex {
		uniform := int32(0)
		if l.uniform[i] {
			uniform = 1
		}
		l.grams(l.tokens(i), sc.mark, stamp, func(gr gram) {
			j, added := index.add(gr)
			if added {
				counts = append(counts, gramCounter{})
			}
			if c := &counts[j]; c.last != int32(k+1) {
				c.n++
				c.u += uniform
				c.last = int32(k + 1)
			}
		})
	}
	sc.counters = counts
	var keep []gramCount
	for j, c := range counts {
		if c.n >= minF {
			keep = append(keep, gramCount{index.grams[j], c.n, c.u})
		}
	}
	if capN := candidatesPerPhrase * l.o.MaxPhrasesPerValue; len(keep) > capN {
		// Most support first, then fewer words; ties at the cut are settled
		// alphabetically, so it does not depend on token numbering.
		key := func(a gramCount) int64 { return int64(a.n)<<8 - int64(gramLen(a.g)) }
		slices.SortFunc(keep, func(a, b gramCount) int { return cmp.Compare(key(b), key(a)) })
		cut := key(keep[capN-1])
		lo, hi := capN-1, capN
		for lo > 0 && key(keep[lo-1]) == cut {
			lo--
		}
		for hi < len(keep) && key(keep[hi]) == cut {
			hi++
		}
		tied := keep[lo:hi]
		names := make(map[gram]string, len(tied))
		for _, t := range tied {
			names[t.g] = l.phrase(t.g)
		}
		slices.SortFunc(tied, func(a, b gramCount) int { return strings.Compare(names[a.g], names[b.g]) })
		keep = keep[:capN]
	}
	g.found = keep
}

type ranked struct {
	g      gram
	phrase string
	tp, df int
	conf   float64
	cover  []uint64 // bitset over the group's examples
	last   time.Time
}

// selectPhrases ranks a group's candidates by confidence (then support,
// then fewer words, then alphabetically) and walks down the ranking, taking
// a phrase when it covers an example of the value that no taken phrase
// covers, or when it shares no word with any taken phrase (independent
// evidence: it still fires when OCR garbles the words of the others), until
// MaxPhrasesPerValue are taken. The patterns go to g.out.
func (l *learner) selectPhrases(sc *scratch, g *valueGroup, cands []gram, df []int32) {
	nf := len(l.fields)
	var rs []*ranked
	for _, c := range g.cands {
		// Scale the sample's counts to the pool: tp by the value's
		// sampling rate, the occurrences under other values (the uniform
		// sample's df less the value's own share of it) by the uniform
		// sample's. Exact when both samples are the whole pool.
		tp := int(math.Round(float64(c.tp) * float64(g.n) / float64(len(g.ex))))
		other := max(0, int(df[int(c.cand)*nf+g.field]-c.tpU))
		n := tp + int(math.Round(float64(other)*l.scale[g.field]))
		conf := confidence(tp, n)
		if conf < l.o.MinConfidence {
			continue
		}
		rs = append(rs, &ranked{g: cands[c.cand], tp: tp, df: n, conf: conf})
	}
	if len(rs) == 0 {
		return
	}
	for _, r := range rs {
		r.phrase = l.phrase(r.g)
	}
	slices.SortFunc(rs, func(a, b *ranked) int {
		if c := cmp.Compare(b.conf, a.conf); c != 0 {
			return c
		}
		if c := cmp.Compare(b.tp, a.tp); c != 0 {
			return c
		}
		if c := cmp.Compare(gramLen(a.g), gramLen(b.g)); c != 0 {
			return c
		}
		return strings.Compare(a.phrase, b.phrase)
	})
	if k := rankedPerPhrase * l.o.MaxPhrasesPerValue; len(rs) > k {
		rs = rs[:k]
	}

	// Which of the group's examples each ranked phrase occurs in.
	words := (len(g.ex) + 63) / 64
	index := &sc.grams
	index.reset()
	stamp := sc.next()
	for _, r := range rs {
		index.add(r.g) // numbered as ranked: rs holds no gram twice
		r.cover = make([]uint64, words)
		for _, t := range r.g {
			if t != 0 {
				sc.mark[t] = stamp
			}
		}
	}
	for k, i := range g.ex {
		at := l.ex[i].At
		l.grams(l.tokens(i), sc.mark, stamp, func(gr gram) {
			j := index.find(gr)
			if j < 0 {
				return
			}
			r := rs[j]
			r.cover[k/64] |= 1 << (k % 64)
			if at.After(r.last) {
				r.last = at
			}
		})
	}

	covered := make([]uint64, words)
	used := make(map[uint32]bool)
	taken := 0
	for _, r := range rs {
		if taken == l.o.MaxPhrasesPerValue {
			break
		}
		fresh := 0
		for w := range covered {
			fresh += bits.OnesCount64(r.cover[w] &^ covered[w])
		}
		disjoint := true
		for _, t := range r.g {
			if t != 0 && used[t] {
				disjoint = false
			}
		}
		if fresh == 0 && !disjoint {
			continue
		}
		taken++
		for w := range covered {
			covered[w] |= r.cover[w]
		}
		for _, t := range r.g {
			if t != 0 {
				used[t] = true
			}
		}
		g.out = append(g.out, Pattern{
			Field:          l.fields[g.field],
			Kind:           KindText,
			Pattern:        PhraseRegexp(r.phrase),
			Phrases:        []string{r.phrase},
			CorrectedValue: g.value,
			Confidence:     r.conf,
			Frequency:      r.tp,
			Matched:        r.df,
			LastSeen:       r.last,
		})
	}
}

// ---------------------------------------------------------------------------
// Aliases and merchant → category.

// pairCounts counts (key, value) pairs: how often key was seen with a known
// value, how often with each value, the most common raw spelling of key and
// the last time each pair was seen.
type pairCounts struct {
	// raw counts the pairs as added, by raw spelling: groups repeat the
	// same (raw, value) pairs many times over (by the other fields they
	// differ in), and each distinct one is then keyed, counted and spelled
	// once (fold) rather than once per group.
	raw      map[[2]string]pairStat
	total    map[string]int
	pairs    map[[2]string]pairStat
	spelling map[string]map[string]int
}

type pairStat struct {
	n    int
	last time.Time
}

func (st *pairStat) merge(n int, at time.Time) {
	st.n += n
	if at.After(st.last) {
		st.last = at
	}
}

func newPairCounts() *pairCounts {
	return &pairCounts{raw: make(map[[2]string]pairStat)}
}

func (pc *pairCounts) add(raw, value string, at time.Time, n int) {
	if value == "" {
		return
	}
	k := [2]string{raw, value}
	st := pc.raw[k]
	st.merge(n, at)
	pc.raw[k] = st
}

// fold turns the raw pairs into the counts by value key. Every count is a
// sum and every time a maximum, so the order pairs come in is irrelevant.
func (pc *pairCounts) fold() {
	if pc.total != nil {
		return
	}
	pc.total = make(map[string]int)
	pc.pairs = make(map[[2]string]pairStat)
	pc.spelling = make(map[string]map[string]int)
	keys := make(map[string]string) // valueKey of each raw spelling
	for k, st := range pc.raw {
		raw, value := k[0], k[1]
		key, ok := keys[raw]
		if !ok {
			key = valueKey(raw)
			keys[raw] = key
		}
		if key == "" {
			continue
		}
		pc.total[key] += st.n
		pk := [2]string{key, value}
		pst := pc.pairs[pk]
		pst.merge(st.n, st.last)
		pc.pairs[pk] = pst
		sp := pc.spelling[key]
		if sp == nil {
			sp = make(map[string]int)
			pc.spelling[key] = sp
		}
		sp[strings.TrimSpace(raw)] += st.n
	}
}

// spellingOf returns the most common raw spelling of key (ties: the
// smallest), which becomes the pattern shown to people.
func (pc *pairCounts) spellingOf(key string) string {
	best, bestN := "", -1
	for s, n := range pc.spelling[key] {
		if n > bestN || n == bestN && s < best {
			best, bestN = s, n
		}
	}
	return best
}

type pairPattern struct {
	key, value string
	tp, n      int
	conf       float64
}

// patterns returns the pairs seen ≥ minF times with confidence ≥ minConf,
// skipping pairs where keep says no, best first per value, at most perValue
// per value.
func (pc *pairCounts) patterns(o Options, perValue int, keep func(key, value string) bool) []pairPattern {
	pc.fold()
	var out []pairPattern
	for k, st := range pc.pairs {
		tp := st.n
		if tp < o.MinFrequency || !keep(k[0], k[1]) {
			continue
		}
		n := pc.total[k[0]]
		c := confidence(tp, n)
		if c < o.MinConfidence {
			continue
		}
		out = append(out, pairPattern{key: k[0], value: k[1], tp: tp, n: n, conf: c})
	}
	slices.SortFunc(out, func(a, b pairPattern) int {
		if c := strings.Compare(a.value, b.value); c != 0 {
			return c
		}
		if c := cmp.Compare(b.conf, a.conf); c != 0 {
			return c
		}
		if c := cmp.Compare(b.tp, a.tp); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	if perValue > 0 {
		kept := out[:0]
		run := 0
		for i, p := range out {
			if i > 0 && p.value == out[i-1].value {
				run++
			} else {
				run = 0
			}
			if run < perValue {
				kept = append(kept, p)
			}
		}
		out = kept
	}
	return out
}

// learnAliases: over the examples with both an original and a corrected
// value for field, the original's value key → corrected value pairs seen at
// least MinFrequency times. Confidence is the smoothed share of that
// original's examples that had that corrected value, so an original that is
// usually right already (the user only sometimes changed it) scores low.
func learnAliases(o Options, groups []Group, field string, add func(Pattern)) {
	pc := newPairCounts()
	for i := range groups {
		g := &groups[i]
		v := groupTruth(g, field)
		orig := g.Original[field]
		if v == "" || strings.TrimSpace(orig) == "" {
			continue
		}
		pc.add(orig, v, g.Last, g.Count)
	}
	for _, p := range pc.patterns(o, o.MaxAliasesPerValue, func(key, value string) bool {
		return key != valueKey(value) // not a correction: OCR was right
	}) {
		add(Pattern{
			Field:          field,
			Kind:           KindAlias,
			Pattern:        pc.spellingOf(p.key),
			CorrectedValue: p.value,
			Confidence:     p.conf,
			Frequency:      p.tp,
			Matched:        p.n,
			LastSeen:       pc.pairs[[2]string{p.key, p.value}].last,
		})
	}
}

// learnMerchantCategory: over the examples with both a merchant and a
// category, merchant → category pairs seen at least MinFrequency times;
// confidence is the smoothed share of the merchant's examples with that
// category.
func learnMerchantCategory(o Options, groups []Group, add func(Pattern)) {
	pc := newPairCounts()
	for i := range groups {
		g := &groups[i]
		m, c := groupTruth(g, FieldMerchant), groupTruth(g, o.CategoryField)
		if m == "" || c == "" {
			continue
		}
		pc.add(m, c, g.Last, g.Count)
	}
	for _, p := range pc.patterns(o, 0, func(string, string) bool { return true }) {
		add(Pattern{
			Field:          o.CategoryField,
			Kind:           KindCategory,
			Pattern:        pc.spellingOf(p.key),
			CorrectedValue: p.value,
			Confidence:     p.conf,
			Frequency:      p.tp,
			Matched:        p.n,
			LastSeen:       pc.pairs[[2]string{p.key, p.value}].last,
		})
	}
}

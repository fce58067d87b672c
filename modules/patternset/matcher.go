package patternset

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Hit is one pattern that applied to a receipt.
type Hit struct {
	Field      string  `json:"field"`
	Value      string  `json:"value"`
	Confidence float64 `json:"confidence"`
	PatternID  string  `json:"pattern_id"`
	Kind       string  `json:"kind"`
	// Evidence is what fired: the phrase found in the text (text), the
	// original value (alias), the merchant the category was derived from
	// (category).
	Evidence string `json:"evidence"`
}

// Matcher applies one compiled pattern set. It is immutable and safe for
// concurrent use; compile once per version and share it.
//
// All text patterns of the set are compiled into one Aho–Corasick automaton
// over tokens (see Tokens), so matching costs one pass over the text's
// tokens whatever the number of patterns: each token is looked up once in
// the automaton's vocabulary (a token no phrase contains sends the automaton
// back to its root) and then takes one transition, amortised.
type Matcher struct {
	version string

	patterns []Pattern
	byID     map[string]int32

	// The token automaton. State 0 is the root; root[tok] is the root's
	// transition (0 when none), next holds every other transition keyed by
	// state<<32 | token. out[outStart[s]:outStart[s+1]] are the patterns
	// whose phrase ends in state s, with the phrase in outPhrase; dict[s] is
	// the nearest state on s's failure chain with outputs (-1 when none).
	vocab     map[string]uint32
	root      []int32
	next      map[uint64]int32
	fail      []int32
	dict      []int32
	outStart  []int32
	out       []int32
	outPhrase []int32
	phrases   []string

	// aliases[field][valueKey(original)] and category[valueKey(merchant)]
	// list pattern indexes.
	aliases  map[string]map[string][]int32
	category map[string][]int32

	// rank[i] is pattern i's place in hit order (compareHits): a text or
	// alias hit has its pattern's confidence, so its order is known here.
	rank []int32

	scratch sync.Pool
}

type matchScratch struct {
	tok  tokenizer
	hits []textHit
	seen []uint64 // bitset over patterns
}

type textHit struct {
	pattern int32
	phrase  int32 // index into phrases; -1 for an alias
}

// Compile validates s and builds its matcher.
func Compile(s *Set) (*Matcher, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	n := s.Count()
	m := &Matcher{
		version:  s.Version,
		patterns: make([]Pattern, 0, n),
		byID:     make(map[string]int32, n),
		vocab:    make(map[string]uint32),
		next:     make(map[uint64]int32),
		aliases:  make(map[string]map[string][]int32),
		category: make(map[string][]int32),
	}
	m.scratch.New = func() any { return new(matchScratch) }

	type node struct {
		children []int32 // child states, for the breadth-first pass
		outs     []textHit
	}
	nodes := []node{{}}
	m.root = []int32{0}
	edge := func(state int32, tok uint32) (int32, bool) {
		if state == 0 {
			c := m.root[tok]
			return c, c != 0
		}
		c, ok := m.next[uint64(state)<<32|uint64(tok)]
		return c, ok
	}
	phraseIndex := make(map[string]int32)

	for _, f := range s.Fields() {
		for _, p := range s.Patterns[f] {
			p.Field = f
			if p.ID == "" {
				p.ID = PatternID(p)
			}
			if _, dup := m.byID[p.ID]; dup {
				return nil, fmt.Errorf("%w: pattern id %q used twice", ErrInvalid, p.ID)
			}
			pi := int32(len(m.patterns))
			m.byID[p.ID] = pi
			switch p.Kind {
			case KindText:
				phrases, err := textPhrases(p)
				if err != nil { // Validate has checked; keep the guard
					return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
				}
				p.Phrases = phrases
				for _, ph := range phrases {
					phi, ok := phraseIndex[ph]
					if !ok {
						phi = int32(len(m.phrases))
						phraseIndex[ph] = phi
						m.phrases = append(m.phrases, ph)
					}
					state := int32(0)
					for _, w := range strings.Split(ph, " ") {
						tok, ok := m.vocab[w]
						if !ok {
							tok = uint32(len(m.root))
							m.vocab[w] = tok
							m.root = append(m.root, 0)
						}
						child, ok := edge(state, tok)
						if !ok {
							child = int32(len(nodes))
							nodes = append(nodes, node{})
							if state == 0 {
								m.root[tok] = child
							} else {
								m.next[uint64(state)<<32|uint64(tok)] = child
							}
							nodes[state].children = append(nodes[state].children, child)
						}
						state = child
					}
					h := textHit{pattern: pi, phrase: phi}
					if !slices.Contains(nodes[state].outs, h) {
						nodes[state].outs = append(nodes[state].outs, h)
					}
				}
			case KindAlias:
				byKey := m.aliases[f]
				if byKey == nil {
					byKey = make(map[string][]int32)
					m.aliases[f] = byKey
				}
				k := valueKey(p.Pattern)
				byKey[k] = append(byKey[k], pi)
			case KindCategory:
				k := valueKey(p.Pattern)
				m.category[k] = append(m.category[k], pi)
			}
			m.patterns = append(m.patterns, p)
		}
	}

	// Failure and dictionary links, breadth first. The token that leads to
	// a state is recovered from the parent's edge, so keep it on the queue.
	n = len(nodes)
	m.fail = make([]int32, n)
	m.dict = make([]int32, n)
	m.dict[0] = -1
	tokOf := make([]uint32, n)
	for tok, c := range m.root {
		if c != 0 {
			tokOf[c] = uint32(tok)
		}
	}
	for k, c := range m.next {
		tokOf[c] = uint32(k)
	}
	queue := slices.Clone(nodes[0].children)
	for _, c := range queue {
		m.dict[c] = -1
	}
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		for _, v := range nodes[u].children {
			tok := tokOf[v]
			f := m.fail[u]
			for {
				if c, ok := edge(f, tok); ok {
					m.fail[v] = c
					break
				}
				if f == 0 {
					m.fail[v] = 0
					break
				}
				f = m.fail[f]
			}
			if fv := m.fail[v]; len(nodes[fv].outs) > 0 {
				m.dict[v] = fv
			} else {
				m.dict[v] = m.dict[fv]
			}
			queue = append(queue, v)
		}
	}
	order := make([]int32, len(m.patterns))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		pa, pb := &m.patterns[a], &m.patterns[b]
		return compareHits(Hit{Field: pa.Field, Value: pa.CorrectedValue, Confidence: pa.Confidence, PatternID: pa.ID, Kind: pa.Kind},
			Hit{Field: pb.Field, Value: pb.CorrectedValue, Confidence: pb.Confidence, PatternID: pb.ID, Kind: pb.Kind})
	})
	m.rank = make([]int32, len(m.patterns))
	for r, pi := range order {
		m.rank[pi] = int32(r)
	}
	m.outStart = make([]int32, n+1)
	for s, nd := range nodes {
		m.outStart[s+1] = m.outStart[s] + int32(len(nd.outs))
		for _, h := range nd.outs {
			m.out = append(m.out, h.pattern)
			m.outPhrase = append(m.outPhrase, h.phrase)
		}
	}
	return m, nil
}

// Version returns the version name of the compiled set.
func (m *Matcher) Version() string { return m.version }

// Len returns the number of patterns.
func (m *Matcher) Len() int { return len(m.patterns) }

// Pattern returns the pattern with the given ID.
func (m *Matcher) Pattern(id string) (Pattern, bool) {
	i, ok := m.byID[id]
	if !ok {
		return Pattern{}, false
	}
	p := m.patterns[i]
	p.Phrases = slices.Clone(p.Phrases)
	return p, true
}

// Match applies the text patterns to text, and the merchant → category
// patterns to the merchants they found. See MatchWithOriginal.
func (m *Matcher) Match(text string) []Hit {
	return m.MatchWithOriginal(text, nil)
}

// MatchWithOriginal applies the set to a receipt: its OCR text and the
// values the OCR inference produced (may be nil). It returns every hit,
// sorted by field and then best first (confidence, then text before alias
// before category, then value, then pattern ID), so the first hit of each
// field is its best value and the rest are alternatives; Best picks them.
//
//   - Text patterns fire when their phrase occurs in text as whole tokens.
//   - Aliases fire when original[field] has the alias's value key (its
//     tokens without the numeric ones, so "UBER *TRIP 4411" and
//     "Uber Trip" are the same original).
//   - Merchant → category patterns fire for each merchant found by a text
//     pattern or an alias, with confidence conf(merchant) × conf(category
//     | merchant); when nothing found a merchant, for original["merchant"]
//     with conf(category | merchant) alone: the caller knows how far it
//     trusts its own merchant and should scale by it.
//
// Evidence is not combined: several patterns agreeing on a value give
// several hits, and the value's confidence is that of its best one (phrases
// of one receipt are far from independent, so a noisy-or would overstate).
func (m *Matcher) MatchWithOriginal(text string, original map[string]string) []Hit {
	sc := m.scratch.Get().(*matchScratch)
	defer m.scratch.Put(sc)

	found := m.scan(text, sc)
	for field, orig := range original {
		byKey := m.aliases[field]
		if byKey == nil {
			continue
		}
		for _, pi := range byKey[valueKey(orig)] {
			found = append(found, textHit{pattern: pi, phrase: -1})
		}
	}
	slices.SortFunc(found, func(a, b textHit) int { return cmp.Compare(m.rank[a.pattern], m.rank[b.pattern]) })
	sc.hits = found

	hits := make([]Hit, 0, len(found))
	for _, th := range found {
		p := &m.patterns[th.pattern]
		h := Hit{Field: p.Field, Value: p.CorrectedValue, Confidence: p.Confidence, PatternID: p.ID, Kind: p.Kind}
		if th.phrase >= 0 {
			h.Evidence = m.phrases[th.phrase]
		} else {
			h.Evidence = original[p.Field]
		}
		hits = append(hits, h)
	}
	if len(m.category) == 0 {
		return hits
	}
	// The merchants found, each with its best confidence (hits are sorted,
	// so the first hit of a value is its best).
	type merchant struct {
		value string
		conf  float64
	}
	var merchants []merchant
	for _, h := range hits {
		if h.Field == FieldMerchant && !slices.ContainsFunc(merchants, func(x merchant) bool { return x.value == h.Value }) {
			merchants = append(merchants, merchant{h.Value, h.Confidence})
		}
	}
	if len(merchants) == 0 {
		if orig := strings.TrimSpace(original[FieldMerchant]); orig != "" {
			merchants = append(merchants, merchant{orig, 1})
		}
	}
	for _, mc := range merchants {
		for _, pi := range m.category[valueKey(mc.value)] {
			p := &m.patterns[pi]
			h := Hit{Field: p.Field, Value: p.CorrectedValue, Confidence: round4(mc.conf * p.Confidence),
				PatternID: p.ID, Kind: KindCategory, Evidence: mc.value}
			i, _ := slices.BinarySearchFunc(hits, h, compareHits)
			hits = slices.Insert(hits, i, h)
		}
	}
	return hits
}

func compareHits(a, b Hit) int {
	if c := strings.Compare(a.Field, b.Field); c != 0 {
		return c
	}
	if c := cmp.Compare(b.Confidence, a.Confidence); c != 0 {
		return c
	}
	if c := kindOrder[a.Kind] - kindOrder[b.Kind]; c != 0 {
		return c
	}
	if c := strings.Compare(a.Value, b.Value); c != 0 {
		return c
	}
	return strings.Compare(a.PatternID, b.PatternID)
}

// scan runs the automaton over text and returns each matched text pattern
// once, with the first of its phrases found in the text. The result lives
// in sc.
func (m *Matcher) scan(text string, sc *matchScratch) []textHit {
	found := sc.hits[:0]
	if len(m.root) <= 1 {
		return found
	}
	if words := (len(m.patterns) + 63) / 64; len(sc.seen) < words {
		sc.seen = make([]uint64, words)
	}
	seen := sc.seen
	sc.tok.reset(text)
	state := int32(0)
	for {
		w, _, ok := sc.tok.next()
		if !ok {
			break
		}
		tok := m.vocab[string(w)]
		if tok == 0 {
			state = 0
			continue
		}
		for {
			if state == 0 {
				state = m.root[tok]
				break
			}
			if c, ok := m.next[uint64(state)<<32|uint64(tok)]; ok {
				state = c
				break
			}
			state = m.fail[state]
		}
		for s := state; s > 0; s = m.dict[s] {
			for i := m.outStart[s]; i < m.outStart[s+1]; i++ {
				pi := m.out[i]
				if seen[pi/64]&(1<<(pi%64)) != 0 {
					continue
				}
				seen[pi/64] |= 1 << (pi % 64)
				found = append(found, textHit{pattern: pi, phrase: m.outPhrase[i]})
			}
		}
	}
	for _, h := range found {
		seen[h.pattern/64] = 0
	}
	return found
}

// Best returns the best hit per field of MatchWithOriginal(text, original).
func (m *Matcher) Best(text string, original map[string]string) map[string]Hit {
	return Best(m.MatchWithOriginal(text, original))
}

// Best returns the best hit per field among hits (in any order).
func Best(hits []Hit) map[string]Hit {
	best := make(map[string]Hit)
	for _, h := range hits {
		if b, ok := best[h.Field]; !ok || compareHits(h, b) < 0 {
			best[h.Field] = h
		}
	}
	return best
}

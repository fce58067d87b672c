package patternset

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// KindName marks a hit of a Names index (never a stored pattern's kind): a
// value the set knows, or an alias of one, is written in the text, allowing
// for OCR misreadings. The hit's PatternID is the pattern the name came from.
const KindName = "name"

// Names finds the values a set has learned for a field written in a
// receipt's text. Text patterns need the very phrase again and aliases the
// very misreading again; OCR rarely misreads a name the same way twice, so
// a merchant learned from one receipt would be missed on the next. Names
// compares each line (and each pair of adjacent lines) with the known names
// letter by letter, tolerating about one wrong letter in five.
//
// Immutable and safe for concurrent use.
type Names struct {
	version string
	field   string
	entries []nameEntry
	// grams maps a trigram of a folded key to the entries that contain it:
	// only entries sharing enough trigrams with a line are aligned with it.
	// Trigrams in many names ("ing" of every "Trading") would make every
	// line a candidate for all of those: they are left out of grams, and
	// an entry made only of such trigrams is filed under its rarest one.
	grams map[string][]int32
	// counts holds per-entry trigram counters for Match, all zero between
	// uses (*[]int32 of len(entries)).
	counts sync.Pool
}

type nameEntry struct {
	key   string // folded letters and digits, legal-form words dropped
	value string
	id    string // the pattern the name comes from
	// indexed is how many of the key's trigrams (with repeats) are in grams.
	indexed int32
}

// Name matching thresholds.
const (
	// minNameSim is the least similarity (1 − edits/len(name)) accepted.
	minNameSim = 0.8
	// minFuzzyKey is the shortest key matched approximately; shorter names
	// must appear exactly, as a whole word run, or every short word would
	// look like one.
	minFuzzyKey = 6
	// nameConfLow and nameConfHigh are the confidences of a hit at
	// minNameSim and of an exact one: an exact known name outranks the
	// header rules (at most 0.9), a doubtful one only weak ones.
	nameConfLow  = 0.75
	nameConfHigh = 0.95
	// guessConf is the least confidence of a Guess hit.
	guessConf = 0.92
	// nameLines are the lines read: a receipt prints its issuer's name at
	// the top, and the cost must not grow with the length of an invoice.
	nameLines = 20
	// maxAligned bounds the names aligned with one line, those sharing the
	// most trigrams with it, so that a set of many similar names costs no
	// more than a few alignments per line.
	maxAligned = 8
)

// NewNames indexes the values of field in s. Aliases are not names: their
// originals are whatever an extraction once guessed ("ITEM 2" as well as
// "GARDENIA BAKERLES"), so they stay exact lookups of the guess.
func NewNames(s *Set, field string) *Names {
	n := &Names{version: s.Version, field: field, grams: map[string][]int32{}}
	seen := map[string]bool{}
	add := func(name, value, id string) {
		key := nameKey(name)
		if len(key) < 3 || seen[key+"\x00"+value] {
			return
		}
		seen[key+"\x00"+value] = true
		n.entries = append(n.entries, nameEntry{key: key, value: value, id: id})
	}
	for _, p := range s.Patterns[field] {
		add(p.CorrectedValue, p.CorrectedValue, p.ID)
	}
	// A deterministic order, so ties resolve the same way on every replica.
	slices.SortFunc(n.entries, func(a, b nameEntry) int {
		return cmp.Or(cmp.Compare(a.key, b.key), cmp.Compare(a.value, b.value))
	})
	all := map[string][]int32{}
	for i, e := range n.entries {
		for _, g := range trigrams(e.key) {
			if l := all[g]; len(l) == 0 || l[len(l)-1] != int32(i) {
				all[g] = append(l, int32(i))
			}
		}
	}
	common := max(64, len(n.entries)/50)
	for i := range n.entries {
		e := &n.entries[i]
		rarest := ""
		for _, g := range trigrams(e.key) {
			switch l := all[g]; {
			case len(l) <= common:
				e.indexed++
				if _, ok := n.grams[g]; !ok {
					n.grams[g] = l
				}
			case rarest == "" || len(l) < len(all[rarest]):
				rarest = g
			}
		}
		if e.indexed == 0 && rarest != "" {
			e.indexed = 1
			n.grams[rarest] = append(n.grams[rarest], int32(i))
		}
	}
	size := len(n.entries)
	n.counts.New = func() any { c := make([]int32, size); return &c }
	return n
}

// Len is the number of names indexed.
func (n *Names) Len() int { return len(n.entries) }

// Match returns, for each value whose name is written in text, one hit
// with the best similarity; best first.
func (n *Names) Match(text string) []Hit {
	if len(n.entries) == 0 {
		return nil
	}
	lines := strings.Split(text, "\n")
	if len(lines) > nameLines {
		lines = lines[:nameLines]
	}
	best := map[string]Hit{}
	keep := func(h Hit) {
		if old, ok := best[h.Value]; !ok || h.Confidence > old.Confidence ||
			h.Confidence == old.Confidence && len(h.Evidence) > len(old.Evidence) {
			best[h.Value] = h
		}
	}
	keys := make([]string, 0, 2*len(lines))
	prev := ""
	for _, l := range lines {
		words := nameWords(l, true)
		if len(words) == 0 {
			continue
		}
		n.matchShort(words, keep)
		k := strings.Join(words, "")
		keys = append(keys, k)
		if prev != "" {
			keys = append(keys, prev+k) // a name broken across two lines
		}
		if strings.ContainsRune(l, '(') {
			if short := nameKey(l); short != "" && short != k {
				keys = append(keys, short)
			}
		}
		prev = k
	}
	cp := n.counts.Get().(*[]int32)
	count := *cp
	var touched, cands []int32
	defer func() {
		for _, e := range touched {
			count[e] = 0
		}
		n.counts.Put(cp)
	}()
	for _, k := range keys {
		for _, e := range touched {
			count[e] = 0
		}
		touched = touched[:0]
		for _, g := range trigrams(k) {
			for _, e := range n.grams[g] {
				if count[e] == 0 {
					touched = append(touched, e)
				}
				count[e]++
			}
		}
		cands = cands[:0]
		for _, e := range touched {
			ent := &n.entries[e]
			// d edits destroy at most 3d of the name's trigrams.
			if len(ent.key) >= minFuzzyKey &&
				float64(count[e]) >= float64(ent.indexed)-3*(1-minNameSim)*float64(len(ent.key)) {
				cands = append(cands, e)
			}
		}
		if len(cands) > maxAligned {
			slices.SortFunc(cands, func(a, b int32) int { return cmp.Or(cmp.Compare(count[b], count[a]), cmp.Compare(a, b)) })
			cands = cands[:maxAligned]
		}
		for _, e := range cands {
			ent := n.entries[e]
			if sim := similarity(ent.key, k); sim >= minNameSim {
				keep(n.hit(ent, sim))
			}
		}
	}
	out := make([]Hit, 0, len(best))
	for _, h := range best {
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b Hit) int {
		return cmp.Or(cmp.Compare(b.Confidence, a.Confidence), cmp.Compare(len(b.Evidence), len(a.Evidence)),
			cmp.Compare(a.Value, b.Value))
	})
	return out
}

// Guess checks a value the rules read (the header line taken for the
// merchant) against the known names: when it is one of them, misread or
// not, the hit has at least guessConf. Two signals agree then, the line's
// place and looks and its letters, so it outranks either alone.
func (n *Names) Guess(guess string) (Hit, bool) {
	best, found := n.guess(strings.Join(nameWords(guess, true), ""))
	if strings.ContainsRune(guess, '(') {
		if h, ok := n.guess(nameKey(guess)); ok && (!found || h.Confidence > best.Confidence) {
			best, found = h, true
		}
	}
	if found {
		best.Confidence = max(best.Confidence, guessConf)
	}
	return best, found
}

func (n *Names) guess(key string) (Hit, bool) {
	if len(key) < 3 || len(n.entries) == 0 {
		return Hit{}, false
	}
	var best Hit
	found := false
	seen := map[int32]bool{}
	for _, g := range trigrams(key) {
		for _, e := range n.grams[g] {
			if seen[e] {
				continue
			}
			seen[e] = true
			ent := n.entries[e]
			sim := 1.0
			if ent.key != key {
				if len(ent.key) < minFuzzyKey {
					continue
				}
				// The whole guess must be the name, not merely contain it.
				sim = min(similarity(ent.key, key), similarity(key, ent.key))
			}
			if sim < minNameSim {
				continue
			}
			h := n.hit(ent, sim)
			if !found || h.Confidence > best.Confidence || h.Confidence == best.Confidence && h.Value < best.Value {
				best, found = h, true
			}
		}
	}
	return best, found
}

// matchShort finds the short names, which must be a run of whole words of
// the line: "aeon" in "AEON CO" but not in "PAEONY".
func (n *Names) matchShort(words []string, keep func(Hit)) {
	for i := range words {
		run := ""
		for j := i; j < len(words) && len(run) < minFuzzyKey; j++ {
			run += words[j]
			if len(run) < 3 {
				continue
			}
			for _, e := range n.grams[run[:3]] {
				if ent := n.entries[e]; ent.key == run {
					keep(n.hit(ent, 1))
				}
			}
		}
	}
}

func (n *Names) hit(ent nameEntry, sim float64) Hit {
	conf := nameConfLow + (nameConfHigh-nameConfLow)*(sim-minNameSim)/(1-minNameSim)
	return Hit{Field: n.field, Value: ent.value, Confidence: math.Round(conf*1e4) / 1e4, PatternID: ent.id,
		Kind: KindName, Evidence: ent.key}
}

// legalWords are company-form words, dropped from names: receipts print
// "SDN BHD", "S/B", "LTD" or nothing at all for the same shop.
var legalWords = map[string]bool{
	"sdn": true, "bhd": true, "berhad": true, "sb": true, "ltd": true, "limited": true, "pte": true,
	"plc": true, "llc": true, "inc": true, "corp": true, "co": true, "gmbh": true, "ag": true,
	"sarl": true, "sas": true, "bv": true, "pty": true, "pvt": true, "kg": true,
}

// nameKey folds a name or a line for comparison: its nameWords joined,
// without what is in brackets.
func nameKey(s string) string { return strings.Join(nameWords(s, false), "") }

// nameWords are a name's words folded for comparison: lower case, letters
// and digits only, the characters OCR confuses folded together (1 l i → i,
// 0 → o, 5 → s, 8 → b), "S/B" and "D.I.Y." one word each, company-form
// words dropped, and bracketed qualifiers too unless brackets is set.
func nameWords(s string, brackets bool) []string {
	var words []string
	var w strings.Builder
	flush := func() {
		if w.Len() > 0 {
			words = append(words, w.String())
			w.Reset()
		}
	}
	depth := 0
	for _, r := range s {
		switch {
		case r == '(':
			flush()
			depth++
		case r == ')':
			depth = max(0, depth-1)
		case depth > 0 && !brackets:
			// "(M)", "(KL)", "(KUCHAI)": a country, city or branch, printed
			// on some receipts of the shop and not on others
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			w.WriteRune(foldOCR(unicode.ToLower(r)))
		case r == '/' || r == '.' || r == '\'':
			// "S/B", "D.I.Y.", "KING'S": one word
		default:
			flush()
		}
	}
	flush()
	words = slices.DeleteFunc(words, func(w string) bool { return legalWords[w] })
	// Lone letters at the end are qualifiers or a spaced-out legal form:
	// "MR DIY M" for "(M)", "99 SPEED MART S B" for "S/B".
	for len(words) > 1 && utf8.RuneCountInString(words[len(words)-1]) == 1 && utf8.RuneCountInString(words[0]) > 1 {
		words = words[:len(words)-1]
	}
	return words
}

func foldOCR(r rune) rune {
	switch r {
	case '1', 'l', '|':
		return 'i'
	case '0':
		return 'o'
	case '5':
		return 's'
	case '8':
		return 'b'
	}
	return r
}

func trigrams(s string) []string {
	if len(s) < 3 {
		return nil
	}
	out := make([]string, 0, len(s)-2)
	for i := 0; i+3 <= len(s); i++ {
		out = append(out, s[i:i+3])
	}
	return out
}

// similarity is 1 − d/len(name), where d is the fewest edits (insertions,
// deletions, substitutions) that turn name into some run of line's
// characters: the name may sit anywhere in the line. It is exact down to
// minNameSim and reports 0 below: the alignment stops as soon as every
// partial alignment needs more edits than that allows.
func similarity(name, line string) float64 {
	if strings.Contains(line, name) {
		return 1
	}
	if name == "" {
		return 0
	}
	limit := int((1 - minNameSim) * float64(len(name)))
	prev := make([]int, len(line)+1) // a free start anywhere in line: row 0 is all zeros
	cur := make([]int, len(line)+1)
	for i := 1; i <= len(name); i++ {
		cur[0] = i
		rowMin := i
		for j := 1; j <= len(line); j++ {
			sub := prev[j-1]
			if name[i-1] != line[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > limit {
			return 0 // a row's minimum never decreases further down
		}
		prev, cur = cur, prev
	}
	d := slices.Min(prev) // a free end anywhere in line
	return max(0, 1-float64(d)/float64(len(name)))
}

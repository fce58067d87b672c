package patternset

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Field names of a correction, as the data pool stores them.
const (
	FieldMerchant     = "merchant"
	FieldCategory     = "category"
	FieldAmount       = "amount"
	FieldDate         = "date"
	FieldCardLastFour = "card_last_four"
)

// Pattern kinds.
const (
	// KindText: the OCR text contains the phrase → the field is
	// CorrectedValue. Pattern is the phrase as a case-insensitive,
	// word-bounded regexp; Phrases holds the phrase itself (learned text
	// patterns have exactly one phrase).
	KindText = "text"
	// KindAlias: the OCR inference produced Pattern for the field (compared
	// by its value key, see Matcher) → the right value is CorrectedValue.
	KindAlias = "alias"
	// KindCategory: the receipt's merchant is Pattern → the field (the
	// category) is CorrectedValue.
	KindCategory = "category"
)

// Pattern is one learned mapping to a corrected value. The JSON shape is the
// architecture document's {"pattern","corrected_value","confidence",
// "frequency","last_seen"} plus identification and the counts the confidence
// comes from.
type Pattern struct {
	// ID is stable across versions: the same field, kind, phrase (or
	// original, or merchant) and value always get the same ID (see
	// PatternID), so a hit's PatternID means the same thing in every version.
	ID    string `json:"id"`
	Field string `json:"field"`
	Kind  string `json:"kind"`
	// Pattern is, by kind: the phrase regexp (text), the wrong original value
	// in its value-key form (alias), the merchant (category).
	Pattern string `json:"pattern"`
	// Phrases are the canonical phrases of a text pattern (what the Matcher
	// compiles). Empty for other kinds. When a hand-written text pattern has
	// none, Compile recovers them from a literal alternation in Pattern.
	Phrases        []string `json:"phrases,omitempty"`
	CorrectedValue string   `json:"corrected_value"`
	// Confidence is the smoothed precision of the pattern on the pool it was
	// learned from: (Frequency+1)/(Matched+2), rounded to 4 decimals.
	Confidence float64 `json:"confidence"`
	// Frequency is the number of pool examples the pattern matched whose
	// value was CorrectedValue (the true positives).
	Frequency int `json:"frequency"`
	// Matched is the number of pool examples, with a known value for the
	// field, that the pattern matched.
	Matched int `json:"matched"`
	// LastSeen is the time of the latest example counted in Frequency.
	LastSeen time.Time `json:"last_seen"`
}

// Set is a pattern set: the unit that is versioned, validated, served and
// rolled back. Patterns are grouped by field, the architecture document's
// shape; within a field they are sorted by kind, value and pattern.
type Set struct {
	// Version is the name the data pool gives the set ("v42"); Learn sets
	// it to Options.Version.
	Version string `json:"version"`
	// AsOf is the moment the set describes: the end of its learning window
	// (Options.Now, or the latest example). Learn never reads the clock;
	// the data pool records when it stored the version.
	AsOf     time.Time            `json:"as_of"`
	Patterns map[string][]Pattern `json:"patterns"`
	Stats    Stats                `json:"stats"`
}

// Stats describes how a set was learned; the data pool copies them into
// pattern_cache_versions (pattern_count, avg_pattern_confidence,
// based_on_corrections_count, the window).
type Stats struct {
	// Examples is the number of examples given to Learn, Used the number
	// left after the window and quality filters (based_on_corrections_count).
	Examples int `json:"examples"`
	Used     int `json:"used"`
	// Texts is the number of OCR texts read: Used when learning is exact,
	// the samples' size when it learned from a Pool with Sampling.
	Texts int `json:"texts,omitempty"`
	// WindowStart and WindowEnd bound the At of the examples used.
	WindowStart   time.Time      `json:"window_start"`
	WindowEnd     time.Time      `json:"window_end"`
	PatternCount  int            `json:"pattern_count"`
	AvgConfidence float64        `json:"avg_confidence"`
	ByKind        map[string]int `json:"by_kind,omitempty"`
	// SkippedFields lists requested fields that are never learned
	// (card_last_four: a global set must not carry a user's card).
	SkippedFields []string `json:"skipped_fields,omitempty"`
	Params        Params   `json:"params"`
}

// Params are the effective learning options, kept with the set so a version
// says how it was made.
type Params struct {
	Fields             []string `json:"fields"`
	AliasFields        []string `json:"alias_fields"`
	CategoryField      string   `json:"category_field,omitempty"`
	MinFrequency       int      `json:"min_frequency"`
	MinConfidence      float64  `json:"min_confidence"`
	MinPhraseShare     float64  `json:"min_phrase_share"`
	MaxPhrasesPerValue int      `json:"max_phrases_per_value"`
	MaxAliasesPerValue int      `json:"max_aliases_per_value"`
	MaxWords           int      `json:"max_words"`
	MaxTokens          int      `json:"max_tokens"`
	MinQuality         float64  `json:"min_quality"`
	WindowDays         float64  `json:"window_days"`
	StopWords          []string `json:"stop_words,omitempty"`
	// Sampling is how the texts were sampled (LearnPool); absent when
	// every text was read.
	Sampling *Sampling `json:"sampling,omitempty"`
}

// VersionNumber is the number of a version name ("v12" → 12); ok is false
// for anything else. Versions are numbered in the order they are made, so
// the number orders them (a metric, a comparison across replicas).
func VersionNumber(name string) (n uint64, ok bool) {
	if len(name) < 2 || len(name) > 20 || name[0] != 'v' {
		return 0, false
	}
	n, err := strconv.ParseUint(name[1:], 10, 32)
	return n, err == nil
}

// Count returns the number of patterns in the set.
func (s *Set) Count() int {
	if s == nil {
		return 0
	}
	n := 0
	for _, ps := range s.Patterns {
		n += len(ps)
	}
	return n
}

// AvgConfidence returns the mean confidence of the set's patterns (0 when it
// has none), rounded to 3 decimals like avg_pattern_confidence.
func (s *Set) AvgConfidence() float64 {
	n := s.Count()
	if n == 0 {
		return 0
	}
	var sum float64
	for _, ps := range s.Patterns {
		for _, p := range ps {
			sum += p.Confidence
		}
	}
	return math.Round(sum/float64(n)*1000) / 1000
}

// Fields returns the fields that have patterns, sorted.
func (s *Set) Fields() []string {
	if s == nil {
		return nil
	}
	out := make([]string, 0, len(s.Patterns))
	for f, ps := range s.Patterns {
		if len(ps) > 0 {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return out
}

// All returns every pattern, ordered by field then as stored.
func (s *Set) All() []Pattern {
	var out []Pattern
	for _, f := range s.Fields() {
		out = append(out, s.Patterns[f]...)
	}
	return out
}

// identity is what makes two patterns "the same pattern" across versions:
// field, kind, what is matched (canonical phrases, or the value key of the
// original or merchant) and the value it maps to. Confidence and counts are
// not part of it: they are what changes between versions.
func identity(p Pattern) string {
	var what string
	switch p.Kind {
	case KindText:
		phrases := p.Phrases
		if len(phrases) == 0 {
			phrases, _ = phrasesFromRegexp(p.Pattern)
		}
		c := make([]string, 0, len(phrases))
		for _, ph := range phrases {
			c = append(c, CanonicalPhrase(ph))
		}
		slices.Sort(c)
		what = strings.Join(c, "|")
		if what == "" {
			what = p.Pattern
		}
	default:
		what = valueKey(p.Pattern)
	}
	return p.Field + "\x1f" + p.Kind + "\x1f" + what + "\x1f" + strings.TrimSpace(p.CorrectedValue)
}

// PatternID returns the stable ID of a pattern: a kind letter and the first
// 48 bits of the SHA-256 of its identity (field, kind, phrase or value key,
// corrected value), e.g. "t_3f2a9c1d0e4b".
func PatternID(p Pattern) string {
	sum := sha256.Sum256([]byte(identity(p)))
	prefix := "x"
	if p.Kind != "" {
		prefix = p.Kind[:1]
	}
	return prefix + "_" + hex.EncodeToString(sum[:6])
}

var kindOrder = map[string]int{KindText: 0, KindAlias: 1, KindCategory: 2}

func comparePatterns(a, b Pattern) int {
	if c := kindOrder[a.Kind] - kindOrder[b.Kind]; c != 0 {
		return c
	}
	if c := strings.Compare(a.CorrectedValue, b.CorrectedValue); c != 0 {
		return c
	}
	if c := strings.Compare(a.Pattern, b.Pattern); c != 0 {
		return c
	}
	return strings.Compare(identity(a), identity(b))
}

// sortPatterns puts every field's patterns in the canonical order.
func (s *Set) sortPatterns() {
	for _, ps := range s.Patterns {
		slices.SortFunc(ps, comparePatterns)
	}
}

// Hash returns a content hash of the set: SHA-256 (hex) over every pattern's
// field, kind, pattern, phrases, corrected value, confidence, frequency and
// matched count, in canonical order. It ignores the version name, the
// as-of time, the stats, IDs (derived) and last_seen, so two refreshes
// over the same corrections give the same hash even when run at different
// times.
func (s *Set) Hash() string {
	h := sha256.New()
	if s == nil {
		return hex.EncodeToString(h.Sum(nil))
	}
	type row struct {
		key string
		p   *Pattern
	}
	var rows []row
	for f, ps := range s.Patterns {
		for i := range ps {
			p := &ps[i]
			if p.Field == "" {
				q := *p
				q.Field = f
				p = &q
			}
			rows = append(rows, row{identity(*p), p})
		}
	}
	slices.SortFunc(rows, func(a, b row) int {
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		return strings.Compare(a.p.Pattern, b.p.Pattern)
	})
	// Each field as its length and bytes, so no two different sets can
	// write the same stream.
	var buf []byte
	field := func(v string) {
		buf = strconv.AppendInt(buf, int64(len(v)), 10)
		buf = append(buf, ':')
		buf = append(buf, v...)
	}
	for _, r := range rows {
		p := r.p
		buf = buf[:0]
		field(p.Field)
		field(p.Kind)
		field(p.Pattern)
		buf = strconv.AppendInt(buf, int64(len(p.Phrases)), 10)
		for _, ph := range p.Phrases {
			field(ph)
		}
		field(p.CorrectedValue)
		buf = strconv.AppendFloat(buf, p.Confidence, 'g', -1, 64)
		buf = append(buf, ' ')
		buf = strconv.AppendInt(buf, int64(p.Frequency), 10)
		buf = append(buf, ' ')
		buf = strconv.AppendInt(buf, int64(p.Matched), 10)
		buf = append(buf, '\n')
		h.Write(buf)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ErrInvalid is wrapped by every error Validate and Compile return for a
// malformed set.
var ErrInvalid = errors.New("patternset: invalid set")

// Validate checks that a set, typically read back from the database or
// Redis, can be compiled: known kinds, a field on every pattern matching its
// group, a non-empty value, a confidence in [0,1], non-negative counts,
// something to match (a phrase with at least one token, or a non-empty
// value key), and no two patterns with the same identity.
func (s *Set) Validate() error {
	if s == nil {
		return fmt.Errorf("%w: nil set", ErrInvalid)
	}
	seen := make(map[string]lazyWhere)
	for _, f := range s.Fields() {
		if strings.TrimSpace(f) == "" {
			return fmt.Errorf("%w: empty field name", ErrInvalid)
		}
		for i, p := range s.Patterns[f] {
			where := lazyWhere{f, i}
			if p.Field != "" && p.Field != f {
				return fmt.Errorf("%w: %s: field %q stored under %q", ErrInvalid, where, p.Field, f)
			}
			p.Field = f
			if _, ok := kindOrder[p.Kind]; !ok {
				return fmt.Errorf("%w: %s: unknown kind %q", ErrInvalid, where, p.Kind)
			}
			if strings.TrimSpace(p.CorrectedValue) == "" {
				return fmt.Errorf("%w: %s: empty corrected_value", ErrInvalid, where)
			}
			if math.IsNaN(p.Confidence) || p.Confidence < 0 || p.Confidence > 1 {
				return fmt.Errorf("%w: %s: confidence %v outside [0,1]", ErrInvalid, where, p.Confidence)
			}
			if p.Frequency < 0 || p.Matched < 0 {
				return fmt.Errorf("%w: %s: negative count", ErrInvalid, where)
			}
			switch p.Kind {
			case KindText:
				if _, err := textPhrases(p); err != nil {
					return fmt.Errorf("%w: %s: %v", ErrInvalid, where, err)
				}
			default:
				if valueKey(p.Pattern) == "" {
					return fmt.Errorf("%w: %s: pattern %q has no non-numeric word to match", ErrInvalid, where, p.Pattern)
				}
			}
			id := identity(p)
			if prev, dup := seen[id]; dup {
				return fmt.Errorf("%w: %s: same pattern as %s", ErrInvalid, where, prev)
			}
			seen[id] = where
		}
	}
	return nil
}

// lazyWhere names a pattern in an error message; formatted only when used.
type lazyWhere struct {
	field string
	i     int
}

func (w lazyWhere) String() string { return fmt.Sprintf("patterns[%q][%d]", w.field, w.i) }

// textPhrases returns the canonical phrases a text pattern matches.
func textPhrases(p Pattern) ([]string, error) {
	phrases := p.Phrases
	if len(phrases) == 0 {
		var ok bool
		if phrases, ok = phrasesFromRegexp(p.Pattern); !ok {
			return nil, fmt.Errorf("text pattern %q has no phrases and is not a literal alternation", p.Pattern)
		}
	}
	out := make([]string, 0, len(phrases))
	for _, ph := range phrases {
		c := CanonicalPhrase(ph)
		if c == "" {
			return nil, fmt.Errorf("phrase %q has no word", ph)
		}
		out = append(out, c)
	}
	return out, nil
}

// Parse decodes a set from its JSON form and validates it.
func Parse(data []byte) (*Set, error) {
	var s Set
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("patternset: decode: %w", err)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

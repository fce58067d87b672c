package patternset

import (
	"slices"
	"strings"
)

// SetDiff is what changed from one set to another, for GET /patterns/diff.
// Patterns are the same when their identity is (field, kind, phrase or
// original or merchant, corrected value; see PatternID); a pattern whose
// confidence or counts changed is Changed. last_seen alone is not a change.
type SetDiff struct {
	From      string    `json:"from"`
	To        string    `json:"to"`
	Added     []Pattern `json:"added"`
	Removed   []Pattern `json:"removed"`
	Changed   []Change  `json:"changed"`
	Unchanged int       `json:"unchanged"`
}

// Change is one pattern in both sets with different content.
type Change struct {
	ID    string  `json:"id"`
	Field string  `json:"field"`
	Kind  string  `json:"kind"`
	From  Pattern `json:"from"`
	To    Pattern `json:"to"`
	// ConfidenceDelta is To.Confidence - From.Confidence.
	ConfidenceDelta float64 `json:"confidence_delta"`
}

// Empty reports whether the sets have the same patterns.
func (d SetDiff) Empty() bool {
	return len(d.Added) == 0 && len(d.Removed) == 0 && len(d.Changed) == 0
}

// Diff compares a (older) with b (newer). Either may be nil (an empty
// set). Every list is in canonical order (field, kind, value, pattern).
func Diff(a, b *Set) SetDiff {
	d := SetDiff{Added: []Pattern{}, Removed: []Pattern{}, Changed: []Change{}}
	if a != nil {
		d.From = a.Version
	}
	if b != nil {
		d.To = b.Version
	}
	index := func(s *Set) map[string]Pattern {
		out := make(map[string]Pattern)
		if s == nil {
			return out
		}
		for f, ps := range s.Patterns {
			for _, p := range ps {
				if p.Field == "" {
					p.Field = f
				}
				if p.ID == "" {
					p.ID = PatternID(p)
				}
				out[identity(p)] = p
			}
		}
		return out
	}
	ia, ib := index(a), index(b)
	for k, pa := range ia {
		pb, ok := ib[k]
		switch {
		case !ok:
			d.Removed = append(d.Removed, pa)
		case sameContent(pa, pb):
			d.Unchanged++
		default:
			d.Changed = append(d.Changed, Change{ID: pb.ID, Field: pb.Field, Kind: pb.Kind, From: pa, To: pb,
				ConfidenceDelta: round4(pb.Confidence - pa.Confidence)})
		}
	}
	for k, pb := range ib {
		if _, ok := ia[k]; !ok {
			d.Added = append(d.Added, pb)
		}
	}
	byField := func(x, y Pattern) int {
		if c := strings.Compare(x.Field, y.Field); c != 0 {
			return c
		}
		return comparePatterns(x, y)
	}
	slices.SortFunc(d.Added, byField)
	slices.SortFunc(d.Removed, byField)
	slices.SortFunc(d.Changed, func(x, y Change) int { return byField(x.To, y.To) })
	return d
}

func sameContent(a, b Pattern) bool {
	return a.Pattern == b.Pattern && slices.Equal(a.Phrases, b.Phrases) && a.CorrectedValue == b.CorrectedValue &&
		a.Confidence == b.Confidence && a.Frequency == b.Frequency && a.Matched == b.Matched
}

package patternset

import (
	"encoding/json"
	"slices"
	"testing"
	"time"
)

func TestDiff(t *testing.T) {
	t.Parallel()
	uber := tp(FieldMerchant, "uber", "Uber", 0.9)
	lyft := tp(FieldMerchant, "lyft", "Lyft", 0.8)
	trip := tp(FieldMerchant, "trip with", "Uber", 0.7)
	alias := Pattern{Field: FieldMerchant, Kind: KindAlias, Pattern: "UBFR", CorrectedValue: "Uber", Confidence: 0.8, Frequency: 4, Matched: 4}
	cat := Pattern{Field: FieldCategory, Kind: KindCategory, Pattern: "Uber", CorrectedValue: "Transport", Confidence: 0.9}

	a := setOf(uber, lyft, trip, alias, cat)
	a.Version = "v3"

	uber2 := uber
	uber2.Confidence, uber2.Frequency, uber2.Matched = 0.95, 30, 31
	trip2 := trip // now predicts Lyft: a different pattern
	trip2.CorrectedValue = "Lyft"
	trip2.ID = PatternID(trip2)
	alias2 := alias // only seen later: not a change
	alias2.LastSeen = time.Now()
	grab := tp(FieldMerchant, "grab", "Grab", 0.85)
	b := setOf(uber2, trip2, alias2, cat, grab)
	b.Version = "v4"

	d := Diff(a, b)
	ids := func(ps []Pattern) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.ID)
		}
		return out
	}
	if d.From != "v3" || d.To != "v4" {
		t.Errorf("From/To = %q/%q", d.From, d.To)
	}
	if got, want := ids(d.Added), []string{grab.ID, trip2.ID}; !slices.Equal(got, want) {
		t.Errorf("added %q, want %q", got, want)
	}
	if got, want := ids(d.Removed), []string{lyft.ID, trip.ID}; !slices.Equal(got, want) {
		t.Errorf("removed %q, want %q", got, want)
	}
	if len(d.Changed) != 1 || d.Changed[0].ID != uber.ID || d.Changed[0].From.Confidence != 0.9 ||
		d.Changed[0].To.Confidence != 0.95 || d.Changed[0].ConfidenceDelta != 0.05 {
		t.Errorf("changed = %+v", d.Changed)
	}
	if d.Unchanged != 2 || d.Empty() {
		t.Errorf("unchanged = %d, empty = %v", d.Unchanged, d.Empty())
	}

	if d := Diff(a, a); !d.Empty() || d.Unchanged != a.Count() {
		t.Errorf("Diff(a, a) = %+v", d)
	}
	if d := Diff(nil, a); len(d.Added) != a.Count() || len(d.Removed) != 0 {
		t.Errorf("Diff(nil, a): %d added", len(d.Added))
	}
	if d := Diff(a, nil); len(d.Removed) != a.Count() {
		t.Errorf("Diff(a, nil): %d removed", len(d.Removed))
	}
	// Lists are never null in JSON.
	data, _ := json.Marshal(Diff(nil, nil))
	if string(data) != `{"from":"","to":"","added":[],"removed":[],"changed":[],"unchanged":0}` {
		t.Errorf("empty diff JSON = %s", data)
	}
}

// Diff between two learned versions of a growing pool.
func TestDiffLearned(t *testing.T) {
	t.Parallel()
	ex := synthExamples(13, 30, 900)
	a := Learn(ex[:600], Options{Version: "v1"})
	b := Learn(ex, Options{Version: "v2"})
	d := Diff(a, b)
	if d.Empty() {
		t.Fatal("no difference after 300 more corrections")
	}
	if got := len(d.Added) - len(d.Removed); got != b.Count()-a.Count() {
		t.Errorf("added-removed = %d, count difference %d", got, b.Count()-a.Count())
	}
	if d.Unchanged+len(d.Changed)+len(d.Removed) != a.Count() {
		t.Errorf("every pattern of v1 must be unchanged, changed or removed")
	}
}

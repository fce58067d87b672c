package patternset

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestEvaluate(t *testing.T) {
	t.Parallel()
	m := mustCompile(t, setOf(
		tp(FieldMerchant, "uber", "Uber", 0.9),
		tp(FieldMerchant, "trip with", "Lyft", 0.6), // wrong for Uber's receipts
		Pattern{Field: FieldCategory, Kind: KindCategory, Pattern: "Uber", CorrectedValue: "Transport", Confidence: 0.8},
		Pattern{Field: FieldMerchant, Kind: KindAlias, Pattern: "STRBKS", CorrectedValue: "Starbucks", Confidence: 0.7},
	))
	ex := func(text, orig, merchant, category string) Example {
		return Example{Text: text, Original: map[string]string{FieldMerchant: orig},
			Corrected: map[string]string{FieldMerchant: merchant, FieldCategory: category}}
	}
	holdout := []Example{
		ex("UBER trip", "", "Uber", "Transport"),  // merchant right, category right
		ex("your trip with", "", "Uber", "Rides"), // merchant wrong (Lyft), no category (Lyft has none)
		ex("latte", "STRBKS", "Starbucks", ""),    // alias right; category unknown
		ex("nothing", "", "Corner Shop", "Food"),  // no answer
		ex("uber", "", "", ""),                    // no truth: not counted
	}
	sc := Evaluate(m, holdout, nil)
	want := map[string]FieldScore{
		FieldMerchant: {Examples: 4, Predicted: 3, Correct: 2, Accuracy: 0.6667, Coverage: 0.75, Recall: 0.5, ErrorRate: 0.25,
			MeanConfidence: round4((0.9 + 0.6 + 0.7) / 3)},
		FieldCategory: {Examples: 3, Predicted: 1, Correct: 1, Accuracy: 1, Coverage: 0.3333, Recall: 0.3333, ErrorRate: 0,
			MeanConfidence: 0.72},
	}
	if sc.Examples != 5 || sc.Version != "t1" {
		t.Errorf("Examples/Version = %d/%q", sc.Examples, sc.Version)
	}
	for f, w := range want {
		if got := sc.Fields[f]; got != w {
			t.Errorf("%s: %+v\nwant %+v", f, got, w)
		}
	}
	// No matcher: never answers.
	none := Evaluate(nil, holdout, []string{FieldMerchant})
	if fs := none.Fields[FieldMerchant]; fs.Examples != 4 || fs.Predicted != 0 || len(none.Fields) != 1 {
		t.Errorf("nil matcher: %+v", none)
	}
}

func TestNotWorse(t *testing.T) {
	t.Parallel()
	score := func(recall, accuracy float64) Score {
		return Score{Version: "v", Fields: map[string]FieldScore{FieldMerchant: {Recall: recall, Accuracy: accuracy}}}
	}
	tests := []struct {
		name              string
		candidate, active Score
		tolerance         float64
		ok                bool
	}{
		{"equal", score(0.8, 0.95), score(0.8, 0.95), 0, true},
		{"better on both", score(0.85, 0.96), score(0.8, 0.95), 0, true},
		{"fewer right answers", score(0.79, 0.95), score(0.8, 0.95), 0, false},
		{"within tolerance", score(0.795, 0.946), score(0.8, 0.95), 0.005, true},
		{"more coverage, less accurate", score(0.9, 0.92), score(0.8, 0.95), 0.01, false},
		{"as many right, never wrong", score(0.8, 1), score(0.8, 0.95), 0, true},
		{"first version vs nothing", score(0.5, 0.8), Evaluate(nil, nil, nil), 0, true},
		{"a field the candidate lost", Score{Fields: map[string]FieldScore{}}, score(0.3, 0.9), 0, false},
	}
	for _, tt := range tests {
		ok, reasons := tt.candidate.NotWorse(tt.active, tt.tolerance)
		if ok != tt.ok || ok != (len(reasons) == 0) {
			t.Errorf("%s: NotWorse = %v %q, want %v", tt.name, ok, reasons, tt.ok)
		}
	}
	_, reasons := score(0.7, 0.8).NotWorse(score(0.8, 0.95), 0)
	if len(reasons) != 2 || !strings.Contains(reasons[0], "recall") || !strings.Contains(reasons[1], "accuracy") {
		t.Errorf("reasons = %q", reasons)
	}
}

func TestSplit(t *testing.T) {
	t.Parallel()
	var ex []Example
	for i := range 10000 {
		ex = append(ex, Example{ID: fmt.Sprintf("c-%d", i)})
	}
	learn, holdout := Split(ex, 10)
	if len(learn)+len(holdout) != len(ex) {
		t.Fatalf("lost examples: %d + %d", len(learn), len(holdout))
	}
	if share := float64(len(holdout)) / float64(len(ex)); math.Abs(share-0.10) > 0.015 {
		t.Errorf("held out %.3f, want about 0.10", share)
	}
	in := make(map[string]bool)
	for _, e := range holdout {
		in[e.ID] = true
	}
	// Stable: the same IDs whatever the order and the rest of the pool.
	rev := slices.Clone(ex[:3000])
	slices.Reverse(rev)
	rev = append(rev, Example{ID: "brand-new"})
	_, h2 := Split(rev, 10)
	for _, e := range h2 {
		if e.ID != "brand-new" && !in[e.ID] {
			t.Fatalf("%s held out in one split and not the other", e.ID)
		}
	}
	for _, e := range rev[:3000] {
		if in[e.ID] != Holdout(e.ID, 10) {
			t.Fatalf("Holdout(%s) disagrees with Split", e.ID)
		}
	}
	// Order is kept.
	if !slices.IsSortedFunc(learn, func(a, b Example) int {
		var x, y int
		fmt.Sscanf(a.ID, "c-%d", &x)
		fmt.Sscanf(b.ID, "c-%d", &y)
		return x - y
	}) {
		t.Error("Split reordered the examples")
	}
	// A bigger slice contains the smaller one.
	for _, e := range holdout {
		if !Holdout(e.ID, 20) {
			t.Fatalf("%s in the 10%% slice but not the 20%% one", e.ID)
		}
	}
	for _, pct := range []int{-5, 0} {
		if l, h := Split(ex, pct); len(h) != 0 || len(l) != len(ex) {
			t.Errorf("pct %d: %d held out", pct, len(h))
		}
	}
	for _, pct := range []int{100, 150} {
		if l, h := Split(ex, pct); len(l) != 0 || len(h) != len(ex) {
			t.Errorf("pct %d: %d learned", pct, len(l))
		}
	}
}

// The validation gate end to end: learn on the learning slice, compare
// with an older, smaller version on the held-out slice.
func TestGateOnSyntheticPool(t *testing.T) {
	t.Parallel()
	ex := synthExamples(12, 60, 1500)
	learn, holdout := Split(ex, 20)
	older := mustCompile(t, Learn(learn[:len(learn)/4], Options{Version: "v1"}))
	newer := mustCompile(t, Learn(learn, Options{Version: "v2"}))
	so, sn := Evaluate(older, holdout, nil), Evaluate(newer, holdout, nil)
	if ok, reasons := sn.NotWorse(so, 0.005); !ok {
		t.Errorf("v2 learned on 4x the data is worse: %q\nv1 %+v\nv2 %+v", reasons, so, sn)
	}
	if m := sn.Fields[FieldMerchant]; m.Recall < 0.9 || m.Accuracy < 0.95 {
		t.Errorf("merchant on held-out receipts: %+v", m)
	}
}

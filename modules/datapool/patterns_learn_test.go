package datapool

import (
	"context"
	"math"
	"testing"

	"github.com/ocrpool/ocrpool/modules/patternset"
)

// The learning queries select the held-out slice and the samples in SQL:
// their hashes must be patternset's, on both databases.
func TestLearnSQLMirrorsPatternsetHashes(t *testing.T) {
	env := newTestEnv(t, withClock(fixedNow))
	seedBench(t, env, 300, 10)          // UUID v4, upper and lower halves of the key space
	ingestAll(t, env.svc, uberPool(20)) // UUID v7, as ingest makes them
	q := env.svc.patterns.learnSQL()
	rows, err := env.db.Gorm.Raw(`SELECT id, ` + q.holdoutDigits + `, ` + q.sampleKey + ` FROM corrections_master`).Rows()
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var (
			id     string
			digits uint64
			key    int64
		)
		if err := rows.Scan(&id, &digits, &key); err != nil {
			t.Fatal(err)
		}
		n++
		if got := patternset.SampleKey(id); int64(got) != key {
			t.Errorf("%s: SQL sample key %d, patternset %d", id, key, got)
		}
		for _, pct := range []int{1, 20, 50} {
			if got, want := digits < patternset.HoldoutBound(pct), patternset.Holdout(id, pct); got != want {
				t.Errorf("%s: SQL digits %d held out at %d%% = %v, patternset says %v", id, digits, pct, got, want)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 340 {
		t.Fatalf("checked %d rows, want 340", n)
	}
}

// textMerchants returns the merchants a set has text patterns for.
func textMerchants(s *patternset.Set) map[string]bool {
	out := map[string]bool{}
	for _, p := range s.Patterns[patternset.FieldMerchant] {
		if p.Kind == patternset.KindText {
			out[p.CorrectedValue] = true
		}
	}
	return out
}

func refreshedSet(t *testing.T, env *testEnv) *patternset.Set {
	t.Helper()
	ctx := context.Background()
	res, err := env.svc.RefreshPatterns(ctx, "test")
	if err != nil || !res.Created {
		t.Fatalf("refresh = %+v, %v", res, err)
	}
	row, err := env.svc.patterns.version(ctx, res.Version)
	if err != nil {
		t.Fatal(err)
	}
	set, err := patternset.Parse([]byte(row.PatternData))
	if err != nil {
		t.Fatal(err)
	}
	if row.ContentHash == nil || *row.ContentHash != set.Hash() {
		t.Fatalf("stored hash %v, set hash %s", row.ContentHash, set.Hash())
	}
	return set
}

// A refresh over a pool larger than its samples reads a bounded share of
// the texts, learns the same set from the same pool (in another database
// too: the samples are chosen by hash, not at random), and loses no
// merchant whose receipts recur with their own phrases.
func TestRefreshSampling(t *testing.T) {
	const n, merchants = 3000, 30
	small := patternset.Sampling{PerValue: 12, Pool: 300}
	tests := []struct {
		name     string
		sampling patternset.Sampling
		holdout  int
		sampled  bool
	}{
		{"exact", patternset.Sampling{PerValue: math.MaxInt32, Pool: math.MaxInt32}, math.MaxInt32, false},
		{"sampled", small, 200, true},
		{"sampled again", small, 200, true},
	}
	sets := make([]*patternset.Set, len(tests))
	for i, tt := range tests {
		env := newTestEnv(t, withClock(fixedNow))
		env.svc.patterns.sampling, env.svc.patterns.holdoutSample = tt.sampling, tt.holdout
		seedBench(t, env, n, merchants)
		set := refreshedSet(t, env)
		sets[i] = set
		if tt.sampled != (set.Stats.Texts < set.Stats.Used) {
			t.Errorf("%s: read %d texts of %d corrections", tt.name, set.Stats.Texts, set.Stats.Used)
		}
		if tt.sampled && set.Stats.Texts > merchants*tt.sampling.PerValue*2+tt.sampling.Pool*2 {
			t.Errorf("%s: read %d texts, want about %d per merchant and category and %d of the pool", tt.name, set.Stats.Texts, tt.sampling.PerValue, tt.sampling.Pool)
		}
		// Nothing new: the same hash, no new version.
		res, err := env.svc.RefreshPatterns(context.Background(), "test")
		if err != nil || res.Created {
			t.Errorf("%s: second refresh = %+v, %v; want no new version", tt.name, res, err)
		}
	}
	exact, sampled := sets[0], sets[1]
	if sampled.Hash() != sets[2].Hash() {
		t.Errorf("the same pool in two databases gave different sets: %s, %s", sampled.Hash(), sets[2].Hash())
	}
	if exact.Stats.Used != sampled.Stats.Used {
		t.Errorf("used %d corrections exactly, %d sampled: counts must not be sampled", exact.Stats.Used, sampled.Stats.Used)
	}
	want, got := textMerchants(exact), textMerchants(sampled)
	lost := 0
	for m := range want {
		if !got[m] {
			lost++
		}
	}
	if len(want) < merchants*3/4 || lost > len(want)/20 {
		t.Errorf("exact learning found text patterns for %d merchants; sampling lost %d of them", len(want), lost)
	}
	// Aliases and merchant → category need only counts: identical.
	for _, kind := range []string{patternset.KindAlias, patternset.KindCategory} {
		count := func(s *patternset.Set) (k int) {
			for _, p := range s.All() {
				if p.Kind == kind {
					k++
				}
			}
			return k
		}
		if count(exact) != count(sampled) || count(exact) == 0 {
			t.Errorf("%s patterns: %d exact, %d sampled", kind, count(exact), count(sampled))
		}
	}
}

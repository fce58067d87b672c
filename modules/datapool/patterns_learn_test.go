package datapool

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocrpool/ocrpool/modules/patternset"
)

// The learning queries select the held-out slice and the samples in SQL:
// their keys must compare with their bounds as patternset's hashes do, on
// both databases, at the edges of the key space too.
func TestLearnSQLMirrorsPatternsetHashes(t *testing.T) {
	env := newTestEnv(t, withClock(fixedNow))
	seedBench(t, env, 300, 10)          // UUID v4, upper and lower halves of the key space
	ingestAll(t, env.svc, uberPool(20)) // UUID v7, as ingest makes them
	q := env.svc.patterns.learnSQL()
	var ids []string
	if err := env.db.Gorm.Raw(`SELECT id FROM corrections_master`).Scan(&ids).Error; err != nil {
		t.Fatal(err)
	}
	if len(ids) != 340 {
		t.Fatalf("%d rows, want 340", len(ids))
	}
	// Bounds at and next to some rows' own keys, and the ends.
	samples := []uint64{0, 1, 1 << 31, 1<<32 - 1, 1 << 32, 1 << 40}
	for _, id := range ids[:5] {
		k := uint64(patternset.SampleKey(id))
		samples = append(samples, k, k+1)
	}
	for _, pct := range []int{0, 1, 20, 50, 100} {
		for _, thr := range samples {
			rows, err := env.db.Gorm.Raw(`SELECT id, `+q.holdoutKey+` < ?, `+q.sampleKey+` < ? FROM corrections_master`,
				q.bound(patternset.HoldoutBound(pct), holdoutDigits), q.bound(thr, sampleDigits)).Rows()
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var (
					id          string
					held, below bool
				)
				if err := rows.Scan(&id, &held, &below); err != nil {
					t.Fatal(err)
				}
				if want := patternset.Holdout(id, pct); held != want {
					t.Errorf("%s: held out at %d%% in SQL = %v, patternset says %v", id, pct, held, want)
				}
				if want := uint64(patternset.SampleKey(id)) < thr; below != want {
					t.Errorf("%s: sample key below %d in SQL = %v, patternset says %v", id, thr, below, want)
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			rows.Close()
		}
	}
}

func TestBoundHex(t *testing.T) {
	tests := []struct {
		t      uint64
		digits int
		want   string
	}{
		{0, 8, "00000000"},
		{0xa3d, 8, "00000a3d"},
		{1<<32 - 1, 8, "ffffffff"},
		{1 << 32, 8, "ffffffffff"},
		{13108, 4, "3334"},
		{1 << 16, 4, "ffffff"},
	}
	for _, tt := range tests {
		if got := boundHex(tt.t, tt.digits); got != tt.want {
			t.Errorf("boundHex(%d, %d) = %q, want %q", tt.t, tt.digits, got, tt.want)
		}
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

// The sampling pass reads exactly the rows patternset.Sampling says it
// must: each learned row whose sample key is below the pool's threshold or
// that of its merchant or category value, whichever column the value comes
// from (a corrected value, or an original one the user left), and each
// held-out row below the holdout's threshold.
func TestReadLearningPoolSamplesByRule(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t, withClock(fixedNow))
	seedBench(t, env, 3000, 30)
	// A third of the rows leave merchant and category to OCR: their values
	// are the originals (or none, where the user named the field).
	if err := env.db.Gorm.Exec(`UPDATE corrections_master SET corrected_merchant = NULL, corrected_category = NULL
		WHERE substr(CAST(id AS text), 1, 1) IN ('0', '1', '2', '3', '4')`).Error; err != nil {
		t.Fatal(err)
	}
	smp := patternset.Sampling{PerValue: 5, Pool: 100}
	env.svc.patterns.sampling, env.svc.patterns.holdoutSample = smp, 50
	env.svc.patterns.groupChunk = 7 // groups are normalised in many chunks, the last one short
	f := learningFilter{From: fixedNow().Add(-90 * 24 * time.Hour), To: fixedNow(), MinQuality: 0.5, HoldoutPct: 20, MinFrequency: 3}
	pool, err := env.svc.patterns.readLearningPool(ctx, f, env.svc.learningValues)
	if err != nil {
		t.Fatal(err)
	}

	// The rule, row by row in Go.
	var rows []struct {
		ID                                   string
		CorrectedMerchant, CorrectedCategory sql.NullString
		OriginalInference                    string
		FieldsCorrected                      textList
		DataQualityScore                     string
		IsOutlier                            bool
		CreatedAt                            time.Time
	}
	if err := env.db.Gorm.Table("corrections_master").Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	type row struct {
		id       string
		held     bool
		values   map[string]string
		original bool
	}
	var learn []row
	var held []string
	counts := map[string]map[string]int{}
	originals := 0
	for _, r := range rows {
		q, _ := strconv.ParseFloat(r.DataQualityScore, 64)
		at := r.CreatedAt.UTC()
		if r.IsOutlier || q < f.MinQuality || !at.After(f.From) || at.After(f.To) {
			continue
		}
		if patternset.Holdout(r.ID, f.HoldoutPct) {
			held = append(held, r.ID)
			continue
		}
		var orig Fields
		if err := json.Unmarshal([]byte(r.OriginalInference), &orig); err != nil {
			t.Fatal(err)
		}
		rv := rawValues{Merchant: nullText(r.CorrectedMerchant), Category: nullText(r.CorrectedCategory),
			OrigMerchant: nullText{String: string(orig.Merchant), Valid: true}, OrigCategory: nullText{String: string(orig.Category), Valid: true}}
		rv.MerchantFixed = r.CorrectedMerchant.String == "" && slices.Contains(r.FieldsCorrected.Items, "merchant")
		rv.CategoryFixed = r.CorrectedCategory.String == "" && slices.Contains(r.FieldsCorrected.Items, "category")
		_, corrected := env.svc.learningValues(rv)
		if r.CorrectedMerchant.String == "" && corrected[patternset.FieldMerchant] != "" {
			originals++
		}
		for field, v := range corrected {
			if counts[field] == nil {
				counts[field] = map[string]int{}
			}
			counts[field][v]++
		}
		learn = append(learn, row{id: r.ID, values: corrected})
	}
	if originals == 0 {
		t.Fatal("no learned row takes its merchant from the original: the test needs some")
	}
	poolThr := smp.PoolThreshold(len(learn))
	wantTexts := map[string]bool{}
	for _, r := range learn {
		thr := poolThr
		for field, v := range r.values {
			if n := counts[field][v]; n >= f.MinFrequency {
				thr = max(thr, smp.ValueThreshold(n, len(learn)))
			}
		}
		if uint64(patternset.SampleKey(r.id)) < thr {
			wantTexts[r.id] = true
		}
	}
	wantHeld := map[string]bool{}
	for _, id := range held {
		if uint64(patternset.SampleKey(id)) < patternset.Threshold(50, len(held)) {
			wantHeld[id] = true
		}
	}

	gotTexts, gotHeld := map[string]bool{}, map[string]bool{}
	for _, e := range pool.Pool.Texts {
		gotTexts[e.ID] = true
	}
	for _, e := range pool.Holdout {
		gotHeld[e.ID] = true
	}
	if pool.Learn != len(learn) || pool.Held != len(held) {
		t.Errorf("counted %d learned and %d held out, want %d and %d", pool.Learn, pool.Held, len(learn), len(held))
	}
	if len(wantTexts) == len(learn) || len(wantTexts) == 0 {
		t.Fatalf("the rule samples %d of %d rows: the test needs a real sample", len(wantTexts), len(learn))
	}
	if !maps.Equal(gotTexts, wantTexts) {
		t.Errorf("sampled %d learned rows, the rule says %d (%d missing, %d extra)", len(gotTexts), len(wantTexts),
			countMissing(wantTexts, gotTexts), countMissing(gotTexts, wantTexts))
	}
	if !maps.Equal(gotHeld, wantHeld) {
		t.Errorf("sampled %d held-out rows, the rule says %d", len(gotHeld), len(wantHeld))
	}
}

// countMissing counts the keys of want that got lacks.
func countMissing(want, got map[string]bool) (n int) {
	for k := range want {
		if !got[k] {
			n++
		}
	}
	return n
}

func TestNumbered(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"a = ? AND b < ?", "a = $1 AND b < $2"},
		{"?,?,?,?,?,?,?,?,?,?,?", "$1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11"},
		{"é = ?", "é = $1"},
	}
	for _, tt := range tests {
		if got := numbered(tt.in); got != tt.want {
			t.Errorf("numbered(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// A refresh whose context ends while it reads the pool returns the
// context's error, stores nothing, and leaves no broken connection behind:
// the refreshes after it succeed (PostgreSQL reads through pgx, outside
// database/sql's own handling of a cancelled query).
func TestReadLearningPoolCancelled(t *testing.T) {
	env := newTestEnv(t, withClock(fixedNow))
	env.svc.patterns.sampling, env.svc.patterns.holdoutSample = patternset.Sampling{PerValue: 5, Pool: 100}, 50
	env.svc.patterns.groupChunk = 7
	seedBench(t, env, 2000, 20)
	f := learningFilter{From: fixedNow().Add(-90 * 24 * time.Hour), To: fixedNow(), MinQuality: 0.5, HoldoutPct: 10, MinFrequency: 3}
	// Cancelled while the groups are normalised: the rest of the groups
	// or the sampling query meets the cancelled context.
	ctx, cancel := context.WithCancel(context.Background())
	_, err := env.svc.patterns.readLearningPool(ctx, f, func(rv rawValues) (map[string]string, map[string]string) {
		cancel()
		return env.svc.learningValues(rv)
	})
	cancel()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("read with a cancelled context = %v, want context.Canceled", err)
	}
	for i := range 3 {
		if _, err := env.svc.patterns.readLearningPool(context.Background(), f, env.svc.learningValues); err != nil {
			t.Fatalf("read %d after the cancelled ones: %v", i, err)
		}
	}
	if set := refreshedSet(t, env); set.Count() == 0 {
		t.Fatal("the refresh after the cancelled reads learned nothing")
	}
}

// TestValuesKey: the key the groups' values are kept by tells apart what
// learning tells apart (NULL from empty, where one text ends), reads back
// to the same values, and is what readSamples builds while scanning, from
// either driver.
func TestValuesKey(t *testing.T) {
	text := func(s string) nullText { return nullText{String: s, Valid: true} }
	long := strings.Repeat("Zuzi Pharmacy ", 20) // a length over one varint byte
	cases := []rawValues{
		{},
		{Merchant: text(""), Category: text("")},
		{Merchant: text("Uber"), Category: text("travel"), OrigMerchant: text("UBER BV"), OrigCategory: text("transport")},
		{Merchant: text("Ub"), Category: text("ertravel")},
		{Merchant: text("Uber"), Category: text("travel")},
		{Merchant: text("a\x00b"), OrigMerchant: text(long), MerchantFixed: true},
		{OrigCategory: text("food"), CategoryFixed: true},
		{OrigCategory: text("food"), MerchantFixed: true},
	}
	seen := map[string]int{}
	for i, rv := range cases {
		key := rv.appendKey(nil)
		if j, dup := seen[string(key)]; dup {
			t.Errorf("cases %d and %d have the same key %q", j, i, key)
		}
		seen[string(key)] = i
		back, err := rawValuesOfKey(key)
		if err != nil || back != rv {
			t.Errorf("case %d: read back %+v, %v; want %+v", i, back, err, rv)
		}
		// What readSamples builds, through pgx's bytes and database/sql's
		// strings and byte slices.
		var viaBytes, viaString, viaSlice []byte
		for _, nt := range [...]nullText{rv.Merchant, rv.Category, rv.OrigMerchant, rv.OrigCategory} {
			var b []byte
			var s, sl any
			if nt.Valid {
				b, s, sl = []byte(nt.String), nt.String, []byte(nt.String)
			}
			if err := (keyText{&viaBytes}).ScanBytes(b); err != nil {
				t.Fatal(err)
			}
			if err := (keyText{&viaString}).Scan(s); err != nil {
				t.Fatal(err)
			}
			if err := (keyText{&viaSlice}).Scan(sl); err != nil {
				t.Fatal(err)
			}
		}
		for name, got := range map[string][]byte{"pgx": viaBytes, "string": viaString, "[]byte": viaSlice} {
			if got = appendKeyFlags(got, rv.MerchantFixed, rv.CategoryFixed); !bytes.Equal(got, key) {
				t.Errorf("case %d: scanned via %s gives %q, want %q", i, name, got, key)
			}
		}
	}
	if err := (keyText{new([]byte)}).Scan(42); err == nil {
		t.Error("scanning a number as text: no error")
	}
	for _, bad := range []string{"", "\x01", "\x01\x05ab", "\x00\x00\x00\x00", "\x00\x00\x00\x00\x00\x00\x00"} {
		if _, err := rawValuesOfKey([]byte(bad)); err == nil {
			t.Errorf("rawValuesOfKey(%q): no error", bad)
		}
	}
}

// FuzzValuesKey: any bytes read as a key give an error or values whose
// own key reads back to them; never a panic.
func FuzzValuesKey(f *testing.F) {
	f.Add([]byte("\x01\x04Uber\x00\x01\x00\x00\x00\x01"))
	f.Add([]byte("\x01\xff\x01"))
	f.Fuzz(func(t *testing.T, key []byte) {
		rv, err := rawValuesOfKey(key)
		if err != nil {
			return
		}
		if back, err := rawValuesOfKey(rv.appendKey(nil)); err != nil || back != rv {
			t.Fatalf("key %q reads as %+v, whose key reads as %+v, %v", key, rv, back, err)
		}
	})
}

// TestPrefilterSamples: the pre-filter lists the values whose rows are
// fewer than those a bound at their threshold would let through, and
// bounds the rest; none when everything would pass.
func TestPrefilterSamples(t *testing.T) {
	const space = uint64(1) << 32
	frac := func(f float64) uint64 { return uint64(f * float64(space)) }
	// 10,000 rows: one big merchant (threshold 1 %), three small ones
	// (thresholds 50–100 %, 4–20 rows), a category in between.
	counts := [4]map[string]int{{"Big": 6000, "Tiny": 4, "Small": 20}, {"SM4LL": 10}, {"food": 900}, {}}
	thr := [4]map[string]uint64{{"Big": frac(0.01), "Tiny": space, "Small": frac(0.6)}, {"SM4LL": frac(0.5)}, {"food": frac(0.02)}, {}}
	pf := prefilterSamples(10_000, frac(0.005), counts, thr)
	if pf == nil {
		t.Fatal("no pre-filter")
	}
	// Listing the three small values (34 rows) leaves the bound at 2 %:
	// 200 rows of the window, against 5,000 with nothing listed.
	if pf.bound != frac(0.02) {
		t.Errorf("bound = %.4f of the keys, want 0.02", float64(pf.bound)/float64(space))
	}
	want := samplePrefilter{bound: pf.bound, merchantCorrected: []string{"Tiny", "Small"}, merchantOriginal: []string{"SM4LL"}}
	if !slices.Equal(pf.merchantCorrected, want.merchantCorrected) || !slices.Equal(pf.merchantOriginal, want.merchantOriginal) ||
		len(pf.categoryCorrected)+len(pf.categoryOriginal) != 0 {
		t.Errorf("lists = %q %q %q %q, want %q %q and none", pf.merchantCorrected, pf.merchantOriginal, pf.categoryCorrected, pf.categoryOriginal,
			want.merchantCorrected, want.merchantOriginal)
	}
	// Every value big: nothing to list, the bound is the highest threshold.
	pf = prefilterSamples(10_000, frac(0.005), [4]map[string]int{{"A": 5000, "B": 5000}}, [4]map[string]uint64{{"A": frac(0.01), "B": frac(0.03)}})
	if pf == nil || pf.bound != frac(0.03) || len(pf.merchantCorrected) != 0 {
		t.Errorf("two big values: %+v, want the bound at 3 %% and no list", pf)
	}
	// A pool so small that listing costs more than reading it all.
	if pf := prefilterSamples(50, frac(0.5), [4]map[string]int{{"A": 50}}, [4]map[string]uint64{{"A": space}}); pf != nil {
		t.Errorf("a pool read whole: pre-filter %+v, want none", pf)
	}
	// No thresholds above the floor: the floor bounds.
	if pf := prefilterSamples(10_000, frac(0.1), [4]map[string]int{}, [4]map[string]uint64{}); pf == nil || pf.bound != frac(0.1) {
		t.Errorf("no thresholds: %+v, want the floor as the bound", pf)
	}
}

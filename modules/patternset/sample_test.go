package patternset

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

func TestSampleKeyAndHoldoutOfUUIDs(t *testing.T) {
	t.Parallel()
	sha := func(id string) [32]byte { return sha256.Sum256([]byte(id)) }
	tests := []struct {
		id        string
		key       uint32
		bucket    uint64
		fromDigit bool
	}{
		{"0190c3a2-7b1e-7c3d-8e4f-0123456789ab", 0x01234567, 0x89ab * 100 >> 16, true},
		{"0190C3A2-7B1E-7C3D-8E4F-0123456789AB", 0x01234567, 0x89ab * 100 >> 16, true}, // either case
		{"ffffffff-ffff-4fff-bfff-ffffffffffff", 0xffffffff, 99, true},
		{"ffffffff-ffff-4fff-bfff-ffffffff3333", 0xffffffff, 19, true}, // 0x3333 = 13107: the last of 20 %
		{"ffffffff-ffff-4fff-bfff-ffffffff3334", 0xffffffff, 20, true},
		{"00000000-0000-4000-8000-000000000000", 0, 0, true},
		// Not UUIDs: SHA-256.
		{"p-00001", 0, 0, false},
		{"0190c3a2-7b1e-7c3d-8e4f-0123456789ag", 0, 0, false}, // a non-hex digit
		{"0190c3a27b1e7c3d8e4f0123456789ab", 0, 0, false},     // no hyphens
		{"", 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			key, bucket := tt.key, tt.bucket
			if !tt.fromDigit {
				s := sha(tt.id)
				key, bucket = binary.BigEndian.Uint32(s[8:12]), binary.BigEndian.Uint64(s[:8])%100
			}
			if got := SampleKey(tt.id); got != key {
				t.Errorf("SampleKey = %#x, want %#x", got, key)
			}
			if got := holdoutBucket(tt.id); got != bucket {
				t.Errorf("bucket = %d, want %d", got, bucket)
			}
			for _, pct := range []int{0, 1, 20, 99, 100} {
				if got, want := Holdout(tt.id, pct), bucket < uint64(pct); got != want {
					t.Errorf("Holdout(%d) = %v, want %v", pct, got, want)
				}
				if tt.fromDigit {
					if got, want := hexValue(tt.id[32:]) < HoldoutBound(pct), bucket < uint64(pct); got != want {
						t.Errorf("x < HoldoutBound(%d) = %v, want %v", pct, got, want)
					}
				}
			}
		})
	}
}

// Random UUIDs spread evenly over buckets and keys, and the two are
// independent: the sample of the held-out slice is as uniform as the pool's.
func TestSampleKeySpread(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	const n = 20000
	held, sampled, both := 0, 0, 0
	thr := Threshold(n/10, n)
	for range n {
		id := fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", r.Uint32(), r.Uint32()&0xffff, r.Uint32()&0xfff, r.Uint32()&0x3fff|0x8000, r.Uint64()&0xffffffffffff)
		h, s := Holdout(id, 20), uint64(SampleKey(id)) < thr
		held += boolInt(h)
		sampled += boolInt(s)
		both += boolInt(h && s)
	}
	for _, c := range []struct {
		what      string
		got, want int
	}{{"held out", held, n / 5}, {"sampled", sampled, n / 10}, {"both", both, n / 50}} {
		if d := c.got - c.want; d*d > 9*c.want { // 3 standard deviations, roughly
			t.Errorf("%s: %d of %d, want about %d", c.what, c.got, n, c.want)
		}
	}
}

func TestThreshold(t *testing.T) {
	t.Parallel()
	tests := []struct {
		want, n int
		thr     uint64
	}{
		{0, 10, keySpace}, {10, 10, keySpace}, {11, 10, keySpace}, {-1, 10, keySpace},
		{1, 2, keySpace / 2}, {1, 4, keySpace / 4}, {1, 3, keySpace/3 + 1},
	}
	for _, tt := range tests {
		if got := Threshold(tt.want, tt.n); got != tt.thr {
			t.Errorf("Threshold(%d, %d) = %d, want %d", tt.want, tt.n, got, tt.thr)
		}
	}
	s := Sampling{PerValue: 10, Pool: 100}
	if got := s.ValueThreshold(1000, 1000); got != Threshold(100, 1000) {
		t.Errorf("a value is sampled at least at the pool's rate: %d", got)
	}
	if got := s.ValueThreshold(20, 10000); got != keySpace/2 {
		t.Errorf("ValueThreshold(20) = %d, want half", got)
	}
}

// asPool turns examples into what the data pool would read: one group per
// example and, for each, its text when sampling selects it.
func asPool(ex []Example, smp Sampling, fields ...string) Pool {
	p := Pool{Sampling: smp}
	for _, e := range ex {
		p.Groups = append(p.Groups, Group{Original: e.Original, Corrected: e.Corrected, Count: 1, First: e.At, Last: e.At})
	}
	counts := map[string]map[string]int{}
	for _, f := range fields {
		counts[f] = map[string]int{}
		for _, e := range ex {
			if v := truth(&e, f); v != "" {
				counts[f][v]++
			}
		}
	}
	for _, e := range ex {
		thr := smp.PoolThreshold(len(ex))
		for _, f := range fields {
			if v := truth(&e, f); v != "" {
				thr = max(thr, smp.ValueThreshold(counts[f][v], len(ex)))
			}
		}
		if uint64(SampleKey(e.ID)) < thr {
			p.Texts = append(p.Texts, e)
		}
	}
	return p
}

// With every text and no sampling, LearnPool is Learn.
func TestLearnPoolExactIsLearn(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ex   []Example
	}{
		{"synthetic", synthExamples(7, 30, 600)},
		{"trip with", newPool().add(5, "RideCo", "Transport", "TRIP WITH ~").add(5, "AirCo", "Travel", "ROUND TRIP FARE").add(2, "BusCo", "", "PLAN A TRIP WITH US").ex},
		{"empty", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := Learn(tt.ex, Options{Workers: 1})
			got := LearnPool(asPool(tt.ex, Sampling{}, FieldMerchant, FieldCategory), Options{Workers: 2})
			if got.Hash() != want.Hash() || got.Count() != want.Count() {
				t.Fatalf("LearnPool: %d patterns, hash %s; Learn: %d, %s", got.Count(), got.Hash(), want.Count(), want.Hash())
			}
			if got.Stats.Used != want.Stats.Used || got.Stats.WindowStart != want.Stats.WindowStart || got.Stats.WindowEnd != want.Stats.WindowEnd {
				t.Errorf("stats %+v, want %+v", got.Stats, want.Stats)
			}
		})
	}
}

// Sampling is a function of the pool: the same pool in any order gives
// the same set, and texts the sampling did not select change nothing.
func TestLearnPoolSamplingDeterministic(t *testing.T) {
	t.Parallel()
	ex := synthExamples(11, 40, 3000)
	smp := Sampling{PerValue: 12, Pool: 400}
	pool := asPool(ex, smp, FieldMerchant, FieldCategory)
	if len(pool.Texts) >= len(ex)/2 {
		t.Fatalf("the sample has %d of %d texts: too large to test sampling", len(pool.Texts), len(ex))
	}
	ref := LearnPool(pool, Options{Workers: 1})
	if ref.Count() == 0 || ref.Stats.Texts != len(pool.Texts) || ref.Stats.Params.Sampling == nil {
		t.Fatalf("learned %d patterns from %d texts, stats %+v", ref.Count(), ref.Stats.Texts, ref.Stats)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for i, workers := range []int{1, 2, 5} {
		p := Pool{Sampling: smp, Groups: slices.Clone(pool.Groups), Texts: slices.Clone(pool.Texts)}
		r.Shuffle(len(p.Groups), func(i, j int) { p.Groups[i], p.Groups[j] = p.Groups[j], p.Groups[i] })
		r.Shuffle(len(p.Texts), func(i, j int) { p.Texts[i], p.Texts[j] = p.Texts[j], p.Texts[i] })
		if i == 2 { // every text: the unselected ones must be ignored
			p.Texts = slices.Clone(ex)
		}
		if got := LearnPool(p, Options{Workers: workers}); got.Hash() != ref.Hash() {
			t.Errorf("run %d (workers %d, %d texts): hash %s, want %s", i, workers, len(p.Texts), got.Hash(), ref.Hash())
		}
	}
}

// The per-value cap reads about PerValue examples of each value: a phrase
// on every receipt of a large value is still learned, with its frequency
// scaled to the value's size; a small value is read whole, so a phrase
// recurring MinFrequency times is learned exactly as without sampling; and
// precision still comes from the whole pool, so a phrase other merchants
// print too scores lower.
func TestLearnPoolPerValueCap(t *testing.T) {
	t.Parallel()
	const big = 400
	b := newPool().
		add(big, "RideCo", "", "YOUR RIDE", "TRIP WITH ~").
		add(3, "TinyCo", "", "TINY SHOP ZQPLOP").
		add(200, "BusCo", "", "PLAN A TRIP WITH US")
	for i := range 300 { // other merchants, none saying either phrase
		b.add(1, "Other"+strconv.Itoa(i%60), "", "~ ~")
	}
	ex := b.ex
	smp := Sampling{PerValue: 20, Pool: 150}
	pool := asPool(ex, smp, FieldMerchant, FieldCategory)
	// The 60 others have 5 receipts each: read whole.
	if len(pool.Texts) > 300+3+2*20+150 {
		t.Fatalf("sampled %d of %d texts, want about 20 per large value and 150 of the pool", len(pool.Texts), len(ex))
	}
	exact := Learn(ex, Options{})
	got := LearnPool(pool, Options{})

	tests := []struct {
		value, phrase string
		minFreq       int
		maxFreq       int
	}{
		{"RideCo", "ride", big * 3 / 4, big * 5 / 4},
		{"TinyCo", "zqplop", 3, 3},
	}
	for _, tt := range tests {
		p, ok := findPhrase(got, FieldMerchant, tt.value, tt.phrase)
		if !ok {
			t.Errorf("%s: %q not learned from the sample; got %v", tt.value, tt.phrase, textPatterns(got, FieldMerchant, tt.value))
			continue
		}
		if p.Frequency < tt.minFreq || p.Frequency > tt.maxFreq {
			t.Errorf("%s %q: frequency %d, want %d–%d", tt.value, tt.phrase, p.Frequency, tt.minFreq, tt.maxFreq)
		}
		if e, ok := findPhrase(exact, FieldMerchant, tt.value, tt.phrase); !ok || tt.value == "TinyCo" && e.Confidence != p.Confidence {
			t.Errorf("%s %q: exact %+v, sampled %+v", tt.value, tt.phrase, e, p)
		}
	}
	// "trip" is on BusCo's receipts too: the uniform sample sees them, so
	// its estimated precision is close to the exact one, well below 1.
	e, _ := findPhrase(exact, FieldMerchant, "RideCo", "trip")
	p, ok := findPhrase(got, FieldMerchant, "RideCo", "trip")
	if !ok || e.Confidence > 0.75 || p.Confidence < e.Confidence-0.1 || p.Confidence > e.Confidence+0.1 {
		t.Errorf("trip → RideCo: sampled %+v, exact %+v", p, e)
	}
}

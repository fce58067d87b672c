package patternset

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// bench10k builds a set of n text patterns (1–4 word phrases over a shared
// vocabulary, five per value, like Learn's output) and a 2 KB receipt whose
// words all come from the same vocabulary, with a whole phrase every seventh
// line: a dense, worst-ish case (about 130 patterns hit).
func bench10k(tb testing.TB, n int) (*Set, string) {
	tb.Helper()
	r := rand.New(rand.NewPCG(10, 10000))
	vocab := make([]string, 3000)
	for i := range vocab {
		vocab[i] = synthWord(r, 2, 3)
	}
	s := &Set{Version: "bench", Patterns: map[string][]Pattern{}}
	seen := make(map[string]bool)
	var phrases []string
	for len(phrases) < n {
		k := 1 + r.IntN(4)
		ws := make([]string, k)
		for i := range ws {
			ws[i] = vocab[r.IntN(len(vocab))]
		}
		ph := strings.Join(ws, " ")
		if seen[ph] {
			continue
		}
		seen[ph] = true
		phrases = append(phrases, ph)
		p := Pattern{
			Field:          FieldMerchant,
			Kind:           KindText,
			Pattern:        PhraseRegexp(ph),
			Phrases:        []string{ph},
			CorrectedValue: fmt.Sprintf("Merchant %04d", len(phrases)/5),
			Confidence:     round4(0.6 + 0.39*r.Float64()),
			Frequency:      3 + r.IntN(50),
		}
		p.Matched = p.Frequency + r.IntN(5)
		p.ID = PatternID(p)
		s.Patterns[FieldMerchant] = append(s.Patterns[FieldMerchant], p)
	}
	var b strings.Builder
	b.WriteString("SOME MERCHANT SDN BHD\nNO 12, JALAN BESAR, 50000 KUALA LUMPUR\nTEL: 03-1234 5678\n")
	for line := 0; b.Len() < 2100; line++ {
		if line%7 == 3 {
			b.WriteString(strings.ToUpper(phrases[r.IntN(len(phrases))]))
		} else {
			for range 2 + r.IntN(3) {
				b.WriteString(strings.ToUpper(vocab[r.IntN(len(vocab))]))
				b.WriteByte(' ')
			}
		}
		fmt.Fprintf(&b, " %d X %d.%02d\n", 1+r.IntN(3), r.IntN(100), r.IntN(100))
	}
	return s, b.String()[:2048]
}

// sparseReceipt is a 2 KB receipt in which only two phrases of the set
// occur, the usual case: most of a receipt is items, numbers and
// boilerplate no pattern is about.
func sparseReceipt(s *Set) string {
	r := rand.New(rand.NewPCG(3, 3))
	items := []string{"CHICKEN RICE", "ICED LEMON TEA", "NASI LEMAK SPECIAL", "TEH TARIK", "ROTI CANAI",
		"MINERAL WATER 500ML", "CURRY PUFF", "FRIED NOODLES", "HOT COFFEE", "BANANA CAKE", "EGG TART",
		"PLASTIC BAG", "A4 PAPER 80GSM", "BALL PEN BLUE", "STAPLER", "MASKING TAPE"}
	ps := s.Patterns[FieldMerchant]
	first, last := strings.ToUpper(ps[17].Phrases[0])+"\n", "\n"+strings.ToUpper(ps[4242].Phrases[0])
	var b strings.Builder
	b.WriteString(first)
	b.WriteString("KEDAI MAKAN SELERA SDN BHD (123456-A)\nNO 5, JALAN BUNGA 3, 47400 PETALING JAYA\n" +
		"GST ID: 000111222333\nTAX INVOICE\nDATE: 14/03/2018 12:45  CASHIER: 07\n")
	for b.Len() < 2048 {
		q, p := 1+r.IntN(3), 100+r.IntN(2000)
		fmt.Fprintf(&b, "%-24s %d X %d.%02d %8d.%02d SR\n", items[r.IntN(len(items))], q, p/100, p%100, q*p/100, q*p%100)
	}
	body := b.String()
	return body[:2048-len(last)] + last
}

// BenchmarkMatch10k: 10,000 text patterns against a 2 KB receipt. The
// automaton sub-benchmark reports, next to its own time, the ratio to the
// naive approach measured in the same run on the same inputs: one compiled
// regexp per pattern (its `pattern` string) and MatchString in a loop. The
// regexp sub-benchmark measures that baseline on its own as well.
func BenchmarkMatch10k(b *testing.B) {
	s, text := bench10k(b, 10000)
	m, err := Compile(s)
	if err != nil {
		b.Fatal(err)
	}
	var res []*regexp.Regexp
	var ids []string
	for _, p := range s.All() {
		res = append(res, regexp.MustCompile(p.Pattern))
		ids = append(ids, p.ID)
	}
	naive := func(text string) []string {
		var out []string
		for i, re := range res {
			if re.MatchString(text) {
				out = append(out, ids[i])
			}
		}
		return out
	}
	for _, tc := range []struct{ name, text string }{{"dense", text}, {"sparse", sparseReceipt(s)}} {
		// Both must find the same patterns, or the comparison means nothing.
		want := naive(tc.text)
		var got []string
		for _, h := range m.Match(tc.text) {
			got = append(got, h.PatternID)
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) || len(got) == 0 {
			b.Fatalf("%s: automaton found %d patterns, regexps %d", tc.name, len(got), len(want))
		}
		// The baseline's time per text, median of 3.
		var runs []time.Duration
		for range 3 {
			t0 := time.Now()
			naive(tc.text)
			runs = append(runs, time.Since(t0))
		}
		slices.Sort(runs)
		baseline := runs[1]

		b.Run(tc.name+"/automaton", func(b *testing.B) {
			b.SetBytes(int64(len(tc.text)))
			b.ReportAllocs()
			for b.Loop() {
				m.Match(tc.text)
			}
			per := b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(float64(len(got)), "hits")
			b.ReportMetric(float64(baseline.Nanoseconds()), "regexps-ns/text")
			b.ReportMetric(float64(baseline)/float64(per), "x-faster-than-regexps")
		})
		b.Run(tc.name+"/regexp-per-pattern", func(b *testing.B) {
			b.SetBytes(int64(len(tc.text)))
			for b.Loop() {
				naive(tc.text)
			}
		})
	}
}

// BenchmarkMatchParallel: the same matcher shared by every goroutine.
func BenchmarkMatchParallel(b *testing.B) {
	s, text := bench10k(b, 10000)
	m, err := Compile(s)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Match(text)
		}
	})
}

// BenchmarkCompile10k: building the matcher for 10,000 text patterns, once
// per version.
func BenchmarkCompile10k(b *testing.B) {
	s, _ := bench10k(b, 10000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLearn: 100,000 synthetic corrections over 5,000 merchants and 30
// categories, ~900-byte receipts, with one worker and with GOMAXPROCS. Next
// to the wall time it reports the CPU time per run (user+system, so a
// loaded machine inflates it less) and the ratio to a baseline measured in
// the same run: one pass that only tokenises every text and counts its
// words in a map, the least any text learner has to do.
func BenchmarkLearn(b *testing.B) {
	const n = 100_000
	r := rand.New(rand.NewPCG(7, 7))
	w := newSynthWorld(r, 5000, 30, 4000)
	ex := w.pool(r, n, 900)
	var bytes int64
	for _, e := range ex {
		bytes += int64(len(e.Text))
	}
	baseline := func() int {
		counts := make(map[string]int)
		var t tokenizer
		for _, e := range ex {
			t.reset(e.Text)
			for {
				tok, _, ok := t.next()
				if !ok {
					break
				}
				counts[string(tok)]++
			}
		}
		return len(counts)
	}
	t0, c0 := time.Now(), cpuTime()
	baseline()
	baseWall, baseCPU := time.Since(t0), cpuTime()-c0
	for _, workers := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run(fmt.Sprintf("examples=%d/workers=%d", n, workers), func(b *testing.B) {
			b.SetBytes(bytes)
			var s *Set
			c0 := cpuTime()
			for b.Loop() {
				s = Learn(ex, Options{Workers: workers})
			}
			cpu := (cpuTime() - c0) / time.Duration(b.N)
			wall := b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(float64(s.Count()), "patterns")
			b.ReportMetric(cpu.Seconds(), "cpu-s/op")
			b.ReportMetric(float64(wall)/float64(baseWall), "x-tokenise-pass")
			b.ReportMetric(cpu.Seconds()/baseCPU.Seconds(), "x-tokenise-pass-cpu")
		})
	}
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

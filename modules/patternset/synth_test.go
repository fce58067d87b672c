package patternset

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Synthetic receipts for tests and benchmarks. Everything is generated from
// a seed, so a pool is the same on every run.

var synthBase = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

var syllables = []string{
	"ka", "lo", "mi", "ren", "tor", "vas", "qui", "zen", "bar", "dol", "fen", "gri", "hap", "jun",
	"lex", "mor", "nel", "pol", "ruk", "sim", "tav", "ulm", "vor", "wex", "yan", "zor", "bel",
	"cro", "dav", "eph", "fia", "gol", "hin", "ist", "jor", "kel", "lum", "nar", "ost", "pra",
}

func synthWord(r *rand.Rand, minSyl, maxSyl int) string {
	n := minSyl + r.IntN(maxSyl-minSyl+1)
	var b strings.Builder
	for range n {
		b.WriteString(syllables[r.IntN(len(syllables))])
	}
	return b.String()
}

type synthMerchant struct {
	name     string   // normalised merchant value
	header   string   // printed name
	misread  string   // a frequent OCR misreading of the header
	category string   //
	slogan   string   // a phrase printed on every receipt
	street   string   //
	extra    []string // phrases printed on some receipts
}

type synthWorld struct {
	merchants  []synthMerchant
	categories []string
	items      []string
	// boiler are lines every merchant prints.
	boiler []string
}

func newSynthWorld(r *rand.Rand, nMerchants, nCategories, nItems int) *synthWorld {
	w := &synthWorld{}
	for i := range nCategories {
		w.categories = append(w.categories, fmt.Sprintf("cat-%02d %s", i, synthWord(r, 2, 3)))
	}
	for range nItems {
		w.items = append(w.items, synthWord(r, 2, 3))
	}
	w.boiler = []string{
		"THANK YOU FOR SHOPPING WITH US", "PLEASE COME AGAIN", "CUSTOMER COPY",
		"NO REFUND WITHOUT RECEIPT", "GOODS SOLD ARE NOT RETURNABLE", "HAVE A NICE DAY",
	}
	seen := make(map[string]bool)
	for i := 0; len(w.merchants) < nMerchants; i++ {
		a, b := synthWord(r, 2, 3), synthWord(r, 1, 2)
		name := strings.ToUpper(a[:1]) + a[1:] + " " + strings.ToUpper(b[:1]) + b[1:]
		if seen[name] {
			continue
		}
		seen[name] = true
		m := synthMerchant{
			name:     name,
			header:   strings.ToUpper(name),
			category: w.categories[r.IntN(len(w.categories))],
			slogan:   synthWord(r, 2, 2) + " " + synthWord(r, 2, 3) + " " + synthWord(r, 1, 2),
			street:   "JALAN " + strings.ToUpper(synthWord(r, 2, 3)),
		}
		m.misread = strings.ToUpper(a[:len(a)-1]) + "I " + strings.ToUpper(b)
		for range 2 {
			m.extra = append(m.extra, synthWord(r, 2, 3)+" "+synthWord(r, 2, 3))
		}
		w.merchants = append(w.merchants, m)
	}
	return w
}

// receipt renders one receipt of m of about size bytes, with some OCR noise.
func (w *synthWorld) receipt(r *rand.Rand, m *synthMerchant, size int) string {
	var b strings.Builder
	line := func(format string, args ...any) {
		b.WriteString(noisy(r, fmt.Sprintf(format, args...)))
		b.WriteByte('\n')
	}
	line("%s", m.header)
	line("NO %d, %s, %05d", 1+r.IntN(200), m.street, 10000+r.IntN(89999))
	line("TEL : 03-%04d %04d", r.IntN(10000), r.IntN(10000))
	line("GST REG NO: %012d", r.Int64N(1e12))
	line("TAX INVOICE")
	line("DATE : %02d/%02d/2026 %02d:%02d:%02d", 1+r.IntN(28), 1+r.IntN(12), r.IntN(24), r.IntN(60), r.IntN(60))
	line("CASHIER : %d", r.IntN(1000))
	if r.IntN(2) == 0 {
		line("%s", strings.ToUpper(m.extra[r.IntN(len(m.extra))]))
	}
	total := 0
	for b.Len() < size-260 {
		qty, price := 1+r.IntN(3), 100+r.IntN(5000)
		total += qty * price
		line("%s %s %d X %d.%02d %d.%02d", strings.ToUpper(w.items[r.IntN(len(w.items))]),
			strings.ToUpper(w.items[r.IntN(len(w.items))]), qty, price/100, price%100, qty*price/100, qty*price%100)
	}
	line("TOTAL SALES INCLUSIVE GST @6%% %d.%02d", total/100, total%100)
	line("CASH RECEIVED : %d.00", total/100+10)
	line("CHANGE : %d.%02d", 9, 100-total%100)
	line("%s", strings.ToUpper(m.slogan))
	line("%s", w.boiler[r.IntN(len(w.boiler))])
	return b.String()
}

// noisy replaces about one character in 200 with a look-alike, like OCR.
func noisy(r *rand.Rand, s string) string {
	if r.IntN(4) != 0 {
		return s
	}
	b := []byte(s)
	swaps := map[byte]byte{'O': '0', 'I': '1', 'S': '5', 'B': '8', 'E': 'F', 'A': 'H'}
	for i, c := range b {
		if to, ok := swaps[c]; ok && r.IntN(60) == 0 {
			b[i] = to
		}
	}
	return string(b)
}

// pool generates n examples spread over w's merchants (a few merchants get
// most receipts, as in real life), each with a merchant and a category.
func (w *synthWorld) pool(r *rand.Rand, n, size int) []Example {
	out := make([]Example, 0, n)
	zipf := rand.NewZipf(r, 1.1, 8, uint64(len(w.merchants)-1))
	for i := range n {
		var mi int
		if i < len(w.merchants)*3 {
			mi = i % len(w.merchants) // every merchant at least three times
		} else {
			mi = int(zipf.Uint64())
		}
		m := &w.merchants[mi]
		orig := m.name
		if r.IntN(3) == 0 {
			orig = m.misread
		}
		out = append(out, Example{
			ID:        fmt.Sprintf("ex-%07d", i),
			Text:      w.receipt(r, m, size),
			Original:  map[string]string{FieldMerchant: orig, FieldCategory: ""},
			Corrected: map[string]string{FieldMerchant: m.name, FieldCategory: m.category},
			Quality:   0.9,
			At:        synthBase.Add(-time.Duration(r.IntN(80*24)) * time.Hour),
		})
	}
	return out
}

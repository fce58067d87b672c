package patternset

import "testing"

func TestGramIndex(t *testing.T) {
	var x gramIndex
	if got := x.find(gram{1}); got != -1 {
		t.Fatalf("find in an empty index = %d, want -1", got)
	}
	// Enough grams to grow the table several times, some sharing a prefix.
	const n = 5000
	at := func(i int) gram { return gram{uint32(i%97 + 1), uint32(i/97 + 1), uint32(i % 3)} }
	for i := range n {
		if got, added := x.add(at(i)); got != int32(i) || !added {
			t.Fatalf("add(%v) = %d, %v; want %d, true", at(i), got, added, i)
		}
	}
	for i := range n {
		if got, added := x.add(at(i)); got != int32(i) || added {
			t.Fatalf("add again (%v) = %d, %v; want %d, false", at(i), got, added, i)
		}
		if got := x.find(at(i)); got != int32(i) {
			t.Fatalf("find(%v) = %d, want %d", at(i), got, i)
		}
	}
	if got := x.find(gram{1000, 1000}); got != -1 {
		t.Fatalf("find of a gram never added = %d", got)
	}
	if len(x.grams) != n || x.grams[123] != at(123) {
		t.Fatalf("len = %d, grams[123] = %v", len(x.grams), x.grams[123])
	}
	x.reset()
	if len(x.grams) != 0 || x.find(at(0)) != -1 {
		t.Fatalf("after reset: len %d, find %d", len(x.grams), x.find(at(0)))
	}
	if got, added := x.add(at(7)); got != 0 || !added {
		t.Fatalf("first add after reset = %d, %v", got, added)
	}
}

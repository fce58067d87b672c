package patternset

import "math/bits"

// gramIndex numbers distinct grams in the order they are first added. It
// is an open-addressing table over gramHash: learning looks up millions of
// phrases, and a Go map with a 16-byte key spends most of that time
// hashing and comparing. The zero value is empty and ready to use; find
// may be called from several goroutines while nothing is added.
type gramIndex struct {
	grams []gram
	slots []int32 // 1 + index into grams; 0 is empty
	shift uint    // 64 − log₂ len(slots): the hash's top bits pick a slot
}

// reset empties the index, keeping its memory unless a large value left it
// much bigger than the next one is likely to need.
func (x *gramIndex) reset() {
	if len(x.slots) > 1<<16 && len(x.slots) > 16*len(x.grams) {
		x.slots, x.shift = nil, 0
	}
	x.grams = x.grams[:0]
	clear(x.slots)
}

// find returns g's number, or -1.
func (x *gramIndex) find(g gram) int32 {
	if len(x.slots) == 0 {
		return -1
	}
	mask := len(x.slots) - 1
	for i := int(gramHash(g) >> x.shift); ; i = (i + 1) & mask {
		s := x.slots[i]
		if s == 0 {
			return -1
		}
		if x.grams[s-1] == g {
			return s - 1
		}
	}
}

// add returns g's number, giving it the next one if it is new.
func (x *gramIndex) add(g gram) (n int32, added bool) {
	if 2*(len(x.grams)+1) > len(x.slots) { // at most half full
		x.grow()
	}
	mask := len(x.slots) - 1
	for i := int(gramHash(g) >> x.shift); ; i = (i + 1) & mask {
		s := x.slots[i]
		if s == 0 {
			x.grams = append(x.grams, g)
			x.slots[i] = int32(len(x.grams))
			return int32(len(x.grams) - 1), true
		}
		if x.grams[s-1] == g {
			return s - 1, false
		}
	}
}

func (x *gramIndex) grow() {
	n := max(1024, 2*len(x.slots))
	x.slots = make([]int32, n)
	x.shift = uint(64 - bits.TrailingZeros(uint(n)))
	mask := n - 1
	for k, g := range x.grams {
		i := int(gramHash(g) >> x.shift)
		for x.slots[i] != 0 {
			i = (i + 1) & mask
		}
		x.slots[i] = int32(k + 1)
	}
}

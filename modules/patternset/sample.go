package patternset

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
)

// Stable hashes of an example's ID decide which slice it belongs to: the
// held-out slice (Holdout) and the bounded text samples of a large pool
// (Sampling). They never depend on the clock or on random numbers, so the
// same pool always gives the same slices, the same samples and so the same
// pattern set.
//
// The data pool's IDs are UUIDs (v4 or v7), whose last 48 bits are random;
// for them the hashes are read straight from those hex digits, which SQL can
// compute on both PostgreSQL and SQLite (neither has a hash function in
// common), so the database selects exactly the rows Go would. Other IDs are
// hashed with SHA-256.

// uuidHex reports whether id is a UUID in its 36-character text form
// (8-4-4-4-12 hex digits, either case).
func uuidHex(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := id[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if hexDigit(c) < 0 {
				return false
			}
		}
	}
	return true
}

func hexDigit(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func hexValue(s string) uint64 {
	var v uint64
	for i := 0; i < len(s); i++ {
		v = v<<4 | uint64(hexDigit(s[i]))
	}
	return v
}

// holdoutBucket is the ID's bucket in [0, 100): for a UUID its last four
// hex digits (characters 33–36, a number x below 2¹⁶) scaled, ⌊x·100/2¹⁶⌋,
// so SQL can test "bucket < pct" as x < HoldoutBound(pct) without a
// division; otherwise the first 8 bytes of SHA-256(id), big-endian, mod 100.
func holdoutBucket(id string) uint64 {
	if uuidHex(id) {
		return hexValue(id[32:36]) * 100 >> 16
	}
	sum := sha256.Sum256([]byte(id))
	return binary.BigEndian.Uint64(sum[:8]) % 100
}

// HoldoutBound is, for a UUID, the bound of its last four hex digits below
// which it is in a held-out slice of pct percent: Holdout(id, pct) is
// x < HoldoutBound(pct).
func HoldoutBound(pct int) uint64 {
	pct = min(max(pct, 0), 100)
	return (uint64(pct)<<16 + 99) / 100
}

// SampleKey is the ID's sampling key in [0, 2³²): for a UUID the eight hex
// digits before the last four (characters 25–32), otherwise bytes 8–11 of
// SHA-256(id). It uses other bits than the held-out bucket, so the sample
// of a slice is as uniform as the sample of the pool.
func SampleKey(id string) uint32 {
	if uuidHex(id) {
		return uint32(hexValue(id[24:32]))
	}
	sum := sha256.Sum256([]byte(id))
	return binary.BigEndian.Uint32(sum[8:12])
}

// keySpace is the number of sampling keys: a threshold of keySpace keeps
// everything.
const keySpace = 1 << 32

// Threshold is the sampling threshold that keeps about want of n
// examples: those whose SampleKey is below it. want ≤ 0 or want ≥ n keeps
// all of them (2³²).
func Threshold(want, n int) uint64 {
	if want <= 0 || want >= n {
		return keySpace
	}
	return uint64(math.Ceil(float64(want) / float64(n) * keySpace))
}

// Sampling says how the texts of a Pool were drawn. Every example whose
// SampleKey is below the threshold of any of its values (PerValue) or of
// the pool (Pool) must be among the pool's texts; the zero value means every
// text is there and learning is exact.
type Sampling struct {
	// PerValue is about how many examples of each (field, value) are read
	// for its candidate phrases and their support: those with SampleKey
	// below Threshold(PerValue, n) for a value with n examples.
	PerValue int `json:"per_value,omitempty"`
	// Pool is about how many examples of the whole pool are read to
	// measure each candidate's precision: those with SampleKey below
	// Threshold(Pool, examples in the pool).
	Pool int `json:"pool,omitempty"`
}

// ValueThreshold is the threshold of a value with n examples in a pool of
// total: the value's sample is its examples with SampleKey below it. It is
// never below the pool's threshold, so the value's share of the pool sample
// is part of its own sample.
func (s Sampling) ValueThreshold(n, total int) uint64 {
	return max(Threshold(s.PerValue, n), s.PoolThreshold(total))
}

// PoolThreshold is the threshold of the uniform sample of a pool of total
// examples.
func (s Sampling) PoolThreshold(total int) uint64 {
	return Threshold(s.Pool, total)
}

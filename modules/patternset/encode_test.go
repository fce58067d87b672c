package patternset

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// TestEncodePatterns: the parallel encoding is json.Marshal's, byte for
// byte, whatever the number of workers and patterns, with the characters
// encoding/json escapes and the nil and empty slices it tells apart.
func TestEncodePatterns(t *testing.T) {
	many := func(field string, n int) []Pattern {
		ps := make([]Pattern, n)
		for i := range ps {
			ps[i] = Pattern{ID: fmt.Sprintf("t_%06x", i), Field: field, Kind: KindText, Pattern: fmt.Sprintf(`(?i)\bword%d\b`, i),
				Phrases: []string{fmt.Sprintf("word%d", i)}, CorrectedValue: fmt.Sprintf("Shop <%d> & \u2028 \"ü\"", i%97),
				Confidence: float64(i%10000) / 10000, Frequency: i, Matched: i + i%7, LastSeen: time.Date(2024, 3, 1, 0, 0, i, 0, time.UTC)}
		}
		return ps
	}
	cases := map[string]map[string][]Pattern{
		"nil map":          nil,
		"empty map":        {},
		"nil and empty":    {"merchant": nil, "category": {}},
		"one pattern":      {"merchant": many("merchant", 1)},
		"under one chunk":  {"merchant": many("merchant", encodeChunk-1), "category": many("category", 3)},
		"several chunks":   {"merchant": many("merchant", 3*encodeChunk+17), "category": many("category", encodeChunk+1), "date": nil},
		"escaped field":    {"a\"<b>": many("x", 2)},
		"exactly a chunk":  {"merchant": many("merchant", encodeChunk)},
		"two exact chunks": {"merchant": many("merchant", 2*encodeChunk)},
	}
	for name, ps := range cases {
		want, err := json.Marshal(ps)
		if err != nil {
			t.Fatal(err)
		}
		for _, workers := range []int{0, 1, 2, 3, 16} {
			got, err := EncodePatterns(ps, workers)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s, %d workers: %d bytes, %v; want json.Marshal's %d bytes", name, workers, len(got), err, len(want))
			}
		}
	}
}

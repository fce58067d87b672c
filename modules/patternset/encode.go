package patternset

import (
	"encoding/json"
	"maps"
	"slices"
	"sync"
)

// encodeChunk is the fewest patterns EncodePatterns hands to a goroutine.
const encodeChunk = 2048

// EncodePatterns returns json.Marshal(patterns), byte for byte, encoded a
// slice of patterns at a time on up to workers goroutines. A learned set is
// megabytes of JSON, and a refresh encodes it on its way to storing it,
// while validation leaves a core to spare.
func EncodePatterns(patterns map[string][]Pattern, workers int) ([]byte, error) {
	if patterns == nil {
		return []byte("null"), nil
	}
	type part struct {
		field  string
		lo, hi int
		json   []byte
		err    error
	}
	fields := slices.Sorted(maps.Keys(patterns)) // encoding/json's order
	var parts []*part
	for _, f := range fields {
		n := len(patterns[f])
		per := max(encodeChunk, (n+workers-1)/max(workers, 1))
		for lo := 0; lo < n; lo += per {
			parts = append(parts, &part{field: f, lo: lo, hi: min(n, lo+per)})
		}
	}
	var wg sync.WaitGroup
	todo := make(chan *part)
	for range min(max(workers, 1), len(parts)) {
		wg.Go(func() {
			for p := range todo {
				p.json, p.err = json.Marshal(patterns[p.field][p.lo:p.hi])
			}
		})
	}
	for _, p := range parts {
		todo <- p
	}
	close(todo)
	wg.Wait()

	size := 2
	for _, p := range parts {
		if p.err != nil {
			return nil, p.err
		}
		size += len(p.json)
	}
	out := make([]byte, 0, size+len(fields)*16)
	out = append(out, '{')
	for i, f := range fields {
		if i > 0 {
			out = append(out, ',')
		}
		key, err := json.Marshal(f)
		if err != nil {
			return nil, err
		}
		out = append(out, key...)
		out = append(out, ':')
		switch ps := patterns[f]; {
		case ps == nil:
			out = append(out, "null"...)
			continue
		case len(ps) == 0:
			out = append(out, "[]"...)
			continue
		}
		// Each part is a JSON array: its elements, between the brackets,
		// are spliced into one.
		out = append(out, '[')
		first := true
		for _, p := range parts {
			if p.field != f {
				continue
			}
			if !first {
				out = append(out, ',')
			}
			first = false
			out = append(out, p.json[1:len(p.json)-1]...)
		}
		out = append(out, ']')
	}
	return append(out, '}'), nil
}

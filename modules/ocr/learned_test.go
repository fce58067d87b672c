package ocr

import "testing"

func TestPrecisionLowerBound(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		hits, n int
		lo, hi  float64
	}{
		{3, 3, 0.52, 0.53},
		{47, 47, 0.94, 0.95},
		{0, 5, 0, 0},
		{50, 100, 0.41, 0.42},
		{1, 0, 0, 0},
		{7, 5, 0.64, 0.66}, // hits over n are capped at n
	} {
		if got := precisionLowerBound(tt.hits, tt.n); got < tt.lo || got > tt.hi {
			t.Errorf("precisionLowerBound(%d, %d) = %.4f, want %.2f..%.2f", tt.hits, tt.n, got, tt.lo, tt.hi)
		}
	}
}

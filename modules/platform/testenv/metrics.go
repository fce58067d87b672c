package testenv

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// Gauge reads the unlabelled gauge name from reg; the test fails when there
// is none.
func Gauge(tb testing.TB, reg prometheus.Gatherer, name string) float64 {
	tb.Helper()
	families, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	tb.Fatalf("no gauge %s", name)
	return 0
}

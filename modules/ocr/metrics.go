package ocr

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ocrpool/ocrpool/modules/patternset"
)

// metrics are the module's Prometheus series, registered on the process
// registry it is given (no global registry: two modules or two tests may
// share a process).
type metrics struct {
	requests      *prometheus.CounterVec   // endpoint, result
	steps         *prometheus.HistogramVec // step
	poolWait      prometheus.Histogram
	outcomeErrors prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ocrpool_ocr_requests_total",
			Help: "OCR requests by endpoint (process, extract) and result (ok or the error code).",
		}, []string{"endpoint", "result"}),
		steps: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ocrpool_ocr_step_duration_seconds",
			Help:    "Time of each OCR pipeline step: decode, the preprocessing steps, ocr, extract.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"step"}),
		poolWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ocrpool_ocr_pool_wait_seconds",
			Help:    "Time a request waited for a free OCR worker.",
			Buckets: []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		outcomeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ocrpool_ocr_outcome_publish_failures_total",
			Help: "Request outcomes that could not be published to the Redis stream (the requests themselves succeeded).",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.steps, m.poolWait, m.outcomeErrors} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("ocr: metrics: %w", err)
		}
	}
	return m, nil
}

// registerPatternMetrics exports the pattern set extraction applies and
// whether its source is reachable.
func registerPatternMetrics(reg prometheus.Registerer, s *Service) error {
	if reg == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ocrpool_ocr_patterns_version",
			Help: "Number of the pattern set version extraction applies (12 for v12; 0: none).",
		}, func() float64 {
			n, _ := patternset.VersionNumber(s.patterns.version())
			return float64(n)
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ocrpool_ocr_patterns_stale",
			Help: "1 when the last pattern reload failed and extraction keeps applying the set it had.",
		}, func() float64 {
			if s.patternsStale() {
				return 1
			}
			return 0
		}),
	} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("ocr: metrics: %w", err)
		}
	}
	return nil
}

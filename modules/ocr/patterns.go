package ocr

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/ocrpool/ocrpool/modules/ocr/extract"
	"github.com/ocrpool/ocrpool/modules/platform/apierr"
)

// PatternLoader fetches the pattern set to apply, e.g. the data pool's
// active set. It returns apierr codes: Unavailable when the source cannot
// be reached (the last set stays in use), NotFound when none exists yet.
type PatternLoader func(ctx context.Context) (extract.Patterns, error)

// patternHolder is the pattern set in use, swapped atomically: requests
// read it without locks while a reload replaces it.
type patternHolder struct {
	current atomic.Pointer[patternBox]
	loader  atomic.Pointer[PatternLoader]
}

// patternBox wraps the interface, which atomic.Pointer cannot hold itself.
type patternBox struct{ p extract.Patterns }

// get returns the patterns in use, nil when none are loaded.
func (h *patternHolder) get() extract.Patterns {
	if b := h.current.Load(); b != nil {
		return b.p
	}
	return nil
}

func (h *patternHolder) set(p extract.Patterns) { h.current.Store(&patternBox{p}) }

func (h *patternHolder) version() string {
	if p := h.get(); p != nil {
		return p.Version()
	}
	return ""
}

// reload fetches a new set through the loader and swaps it in. On error
// the current set stays.
func (h *patternHolder) reload(ctx context.Context) (string, error) {
	lp := h.loader.Load()
	if lp == nil {
		return "", apierr.New(apierr.Unavailable, "no pattern source configured")
	}
	p, err := (*lp)(ctx)
	if err != nil {
		return h.version(), err
	}
	h.set(p)
	return h.version(), nil
}

// SetPatterns replaces the pattern set that extraction applies; nil means
// none (rules only). Safe to call while requests run.
func (s *Service) SetPatterns(p extract.Patterns) { s.patterns.set(p) }

// SetPatternLoader sets what POST /ocr/v2/patterns/reload calls; nil
// leaves reload answering 503 "no pattern source configured".
func (s *Service) SetPatternLoader(l PatternLoader) {
	if l == nil {
		s.patterns.loader.Store(nil)
		return
	}
	s.patterns.loader.Store(&l)
}

// ReloadPatterns fetches and applies the pattern set now; it returns the
// version in use afterwards. The outcome is what PatternStatus and the
// pattern metrics report.
func (s *Service) ReloadPatterns(ctx context.Context) (string, error) {
	v, err := s.patterns.reload(ctx)
	s.patternErr.Store(&patternState{version: v, err: err, at: time.Now().UTC()})
	return v, err
}

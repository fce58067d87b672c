package ocr

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ocrpool/ocrpool/modules/ocr/extract"
	"github.com/ocrpool/ocrpool/modules/patternset"
	"github.com/ocrpool/ocrpool/modules/platform/apierr"
)

// learned adapts a compiled pattern set to what extraction applies: its
// matcher, and the merchants it knows looked up by name in the header.
type learned struct {
	m     *patternset.Matcher
	names *patternset.Names
}

// CompilePatterns compiles a learned pattern set for extraction.
func CompilePatterns(s *patternset.Set) (extract.Patterns, error) {
	m, err := patternset.Compile(s)
	if err != nil {
		return nil, fmt.Errorf("compiling pattern set %s: %w", s.Version, err)
	}
	return learned{m: m, names: patternset.NewNames(s, patternset.FieldMerchant)}, nil
}

func (l learned) Version() string { return l.m.Version() }

// Match returns the known merchants named in the text (the rules' guess
// first: when the header line they took is a known name, misread or not,
// both agree), then the matcher's hits. A merchant found by name stands in
// for the guess: its learned category applies.
func (l learned) Match(text string, guesses map[string]string) []extract.PatternHit {
	names := l.names.Match(text)
	if g, ok := l.names.Guess(guesses["merchant"]); ok {
		names = append([]patternset.Hit{g}, names...)
	}
	original := map[string]string{patternset.FieldMerchant: guesses["merchant"]}
	if len(names) > 0 {
		original[patternset.FieldMerchant] = names[0].Value
	}
	hits := append(names, l.m.MatchWithOriginal(text, original)...)
	out := make([]extract.PatternHit, 0, len(hits))
	for _, h := range hits {
		conf := h.Confidence
		if h.Kind == patternset.KindText || h.Kind == patternset.KindAlias {
			if p, ok := l.m.Pattern(h.PatternID); ok && p.Matched > 0 {
				conf = min(conf, precisionLowerBound(p.Frequency, p.Matched))
			}
		}
		out = append(out, extract.PatternHit{Field: h.Field, Value: h.Value, Confidence: conf, PatternID: h.PatternID})
	}
	return out
}

// precisionLowerBound is the Wilson score lower bound (z = 1.645, one-sided
// 95 %) of a precision of hits out of n. Extraction weighs a pattern
// against its own rules by it rather than by the pattern's smoothed
// precision: "3 of 3 receipts" (0.53) has not earned what "47 of 47"
// (0.95) has, and a phrase seen on a handful of corrections must not
// overrule a company name printed in the header.
func precisionLowerBound(hits, n int) float64 {
	const z = 1.6449
	if n <= 0 {
		return 0
	}
	p := float64(min(hits, n)) / float64(n)
	nf := float64(n)
	den := 1 + z*z/nf
	centre := p + z*z/(2*nf)
	margin := z * math.Sqrt(p*(1-p)/nf+z*z/(4*nf*nf))
	return max(0, (centre-margin)/den)
}

// FollowPatterns keeps the pattern set current: it reloads at once, on
// every message on channel (the data pool announces activations there),
// and every poll as a safety net. When the source is unreachable the last
// set stays in use and PatternStatus says so. It returns when ctx ends.
func (s *Service) FollowPatterns(ctx context.Context, rdb *redis.Client, channel string, poll time.Duration) {
	waiting := false // logged "none yet" once, not every poll
	reload := func() {
		v, err := s.ReloadPatterns(ctx)
		switch {
		case err == nil || ctx.Err() != nil:
			waiting = false
		case !s.patternsStale(): // no set exists yet: the normal start of a new pool
			if !waiting {
				s.log.Info("no pattern set is active yet; extracting with the rules alone until one is", "detail", err)
			}
			waiting = true
		default:
			s.log.Warn("loading the pattern set failed; keeping the last one", "version", v, "err", err)
		}
	}
	reload()
	var msgs <-chan *redis.Message
	if rdb != nil && channel != "" {
		sub := rdb.Subscribe(ctx, channel)
		defer sub.Close()
		msgs = sub.Channel()
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-msgs:
			if !ok {
				msgs = nil // the subscription broke: the poll carries on
				continue
			}
			reload()
		case <-t.C:
			reload()
		}
	}
}

// patternState is the outcome of the last reload.
type patternState struct {
	version string
	err     error
	at      time.Time
}

// PatternStatus describes the pattern set in use, for /readyz details.
func (s *Service) PatternStatus() map[string]any {
	out := map[string]any{"version": s.patterns.version()}
	st := s.patternErr.Load()
	if st == nil {
		return out
	}
	out["checked_at"] = st.at.Format(time.RFC3339)
	switch {
	case st.err == nil:
		out["state"] = "current"
	case !s.patternsStale():
		out["state"] = "none"
		out["detail"] = st.err.Error()
	default:
		out["state"] = "stale: data pool unreachable, using the last set"
		out["detail"] = st.err.Error()
	}
	return out
}

// patternsStale reports whether the last reload failed for another reason
// than "no set exists yet", so extraction applies a set that may be old.
func (s *Service) patternsStale() bool {
	st := s.patternErr.Load()
	if st == nil || st.err == nil {
		return false
	}
	return !apierr.Is(st.err, apierr.NotFound) || s.patterns.version() != ""
}

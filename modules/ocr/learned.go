package ocr

import (
	"context"
	"fmt"
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
		out = append(out, extract.PatternHit{Field: h.Field, Value: h.Value, Confidence: h.Confidence, PatternID: h.PatternID})
	}
	return out
}

// FollowPatterns keeps the pattern set current: it reloads at once, on
// every message on channel (the data pool announces activations there),
// and every poll as a safety net. When the source is unreachable the last
// set stays in use and PatternStatus says so. It returns when ctx ends.
func (s *Service) FollowPatterns(ctx context.Context, rdb *redis.Client, channel string, poll time.Duration) {
	reload := func() {
		v, err := s.ReloadPatterns(ctx)
		s.patternErr.Store(&patternState{version: v, err: err, at: time.Now().UTC()})
		if err != nil && ctx.Err() == nil {
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
	case apierr.Is(st.err, apierr.NotFound) && s.patterns.version() == "":
		out["state"] = "none"
		out["detail"] = st.err.Error()
	default:
		out["state"] = "stale: data pool unreachable, using the last set"
		out["detail"] = st.err.Error()
	}
	return out
}

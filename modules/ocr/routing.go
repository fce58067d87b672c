package ocr

import (
	"context"
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/ocrpool/ocrpool/modules/ocr/extract"
	"github.com/ocrpool/ocrpool/modules/platform/apierr"
)

// Release is what the OCR role applies to a request: the extraction rules
// of this binary with a pattern set. Deployments move traffic between
// releases (DESIGN §8).
type Release struct {
	// Name is what responses and outcomes report ("r42", "builtin").
	Name string `json:"name"`
	// PatternSet pins a pattern set version ("v7"); empty follows the data
	// pool's active set.
	PatternSet string `json:"pattern_set,omitempty"`
}

// Routing splits requests between the stable release and a candidate, by a
// stable hash of the request's routing key: one user (key) stays on one
// release while Percent does not change, and raising Percent only moves
// keys from stable to candidate. Requests without a key get the stable
// release, so anonymous traffic never meets a candidate.
type Routing struct {
	Stable    Release  `json:"stable"`
	Candidate *Release `json:"candidate,omitempty"`
	// Percent of routing keys sent to Candidate, 0–100.
	Percent int `json:"percent"`
}

// DefaultRouting sends everything to the built-in release with the active
// pattern set: what runs until a deployment says otherwise.
func DefaultRouting() Routing { return Routing{Stable: Release{Name: BuiltinRelease}} }

// Bucket is the routing key's place in 0–99. A key goes to the candidate
// when Bucket(key) < Percent.
func Bucket(key string) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % 100)
}

// Validate reports what is wrong with r as an apierr naming the field.
func (r Routing) Validate() error {
	if err := r.Stable.validate("stable"); err != nil {
		return err
	}
	switch {
	case r.Percent < 0 || r.Percent > 100:
		return apierr.Field("percent", "must be between 0 and 100")
	case r.Candidate == nil && r.Percent > 0:
		return apierr.Field("candidate", "is required when percent is over 0")
	case r.Candidate != nil:
		if err := r.Candidate.validate("candidate"); err != nil {
			return err
		}
		if r.Candidate.Name == r.Stable.Name {
			return apierr.Field("candidate.name", "must differ from the stable release's name")
		}
	}
	return nil
}

func (r Release) validate(field string) error {
	if strings.TrimSpace(r.Name) == "" || len(r.Name) > 64 {
		return apierr.Field(field+".name", "must be 1 to 64 characters")
	}
	if len(r.PatternSet) > 64 {
		return apierr.Field(field+".pattern_set", "must be at most 64 characters")
	}
	return nil
}

// VersionLoader fetches one pattern set version, for releases that pin one.
type VersionLoader func(ctx context.Context, version string) (extract.Patterns, error)

// routing is the routing in force with the pinned pattern sets loaded.
type routing struct {
	Routing
	stable, candidate extract.Patterns // nil: follow the active set
}

// route picks the release for a routing key and the patterns it applies.
func (s *Service) route(key string) (string, extract.Patterns) {
	r := s.routing.Load()
	if r.Candidate != nil && key != "" && Bucket(key) < r.Percent {
		return r.Candidate.Name, s.pinnedOrActive(r.Candidate.PatternSet, r.candidate)
	}
	return r.Stable.Name, s.pinnedOrActive(r.Stable.PatternSet, r.stable)
}

func (s *Service) pinnedOrActive(version string, pinned extract.Patterns) extract.Patterns {
	if version != "" {
		return pinned
	}
	return s.patterns.get()
}

// SetVersionLoader sets how pinned pattern sets are fetched (the data
// pool's version endpoint).
func (s *Service) SetVersionLoader(l VersionLoader) { s.versions = l }

// Routing returns the routing in force.
func (s *Service) Routing() Routing { return s.routing.Load().Routing }

// SetRouting validates r, loads the pattern sets it pins and then switches
// every later request to it at once. On error nothing changes.
func (s *Service) SetRouting(ctx context.Context, r Routing) error {
	if err := r.Validate(); err != nil {
		return err
	}
	next := &routing{Routing: r}
	load := func(rel *Release) (extract.Patterns, error) {
		if rel == nil || rel.PatternSet == "" {
			return nil, nil
		}
		if s.versions == nil {
			return nil, apierr.New(apierr.Unavailable, "no pattern source configured to load %s", rel.PatternSet)
		}
		p, err := s.versions(ctx, rel.PatternSet)
		if err != nil {
			return nil, fmt.Errorf("release %s: loading pattern set %s: %w", rel.Name, rel.PatternSet, err)
		}
		return p, nil
	}
	var err error
	if next.stable, err = load(&r.Stable); err != nil {
		return err
	}
	if next.candidate, err = load(r.Candidate); err != nil {
		return err
	}
	s.routing.Store(next)
	s.log.InfoContext(ctx, "release routing changed", "stable", r.Stable.Name, "candidate", releaseName(r.Candidate), "percent", r.Percent)
	return nil
}

func releaseName(r *Release) string {
	if r == nil {
		return ""
	}
	return r.Name
}

package datapool

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/ocrpool/ocrpool/modules/patternset"
)

// PatternVersion describes one version of the pattern set, without its
// patterns.
type PatternVersion struct {
	Version            string      `json:"version"`
	ETag               string      `json:"etag"`
	CreatedAt          time.Time   `json:"created_at"`
	PatternCount       int         `json:"pattern_count"`
	BasedOnCorrections int         `json:"based_on_corrections_count"`
	AvgConfidence      float64     `json:"avg_pattern_confidence"`
	Active             bool        `json:"is_active"`
	ActivatedAt        *time.Time  `json:"activated_at,omitempty"`
	DeactivatedAt      *time.Time  `json:"deactivated_at,omitempty"`
	ReplacedBy         string      `json:"replaced_by_version,omitempty"`
	RollbackReason     string      `json:"rollback_reason,omitempty"`
	Notes              string      `json:"notes,omitempty"`
	WindowStart        *time.Time  `json:"window_start,omitempty"`
	WindowEnd          *time.Time  `json:"window_end,omitempty"`
	Validation         *Validation `json:"validation,omitempty"`
}

// PatternSet is a version with its patterns, by field, in the shape of the
// architecture document: {"merchant":[{"pattern","corrected_value",
// "confidence","frequency","last_seen",…}]}.
type PatternSet struct {
	PatternVersion
	Patterns map[string][]patternset.Pattern `json:"patterns"`
}

// Validation is the result of the gate a new version passes before it
// becomes active: both versions scored on the same held-out corrections.
type Validation struct {
	Accepted      bool              `json:"accepted"`
	Reasons       []string          `json:"reasons,omitempty"`
	HoldoutSize   int               `json:"holdout_size"`
	ActiveVersion string            `json:"active_version,omitempty"`
	Candidate     patternset.Score  `json:"candidate"`
	Active        *patternset.Score `json:"active,omitempty"`
}

// RefreshResult says what a refresh did.
type RefreshResult struct {
	// Created is false when the corrections taught nothing new.
	Created     bool        `json:"created"`
	Version     string      `json:"version,omitempty"`
	Activated   bool        `json:"activated"`
	Reason      string      `json:"reason"`
	Corrections int         `json:"corrections"`
	Validation  *Validation `json:"validation,omitempty"`
}

// Activation is one period during which a version was live.
type Activation struct {
	Version       string     `json:"version"`
	Action        string     `json:"action"` // activate, rollback
	ActivatedAt   time.Time  `json:"activated_at"`
	DeactivatedAt *time.Time `json:"deactivated_at,omitempty"`
	Actor         string     `json:"actor,omitempty"`
	Reason        string     `json:"reason,omitempty"`
}

const (
	actionActivate = "activate"
	actionRollback = "rollback"
)

// etagOf is the HTTP entity tag of a version: its name, quoted.
func etagOf(version string) string { return strconv.Quote(version) }

func (r patternVersionRow) info(names map[int]string) PatternVersion {
	v := PatternVersion{
		Version: r.VersionName, ETag: etagOf(r.VersionName), CreatedAt: r.CreatedAt.UTC(),
		PatternCount: r.PatternCount, BasedOnCorrections: r.BasedOnCorrectionsCount,
		Active: r.IsActive, ActivatedAt: utcPtr(r.ActivatedAt), DeactivatedAt: utcPtr(r.DeactivatedAt),
		WindowStart: utcPtr(r.WindowStart), WindowEnd: utcPtr(r.WindowEnd),
	}
	v.AvgConfidence, _ = strconv.ParseFloat(r.AvgPatternConfidence, 64)
	if r.ReplacedByVersion != nil {
		v.ReplacedBy = names[*r.ReplacedByVersion]
	}
	if r.RollbackReason != nil {
		v.RollbackReason = *r.RollbackReason
	}
	if r.Notes != nil {
		v.Notes = *r.Notes
	}
	if r.Validation != nil {
		var val Validation
		if json.Unmarshal([]byte(*r.Validation), &val) == nil {
			v.Validation = &val
		}
	}
	return v
}

func (a activationRow) public() Activation {
	out := Activation{Version: a.VersionName, Action: a.Action, ActivatedAt: a.ActivatedAt.UTC(), DeactivatedAt: utcPtr(a.DeactivatedAt)}
	if a.Actor != nil {
		out.Actor = *a.Actor
	}
	if a.Reason != nil {
		out.Reason = *a.Reason
	}
	return out
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

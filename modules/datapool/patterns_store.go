package datapool

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"gorm.io/gorm"

	"github.com/ocrpool/ocrpool/modules/patternset"
	"github.com/ocrpool/ocrpool/modules/platform/apierr"
	"github.com/ocrpool/ocrpool/modules/platform/db"
)

// patternVersionRow is one row of pattern_cache_versions (0001 + 0004).
type patternVersionRow struct {
	VersionID               int        `gorm:"column:version_id;primaryKey;autoIncrement"`
	VersionName             string     `gorm:"column:version_name"`
	CreatedAt               time.Time  `gorm:"column:created_at"`
	PatternData             string     `gorm:"column:pattern_data"`
	PatternCount            int        `gorm:"column:pattern_count"`
	BasedOnCorrectionsCount int        `gorm:"column:based_on_corrections_count"`
	AvgPatternConfidence    string     `gorm:"column:avg_pattern_confidence"`
	IsActive                bool       `gorm:"column:is_active"`
	ActivatedAt             *time.Time `gorm:"column:activated_at"`
	DeactivatedAt           *time.Time `gorm:"column:deactivated_at"`
	ReplacedByVersion       *int       `gorm:"column:replaced_by_version"`
	RollbackReason          *string    `gorm:"column:rollback_reason"`
	Notes                   *string    `gorm:"column:notes"`
	ContentHash             *string    `gorm:"column:content_hash"`
	WindowStart             *time.Time `gorm:"column:window_start"`
	WindowEnd               *time.Time `gorm:"column:window_end"`
	Validation              *string    `gorm:"column:validation"`
}

func (patternVersionRow) TableName() string { return "pattern_cache_versions" }

// patternVersionCols are the columns of a version without its (large)
// pattern_data, for listings.
var patternVersionCols = []string{"version_id", "version_name", "created_at", "pattern_count",
	"based_on_corrections_count", "avg_pattern_confidence", "is_active", "activated_at", "deactivated_at",
	"replaced_by_version", "rollback_reason", "notes", "content_hash", "window_start", "window_end", "validation"}

// activationRow is one row of pattern_activations (0004).
type activationRow struct {
	ID            int64      `gorm:"column:id;primaryKey;autoIncrement"`
	VersionID     int        `gorm:"column:version_id"`
	VersionName   string     `gorm:"column:version_name"`
	Action        string     `gorm:"column:action"`
	ActivatedAt   time.Time  `gorm:"column:activated_at"`
	DeactivatedAt *time.Time `gorm:"column:deactivated_at"`
	Actor         *string    `gorm:"column:actor"`
	Reason        *string    `gorm:"column:reason"`
}

func (activationRow) TableName() string { return "pattern_activations" }

// patternStore is the data pool's access to pattern set versions.
type patternStore struct {
	db      *gorm.DB
	dialect db.Dialect
	// sampling and holdoutSample bound what a refresh reads; zero means
	// defaultSampling and defaultHoldoutSample (tests make them small).
	sampling      patternset.Sampling
	holdoutSample int
	// groupChunk: groups read per chunk handed to normalisers; zero means
	// defaultGroupChunk (tests make it small).
	groupChunk int
}

func (s *patternStore) version(ctx context.Context, name string) (patternVersionRow, error) {
	return s.versionWhere(ctx, strconv.Quote(name), "version_name = ?", name)
}

func (s *patternStore) versionByID(ctx context.Context, id int) (patternVersionRow, error) {
	return s.versionWhere(ctx, strconv.Itoa(id), "version_id = ?", id)
}

// versionWhere loads the version the condition selects; called names it
// in the NotFound error.
func (s *patternStore) versionWhere(ctx context.Context, called, cond string, arg any) (patternVersionRow, error) {
	var row patternVersionRow
	err := s.db.WithContext(ctx).Where(cond, arg).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return row, apierr.New(apierr.NotFound, "no pattern set version %s", called)
	}
	return row, dbError(err, "loading pattern set version")
}

// activeID returns the active version's id and name, "" when none,
// without loading its patterns.
func (s *patternStore) activeID(ctx context.Context) (int, string, error) {
	var rows []patternVersionRow
	err := s.db.WithContext(ctx).Select("version_id", "version_name").Where("is_active = ?", true).
		Order("version_id DESC").Limit(1).Find(&rows).Error
	if err != nil || len(rows) == 0 {
		return 0, "", dbError(err, "looking up the active pattern set")
	}
	return rows[0].VersionID, rows[0].VersionName, nil
}

func (s *patternStore) latest(ctx context.Context) (*patternVersionRow, error) {
	var row patternVersionRow
	err := s.db.WithContext(ctx).Select(patternVersionCols).Order("version_id DESC").Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, dbError(err, "loading the latest pattern set version")
	}
	return &row, nil
}

func (s *patternStore) versions(ctx context.Context) ([]patternVersionRow, error) {
	var rows []patternVersionRow
	err := s.db.WithContext(ctx).Select(patternVersionCols).Order("version_id DESC").Find(&rows).Error
	return rows, dbError(err, "listing pattern set versions")
}

// insertVersion stores a new, inactive version named v<N>, N one more than
// the highest id; fill completes the row once the name is known. The unique
// version_name turns a concurrent refresh into a retry.
func (s *patternStore) insertVersion(ctx context.Context, row *patternVersionRow, fill func(name string) error) error {
	for attempt := 0; attempt < 3; attempt++ {
		var maxID sql.NullInt64
		if err := s.db.WithContext(ctx).Model(&patternVersionRow{}).Select("MAX(version_id)").Scan(&maxID).Error; err != nil {
			return dbError(err, "numbering pattern set version")
		}
		row.VersionName = "v" + strconv.FormatInt(maxID.Int64+1, 10)
		row.VersionID = 0
		if err := fill(row.VersionName); err != nil {
			return err
		}
		err := s.db.WithContext(ctx).Create(row).Error
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			continue
		}
		return dbError(err, "storing pattern set version")
	}
	return apierr.New(apierr.Conflict, "another refresh is storing a pattern set version; retry")
}

// recordValidation stores a version's validation and the notes that
// sum it up.
func (s *patternStore) recordValidation(ctx context.Context, versionID int, validation *string, notes string) error {
	err := s.db.WithContext(ctx).Model(&patternVersionRow{}).Where("version_id = ?", versionID).
		Updates(map[string]any{"validation": validation, "notes": notes}).Error
	return dbError(err, "recording the validation of a pattern set version")
}

// deleteVersion removes a version that was never activated.
func (s *patternStore) deleteVersion(ctx context.Context, versionID int) error {
	err := s.db.WithContext(ctx).Where("version_id = ? AND activated_at IS NULL", versionID).Delete(&patternVersionRow{}).Error
	return dbError(err, "removing a pattern set version")
}

// activate makes version the active one in one transaction: the previous
// active version is deactivated and replaced_by points at the new one, and
// the activation history gets a row. It returns the previously active
// version's name ("" if none).
func (s *patternStore) activate(ctx context.Context, name, action, actor, reason string, at time.Time) (prev string, row patternVersionRow, err error) {
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if s.dialect == db.Postgres {
			// Serialise activations across replicas; the lock ends with the transaction.
			if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", advisoryLockPatterns).Error; err != nil {
				return err
			}
		}
		// Not the patterns: megabytes the activation does not need.
		if err := tx.Omit("pattern_data").Where("version_name = ?", name).Take(&row).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return apierr.New(apierr.NotFound, "no pattern set version %q", name)
			}
			return err
		}
		if row.IsActive {
			return apierr.New(apierr.Conflict, "version %s is already active", name)
		}
		var current []patternVersionRow
		if err := tx.Select("version_id", "version_name").Where("is_active = ?", true).Find(&current).Error; err != nil {
			return err
		}
		for _, c := range current {
			prev = c.VersionName
			upd := map[string]any{"is_active": false, "deactivated_at": at, "replaced_by_version": row.VersionID}
			if action == actionRollback {
				upd["rollback_reason"] = reason
			}
			if err := tx.Model(&patternVersionRow{}).Where("version_id = ?", c.VersionID).Updates(upd).Error; err != nil {
				return err
			}
		}
		if err := tx.Model(&activationRow{}).Where("deactivated_at IS NULL").Update("deactivated_at", at).Error; err != nil {
			return err
		}
		if err := tx.Model(&patternVersionRow{}).Where("version_id = ?", row.VersionID).
			Updates(map[string]any{"is_active": true, "activated_at": at, "deactivated_at": nil}).Error; err != nil {
			return err
		}
		row.IsActive, row.ActivatedAt, row.DeactivatedAt = true, &at, nil
		act := activationRow{VersionID: row.VersionID, VersionName: row.VersionName, Action: action, ActivatedAt: at,
			Actor: optional(actor), Reason: optional(reason)}
		return tx.Create(&act).Error
	})
	var ae *apierr.Error
	if errors.As(err, &ae) {
		return "", row, ae
	}
	return prev, row, dbError(err, "activating pattern set version")
}

// patternsJSON reads the "patterns" object of a version's pattern_data.
func (s *patternStore) patternsJSON(ctx context.Context, versionID int) (json.RawMessage, error) {
	expr := "pattern_data->'patterns'"
	if s.dialect != db.Postgres {
		expr = "json_extract(pattern_data, '$.patterns')"
	}
	var data sql.NullString
	if err := s.db.WithContext(ctx).Model(&patternVersionRow{}).Select(expr).Where("version_id = ?", versionID).Row().Scan(&data); err != nil {
		return nil, dbError(err, "reading pattern set")
	}
	// Compact, as a refresh's encoding is: PostgreSQL spaces the JSON it
	// prints, and every served copy carries the spaces.
	var buf bytes.Buffer
	if !data.Valid || json.Compact(&buf, []byte(data.String)) != nil {
		return nil, fmt.Errorf("pattern set %d: stored patterns are not a JSON object", versionID)
	}
	return json.RawMessage(buf.Bytes()), nil
}

// advisoryLockPatterns is the PostgreSQL advisory lock key of activations
// (an arbitrary constant: "ocrpatv" in ASCII).
const advisoryLockPatterns = 0x6f637270617476

// liveAt returns the activation that was live at t, if any.
func (s *patternStore) liveAt(ctx context.Context, t time.Time) (*activationRow, error) {
	var row activationRow
	err := s.db.WithContext(ctx).
		Where("activated_at <= ? AND (deactivated_at IS NULL OR deactivated_at > ?)", t, t).
		Order("activated_at DESC").Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	return &row, dbError(err, "looking up the live pattern set")
}

func (s *patternStore) activations(ctx context.Context, limit int) ([]activationRow, error) {
	var rows []activationRow
	err := s.db.WithContext(ctx).Order("activated_at DESC, id DESC").Limit(limit).Find(&rows).Error
	return rows, dbError(err, "listing pattern set activations")
}

func jsonText(v any) (*string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding JSON: %w", err)
	}
	s := string(b)
	return &s, nil
}

package eval

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"

	"github.com/ocrpool/ocrpool/config"
	"github.com/ocrpool/ocrpool/modules/datapool"
	"github.com/ocrpool/ocrpool/modules/ocr"
	"github.com/ocrpool/ocrpool/modules/platform/db"
)

// PoolLearner learns the way production does: the corrections go through
// a data pool (validation, PII masking, normalisation, quality score) into
// an embedded database of their own, and a pattern refresh with its
// validation gate makes the set. Nothing touches the configured database.
type PoolLearner struct {
	cfg config.DatapoolConfig
	dir string
	log *slog.Logger
}

// NewPoolLearner keeps its temporary database under dir (removed by
// Learn). cfg is the data pool section; minFrequency > 0 overrides its
// min_frequency, since a folder holds a handful of receipts per merchant
// where a pool holds hundreds.
func NewPoolLearner(cfg config.DatapoolConfig, minFrequency int, dir string, log *slog.Logger) *PoolLearner {
	if minFrequency > 0 {
		cfg.MinFrequency = minFrequency
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = config.Default().Datapool.MaxBatch // Learn sends batches of it
	}
	// The test half is the held-out set: learn from the whole learn half.
	cfg.PatternHoldout = 0
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &PoolLearner{cfg: cfg, dir: dir, log: log}
}

// evalApp is the source_app of the corrections eval sends.
const evalApp = "ocrpool-eval"

// Learn ingests one correction per receipt (by a user of its own: the
// truth as the user's fix of what extraction guessed) and refreshes.
func (l *PoolLearner) Learn(ctx context.Context, taught []Taught) (out LearnOutcome, err error) {
	tmp, err := os.MkdirTemp(l.dir, "ocrpool-eval-learn-")
	if err != nil {
		return out, err
	}
	defer func() { err = errors.Join(err, os.RemoveAll(tmp)) }()
	path := filepath.Join(tmp, "pool.db")
	d, err := db.Open(ctx, config.DatabaseConfig{Path: path}, l.log)
	if err != nil {
		return out, err
	}
	defer func() { err = errors.Join(err, d.Close()) }()
	if _, err := d.MigrateUp(ctx); err != nil {
		return out, err
	}

	// The receipts are replayed as corrections made the day after each was
	// printed, into a pool whose clock stands the day after the newest and
	// whose window spans them all: a folder of receipts from past years
	// would otherwise be all "old_date" outliers, outside the window.
	cfg := l.cfg
	made := make([]time.Time, len(taught))
	var first, last time.Time
	for i, t := range taught {
		d, ok := ParseTruthDate(t.Truth.Date)
		if !ok {
			continue
		}
		made[i] = d.Add(24 * time.Hour)
		if first.IsZero() || made[i].Before(first) {
			first = made[i]
		}
		if made[i].After(last) {
			last = made[i]
		}
	}
	if last.IsZero() {
		last = time.Now().UTC()
		first = last
	}
	now := last.Add(time.Hour)
	cfg.PatternWindow = max(cfg.PatternWindow, now.Sub(first)+24*time.Hour)
	pool, err := datapool.NewService(cfg, datapool.Deps{Log: l.log, DB: d, SQLitePath: path,
		Clock: func() time.Time { return now }})
	if err != nil {
		return out, err
	}

	batch := make([]datapool.Correction, 0, len(taught))
	for i, t := range taught {
		conf := t.OCRConfidence
		at := now
		if !made[i].IsZero() {
			at = made[i]
		}
		batch = append(batch, datapool.Correction{
			CreatedAt:          at.Format(time.RFC3339),
			SourceApp:          evalApp,
			SourceEnvironment:  "eval",
			SourceCorrectionID: uuid.NewSHA1(uuid.NameSpaceURL, []byte("ocrpool-eval:"+t.Stem)).String(),
			UserID:             "eval-user-" + t.Stem,
			OCRProvider:        "tesseract",
			OCRText:            t.Text,
			OCRConfidence:      &conf,
			OriginalInference: datapool.Fields{Merchant: datapool.Value(t.Merchant),
				Date: datapool.Value(t.Date), Amount: datapool.Value(t.Amount)},
			CorrectedFields: datapool.Fields{Merchant: datapool.Value(t.Truth.Company),
				Date: datapool.Value(t.Truth.Date), Amount: datapool.Value(t.Truth.Total)},
		})
	}
	for start := 0; start < len(batch); start += cfg.MaxBatch {
		items, err := pool.IngestBatch(ctx, batch[start:min(len(batch), start+cfg.MaxBatch)])
		if err != nil {
			return out, err
		}
		for _, it := range items {
			if it.Error != nil {
				l.log.Warn("eval correction rejected", "stem", taught[start+it.Index].Stem, "err", it.Error)
				continue
			}
			out.Corrections++
		}
	}

	res, err := pool.RefreshPatterns(ctx, "eval")
	if err != nil {
		return out, err
	}
	out.Note = res.Reason
	if !res.Created {
		return out, nil // no pattern recurs often enough: rules only
	}
	set, err := pool.PatternSetVersion(ctx, res.Version)
	if err != nil {
		return out, err
	}
	out.Version = res.Version
	out.PatternCount = set.PatternCount
	out.Set = set.Set()
	if out.Patterns, err = ocr.CompilePatterns(out.Set); err != nil {
		return out, fmt.Errorf("compiling %s: %w", res.Version, err)
	}
	return out, nil
}

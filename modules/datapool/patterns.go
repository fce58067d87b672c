package datapool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ocrpool/ocrpool/modules/datapool/webhook"
	"github.com/ocrpool/ocrpool/modules/patternset"
	"github.com/ocrpool/ocrpool/modules/platform/apierr"
)

// gateTolerance is how much worse (recall or accuracy, per field) a
// candidate may score than the active version on the held-out slice and
// still pass: one point absorbs the noise of small slices.
const gateTolerance = 0.01

// RefreshPatterns learns a pattern set from the pool's recent corrections.
// It stores a new version only when the learned content differs from the
// latest version, validates it against the active version on a held-out
// slice, and activates it when it is not worse (the first version always).
// A version that fails the gate is stored inactive with the reason.
// Errors: Conflict when another refresh runs, Unavailable/Timeout.
func (s *Service) RefreshPatterns(ctx context.Context, actor string) (res RefreshResult, err error) {
	defer func() { s.countRefresh(res, err) }()
	release, err := s.patternLock(ctx, "refresh")
	if err != nil {
		return RefreshResult{}, err
	}
	defer release()

	now := s.now().UTC()
	from := now.Add(-s.cfg.PatternWindow)
	t0 := time.Now()
	pool, err := s.patterns.readLearningPool(ctx, learningFilter{
		From: from, To: now, MinQuality: s.cfg.MinQuality, HoldoutPct: s.cfg.PatternHoldout, MinFrequency: max(s.cfg.MinFrequency, 1),
	}, s.learningValues)
	if err != nil {
		return RefreshResult{}, err
	}
	opts := patternset.Options{
		MinFrequency: s.cfg.MinFrequency,
		MinQuality:   s.cfg.MinQuality,
		Window:       s.cfg.PatternWindow,
		Now:          now,
	}
	read := time.Since(t0)
	// The latest version, to compare with, is read while learning.
	var (
		lwg       sync.WaitGroup
		latest    *patternVersionRow
		latestErr error
	)
	lwg.Go(func() { latest, latestErr = s.patterns.latest(ctx) })
	set := patternset.LearnPool(pool.Pool, opts)
	lwg.Wait()
	learned := time.Since(t0) - read
	total := pool.Learn + pool.Held
	res = RefreshResult{Corrections: total}

	// Validation starts at once, beside hashing, encoding and storing the
	// set (all only read it): compiling and scoring is the longest of
	// them. A refresh that learns nothing new throws its verdict away.
	var (
		vwg    sync.WaitGroup
		val    *Validation
		cm     *patternset.Matcher
		valErr error
	)
	vwg.Go(func() { val, cm, valErr = s.validate(ctx, set, pool.Holdout) })
	defer vwg.Wait()

	if latestErr != nil {
		return res, latestErr
	}
	// The patterns are encoded once, for the stored version and for the
	// served body, while they are hashed: when nothing is new the encoding
	// is thrown away, but a refresh that learned something stores sooner.
	var (
		hwg  sync.WaitGroup
		hash string
	)
	hwg.Go(func() { hash = set.Hash() })
	patternsJSON, encodeErr := patternset.EncodePatterns(set.Patterns, runtime.GOMAXPROCS(0))
	hwg.Wait()
	switch {
	case latest != nil && latest.ContentHash != nil && *latest.ContentHash == hash:
		res.Version = latest.VersionName
		res.Activated = latest.IsActive
		res.Reason = fmt.Sprintf("nothing new to learn: the corrections give the same patterns as %s", latest.VersionName)
		if s.unfinishedActivation(ctx, latest) {
			if _, err := s.activatePatterns(ctx, latest.VersionName, actionActivate, actor, "refresh: passed validation; its activation had failed", nil); err != nil {
				return res, err
			}
			res.Activated = true
			res.Reason += "; activated it: it had passed validation, but its activation had failed"
		}
		return res, nil
	case latest == nil && set.Count() == 0:
		res.Reason = fmt.Sprintf("no (field, value) recurs %d times yet in %d corrections", max(s.cfg.MinFrequency, 1), total)
		return res, nil
	}

	if encodeErr != nil {
		return res, fmt.Errorf("encoding pattern set: %w", encodeErr)
	}
	notes := fmt.Sprintf("learned from %d of %d corrections (%d held out, %d of those validated on; %d OCR texts read) in %s",
		pool.Learn, total, pool.Held, len(pool.Holdout), len(pool.Pool.Texts), windowText(s.cfg.PatternWindow))
	row := patternVersionRow{
		CreatedAt:               now,
		PatternCount:            set.Count(),
		BasedOnCorrectionsCount: set.Stats.Used,
		AvgPatternConfidence:    strconv.FormatFloat(set.AvgConfidence(), 'f', 3, 64),
		ContentHash:             &hash,
		WindowStart:             &from,
		WindowEnd:               &now,
	}
	// The version is stored while it is validated, and the verdict added
	// after: the database parsing megabytes of JSON and the matchers
	// scoring the held-out slice take about as long, on different cores.
	pending := notes + "; validating"
	row.Notes = &pending
	storeErr := s.patterns.insertVersion(ctx, &row, func(name string) error {
		named := *set // a copy: validation is reading set
		named.Version = name
		head, err := json.Marshal(struct {
			*patternset.Set
			Patterns json.RawMessage `json:"patterns,omitempty"` // spliced in
		}{Set: &named})
		if err != nil {
			return fmt.Errorf("encoding pattern set: %w", err)
		}
		row.PatternData = string(withRawField(head, "patterns", patternsJSON))
		return nil
	})
	vwg.Wait()
	validated := time.Since(t0) - read - learned
	defer func() {
		s.log.Debug("pattern refresh timings", "read", read, "count", pool.groupsTook, "learn", learned, "validate_and_store", validated,
			"activate", time.Since(t0)-read-learned-validated,
			"groups", len(pool.Pool.Groups), "texts", len(pool.Pool.Texts), "holdout", len(pool.Holdout))
	}()
	if storeErr != nil {
		return res, storeErr
	}
	verdict := func() error {
		if valErr != nil {
			return valErr
		}
		if !val.Accepted {
			notes += "; not activated: " + strings.Join(val.Reasons, "; ")
		}
		valJSON, err := jsonText(val)
		if err != nil {
			return err
		}
		if err := s.patterns.recordValidation(ctx, row.VersionID, valJSON, notes); err != nil {
			return err
		}
		row.Validation, row.Notes = valJSON, &notes
		return nil
	}
	if err := verdict(); err != nil {
		// No version is left without its verdict: a refresh that learns
		// the same patterns again would take it as done.
		if err := s.patterns.deleteVersion(context.WithoutCancel(ctx), row.VersionID); err != nil {
			s.log.Error("removing a pattern set version that could not be validated", "version", row.VersionName, "err", err)
		}
		return res, err
	}
	res.Created, res.Version, res.Validation = true, row.VersionName, val
	if !val.Accepted {
		res.Reason = "stored inactive: " + strings.Join(val.Reasons, "; ")
		s.log.Warn("pattern set version failed validation", "version", row.VersionName, "reasons", val.Reasons)
		return res, nil
	}
	if _, err := s.activatePatterns(ctx, row.VersionName, actionActivate, actor, "refresh: passed validation", patternsJSON); err != nil {
		return res, err
	}
	s.compiled.put(row.VersionID, cm)
	res.Activated = true
	res.Reason = "activated: not worse than " + nameOrNone(val.ActiveVersion) + " on the held-out corrections"
	s.log.Info("pattern set activated", "version", row.VersionName, "patterns", row.PatternCount, "corrections", total)
	return res, nil
}

// unfinishedActivation reports whether v passed validation against the
// version active now but was never activated: its refresh failed between
// the two steps, and the next refresh, learning the same patterns, finishes
// the activation instead of reporting nothing new forever. A version that
// was active once (rolled back since) or was validated against another
// version stays as it is.
func (s *Service) unfinishedActivation(ctx context.Context, v *patternVersionRow) bool {
	if v.IsActive || v.ActivatedAt != nil || v.Validation == nil {
		return false
	}
	var val Validation
	if json.Unmarshal([]byte(*v.Validation), &val) != nil || !val.Accepted {
		return false
	}
	_, active, err := s.patterns.activeID(ctx)
	return err == nil && active == val.ActiveVersion
}

// learningValues turns a correction's stored values into what learning
// sees. A field the user did not correct counts with its original value:
// the user saw it and left it, so it is the truth too, and precision is
// measured on every receipt rather than only on the ones OCR got wrong.
func (s *Service) learningValues(r rawValues) (original, corrected map[string]string) {
	origMerchant, origCategory := r.OrigMerchant.String, r.OrigCategory.String
	corrected = map[string]string{}
	if r.Merchant.String != "" {
		corrected[patternset.FieldMerchant] = r.Merchant.String
	} else if m := NormalizeMerchant(origMerchant); m != "" && !r.MerchantFixed {
		corrected[patternset.FieldMerchant] = m
	}
	if r.Category.String != "" {
		corrected[patternset.FieldCategory] = r.Category.String
	} else if c, ok := s.taxonomy.Normalize(origCategory); ok && !r.CategoryFixed {
		corrected[patternset.FieldCategory] = c
	}
	return map[string]string{"merchant": origMerchant, "category": origCategory}, corrected
}

// validate scores the candidate and the active version on the same
// held-out corrections, side by side, and returns the candidate's matcher
// too: when the candidate is activated it is the one the next refresh
// validates against.
func (s *Service) validate(ctx context.Context, candidate *patternset.Set, holdout []patternset.Example) (*Validation, *patternset.Matcher, error) {
	fields := slices.Compact(slices.Sorted(slices.Values(append(candidate.Fields(), patternset.FieldMerchant, patternset.FieldCategory))))
	val := &Validation{HoldoutSize: len(holdout)}
	var (
		wg           sync.WaitGroup
		cm           *patternset.Matcher
		candidateErr error
	)
	wg.Go(func() {
		if cm, candidateErr = patternset.Compile(candidate); candidateErr != nil {
			candidateErr = fmt.Errorf("compiling the candidate pattern set: %w", candidateErr)
			return
		}
		val.Candidate = patternset.Evaluate(cm, holdout, fields)
	})
	activeScore, activeName, err := s.scoreActive(ctx, holdout, fields)
	wg.Wait()
	if err = errors.Join(candidateErr, err); err != nil {
		return nil, nil, err
	}
	if activeName != "" {
		val.ActiveVersion, val.Active = activeName, &activeScore
	}
	val.Accepted, val.Reasons = val.Candidate.NotWorse(activeScore, gateTolerance)
	return val, cm, nil
}

// scoreActive scores the active version on the held-out corrections; with
// none active, it is the score of no patterns and name is "".
func (s *Service) scoreActive(ctx context.Context, holdout []patternset.Example, fields []string) (score patternset.Score, name string, err error) {
	am, name, err := s.activeMatcher(ctx)
	if err != nil {
		return score, "", err
	}
	return patternset.Evaluate(am, holdout, fields), name, nil
}

// activeMatcher returns the active version's compiled matcher and name;
// nil and "" when none is active. A version's patterns never change, so
// the matcher is kept until another version becomes active: decoding and
// compiling tens of thousands of patterns is a few tenths of a second.
func (s *Service) activeMatcher(ctx context.Context) (*patternset.Matcher, string, error) {
	id, name, err := s.patterns.activeID(ctx)
	if err != nil || name == "" {
		return nil, "", err
	}
	if m := s.compiled.get(id); m != nil {
		return m, name, nil
	}
	row, err := s.patterns.versionByID(ctx, id)
	if err != nil {
		return nil, "", err
	}
	set, err := patternset.Parse([]byte(row.PatternData))
	if err != nil {
		return nil, "", fmt.Errorf("decoding active pattern set %s: %w", name, err)
	}
	m, err := patternset.Compile(set)
	if err != nil {
		return nil, "", fmt.Errorf("compiling active pattern set %s: %w", name, err)
	}
	s.compiled.put(id, m)
	return m, name, nil
}

// compiledVersion holds one version's compiled matcher, by version_id.
type compiledVersion struct {
	mu sync.Mutex
	id int
	m  *patternset.Matcher
}

func (c *compiledVersion) get(id int) *patternset.Matcher {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.id != id {
		return nil
	}
	return c.m
}

func (c *compiledVersion) put(id int, m *patternset.Matcher) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.id, c.m = id, m
}

// countRefresh records a refresh's outcome in the metrics.
func (s *Service) countRefresh(res RefreshResult, err error) {
	result := "error"
	switch {
	case err != nil && apierr.Is(err, apierr.Conflict):
		return // another refresh holds the lock: that one is counted
	case err != nil:
	case res.Created && res.Activated:
		result = "activated"
	case res.Created:
		result = "rejected"
	case res.Version != "":
		result = "unchanged"
	default:
		result = "empty"
	}
	s.metrics.refreshes.WithLabelValues(result).Inc()
	if err == nil {
		s.metrics.lastRefresh.Set(float64(time.Now().Unix()))
	}
}

// ActivatePatterns makes version the active pattern set at once, whatever
// its validation said (an admin's decision). Errors: NotFound, Conflict
// when it is already active.
func (s *Service) ActivatePatterns(ctx context.Context, version, actor, reason string) (PatternVersion, error) {
	return s.activatePatterns(ctx, version, actionActivate, actor, reason, nil)
}

// RollbackPatterns makes an earlier version active at once and records
// why. Errors: Invalid without a reason, NotFound, Conflict when it is
// already active.
func (s *Service) RollbackPatterns(ctx context.Context, version, actor, reason string) (PatternVersion, error) {
	if strings.TrimSpace(reason) == "" {
		return PatternVersion{}, apierr.Field("reason", "a rollback needs a reason")
	}
	return s.activatePatterns(ctx, version, actionRollback, actor, reason, nil)
}

// activatePatterns makes version active and serves it. patterns is the
// version's "patterns" JSON when the caller has it at hand (a refresh that
// just encoded them); nil reads it from the database.
func (s *Service) activatePatterns(ctx context.Context, version, action, actor, reason string, patterns json.RawMessage) (PatternVersion, error) {
	if !validVersionName(version) {
		return PatternVersion{}, apierr.Field("version", "must look like v12")
	}
	at := s.now().UTC()
	prev, row, err := s.patterns.activate(ctx, version, action, actor, reason, at)
	if err != nil {
		return PatternVersion{}, err
	}
	if patterns == nil {
		patterns, err = s.patterns.patternsJSON(ctx, row.VersionID)
	}
	if err != nil {
		// Activated all the same: this process's poll and the other
		// processes' load it from the database.
		s.log.Error("reading the activated pattern set failed; serving it after the next poll", "version", row.VersionName, "err", err)
	} else {
		s.serving.publish(ctx, newServedSet(row, patterns))
	}
	event := webhook.EventActivated
	if action == actionRollback {
		event = webhook.EventRolledBack
	}
	if s.webhooks != nil {
		if _, err := s.webhooks.Publish(ctx, webhook.Event{Event: event, Version: row.VersionName, ETag: etagOf(row.VersionName), ActivatedAt: at}); err != nil {
			s.log.Error("queueing pattern webhooks failed", "version", row.VersionName, "err", err)
		}
	}
	s.log.Info("pattern set switched", "action", action, "version", row.VersionName, "previous", prev, "actor", actor)
	return row.info(map[int]string{}), nil
}

// ActivePatternSet returns the active pattern set from this process's
// copy. Errors: NotFound when none has been activated.
func (s *Service) ActivePatternSet(ctx context.Context) (*PatternSet, error) {
	cur := s.serving.current(ctx)
	if cur == nil {
		return nil, apierr.New(apierr.NotFound, "no pattern set is active yet: run a refresh (POST /patterns/refresh or `ocrpool patterns refresh`)")
	}
	return cur.decode()
}

// PatternSetVersion returns one version with its patterns.
func (s *Service) PatternSetVersion(ctx context.Context, version string) (*PatternSet, error) {
	if !validVersionName(version) {
		return nil, apierr.Field("version", "must look like v12")
	}
	row, err := s.patterns.version(ctx, version)
	if err != nil {
		return nil, err
	}
	return newServedSet(row, storedPatterns(row.PatternData)).decode()
}

// PatternVersions lists every version without its patterns, newest first.
func (s *Service) PatternVersions(ctx context.Context) ([]PatternVersion, error) {
	rows, err := s.patterns.versions(ctx)
	if err != nil {
		return nil, err
	}
	names := make(map[int]string, len(rows))
	for _, r := range rows {
		names[r.VersionID] = r.VersionName
	}
	out := make([]PatternVersion, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.info(names))
	}
	return out, nil
}

// DiffPatterns compares two versions.
func (s *Service) DiffPatterns(ctx context.Context, from, to string) (patternset.SetDiff, error) {
	a, err := s.PatternSetVersion(ctx, from)
	if err != nil {
		return patternset.SetDiff{}, withField(err, "from")
	}
	b, err := s.PatternSetVersion(ctx, to)
	if err != nil {
		return patternset.SetDiff{}, withField(err, "to")
	}
	return patternset.Diff(a.Set(), b.Set()), nil
}

// PatternsLiveAt answers "which version was live at t". Errors: NotFound
// when none was.
func (s *Service) PatternsLiveAt(ctx context.Context, t time.Time) (Activation, error) {
	a, err := s.patterns.liveAt(ctx, t.UTC())
	if err != nil {
		return Activation{}, err
	}
	if a == nil {
		return Activation{}, apierr.New(apierr.NotFound, "no pattern set was live at %s", t.UTC().Format(time.RFC3339))
	}
	return a.public(), nil
}

// PatternActivations lists the activation history, newest first.
func (s *Service) PatternActivations(ctx context.Context, limit int) ([]Activation, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := s.patterns.activations(ctx, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Activation, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.public())
	}
	return out, nil
}

// patternLock keeps two refreshes (the scheduled job on one replica, an
// admin's request on another) from learning at once. Without Redis (the
// CLI on an embedded store) it is a no-op: one process, one refresh.
func (s *Service) patternLock(ctx context.Context, what string) (func(), error) {
	if s.rdb == nil {
		return func() {}, nil
	}
	key := s.serving.key + ":lock:" + what
	token := strconv.FormatInt(time.Now().UnixNano(), 36)
	ok, err := s.rdb.SetNX(ctx, key, token, 30*time.Minute).Result()
	if err != nil {
		return nil, apierr.New(apierr.Unavailable, "taking the pattern %s lock: Redis is unavailable", what)
	}
	if !ok {
		return nil, apierr.New(apierr.Conflict, "a pattern %s is already running; try again when it has finished", what)
	}
	return func() {
		// Delete only our own lock, even if it outlived its TTL.
		const unlock = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`
		if err := s.rdb.Eval(context.WithoutCancel(ctx), unlock, []string{key}, token).Err(); err != nil && !errors.Is(err, redis.Nil) {
			s.log.Warn("releasing pattern lock failed; it expires by itself", "err", err)
		}
	}, nil
}

func validVersionName(v string) bool {
	_, ok := patternset.VersionNumber(v)
	return ok
}

func withField(err error, field string) error {
	var ae *apierr.Error
	if errors.As(err, &ae) && ae.Field == "" && ae.Code == apierr.Invalid || errors.As(err, &ae) && ae.Code == apierr.NotFound {
		cp := *ae
		cp.Field = field
		return &cp
	}
	return err
}

func nameOrNone(v string) string {
	if v == "" {
		return "no active version"
	}
	return v
}

func windowText(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("the last %d days", int(d/(24*time.Hour)))
	}
	return "the last " + d.String()
}

// Webhooks is the webhook dispatcher, for the CLI.
func (s *Service) Webhooks() *webhook.Dispatcher { return s.webhooks }

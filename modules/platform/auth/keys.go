package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/ocrpool/ocrpool/modules/platform/apierr"
	"github.com/ocrpool/ocrpool/modules/platform/db"
)

// Key statuses, as List reports them.
const (
	StatusActive  = "active"
	StatusExpired = "expired"
	StatusRevoked = "revoked"
)

// Key is an API key as operators see it: never its secret or hash.
type Key struct {
	ID          string       `json:"id"`
	Prefix      string       `json:"prefix"`
	AppName     string       `json:"app_name"`
	Environment string       `json:"environment"`
	Role        Role         `json:"role"`
	Permissions []Permission `json:"permissions"`
	Active      bool         `json:"is_active"`
	// Status is active, expired or revoked.
	Status     string     `json:"status"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	CreatedBy  string     `json:"created_by,omitempty"`
	Notes      string     `json:"notes,omitempty"`
}

// NewKey is what Create needs.
type NewKey struct {
	Role        Role
	AppName     string
	Environment string
	// ExpiresAt nil means the key never expires.
	ExpiresAt *time.Time
	// CreatedBy names who asked: "key:<id>", "cli:<os user>", "bootstrap".
	CreatedBy string
	Notes     string
}

// Created is a new key with its secret, which exists only here: it is
// shown once and never stored.
type Created struct {
	Key    Key
	Secret string
}

// KeysOptions tune NewKeys.
type KeysOptions struct {
	// CacheTTL is how long an accepted lookup is reused before the
	// database is asked again (security.key_cache_ttl); 0 disables the
	// cache.
	CacheTTL time.Duration
	// FlushEvery is how often last_used_at is written; default 5 s.
	FlushEvery time.Duration
	// Redis, when set, carries revocations between processes at once.
	Redis *redis.Client
	// Channel is the pub/sub channel of revocations (with the key prefix).
	Channel string
	Log     *slog.Logger
}

// Keys stores and checks API keys. It is safe for concurrent use.
type Keys struct {
	db   *db.DB
	opts KeysOptions
	log  *slog.Logger

	mu     sync.RWMutex
	byHash map[string]cachedKey

	usedMu sync.Mutex
	used   map[string]struct{}

	sub       *redis.PubSub
	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

type cachedKey struct {
	row keyRow
	at  time.Time
}

// maxCached bounds the lookup cache; over it, the cache starts afresh.
const maxCached = 10_000

// keyRow is a row of api_keys.
type keyRow struct {
	KeyID       string     `gorm:"column:key_id;primaryKey"`
	KeyHash     string     `gorm:"column:key_hash"`
	KeyPrefix   string     `gorm:"column:key_prefix"`
	AppName     string     `gorm:"column:app_name"`
	Environment string     `gorm:"column:environment"`
	Role        string     `gorm:"column:role"`
	Permissions string     `gorm:"column:permissions"`
	IsActive    bool       `gorm:"column:is_active"`
	CreatedAt   time.Time  `gorm:"column:created_at"`
	ExpiresAt   *time.Time `gorm:"column:expires_at"`
	LastUsedAt  *time.Time `gorm:"column:last_used_at"`
	RevokedAt   *time.Time `gorm:"column:revoked_at"`
	CreatedBy   *string    `gorm:"column:created_by"`
	Notes       *string    `gorm:"column:notes"`
}

func (keyRow) TableName() string { return "api_keys" }

// NewKeys returns the key store over d. With opts.Redis it subscribes to
// revocations before returning, so none published afterwards is missed.
// Close stops it.
func NewKeys(ctx context.Context, d *db.DB, opts KeysOptions) (*Keys, error) {
	if opts.FlushEvery <= 0 {
		opts.FlushEvery = 5 * time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	k := &Keys{
		db: d, opts: opts, log: opts.Log,
		byHash: map[string]cachedKey{},
		used:   map[string]struct{}{},
		stop:   make(chan struct{}),
	}
	if opts.Redis != nil {
		k.sub = opts.Redis.Subscribe(ctx, opts.Channel)
		if _, err := k.sub.Receive(ctx); err != nil {
			_ = k.sub.Close()
			return nil, fmt.Errorf("auth: subscribing to key revocations: %w", err)
		}
		ch := k.sub.Channel()
		k.wg.Add(1)
		go func() {
			defer k.wg.Done()
			for msg := range ch {
				k.forget(msg.Payload)
			}
		}()
	}
	k.wg.Add(1)
	go k.flushLoop()
	return k, nil
}

// Close writes pending last_used_at times and stops listening for
// revocations. Calling it again does nothing.
func (k *Keys) Close() error {
	var err error
	k.closeOnce.Do(func() {
		close(k.stop)
		if k.sub != nil {
			err = k.sub.Close()
		}
		k.wg.Wait()
	})
	return err
}

// Authenticate checks an Authorization header value. The error is an
// *apierr.Error with code Unauthenticated when the key is missing,
// malformed, unknown, expired or revoked; any other error is the
// database's. For an expired or revoked key the Principal is filled in
// (with the error), so the audit log can name the key that was refused.
func (k *Keys) Authenticate(ctx context.Context, header string) (Principal, error) {
	if strings.TrimSpace(header) == "" {
		return Principal{}, apierr.New(apierr.Unauthenticated, "missing API key: send Authorization: Bearer <key>")
	}
	scheme, token, _ := strings.Cut(strings.TrimSpace(header), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || !WellFormed(token) {
		// The header is never echoed: it may be a secret of some kind.
		return Principal{}, apierr.New(apierr.Unauthenticated, "malformed Authorization header: want Bearer ocp_live_… or Bearer ocp_test_…")
	}
	row, found, err := k.lookup(ctx, HashKey(token))
	if err != nil {
		return Principal{}, err
	}
	if !found {
		return Principal{}, apierr.New(apierr.Unauthenticated, "unknown API key")
	}
	p := Principal{KeyID: row.KeyID, Role: Role(row.Role), AppName: row.AppName, Environment: row.Environment}
	switch {
	case !row.IsActive:
		return p, apierr.New(apierr.Unauthenticated, "API key revoked")
	case row.ExpiresAt != nil && !time.Now().Before(*row.ExpiresAt):
		return p, apierr.New(apierr.Unauthenticated, "API key expired")
	}
	k.usedMu.Lock()
	k.used[row.KeyID] = struct{}{}
	k.usedMu.Unlock()
	return p, nil
}

// lookup finds a key by hash, through the cache. Unknown hashes are not
// cached, so a key created by another process works at once.
func (k *Keys) lookup(ctx context.Context, hash string) (keyRow, bool, error) {
	if ttl := k.opts.CacheTTL; ttl > 0 {
		k.mu.RLock()
		c, ok := k.byHash[hash]
		k.mu.RUnlock()
		if ok && time.Since(c.at) < ttl {
			return c.row, true, nil
		}
	}
	var row keyRow
	err := k.db.Gorm.WithContext(ctx).Where("key_hash = ?", hash).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return keyRow{}, false, nil
	}
	if err != nil {
		return keyRow{}, false, fmt.Errorf("auth: looking up an API key: %w", err)
	}
	if k.opts.CacheTTL > 0 {
		k.mu.Lock()
		if len(k.byHash) >= maxCached {
			k.byHash = map[string]cachedKey{}
		}
		k.byHash[hash] = cachedKey{row: row, at: time.Now()}
		k.mu.Unlock()
	}
	return row, true, nil
}

// forget drops key id from the cache (a revocation here or elsewhere).
func (k *Keys) forget(id string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for h, c := range k.byHash {
		if c.row.KeyID == id {
			delete(k.byHash, h)
		}
	}
}

var (
	appNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,49}$`)
	envPattern     = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,19}$`)
)

const maxNotes = 500

// Validate checks n as Create would, naming the field at fault.
func (n NewKey) Validate(now time.Time) error {
	if _, err := ParseRole(string(n.Role)); err != nil {
		return apierr.Field("role", "must be one of %v", Roles())
	}
	if !appNamePattern.MatchString(n.AppName) {
		return apierr.Field("app_name", "must be 1-50 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	if !envPattern.MatchString(n.Environment) {
		return apierr.Field("environment", "must be 1-20 lower-case letters, digits, '_' or '-' (production, sandbox, …)")
	}
	if n.ExpiresAt != nil && !n.ExpiresAt.After(now) {
		return apierr.Field("expires_at", "must be in the future")
	}
	if utf8.RuneCountInString(n.Notes) > maxNotes || !utf8.ValidString(n.Notes) || strings.ContainsRune(n.Notes, 0) {
		return apierr.Field("notes", "must be valid text of at most %d characters", maxNotes)
	}
	if utf8.RuneCountInString(n.CreatedBy) > 100 || !utf8.ValidString(n.CreatedBy) || strings.ContainsRune(n.CreatedBy, 0) {
		return apierr.Field("created_by", "must be valid text of at most 100 characters")
	}
	return nil
}

// Create stores a new key and returns it with its secret. Invalid input
// is an *apierr.Error naming the field.
func (k *Keys) Create(ctx context.Context, n NewKey) (Created, error) {
	return k.create(k.db.Gorm.WithContext(ctx), n)
}

func (k *Keys) create(tx *gorm.DB, n NewKey) (Created, error) {
	now := time.Now().UTC()
	if err := n.Validate(now); err != nil {
		return Created{}, err
	}
	secret, err := GenerateKey(n.Environment)
	if err != nil {
		return Created{}, err
	}
	perms, err := json.Marshal(n.Role.Permissions())
	if err != nil {
		return Created{}, err
	}
	row := keyRow{
		KeyID:       uuid.NewString(),
		KeyHash:     HashKey(secret),
		KeyPrefix:   DisplayPrefix(secret),
		AppName:     n.AppName,
		Environment: n.Environment,
		Role:        string(n.Role),
		Permissions: string(perms),
		IsActive:    true,
		CreatedAt:   now.Truncate(time.Microsecond),
		ExpiresAt:   truncPtr(n.ExpiresAt),
		CreatedBy:   strPtr(n.CreatedBy),
		Notes:       strPtr(n.Notes),
	}
	if err := tx.Create(&row).Error; err != nil {
		return Created{}, fmt.Errorf("auth: storing an API key: %w", err)
	}
	return Created{Key: row.public(now), Secret: secret}, nil
}

// List returns every key, newest first.
func (k *Keys) List(ctx context.Context) ([]Key, error) {
	var rows []keyRow
	if err := k.db.Gorm.WithContext(ctx).Order("created_at DESC, key_id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("auth: listing API keys: %w", err)
	}
	now := time.Now()
	out := make([]Key, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.public(now))
	}
	return out, nil
}

// Get returns key id: Invalid when id is not a UUID, NotFound when there
// is no such key.
func (k *Keys) Get(ctx context.Context, id string) (Key, error) {
	row, err := k.get(k.db.Gorm.WithContext(ctx), id)
	if err != nil {
		return Key{}, err
	}
	return row.public(time.Now()), nil
}

func (k *Keys) get(tx *gorm.DB, id string) (keyRow, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		if LooksLikeKey(id) {
			return keyRow{}, apierr.Field("id", "is an API key, not a key id: never send a key anywhere but the Authorization header")
		}
		return keyRow{}, apierr.Field("id", "must be a key id (a UUID)")
	}
	id = u.String() // stored lower-case; SQLite compares text exactly
	var row keyRow
	err = tx.Where("key_id = ?", id).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return keyRow{}, apierr.New(apierr.NotFound, "no API key %s", id)
	}
	if err != nil {
		return keyRow{}, fmt.Errorf("auth: reading API key %s: %w", id, err)
	}
	return row, nil
}

// Revoke deactivates key id for good. Revoking a revoked key changes
// nothing and is not an error. The key stops working at once in this
// process and, through Redis, in the others; without Redis, within
// CacheTTL. Errors as Get.
func (k *Keys) Revoke(ctx context.Context, id string) (Key, error) {
	g := k.db.Gorm.WithContext(ctx)
	row, err := k.get(g, id)
	if err != nil {
		return Key{}, err
	}
	id = row.KeyID
	if row.IsActive {
		now := time.Now().UTC().Truncate(time.Microsecond)
		if err := g.Model(&keyRow{}).Where("key_id = ? AND is_active = ?", id, true).
			Updates(map[string]any{"is_active": false, "revoked_at": now}).Error; err != nil {
			return Key{}, fmt.Errorf("auth: revoking API key %s: %w", id, err)
		}
		if row, err = k.get(g, id); err != nil {
			return Key{}, err
		}
	}
	k.forget(id)
	if k.opts.Redis != nil {
		// A lost message only delays the effect elsewhere to CacheTTL.
		if err := k.opts.Redis.Publish(ctx, k.opts.Channel, id).Err(); err != nil {
			k.log.WarnContext(ctx, "publishing a key revocation failed; other processes notice within the key cache TTL",
				"key_id", id, "err", err)
		}
	}
	return row.public(time.Now()), nil
}

// EnsureAdmin creates an admin key when no usable (active, unexpired) one
// exists and reports whether it did. Concurrent callers, in this process
// or others, create at most one: PostgreSQL serialises them on an advisory
// lock, SQLite on its write lock (immediate transactions).
func (k *Keys) EnsureAdmin(ctx context.Context) (Created, bool, error) {
	var (
		created Created
		made    bool
	)
	err := k.db.Gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if k.db.Dialect == db.Postgres {
			// Two int4 keys: a space apart from goose's bigint lock.
			if err := tx.Exec("SELECT pg_advisory_xact_lock(1869770596, hashtext(current_schema()))").Error; err != nil {
				return err
			}
		}
		var n int64
		if err := tx.Model(&keyRow{}).
			Where("role = ? AND is_active = ? AND (expires_at IS NULL OR expires_at > ?)", string(RoleAdmin), true, time.Now().UTC()).
			Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		c, err := k.create(tx, NewKey{Role: RoleAdmin, AppName: "ocrpool", Environment: ProductionEnv,
			CreatedBy: "bootstrap", Notes: "created at first start because no admin key existed"})
		if err != nil {
			return err
		}
		created, made = c, true
		return nil
	})
	if err != nil {
		return Created{}, false, fmt.Errorf("auth: ensuring an admin key exists: %w", err)
	}
	return created, made, nil
}

func (k *Keys) flushLoop() {
	defer k.wg.Done()
	t := time.NewTicker(k.opts.FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			k.flushUsed(context.Background())
		case <-k.stop:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			k.flushUsed(ctx)
			cancel()
			return
		}
	}
}

// FlushUsed writes the last_used_at of every key used since the last
// flush, in one statement. It runs every FlushEvery and on Close.
func (k *Keys) FlushUsed(ctx context.Context) { k.flushUsed(ctx) }

func (k *Keys) flushUsed(ctx context.Context) {
	k.usedMu.Lock()
	if len(k.used) == 0 {
		k.usedMu.Unlock()
		return
	}
	ids := make([]string, 0, len(k.used))
	for id := range k.used {
		ids = append(ids, id)
	}
	k.used = map[string]struct{}{}
	k.usedMu.Unlock()
	now := time.Now().UTC().Truncate(time.Microsecond)
	if err := k.db.Gorm.WithContext(ctx).Model(&keyRow{}).Where("key_id IN ?", ids).
		Update("last_used_at", now).Error; err != nil {
		// Only a timestamp is lost; the next use sets it again.
		k.log.Warn("recording API key use failed", "keys", len(ids), "err", err)
	}
}

func (r keyRow) public(now time.Time) Key {
	var perms []Permission
	_ = json.Unmarshal([]byte(r.Permissions), &perms)
	status := StatusActive
	switch {
	case !r.IsActive:
		status = StatusRevoked
	case r.ExpiresAt != nil && !now.Before(*r.ExpiresAt):
		status = StatusExpired
	}
	k := Key{
		ID: r.KeyID, Prefix: r.KeyPrefix, AppName: r.AppName, Environment: r.Environment,
		Role: Role(r.Role), Permissions: perms, Active: r.IsActive, Status: status,
		CreatedAt: r.CreatedAt.UTC(), ExpiresAt: utcPtr(r.ExpiresAt), LastUsedAt: utcPtr(r.LastUsedAt),
		RevokedAt: utcPtr(r.RevokedAt),
	}
	if r.CreatedBy != nil {
		k.CreatedBy = *r.CreatedBy
	}
	if r.Notes != nil {
		k.Notes = *r.Notes
	}
	return k
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func truncPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC().Truncate(time.Microsecond)
	return &u
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

package auth_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ocrpool/ocrpool/config"
	"github.com/ocrpool/ocrpool/modules/platform/apierr"
	"github.com/ocrpool/ocrpool/modules/platform/auth"
	"github.com/ocrpool/ocrpool/modules/platform/db"
	"github.com/ocrpool/ocrpool/modules/platform/testenv"
)

// sharedDB opens n handles on one migrated database, as n processes would.
func sharedDB(t *testing.T, n int) []*db.DB {
	t.Helper()
	cfg := testenv.DBConfig(t)
	var out []*db.DB
	for i := range n {
		d, err := db.Open(context.Background(), cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		if i == 0 {
			if _, err := d.MigrateUp(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, d)
	}
	return out
}

func newKeys(t *testing.T, d *db.DB, opts auth.KeysOptions) *auth.Keys {
	t.Helper()
	k, err := auth.NewKeys(context.Background(), d, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := k.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return k
}

func mustCreate(t *testing.T, k *auth.Keys, role auth.Role, env string) auth.Created {
	t.Helper()
	c, err := k.Create(context.Background(), auth.NewKey{Role: role, AppName: "expenseapp", Environment: env, CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestKeyFormat(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range []struct{ env, prefix string }{
		{"production", "ocp_live_"}, {"sandbox", "ocp_test_"}, {"staging", "ocp_test_"},
	} {
		for range 50 {
			k, err := auth.GenerateKey(tc.env)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(k, tc.prefix) || !auth.WellFormed(k) || len(k) != len(tc.prefix)+43 {
				t.Fatalf("GenerateKey(%q) = %q, want %s + 43 base62 characters", tc.env, k, tc.prefix)
			}
			if seen[k] {
				t.Fatalf("GenerateKey repeated %q", k)
			}
			seen[k] = true
			if h := auth.HashKey(k); len(h) != 64 || strings.Contains(h, k) {
				t.Fatalf("HashKey = %q", h)
			}
			if p := auth.DisplayPrefix(k); p != k[:13] {
				t.Fatalf("DisplayPrefix = %q, want %q", p, k[:13])
			}
		}
	}
	for _, bad := range []string{"", "ocp_live_", "ocp_prod_" + strings.Repeat("a", 43), "ocp_live_" + strings.Repeat("a", 42),
		"ocp_live_" + strings.Repeat("a", 44), "ocp_live_" + strings.Repeat("-", 43), "sk_live_" + strings.Repeat("a", 43)} {
		if auth.WellFormed(bad) {
			t.Errorf("WellFormed(%q) = true", bad)
		}
	}
}

func TestParseExpiry(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration // 0: nil result
		err  bool
	}{
		{"", 0, false},
		{"90d", 90 * 24 * time.Hour, false},
		{"2w", 14 * 24 * time.Hour, false},
		{"12h", 12 * time.Hour, false},
		{"1h30m", 90 * time.Minute, false},
		{"0d", 0, true},
		{"-3d", 0, true},
		{"-1h", 0, true},
		{"d", 0, true},
		{"soon", 0, true},
		{"99999999d", 0, true},
	}
	for _, tt := range tests {
		got, err := auth.ParseExpiry(tt.in, now)
		switch {
		case tt.err:
			if err == nil {
				t.Errorf("ParseExpiry(%q) = %v, want an error", tt.in, got)
			}
		case err != nil:
			t.Errorf("ParseExpiry(%q) error %v", tt.in, err)
		case tt.want == 0 && got != nil, tt.want != 0 && (got == nil || !got.Equal(now.Add(tt.want))):
			t.Errorf("ParseExpiry(%q) = %v, want now+%s", tt.in, got, tt.want)
		}
	}
}

func TestCreateValidates(t *testing.T) {
	t.Parallel()
	k := newKeys(t, testenv.DB(t), auth.KeysOptions{})
	past := time.Now().Add(-time.Hour)
	ok := auth.NewKey{Role: auth.RoleApp, AppName: "expenseapp", Environment: "sandbox"}
	tests := []struct {
		name  string
		edit  func(*auth.NewKey)
		field string
	}{
		{"unknown role", func(n *auth.NewKey) { n.Role = "root" }, "role"},
		{"empty app", func(n *auth.NewKey) { n.AppName = "" }, "app_name"},
		{"app with spaces", func(n *auth.NewKey) { n.AppName = "expense app" }, "app_name"},
		{"app too long", func(n *auth.NewKey) { n.AppName = strings.Repeat("a", 51) }, "app_name"},
		{"empty env", func(n *auth.NewKey) { n.Environment = "" }, "environment"},
		{"upper-case env", func(n *auth.NewKey) { n.Environment = "Production" }, "environment"},
		{"expired already", func(n *auth.NewKey) { n.ExpiresAt = &past }, "expires_at"},
		{"notes too long", func(n *auth.NewKey) { n.Notes = strings.Repeat("n", 501) }, "notes"},
		{"notes with NUL", func(n *auth.NewKey) { n.Notes = "a\x00b" }, "notes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := ok
			tt.edit(&n)
			_, err := k.Create(context.Background(), n)
			var ae *apierr.Error
			if !apierr.Is(err, apierr.Invalid) || !asErr(err, &ae) || ae.Field != tt.field {
				t.Fatalf("Create = %v, want invalid %s", err, tt.field)
			}
		})
	}
	keys, err := k.List(context.Background())
	if err != nil || len(keys) != 0 {
		t.Fatalf("after refused creates: %d keys, %v; want none", len(keys), err)
	}
}

func asErr(err error, target **apierr.Error) bool {
	e, ok := err.(*apierr.Error)
	*target = e
	return ok
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	d := testenv.DB(t)
	k := newKeys(t, d, auth.KeysOptions{CacheTTL: time.Minute})
	live := mustCreate(t, k, auth.RoleTrainingService, "production")
	revoked := mustCreate(t, k, auth.RoleApp, "sandbox")
	if _, err := k.Revoke(context.Background(), revoked.Key.ID); err != nil {
		t.Fatal(err)
	}
	expired := mustCreate(t, k, auth.RoleApp, "sandbox")
	if err := d.Gorm.Exec("UPDATE api_keys SET expires_at = ? WHERE key_id = ?", time.Now().Add(-time.Minute).UTC(), expired.Key.ID).Error; err != nil {
		t.Fatal(err)
	}
	unknown, _ := auth.GenerateKey("sandbox")

	tests := []struct {
		name    string
		header  string
		wantErr string // "" means accepted
		wantID  string
	}{
		{"missing", "", "missing API key", ""},
		{"blank", "   ", "missing API key", ""},
		{"not bearer", "Basic " + live.Secret, "malformed", ""},
		{"no token", "Bearer", "malformed", ""},
		{"not a key", "Bearer hunter2", "malformed", ""},
		{"truncated key", "Bearer " + live.Secret[:30], "malformed", ""},
		{"unknown", "Bearer " + unknown, "unknown API key", ""},
		{"revoked", "Bearer " + revoked.Secret, "revoked", revoked.Key.ID},
		{"expired", "Bearer " + expired.Secret, "expired", expired.Key.ID},
		{"valid", "Bearer " + live.Secret, "", live.Key.ID},
		{"lower-case scheme", "bearer " + live.Secret, "", live.Key.ID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for round := range 2 { // the second round is served from the cache
				p, err := k.Authenticate(context.Background(), tt.header)
				if tt.wantErr == "" {
					if err != nil {
						t.Fatalf("round %d: %v", round, err)
					}
					if p.KeyID != tt.wantID || p.Role != auth.RoleTrainingService || p.AppName != "expenseapp" || p.Environment != "production" {
						t.Fatalf("round %d: principal = %+v", round, p)
					}
					continue
				}
				if !apierr.Is(err, apierr.Unauthenticated) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("round %d: err = %v, want unauthenticated %q", round, err, tt.wantErr)
				}
				if p.KeyID != tt.wantID {
					t.Fatalf("round %d: principal key = %q, want %q", round, p.KeyID, tt.wantID)
				}
				if strings.Contains(err.Error(), live.Secret) || (len(tt.header) > 7 && strings.Contains(err.Error(), tt.header[7:])) {
					t.Fatalf("the error echoes the credential: %v", err)
				}
			}
		})
	}
}

// A key revoked by one process stops working in another: through Redis at
// once (the cache TTL here is an hour, so only the message can do it), and
// without Redis within the cache TTL.
func TestRevokeReachesOtherProcesses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		ttl   time.Duration
		redis bool
	}{
		{"pubsub", time.Hour, true},
		{"cache TTL", 100 * time.Millisecond, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dbs := sharedDB(t, 2)
			opts := auth.KeysOptions{CacheTTL: tt.ttl}
			if tt.redis {
				rc := testenv.RedisConfig(t)
				ro, err := redis.ParseURL(rc.URL)
				if err != nil {
					t.Fatal(err)
				}
				rdb := redis.NewClient(ro)
				t.Cleanup(func() { rdb.Close() })
				opts.Redis, opts.Channel = rdb, rc.KeyPrefix+"auth:revoked"
			}
			// Two processes sharing the database (and Redis).
			a := newKeys(t, dbs[0], opts)
			b := newKeys(t, dbs[1], opts)
			c := mustCreate(t, a, auth.RoleApp, "sandbox")
			hdr := "Bearer " + c.Secret
			if _, err := b.Authenticate(context.Background(), hdr); err != nil {
				t.Fatalf("before revoke: %v", err)
			}
			if _, err := a.Revoke(context.Background(), c.Key.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := a.Authenticate(context.Background(), hdr); !apierr.Is(err, apierr.Unauthenticated) {
				t.Fatalf("revoking process still accepts the key: %v", err)
			}
			waitRefused(t, b, hdr)
		})
	}
}

func waitRefused(t *testing.T, k *auth.Keys, hdr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := k.Authenticate(context.Background(), hdr)
		if apierr.Is(err, apierr.Unauthenticated) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("other process still accepts a revoked key: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Concurrent first starts (several processes) make one admin key.
func TestEnsureAdminOnce(t *testing.T) {
	t.Parallel()
	dbs := sharedDB(t, 3)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		made    int
		secrets []string
	)
	for _, d := range dbs {
		k := newKeys(t, d, auth.KeysOptions{})
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, ok, err := k.EnsureAdmin(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					mu.Lock()
					made++
					secrets = append(secrets, c.Secret)
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	if made != 1 {
		t.Fatalf("EnsureAdmin made %d keys, want 1", made)
	}
	k := newKeys(t, dbs[0], auth.KeysOptions{})
	keys, err := k.List(context.Background())
	if err != nil || len(keys) != 1 || keys[0].Role != auth.RoleAdmin || keys[0].CreatedBy != "bootstrap" {
		t.Fatalf("keys = %+v, %v; want one bootstrap admin key", keys, err)
	}
	if p, err := k.Authenticate(context.Background(), "Bearer "+secrets[0]); err != nil || p.Role != auth.RoleAdmin {
		t.Fatalf("bootstrap key: %+v, %v", p, err)
	}
	// Once an admin key exists, nothing more is made; after it is
	// revoked, the next start makes a new one.
	if _, ok, err := k.EnsureAdmin(context.Background()); ok || err != nil {
		t.Fatalf("EnsureAdmin with an admin key = %v, %v; want nothing made", ok, err)
	}
	if _, err := k.Revoke(context.Background(), keys[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := k.EnsureAdmin(context.Background()); !ok || err != nil {
		t.Fatalf("EnsureAdmin after revoking the only admin key = %v, %v; want a new key", ok, err)
	}
}

func TestListRevokeAndLastUsed(t *testing.T) {
	t.Parallel()
	d := testenv.DB(t)
	k := newKeys(t, d, auth.KeysOptions{CacheTTL: time.Minute, FlushEvery: time.Hour})
	exp := time.Now().Add(90 * 24 * time.Hour)
	c, err := k.Create(context.Background(), auth.NewKey{Role: auth.RoleAdmin, AppName: "ops", Environment: "production",
		ExpiresAt: &exp, CreatedBy: "cli:alice", Notes: "on-call"})
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if _, err := k.Authenticate(context.Background(), "Bearer "+c.Secret); err != nil {
			t.Fatal(err)
		}
	}
	got, err := k.Get(context.Background(), c.Key.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.LastUsedAt != nil {
		t.Fatalf("last_used_at written on the request path: %v", got.LastUsedAt)
	}
	k.FlushUsed(context.Background())
	if got, _ = k.Get(context.Background(), c.Key.ID); got.LastUsedAt == nil || time.Since(*got.LastUsedAt).Abs() > time.Minute {
		t.Fatalf("last_used_at after flush = %v", got.LastUsedAt)
	}

	keys, err := k.List(context.Background())
	if err != nil || len(keys) != 1 {
		t.Fatalf("List = %v, %v", keys, err)
	}
	l := keys[0]
	if l.ID != c.Key.ID || l.Prefix != auth.DisplayPrefix(c.Secret) || l.Status != auth.StatusActive ||
		l.Role != auth.RoleAdmin || len(l.Permissions) != len(auth.RoleAdmin.Permissions()) ||
		l.ExpiresAt == nil || l.CreatedBy != "cli:alice" || l.Notes != "on-call" {
		t.Fatalf("listed key = %+v", l)
	}
	var hash string
	if err := d.Gorm.Raw("SELECT key_hash FROM api_keys WHERE key_id = ?", c.Key.ID).Scan(&hash).Error; err != nil || hash != auth.HashKey(c.Secret) {
		t.Fatalf("stored hash = %q, %v", hash, err)
	}

	tests := []struct {
		name string
		id   string
		code apierr.Code
	}{
		{"revoke", c.Key.ID, ""},
		{"again is a no-op", c.Key.ID, ""},
		{"upper-case id", strings.ToUpper(c.Key.ID), ""},
		{"not a uuid", "12; DROP TABLE api_keys", apierr.Invalid},
		{"unknown", "7b0c8f8e-8f5e-4d0a-9a43-2f6f1f1d9a10", apierr.NotFound},
	}
	for _, tt := range tests {
		key, err := k.Revoke(context.Background(), tt.id)
		if apierr.CodeOf(err) != tt.code {
			t.Fatalf("%s: Revoke = %v, want code %q", tt.name, err, tt.code)
		}
		if tt.code == "" && (key.Status != auth.StatusRevoked || key.Active || key.RevokedAt == nil) {
			t.Fatalf("%s: revoked key = %+v", tt.name, key)
		}
	}
}

// Config's default TTL is what the package documentation promises.
func TestDefaultCacheTTL(t *testing.T) {
	if got := config.Default().Security.KeyCacheTTL; got != 5*time.Second {
		t.Fatalf("default security.key_cache_ttl = %s, the documentation says 5s", got)
	}
}

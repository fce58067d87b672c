package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ocrpool/ocrpool/config"
	"github.com/ocrpool/ocrpool/modules"
	"github.com/ocrpool/ocrpool/modules/platform/auth"
	"github.com/ocrpool/ocrpool/modules/platform/db"
	"github.com/ocrpool/ocrpool/modules/platform/server"
	"github.com/ocrpool/ocrpool/modules/platform/testenv"
)

// securityFiles writes a config with an isolated database and Redis, and
// returns its path with the equivalent Config for a server process.
func securityFiles(t *testing.T) (string, config.Config) {
	t.Helper()
	cfg := config.Default()
	cfg.Server.Addr = "127.0.0.1:0"
	cfg.Server.ShutdownTimeout = 5 * time.Second
	cfg.Database = testenv.DBConfig(t)
	cfg.Redis = testenv.RedisConfig(t)
	cfg.Log.Level = "warn"
	cfg.Security.PIIKey = "cli-test-pii-key" // the data pool requires one with PostgreSQL
	body := fmt.Sprintf("database:\n  url: %q\n  path: %q\nredis:\n  url: %q\n  key_prefix: %q\nsecurity:\n  pii_key: %q\nlog:\n  level: warn\n",
		cfg.Database.URL, cfg.Database.Path, cfg.Redis.URL, cfg.Redis.KeyPrefix, cfg.Security.PIIKey)
	p := filepath.Join(t.TempDir(), "ocrpool.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p, cfg
}

var (
	keyPattern = regexp.MustCompile(`ocp_(live|test)_[0-9A-Za-z]{43}`)
	idLine     = regexp.MustCompile(`(?m)^id\s+([0-9a-f-]{36})$`)
)

// keys create/list/revoke against SQLite, or PostgreSQL and Redis when
// OCRPOOL_TEST_* are set, with a server process on the same stores: a key
// made by the CLI works there, and once revoked by the CLI it is refused.
// Then audit verify passes, and fails naming the row after tampering.
func TestKeysAndAuditCommands(t *testing.T) {
	cfgFile, cfg := securityFiles(t)
	cli := func(args ...string) (string, error) {
		t.Helper()
		return run(t, append([]string{"--config", cfgFile}, args...)...)
	}
	if _, err := cli("keys", "list"); err == nil || !strings.Contains(err.Error(), "migrate") {
		t.Fatalf("keys list on an empty database = %v, want a refusal that says how to migrate", err)
	}
	if _, err := cli("migrate", "up"); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"keys", "create", "--app", "x", "--env", "sandbox"}, `"role" not set`},
		{[]string{"keys", "create", "--role", "root", "--app", "x", "--env", "sandbox"}, "role"},
		{[]string{"keys", "create", "--role", "app", "--app", "x", "--env", "sandbox", "--expires", "soon"}, "--expires"},
		{[]string{"keys", "create", "--role", "app", "--app", "bad name", "--env", "sandbox"}, "app_name"},
		{[]string{"keys", "revoke"}, "accepts 1 arg"},
		{[]string{"keys", "revoke", "nope"}, "UUID"},
		{[]string{"keys", "revoke", "00000000-0000-4000-8000-000000000000"}, "no API key"},
	} {
		if out, err := cli(tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) || keyPattern.MatchString(out) {
			t.Errorf("ocrpool %v = %q, %v; want an error with %q and no key", tt.args, out, err, tt.want)
		}
	}

	out, err := cli("keys", "create", "--role", "app", "--app", "expenseapp", "--env", "production", "--expires", "90d", "--notes", "from the CLI")
	if err != nil {
		t.Fatal(err)
	}
	key, m := keyPattern.FindString(out), idLine.FindStringSubmatch(out)
	if !strings.HasPrefix(key, auth.LivePrefix) || m == nil {
		t.Fatalf("keys create printed:\n%s", out)
	}
	id := m[1]

	out, err = cli("keys", "list")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, id) || !strings.Contains(out, auth.DisplayPrefix(key)) || !strings.Contains(out, "active") ||
		!strings.Contains(out, "cli:") || strings.Contains(out, key) {
		t.Fatalf("keys list:\n%s", out)
	}

	// A server on the same database and Redis accepts the key.
	cfg.Security.KeyCacheTTL = 2 * time.Second
	app, err := modules.New(context.Background(), cfg, slog.New(slog.DiscardHandler), modules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Platform().Server.Mount(server.Route{Method: http.MethodGet, Path: "/cli-test", Perm: auth.PermIngest,
		Handler: func(c *gin.Context) { c.Status(http.StatusNoContent) }}); err != nil {
		t.Fatal(err)
	}
	if err := app.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer app.Shutdown(context.Background())
	hc := &http.Client{Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	call := func() int {
		req, _ := http.NewRequest(http.MethodGet, "http://"+app.Addr()+"/cli-test", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := call(); got != http.StatusNoContent {
		t.Fatalf("server with the CLI's key = %d", got)
	}

	if _, err := cli("keys", "revoke", key); err == nil || !strings.Contains(err.Error(), "not a key id") {
		t.Fatalf("revoke by the key itself = %v, want a refusal", err)
	}
	if out, err = cli("keys", "revoke", id); err != nil || !strings.Contains(out, "revoked API key "+id) {
		t.Fatalf("keys revoke = %q, %v", out, err)
	}
	deadline := time.Now().Add(cfg.Security.KeyCacheTTL + 5*time.Second)
	for call() != http.StatusUnauthorized {
		if time.Now().After(deadline) {
			t.Fatal("the server still accepts a key revoked by the CLI")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if out, _ = cli("keys", "list"); !strings.Contains(out, "revoked") {
		t.Fatalf("keys list after revoke:\n%s", out)
	}

	// Let the server's audit rows land, then check the chain.
	if err := app.Platform().Audit.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if out, err = cli("audit", "verify"); err != nil || !strings.Contains(out, "intact") {
		t.Fatalf("audit verify = %q, %v", out, err)
	}
	out, err = cli("audit", "list", "--action", "revoke", "--success", "true")
	if err != nil || !strings.Contains(out, id) || !strings.Contains(out, "user:cli:") || strings.Contains(out, key) {
		t.Fatalf("audit list:\n%s\n%v", out, err)
	}
	if _, err := cli("audit", "list", "--since", "yesterday"); err == nil {
		t.Fatal("audit list --since yesterday succeeded")
	}

	d, err := db.Open(context.Background(), cfg.Database, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var ids []int64
	if err := d.Gorm.Raw("SELECT id FROM audit_log ORDER BY id").Scan(&ids).Error; err != nil || len(ids) < 3 {
		t.Fatalf("audit ids %v, %v", ids, err)
	}
	victim := ids[len(ids)/2]
	if err := d.Gorm.Exec("UPDATE audit_log SET actor_id = 'someone-else' WHERE id = ?", victim).Error; err != nil {
		t.Fatal(err)
	}
	_, err = cli("audit", "verify")
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("broken at row %d", victim)) {
		t.Fatalf("audit verify after tampering with row %d = %v", victim, err)
	}
}

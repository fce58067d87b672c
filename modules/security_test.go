package modules

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ocrpool/ocrpool/config"
	"github.com/ocrpool/ocrpool/modules/platform"
	"github.com/ocrpool/ocrpool/modules/platform/apierr"
	"github.com/ocrpool/ocrpool/modules/platform/audit"
	"github.com/ocrpool/ocrpool/modules/platform/auth"
	"github.com/ocrpool/ocrpool/modules/platform/db"
	"github.com/ocrpool/ocrpool/modules/platform/server"
	"github.com/ocrpool/ocrpool/modules/platform/testenv"
)

// securityConfig is testConfig without rate limits, so that walking every
// route with one key never meets a 429.
func securityConfig(t *testing.T) config.Config {
	t.Helper()
	cfg := testConfig(t)
	cfg.Security.RateLimits = config.RateLimitConfig{BurstSeconds: 1}
	cfg.Security.PIIKey = "security-test-pii-key" // the data pool requires one with PostgreSQL
	return cfg
}

// pingPath is a protected route tests mount to exercise app keys.
const pingPath = "/security-test/ping"

type appOpts struct {
	log   *slog.Logger
	opts  Options
	mount bool // mount GET pingPath (corrections:ingest)
}

// startApp builds and starts a full app on cfg and shuts it down when the
// test ends.
func startApp(t *testing.T, cfg config.Config, o appOpts) *App {
	t.Helper()
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	o.opts.Migrate = true
	app, err := New(context.Background(), cfg, o.log, o.opts)
	if err != nil {
		t.Fatal(err)
	}
	if o.mount {
		if err := app.Platform().Server.Mount(server.Route{Method: http.MethodGet, Path: pingPath, Perm: auth.PermIngest,
			Handler: func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"pong": true}) }}); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := app.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return app
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) errCode() apierr.Code {
	var env apierr.Envelope
	if json.Unmarshal(r.body, &env) != nil || env.Error == nil {
		return ""
	}
	return env.Error.Code
}

type client struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func newClient(t *testing.T, app *App) *client {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{}, Timeout: 30 * time.Second}
	t.Cleanup(hc.CloseIdleConnections)
	return &client{t: t, base: "http://" + app.Addr(), hc: hc}
}

// do sends a request with key as a Bearer token (none when empty) and
// extra headers as name, value pairs.
func (c *client) do(method, path, key, body string, hdr ...string) response {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func mustKey(t *testing.T, p *platform.Platform, role auth.Role) auth.Created {
	t.Helper()
	c, err := p.Keys.Create(context.Background(), auth.NewKey{Role: role, AppName: "sec-test", Environment: "sandbox", CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// credential is one way of calling a route.
type credential struct {
	name   string
	header string // the Authorization value; "" sends none
	role   auth.Role
	valid  bool   // a usable key of role
	actor  string // the audit actor id the call must leave
}

// credentials are the eight cases of the issue: no header, malformed,
// unknown, expired, revoked (the last two admin keys, so only their state
// can refuse them), then one valid key per role.
func credentials(t *testing.T, p *platform.Platform) []credential {
	t.Helper()
	unknown, err := auth.GenerateKey("sandbox")
	if err != nil {
		t.Fatal(err)
	}
	expired := mustKey(t, p, auth.RoleAdmin)
	if err := p.DB.Gorm.Exec("UPDATE api_keys SET expires_at = ? WHERE key_id = ?",
		time.Now().Add(-time.Hour).UTC(), expired.Key.ID).Error; err != nil {
		t.Fatal(err)
	}
	revoked := mustKey(t, p, auth.RoleAdmin)
	if _, err := p.Keys.Revoke(context.Background(), revoked.Key.ID); err != nil {
		t.Fatal(err)
	}
	creds := []credential{
		{name: "no header", actor: audit.ActorAnonymous},
		{name: "malformed", header: "Bearer not-a-key", actor: audit.ActorAnonymous},
		{name: "unknown key", header: "Bearer " + unknown, actor: audit.ActorAnonymous},
		{name: "expired", header: "Bearer " + expired.Secret, actor: expired.Key.ID},
		{name: "revoked", header: "Bearer " + revoked.Secret, actor: revoked.Key.ID},
	}
	for _, role := range []auth.Role{auth.RoleApp, auth.RoleAdmin, auth.RoleTrainingService} {
		k := mustKey(t, p, role)
		creds = append(creds, credential{name: string(role), header: "Bearer " + k.Secret, role: role, valid: true, actor: k.Key.ID})
	}
	return creds
}

var pathParam = regexp.MustCompile(`[:*][A-Za-z_]+`)

// fillPath puts a value in each path parameter: a UUID that names
// nothing, which handlers may answer 400 or 404.
func fillPath(p string) string {
	return pathParam.ReplaceAllString(p, "00000000-0000-4000-8000-000000000000")
}

// auditRows returns every audit row, oldest first, after flushing.
func auditRows(t *testing.T, p *platform.Platform) []audit.Entry {
	t.Helper()
	if err := p.Audit.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var all []audit.Entry
	q := audit.Query{Limit: audit.MaxLimit}
	for {
		page, err := p.Audit.List(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Entries...)
		if page.NextCursor == "" {
			break
		}
		q.Cursor = page.NextCursor
	}
	for i, j := 0, len(all)-1; i < j; i, j = i+1, j-1 {
		all[i], all[j] = all[j], all[i]
	}
	return all
}

// guardRowOf returns the request id of e when e is the guard's row for a
// request (its details name the route), "" otherwise: a handler may
// record domain events under the same request id.
func guardRowOf(e audit.Entry) string {
	var d struct {
		RequestID string `json:"request_id"`
		Route     string `json:"route"`
	}
	_ = json.Unmarshal(e.Details, &d)
	if d.Route == "" {
		return ""
	}
	return d.RequestID
}

// Every registered route × every credential: the status follows the
// route's declared permission, and each call to a protected route leaves
// exactly one audit row naming the route, the actor and the outcome.
// Routes that other modules add later are covered as they are mounted.
func TestEveryRouteEnforcesItsPermission(t *testing.T) {
	cfg := securityConfig(t)
	app := startApp(t, cfg, appOpts{})
	p := app.Platform()
	c := newClient(t, app)
	creds := credentials(t, p)

	routes := p.Server.Routes()
	have := map[string]bool{}
	for _, r := range routes {
		have[r.Method+" "+r.Path] = true
	}
	for _, must := range []string{"GET /healthz", "GET /readyz", "GET /version", "GET /metrics",
		"POST /api-keys/create", "GET /api-keys", "POST /api-keys/:id/revoke", "GET /audit/log"} {
		if !have[must] {
			t.Errorf("route %s is not mounted", must)
		}
	}

	type call struct {
		route  server.Route
		cred   credential
		status int
	}
	calls := map[string]call{} // by request id
	n := 0
	for _, r := range routes {
		if r.Perm == "" {
			t.Errorf("route %s %s has no declared permission", r.Method, r.Path)
			continue
		}
		for _, cr := range creds {
			n++
			reqID := fmt.Sprintf("sec-%04d", n)
			var hdr []string
			if cr.header != "" {
				hdr = []string{"Authorization", cr.header}
			}
			resp := c.do(r.Method, fillPath(r.Path), "", "", append(hdr, "X-Request-ID", reqID)...)
			name := fmt.Sprintf("%s %s with %s", r.Method, r.Path, cr.name)
			switch {
			case r.Perm == auth.Public:
				if resp.status == http.StatusUnauthorized || resp.status == http.StatusForbidden {
					t.Errorf("%s (public) = %d", name, resp.status)
				}
			case !cr.valid:
				if resp.status != http.StatusUnauthorized || resp.errCode() != apierr.Unauthenticated {
					t.Errorf("%s = %d %s, want 401 unauthenticated", name, resp.status, resp.body)
				}
				if !strings.HasPrefix(resp.header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("%s: 401 without WWW-Authenticate: Bearer", name)
				}
			case !cr.role.Can(r.Perm):
				if resp.status != http.StatusForbidden || resp.errCode() != apierr.Forbidden {
					t.Errorf("%s = %d %s, want 403 forbidden (needs %s)", name, resp.status, resp.body, r.Perm)
				}
			default:
				if resp.status == http.StatusUnauthorized || resp.status == http.StatusForbidden || resp.status >= 500 {
					t.Errorf("%s = %d %s, want access (role %s holds %s)", name, resp.status, resp.body, cr.role, r.Perm)
				}
			}
			calls[reqID] = call{route: r, cred: cr, status: resp.status}
		}
	}

	rows := map[string][]audit.Entry{}
	for _, e := range auditRows(t, p) {
		if id := guardRowOf(e); id != "" {
			rows[id] = append(rows[id], e)
		}
	}
	protected := 0
	for reqID, cl := range calls {
		got := rows[reqID]
		name := fmt.Sprintf("%s %s with %s", cl.route.Method, cl.route.Path, cl.cred.name)
		if cl.route.Perm == auth.Public {
			if len(got) != 0 {
				t.Errorf("%s: public call audited: %+v", name, got)
			}
			continue
		}
		protected++
		if len(got) != 1 {
			t.Errorf("%s: %d audit rows, want 1", name, len(got))
			continue
		}
		e := got[0]
		if e.Action != cl.route.ActionName() || e.ResourceType != cl.route.ResourceName() ||
			e.ActorID != cl.cred.actor || e.Success != (cl.status < 400) ||
			(e.Success != (e.ErrorMessage == "")) || e.IPAddress != "127.0.0.1" || e.UserAgent == "" {
			t.Errorf("%s: audit row %+v (status %d, want actor %s)", name, e, cl.status, cl.cred.actor)
		}
		if strings.Contains(cl.route.Path, ":") && e.ResourceID == "" {
			t.Errorf("%s: audit row without the path's resource id", name)
		}
	}
	if protected == 0 {
		t.Fatal("no protected route was called")
	}
	t.Logf("%d routes × %d credentials: %d calls, %d to protected routes", len(routes), len(creds), len(calls), protected)
	rep, err := audit.Verify(context.Background(), p.DB)
	if err != nil || !rep.OK() {
		t.Fatalf("audit chain after the walk: %+v, %v", rep, err)
	}
}

// A route without a declared permission is refused by the full app
// (default deny), and a protected route mounted later is guarded.
func TestFullAppDeniesByDefault(t *testing.T) {
	cfg := securityConfig(t)
	app, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler), Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Platform().Close()
	s := app.Platform().Server
	h := func(c *gin.Context) { c.Status(http.StatusOK) }
	err = s.Mount(server.Route{Method: http.MethodGet, Path: "/undeclared", Handler: h})
	if err == nil || !strings.Contains(err.Error(), "no permission declared") {
		t.Fatalf("Mount without a permission = %v, want a refusal", err)
	}
	for _, r := range s.Routes() {
		if r.Path == "/undeclared" {
			t.Fatal("the refused route was mounted")
		}
	}
	if err := s.Mount(server.Route{Method: http.MethodGet, Path: "/declared", Perm: auth.PermPatternsRead, Handler: h}); err != nil {
		t.Fatal(err)
	}
	w := newRecorder(s, "/declared")
	if w != http.StatusUnauthorized {
		t.Fatalf("a later protected route without a key = %d, want 401", w)
	}
}

func newRecorder(s *server.Server, path string) int {
	req, _ := http.NewRequest(http.MethodGet, path, nil)
	rec := &statusRecorder{header: http.Header{}}
	s.Handler().ServeHTTP(rec, req)
	return rec.status
}

type statusRecorder struct {
	header http.Header
	status int
}

func (r *statusRecorder) Header() http.Header { return r.header }
func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return len(b), nil
}
func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

var keyInText = regexp.MustCompile(`ocp_(live|test)_[0-9A-Za-z]{43}`)

// The first start prints an admin key once, on the console writer; later
// starts, and a second process starting at the same time, print nothing.
func TestFirstStartPrintsOneAdminKey(t *testing.T) {
	cfg := securityConfig(t)
	logs := &testenv.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	// Two processes start at once on a fresh database.
	var outs [2]bytes.Buffer
	apps := make([]*App, 2)
	for i := range apps {
		app, err := New(context.Background(), cfg, log, Options{Migrate: true, AdminKeyOut: &outs[i]})
		if err != nil {
			t.Fatal(err)
		}
		apps[i] = app
	}
	var wg sync.WaitGroup
	for _, app := range apps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := app.Start(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	defer func() {
		for _, app := range apps {
			_ = app.Shutdown(context.Background())
		}
	}()
	var printed []string
	for i := range outs {
		printed = append(printed, keyInText.FindAllString(outs[i].String(), -1)...)
	}
	if len(printed) != 1 {
		t.Fatalf("keys printed: %d, want exactly 1:\n%s\n%s", len(printed), outs[0].String(), outs[1].String())
	}
	key := printed[0]
	console := outs[0].String() + outs[1].String()
	if !strings.Contains(console, "ocrpool keys create --role admin") {
		t.Errorf("the console does not say how to make more keys:\n%s", console)
	}
	if strings.Contains(logs.String(), key) {
		t.Fatal("the admin key is in the log")
	}
	c := newClient(t, apps[0])
	if r := c.do(http.MethodGet, "/api-keys", key, ""); r.status != http.StatusOK {
		t.Fatalf("GET /api-keys with the printed key = %d %s", r.status, r.body)
	}
	// Either process may have made the key: flush both, then find its row.
	if err := apps[1].Platform().Audit.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var bootstrap int
	for _, e := range auditRows(t, apps[0].Platform()) {
		if e.ActorType == audit.ActorSystem && e.Action == "create" && e.ResourceType == "api_key" && e.Success {
			bootstrap++
		}
	}
	if bootstrap != 1 {
		t.Fatalf("%d audit rows for the admin key's creation, want 1", bootstrap)
	}

	// A later start with an admin key in place prints nothing.
	var again bytes.Buffer
	later := startApp(t, cfg, appOpts{log: log, opts: Options{AdminKeyOut: &again}})
	_ = later
	if again.Len() != 0 {
		t.Fatalf("second start printed %q", again.String())
	}
}

// The key API, and a revocation seen by a second process sharing the
// database and Redis: refused on the next request here, and there within
// security.key_cache_ttl (at once in practice, through Redis).
func TestKeyAPIAndRevocationAcrossProcesses(t *testing.T) {
	cfg := securityConfig(t)
	cfg.Security.KeyCacheTTL = 2 * time.Second
	a := startApp(t, cfg, appOpts{mount: true})
	b := startApp(t, cfg, appOpts{mount: true})
	ca, cb := newClient(t, a), newClient(t, b)
	admin := mustKey(t, a.Platform(), auth.RoleAdmin).Secret

	tests := []struct {
		name string
		body string
		want int
		code apierr.Code
	}{
		{"empty body", "", 400, apierr.Invalid},
		{"unknown field", `{"role":"app","app_name":"x","environment":"sandbox","scope":"all"}`, 400, apierr.Invalid},
		{"bad role", `{"role":"root","app_name":"x","environment":"sandbox"}`, 400, apierr.Invalid},
		{"both expiries", `{"role":"app","app_name":"x","environment":"sandbox","expires_in":"1d","expires_at":"2099-01-01T00:00:00Z"}`, 400, apierr.Invalid},
		{"bad expiry", `{"role":"app","app_name":"x","environment":"sandbox","expires_in":"soon"}`, 400, apierr.Invalid},
		{"past expiry", `{"role":"app","app_name":"x","environment":"sandbox","expires_at":"2001-01-01T00:00:00Z"}`, 400, apierr.Invalid},
		{"ok", `{"role":"app","app_name":"expenseapp","environment":"production","expires_in":"90d","notes":"ci"}`, 201, ""},
	}
	var created struct {
		Key    string   `json:"key"`
		APIKey auth.Key `json:"api_key"`
	}
	for _, tt := range tests {
		r := ca.do(http.MethodPost, "/api-keys/create", admin, tt.body)
		if r.status != tt.want || r.errCode() != tt.code {
			t.Fatalf("%s: POST /api-keys/create = %d %s, want %d %s", tt.name, r.status, r.body, tt.want, tt.code)
		}
		if tt.want == 201 {
			if err := json.Unmarshal(r.body, &created); err != nil {
				t.Fatal(err)
			}
			if r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("the response carrying a key may be cached: Cache-Control %q", r.header.Get("Cache-Control"))
			}
		}
	}
	k := created.APIKey
	if !strings.HasPrefix(created.Key, auth.LivePrefix) || k.Role != auth.RoleApp || k.ExpiresAt == nil ||
		k.Status != auth.StatusActive || !strings.HasPrefix(k.CreatedBy, "key:") || k.Prefix != auth.DisplayPrefix(created.Key) {
		t.Fatalf("created %+v", created)
	}

	// The other process lists it, without secrets or hashes.
	r := cb.do(http.MethodGet, "/api-keys", admin, "")
	if r.status != 200 || !strings.Contains(string(r.body), k.ID) ||
		strings.Contains(string(r.body), created.Key) || strings.Contains(string(r.body), auth.HashKey(created.Key)) ||
		strings.Contains(string(r.body), "hash") {
		t.Fatalf("GET /api-keys = %d %s", r.status, r.body)
	}
	// Both processes accept it (b caches the lookup).
	for _, c := range []*client{ca, cb, cb} {
		if r := c.do(http.MethodGet, pingPath, created.Key, ""); r.status != 200 {
			t.Fatalf("new key = %d %s", r.status, r.body)
		}
	}
	if r := ca.do(http.MethodPost, "/api-keys/"+k.ID+"/revoke", admin, ""); r.status != 200 || !strings.Contains(string(r.body), `"status":"revoked"`) {
		t.Fatalf("revoke = %d %s", r.status, r.body)
	}
	if r := ca.do(http.MethodGet, pingPath, created.Key, ""); r.status != 401 || !strings.Contains(string(r.body), "revoked") {
		t.Fatalf("revoked key, next request in the same process = %d %s, want 401", r.status, r.body)
	}
	start := time.Now()
	for {
		r := cb.do(http.MethodGet, pingPath, created.Key, "")
		if r.status == 401 {
			break
		}
		if time.Since(start) > cfg.Security.KeyCacheTTL+5*time.Second {
			t.Fatalf("the other process still accepts a revoked key after %s (TTL %s)", time.Since(start), cfg.Security.KeyCacheTTL)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("second process refused the revoked key %s after the revocation", time.Since(start).Round(time.Millisecond))

	for _, tt := range []struct {
		path string
		want int
	}{
		{"/api-keys/not-a-uuid/revoke", 400},
		{"/api-keys/00000000-0000-4000-8000-000000000000/revoke", 404},
		{"/api-keys/" + created.Key + "/revoke", 400},
	} {
		if r := ca.do(http.MethodPost, tt.path, admin, ""); r.status != tt.want || strings.Contains(string(r.body), created.Key) {
			t.Errorf("POST %s = %d %s, want %d without the key echoed", tt.path, r.status, r.body, tt.want)
		}
	}
}

// GET /audit/log: admin only, filters, newest first, cursor pages.
func TestAuditLogAPI(t *testing.T) {
	cfg := securityConfig(t)
	app := startApp(t, cfg, appOpts{mount: true})
	c := newClient(t, app)
	p := app.Platform()
	admin := mustKey(t, p, auth.RoleAdmin)
	appKey := mustKey(t, p, auth.RoleApp)
	for range 3 {
		c.do(http.MethodGet, pingPath, appKey.Secret, "")
	}
	c.do(http.MethodGet, pingPath, "", "")
	if err := p.Audit.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	type page struct {
		Entries    []audit.Entry `json:"entries"`
		NextCursor string        `json:"next_cursor"`
	}
	get := func(query string) (response, page) {
		r := c.do(http.MethodGet, "/audit/log"+query, admin.Secret, "")
		var pg page
		_ = json.Unmarshal(r.body, &pg)
		return r, pg
	}
	var ids []int64
	q := "?actor=" + appKey.Key.ID + "&action=get+" + strings.ReplaceAll(pingPath, "/", "%2F") + "&success=true&limit=2"
	for pages := 0; ; pages++ {
		r, pg := get(q)
		if r.status != 200 {
			t.Fatalf("GET /audit/log%s = %d %s", q, r.status, r.body)
		}
		for _, e := range pg.Entries {
			if e.ActorID != appKey.Key.ID || e.ActorType != audit.ActorApp || !e.Success {
				t.Fatalf("filtered entry %+v", e)
			}
			ids = append(ids, e.ID)
		}
		if pg.NextCursor == "" || pages > 5 {
			break
		}
		q = "?actor=" + appKey.Key.ID + "&limit=2&success=true&cursor=" + pg.NextCursor
	}
	if len(ids) != 3 || ids[0] < ids[1] || ids[1] < ids[2] {
		t.Fatalf("ids %v, want 3 rows newest first", ids)
	}
	if r, pg := get("?actor=anonymous&success=false&since=" + time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)); r.status != 200 || len(pg.Entries) != 1 {
		t.Fatalf("anonymous failures = %d %+v", r.status, pg)
	}
	for _, bad := range []string{"?limit=0", "?limit=501", "?since=yesterday", "?success=maybe", "?cursor=zzz", "?colour=red"} {
		if r, _ := get(bad); r.status != 400 || r.errCode() != apierr.Invalid {
			t.Errorf("GET /audit/log%s = %d %s, want 400", bad, r.status, r.body)
		}
	}
	if r := c.do(http.MethodGet, "/audit/log", appKey.Secret, ""); r.status != 403 {
		t.Errorf("app key on /audit/log = %d, want 403", r.status)
	}
}

// Over the limit a key gets 429 with Retry-After, audited; two processes
// sharing Redis spend from the same bucket.
func TestRateLimitSharedAcrossProcesses(t *testing.T) {
	cfg := securityConfig(t)
	// Burst 2, one token back every 100 s: nothing refills during the test.
	cfg.Security.RateLimits = config.RateLimitConfig{App: 0.01, BurstSeconds: 200}
	a := startApp(t, cfg, appOpts{mount: true})
	b := startApp(t, cfg, appOpts{mount: true})
	ca, cb := newClient(t, a), newClient(t, b)
	key := mustKey(t, a.Platform(), auth.RoleApp)
	other := mustKey(t, a.Platform(), auth.RoleApp)
	admin := mustKey(t, a.Platform(), auth.RoleAdmin)

	steps := []struct {
		name string
		c    *client
		key  string
		want int
	}{
		{"first, process a", ca, key.Secret, 200},
		{"second, process b", cb, key.Secret, 200},
		{"burst spent, process a", ca, key.Secret, 429},
		{"burst spent, process b", cb, key.Secret, 429},
		{"another key has its own bucket", cb, other.Secret, 200},
		{"admin is unlimited (rate 0)", ca, admin.Secret, 200},
	}
	for _, s := range steps {
		r := s.c.do(http.MethodGet, pingPath, s.key, "")
		if r.status != s.want {
			t.Fatalf("%s = %d %s, want %d", s.name, r.status, r.body, s.want)
		}
		if r.status == 429 {
			secs, err := strconv.Atoi(r.header.Get("Retry-After"))
			if err != nil || secs < 1 || secs > 100 || r.errCode() != apierr.RateLimited {
				t.Fatalf("%s: Retry-After %q, code %s", s.name, r.header.Get("Retry-After"), r.errCode())
			}
		}
	}
	// Both processes write the one shared table.
	if err := b.Platform().Audit.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	limited := 0
	for _, e := range auditRows(t, a.Platform()) {
		if e.ActorID == key.Key.ID && !e.Success && strings.HasPrefix(e.ErrorMessage, string(apierr.RateLimited)) {
			limited++
		}
	}
	if limited != 2 {
		t.Fatalf("%d audit rows for the two 429s, want 2", limited)
	}
}

// Graceful shutdown writes every buffered audit row: N requests, then
// Shutdown, then N rows in the database, and no goroutine left behind.
func TestShutdownWritesEveryAuditRow(t *testing.T) {
	verifyNoLeaks(t)
	cfg := securityConfig(t)
	cfg.Security.AuditBuffer = 8
	app, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler), Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, app)
	const goroutines, each = 4, 40
	var wg sync.WaitGroup
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if r := c.do(http.MethodGet, "/api-keys", "", ""); r.status != 401 {
					t.Errorf("status %d", r.status)
				}
			}
		}()
	}
	wg.Wait()
	c.hc.CloseIdleConnections()
	if err := app.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	d, err := db.Open(context.Background(), cfg.Database, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var n int64
	if err := d.Gorm.Raw("SELECT COUNT(*) FROM audit_log").Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	if n != goroutines*each {
		t.Fatalf("%d audit rows after shutdown, want %d", n, goroutines*each)
	}
	if rep, err := audit.Verify(context.Background(), d); err != nil || !rep.OK() || rep.Rows != n {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
}

// A full request cycle (create a key over the API, use it, misuse it,
// revoke it) leaves no key in the logs, in error bodies or in the audit
// table, details included.
func TestSecretsStayOutOfLogsErrorsAndAudit(t *testing.T) {
	cfg := securityConfig(t)
	cfg.Log.Level = "debug"
	logs := &testenv.Buffer{}
	log := platform.NewLogger(cfg.Log, logs)
	var console bytes.Buffer
	app := startApp(t, cfg, appOpts{log: log, mount: true, opts: Options{AdminKeyOut: &console}})
	c := newClient(t, app)
	admin := keyInText.FindString(console.String())
	if admin == "" {
		t.Fatalf("no admin key on the console: %q", console.String())
	}

	r := c.do(http.MethodPost, "/api-keys/create", admin, `{"role":"app","app_name":"expenseapp","environment":"sandbox"}`)
	var created struct {
		Key    string   `json:"key"`
		APIKey auth.Key `json:"api_key"`
	}
	if r.status != 201 || json.Unmarshal(r.body, &created) != nil || !auth.WellFormed(created.Key) {
		t.Fatalf("create = %d %s", r.status, r.body)
	}
	key := created.Key
	secrets := []string{admin, key, admin[len(auth.LivePrefix):], key[len(auth.TestPrefix):]}

	var errBodies []string
	check := func(r response, want int, what string) {
		t.Helper()
		if r.status != want {
			t.Errorf("%s = %d %s, want %d", what, r.status, r.body, want)
		}
		if r.status >= 400 {
			errBodies = append(errBodies, string(r.body))
		}
	}
	check(c.do(http.MethodGet, pingPath, key, ""), 200, "use the key")
	check(c.do(http.MethodGet, pingPath, "", "", "Authorization", "Basic "+key), 401, "wrong scheme")
	check(c.do(http.MethodGet, pingPath, "", "", "Authorization", "Bearer "+key+"x"), 401, "key with a typo")
	check(c.do(http.MethodGet, pingPath, "", "", "Authorization", key), 401, "key without scheme")
	check(c.do(http.MethodGet, pingPath+"?api_key="+key, "", ""), 401, "key in the query string")
	check(c.do(http.MethodGet, pingPath, "", "", "X-Api-Key", key), 401, "key in another header")
	check(c.do(http.MethodPost, "/api-keys/"+key+"/revoke", admin, ""), 400, "key as key id")
	check(c.do(http.MethodPost, "/api-keys/create", admin, `{"role":"`+key+`","app_name":"x","environment":"sandbox"}`), 400, "key as role")
	check(c.do(http.MethodPost, "/api-keys/create", admin, `{"role":"app","app_name":"`+key+`","environment":"sandbox"}`), 400, "key as app name")
	check(c.do(http.MethodPost, "/api-keys/create", admin, `{"role":"app","app_name":"x","environment":"sandbox","expires_in":"`+key+`"}`), 400, "key as expiry")
	check(c.do(http.MethodPost, "/api-keys/create", admin, strings.Repeat(key, int(cfg.Server.MaxBodyBytes)/len(key)+1)), 413, "oversize body")
	check(c.do(http.MethodGet, "/audit/log?actor="+key, key, ""), 403, "app key on the audit log")
	check(c.do(http.MethodPost, "/api-keys/"+created.APIKey.ID+"/revoke", admin, ""), 200, "revoke")
	check(c.do(http.MethodGet, pingPath, key, ""), 401, "revoked key")
	check(c.do(http.MethodGet, "/audit/log?limit=500", admin, ""), 200, "read the audit log")

	// A key sent as X-Request-ID: the server keeps a well-formed request
	// id, so the access log is the server's affair (requestid.Valid); the
	// audit row must not store it.
	logsBefore := len(logs.String())
	check(c.do(http.MethodGet, pingPath, "", "", "X-Request-ID", key), 401, "key as request id")

	p := app.Platform()
	var auditText strings.Builder
	for _, e := range auditRows(t, p) {
		b, _ := json.Marshal(e)
		auditText.Write(b)
	}
	var raw []map[string]any
	if err := p.DB.Gorm.Raw("SELECT * FROM audit_log").Scan(&raw).Error; err != nil {
		t.Fatal(err)
	}
	var keysRaw []map[string]any
	if err := p.DB.Gorm.Raw("SELECT * FROM api_keys").Scan(&keysRaw).Error; err != nil {
		t.Fatal(err)
	}
	p.Keys.FlushUsed(context.Background())
	places := map[string]string{
		"logs":         logs.String()[:logsBefore],
		"error bodies": strings.Join(errBodies, "\n"),
		"audit log":    auditText.String() + fmt.Sprint(raw),
		"api_keys":     fmt.Sprint(keysRaw),
	}
	for where, text := range places {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("a key (%s…) appears in the %s", s[:12], where)
			}
		}
	}
	if !strings.Contains(logs.String(), `"msg":"request"`) || auditText.Len() == 0 {
		t.Fatal("nothing was captured: the test would prove nothing")
	}
	if !strings.Contains(fmt.Sprint(keysRaw), auth.HashKey(key)) {
		t.Fatal("api_keys does not hold the key's hash")
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// their paths and the parsed certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "ocrpool test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	if cert, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}

// With server.tls set the app speaks HTTPS only, TLS 1.2 or later, with
// the configured certificate.
func TestTLS(t *testing.T) {
	certFile, keyFile, cert := selfSigned(t)
	cfg := securityConfig(t)
	cfg.Server.TLS = config.TLSConfig{CertFile: certFile, KeyFile: keyFile}
	app := startApp(t, cfg, appOpts{})
	admin := mustKey(t, app.Platform(), auth.RoleAdmin)
	base := "https://" + app.Addr()

	trusted := x509.NewCertPool()
	trusted.AddCert(cert)
	tests := []struct {
		name   string
		tls    *tls.Config
		ok     bool
		errHas string
	}{
		{"trusts only this certificate", &tls.Config{RootCAs: trusted}, true, ""},
		{"system roots", &tls.Config{}, false, "certificate"},
		{"TLS 1.1 at most", &tls.Config{RootCAs: trusted, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := &http.Transport{TLSClientConfig: tt.tls}
			defer tr.CloseIdleConnections()
			hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			resp, err := hc.Get(base + "/healthz")
			if !tt.ok {
				if err == nil {
					resp.Body.Close()
					t.Fatal("request succeeded, want a TLS failure")
				}
				if tt.errHas != "" && !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("error %v, want one about the %s", err, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
				t.Fatalf("healthz = %d, TLS %+v", resp.StatusCode, resp.TLS)
			}
			req, _ := http.NewRequest(http.MethodGet, base+"/api-keys", nil)
			req.Header.Set("Authorization", "Bearer "+admin.Secret)
			resp, err = hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("GET /api-keys over TLS = %d", resp.StatusCode)
			}
		})
	}
	// Plain HTTP on the TLS port gets no API response.
	resp, err := http.Get("http://" + app.Addr() + "/healthz")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("plain HTTP served on the TLS port")
		}
	}
}

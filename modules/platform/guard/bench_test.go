package guard_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ocrpool/ocrpool/config"
	"github.com/ocrpool/ocrpool/modules/platform/audit"
	"github.com/ocrpool/ocrpool/modules/platform/auth"
	"github.com/ocrpool/ocrpool/modules/platform/guard"
	"github.com/ocrpool/ocrpool/modules/platform/ratelimit"
	"github.com/ocrpool/ocrpool/modules/platform/server"
	"github.com/ocrpool/ocrpool/modules/platform/testenv"
)

// BenchmarkGuardOverhead serves the same trivial handler twice per
// iteration on one server: once as a public route (the bare gin handler
// behind the server's own middleware) and once as a protected route (key
// lookup from the cache, permission check, rate limit, audit Record). It
// reports both costs and their ratio, guarded/bare, for each limiter: a
// Redis round trip (miniredis unless OCRPOOL_TEST_REDIS_URL is set), the
// in-process bucket of embedded mode, and none. The audit writer runs
// concurrently, so on a busy machine its inserts show up in both columns.
func BenchmarkGuardOverhead(b *testing.B) {
	for _, tc := range []struct {
		name    string
		limiter string
	}{{"redis-limiter", "redis"}, {"local-limiter", "local"}, {"no-limiter", ""}} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			d := testenv.DB(b)
			rc := testenv.Redis(b)
			keys, err := auth.NewKeys(ctx, d, auth.KeysOptions{CacheTTL: 5 * time.Second, Redis: rc.Client, Channel: rc.Key("auth", "revoked")})
			if err != nil {
				b.Fatal(err)
			}
			defer keys.Close()
			al := audit.New(d, nil, 4096)
			defer func() {
				ctx, cancel := context.WithTimeout(ctx, time.Minute)
				defer cancel()
				if err := al.Close(ctx); err != nil {
					b.Error(err)
				}
			}()
			deps := guard.Deps{Keys: keys, Audit: al,
				Limits: config.RateLimitConfig{App: 1e9, Admin: 1e9, TrainingService: 1e9, BurstSeconds: 1}}
			switch tc.limiter {
			case "redis": // miniredis unless OCRPOOL_TEST_REDIS_URL is set
				deps.Limiter = ratelimit.NewRedis(rc.Client, rc.Key("ratelimit")+":")
			case "local": // what a process on the embedded miniredis uses
				deps.Limiter = ratelimit.NewLocal()
			}
			cfg := config.Default().Server
			srv, err := server.New(cfg, server.Deps{Log: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry(),
				Info: map[string]string{}, Guard: guard.New(deps)})
			if err != nil {
				b.Fatal(err)
			}
			h := func(c *gin.Context) { c.String(http.StatusOK, "ok") }
			if err := srv.Mount(
				server.Route{Method: http.MethodGet, Path: "/bare", Perm: auth.Public, Handler: h},
				server.Route{Method: http.MethodGet, Path: "/guarded", Perm: auth.PermIngest, Handler: h},
			); err != nil {
				b.Fatal(err)
			}
			created, err := keys.Create(ctx, auth.NewKey{Role: auth.RoleApp, AppName: "bench", Environment: "sandbox"})
			if err != nil {
				b.Fatal(err)
			}
			bare := httptest.NewRequest(http.MethodGet, "/bare", nil)
			guarded := httptest.NewRequest(http.MethodGet, "/guarded", nil)
			guarded.Header.Set("Authorization", "Bearer "+created.Secret)
			serve := func(req *http.Request) time.Duration {
				w := httptest.NewRecorder()
				start := time.Now()
				srv.Handler().ServeHTTP(w, req)
				el := time.Since(start)
				if w.Code != http.StatusOK {
					b.Fatalf("%s = %d %s", req.URL.Path, w.Code, w.Body)
				}
				return el
			}
			serve(guarded) // warm the key cache
			var tBare, tGuarded time.Duration
			n := 0
			for b.Loop() {
				tBare += serve(bare)
				tGuarded += serve(guarded)
				n++
			}
			b.ReportMetric(float64(tBare.Nanoseconds())/float64(n), "bare-ns/req")
			b.ReportMetric(float64(tGuarded.Nanoseconds())/float64(n), "guarded-ns/req")
			b.ReportMetric(float64(tGuarded)/float64(tBare), "guarded/bare")
		})
	}
}

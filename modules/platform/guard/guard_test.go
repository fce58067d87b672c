package guard_test

import (
	"context"
	"errors"
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
	"github.com/ocrpool/ocrpool/modules/platform/server"
	"github.com/ocrpool/ocrpool/modules/platform/testenv"
)

type brokenLimiter struct{}

func (brokenLimiter) Allow(context.Context, string, float64, float64) (bool, time.Duration, error) {
	return true, 0, errors.New("redis down")
}

// A handler that panics still leaves its audit row (500, failed), and a
// rate limiter that cannot reach Redis lets requests through.
func TestPanicAuditedAndLimiterFailsOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := testenv.DB(t)
	keys, err := auth.NewKeys(ctx, d, auth.KeysOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer keys.Close()
	al := audit.New(d, nil, 16)
	defer al.Close(ctx)
	srv, err := server.New(config.Default().Server, server.Deps{Log: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry(),
		Guard: guard.New(guard.Deps{Keys: keys, Audit: al, Limiter: brokenLimiter{},
			Limits: config.RateLimitConfig{App: 1, BurstSeconds: 1}})})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Mount(
		server.Route{Method: http.MethodPost, Path: "/items/:id/boom", Perm: auth.PermIngest, Action: "boom", Resource: "item",
			Handler: func(*gin.Context) { panic("boom") }},
		server.Route{Method: http.MethodGet, Path: "/items", Perm: auth.PermIngest,
			Handler: func(c *gin.Context) { c.Status(http.StatusNoContent) }},
	); err != nil {
		t.Fatal(err)
	}
	k, err := keys.Create(ctx, auth.NewKey{Role: auth.RoleApp, AppName: "t", Environment: "sandbox"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/items", http.StatusNoContent},
		{http.MethodGet, "/items", http.StatusNoContent}, // over the rate of 1/s, but the limiter is down
		{http.MethodPost, "/items/42/boom", http.StatusInternalServerError},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(tt.method, tt.path, nil)
		req.Header.Set("Authorization", "Bearer "+k.Secret)
		w := httptest.NewRecorder()
		srv.Handler().ServeHTTP(w, req)
		if w.Code != tt.want {
			t.Fatalf("%s %s = %d, want %d", tt.method, tt.path, w.Code, tt.want)
		}
	}
	if err := al.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	page, err := al.List(ctx, audit.Query{Action: "boom"})
	if err != nil || len(page.Entries) != 1 {
		t.Fatalf("audit rows for the panic: %+v, %v", page, err)
	}
	e := page.Entries[0]
	if e.Success || e.ResourceType != "item" || e.ResourceID != "42" || e.ActorID != k.Key.ID || e.ActorType != audit.ActorApp || e.ErrorMessage == "" {
		t.Fatalf("panic audit row = %+v", e)
	}
}

func TestActorType(t *testing.T) {
	for role, want := range map[auth.Role]string{
		auth.RoleApp: audit.ActorApp, auth.RoleAdmin: audit.ActorUser, auth.RoleTrainingService: audit.ActorService,
	} {
		if got := guard.ActorType(role); got != want {
			t.Errorf("ActorType(%s) = %s, want %s", role, got, want)
		}
	}
}

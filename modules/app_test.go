package modules

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ocrpool/ocrpool/config"
	"github.com/ocrpool/ocrpool/modules/platform"
	"github.com/ocrpool/ocrpool/modules/platform/testenv"
)

// testConfig is roles=all on a free loopback port with isolated stores:
// SQLite and miniredis, or PostgreSQL and Redis when OCRPOOL_TEST_* are set.
func testConfig(t *testing.T) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Server.Addr = "127.0.0.1:0"
	cfg.Server.ShutdownTimeout = 5 * time.Second
	cfg.Database = testenv.DBConfig(t)
	cfg.Redis = testenv.RedisConfig(t)
	cfg.Security.PIIKey = "test-pii-key-0123456789abcdef" // required with PostgreSQL
	return cfg
}

// verifyNoLeaks checks, after every other cleanup has run (stores closed),
// that the test left no goroutine behind.
func verifyNoLeaks(t *testing.T) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

func get(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	return resp.StatusCode, body
}

func TestAppStartServeShutdown(t *testing.T) {
	verifyNoLeaks(t)
	cfg := testConfig(t)
	ctx := context.Background()
	app, err := New(ctx, cfg, slog.New(slog.DiscardHandler), Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	base := "http://" + app.Addr()
	if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz = %d", code)
	}
	code, body := get(t, base+"/readyz")
	if code != http.StatusOK {
		t.Fatalf("/readyz = %d %v", code, body)
	}
	checks, _ := body["checks"].(map[string]any)
	if checks["database"] != "ok" || checks["redis"] != "ok" {
		t.Errorf("/readyz checks = %v, want database and redis ok", checks)
	}
	if _, body := get(t, base+"/version"); body["version"] == "" || body["roles"] == nil {
		t.Errorf("/version = %v", body)
	}
	for path, want := range map[string]string{"/": "<title>ocrpool</title>", "/static/app.js": "loadStatus"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(raw), want) {
			t.Errorf("GET %s = %d, want 200 with %q", path, resp.StatusCode, want)
		}
	}
	if got, want := strings.Join(app.Plan().Modules, ","), "datapool,training,deployment,ocr"; got != want {
		t.Errorf("modules = %s, want %s", got, want)
	}
	if err := app.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("still serving after Shutdown")
	}
}

// Run returns nil when its context ends: that is what SIGTERM does.
func TestAppRunStopsOnCancel(t *testing.T) {
	verifyNoLeaks(t)
	cfg := testConfig(t)
	app, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler), Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if resp, err := http.Get("http://" + app.Addr() + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("server never answered")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want nil after cancel", err)
		}
	case <-time.After(cfg.Server.ShutdownTimeout + time.Second):
		t.Fatal("Run did not return within the shutdown timeout")
	}
}

func TestAppRefusesOldSchema(t *testing.T) {
	cfg := testConfig(t)
	_, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler), Options{})
	if err == nil || !strings.Contains(err.Error(), "migrate") {
		t.Fatalf("New on an empty database = %v, want a refusal that says how to migrate", err)
	}
}

func TestAppBusyPortFailsFast(t *testing.T) {
	cfg := testConfig(t)
	first, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler), Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer first.Shutdown(context.Background())

	cfg.Server.Addr = first.Addr()
	second, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := second.Start(context.Background()); err == nil || !strings.Contains(err.Error(), first.Addr()) {
		t.Fatalf("Start on a busy port = %v, want an error naming the address", err)
	}
	if err := second.Platform().Close(); err != nil {
		t.Fatal(err)
	}
}

// Each role starts exactly its modules and mounts exactly their routes.
// Split roles need shared stores, so the plan is assembled directly on an
// embedded platform here; Check's own refusal is covered in TestCheck.
func TestRolesStartOnlyTheirModules(t *testing.T) {
	// Every module's routes, from a process that runs them all.
	all := startPlan(t, "all")
	routesOf := map[string][]string{}
	for _, m := range all.modules {
		for _, r := range m.Routes() {
			routesOf[m.Name()] = append(routesOf[m.Name()], r.Method+" "+r.Path)
		}
	}
	if len(routesOf[Datapool]) == 0 || len(routesOf[OCR]) == 0 {
		t.Fatalf("modules without routes: %v", routesOf)
	}
	for _, role := range []string{"datapool", "training", "ocr", "datapool,ocr"} {
		t.Run(role, func(t *testing.T) {
			app := startPlan(t, role)
			var got []string
			for _, m := range app.started {
				got = append(got, m.Name())
			}
			if strings.Join(got, ",") != strings.Join(app.plan.Modules, ",") {
				t.Errorf("started %v, want %v", got, app.plan.Modules)
			}
			mounted := map[string]bool{}
			for _, r := range app.p.Server.Routes() {
				mounted[r.Method+" "+r.Path] = true
			}
			for module, routes := range routesOf {
				for _, r := range routes {
					if got, want := mounted[r], app.plan.Local(module); got != want {
						t.Errorf("route %s of module %s mounted=%v, want %v", r, module, got, want)
					}
				}
			}
		})
	}
}

// startPlan starts the modules of roles on an embedded platform of their
// own and stops them when the test ends.
func startPlan(t *testing.T, roles string) *App {
	t.Helper()
	cfg := testConfig(t)
	// Peers that are not local are never started here: an unused port.
	cfg.Peers.DatapoolURL, cfg.Peers.TrainingURL, cfg.Peers.ServiceKey = "http://127.0.0.1:1", "http://127.0.0.1:1", "ocp_test_unused"
	plan, err := Resolve(roles)
	if err != nil {
		t.Fatal(err)
	}
	p, err := platform.Open(context.Background(), cfg, slog.New(slog.DiscardHandler), platform.Options{Migrate: true, Roles: plan.Roles})
	if err != nil {
		t.Fatal(err)
	}
	app, err := assemble(cfg, plan, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := app.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return app
}

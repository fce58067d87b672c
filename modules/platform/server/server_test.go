package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ocrpool/ocrpool/config"
	"github.com/ocrpool/ocrpool/modules/platform/apierr"
	"github.com/ocrpool/ocrpool/modules/platform/auth"
	"github.com/ocrpool/ocrpool/modules/platform/requestid"
)

type testServer struct {
	*Server
	logs *bytes.Buffer
}

func newTestServer(t *testing.T, guard Guard) testServer {
	t.Helper()
	var logs bytes.Buffer
	cfg := config.Default().Server
	cfg.Addr = "127.0.0.1:0"
	cfg.MaxBodyBytes = 1024
	s, err := New(cfg, Deps{
		Log:      slog.New(slog.NewJSONHandler(&logs, nil)),
		Registry: prometheus.NewRegistry(),
		Info:     map[string]string{"version": "test"},
		Guard:    guard,
	})
	if err != nil {
		t.Fatal(err)
	}
	return testServer{s, &logs}
}

func (s testServer) do(t *testing.T, method, path string, body io.Reader, hdr ...string) (*httptest.ResponseRecorder, apierr.Envelope) {
	t.Helper()
	req := httptest.NewRequest(method, path, body)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, req)
	var env apierr.Envelope
	if w.Code >= 400 {
		if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || env.Error == nil {
			t.Fatalf("%s %s: status %d with a body that is not the error envelope: %s", method, path, w.Code, w.Body)
		}
	}
	return w, env
}

func TestPublicEndpoints(t *testing.T) {
	s := newTestServer(t, nil)
	for _, path := range []string{"/healthz", "/readyz", "/version", "/metrics"} {
		w, _ := s.do(t, http.MethodGet, path, nil)
		if w.Code != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", path, w.Code)
		}
	}
	w, env := s.do(t, http.MethodGet, "/nope", nil)
	if w.Code != http.StatusNotFound || env.Error.Code != apierr.NotFound {
		t.Errorf("GET /nope = %d %+v, want 404 not_found", w.Code, env.Error)
	}
	w, _ = s.do(t, http.MethodPost, "/healthz", nil)
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz = %d, want 405", w.Code)
	}
}

func TestReadiness(t *testing.T) {
	s := newTestServer(t, nil)
	var fail error
	s.AddCheck("database", func(context.Context) error { return fail })
	s.AddDetail("patterns", func() any { return "v3" })

	if w, _ := s.do(t, http.MethodGet, "/readyz", nil); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"patterns":"v3"`) {
		t.Fatalf("ready: %d %s", w.Code, w.Body)
	}
	fail = errors.New("connection refused")
	w, _ := s.do(t, http.MethodGet, "/readyz", nil)
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "connection refused") {
		t.Fatalf("failing check: %d %s, want 503 naming the failure", w.Code, w.Body)
	}
	fail = nil
	s.Drain()
	if w, _ := s.do(t, http.MethodGet, "/readyz", nil); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("draining: %d, want 503", w.Code)
	}
	if w, _ := s.do(t, http.MethodGet, "/healthz", nil); w.Code != http.StatusOK {
		t.Fatalf("draining /healthz: %d, want 200 (the process is still up)", w.Code)
	}
}

func TestPanicBecomesJSON500(t *testing.T) {
	s := newTestServer(t, nil)
	if err := s.Mount(Route{Method: http.MethodGet, Path: "/boom", Perm: auth.Public, Handler: func(*gin.Context) {
		panic("kaboom")
	}}); err != nil {
		t.Fatal(err)
	}
	w, env := s.do(t, http.MethodGet, "/boom", nil, requestid.Header, "req-123")
	if w.Code != http.StatusInternalServerError || env.Error.Code != apierr.Internal {
		t.Fatalf("panic: %d %+v", w.Code, env.Error)
	}
	if strings.Contains(w.Body.String(), "kaboom") {
		t.Errorf("panic value leaked to the client: %s", w.Body)
	}
	if got := w.Header().Get(requestid.Header); got != "req-123" {
		t.Errorf("request id = %q, want the client's", got)
	}
	logs := s.logs.String()
	if !strings.Contains(logs, `"panic":"kaboom"`) || !strings.Contains(logs, `"request_id":"req-123"`) {
		t.Errorf("panic not logged with its request id:\n%s", logs)
	}
	// The process survives: the next request works.
	if w, _ := s.do(t, http.MethodGet, "/healthz", nil); w.Code != http.StatusOK {
		t.Fatalf("after panic /healthz = %d", w.Code)
	}
}

func TestRequestIDs(t *testing.T) {
	s := newTestServer(t, nil)
	for _, tt := range []struct{ sent, want string }{
		{"abc-1.2_3", "abc-1.2_3"},
		{"", ""},
		{"bad id with spaces", ""},
		{strings.Repeat("a", 65), ""},
		{"ocp_live_0123456789abcdef", ""}, // a key in the wrong header is never echoed or logged
	} {
		w, _ := s.do(t, http.MethodGet, "/healthz", nil, requestid.Header, tt.sent)
		got := w.Header().Get(requestid.Header)
		if tt.want != "" && got != tt.want {
			t.Errorf("sent %q: got id %q, want it kept", tt.sent, got)
		}
		if tt.want == "" && (got == "" || got == tt.sent) {
			t.Errorf("sent %q: got id %q, want a fresh one", tt.sent, got)
		}
	}
}

func TestBodyLimitAndDecode(t *testing.T) {
	s := newTestServer(t, nil)
	type payload struct {
		Name  string `json:"name"`
		Count int    `json:"count"`
	}
	var stored []payload
	if err := s.Mount(Route{Method: http.MethodPost, Path: "/echo", Perm: auth.Public, Handler: func(c *gin.Context) {
		var p payload
		if err := DecodeJSON(c, &p); err != nil {
			Error(c, err)
			return
		}
		stored = append(stored, p)
		c.JSON(http.StatusOK, p)
	}}); err != nil {
		t.Fatal(err)
	}
	big := `{"name":"` + strings.Repeat("x", 2000) + `"}`
	tests := []struct {
		name       string
		body       io.Reader
		wantStatus int
		wantField  string
		wantMsg    string
	}{
		{"ok", strings.NewReader(`{"name":"a","count":2}`), 200, "", ""},
		{"too large", strings.NewReader(big), 413, "", "limit"},
		{"too large, length unknown", io.MultiReader(strings.NewReader(big)), 413, "", "limit"},
		{"malformed", strings.NewReader(`{"name":`), 400, "", "malformed JSON"},
		{"wrong type", strings.NewReader(`{"count":"two"}`), 400, "count", "must be a number"},
		{"unknown field", strings.NewReader(`{"nmae":"a"}`), 400, "nmae", "unknown field"},
		{"trailing data", strings.NewReader(`{"name":"a"} {}`), 400, "", "after the JSON"},
		{"empty", strings.NewReader(``), 400, "", "empty"},
		{"invalid utf-8", strings.NewReader("{\"name\":\"\xff\"}"), 400, "", "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(stored)
			req := httptest.NewRequest(http.MethodPost, "/echo", tt.body)
			if tt.name == "too large, length unknown" {
				req.ContentLength = -1
			}
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, req)
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.wantStatus, w.Body)
			}
			if tt.wantStatus == 200 {
				return
			}
			var env apierr.Envelope
			if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || env.Error == nil {
				t.Fatalf("body is not the error envelope: %s", w.Body)
			}
			if env.Error.Field != tt.wantField || !strings.Contains(env.Error.Message, tt.wantMsg) {
				t.Errorf("error = %+v, want field %q and a message with %q", env.Error, tt.wantField, tt.wantMsg)
			}
			if len(stored) != before {
				t.Errorf("a rejected request changed state")
			}
		})
	}
}

func TestMountDeniesByDefault(t *testing.T) {
	h := func(*gin.Context) {}
	tests := []struct {
		name  string
		guard Guard
		route Route
		want  string
	}{
		{"no permission", nil, Route{Method: "GET", Path: "/x", Handler: h}, "no permission declared"},
		{"protected without guard", nil, Route{Method: "GET", Path: "/x", Perm: auth.PermIngest, Handler: h}, "no guard"},
		{"duplicate", nil, Route{Method: "GET", Path: "/healthz", Perm: auth.Public, Handler: h}, "mounted twice"},
		{"bad method", nil, Route{Method: "BREW", Path: "/x", Perm: auth.Public, Handler: h}, "unsupported method"},
		{"no handler", nil, Route{Method: "GET", Path: "/x", Perm: auth.Public}, "no handler"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, tt.guard)
			err := s.Mount(tt.route)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Mount() = %v, want %q", err, tt.want)
			}
		})
	}

	// With a guard, the guard's middleware runs before the handler.
	guard := func(r Route) []gin.HandlerFunc {
		return []gin.HandlerFunc{func(c *gin.Context) {
			if c.GetHeader("X-Allow") != string(r.Perm) {
				Error(c, apierr.New(apierr.Forbidden, "no"))
				return
			}
			c.Next()
		}}
	}
	s := newTestServer(t, guard)
	if err := s.Mount(Route{Method: "GET", Path: "/x", Perm: auth.PermIngest, Handler: func(c *gin.Context) { c.String(200, "in") }}); err != nil {
		t.Fatal(err)
	}
	if w, _ := s.do(t, "GET", "/x", nil); w.Code != http.StatusForbidden {
		t.Errorf("guarded route without permission = %d, want 403", w.Code)
	}
	if w, _ := s.do(t, "GET", "/x", nil, "X-Allow", string(auth.PermIngest)); w.Code != http.StatusOK {
		t.Errorf("guarded route with permission = %d, want 200", w.Code)
	}
}

func TestMetricsByRoute(t *testing.T) {
	s := newTestServer(t, nil)
	if err := s.Mount(Route{Method: "GET", Path: "/items/:id", Perm: auth.Public, Handler: func(c *gin.Context) { c.Status(204) }}); err != nil {
		t.Fatal(err)
	}
	s.do(t, "GET", "/items/42", nil)
	s.do(t, "GET", "/items/43", nil)
	w, _ := s.do(t, "GET", "/metrics", nil)
	body := w.Body.String()
	want := `ocrpool_http_requests_total{method="GET",route="/items/:id",status="204"} 2`
	if !strings.Contains(body, want) {
		t.Errorf("metrics lack %q", want)
	}
	if strings.Contains(body, "/items/42") {
		t.Errorf("metrics carry a raw path: ids would explode the label space")
	}
	if !strings.Contains(body, `ocrpool_http_request_duration_seconds_bucket{method="GET",route="/items/:id",status="204"`) {
		t.Errorf("no latency histogram for the route")
	}
}

func TestServeAndShutdown(t *testing.T) {
	s := newTestServer(t, nil)
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	resp, err := http.Get("http://" + s.Addr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz over TCP = %d", resp.StatusCode)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve after Shutdown = %v, want nil", err)
	}
	if _, err := http.Get("http://" + s.Addr() + "/healthz"); err == nil {
		t.Fatal("server still answers after Shutdown")
	}
}

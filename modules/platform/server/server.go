// Package server is the one HTTP server of an ocrpool process: gin with
// request ids, access logs, panic recovery, body limits and metrics, the
// public health, readiness, version and metrics endpoints, and the routes
// that modules declare. It knows nothing about any module.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ocrpool/ocrpool/config"
	"github.com/ocrpool/ocrpool/modules/platform/apierr"
	"github.com/ocrpool/ocrpool/modules/platform/auth"
)

// Check is one readiness probe. A failing check makes /readyz answer 503.
type Check func(ctx context.Context) error

// Deps are what the server needs from the platform.
type Deps struct {
	Log      *slog.Logger
	Registry *prometheus.Registry
	// Info is served at /version.
	Info any
	// Guard enforces route permissions; nil allows only public routes.
	Guard Guard
}

// Server is the process's HTTP server.
type Server struct {
	cfg    config.ServerConfig
	log    *slog.Logger
	engine *gin.Engine
	guard  Guard
	http   *http.Server
	ln     net.Listener
	// addr is the bound address, readable while another goroutine starts
	// the server (App.Run in the background, tests polling Addr).
	addr atomic.Pointer[string]

	mu       sync.Mutex
	routes   []Route
	checks   map[string]Check
	details  map[string]func() any
	draining atomic.Bool
}

// New builds the engine with its middleware and public endpoints.
func New(cfg config.ServerConfig, d Deps) (*Server, error) {
	m, err := newHTTPMetrics(d.Registry)
	if err != nil {
		return nil, err
	}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.ContextWithFallback = true // c.Value and c.Done see the request's context
	e.HandleMethodNotAllowed = true
	// Behind no proxy by default: the peer address is the client.
	if err := e.SetTrustedProxies(nil); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s := &Server{
		cfg:     cfg,
		log:     d.Log,
		engine:  e,
		guard:   d.Guard,
		checks:  map[string]Check{},
		details: map[string]func() any{},
	}
	e.Use(withRequestID(), func(c *gin.Context) { c.Set(logKey, d.Log); c.Next() },
		withAccessLog(d.Log), m.middleware(), withRecovery(d.Log))
	e.NoRoute(func(c *gin.Context) {
		Error(c, apierr.New(apierr.NotFound, "no route %s %s", c.Request.Method, c.Request.URL.Path))
	})
	e.NoMethod(func(c *gin.Context) {
		c.AbortWithStatusJSON(http.StatusMethodNotAllowed, apierr.Envelope{Error: &apierr.Error{
			Code: apierr.Invalid, Message: fmt.Sprintf("method %s not allowed on %s", c.Request.Method, c.Request.URL.Path)}})
	})

	info := d.Info
	public := []Route{
		{Method: http.MethodGet, Path: "/healthz", Perm: auth.Public, Handler: func(c *gin.Context) {
			c.JSON(http.StatusOK, gin.H{"status": "ok"})
		}},
		{Method: http.MethodGet, Path: "/readyz", Perm: auth.Public, Handler: s.handleReady},
		{Method: http.MethodGet, Path: "/version", Perm: auth.Public, Handler: func(c *gin.Context) {
			c.JSON(http.StatusOK, info)
		}},
		{Method: http.MethodGet, Path: "/metrics", Perm: auth.Public,
			Handler: gin.WrapH(promhttp.HandlerFor(d.Registry, promhttp.HandlerOpts{Registry: d.Registry}))},
	}
	if err := s.Mount(public...); err != nil {
		return nil, err
	}
	return s, nil
}

// Mount adds routes. A route without a declared permission, a duplicate,
// or a protected route with no guard to enforce it is an error: routes are
// denied by default.
func (s *Server) Mount(routes ...Route) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range routes {
		if err := r.validate(); err != nil {
			return err
		}
		for _, have := range s.routes {
			if have.Method == r.Method && have.Path == r.Path {
				return fmt.Errorf("route %s %s: mounted twice", r.Method, r.Path)
			}
		}
		limit := s.cfg.MaxBodyBytes
		if r.MaxBody > 0 {
			limit = r.MaxBody
		}
		// The guard comes first so that every request, even one refused for
		// its size, is authenticated and audited.
		var chain []gin.HandlerFunc
		switch {
		case s.guard != nil:
			chain = append(chain, s.guard(r)...)
		case r.Perm != auth.Public:
			return fmt.Errorf("route %s %s: needs %s but no guard is configured", r.Method, r.Path, r.Perm)
		}
		chain = append(chain, withBodyLimit(limit), r.Handler)
		s.engine.Handle(r.Method, r.Path, chain...)
		s.routes = append(s.routes, r)
	}
	return nil
}

// Routes returns every mounted route, sorted by path then method.
func (s *Server) Routes() []Route {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append([]Route(nil), s.routes...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Method < out[j].Method
	})
	return out
}

// AddCheck registers a readiness check under name.
func (s *Server) AddCheck(name string, check Check) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks[name] = check
}

// AddDetail adds informational state to /readyz that never fails it (for
// example "patterns: serving the last copy, data pool unreachable").
func (s *Server) AddDetail(name string, detail func() any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.details[name] = detail
}

func (s *Server) handleReady(c *gin.Context) {
	if s.draining.Load() {
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "shutting down",
			"error": apierr.New(apierr.Unavailable, "shutting down")})
		return
	}
	s.mu.Lock()
	checks := make(map[string]Check, len(s.checks))
	for k, v := range s.checks {
		checks[k] = v
	}
	details := make(map[string]func() any, len(s.details))
	for k, v := range s.details {
		details[k] = v
	}
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	results := map[string]string{}
	status := http.StatusOK
	for name, check := range checks {
		if err := check(ctx); err != nil {
			// Check errors are ours (database, Redis), never a client's data.
			results[name] = err.Error()
			status = http.StatusServiceUnavailable
		} else {
			results[name] = "ok"
		}
	}
	body := gin.H{"status": "ready", "checks": results}
	if status != http.StatusOK {
		body["status"] = "not ready"
		body["error"] = apierr.New(apierr.Unavailable, "not ready: a check failed")
	}
	if len(details) > 0 {
		d := gin.H{}
		for name, f := range details {
			d[name] = f()
		}
		body["details"] = d
	}
	c.JSON(status, body)
}

// Handler is the server's http.Handler, for tests and embedding.
func (s *Server) Handler() http.Handler { return s.engine }

// Listen binds the address now, so a busy port fails at start rather than
// after every module has started.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", s.cfg.Addr, err)
	}
	s.ln = ln
	bound := ln.Addr().String()
	s.addr.Store(&bound)
	s.http = &http.Server{
		Handler:           s.engine,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	if s.cfg.TLS.Enabled() {
		s.http.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return nil
}

// Addr is the bound address (useful with port 0).
func (s *Server) Addr() string {
	if a := s.addr.Load(); a != nil {
		return *a
	}
	return s.cfg.Addr
}

// TLS reports whether the server speaks HTTPS.
func (s *Server) TLS() bool { return s.cfg.TLS.Enabled() }

// Serve answers requests until Shutdown; it returns nil after a graceful
// shutdown. Listen must have been called.
func (s *Server) Serve() error {
	if s.ln == nil {
		return errors.New("server: Serve before Listen")
	}
	var err error
	if s.cfg.TLS.Enabled() {
		err = s.http.ServeTLS(s.ln, s.cfg.TLS.CertFile, s.cfg.TLS.KeyFile)
	} else {
		err = s.http.Serve(s.ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Drain makes /readyz answer 503 while requests are still served, so load
// balancers stop sending traffic before the listener closes.
func (s *Server) Drain() { s.draining.Store(true) }

// Shutdown stops accepting connections and waits for in-flight requests
// until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.Drain()
	if s.http == nil {
		return nil
	}
	err := s.http.Shutdown(ctx)
	if err != nil {
		_ = s.http.Close()
		err = fmt.Errorf("draining HTTP: %w", err)
	}
	// Shutdown closes only listeners that Serve saw; close ours in case
	// Serve never ran (a module failed to start).
	_ = s.ln.Close()
	return err
}

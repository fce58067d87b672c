package modules

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/ocrpool/ocrpool/config"
	"github.com/ocrpool/ocrpool/modules/platform"
	"github.com/ocrpool/ocrpool/modules/platform/server"
	"github.com/ocrpool/ocrpool/web"
)

// Options tune New.
type Options struct {
	// Migrate applies pending migrations at start (serve --migrate).
	Migrate bool
	// AdminKeyOut, when set, makes Start create an admin API key if no
	// usable one exists and print it there once (serve passes its
	// stdout; the key never goes to the log).
	AdminKeyOut io.Writer
}

// App is one ocrpool process: the platform and the modules of its roles.
type App struct {
	cfg     config.Config
	opts    Options
	plan    Plan
	log     *slog.Logger
	p       *platform.Platform
	modules []Module // in start order

	started []Module
	serveCh chan error
}

// Check validates cfg, including the rules that depend on the role table:
// known roles, no embedded stores when roles are split, a peer URL and a
// service key for every dependency that runs elsewhere.
func Check(cfg config.Config) (Plan, error) {
	plan, err := Resolve(cfg.Roles)
	if err != nil {
		return Plan{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Plan{}, err
	}
	if plan.Split() {
		// Another process must see the same corrections, keys and locks.
		if cfg.Database.Embedded() {
			return Plan{}, fmt.Errorf("roles %v: split roles need a shared PostgreSQL, the embedded SQLite database cannot be shared between processes: set database.url (%s)",
				plan.Roles, config.EnvName("database.url"))
		}
		if cfg.Redis.Embedded() {
			return Plan{}, fmt.Errorf("roles %v: split roles need a shared Redis, the embedded miniredis cannot be shared between processes: set redis.url (%s)",
				plan.Roles, config.EnvName("redis.url"))
		}
	}
	for _, m := range plan.Remote {
		key := "peers." + RoleOf(m) + "_url"
		if peerURL(cfg.Peers, m) == "" {
			return Plan{}, fmt.Errorf("roles %v: module %s runs in another process: set %s (%s)",
				plan.Roles, m, key, config.EnvName(key))
		}
	}
	if len(plan.Remote) > 0 && cfg.Peers.ServiceKey == "" {
		return Plan{}, fmt.Errorf("roles %v: calling peers needs a training_service API key: set peers.service_key (%s)",
			plan.Roles, config.EnvName("peers.service_key"))
	}
	return plan, nil
}

// New checks cfg, opens the platform and builds the modules of its roles,
// mounting their routes and registering their jobs. Nothing runs yet.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, opts Options) (*App, error) {
	plan, err := Check(cfg)
	if err != nil {
		return nil, err
	}
	p, err := platform.Open(ctx, cfg, log, platform.Options{Migrate: opts.Migrate, Roles: plan.Roles})
	if err != nil {
		return nil, err
	}
	a, err := assemble(cfg, plan, p)
	if err != nil {
		return nil, errors.Join(err, p.Close())
	}
	a.opts = opts
	return a, nil
}

// assemble builds the plan's modules on an open platform. Tests call it
// directly to run a subset of roles on embedded stores.
func assemble(cfg config.Config, plan Plan, p *platform.Platform) (*App, error) {
	a := &App{cfg: cfg, plan: plan, log: p.Log, p: p}
	if err := p.Server.Mount(server.StaticRoutes(web.Static())...); err != nil {
		return nil, err
	}
	for _, name := range plan.Modules {
		m, err := a.build(name)
		if err != nil {
			return nil, fmt.Errorf("building module %s: %w", name, err)
		}
		if err := p.Server.Mount(m.Routes()...); err != nil {
			return nil, fmt.Errorf("module %s: %w", name, err)
		}
		for _, j := range m.Jobs() {
			if err := p.Sched.Add(j); err != nil {
				return nil, fmt.Errorf("module %s: %w", name, err)
			}
		}
		a.modules = append(a.modules, m)
	}
	return a, nil
}

// Plan is what this process runs.
func (a *App) Plan() Plan { return a.plan }

// Platform exposes the shared pieces (for the CLI and tests).
func (a *App) Platform() *platform.Platform { return a.p }

// Addr is the address the server listens on, once Start has returned.
func (a *App) Addr() string { return a.p.Server.Addr() }

// Start binds the listener, makes sure an admin key exists (when
// Options.AdminKeyOut is set), starts the modules in order, then the
// scheduler and the server. If a module fails to start, the ones already
// started are stopped in reverse and the error is returned (Caddy's run).
func (a *App) Start(ctx context.Context) error {
	if err := a.p.Server.Listen(); err != nil {
		return err
	}
	if a.opts.AdminKeyOut != nil {
		if err := a.p.EnsureAdminKey(ctx, a.opts.AdminKeyOut); err != nil {
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.Server.ShutdownTimeout)
			defer cancel()
			return errors.Join(err, a.p.Server.Shutdown(stopCtx))
		}
	}
	for _, m := range a.modules {
		if err := m.Start(ctx); err != nil {
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.Server.ShutdownTimeout)
			defer cancel()
			return errors.Join(fmt.Errorf("starting module %s: %w", m.Name(), err),
				a.stopModules(stopCtx), a.p.Server.Shutdown(stopCtx))
		}
		a.started = append(a.started, m)
		a.log.Debug("module started", "module", m.Name())
	}
	a.p.Sched.Start()
	a.serveCh = make(chan error, 1)
	go func() { a.serveCh <- a.p.Server.Serve() }()
	scheme := "http"
	if a.p.Server.TLS() {
		scheme = "https"
	}
	a.log.Info("ocrpool started", "addr", a.Addr(), "scheme", scheme, "roles", a.plan.Roles, "modules", a.plan.Modules)
	return nil
}

// Run starts the app and blocks until ctx ends (a signal) or the server
// fails, then shuts down in order. It returns nil after a clean shutdown.
func (a *App) Run(ctx context.Context) error {
	if err := a.Start(ctx); err != nil {
		return errors.Join(err, a.p.Close())
	}
	var serveErr error
	select {
	case <-ctx.Done():
		a.log.Info("shutting down", "reason", context.Cause(ctx))
	case serveErr = <-a.serveCh:
		a.serveCh = nil
		a.log.Error("server stopped, shutting down", "err", serveErr)
	}
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.Server.ShutdownTimeout)
	defer cancel()
	return errors.Join(serveErr, a.Shutdown(stopCtx))
}

// Shutdown stops the process in order, each step bounded by ctx:
// readiness goes to 503 (then server.shutdown_delay), HTTP drains, the
// scheduler waits for running jobs, modules stop in reverse order, then
// Redis and the database close.
func (a *App) Shutdown(ctx context.Context) error {
	var errs []error
	a.p.Server.Drain()
	if d := a.cfg.Server.ShutdownDelay; d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
	}
	if err := a.p.Server.Shutdown(ctx); err != nil {
		errs = append(errs, err)
	}
	if a.serveCh != nil {
		if err := <-a.serveCh; err != nil {
			errs = append(errs, fmt.Errorf("serving: %w", err))
		}
		a.serveCh = nil
	}
	if err := a.p.Sched.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("stopping scheduler: %w", err))
	}
	errs = append(errs, a.stopModules(ctx), a.p.Close())
	err := errors.Join(errs...)
	if err == nil {
		a.log.Info("ocrpool stopped")
	}
	return err
}

func (a *App) stopModules(ctx context.Context) error {
	var errs []error
	for i := len(a.started) - 1; i >= 0; i-- {
		m := a.started[i]
		if err := m.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stopping module %s: %w", m.Name(), err))
		}
		a.log.Debug("module stopped", "module", m.Name())
	}
	a.started = nil
	return errors.Join(errs...)
}

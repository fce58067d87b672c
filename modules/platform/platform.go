// Package platform opens the pieces every ocrpool process has once,
// whatever its roles: logger, metrics registry, database, Redis, API keys,
// audit log, rate limiter, scheduler and HTTP server with its guard and
// platform routes (/api-keys…, /audit/log). Modules receive the pieces they
// use explicitly; nothing here is global.
package platform

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ocrpool/ocrpool/config"
	"github.com/ocrpool/ocrpool/modules/platform/audit"
	"github.com/ocrpool/ocrpool/modules/platform/auth"
	"github.com/ocrpool/ocrpool/modules/platform/cache"
	"github.com/ocrpool/ocrpool/modules/platform/db"
	"github.com/ocrpool/ocrpool/modules/platform/guard"
	"github.com/ocrpool/ocrpool/modules/platform/ratelimit"
	"github.com/ocrpool/ocrpool/modules/platform/sched"
	"github.com/ocrpool/ocrpool/modules/platform/server"
	"github.com/ocrpool/ocrpool/modules/platform/version"
)

// Platform is the set of shared pieces of one process.
type Platform struct {
	Log     *slog.Logger
	Metrics *prometheus.Registry
	DB      *db.DB
	Cache   *cache.Cache
	// Keys are the API keys; Audit writes the audit log (Record domain
	// events there); Limiter is the per-key rate limiter.
	Keys    *auth.Keys
	Audit   *audit.Logger
	Limiter ratelimit.Limiter
	Sched   *sched.Scheduler
	Server  *server.Server
	// HTTP is the client for peers and webhooks.
	HTTP *http.Client

	closers []func() error
}

// Options tune Open.
type Options struct {
	// Migrate applies pending migrations instead of refusing an old schema.
	Migrate bool
	// Roles are reported by /version.
	Roles []string
}

// NewLogger returns the process logger for cfg, writing to w.
func NewLogger(cfg config.LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.ToUpper(cfg.Level))) // Validate checked it
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// Open opens the platform in dependency order. On error, whatever was
// opened is closed again.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger, opts Options) (p *Platform, err error) {
	p = &Platform{Log: log, Metrics: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			err = errors.Join(err, p.Close())
			p = nil
		}
	}()
	p.Metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	if p.DB, err = db.Open(ctx, cfg.Database, log.With("component", "db")); err != nil {
		return p, err
	}
	p.closers = append(p.closers, p.DB.Close)
	if opts.Migrate || cfg.Database.AutoMigrate {
		applied, err := p.DB.MigrateUp(ctx)
		if err != nil {
			return p, fmt.Errorf("migrating database: %w", err)
		}
		if len(applied) > 0 {
			log.Info("database migrated", "applied", applied)
		}
	}
	if err = p.DB.CheckUpToDate(ctx); err != nil {
		return p, err
	}

	if p.Cache, err = cache.Open(ctx, cfg.Redis); err != nil {
		return p, err
	}
	p.closers = append(p.closers, p.Cache.Close)

	// Closed in reverse: Keys (last_used_at) before the audit log, which
	// writes every buffered row before Redis and the database close.
	flushTimeout := cfg.Server.ShutdownTimeout
	p.Audit = audit.New(p.DB, log.With("component", "audit"), cfg.Security.AuditBuffer)
	p.closers = append(p.closers, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
		defer cancel()
		return p.Audit.Close(ctx)
	})
	p.Metrics.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ocrpool_audit_pending_rows",
			Help: "Audit rows recorded but not yet written to the database.",
		}, func() float64 { return float64(p.Audit.Pending()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "ocrpool_audit_write_failures_total",
			Help: "Failed attempts to write a batch of audit rows (each is retried with backoff until it is written).",
		}, func() float64 { return float64(p.Audit.Failures()) }),
	)
	if p.Keys, err = auth.NewKeys(ctx, p.DB, auth.KeysOptions{
		CacheTTL: cfg.Security.KeyCacheTTL,
		Redis:    p.Cache.Client,
		Channel:  p.Cache.Key("auth", "revoked"),
		Log:      log.With("component", "auth"),
	}); err != nil {
		return p, err
	}
	p.closers = append(p.closers, p.Keys.Close)
	if p.Cache.Embedded() {
		p.Limiter = ratelimit.NewLocal() // nothing else can share miniredis
	} else {
		p.Limiter = ratelimit.NewRedis(p.Cache.Client, p.Cache.Key("ratelimit")+":")
	}

	var locker = sched.NewRedisLocker(p.Cache.Client, p.Cache.Key("lock")+":", cfg.Scheduler.LockTTL)
	if p.Sched, err = sched.New(log.With("component", "sched"), sched.Options{Locker: locker, Registerer: p.Metrics}); err != nil {
		return p, err
	}

	p.HTTP = &http.Client{Timeout: cfg.Peers.Timeout}
	info := struct {
		version.Info
		Roles []string `json:"roles"`
	}{version.Get(), opts.Roles}
	if p.Server, err = server.New(cfg.Server, server.Deps{
		Log: log.With("component", "http"), Registry: p.Metrics, Info: info,
		Guard: guard.New(guard.Deps{
			Keys: p.Keys, Audit: p.Audit, Limiter: p.Limiter, Limits: cfg.Security.RateLimits,
			Log: log.With("component", "guard"),
		}),
	}); err != nil {
		return p, err
	}
	// Platform routes, in every process whatever its roles.
	if err = p.Server.Mount(append(guard.KeyRoutes(p.Keys), audit.Routes(p.Audit)...)...); err != nil {
		return p, err
	}
	p.Server.AddCheck("database", p.DB.Ping)
	p.Server.AddCheck("redis", p.Cache.Ping)
	return p, nil
}

// EnsureAdminKey creates an admin API key when none is usable (first
// start) and prints it once to w, the console, never to the log, with how
// to make more. Concurrent processes create one key between them.
func (p *Platform) EnsureAdminKey(ctx context.Context, w io.Writer) error {
	created, made, err := p.Keys.EnsureAdmin(ctx)
	if err != nil || !made {
		return err
	}
	p.Audit.Record(ctx, audit.Event{
		Time: time.Now(), ActorType: audit.ActorSystem, ActorID: "bootstrap",
		Action: "create", ResourceType: "api_key", ResourceID: created.Key.ID, Success: true,
		Details: map[string]any{"key_prefix": created.Key.Prefix, "key_role": string(created.Key.Role),
			"app_name": created.Key.AppName, "environment": created.Key.Environment, "reason": "no admin key existed"},
	})
	_, err = fmt.Fprintf(w, `
No admin API key existed, so one was created. It is shown now and never again:

    %s

Use it as "Authorization: Bearer <key>". Create more keys with
    ocrpool keys create --role admin --app NAME --env ENV [--expires 90d]
or POST /api-keys/create; revoke this one with: ocrpool keys revoke %s

`, created.Secret, created.Key.ID)
	return err
}

// Close closes what Open opened, in reverse order: API keys (pending
// last_used_at), the audit log (every buffered row is written), Redis,
// then the database.
func (p *Platform) Close() error {
	var errs []error
	for i := len(p.closers) - 1; i >= 0; i-- {
		errs = append(errs, p.closers[i]())
	}
	p.closers = nil
	return errors.Join(errs...)
}

// Package platform opens the pieces every ocrpool process has once,
// whatever its roles: logger, metrics registry, database, Redis, scheduler
// and HTTP server. Modules receive the pieces they use explicitly; nothing
// here is global.
package platform

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ocrpool/ocrpool/config"
	"github.com/ocrpool/ocrpool/modules/platform/cache"
	"github.com/ocrpool/ocrpool/modules/platform/db"
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
	}); err != nil {
		return p, err
	}
	p.Server.AddCheck("database", p.DB.Ping)
	p.Server.AddCheck("redis", p.Cache.Ping)
	return p, nil
}

// Close closes what Open opened, in reverse order: Redis, then the
// database.
func (p *Platform) Close() error {
	var errs []error
	for i := len(p.closers) - 1; i >= 0; i-- {
		errs = append(errs, p.closers[i]())
	}
	p.closers = nil
	return errors.Join(errs...)
}

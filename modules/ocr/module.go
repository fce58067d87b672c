package ocr

import (
	"github.com/redis/go-redis/v9"

	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ocrpool/ocrpool/config"
	"github.com/ocrpool/ocrpool/modules/ocr/engine"
	"github.com/ocrpool/ocrpool/modules/platform/auth"
	"github.com/ocrpool/ocrpool/modules/platform/cache"
	"github.com/ocrpool/ocrpool/modules/platform/sched"
	"github.com/ocrpool/ocrpool/modules/platform/server"
)

// Name is the module's name in the role table.
const Name = "ocr"

// multipartSlack is what a multipart body may carry besides the image:
// boundaries, part headers, routing_key and app.
const multipartSlack = 64 << 10

// Deps are the platform pieces the module uses.
type Deps struct {
	Log *slog.Logger
	// Metrics is the process registry; nil registers nothing.
	Metrics prometheus.Registerer
	// Cache carries the outcome stream; nil drops outcomes.
	Cache *cache.Cache
	// Engine replaces the Tesseract pool built from config (tests); the
	// module closes it on Stop either way.
	Engine engine.Engine
	// Patterns loads the learned pattern set (the data pool's active one);
	// nil means rules only.
	Patterns PatternLoader
	// PatternVersion loads one version, for releases that pin it; nil
	// refuses such releases.
	PatternVersion VersionLoader
	// PatternChannel is the Redis channel that announces activations
	// (Cache's client listens); PatternPoll the safety-net reload period.
	PatternChannel string
	PatternPoll    time.Duration
}

// Module is the ocr module.
type Module struct {
	cfg config.OCRConfig
	log *slog.Logger
	svc *Service

	follow     func(ctx context.Context) // nil: no pattern source
	stopFollow context.CancelFunc
	followDone chan struct{}
}

// New builds the module and starts its Tesseract clients, so a missing
// language or a build without Tesseract (-tags notesseract) fails here and
// `serve --roles=ocr` refuses to start.
func New(cfg config.OCRConfig, d Deps) (*Module, error) {
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(d.Metrics)
	if err != nil {
		return nil, err
	}
	eng := d.Engine
	if eng == nil {
		pool, err := engine.New(engine.Config{Language: cfg.Language, PSM: cfg.PSM, DPI: cfg.DPI, PoolSize: cfg.PoolSize})
		if err != nil {
			return nil, fmt.Errorf("ocr: %w", err)
		}
		eng = pool
	}
	out := newOutcomes(d.Cache, cfg.OutcomesMaxLen, log, m.outcomeErrors.Inc)
	svc := newService(cfg, eng, log, m, out)
	if err := registerPatternMetrics(d.Metrics, svc); err != nil {
		return nil, errors.Join(err, eng.Close())
	}
	log.Info("ocr ready", "engine", eng.Version(), "workers", cap(svc.slots), "openmp_thread_limit_at_start", engine.OpenMPThreadLimit())
	mod := &Module{cfg: cfg, log: log, svc: svc}
	svc.SetVersionLoader(d.PatternVersion)
	if d.Patterns != nil {
		svc.SetPatternLoader(d.Patterns)
		poll := d.PatternPoll
		if poll <= 0 {
			poll = 30 * time.Second
		}
		var rdb *redis.Client
		if d.Cache != nil {
			rdb = d.Cache.Client
		}
		mod.follow = func(ctx context.Context) { svc.FollowPatterns(ctx, rdb, d.PatternChannel, poll) }
	}
	return mod, nil
}

// NewService builds the OCR logic without HTTP, for the eval command and
// benchmarks: a Tesseract pool from cfg, no metrics registry, no outcome
// stream. Close it when done.
func NewService(cfg config.OCRConfig, log *slog.Logger) (*Service, error) {
	m, err := New(cfg, Deps{Log: log})
	if err != nil {
		return nil, err
	}
	return m.svc, nil
}

// Close stops the service's engine; for services made by NewService.
func (s *Service) Close() error {
	return errors.Join(s.outcomes.wait(context.Background()), s.eng.Close())
}

// Service is the module's logic, for in-process callers.
func (m *Module) Service() *Service { return m.svc }

// Name implements modules.Module.
func (m *Module) Name() string { return Name }

// Routes implements modules.Module.
func (m *Module) Routes() []server.Route {
	return []server.Route{
		{Method: http.MethodPost, Path: "/ocr/process", Perm: auth.PermOCR, Action: "process", Resource: "receipt",
			MaxBody: m.cfg.MaxImageBytes + multipartSlack, Handler: m.handleProcess},
		{Method: http.MethodPost, Path: "/ocr/extract", Perm: auth.PermOCR, Action: "extract", Resource: "receipt",
			Handler: m.handleExtract},
		{Method: http.MethodPost, Path: "/ocr/v2/patterns/reload", Perm: auth.PermOCRAdmin, Action: "reload", Resource: "patterns",
			Handler: m.handleReloadPatterns},
		{Method: http.MethodGet, Path: "/ocr/v2/routing", Perm: auth.PermOCRAdmin, Action: "read", Resource: "routing",
			Handler: m.handleGetRouting},
		{Method: http.MethodPut, Path: "/ocr/v2/routing", Perm: auth.PermOCRAdmin, Action: "update", Resource: "routing",
			Handler: m.handlePutRouting},
	}
}

// Jobs implements modules.Module.
func (m *Module) Jobs() []sched.Job { return nil }

// Start implements modules.Module: with a pattern source, it loads the
// active pattern set and follows activations in the background.
func (m *Module) Start(ctx context.Context) error {
	if m.follow != nil {
		ctx, m.stopFollow = context.WithCancel(context.WithoutCancel(ctx))
		m.followDone = make(chan struct{})
		go func() { defer close(m.followDone); m.follow(ctx) }()
	}
	return nil
}

// Stop implements modules.Module: it waits for outcomes in flight, then
// frees the Tesseract clients. HTTP has drained before Stop is called.
func (m *Module) Stop(ctx context.Context) error {
	if m.stopFollow != nil {
		m.stopFollow()
		select {
		case <-m.followDone:
		case <-ctx.Done():
		}
	}
	return errors.Join(m.svc.outcomes.wait(ctx), m.svc.eng.Close())
}

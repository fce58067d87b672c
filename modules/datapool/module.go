package datapool

import (
	"github.com/ocrpool/ocrpool/modules/datapool/webhook"

	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ocrpool/ocrpool/config"
	"github.com/ocrpool/ocrpool/modules/platform/auth"
	"github.com/ocrpool/ocrpool/modules/platform/cache"
	"github.com/ocrpool/ocrpool/modules/platform/db"
	"github.com/ocrpool/ocrpool/modules/platform/sched"
	"github.com/ocrpool/ocrpool/modules/platform/server"
)

// Name is the module's name in the role table.
const Name = "datapool"

// Deps are what the module uses, passed explicitly.
type Deps struct {
	Log *slog.Logger
	DB  *db.DB
	// Cache carries the event stream; nil publishes no events (the CLI).
	Cache *cache.Cache
	// Metrics receives the module's metrics; nil keeps them private.
	Metrics prometheus.Registerer
	// PIIKey is security.pii_key, the HMAC secret of user id hashes.
	PIIKey string
	// SQLitePath is database.path: with SQLite and no PIIKey, a generated
	// key is kept in pii.key next to it.
	SQLitePath string
	// Taxonomy maps categories; nil means DefaultTaxonomy.
	Taxonomy *Taxonomy
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
	// HTTP delivers webhooks; nil means a client with a 10 s timeout.
	HTTP *http.Client
	// Webhooks tunes webhook delivery (zero: the defaults).
	Webhooks webhook.Options
	// PatternPoll is how often the active pattern set is checked in the
	// database besides Redis notifications (zero: 10 s).
	PatternPoll time.Duration
}

// Module is the data pool module.
type Module struct {
	cfg config.DatapoolConfig
	svc *Service
}

var _ interface {
	Name() string
	Routes() []server.Route
	Jobs() []sched.Job
	Start(context.Context) error
	Stop(context.Context) error
} = (*Module)(nil)

// New builds the module and its Service; it starts nothing. It fails when
// the PII key cannot be had (see Deps.PIIKey) or the metrics clash.
func New(cfg config.DatapoolConfig, d Deps) (*Module, error) {
	svc, err := NewService(cfg, d)
	if err != nil {
		return nil, err
	}
	return &Module{cfg: cfg, svc: svc}, nil
}

// NewService builds the data pool's Service alone, for the CLI.
func NewService(cfg config.DatapoolConfig, d Deps) (*Service, error) {
	if d.DB == nil {
		return nil, errors.New("datapool: no database")
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = config.Default().Datapool.MaxBatch
	}
	key, err := resolvePIIKey(d.PIIKey, d.DB.Dialect, d.SQLitePath)
	if err != nil {
		return nil, fmt.Errorf("datapool: %w", err)
	}
	reg := d.Metrics
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("datapool: %w", err)
	}
	st, err := newStore(d.DB)
	if err != nil {
		return nil, fmt.Errorf("datapool: %w", err)
	}
	s := &Service{
		cfg:       cfg,
		log:       d.Log,
		store:     st,
		dialect:   d.DB.Dialect,
		mask:      newMasker(key),
		taxonomy:  d.Taxonomy,
		metrics:   m,
		now:       d.Clock,
		merchants: newMerchantCache(),
	}
	if s.taxonomy == nil {
		s.taxonomy = DefaultTaxonomy()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if d.Cache != nil {
		s.events = &publisher{rdb: d.Cache.Client, key: d.Cache.Key(StreamKeyParts...),
			maxLen: StreamMaxLen, log: d.Log, failed: m.eventsFailed}
	}
	s.commits = newGroupCommitter(st, d.Log, s.afterStore)
	s.initPatterns(d)
	if err := s.serving.registerMetrics(reg); err != nil {
		return nil, fmt.Errorf("datapool: %w", err)
	}
	return s, nil
}

// Service is the module's logic, the in-process Client.
func (m *Module) Service() *Service { return m.svc }

// Name implements modules.Module.
func (m *Module) Name() string { return Name }

// Routes implements modules.Module: the /corrections routes, each with its
// permission.
func (m *Module) Routes() []server.Route {
	return append([]server.Route{
		{Method: http.MethodPost, Path: "/corrections/ingest", Perm: auth.PermIngest,
			Action: "ingest", Resource: "correction", Handler: m.svc.handleIngest},
		{Method: http.MethodGet, Path: "/corrections/export", Perm: auth.PermExport,
			Action: "export", Resource: "dataset", Handler: m.svc.handleExport},
		{Method: http.MethodGet, Path: "/corrections/stats", Perm: auth.PermStats,
			Action: "stats", Resource: "correction", Handler: m.svc.handleStats},
	}, m.svc.patternRoutes()...)
}

// Jobs implements modules.Module: the pattern refresh, on
// datapool.pattern_refresh_cron (UTC), once per tick across replicas.
func (m *Module) Jobs() []sched.Job {
	return []sched.Job{{
		Name:    "datapool.patterns.refresh",
		Cron:    m.cfg.PatternRefreshCron,
		Timeout: time.Hour,
		Run: func(ctx context.Context) error {
			res, err := m.svc.RefreshPatterns(ctx, "system:scheduler")
			if err == nil {
				m.svc.log.Info("scheduled pattern refresh", "created", res.Created, "version", res.Version, "activated", res.Activated, "reason", res.Reason)
			}
			return err
		},
	}}
}

// Start implements modules.Module: events are published in the
// background, the active pattern set follows activations and webhooks are
// delivered from now on.
func (m *Module) Start(ctx context.Context) error {
	m.svc.events.start()
	m.svc.serving.Start(ctx)
	m.svc.webhooks.Start(ctx)
	return nil
}

// Stop implements modules.Module: it stores the queued corrections,
// publishes the queued events and stops following pattern activations and
// delivering webhooks (pending deliveries stay in the database for the
// next start).
func (m *Module) Stop(ctx context.Context) error {
	// Queued corrections are stored first: their events go out with the rest.
	stored := m.svc.commits.drain(ctx)
	return errors.Join(stored, m.svc.webhooks.Stop(ctx), m.svc.serving.Stop(ctx), m.svc.events.stop(ctx))
}

// metrics are the module's Prometheus metrics.
type metrics struct {
	corrections  *prometheus.CounterVec
	outliers     *prometheus.CounterVec
	eventsFailed prometheus.Counter
	exportRows   *prometheus.CounterVec
	exports      *prometheus.CounterVec
	// refreshes counts pattern refreshes (scheduled or asked for) by
	// outcome; lastRefresh is when one last completed without error.
	refreshes   *prometheus.CounterVec
	lastRefresh prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		corrections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ocrpool_datapool_corrections_total",
			Help: "Corrections received, by result: stored, duplicate, conflict, rejected.",
		}, []string{"result"}),
		outliers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ocrpool_datapool_outliers_total",
			Help: "Stored corrections flagged as outliers, by rule.",
		}, []string{"reason"}),
		eventsFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ocrpool_datapool_events_failed_total",
			Help: "Correction events that could not be published on the Redis stream.",
		}),
		exportRows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ocrpool_datapool_export_rows_total",
			Help: "Corrections written by exports, by format.",
		}, []string{"format"}),
		exports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ocrpool_datapool_exports_total",
			Help: "Exports, by format and result (ok, failed).",
		}, []string{"format", "result"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ocrpool_patterns_refreshes_total",
			Help: "Pattern refreshes, scheduled or asked for, by result: activated, rejected (stored inactive by the gate), unchanged, empty (nothing recurs yet), error.",
		}, []string{"result"}),
		lastRefresh: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ocrpool_patterns_last_refresh_timestamp_seconds",
			Help: "Unix time at which a pattern refresh last completed without error (0: none since the process started).",
		}),
	}
	for _, result := range []string{"activated", "rejected", "unchanged", "empty", "error"} {
		m.refreshes.WithLabelValues(result) // every series exists from the start, for rate() and alerts
	}
	for _, c := range []prometheus.Collector{m.corrections, m.outliers, m.eventsFailed, m.exportRows, m.exports, m.refreshes, m.lastRefresh} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering metrics: %w", err)
		}
	}
	return m, nil
}

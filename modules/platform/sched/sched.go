// Package sched runs the scheduled work that modules declare, as a thin
// wrapper over one gocron v2 scheduler per process. Jobs come from active
// modules only, so splitting roles across processes partitions the jobs;
// replicas of one role share a Redis locker so each tick runs once.
package sched

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
)

// Job is scheduled work declared by a module. Exactly one of Cron
// (standard 5-field, in the scheduler's location, UTC by default) or Every
// is set.
type Job struct {
	// Name identifies the job in logs, metrics and the distributed lock, so
	// it must be unique and stable across replicas.
	Name string
	Cron string
	// Every runs the job at multiples of the interval (aligned to the clock,
	// not to process start) so replicas tick together.
	Every time.Duration
	// Timeout cancels a run's context after this long; 0 means no limit
	// other than Shutdown.
	Timeout time.Duration
	// Run does the work. Its ctx ends on Shutdown or after Timeout, and it
	// is expected to return then.
	Run func(ctx context.Context) error
}

// Options are the scheduler's optional dependencies.
type Options struct {
	// Locker makes replicas run each tick once; nil means no distributed
	// lock (one process, or the embedded Redis).
	Locker gocron.Locker
	// Registerer receives the job metrics; nil means none.
	Registerer prometheus.Registerer
	// Location is where cron expressions are read; nil means UTC.
	Location *time.Location
}

const (
	// maxTickGuard caps how long a finished run keeps its lock as a tick
	// guard (see lock.go); more skew than this between replicas is a broken
	// clock, not jitter.
	maxTickGuard = 30 * time.Second
	// cronTickGuard is the guard of cron jobs: a 5-field cron fires at most
	// once a minute, so half a minute never reaches into the next tick.
	cronTickGuard = 30 * time.Second
	// gocronStopTimeout bounds gocron's own wait for running jobs, which
	// spins a CPU; Shutdown then waits for the runs itself, as long as its
	// context allows.
	gocronStopTimeout = time.Second
)

// Scheduler runs jobs on their schedules.
type Scheduler struct {
	log     *slog.Logger
	gs      gocron.Scheduler
	locker  gocron.Locker
	metrics *metrics

	// ctx is the parent of every run's context; Shutdown cancels it.
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	jobs    map[string]struct{}
	closed  bool
	running sync.WaitGroup // runs in flight, counted under mu
}

// New builds a stopped scheduler; Add jobs, then Start it.
func New(log *slog.Logger, opts Options) (*Scheduler, error) {
	if log == nil {
		return nil, errors.New("sched: nil logger")
	}
	loc := opts.Location
	if loc == nil {
		loc = time.UTC
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	gs, err := gocron.NewScheduler(
		gocron.WithLocation(loc),
		gocron.WithLogger(log.With("component", "gocron")),
		gocron.WithStopTimeout(gocronStopTimeout),
	)
	if err != nil {
		return nil, fmt.Errorf("sched: new gocron scheduler: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Scheduler{
		log:     log,
		gs:      gs,
		locker:  opts.Locker,
		metrics: m,
		ctx:     ctx,
		cancel:  cancel,
		jobs:    map[string]struct{}{},
	}, nil
}

// Add schedules a job. A run never overlaps the job's previous run (a tick
// that finds it still running is skipped), and with a Locker each tick runs
// on one replica only. Errors and panics in Run are logged and counted; they
// never stop the scheduler.
func (s *Scheduler) Add(job Job) error {
	if err := validate(job); err != nil {
		return err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("sched: add job %q: scheduler is shut down", job.Name)
	}
	if _, dup := s.jobs[job.Name]; dup {
		return fmt.Errorf("sched: add job %q: a job with this name exists", job.Name)
	}

	name := job.Name
	opts := []gocron.JobOption{
		gocron.WithName(name),
		gocron.WithSingletonMode(gocron.LimitModeReschedule),
		gocron.WithEventListeners(gocron.AfterLockError(func(_ uuid.UUID, _ string, err error) {
			s.lockFailed(name, err)
		})),
	}
	var (
		def   gocron.JobDefinition
		guard time.Duration
	)
	if job.Every > 0 {
		def = gocron.DurationJob(job.Every)
		// A start on a multiple of the interval (a past one: gocron rolls
		// it forward) makes every replica fire at the same instants, so
		// the lock only has to absorb skew, not arbitrary start offsets.
		opts = append(opts, gocron.WithStartAt(gocron.WithStartDateTimePast(time.Now().Truncate(job.Every))))
		guard = min(job.Every/2, maxTickGuard)
	} else {
		def = gocron.CronJob(job.Cron, false)
		guard = cronTickGuard
	}
	if s.locker != nil {
		opts = append(opts, gocron.WithDistributedJobLocker(guardedLocker{inner: s.locker, guard: guard}))
	}

	if _, err := s.gs.NewJob(def, gocron.NewTask(func() { s.run(job) }), opts...); err != nil {
		return fmt.Errorf("sched: add job %q: %w", name, err)
	}
	s.jobs[name] = struct{}{}
	s.metrics.init(name)
	return nil
}

func validate(job Job) error {
	switch {
	case strings.TrimSpace(job.Name) == "":
		return errors.New("sched: job has no name")
	case job.Run == nil:
		return fmt.Errorf("sched: job %q has no Run func", job.Name)
	case job.Cron == "" && job.Every == 0:
		return fmt.Errorf("sched: job %q has neither Cron nor Every", job.Name)
	case job.Cron != "" && job.Every != 0:
		return fmt.Errorf("sched: job %q has both Cron and Every", job.Name)
	case job.Every < 0:
		return fmt.Errorf("sched: job %q: Every %s is negative", job.Name, job.Every)
	case job.Timeout < 0:
		return fmt.Errorf("sched: job %q: Timeout %s is negative", job.Name, job.Timeout)
	case strings.Contains(job.Cron, "@every"):
		// The cron parser accepts it, but it would dodge the alignment
		// and the tick guard chosen for Every.
		return fmt.Errorf("sched: job %q: use Every instead of cron %q", job.Name, job.Cron)
	}
	return nil
}

// Start begins scheduling. Calling it after Shutdown does nothing.
func (s *Scheduler) Start() {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		s.log.Warn("sched: start after shutdown ignored")
		return
	}
	s.gs.Start()
}

// Shutdown stops scheduling, cancels the context of running jobs and waits
// for them to return until ctx ends.
func (s *Scheduler) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	// From here on no new run is counted (run checks closed under mu), so
	// the WaitGroup is never added to while it is waited on.
	s.closed = true
	s.mu.Unlock()

	s.cancel()
	err := s.gs.ShutdownWithContext(ctx)
	// gocron giving up on slow jobs, or ctx ending, is handled by the wait
	// below, which is the one that counts.
	if err != nil && !errors.Is(err, gocron.ErrStopJobsTimedOut) && ctx.Err() == nil {
		return fmt.Errorf("sched: stop gocron: %w", err)
	}

	done := make(chan struct{})
	go func() {
		s.running.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sched: shutdown with jobs still running: %w", ctx.Err())
	}
}

// Jobs lists the names of the added jobs, sorted.
func (s *Scheduler) Jobs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.jobs))
	for n := range s.jobs {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// run is one execution of job, called by gocron once the tick's lock (if
// any) is held.
func (s *Scheduler) run(job Job) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.running.Add(1)
	s.mu.Unlock()
	defer s.running.Done()

	ctx, cancel := s.ctx, context.CancelFunc(func() {})
	if job.Timeout > 0 {
		ctx, cancel = context.WithTimeout(s.ctx, job.Timeout)
	}
	defer cancel()

	start := time.Now()
	err := callRun(ctx, job.Run)
	elapsed := time.Since(start)

	if err == nil {
		s.metrics.observe(job.Name, resultSuccess, elapsed)
		s.log.Debug("job done", "job", job.Name, "duration", elapsed)
		return
	}
	s.metrics.observe(job.Name, resultError, elapsed)
	attrs := []any{"job", job.Name, "duration", elapsed, "err", err}
	var pe *panicError
	if errors.As(err, &pe) {
		attrs = append(attrs, "stack", string(pe.stack))
	}
	if s.ctx.Err() != nil {
		// Cut short by Shutdown: expected, but worth knowing what was lost.
		s.log.Warn("job interrupted by shutdown", attrs...)
		return
	}
	s.log.Error("job failed", attrs...)
}

// panicError is a panic in Run, turned into an error so one bad job cannot
// take the process down.
type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("panic: %v", e.value) }

func callRun(ctx context.Context, run func(context.Context) error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &panicError{value: v, stack: debug.Stack()}
		}
	}()
	return run(ctx)
}

// lockFailed is gocron's AfterLockError hook: the tick was not run here.
func (s *Scheduler) lockFailed(name string, err error) {
	if errors.Is(err, ErrLockHeld) {
		// The normal case on all replicas but one.
		s.metrics.count(name, resultSkippedLocked)
		s.log.Debug("job skipped: lock held elsewhere", "job", name)
		return
	}
	if s.ctx.Err() != nil && errors.Is(err, context.Canceled) {
		// gocron's lock call was cut by Shutdown: no tick is lost.
		s.log.Debug("job skipped: shutting down", "job", name)
		return
	}
	// Redis unreachable, or a foreign Locker's refusal: nobody may have run
	// this tick, so it is an error.
	s.metrics.count(name, resultError)
	s.log.Error("job skipped: cannot take its lock", "job", name, "err", err)
}

const (
	resultSuccess       = "success"
	resultError         = "error"
	resultSkippedLocked = "skipped_locked"
)

// metrics are the job metrics; a nil *metrics records nothing.
type metrics struct {
	runs     *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	runs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ocrpool_job_runs_total",
		Help: "Scheduled job ticks by outcome: success, error, or skipped_locked (another replica ran it).",
	}, []string{"task", "result"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "ocrpool_job_duration_seconds",
		Help: "Duration of scheduled job runs, successful or not.",
		// Jobs range from sub-second sweeps to hour-long training runs.
		Buckets: []float64{0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600},
	}, []string{"task"})

	var err error
	if runs, err = register(reg, runs); err != nil {
		return nil, err
	}
	if duration, err = register(reg, duration); err != nil {
		return nil, err
	}
	return &metrics{runs: runs, duration: duration}, nil
}

// register adopts an identical collector that is already registered, so two
// schedulers (tests, or a restart within one process) can share a registry.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, fmt.Errorf("sched: register metrics: %w", err)
	}
	return c, nil
}

// init exposes a job's series at zero before its first tick, so rates and
// alerts see the job from the start.
func (m *metrics) init(job string) {
	if m == nil {
		return
	}
	for _, r := range []string{resultSuccess, resultError, resultSkippedLocked} {
		m.runs.WithLabelValues(job, r)
	}
}

func (m *metrics) count(job, result string) {
	if m == nil {
		return
	}
	m.runs.WithLabelValues(job, result).Inc()
}

func (m *metrics) observe(job, result string, d time.Duration) {
	if m == nil {
		return
	}
	m.runs.WithLabelValues(job, result).Inc()
	m.duration.WithLabelValues(job).Observe(d.Seconds())
}

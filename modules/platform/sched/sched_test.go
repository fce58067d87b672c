package sched

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ocrpool/ocrpool/modules/platform/cache"
	"github.com/ocrpool/ocrpool/modules/platform/testenv"
)

// waitFor polls cond until it holds or the (generous) deadline passes: the
// tests assert that things happen, never how fast.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func newLogger(w *testenv.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func newScheduler(t *testing.T, opts Options) (*Scheduler, *testenv.Buffer) {
	t.Helper()
	logs := &testenv.Buffer{}
	s, err := New(newLogger(logs), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s, logs
}

func okRun(context.Context) error { return nil }

func TestEveryRunsRepeatedly(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	s, _ := newScheduler(t, Options{Registerer: reg})
	var runs atomic.Int64
	err := s.Add(Job{Name: "tick", Every: time.Second, Run: func(context.Context) error {
		runs.Add(1)
		return nil
	}})
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	s.Start()
	waitFor(t, "3 runs", func() bool { return runs.Load() >= 3 })

	if got := counterValue(t, reg, "tick", resultSuccess); got < 3 {
		t.Fatalf("ocrpool_job_runs_total{result=success} = %v, want >= 3", got)
	}
	if got := histogramCount(t, reg, "tick"); got < 3 {
		t.Fatalf("ocrpool_job_duration_seconds count = %d, want >= 3", got)
	}
}

func TestAddRejectsBadJobs(t *testing.T) {
	t.Parallel()
	s, _ := newScheduler(t, Options{})
	if err := s.Add(Job{Name: "taken", Every: time.Minute, Run: okRun}); err != nil {
		t.Fatalf("Add: %v", err)
	}
	tests := []struct {
		name string
		job  Job
	}{
		{"no name", Job{Every: time.Minute, Run: okRun}},
		{"blank name", Job{Name: "  ", Every: time.Minute, Run: okRun}},
		{"no schedule", Job{Name: "a", Run: okRun}},
		{"cron and every", Job{Name: "a", Cron: "* * * * *", Every: time.Minute, Run: okRun}},
		{"negative every", Job{Name: "a", Every: -time.Second, Run: okRun}},
		{"nil run", Job{Name: "a", Every: time.Minute}},
		{"negative timeout", Job{Name: "a", Every: time.Minute, Timeout: -time.Second, Run: okRun}},
		{"bad cron", Job{Name: "a", Cron: "not a cron", Run: okRun}},
		{"six-field cron", Job{Name: "a", Cron: "0 * * * * *", Run: okRun}},
		{"@every cron", Job{Name: "a", Cron: "@every 1s", Run: okRun}},
		{"duplicate name", Job{Name: "taken", Every: time.Hour, Run: okRun}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.Add(tt.job); err == nil {
				t.Fatalf("Add(%+v) succeeded, want an error", tt.job)
			}
		})
	}
	if err := s.Add(Job{Name: "hourly", Cron: "0 * * * *", Run: okRun}); err != nil {
		t.Fatalf("Add valid cron job: %v", err)
	}
	if got, want := strings.Join(s.Jobs(), ","), "hourly,taken"; got != want {
		t.Fatalf("Jobs() = %s, want %s", got, want)
	}
}

func TestAddAfterShutdown(t *testing.T) {
	t.Parallel()
	s, _ := newScheduler(t, Options{})
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := s.Add(Job{Name: "late", Every: time.Second, Run: okRun}); err == nil {
		t.Fatal("Add after Shutdown succeeded")
	}
}

func TestPanickingJobIsContained(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	s, logs := newScheduler(t, Options{Registerer: reg})
	var runs atomic.Int64
	err := s.Add(Job{Name: "bomb", Every: time.Second, Run: func(context.Context) error {
		if runs.Add(1) == 1 {
			panic("boom")
		}
		return nil
	}})
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	s.Start()
	waitFor(t, "a run after the panic", func() bool { return runs.Load() >= 2 })

	out := logs.String()
	for _, want := range []string{"job failed", "job=bomb", "panic: boom", "duration="} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %q:\n%s", want, out)
		}
	}
	if got := counterValue(t, reg, "bomb", resultError); got != 1 {
		t.Errorf("error count = %v, want 1", got)
	}
}

func TestFailingJobIsLoggedAndCounted(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	s, logs := newScheduler(t, Options{Registerer: reg})
	var runs atomic.Int64
	err := s.Add(Job{Name: "flaky", Every: time.Second, Run: func(context.Context) error {
		runs.Add(1)
		return errors.New("disk full")
	}})
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	s.Start()
	waitFor(t, "2 runs", func() bool { return runs.Load() >= 2 })
	waitFor(t, "2 counted errors", func() bool { return counterValue(t, reg, "flaky", resultError) >= 2 })
	if out := logs.String(); !strings.Contains(out, "disk full") || !strings.Contains(out, "job=flaky") {
		t.Fatalf("logs lack the error:\n%s", out)
	}
}

func TestTimeoutCancelsRun(t *testing.T) {
	t.Parallel()
	s, _ := newScheduler(t, Options{})
	got := make(chan error, 1)
	err := s.Add(Job{Name: "slow", Every: time.Second, Timeout: 50 * time.Millisecond, Run: func(ctx context.Context) error {
		<-ctx.Done()
		select {
		case got <- ctx.Err():
		default:
		}
		return ctx.Err()
	}})
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	s.Start()
	select {
	case err := <-got:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("run ctx ended with %v, want DeadlineExceeded", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Timeout did not cancel the run")
	}
}

func TestShutdownWaitsAndCancels(t *testing.T) {
	t.Parallel()
	logs := &testenv.Buffer{}
	s, err := New(newLogger(logs), Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	started := make(chan struct{})
	var cancelled, finished atomic.Bool
	err = s.Add(Job{Name: "long", Every: time.Second, Run: func(ctx context.Context) error {
		select {
		case started <- struct{}{}:
		default:
		}
		<-ctx.Done()
		cancelled.Store(true)
		// Cleanup after cancellation still has to be waited for.
		time.Sleep(300 * time.Millisecond)
		finished.Store(true)
		return ctx.Err()
	}})
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	s.Start()
	select {
	case <-started:
	case <-time.After(15 * time.Second):
		t.Fatal("job never started")
	}

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if !cancelled.Load() || !finished.Load() {
		t.Fatalf("Shutdown returned before the job finished (cancelled=%v finished=%v)", cancelled.Load(), finished.Load())
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
}

func TestShutdownGivesUpWhenContextEnds(t *testing.T) {
	t.Parallel()
	logs := &testenv.Buffer{}
	s, err := New(newLogger(logs), Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	started := make(chan struct{})
	release := make(chan struct{})
	err = s.Add(Job{Name: "stubborn", Every: time.Second, Run: func(context.Context) error {
		select {
		case started <- struct{}{}:
		default:
		}
		<-release // ignores its context
		return nil
	}})
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	s.Start()
	<-started

	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	err = s.Shutdown(ctx)
	close(release)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want DeadlineExceeded", err)
	}
}

func TestRedisLocker(t *testing.T) {
	c := testenv.Redis(t)
	prefix := c.Key("lock") + ":"
	ctx := t.Context()

	t.Run("held lock refuses a second holder", func(t *testing.T) {
		l := NewRedisLocker(c.Client, prefix, time.Minute)
		a, err := l.Lock(withTickGuard(ctx, 0), "held")
		if err != nil {
			t.Fatalf("first Lock: %v", err)
		}
		if _, err := l.Lock(withTickGuard(ctx, 0), "held"); !errors.Is(err, ErrLockHeld) {
			t.Fatalf("second Lock = %v, want ErrLockHeld", err)
		}
		if _, err := l.Lock(withTickGuard(ctx, 0), "other"); err != nil {
			t.Fatalf("Lock on another key: %v", err)
		}
		if err := a.Unlock(ctx); err != nil {
			t.Fatalf("Unlock: %v", err)
		}
		// No guard: the key is gone at once.
		b, err := l.Lock(withTickGuard(ctx, 0), "held")
		if err != nil {
			t.Fatalf("Lock after Unlock: %v", err)
		}
		_ = b.Unlock(ctx)
	})

	t.Run("stale holder cannot release another holder's lock", func(t *testing.T) {
		l := NewRedisLocker(c.Client, prefix, time.Minute)
		stale, err := l.Lock(withTickGuard(ctx, 0), "stolen")
		if err != nil {
			t.Fatalf("Lock: %v", err)
		}
		// The stale holder's key expires (simulated), and another takes it.
		if err := c.Client.Del(ctx, prefix+"stolen").Err(); err != nil {
			t.Fatalf("Del: %v", err)
		}
		fresh, err := l.Lock(withTickGuard(ctx, 0), "stolen")
		if err != nil {
			t.Fatalf("Lock by the new holder: %v", err)
		}
		freshToken := c.Client.Get(ctx, prefix+"stolen").Val()

		if err := stale.Unlock(ctx); !errors.Is(err, ErrLockLost) {
			t.Fatalf("stale Unlock = %v, want ErrLockLost", err)
		}
		if got := c.Client.Get(ctx, prefix+"stolen").Val(); got != freshToken {
			t.Fatalf("after stale Unlock the key holds %q, want the new holder's %q", got, freshToken)
		}
		if _, err := l.Lock(withTickGuard(ctx, 0), "stolen"); !errors.Is(err, ErrLockHeld) {
			t.Fatalf("Lock after stale Unlock = %v, want ErrLockHeld", err)
		}
		if err := fresh.Unlock(ctx); err != nil {
			t.Fatalf("new holder's Unlock: %v", err)
		}
	})

	t.Run("release keeps the key as a tick guard, then it expires", func(t *testing.T) {
		l := NewRedisLocker(c.Client, prefix, time.Minute)
		a, err := l.Lock(withTickGuard(ctx, 2*time.Second), "guarded")
		if err != nil {
			t.Fatalf("Lock: %v", err)
		}
		if err := a.Unlock(ctx); err != nil {
			t.Fatalf("Unlock: %v", err)
		}
		ttl := c.Client.PTTL(ctx, prefix+"guarded").Val()
		if ttl <= 0 || ttl > 2*time.Second {
			t.Fatalf("after Unlock the key's TTL is %s, want within (0, 2s]", ttl)
		}
		if _, err := l.Lock(withTickGuard(ctx, 2*time.Second), "guarded"); !errors.Is(err, ErrLockHeld) {
			t.Fatalf("Lock right after a guarded Unlock = %v, want ErrLockHeld", err)
		}
		waitFor(t, "the guard to lapse", func() bool {
			b, err := l.Lock(withTickGuard(ctx, 0), "guarded")
			if err != nil {
				return false
			}
			_ = b.Unlock(ctx)
			return true
		})
	})

	t.Run("a run longer than the TTL keeps its lock", func(t *testing.T) {
		l := NewRedisLocker(c.Client, prefix, time.Second)
		a, err := l.Lock(withTickGuard(ctx, 0), "long")
		if err != nil {
			t.Fatalf("Lock: %v", err)
		}
		time.Sleep(2500 * time.Millisecond)
		if _, err := l.Lock(withTickGuard(ctx, 0), "long"); !errors.Is(err, ErrLockHeld) {
			t.Fatalf("Lock during a run longer than the TTL = %v, want ErrLockHeld", err)
		}
		if err := a.Unlock(ctx); err != nil {
			t.Fatalf("Unlock: %v", err)
		}
	})
}

// skewedLocker delays Lock on some ticks, standing for a replica whose clock
// or timer runs behind.
type skewedLocker struct {
	inner gocron.Locker
	delay func(tick time.Time) time.Duration
}

func (l skewedLocker) Lock(ctx context.Context, key string) (gocron.Lock, error) {
	time.Sleep(l.delay(time.Now().Round(time.Second)))
	return l.inner.Lock(ctx, key)
}

func TestDistributedLockRunsEachTickOnce(t *testing.T) {
	// Two schedulers stand for two processes: each has its own client to the
	// same Redis, the same job, and a lock.
	cfg := testenv.RedisConfig(t)
	const skew = 300 * time.Millisecond

	var (
		mu      sync.Mutex
		perTick = map[int64]int{}
		byNode  = map[string]int{}
	)
	newNode := func(node string, lateOnOdd bool) *Scheduler {
		c, err := cache.Open(t.Context(), cfg)
		if err != nil {
			t.Fatalf("cache.Open: %v", err)
		}
		t.Cleanup(func() { _ = c.Close() })
		locker := skewedLocker{
			inner: NewRedisLocker(c.Client, c.Key("sched", "lock")+":", 10*time.Second),
			// The replicas take turns being late, so both orders are tried.
			delay: func(tick time.Time) time.Duration {
				if (tick.Unix()%2 == 1) == lateOnOdd {
					return skew
				}
				return 0
			},
		}
		s, _ := newScheduler(t, Options{Locker: locker})
		err = s.Add(Job{Name: "sweep", Every: time.Second, Run: func(context.Context) error {
			tick := time.Now().Round(time.Second).Unix()
			mu.Lock()
			perTick[tick]++
			byNode[node]++
			mu.Unlock()
			return nil
		}})
		if err != nil {
			t.Fatalf("Add: %v", err)
		}
		return s
	}
	a := newNode("a", true)
	b := newNode("b", false)
	a.Start()
	b.Start()
	time.Sleep(4500 * time.Millisecond)

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for _, s := range []*Scheduler{a, b} {
		if err := s.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	}

	mu.Lock()
	defer mu.Unlock()
	if len(perTick) < 3 {
		t.Fatalf("only %d ticks ran (%v), want at least 3", len(perTick), perTick)
	}
	for tick, n := range perTick {
		if n != 1 {
			t.Errorf("tick %s ran %d times, want once (all: %v)", time.Unix(tick, 0).UTC().Format(time.TimeOnly), n, perTick)
		}
	}
	t.Logf("ticks: %v, runs by replica: %v", perTick, byNode)
}

func TestNewRejectsNilLogger(t *testing.T) {
	t.Parallel()
	if _, err := New(nil, Options{}); err == nil {
		t.Fatal("New(nil logger) succeeded")
	}
}

func TestMetricsShareRegistry(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	for range 2 {
		if _, err := New(slog.New(slog.DiscardHandler), Options{Registerer: reg}); err != nil {
			t.Fatalf("New with a shared registry: %v", err)
		}
	}
}

func findMetric(t *testing.T, reg *prometheus.Registry, name string, match func(*dto.Metric) bool) *dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if match(m) {
				return m
			}
		}
	}
	return nil
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, lp := range m.GetLabel() {
		if v, ok := want[lp.GetName()]; ok && v == lp.GetValue() {
			n++
		}
	}
	return n == len(want)
}

func counterValue(t *testing.T, reg *prometheus.Registry, job, result string) float64 {
	t.Helper()
	m := findMetric(t, reg, "ocrpool_job_runs_total", func(m *dto.Metric) bool {
		return hasLabels(m, map[string]string{"task": job, "result": result})
	})
	if m == nil {
		return 0
	}
	return m.GetCounter().GetValue()
}

func histogramCount(t *testing.T, reg *prometheus.Registry, job string) uint64 {
	t.Helper()
	m := findMetric(t, reg, "ocrpool_job_duration_seconds", func(m *dto.Metric) bool {
		return hasLabels(m, map[string]string{"task": job})
	})
	if m == nil {
		return 0
	}
	return m.GetHistogram().GetSampleCount()
}

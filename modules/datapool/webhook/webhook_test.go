package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocrpool/ocrpool/modules/platform/apierr"
	"github.com/ocrpool/ocrpool/modules/platform/testenv"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// receiver verifies every delivery like an app would, and answers with the
// statuses in plan (200 once the plan runs out).
type receiver struct {
	srv    *httptest.Server
	secret string
	now    func() time.Time
	mu     sync.Mutex
	plan   []int
	events []Event
	bad    []string
	hits   atomic.Int32
}

func newReceiver(t *testing.T, now func() time.Time, plan ...int) *receiver {
	r := &receiver{now: now, plan: plan}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.hits.Add(1)
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if err := Verify(r.secret, req.Header.Get(SignatureHeader), req.Header.Get(TimestampHeader), body, r.now(), 5*time.Minute); err != nil {
			r.bad = append(r.bad, err.Error())
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		status := http.StatusOK
		if len(r.plan) > 0 {
			status, r.plan = r.plan[0], r.plan[1:]
		}
		if status == http.StatusOK {
			var ev Event
			_ = json.Unmarshal(body, &ev)
			r.events = append(r.events, ev)
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func newDispatcher(t *testing.T, clk *clock) *Dispatcher {
	t.Helper()
	return New(testenv.DB(t), &http.Client{Timeout: 5 * time.Second}, slog.New(slog.DiscardHandler),
		Options{BaseBackoff: time.Second, MaxBackoff: time.Hour, GiveUpAfter: 24 * time.Hour, Now: clk.Now})
}

func TestSubscribeValidation(t *testing.T) {
	d := newDispatcher(t, &clock{t: time.Now()})
	tests := []struct {
		name  string
		in    NewSubscription
		field string
	}{
		{"relative url", NewSubscription{URL: "/hook", AppName: "a", Environment: "e"}, "url"},
		{"ftp url", NewSubscription{URL: "ftp://x/y", AppName: "a", Environment: "e"}, "url"},
		{"no app", NewSubscription{URL: "http://x/y", Environment: "e"}, "app_name"},
		{"no env", NewSubscription{URL: "http://x/y", AppName: "a"}, "environment"},
		{"short secret", NewSubscription{URL: "http://x/y", AppName: "a", Environment: "e", Secret: "short"}, "secret"},
		{"unknown event", NewSubscription{URL: "http://x/y", AppName: "a", Environment: "e", Events: []string{"x"}}, "events"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := d.Subscribe(context.Background(), tt.in, "test")
			var ae *apierr.Error
			if !errors.As(err, &ae) || ae.Code != apierr.Invalid || ae.Field != tt.field {
				t.Fatalf("Subscribe = %v, want invalid %s", err, tt.field)
			}
		})
	}
	subs, err := d.Subscriptions(context.Background())
	if err != nil || len(subs) != 0 {
		t.Fatalf("rejected subscriptions were stored: %v %v", subs, err)
	}
}

func TestDeliverSignedWithRetries(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}
	d := newDispatcher(t, clk)
	rcv := newReceiver(t, clk.Now, http.StatusInternalServerError, http.StatusInternalServerError)
	sub, err := d.Subscribe(ctx, NewSubscription{URL: rcv.srv.URL, AppName: "expenseapp", Environment: "sandbox"}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sub.Secret, "whsec_") {
		t.Fatalf("generated secret %q", sub.Secret)
	}
	rcv.secret = sub.Secret
	if listed, _ := d.Subscriptions(ctx); len(listed) != 1 || listed[0].Secret != "" {
		t.Fatalf("Subscriptions = %+v, want one without its secret", listed)
	}

	ev := Event{Event: EventActivated, Version: "v4", ETag: `"v4"`, ActivatedAt: clk.Now()}
	if n, err := d.Publish(ctx, ev); err != nil || n != 1 {
		t.Fatalf("Publish = %d, %v", n, err)
	}
	// Attempt 1 fails (500); nothing is due until the backoff has passed.
	if n, err := d.DeliverDue(ctx); err != nil || n != 1 {
		t.Fatalf("round 1: %d, %v", n, err)
	}
	if n, _ := d.DeliverDue(ctx); n != 0 {
		t.Fatalf("retried before the backoff: %d", n)
	}
	clk.Advance(time.Second) // first backoff: 1 s
	if n, _ := d.DeliverDue(ctx); n != 1 {
		t.Fatalf("round 2 attempted %d", n)
	}
	clk.Advance(time.Second)
	if n, _ := d.DeliverDue(ctx); n != 0 {
		t.Fatalf("second backoff should be 2 s, retried after 1 s")
	}
	clk.Advance(time.Second)
	if n, _ := d.DeliverDue(ctx); n != 1 {
		t.Fatalf("round 3 attempted %d", n)
	}

	dels, err := d.Deliveries(ctx, DeliveryFilter{})
	if err != nil || len(dels) != 1 {
		t.Fatalf("Deliveries = %v, %v", dels, err)
	}
	got := dels[0]
	if got.Status != statusDelivered || got.Attempts != 3 || got.DeliveredAt == nil {
		t.Fatalf("delivery = %+v, want delivered after 3 attempts", got)
	}
	codes := []int{}
	for _, a := range got.AttemptLog {
		codes = append(codes, a.StatusCode)
	}
	if len(codes) != 3 || codes[0] != 500 || codes[1] != 500 || codes[2] != 200 {
		t.Fatalf("attempt log codes = %v, want [500 500 200]", codes)
	}
	if len(rcv.bad) != 0 {
		t.Fatalf("receiver rejected signatures: %v", rcv.bad)
	}
	if len(rcv.events) != 1 || rcv.events[0].Version != "v4" || rcv.events[0].ETag != `"v4"` {
		t.Fatalf("receiver got %+v", rcv.events)
	}
}

func TestGiveUpAfterWindow(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}
	d := newDispatcher(t, clk)
	d.opt.GiveUpAfter = 10 * time.Second
	rcv := newReceiver(t, clk.Now, 503, 503, 503, 503, 503, 503, 503, 503)
	sub, _ := d.Subscribe(ctx, NewSubscription{URL: rcv.srv.URL, AppName: "a", Environment: "e", Secret: "0123456789abcdef"}, "admin")
	rcv.secret = sub.Secret
	if _, err := d.Publish(ctx, Event{Event: EventRolledBack, Version: "v2"}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if _, err := d.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}
		clk.Advance(8 * time.Second)
	}
	dels, _ := d.Deliveries(ctx, DeliveryFilter{Status: statusFailed})
	if len(dels) != 1 || dels[0].Attempts < 2 || dels[0].NextAttemptAt != nil {
		t.Fatalf("failed deliveries = %+v, want one that gave up after retries", dels)
	}
	if int(rcv.hits.Load()) != dels[0].Attempts {
		t.Fatalf("receiver saw %d requests, log says %d attempts", rcv.hits.Load(), dels[0].Attempts)
	}
}

// Two replicas looking at the same due delivery send it once.
func TestClaimIsExclusive(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Now().UTC()}
	d1 := newDispatcher(t, clk)
	d2 := &Dispatcher{db: d1.db, http: d1.http, log: d1.log, opt: d1.opt, wake: make(chan struct{}, 1)}
	rcv := newReceiver(t, clk.Now)
	sub, _ := d1.Subscribe(ctx, NewSubscription{URL: rcv.srv.URL, AppName: "a", Environment: "e"}, "admin")
	rcv.secret = sub.Secret
	for i := 0; i < 5; i++ {
		if _, err := d1.Publish(ctx, Event{Event: EventActivated, Version: "v1"}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for _, d := range []*Dispatcher{d1, d2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := d.DeliverDue(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := rcv.hits.Load(); got != 5 {
		t.Fatalf("receiver got %d requests for 5 deliveries", got)
	}
}

func TestUnsubscribeAndEventFilter(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Now().UTC()}
	d := newDispatcher(t, clk)
	a, _ := d.Subscribe(ctx, NewSubscription{URL: "http://127.0.0.1:1/a", AppName: "a", Environment: "e", Events: []string{EventRolledBack}}, "admin")
	b, _ := d.Subscribe(ctx, NewSubscription{URL: "http://127.0.0.1:1/b", AppName: "b", Environment: "e"}, "admin")
	if n, _ := d.Publish(ctx, Event{Event: EventActivated, Version: "v1"}); n != 1 {
		t.Fatalf("activation queued for %d subscribers, want 1 (a only wants rollbacks)", n)
	}
	if err := d.Unsubscribe(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if n, _ := d.Publish(ctx, Event{Event: EventRolledBack, Version: "v1"}); n != 1 {
		t.Fatalf("rollback queued for %d subscribers, want 1 (b unsubscribed)", n)
	}
	if err := d.Unsubscribe(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := d.Unsubscribe(ctx, "00000000-0000-0000-0000-000000000000"); !apierr.Is(err, apierr.NotFound) {
		t.Fatalf("Unsubscribe unknown = %v, want not_found", err)
	}
	if err := d.Unsubscribe(ctx, "nope"); !apierr.Is(err, apierr.Invalid) {
		t.Fatalf("Unsubscribe bad id = %v, want invalid", err)
	}
}

// The worker delivers on its own once started, and Stop returns.
func TestWorker(t *testing.T) {
	ctx := context.Background()
	d := New(testenv.DB(t), &http.Client{Timeout: 5 * time.Second}, slog.New(slog.DiscardHandler), Options{Poll: 20 * time.Millisecond})
	rcv := newReceiver(t, time.Now)
	sub, _ := d.Subscribe(ctx, NewSubscription{URL: rcv.srv.URL, AppName: "a", Environment: "e"}, "admin")
	rcv.secret = sub.Secret
	d.Start(ctx)
	if _, err := d.Publish(ctx, Event{Event: EventActivated, Version: "v9"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for rcv.hits.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := d.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if rcv.hits.Load() != 1 {
		t.Fatalf("worker delivered %d times, want 1", rcv.hits.Load())
	}
}

func TestVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"event":"patterns.activated","version":"v3"}`)
	sig := Sign("secret-secret-16", now, body)
	ts := "1800000000"
	tests := []struct {
		name    string
		secret  string
		sig, ts string
		body    []byte
		at      time.Time
		ok      bool
	}{
		{"valid", "secret-secret-16", sig, ts, body, now, true},
		{"tampered body", "secret-secret-16", sig, ts, []byte(`{"event":"patterns.activated","version":"v4"}`), now, false},
		{"wrong secret", "other-secret-16!", sig, ts, body, now, false},
		{"stale", "secret-secret-16", sig, ts, body, now.Add(10 * time.Minute), false},
		{"bad timestamp", "secret-secret-16", sig, "soon", body, now, false},
		{"no prefix", "secret-secret-16", strings.TrimPrefix(sig, "sha256="), ts, body, now, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.secret, tt.sig, tt.ts, tt.body, tt.at, 5*time.Minute)
			if (err == nil) != tt.ok {
				t.Fatalf("Verify = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

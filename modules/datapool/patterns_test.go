package datapool

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/ocrpool/ocrpool/config"
	"github.com/ocrpool/ocrpool/modules/datapool/webhook"
	"github.com/ocrpool/ocrpool/modules/patternset"
	"github.com/ocrpool/ocrpool/modules/platform/apierr"
	"github.com/ocrpool/ocrpool/modules/platform/cache"
	"github.com/ocrpool/ocrpool/modules/platform/server"
	"github.com/ocrpool/ocrpool/modules/platform/testenv"
)

// receipt is a synthetic correction: a receipt of merchant whose OCR text
// carries phrase, which OCR read as original and the user corrected.
func receipt(i int, merchant, original, phrase, category string) Correction {
	c := sample()
	c.SourceCorrectionID = uuid.NewString()
	c.OCRText = fmt.Sprintf("%s\nRECEIPT NO %d-%d\n%s\nTOTAL RM %d.%02d\nTHANK YOU %d", strings.ToUpper(original), i, i*7, phrase, 10+i%5, i%100, i)
	c.OriginalInference = Fields{Merchant: Value(original), Amount: Value(fmt.Sprintf("%d.%02d", 10+i%5, i%100)), Date: "12/03/2024"}
	c.CorrectedFields = Fields{Merchant: Value(merchant), Amount: Value(fmt.Sprintf("%d.%02d", 10+i%5, i%100)), Date: "12/03/2024", Category: Value(category)}
	return c
}

func ingestAll(t *testing.T, svc *Service, cs []Correction) {
	t.Helper()
	res, err := svc.IngestBatch(context.Background(), cs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Error != nil {
			t.Fatalf("ingest item %d: %v", r.Index, r.Error)
		}
	}
}

// uberPool: Uber receipts always say "TRIP WITH" and "YOUR RIDE"; users
// corrected them to Uber. Starbucks receipts are the contrast.
func uberPool(n int) []Correction {
	var cs []Correction
	for i := 0; i < n; i++ {
		cs = append(cs, receipt(i, "Uber", "UBER B V", "YOUR RIDE\nTRIP WITH DRIVER", "transport"))
		cs = append(cs, receipt(1000+i, "Starbucks", "STARBUCKS COFFEE", "GRANDE LATTE", "meals"))
	}
	return cs
}

// shellPool: Shell receipts, a merchant uberPool does not have.
func shellPool(n int) []Correction {
	var cs []Correction
	for i := 0; i < n; i++ {
		cs = append(cs, receipt(3000+i, "Shell", "SHELL STATION", "UNLEADED 95\nPUMP 4", "fuel"))
	}
	return cs
}

// testClock is a clock a test moves by hand, safe for concurrent use.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock { return &testClock{now: fixedNow()} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// withV1 is a test environment whose pool is uberPool(n) and whose first
// refresh made v1 active.
func withV1(t *testing.T, n int, opts ...envOption) *testEnv {
	t.Helper()
	env := newTestEnv(t, opts...)
	ingestAll(t, env.svc, uberPool(n))
	if res, err := env.svc.RefreshPatterns(context.Background(), "test"); err != nil || res.Version != "v1" || !res.Activated {
		t.Fatalf("first refresh = %+v, %v; want v1 active", res, err)
	}
	return env
}

func matchMerchant(t *testing.T, svc *Service, text string) patternset.Hit {
	t.Helper()
	ps, err := svc.ActivePatternSet(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m, err := patternset.Compile(ps.Set())
	if err != nil {
		t.Fatal(err)
	}
	return patternset.Best(m.Match(text))[patternset.FieldMerchant]
}

func TestRefreshLearnsRecurringCorrections(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t, withClock(fixedNow))
	ingestAll(t, env.svc, uberPool(10))

	res, err := env.svc.RefreshPatterns(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || !res.Activated || res.Version != "v1" {
		t.Fatalf("first refresh = %+v, want v1 created and activated", res)
	}
	hit := matchMerchant(t, env.svc, "Thanks for riding\nTRIP WITH ALEX\nTotal 9.80")
	if hit.Value != "Uber" {
		t.Fatalf("a new Uber receipt matched %+v, want Uber", hit)
	}
	if hit.Confidence < 0.6 || hit.Confidence > 1 {
		t.Fatalf("confidence %.3f, want a precision-like value", hit.Confidence)
	}

	// The same phrase on other merchants' receipts lowers its confidence.
	env2 := newTestEnv(t, withClock(fixedNow))
	cs := uberPool(10)
	for i := 0; i < 5; i++ {
		cs = append(cs, receipt(2000+i, "Grab", "GRAB HOLDINGS", "TRIP WITH DRIVER\nGRABCAR", "transport"))
	}
	ingestAll(t, env2.svc, cs)
	if _, err := env2.svc.RefreshPatterns(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	shared := matchMerchant(t, env2.svc, "Thanks for riding\nTRIP WITH ALEX\nTotal 9.80")
	if shared.Value == "Uber" && shared.Confidence >= hit.Confidence {
		t.Fatalf("with Grab receipts saying TRIP WITH too, Uber's confidence is %.3f, want below %.3f", shared.Confidence, hit.Confidence)
	}
	// Uber's own phrase still identifies it.
	if own := matchMerchant(t, env2.svc, "YOUR RIDE\nTotal 9.80"); own.Value != "Uber" {
		t.Fatalf("YOUR RIDE matched %+v, want Uber", own)
	}
}

func TestRefreshTwiceMakesOneVersion(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t, withClock(fixedNow))
	ingestAll(t, env.svc, uberPool(10))
	first, err := env.svc.RefreshPatterns(ctx, "test")
	if err != nil || !first.Created {
		t.Fatalf("first refresh = %+v, %v", first, err)
	}
	second, err := env.svc.RefreshPatterns(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	if second.Created || second.Version != first.Version {
		t.Fatalf("second refresh with no new corrections = %+v, want no new version", second)
	}
	if n := env.count(t, "pattern_cache_versions"); n != 1 {
		t.Fatalf("%d versions stored, want 1", n)
	}
	refreshes := env.svc.metrics.refreshes
	for result, want := range map[string]float64{"activated": 1, "unchanged": 1, "rejected": 0, "empty": 0, "error": 0} {
		if got := metricValue(t, refreshes.WithLabelValues(result)); got != want {
			t.Errorf("ocrpool_patterns_refreshes_total{result=%q} = %v, want %v", result, got, want)
		}
	}
	if ts := metricValue(t, env.svc.metrics.lastRefresh); ts < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("last refresh timestamp %v, want about now", ts)
	}
}

func TestRefreshWithNothingToLearn(t *testing.T) {
	env := newTestEnv(t, withClock(fixedNow))
	ingestAll(t, env.svc, uberPool(1))
	res, err := env.svc.RefreshPatterns(context.Background(), "test")
	if err != nil || res.Created || res.Reason == "" {
		t.Fatalf("refresh of a tiny pool = %+v, %v; want no version and a reason", res, err)
	}
	if _, err := env.svc.ActivePatternSet(context.Background()); !apierr.Is(err, apierr.NotFound) {
		t.Fatalf("ActivePatternSet with none = %v, want not_found", err)
	}
	if got := metricValue(t, env.svc.metrics.refreshes.WithLabelValues("empty")); got != 1 {
		t.Errorf("empty refreshes counted %v, want 1", got)
	}
}

// A candidate that does worse than the active version on the held-out
// corrections is stored inactive, with the reason; an admin can still
// activate it.
func TestValidationGate(t *testing.T) {
	ctx := context.Background()
	env := withV1(t, 20, withClock(fixedNow))
	// Demand more recurrences than the pool has: the candidate learns
	// almost nothing and recalls less than v1.
	env.svc.cfg.MinFrequency = 1000
	res, err := env.svc.RefreshPatterns(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || res.Activated || res.Validation == nil || res.Validation.Accepted || len(res.Validation.Reasons) == 0 {
		t.Fatalf("worse candidate = %+v, want stored inactive with reasons", res)
	}
	if res.Validation.ActiveVersion != "v1" || res.Validation.HoldoutSize == 0 {
		t.Fatalf("validation = %+v, want it scored against v1 on a held-out slice", res.Validation)
	}
	vs, err := env.svc.PatternVersions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 || vs[0].Version != "v2" || vs[0].Active || !strings.Contains(vs[0].Notes, "not activated") || !vs[1].Active {
		t.Fatalf("versions = %+v", vs)
	}
	if _, err := env.svc.ActivatePatterns(ctx, "v2", "admin", "accept anyway"); err != nil {
		t.Fatalf("admin activation of a rejected version: %v", err)
	}
	if ps, _ := env.svc.ActivePatternSet(ctx); ps.Version != "v2" {
		t.Fatalf("active = %s, want v2", ps.Version)
	}
}

func TestRollbackAndHistory(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	env := newTestEnv(t, withClock(clock.Now))

	ingestAll(t, env.svc, uberPool(10))
	v1, err := env.svc.RefreshPatterns(ctx, "test")
	if err != nil || v1.Version != "v1" {
		t.Fatalf("v1: %+v %v", v1, err)
	}
	t1 := clock.Now()
	clock.Advance(time.Hour)
	ingestAll(t, env.svc, shellPool(10))
	v2, err := env.svc.RefreshPatterns(ctx, "test")
	if err != nil || v2.Version != "v2" || !v2.Activated {
		t.Fatalf("v2: %+v %v", v2, err)
	}
	t2 := clock.Now()
	clock.Advance(time.Hour)

	tests := []struct {
		name    string
		version string
		reason  string
		code    apierr.Code
	}{
		{"no reason", "v1", " ", apierr.Invalid},
		{"unknown version", "v9", "bad", apierr.NotFound},
		{"malformed version", "latest", "bad", apierr.Invalid},
		{"already active", "v2", "bad", apierr.Conflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := env.svc.RollbackPatterns(ctx, tt.version, "admin", tt.reason)
			if !apierr.Is(err, tt.code) {
				t.Fatalf("RollbackPatterns(%s) = %v, want %s", tt.version, err, tt.code)
			}
		})
	}
	info, err := env.svc.RollbackPatterns(ctx, "v1", "admin", "v2 misreads fuel receipts")
	if err != nil || !info.Active || info.Version != "v1" {
		t.Fatalf("rollback = %+v, %v", info, err)
	}
	t3 := clock.Now()
	if ps, _ := env.svc.ActivePatternSet(ctx); ps.Version != "v1" {
		t.Fatalf("active after rollback = %s", ps.Version)
	}
	vs, _ := env.svc.PatternVersions(ctx)
	if vs[0].Version != "v2" || vs[0].RollbackReason != "v2 misreads fuel receipts" || vs[0].ReplacedBy != "v1" || vs[0].DeactivatedAt == nil {
		t.Fatalf("v2 after rollback = %+v", vs[0])
	}

	for _, tt := range []struct {
		at   time.Time
		want string
	}{
		{t1, "v1"}, {t1.Add(30 * time.Minute), "v1"}, {t2, "v2"}, {t2.Add(30 * time.Minute), "v2"}, {t3, "v1"}, {t3.Add(time.Hour), "v1"},
	} {
		a, err := env.svc.PatternsLiveAt(ctx, tt.at)
		if err != nil || a.Version != tt.want {
			t.Errorf("live at %s = %+v, %v; want %s", tt.at.Format(time.RFC3339), a, err, tt.want)
		}
	}
	if _, err := env.svc.PatternsLiveAt(ctx, t1.Add(-time.Hour)); !apierr.Is(err, apierr.NotFound) {
		t.Errorf("live before the first activation = %v, want not_found", err)
	}
	hist, _ := env.svc.PatternActivations(ctx, 10)
	if len(hist) != 3 || hist[0].Action != actionRollback || hist[0].Reason == "" {
		t.Fatalf("history = %+v", hist)
	}
}

func TestPatternRoutes(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t, withClock(fixedNow))
	if w := env.do(t, http.MethodGet, "/patterns/global", nil); w.Code != http.StatusNotFound {
		t.Fatalf("global with none = %d", w.Code)
	}
	ingestAll(t, env.svc, uberPool(10))
	if w := env.do(t, http.MethodPost, "/patterns/refresh", nil); w.Code != http.StatusOK {
		t.Fatalf("refresh = %d %s", w.Code, w.Body)
	}
	w := env.do(t, http.MethodGet, "/patterns/global", nil)
	if w.Code != http.StatusOK || w.Header().Get("ETag") != `"v1"` {
		t.Fatalf("global = %d etag %q", w.Code, w.Header().Get("ETag"))
	}
	var ps PatternSet
	if err := json.Unmarshal(w.Body.Bytes(), &ps); err != nil || ps.Version != "v1" || len(ps.Patterns["merchant"]) == 0 {
		t.Fatalf("global body: %v %+v", err, ps.PatternVersion)
	}
	p := ps.Patterns["merchant"][0]
	if p.Pattern == "" || p.CorrectedValue == "" || p.Frequency == 0 || p.LastSeen.IsZero() {
		t.Fatalf("pattern lacks the document's fields: %+v", p)
	}

	req := httptest.NewRequest(http.MethodGet, "/patterns/global", nil)
	req.Header.Set("If-None-Match", `"v1"`)
	rec := httptest.NewRecorder()
	env.engine.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 || rec.Header().Get("Vary") != "Accept-Encoding" {
		t.Fatalf("If-None-Match current = %d with %d bytes, Vary %q; want 304, none, Accept-Encoding", rec.Code, rec.Body.Len(), rec.Header().Get("Vary"))
	}

	// A client that accepts gzip gets the same bytes compressed; one that
	// refuses it, plain JSON.
	for _, enc := range []struct {
		header string
		gzip   bool
	}{{"gzip, deflate, br", true}, {"br;q=1.0, gzip;q=0.5", true}, {"*", true}, {"gzip;q=0", false}, {"identity", false}, {"*;q=0, gzip;q=0.1", true}} {
		req := httptest.NewRequest(http.MethodGet, "/patterns/global", nil)
		req.Header.Set("Accept-Encoding", enc.header)
		rec := httptest.NewRecorder()
		env.engine.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || rec.Header().Get("Vary") != "Accept-Encoding" || rec.Header().Get("ETag") != `"v1"` {
			t.Fatalf("Accept-Encoding %q: %d, Vary %q, ETag %q", enc.header, rec.Code, rec.Header().Get("Vary"), rec.Header().Get("ETag"))
		}
		got := rec.Body.Bytes()
		if isGzip := rec.Header().Get("Content-Encoding") == "gzip"; isGzip != enc.gzip {
			t.Fatalf("Accept-Encoding %q: Content-Encoding %q", enc.header, rec.Header().Get("Content-Encoding"))
		} else if isGzip {
			zr, err := gzip.NewReader(rec.Body)
			if err != nil {
				t.Fatal(err)
			}
			if got, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(got, w.Body.Bytes()) {
			t.Fatalf("Accept-Encoding %q: the body differs from the plain one", enc.header)
		}
	}

	w = env.do(t, http.MethodGet, "/patterns/versions", nil)
	if w.Code != http.StatusOK || strings.Contains(w.Body.String(), `"patterns"`) || !strings.Contains(w.Body.String(), `"version":"v1"`) {
		t.Fatalf("versions = %d %s", w.Code, w.Body)
	}
	if w := env.do(t, http.MethodGet, "/patterns/version/v1", nil); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"patterns"`) {
		t.Fatalf("version/v1 = %d", w.Code)
	}

	// A second version to diff and roll back to.
	var more []Correction
	for i := 0; i < 10; i++ {
		more = append(more, receipt(4000+i, "Shell", "SHELL STATION", "UNLEADED 95\nPUMP 4", "fuel"))
	}
	ingestAll(t, env.svc, more)
	if w := env.do(t, http.MethodPost, "/patterns/refresh", nil); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"version":"v2"`) {
		t.Fatalf("refresh 2 = %d %s", w.Code, w.Body)
	}
	w = env.do(t, http.MethodGet, "/patterns/diff?from=v1&to=v2", nil)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "Shell") {
		t.Fatalf("diff = %d %s", w.Code, w.Body)
	}
	if w := env.do(t, http.MethodPost, "/patterns/rollback/v1", []byte(`{"reason":"checking"}`)); w.Code != http.StatusOK {
		t.Fatalf("rollback = %d %s", w.Code, w.Body)
	}
	if w := env.do(t, http.MethodGet, "/patterns/history?at="+fixedNow().Format(time.RFC3339), nil); w.Code != http.StatusOK {
		t.Fatalf("history at = %d %s", w.Code, w.Body)
	}
	_ = ctx

	bad := []struct {
		method, path, body string
		status             int
		field              string
	}{
		{"GET", "/patterns/version/latest", "", 400, "version"},
		{"GET", "/patterns/version/v99", "", 404, ""},
		{"GET", "/patterns/diff?from=v1", "", 400, "to"},
		{"GET", "/patterns/diff?from=v1&to=v77", "", 404, "to"},
		{"GET", "/patterns/history?at=yesterday", "", 400, "at"},
		{"GET", "/patterns/history?limit=0", "", 400, "limit"},
		{"POST", "/patterns/rollback/v2", "{", 400, ""},
		{"POST", "/patterns/rollback/v2", `{"reason":3}`, 400, "reason"},
		{"POST", "/patterns/rollback/v2", `{"why":"x"}`, 400, "why"},
		{"POST", "/patterns/rollback/v2", `{}`, 400, "reason"},
		{"POST", "/patterns/activate/v1", `{}`, 409, ""},
		{"POST", "/webhooks", `{"url":"not a url","app_name":"a","environment":"e"}`, 400, "url"},
		{"DELETE", "/webhooks/nope", "", 400, "id"},
		{"GET", "/webhooks/deliveries?status=odd", "", 400, "status"},
		{"GET", "/webhooks/deliveries?subscription_id=x", "", 400, "subscription_id"},
	}
	before := env.count(t, "pattern_activations")
	for _, tt := range bad {
		t.Run(tt.method+" "+tt.path+" "+tt.body, func(t *testing.T) {
			var body []byte
			if tt.body != "" {
				body = []byte(tt.body)
			}
			w := env.do(t, tt.method, tt.path, body)
			var e apierr.Envelope
			if w.Code != tt.status || json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Error == nil || e.Error.Field != tt.field {
				t.Fatalf("= %d %s, want %d naming %q", w.Code, w.Body, tt.status, tt.field)
			}
		})
	}
	if after := env.count(t, "pattern_activations"); after != before {
		t.Fatalf("bad requests changed the activation history: %d -> %d", before, after)
	}
}

// Activate → rollback → activate, seen by a second process through Redis
// within about a second, and by a webhook receiver that verifies every
// signature.
func TestTwoProcessesAndWebhooks(t *testing.T) {
	ctx := context.Background()
	a := newTestEnv(t, withClock(fixedNow), withWebhookOptions(webhook.Options{Poll: 20 * time.Millisecond, BaseBackoff: 20 * time.Millisecond}))
	b := a.sibling(t)
	for _, e := range []*testEnv{a, b} {
		if err := e.mod.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.mod.Stop(context.Background()) })
	}

	var (
		mu     sync.Mutex
		events []webhook.Event
		fails  = 2 // the receiver answers v1's activation with 500 twice, then accepts
		secret = "test-secret-0123456789"
	)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify(secret, r.Header.Get(webhook.SignatureHeader), r.Header.Get(webhook.TimestampHeader), body, time.Now(), time.Hour*24*365*10); err != nil {
			t.Errorf("receiver: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		var ev webhook.Event
		_ = json.Unmarshal(body, &ev)
		if ev.Event == webhook.EventActivated && ev.Version == "v1" && fails > 0 {
			fails--
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		events = append(events, ev)
	}))
	defer rcv.Close()
	if _, err := a.svc.webhooks.Subscribe(ctx, webhook.NewSubscription{URL: rcv.URL, AppName: "expenseapp", Environment: "sandbox", Secret: secret}, "test"); err != nil {
		t.Fatal(err)
	}

	waitFor := func(e *testEnv, version string) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) {
			if cur := e.svc.serving.cur.Load(); cur != nil && cur.Version == version {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("process still serves %v, want %s", e.svc.serving.cur.Load(), version)
	}

	ingestAll(t, a.svc, uberPool(10))
	if _, err := a.svc.RefreshPatterns(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	waitFor(b, "v1")
	var more []Correction
	for i := 0; i < 10; i++ {
		more = append(more, receipt(5000+i, "Shell", "SHELL STATION", "UNLEADED 95\nPUMP 4", "fuel"))
	}
	ingestAll(t, a.svc, more)
	if res, err := a.svc.RefreshPatterns(ctx, "test"); err != nil || !res.Activated {
		t.Fatalf("v2: %+v %v", res, err)
	}
	waitFor(b, "v2")
	if _, err := b.svc.RollbackPatterns(ctx, "v1", "admin", "test rollback"); err != nil {
		t.Fatal(err)
	}
	waitFor(a, "v1")
	if _, err := a.svc.ActivatePatterns(ctx, "v2", "admin", "again"); err != nil {
		t.Fatal(err)
	}
	waitFor(b, "v2")

	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(events)
		mu.Unlock()
		if n >= 4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	// Deliveries are retried independently, so a retried event can arrive
	// after later ones: receivers order by activated_at (documented).
	var got []string
	for _, e := range events {
		got = append(got, e.Event+":"+e.Version)
	}
	slices.Sort(got)
	want := []string{"patterns.activated:v1", "patterns.activated:v2", "patterns.activated:v2", "patterns.rolled_back:v1"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("receiver got %v, want %v (after two 500s the first event is retried)", got, want)
	}
	// The receiver has answered; the sender records the attempt just after.
	var first webhook.Delivery
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		dels, _ := a.svc.webhooks.Deliveries(ctx, webhook.DeliveryFilter{})
		if first = dels[len(dels)-1]; first.Status == "delivered" {
			break
		}
	}
	if first.Attempts != 3 || first.Status != "delivered" {
		t.Fatalf("first delivery = %+v, want delivered on the third attempt", first)
	}
}

// With Redis gone the process keeps serving its last copy and follows the
// database instead.
func TestServingWithoutRedis(t *testing.T) {
	ctx := context.Background()
	b := newTestEnv(t, withClock(fixedNow))
	a := b.sibling(t, func(d *Deps) { d.PatternPoll = 50 * time.Millisecond })
	if err := a.mod.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer a.mod.Stop(ctx)
	ingestAll(t, a.svc, uberPool(10))
	if _, err := a.svc.RefreshPatterns(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	reg := a.deps.Metrics.(prometheus.Gatherer)
	if v, d := testenv.Gauge(t, reg, "ocrpool_patterns_served_version"), testenv.Gauge(t, reg, "ocrpool_patterns_serving_degraded"); v != 1 || d != 0 {
		t.Fatalf("with Redis: served version metric %v, degraded %v; want 1, 0", v, d)
	}
	// Redis goes away for process a.
	if err := a.cache.Client.Close(); err != nil {
		t.Fatal(err)
	}
	if w := a.do(t, http.MethodGet, "/patterns/global", nil); w.Code != http.StatusOK || w.Header().Get("ETag") != `"v1"` {
		t.Fatalf("without Redis: %d %q, want the last copy", w.Code, w.Header().Get("ETag"))
	}
	// Another process activates a new version; a sees it from the database.
	var more []Correction
	for i := 0; i < 10; i++ {
		more = append(more, receipt(6000+i, "Shell", "SHELL STATION", "UNLEADED 95\nPUMP 4", "fuel"))
	}
	ingestAll(t, b.svc, more)
	if res, err := b.svc.RefreshPatterns(ctx, "test"); err != nil || !res.Activated {
		t.Fatalf("refresh in b: %+v %v", res, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for a.svc.serving.cur.Load().Version != "v2" {
		if time.Now().After(deadline) {
			t.Fatal("process a never picked v2 up from the database")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(a.logs.String(), "Redis unavailable") {
		t.Error("losing Redis was not logged")
	}
	if v, d := testenv.Gauge(t, reg, "ocrpool_patterns_served_version"), testenv.Gauge(t, reg, "ocrpool_patterns_serving_degraded"); v != 2 || d != 1 {
		t.Errorf("without Redis: served version metric %v, degraded %v; want 2, 1", v, d)
	}
}

func withWebhookOptions(o webhook.Options) envOption {
	return func(_ *config.DatapoolConfig, d *Deps, _ *config.ServerConfig) { d.Webhooks = o }
}

// sibling is a second process: its own Service, module and Redis client on
// the same database and Redis.
func (e *testEnv) sibling(t *testing.T, opts ...func(*Deps)) *testEnv {
	t.Helper()
	ropts := *e.cache.Client.Options()
	rdb := redis.NewClient(&ropts)
	t.Cleanup(func() { _ = rdb.Close() })
	c := &cache.Cache{Client: rdb, Prefix: e.cache.Prefix}
	logs := &testenv.Buffer{}
	deps := e.deps
	deps.Cache = c
	deps.Log = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	deps.Metrics = prometheus.NewRegistry()
	for _, o := range opts {
		o(&deps)
	}
	m, err := New(e.cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(config.Default().Server, server.Deps{Log: deps.Log, Registry: prometheus.NewRegistry(),
		Guard: func(server.Route) []gin.HandlerFunc { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Mount(m.Routes()...); err != nil {
		t.Fatal(err)
	}
	return &testEnv{svc: m.Service(), mod: m, db: e.db, cache: c, logs: logs, srv: srv, engine: srv.Handler(), cfg: e.cfg, deps: deps}
}

// metricValue reads a counter's or a gauge's value.
func metricValue(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var out dto.Metric
	if err := m.Write(&out); err != nil {
		t.Fatal(err)
	}
	if c := out.GetCounter(); c != nil {
		return c.GetValue()
	}
	return out.GetGauge().GetValue()
}

// The active set is stored in Redis as "version\nbody"; the JSON form of
// earlier releases still reads, and anything else is refused (the reader
// then loads the set from the database).
func TestServedSetEncoding(t *testing.T) {
	body := []byte(`{"version":"v3","patterns":{"merchant":[]}}`)
	legacy, err := json.Marshal(map[string]any{"version": "v3", "body": body})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		raw  []byte
		ok   bool
	}{
		{"current", (&servedSet{Version: "v3", Body: body}).encode(), true},
		{"legacy JSON", legacy, true},
		{"empty", nil, false},
		{"no newline", []byte("v3"), false},
		{"bad version", append([]byte("x3\n"), body...), false},
		{"truncated body", append([]byte("v3\n"), body[:10]...), false},
		{"legacy without version", []byte(`{"body":"e30="}`), false},
		{"legacy with a broken body", []byte(`{"version":"v3","body":"e30"}`), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := decodeServedSet(tt.raw)
			if ok != tt.ok {
				t.Fatalf("decodeServedSet ok = %v, want %v", ok, tt.ok)
			}
			if ok && (got.Version != "v3" || !bytes.Equal(got.Body, body)) {
				t.Errorf("decoded %q %q, want v3 %q", got.Version, got.Body, body)
			}
		})
	}
}

// A version's served body carries its metadata and exactly the stored
// patterns, whichever way it was built.
func TestServedBodyFromStoredPatterns(t *testing.T) {
	row := patternVersionRow{VersionName: "v7", PatternCount: 1, PatternData: `{"version":"v7","patterns":{"merchant":[{"pattern":"(?i)trip with","corrected_value":"Uber","confidence":0.9,"frequency":5,"last_seen":"2024-03-01T00:00:00Z"}]},"stats":{}}`}
	for name, patterns := range map[string]json.RawMessage{
		"from the row":     storedPatterns(row.PatternData),
		"given":            json.RawMessage(`{"merchant":[{"pattern":"(?i)trip with","corrected_value":"Uber","confidence":0.9,"frequency":5,"last_seen":"2024-03-01T00:00:00Z"}]}`),
		"missing: no sets": nil,
	} {
		t.Run(name, func(t *testing.T) {
			ps, err := newServedSet(row, patterns).decode()
			if err != nil {
				t.Fatal(err)
			}
			if ps.Version != "v7" || ps.ETag != `"v7"` {
				t.Errorf("metadata = %q %q", ps.Version, ps.ETag)
			}
			want := 1
			if patterns == nil {
				want = 0
			}
			if got := len(ps.Patterns[patternset.FieldMerchant]); got != want {
				t.Fatalf("merchant patterns = %d, want %d", got, want)
			}
			if want == 1 && ps.Patterns[patternset.FieldMerchant][0].CorrectedValue != "Uber" {
				t.Errorf("pattern = %+v", ps.Patterns[patternset.FieldMerchant][0])
			}
		})
	}
}

// Swapping in the same bytes again (a reload of the version already
// served) keeps the copy and its compressed form; other bytes replace it.
func TestServedSetSwapKeepsTheSameBytes(t *testing.T) {
	var swaps []string
	p := &patternServer{log: slog.New(slog.DiscardHandler), swaps: func(v string) { swaps = append(swaps, v) }}
	first := &servedSet{Version: "v1", Body: []byte(`{"version":"v1","patterns":{}}`)}
	p.swap(first)
	gz := first.gzipped()
	p.swap(&servedSet{Version: "v1", Body: slices.Clone(first.Body)})
	if p.cur.Load() != first || len(gz) == 0 {
		t.Fatal("a reload of the same bytes replaced the served copy")
	}
	restamped := &servedSet{Version: "v1", Body: []byte(`{"version":"v1","activated_at":"2024-03-12T11:00:00Z","patterns":{}}`)}
	p.swap(restamped)
	if p.cur.Load() != restamped {
		t.Fatal("new bytes of the same version were not served")
	}
	p.swap(&servedSet{Version: "v2", Body: []byte(`{"version":"v2","patterns":{}}`)})
	if got := strings.Join(swaps, ","); got != "v1,v2" {
		t.Errorf("swaps observed %q, want v1,v2", got)
	}
}

// A refresh validates against the version active now, not the one this
// process last compiled: after a rollback (here or by another replica) the
// compiled copy is replaced, then reused while that version stays active.
func TestActiveMatcherFollowsActivations(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	env := withV1(t, 10, withClock(clock.Now))
	clock.Advance(time.Hour)
	ingestAll(t, env.svc, shellPool(10))
	res, err := env.svc.RefreshPatterns(ctx, "test")
	if err != nil || res.Version != "v2" || !res.Activated || res.Validation.ActiveVersion != "v1" {
		t.Fatalf("v2: %+v %v", res, err)
	}
	shell := "SHELL STATION\nUNLEADED 95\nPUMP 4"
	m2, name, err := env.svc.activeMatcher(ctx)
	if err != nil || name != "v2" || patternset.Best(m2.Match(shell))[patternset.FieldMerchant].Value != "Shell" {
		t.Fatalf("active matcher after the refresh = %s, %v; want v2, which knows Shell", name, err)
	}

	if _, err := env.svc.RollbackPatterns(ctx, "v1", "test", "Shell is wrong"); err != nil {
		t.Fatal(err)
	}
	m1, name, err := env.svc.activeMatcher(ctx)
	if err != nil || name != "v1" || m1 == m2 {
		t.Fatalf("active matcher after the rollback = %s (same as v2's: %v), %v; want v1", name, m1 == m2, err)
	}
	if got := patternset.Best(m1.Match(shell))[patternset.FieldMerchant].Value; got == "Shell" {
		t.Errorf("v1's matcher maps a Shell receipt to %q: it is v2's", got)
	}
	if again, _, err := env.svc.activeMatcher(ctx); err != nil || again != m1 {
		t.Errorf("a second lookup compiled v1 again (%v)", err)
	}
}

// A version's body says the same, in compact JSON, whether a refresh built
// it from the patterns it encoded or a process built it from the database,
// which prints JSON its own way (PostgreSQL spaces it and orders keys).
func TestServedBodyFromDatabaseMatchesRefresh(t *testing.T) {
	ctx := context.Background()
	env := withV1(t, 10, withClock(fixedNow))
	served := env.svc.serving.current(ctx)
	row, err := env.svc.patterns.version(ctx, "v1")
	if err != nil {
		t.Fatal(err)
	}
	fromColumn, err := env.svc.patterns.patternsJSON(ctx, row.VersionID)
	if err != nil {
		t.Fatal(err)
	}
	decode := func(b []byte) any {
		t.Helper()
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	want := decode(served.Body)
	for name, patterns := range map[string]json.RawMessage{"patterns column": fromColumn, "stored row": storedPatterns(row.PatternData)} {
		body := newServedSet(row, patterns).Body
		if !reflect.DeepEqual(decode(body), want) {
			t.Errorf("body from the %s says something else than the refresh's:\n got %.300s\nwant %.300s", name, body, served.Body)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, body); err != nil || !bytes.Equal(compact.Bytes(), body) {
			t.Errorf("body from the %s is not compact JSON (%v)", name, err)
		}
	}
}

func TestWithRawField(t *testing.T) {
	tests := []struct {
		obj, raw, want string
	}{
		{`{}`, `{}`, `{"patterns":{}}`},
		{`{}`, `{"merchant":[]}`, `{"patterns":{"merchant":[]}}`},
		{`{"version":"v1"}`, `{"a":[1,2]}`, `{"version":"v1","patterns":{"a":[1,2]}}`},
	}
	for _, tc := range tests {
		got := withRawField([]byte(tc.obj), "patterns", json.RawMessage(tc.raw))
		if string(got) != tc.want || !json.Valid(got) {
			t.Errorf("withRawField(%s, %s) = %s, want %s", tc.obj, tc.raw, got, tc.want)
		}
	}
}

// A refresh that cannot validate its candidate (here the active version's
// stored patterns are unreadable) fails and leaves no version behind: the
// candidate, stored while it was being validated, is removed.
func TestRefreshThatCannotValidateStoresNothing(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	env := withV1(t, 10, withClock(clock.Now))
	if err := env.db.Gorm.Exec(`UPDATE pattern_cache_versions SET pattern_data = '{"patterns":{"merchant":"not a list"}}' WHERE version_name = 'v1'`).Error; err != nil {
		t.Fatal(err)
	}
	env.svc.compiled.put(0, nil) // as a process that has not compiled v1
	clock.Advance(time.Hour)
	ingestAll(t, env.svc, shellPool(10))
	if res, err := env.svc.RefreshPatterns(ctx, "test"); err == nil {
		t.Fatalf("refresh validated against an unreadable version: %+v", res)
	}
	versions, err := env.svc.PatternVersions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) != 1 || versions[0].Version != "v1" || !versions[0].Active {
		t.Errorf("versions after the failed refresh = %+v, want v1 alone, active", versions)
	}
}

// A version that passed validation but whose activation failed (the
// refresh stopped between the two) is activated by the next refresh that
// learns the same patterns, as long as the version it was validated
// against is still the active one.
func TestRefreshFinishesAFailedActivation(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	env := withV1(t, 10, withClock(clock.Now))
	ingestAll(t, env.svc, shellPool(10))
	if res, err := env.svc.RefreshPatterns(ctx, "test"); err != nil || res.Version != "v2" || !res.Activated {
		t.Fatalf("v2: %+v %v", res, err)
	}
	// As if v2's activation had failed: v1 still active, v2 never was.
	undo := func() {
		t.Helper()
		for _, q := range []string{
			`UPDATE pattern_cache_versions SET is_active = (version_name = 'v1'), deactivated_at = NULL, replaced_by_version = NULL`,
			`UPDATE pattern_cache_versions SET activated_at = NULL WHERE version_name = 'v2'`,
			`DELETE FROM pattern_activations WHERE version_name = 'v2'`,
			`UPDATE pattern_activations SET deactivated_at = NULL WHERE version_name = 'v1'`,
		} {
			if err := env.db.Gorm.Exec(q).Error; err != nil {
				t.Fatal(err)
			}
		}
	}
	undo()
	res, err := env.svc.RefreshPatterns(ctx, "test")
	if err != nil || res.Created || res.Version != "v2" || !res.Activated {
		t.Fatalf("refresh after the failed activation = %+v, %v; want v2 activated, no new version", res, err)
	}
	if live, err := env.svc.PatternsLiveAt(ctx, clock.Now()); err != nil || live.Version != "v2" {
		t.Errorf("live version = %+v, %v; want v2", live, err)
	}

	// Rolled back since, it stays inactive.
	if _, err := env.svc.RollbackPatterns(ctx, "v1", "test", "bad"); err != nil {
		t.Fatal(err)
	}
	res, err = env.svc.RefreshPatterns(ctx, "test")
	if err != nil || res.Created || res.Activated {
		t.Fatalf("refresh after a rollback = %+v, %v; want nothing done", res, err)
	}
}

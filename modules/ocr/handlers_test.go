package ocr

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/ocrpool/ocrpool/modules/ocr/extract"
	"github.com/ocrpool/ocrpool/modules/ocr/synth"
	"github.com/ocrpool/ocrpool/modules/platform/apierr"
	"github.com/ocrpool/ocrpool/modules/platform/cache"
	"github.com/ocrpool/ocrpool/modules/platform/testenv"
)

// pngBomb is a PNG whose header claims w×h pixels and holds none.
func pngBomb(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8] = 8
	chunk := append([]byte("IHDR"), ihdr...)
	_ = binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	b.Write(chunk)
	_ = binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

func TestProcessHandlerLimits(t *testing.T) {
	cfg := testConfig()
	cfg.MaxImageBytes = 200 << 10
	eng := &fakeEngine{text: receiptText}
	env := newTestEnv(t, cfg, eng, nil)
	_, img := renderReceipt(t, 1, synth.Options{FontSize: 12})
	okJPEG := jpegOf(t, img)
	big := bytes.Repeat([]byte{0xFF, 0xD8, 0xFF}, 100<<10) // 300 KiB
	tests := []struct {
		name   string
		body   func() (any, string)
		status int
		field  string
	}{
		{"ok", func() (any, string) { return form(t, "image", okJPEG, "app", "expenses", "routing_key", "user-1") }, 200, ""},
		{"image over max_image_bytes", func() (any, string) { return form(t, "image", big) }, 413, ""},
		{"body over the route limit", func() (any, string) {
			return form(t, "image", okJPEG, "app", strings.Repeat("a", 300<<10))
		}, 413, ""},
		{"bomb header 100000x100000", func() (any, string) { return form(t, "image", pngBomb(100000, 100000)) }, 413, ""},
		{"truncated jpeg", func() (any, string) { return form(t, "image", okJPEG[:len(okJPEG)/2]) }, 422, ""},
		{"text file renamed .png", func() (any, string) { return form(t, "image", []byte("TOTAL 9.50\n")) }, 415, ""},
		{"tiny image", func() (any, string) {
			return form(t, "image", pngOf(t, img.SubImage(img.Rect.Inset(img.Rect.Dx()/2-3))))
		}, 422, ""},
		{"empty image", func() (any, string) { return form(t, "image", []byte{}) }, 400, ""},
		{"no image field", func() (any, string) { return form(t, "app", "x") }, 400, "image"},
		{"image twice", func() (any, string) { return form(t, "image", okJPEG, "image", okJPEG) }, 400, "image"},
		{"unknown field", func() (any, string) { return form(t, "image", okJPEG, "user", "bob") }, 400, "user"},
		{"app too long", func() (any, string) { return form(t, "image", okJPEG, "app", strings.Repeat("a", 300)) }, 400, "app"},
		{"json instead of multipart", func() (any, string) { return strings.NewReader(`{"image":"..."}`), "application/json" }, 415, ""},
		{"no content type", func() (any, string) { return strings.NewReader("x"), "" }, 415, ""},
		{"broken multipart", func() (any, string) {
			return strings.NewReader("--xyz\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\nabc"), "multipart/form-data; boundary=xyz"
		}, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, ct := tt.body()
			r, ok := body.(interface{ Read([]byte) (int, error) })
			if !ok {
				t.Fatal("body is not a reader")
			}
			w, res, env := env.do(t, http.MethodPost, "/ocr/process", r, ct)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if tt.status == 200 {
				if res.Fields.Amount == nil || res.Fields.Amount.Value != "9.50" {
					t.Errorf("amount %+v, want 9.50", res.Fields.Amount)
				}
				return
			}
			if tt.field != "" && env.Error.Field != tt.field {
				t.Errorf("field %q, want %q (%s)", env.Error.Field, tt.field, env.Error.Message)
			}
		})
	}
	if got := counterValue(t, env.mod.svc.metrics.requests.WithLabelValues("process", "ok")); got != 1 {
		t.Errorf("ok requests counted %v, want 1", got)
	}
	if got := counterValue(t, env.mod.svc.metrics.requests.WithLabelValues("process", string(apierr.TooLarge))); got < 1 {
		t.Errorf("too_large requests counted %v", got)
	}
}

// The response has the documented shape: every field key present (null
// when not found), needs_review per field, versions and timings.
func TestProcessResponseShape(t *testing.T) {
	env := newTestEnv(t, testConfig(), &fakeEngine{text: receiptText}, nil)
	_, img := renderReceipt(t, 1, synth.Options{FontSize: 14})
	body, ct := form(t, "image", pngOf(t, img))
	w, _, _ := env.do(t, http.MethodPost, "/ocr/process", body, ct)
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(w.Body.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"text", "ocr_confidence", "fields", "versions", "timings_ms"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("response lacks %q", k)
		}
	}
	var fields map[string]*struct {
		Value       *string  `json:"value"`
		Confidence  *float64 `json:"confidence"`
		Source      *string  `json:"source"`
		NeedsReview *bool    `json:"needs_review"`
	}
	if err := json.Unmarshal(raw["fields"], &fields); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"merchant", "amount", "currency", "date", "category", "card_last_four"} {
		f, ok := fields[k]
		if !ok {
			t.Errorf("fields lacks %q", k)
			continue
		}
		if f != nil && (f.Value == nil || f.Confidence == nil || f.Source == nil || f.NeedsReview == nil) {
			t.Errorf("field %s lacks a key: %s", k, raw["fields"])
		}
	}
	var v map[string]string
	_ = json.Unmarshal(raw["versions"], &v)
	for _, k := range []string{"release", "pattern_set", "rules", "prompt"} {
		if _, ok := v[k]; !ok {
			t.Errorf("versions lacks %q: %v", k, v)
		}
	}
}

func TestNeedsReviewThreshold(t *testing.T) {
	for _, tt := range []struct {
		threshold float64
		want      bool
	}{{0, false}, {1.01, true}} {
		cfg := testConfig()
		cfg.ReviewThreshold = tt.threshold
		env := newTestEnv(t, cfg, &fakeEngine{}, nil)
		res, err := env.mod.Service().Extract(context.Background(), receiptText, Options{})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		res.Fields.each(func(name string, f *Field) {
			if f != nil {
				n++
				if f.NeedsReview != tt.want {
					t.Errorf("threshold %v: %s needs_review = %v", tt.threshold, name, f.NeedsReview)
				}
			}
		})
		if n == 0 {
			t.Fatal("no field found")
		}
	}
}

func TestExtractHandler(t *testing.T) {
	env := newTestEnv(t, testConfig(), &fakeEngine{}, nil)
	text, _ := json.Marshal(receiptText)
	tests := []struct {
		name   string
		body   string
		status int
		field  string
	}{
		{"ok", `{"text":` + string(text) + `,"routing_key":"u1","app":"expenses"}`, 200, ""},
		{"only text", `{"text":` + string(text) + `}`, 200, ""},
		{"missing text", `{"app":"x"}`, 400, "text"},
		{"empty text", `{"text":"   "}`, 400, "text"},
		{"unknown field", `{"text":"a","image":"b"}`, 400, "image"},
		{"wrong type", `{"text":12}`, 400, "text"},
		{"trailing data", `{"text":"a"} {}`, 400, ""},
		{"not json", `text=a`, 400, ""},
		{"empty body", ``, 400, ""},
		{"text too long", `{"text":"` + strings.Repeat("a", MaxTextBytes+1) + `"}`, 413, ""},
		{"app too long", `{"text":"a","app":"` + strings.Repeat("a", 300) + `"}`, 400, "app"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, res, env := env.do(t, http.MethodPost, "/ocr/extract", strings.NewReader(tt.body), "application/json")
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if tt.status == 200 {
				if res.OCRConfidence != nil || res.Fields.Amount == nil || res.Fields.Date == nil || res.Fields.Date.Value != "2018-03-14" {
					t.Errorf("result %+v", res)
				}
				if !strings.Contains(w.Body.String(), `"ocr_confidence":null`) {
					t.Errorf("ocr_confidence should be null for /ocr/extract: %s", w.Body)
				}
				return
			}
			if tt.field != "" && env.Error.Field != tt.field {
				t.Errorf("field %q, want %q (%s)", env.Error.Field, tt.field, env.Error.Message)
			}
		})
	}
}

type fixedPatterns struct{ v string }

func (p fixedPatterns) Version() string { return p.v }
func (p fixedPatterns) Match(text string, _ map[string]string) []extract.PatternHit {
	if strings.Contains(text, "GREEN LEAF") {
		return []extract.PatternHit{{Field: "merchant", Value: "Green Leaf Café", Confidence: 0.99, PatternID: "p1"}}
	}
	return nil
}

func TestPatternsReload(t *testing.T) {
	env := newTestEnv(t, testConfig(), &fakeEngine{}, nil)
	svc := env.mod.Service()
	w, _, e := env.do(t, http.MethodPost, "/ocr/v2/patterns/reload", nil, "")
	if w.Code != 503 || !strings.Contains(e.Error.Message, "no pattern source configured") {
		t.Fatalf("reload with no source: %d %s", w.Code, w.Body)
	}

	calls := 0
	svc.SetPatternLoader(func(context.Context) (extract.Patterns, error) {
		calls++
		if calls == 2 {
			return nil, apierr.New(apierr.Unavailable, "data pool unreachable")
		}
		return fixedPatterns{"v7"}, nil
	})
	w, _, _ = env.do(t, http.MethodPost, "/ocr/v2/patterns/reload", nil, "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"pattern_set":"v7"`) {
		t.Fatalf("reload: %d %s", w.Code, w.Body)
	}
	res, err := svc.Extract(context.Background(), receiptText, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Versions.PatternSet != "v7" || res.Fields.Merchant == nil || res.Fields.Merchant.Value != "Green Leaf Café" {
		t.Errorf("patterns not applied: versions %+v merchant %+v", res.Versions, res.Fields.Merchant)
	}
	if v, st := testenv.Gauge(t, env.reg, "ocrpool_ocr_patterns_version"), testenv.Gauge(t, env.reg, "ocrpool_ocr_patterns_stale"); v != 7 || st != 0 {
		t.Errorf("after a reload: version metric %v, stale %v; want 7, 0", v, st)
	}
	// A failed reload keeps the last set, and says so.
	w, _, _ = env.do(t, http.MethodPost, "/ocr/v2/patterns/reload", nil, "")
	if w.Code != 503 {
		t.Fatalf("failed reload: %d %s", w.Code, w.Body)
	}
	if res, _ := svc.Extract(context.Background(), receiptText, Options{}); res.Versions.PatternSet != "v7" {
		t.Errorf("after a failed reload the pattern set is %q, want v7 kept", res.Versions.PatternSet)
	}
	if v, st := testenv.Gauge(t, env.reg, "ocrpool_ocr_patterns_version"), testenv.Gauge(t, env.reg, "ocrpool_ocr_patterns_stale"); v != 7 || st != 1 {
		t.Errorf("after a failed reload: version metric %v, stale %v; want 7, 1", v, st)
	}
	if got := svc.PatternStatus()["state"]; got != "stale: data pool unreachable, using the last set" {
		t.Errorf("pattern status after a failed reload = %v", got)
	}
	svc.SetPatterns(nil)
	if res, _ := svc.Extract(context.Background(), receiptText, Options{}); res.Versions.PatternSet != "" {
		t.Errorf("SetPatterns(nil) left %q", res.Versions.PatternSet)
	}
}

func TestOutcomesPublished(t *testing.T) {
	c := testRedis(t)
	env := newTestEnv(t, testConfig(), &fakeEngine{text: receiptText}, c)
	_, img := renderReceipt(t, 1, synth.Options{FontSize: 14})
	body, ct := form(t, "image", pngOf(t, img), "app", "expenses")
	if w, _, _ := env.do(t, http.MethodPost, "/ocr/process", body, ct); w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	body, ct = form(t, "image", []byte("not an image"), "app", "expenses")
	if w, _, _ := env.do(t, http.MethodPost, "/ocr/process", body, ct); w.Code != 415 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if err := env.mod.svc.outcomes.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	stream := c.Key("ocr", "outcomes")
	msgs, err := c.Client.XRange(context.Background(), stream, "-", "+").Result()
	if err != nil || len(msgs) != 2 {
		t.Fatalf("stream %s: %d entries, %v; want 2", stream, len(msgs), err)
	}
	// Published in the background: the order is not the requests' order.
	ok, bad := msgs[0].Values, msgs[1].Values
	if ok["success"] != "true" {
		ok, bad = bad, ok
	}
	if ok["success"] != "true" || ok["release"] != BuiltinRelease || ok["endpoint"] != "process" || ok["app"] != "expenses" ||
		ok["conf_amount"] == nil || ok["ocr_confidence"] == nil || ok["duration_ms"] == nil {
		t.Errorf("success outcome %v", ok)
	}
	if bad["success"] != "false" || bad["code"] != string(apierr.Unsupported) {
		t.Errorf("failure outcome %v", bad)
	}
	for _, v := range ok {
		if s, _ := v.(string); strings.Contains(s, "GREEN LEAF") {
			t.Errorf("outcome carries receipt text: %v", ok)
		}
	}
}

// A Redis that is gone fails the publish, not the request.
func TestOutcomeFailureDoesNotFailRequest(t *testing.T) {
	// Nothing listens on port 1.
	dead := &cache.Cache{Client: redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1})}
	t.Cleanup(func() { _ = dead.Close() })
	env := newTestEnv(t, testConfig(), &fakeEngine{text: receiptText}, dead)
	res, err := env.mod.Service().Extract(context.Background(), receiptText, Options{})
	if err != nil || res.Fields.Amount == nil {
		t.Fatalf("Extract with Redis gone = %v, %v", res, err)
	}
	if err := env.mod.svc.outcomes.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := counterValue(t, env.mod.svc.metrics.outcomeErrors); got != 1 {
		t.Errorf("publish failures counted %v, want 1", got)
	}
}

func TestQueueTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.QueueTimeout = 30 * time.Millisecond
	env := newTestEnv(t, cfg, &fakeEngine{text: receiptText}, nil)
	svc := env.mod.Service()
	svc.slots <- struct{}{} // the only worker is busy
	_, img := renderReceipt(t, 1, synth.Options{FontSize: 14})
	_, err := svc.Process(context.Background(), pngOf(t, img), Options{})
	if apierr.CodeOf(err) != apierr.Unavailable {
		t.Fatalf("Process with every worker busy = %v, want 503", err)
	}
	<-svc.slots
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	time.Sleep(time.Millisecond)
	if _, err := svc.Process(ctx, pngOf(t, img), Options{}); apierr.CodeOf(err) != apierr.Timeout {
		t.Fatalf("Process past its deadline = %v, want 504", err)
	}
}

func TestEngineFailureIs422(t *testing.T) {
	env := newTestEnv(t, testConfig(), &fakeEngine{err: errors.New("tesseract: page layout failed")}, nil)
	_, img := renderReceipt(t, 1, synth.Options{FontSize: 14})
	_, err := env.mod.Service().Process(context.Background(), pngOf(t, img), Options{})
	if apierr.CodeOf(err) != apierr.Unprocessable {
		t.Fatalf("Process with a failing engine = %v, want 422", err)
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// Following a pool that has no pattern set yet is the normal start: it is
// said once, at info level; losing the source once a set is loaded warns.
func TestFollowPatternsLogs(t *testing.T) {
	logs := &testenv.Buffer{}
	m, err := New(testConfig(), Deps{Log: slog.New(slog.NewJSONHandler(logs, nil)), Engine: &fakeEngine{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Stop(context.Background()) })
	svc := m.Service()
	var calls atomic.Int32
	svc.SetPatternLoader(func(context.Context) (extract.Patterns, error) {
		switch n := calls.Add(1); {
		case n <= 5:
			return nil, apierr.New(apierr.NotFound, "no pattern set is active yet")
		case n == 6:
			return fixedPatterns{"v1"}, nil
		default:
			return nil, apierr.New(apierr.Unavailable, "data pool unreachable")
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); svc.FollowPatterns(ctx, nil, "", 5*time.Millisecond) }()
	for calls.Load() < 8 {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	out := logs.String()
	if n := strings.Count(out, "no pattern set is active yet; extracting with the rules alone"); n != 1 {
		t.Errorf("'none yet' logged %d times, want once:\n%s", n, out)
	}
	if strings.Contains(out, `"level":"WARN","msg":"loading the pattern set failed; keeping the last one","version":""`) {
		t.Errorf("a pool without a set yet was logged as a failure:\n%s", out)
	}
	if !strings.Contains(out, `"level":"WARN","msg":"loading the pattern set failed; keeping the last one","version":"v1"`) {
		t.Errorf("losing the source after v1 was not a warning:\n%s", out)
	}
}

package ocr

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ocrpool/ocrpool/config"
	"github.com/ocrpool/ocrpool/modules/ocr/engine"
	"github.com/ocrpool/ocrpool/modules/ocr/synth"
	"github.com/ocrpool/ocrpool/modules/platform/apierr"
	"github.com/ocrpool/ocrpool/modules/platform/cache"
	"github.com/ocrpool/ocrpool/modules/platform/server"
)

// fakeEngine returns fixed text, so handler and limit tests need no
// Tesseract and run fast.
type fakeEngine struct {
	mu    sync.Mutex
	text  string
	calls int
	err   error
}

func (f *fakeEngine) Recognize(ctx context.Context, img image.Image) (engine.Text, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return engine.Text{}, f.err
	}
	return engine.Text{Text: f.text, Confidence: 0.9}, ctx.Err()
}
func (f *fakeEngine) Version() string { return "fake 1" }
func (f *fakeEngine) Close() error    { return nil }

const receiptText = "GREEN LEAF CAFE\nNO 12 JALAN AMPANG\nDATE: 14/03/2018 12:30\nCOFFEE 4.50\nTOTAL 9.50\nCASH 10.00\nCHANGE 0.50\nCARD **** **** **** 4321\n"

// testConfig is the default ocr section with a small pool.
func testConfig() config.OCRConfig {
	c := config.Default().OCR
	c.PoolSize = 1
	return c
}

type testEnv struct {
	mod *Module
	srv *server.Server
	reg *prometheus.Registry
}

// newTestEnv mounts the module's routes on a real server with a
// pass-through guard (the security module enforces permissions).
func newTestEnv(t testing.TB, cfg config.OCRConfig, eng engine.Engine, c *cache.Cache) testEnv {
	t.Helper()
	reg := prometheus.NewRegistry()
	log := slog.New(slog.DiscardHandler)
	m, err := New(cfg, Deps{Log: log, Metrics: reg, Cache: c, Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Stop(context.Background()) })
	scfg := config.Default().Server
	scfg.Addr = "127.0.0.1:0"
	srv, err := server.New(scfg, server.Deps{Log: log, Registry: prometheus.NewRegistry(),
		Guard: func(server.Route) []gin.HandlerFunc { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Mount(m.Routes()...); err != nil {
		t.Fatal(err)
	}
	return testEnv{mod: m, srv: srv, reg: reg}
}

// form builds a multipart body from name/value pairs; a value for "image"
// is sent as a file.
func form(t testing.TB, fields ...any) (io.Reader, string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for i := 0; i+1 < len(fields); i += 2 {
		name := fields[i].(string)
		switch v := fields[i+1].(type) {
		case []byte:
			fw, err := w.CreateFormFile(name, "receipt.png")
			if err != nil {
				t.Fatal(err)
			}
			_, _ = fw.Write(v)
		case string:
			_ = w.WriteField(name, v)
		}
	}
	_ = w.Close()
	return &b, w.FormDataContentType()
}

func (e testEnv) do(t testing.TB, method, path string, body io.Reader, contentType string) (*httptest.ResponseRecorder, Result, apierr.Envelope) {
	t.Helper()
	req := httptest.NewRequest(method, path, body)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(w, req)
	var (
		res Result
		env apierr.Envelope
	)
	if w.Code >= 400 {
		if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || env.Error == nil {
			t.Fatalf("%s %s: status %d with a body that is not the error envelope: %s", method, path, w.Code, w.Body)
		}
	} else if strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") && path != "/ocr/v2/patterns/reload" {
		if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, w.Body)
		}
	}
	return w, res, env
}

func pngOf(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegOf(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func renderReceipt(t testing.TB, seed uint64, o synth.Options) (synth.Receipt, *image.Gray) {
	t.Helper()
	r := synth.Random(seed)
	img, err := synth.Render(r, o)
	if err != nil {
		t.Fatal(err)
	}
	return r, img
}

// testRedis is a cache for one test: the server at OCRPOOL_TEST_REDIS_URL
// under a fresh key prefix (swept on cleanup) when it is set, as CI does,
// else an embedded miniredis. (Not testenv.Redis: that package brings the
// SQL drivers into this test binary, which slows fuzzing to a crawl.)
func testRedis(t testing.TB) *cache.Cache {
	t.Helper()
	url := os.Getenv("OCRPOOL_TEST_REDIS_URL")
	if url == "" {
		url = "redis://" + miniredis.RunT(t).Addr()
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "test:" + hex.EncodeToString(b[:]) + ":"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := cache.Open(ctx, config.RedisConfig{URL: url, KeyPrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if keys, err := c.Client.Keys(ctx, prefix+"*").Result(); err == nil && len(keys) > 0 {
			_ = c.Client.Del(ctx, keys...).Err()
		}
		_ = c.Close()
	})
	return c
}

package datapool

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ocrpool/ocrpool/config"
	"github.com/ocrpool/ocrpool/modules/platform/cache"
	"github.com/ocrpool/ocrpool/modules/platform/db"
	"github.com/ocrpool/ocrpool/modules/platform/server"
	"github.com/ocrpool/ocrpool/modules/platform/testenv"
)

// testPIIKey is the HMAC key of test services.
const testPIIKey = "test-pii-key-0123456789abcdef"

// testEnv is a data pool on a test database and Redis, with its routes on a
// server with a pass-through guard (the real guard is the platform's).
type testEnv struct {
	svc    *Service
	mod    *Module
	db     *db.DB
	cache  *cache.Cache
	logs   *testenv.Buffer
	srv    *server.Server
	engine http.Handler
	// cfg and deps built svc, so a sibling process can be built alike.
	cfg  config.DatapoolConfig
	deps Deps
}

type envOption func(*config.DatapoolConfig, *Deps, *config.ServerConfig)

func newTestEnv(tb testing.TB, opts ...envOption) *testEnv {
	tb.Helper()
	d := testenv.DB(tb)
	c := testenv.Redis(tb)
	logs := &testenv.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := config.Default().Datapool
	deps := Deps{Log: log, DB: d, Cache: c, Metrics: prometheus.NewRegistry(), PIIKey: testPIIKey}
	scfg := config.Default().Server
	for _, o := range opts {
		o(&cfg, &deps, &scfg)
	}
	m, err := New(cfg, deps)
	if err != nil {
		tb.Fatalf("datapool.New: %v", err)
	}
	srv, err := server.New(scfg, server.Deps{Log: log, Registry: prometheus.NewRegistry(),
		Guard: func(server.Route) []gin.HandlerFunc { return nil }})
	if err != nil {
		tb.Fatal(err)
	}
	if err := srv.Mount(m.Routes()...); err != nil {
		tb.Fatal(err)
	}
	return &testEnv{svc: m.Service(), mod: m, db: d, cache: c, logs: logs, srv: srv, engine: srv.Handler(), cfg: cfg, deps: deps}
}

// withClock fixes the service's clock.
func withClock(now func() time.Time) envOption {
	return func(_ *config.DatapoolConfig, d *Deps, _ *config.ServerConfig) { d.Clock = now }
}

// do sends a request to the engine.
func (e *testEnv) do(tb testing.TB, method, target string, body []byte) *httptest.ResponseRecorder {
	tb.Helper()
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	e.engine.ServeHTTP(w, req)
	return w
}

// count returns the number of rows of table.
func (e *testEnv) count(tb testing.TB, table string) int64 {
	tb.Helper()
	var n int64
	if err := e.db.Gorm.Table(table).Count(&n).Error; err != nil {
		tb.Fatalf("count %s: %v", table, err)
	}
	return n
}

// row reads one stored correction.
func (e *testEnv) row(tb testing.TB, id string) correctionRow {
	tb.Helper()
	r, err := e.svc.store.correctionByID(context.Background(), id)
	if err != nil {
		tb.Fatalf("reading correction %s: %v", id, err)
	}
	return r
}

// sampleText is a receipt's OCR text.
const sampleText = `STARBUCKS COFFEE #1234
123 MAIN ST, KUALA LUMPUR
Date: 12/03/2024 10:31
1 x LATTE GRANDE        12.50
TOTAL                   12.50
VISA ************4242
THANK YOU`

// sample returns a valid correction with a fresh source id.
func sample() Correction {
	conf := 0.82
	return Correction{
		SourceApp:          "expenseapp",
		SourceEnvironment:  "sandbox",
		SourceCorrectionID: uuid.NewString(),
		UserID:             "user-" + uuid.NewString()[:8],
		OCRProvider:        "tesseract",
		OCRText:            sampleText,
		OCRConfidence:      &conf,
		OriginalInference:  Fields{Merchant: "5TARBUCK5 C0FFEE", Amount: "12.5O", Date: "12/03/2024", Category: "Groceries", CardLastFour: "4242"},
		CorrectedFields:    Fields{Merchant: "Starbucks", Amount: "12.50", Date: "12/03/2024", Category: "meals", CardLastFour: "4242"},
		ModelVersion:       "m1.2",
		PromptVersion:      "p3",
		PatternVersion:     "v7",
		CreatedAt:          "2024-03-12T10:35:00Z",
	}
}

// sampleN returns n valid corrections with distinct texts (so none is a
// duplicate receipt of another).
func sampleN(n int) []Correction {
	out := make([]Correction, n)
	for i := range out {
		c := sample()
		c.OCRText = strings.Replace(sampleText, "THANK YOU", fmt.Sprintf("THANK YOU %d", i), 1)
		out[i] = c
	}
	return out
}

// fixedNow is the clock of tests that need one: shortly after the
// sample's created_at.
func fixedNow() time.Time { return time.Date(2024, 3, 12, 11, 0, 0, 0, time.UTC) }

// counterValue reads a counter.
func counterValue(tb testing.TB, c prometheus.Counter) float64 {
	tb.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		tb.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

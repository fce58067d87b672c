package datapool_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ocrpool/ocrpool/config"
	"github.com/ocrpool/ocrpool/modules/datapool"
	"github.com/ocrpool/ocrpool/modules/datapool/datapooltest"
	"github.com/ocrpool/ocrpool/modules/platform/server"
	"github.com/ocrpool/ocrpool/modules/platform/testenv"
)

// newModule builds a data pool on a test database and Redis.
func newModule(t *testing.T) *datapool.Module {
	t.Helper()
	m, err := datapool.New(config.Default().Datapool, datapool.Deps{
		Log: slog.New(slog.DiscardHandler), DB: testenv.DB(t), Cache: testenv.Redis(t),
		PIIKey: "conformance-pii-key-0123456789",
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestConformanceService(t *testing.T) {
	datapooltest.Conformance(t, config.Default().Datapool.MaxBatch, func(t *testing.T) datapool.Client {
		return newModule(t).Service()
	})
}

// TestConformanceHTTPClient runs the same contract through the real gin
// handlers over HTTP, with a pass-through guard standing for the
// platform's (authentication is tested with the guard).
func TestConformanceHTTPClient(t *testing.T) {
	datapooltest.Conformance(t, config.Default().Datapool.MaxBatch, func(t *testing.T) datapool.Client {
		m := newModule(t)
		srv, err := server.New(config.Default().Server, server.Deps{
			Log: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry(),
			Guard: func(server.Route) []gin.HandlerFunc { return nil },
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Mount(m.Routes()...); err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(srv.Handler())
		t.Cleanup(ts.Close)
		c, err := datapool.NewHTTPClient(ts.URL, "service-key", ts.Client())
		if err != nil {
			t.Fatal(err)
		}
		return c
	})
}

// The HTTP client returns the same active pattern set as the Service.
func TestPatternSetOverHTTP(t *testing.T) {
	ctx := context.Background()
	m := newModule(t)
	svc := m.Service()
	var cs []datapool.Correction
	for i := 0; i < 24; i++ {
		c := datapooltest.Sample("patterns", i)
		c.OCRText = fmt.Sprintf("BLUE BOTTLE ROASTERS\nORDER %d\nCOLD BREW\nTOTAL %d.00", i, 5+i%4)
		c.CorrectedFields.Merchant = "Blue Bottle"
		c.CreatedAt = "" // now: inside the learning window
		c.OriginalInference.Date = datapool.Value(time.Now().UTC().Format("2006-01-02"))
		c.CorrectedFields.Date = c.OriginalInference.Date
		if i%2 == 1 {
			c.OCRText = fmt.Sprintf("CITY PARKING GARAGE\nTICKET %d\nLEVEL B2\nTOTAL %d.00", i, 5+i%4)
			c.CorrectedFields.Merchant = "City Parking"
		}
		cs = append(cs, c)
	}
	if _, err := svc.IngestBatch(ctx, cs); err != nil {
		t.Fatal(err)
	}
	if res, err := svc.RefreshPatterns(ctx, "test"); err != nil || !res.Activated {
		t.Fatalf("refresh = %+v, %v", res, err)
	}
	srv, err := server.New(config.Default().Server, server.Deps{
		Log: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry(),
		Guard: func(server.Route) []gin.HandlerFunc { return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Mount(m.Routes()...); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	hc, err := datapool.NewHTTPClient(ts.URL, "service-key", ts.Client())
	if err != nil {
		t.Fatal(err)
	}
	local, err := svc.ActivePatternSet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	remote, err := hc.ActivePatternSet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if remote.Version != local.Version || remote.PatternCount != local.PatternCount || len(remote.Patterns["merchant"]) != len(local.Patterns["merchant"]) || len(local.Patterns["merchant"]) == 0 {
		t.Fatalf("over HTTP %s/%d patterns, in process %s/%d", remote.Version, remote.PatternCount, local.Version, local.PatternCount)
	}
	if v, err := hc.PatternSetVersion(ctx, local.Version); err != nil || v.Version != local.Version {
		t.Fatalf("PatternSetVersion over HTTP = %v, %v", v, err)
	}
}

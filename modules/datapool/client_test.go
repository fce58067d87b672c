package datapool_test

import (
	"log/slog"
	"net/http/httptest"
	"testing"

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

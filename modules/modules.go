// Package modules runs ocrpool's business modules as roles. It holds the
// module contract, the one table that maps roles to modules with their
// dependencies (registry.go), the wiring of cross-module clients (peers.go)
// and the ordered start and shutdown of a process (run.go), in the manner
// of Grafana Loki's -target and dskit's module manager.
package modules

import (
	"context"

	"github.com/ocrpool/ocrpool/modules/platform/sched"
	"github.com/ocrpool/ocrpool/modules/platform/server"
)

// Module is one business capability that a role runs.
//
// The runner, for each module in start order:
//  1. builds it with the module package's New, passing every dependency;
//  2. mounts Routes, each with its declared permission;
//  3. registers Jobs with the process scheduler;
//  4. calls Start, which must not block;
//
// and on shutdown calls Stop in reverse order, after HTTP has drained and
// the scheduler has stopped. Stop waits for the module's goroutines or for
// ctx to end.
type Module interface {
	Name() string
	Routes() []server.Route
	Jobs() []sched.Job
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

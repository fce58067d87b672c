package datapool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Group commit of single corrections. Every POST /corrections/ingest of one
// correction used to be its own INSERT and its own commit; at a few
// thousand requests a second the database spends most of its CPU on the
// per-statement and per-commit work, not on the rows. Concurrent single
// ingests are therefore coalesced: a request prepares its row, queues it
// and waits; one flusher at a time takes everything queued (at most
// maxGroupRows) and stores it with one multi-row INSERT. There is no timer:
// a request that finds no flush running starts one at once, so a lone
// request is not slowed, and the requests arriving while a flush is in
// flight form the next group ("natural batching").
//
// Each request still gets its own answer: the statement reports which rows
// went in (ON CONFLICT DO NOTHING skips a taken source id, which the caller
// then resolves as a retry or a conflict exactly as before), the
// duplicate-receipt rule is applied per row (see insertCheckedRows), and a
// statement the database refuses as a whole is retried row by row so that
// one bad row fails only its own request.

// maxGroupRows caps the rows of one group commit: 256 rows of 32 columns
// stay well under the bind-variable limits of SQLite (32766) and
// PostgreSQL (65535), and a bigger group gains little.
const maxGroupRows = 256

// flushTimeout bounds one group commit. A flush is not cancelled with any
// one request, since it carries the rows of others.
const flushTimeout = 30 * time.Second

// maxFlushes is how many group commits may be in flight at once. One is
// best: measured with 16 clients, two or three flushers split the queue
// into smaller groups, which costs PostgreSQL more CPU per row and gave
// lower throughput, not higher.
const maxFlushes = 1

// States of a queued row: the flusher takes it, or the request abandons
// it when its context ends first. Whichever comes first decides.
const (
	pendingQueued int32 = iota
	pendingTaken
	pendingAbandoned
)

// pendingRow is one request's row waiting for a group commit.
type pendingRow struct {
	p     *prepared
	state atomic.Int32
	done  chan struct{}
	// Set by the flusher before done is closed.
	inserted bool
	err      error
}

// groupCommitter coalesces concurrent single-row inserts (see above).
type groupCommitter struct {
	store *store
	log   *slog.Logger
	// afterStore runs for the inserted rows of each group before their
	// requests are answered: events, metrics and the merchant cache must
	// follow a stored row even when its request has gone.
	afterStore func(ctx context.Context, stored []*prepared)

	// maxFlushes is how many groups may be in flight at once.
	maxFlushes int

	mu      sync.Mutex
	queue   []*pendingRow
	running int // flushers
	// idle is closed when the last flusher stops for want of work.
	idle chan struct{}
}

func newGroupCommitter(st *store, log *slog.Logger, afterStore func(context.Context, []*prepared)) *groupCommitter {
	idle := make(chan struct{})
	close(idle)
	return &groupCommitter{store: st, log: log, afterStore: afterStore, idle: idle, maxFlushes: maxFlushes}
}

// insert stores p's row in the next group commit and reports whether it
// was inserted (false: the source id is taken). When ctx ends before the
// row is taken into a group, the row is not stored and ctx's error is
// returned. Once taken, the row is stored or not whatever happens to ctx,
// so insert waits for the group's outcome (a flush is bounded by
// flushTimeout) and returns it: an answer of "cancelled" would be false
// for a row that is stored.
func (g *groupCommitter) insert(ctx context.Context, p *prepared) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, dbError(err, "storing the correction")
	}
	pr := &pendingRow{p: p, done: make(chan struct{})}
	g.mu.Lock()
	g.queue = append(g.queue, pr)
	start := g.running < g.maxFlushes
	if start {
		if g.running == 0 {
			g.idle = make(chan struct{})
		}
		g.running++
	}
	g.mu.Unlock()
	if start {
		go g.run()
	}
	select {
	case <-pr.done:
		return pr.inserted, pr.err
	case <-ctx.Done():
		if !pr.state.CompareAndSwap(pendingQueued, pendingAbandoned) {
			<-pr.done // taken into a group: its outcome is the truth
			return pr.inserted, pr.err
		}
		return false, dbError(ctx.Err(), "storing the correction")
	}
}

// run flushes groups until the queue is empty.
func (g *groupCommitter) run() {
	group := make([]*pendingRow, 0, maxGroupRows)
	for {
		group = group[:0]
		g.mu.Lock()
		taken := 0
		for _, pr := range g.queue {
			if len(group) == maxGroupRows {
				break
			}
			taken++
			if pr.state.CompareAndSwap(pendingQueued, pendingTaken) {
				group = append(group, pr)
			}
		}
		rest := copy(g.queue, g.queue[taken:])
		clear(g.queue[rest:])
		g.queue = g.queue[:rest]
		if len(group) == 0 && len(g.queue) == 0 {
			if g.running--; g.running == 0 {
				close(g.idle)
			}
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		if len(group) > 0 {
			g.flush(group)
		}
	}
}

// flush stores one group and answers its requests.
func (g *groupCommitter) flush(group []*pendingRow) {
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	// A source id twice in one group: the first goes in, the later ones
	// resolve against it afterwards like retries.
	rows := make([]*correctionRow, 0, len(group))
	owners := make([]*pendingRow, 0, len(group))
	seen := make(map[sourceKey]bool, len(group))
	for _, pr := range group {
		if seen[pr.p.key] {
			continue
		}
		seen[pr.p.key] = true
		rows = append(rows, &pr.p.row)
		owners = append(owners, pr)
	}
	inserted, err := g.store.insertCheckedRows(ctx, rows)
	if err != nil && len(rows) > 1 && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		// The database refused the statement; it may be one row's data.
		// Each row on its own gets its own answer.
		g.log.WarnContext(ctx, "group commit failed; storing its rows one by one", "rows", len(rows), "err", err)
		inserted, err = make([]bool, len(rows)), nil
		for i, r := range rows {
			ins, rowErr := g.store.insertChecked(ctx, r)
			inserted[i], owners[i].err = ins, rowErr
		}
	}
	var stored []*prepared
	for i, pr := range owners {
		switch {
		case err != nil:
			pr.err = err
		case inserted[i]:
			pr.inserted = true
			pr.p.reasons = splitReasons(pr.p.row.OutlierReason)
			stored = append(stored, pr.p)
		}
	}
	g.afterStore(ctx, stored)
	for _, pr := range group {
		close(pr.done)
	}
}

// drain waits until every queued row is stored (or refused) and no flush
// is running, or ctx ends.
func (g *groupCommitter) drain(ctx context.Context) error {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	idle := g.idle
	g.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("storing queued corrections: %w", ctx.Err())
	}
}

package audit

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ocrpool/ocrpool/modules/platform/db"
	"github.com/ocrpool/ocrpool/modules/platform/requestid"
)

// maxBatch bounds the rows of one transaction.
const maxBatch = 500

// lingerFor is how long the writer waits for more rows before writing
// what it has: rows appear in the table at most this much later, and
// under a steady load one transaction (one fsync) carries many of them.
const lingerFor = 5 * time.Millisecond

// Retry backoff of a failed batch.
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// Logger writes audit rows off the request path. It is safe for concurrent
// use. See the package documentation for its guarantees.
type Logger struct {
	db  *db.DB
	log *slog.Logger
	ch  chan item

	// mu makes Close wait for Records already sending, so none sends on a
	// closed channel; Records after Close write synchronously.
	mu     sync.RWMutex
	closed bool

	pending  atomic.Int64 // recorded, not yet written
	lost     atomic.Int64
	failures atomic.Int64 // failed attempts to write a batch
	// writeCtx is cancelled when Close's deadline passes: the writer then
	// gives up what it still holds.
	writeCtx context.Context
	abandon  context.CancelFunc
	done     chan struct{} // closed when the writer has returned
	once     sync.Once
}

// item is an event, or a flush marker the writer closes once everything
// before it is written.
type item struct {
	ev    Event
	reqID string
	flush chan struct{}
}

// New starts the writer of a Logger over d with room for buffer rows.
func New(d *db.DB, log *slog.Logger, buffer int) *Logger {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if buffer < 1 {
		buffer = 1
	}
	l := &Logger{
		db: d, log: log,
		ch:   make(chan item, buffer),
		done: make(chan struct{}),
	}
	l.writeCtx, l.abandon = context.WithCancel(context.Background())
	go l.run()
	return l
}

// Record queues ev and returns. When the buffer is full it waits for room:
// a row is never dropped (see the package documentation). ctx supplies
// the request id; its cancellation does not stop the row, since a client
// that hangs up must still be audited.
//
// The row is encoded by the writer, off the caller's path; only the time
// is taken here.
func (l *Logger) Record(ctx context.Context, ev Event) {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	it := item{ev: ev, reqID: requestid.FromContext(ctx)}
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		l.writeNow(toRow(it.ev, it.reqID))
		return
	}
	l.pending.Add(1)
	select {
	case l.ch <- it:
	case <-l.writeCtx.Done(): // Close gave up waiting for the database
		l.pending.Add(-1)
		l.lost.Add(1)
		l.log.Error("audit row given up at shutdown", "action", ev.Action)
	}
	l.mu.RUnlock()
}

// writeNow writes one row outside the writer, for Records after Close.
func (l *Logger) writeNow(r row) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := insert(ctx, l.db, []row{r}); err != nil {
		l.log.Error("audit row recorded after Close could not be written", "action", r.Action, "err", err)
	}
}

// Flush waits until every event recorded before it is written, or ctx
// ends.
func (l *Logger) Flush(ctx context.Context) error {
	done := make(chan struct{})
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return nil
	}
	select {
	case l.ch <- item{flush: done}:
	case <-ctx.Done():
		l.mu.RUnlock()
		return ctx.Err()
	}
	l.mu.RUnlock()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops accepting events into the buffer and waits until every
// buffered one is written. When ctx ends first, the rows still unwritten
// (and Records still waiting for room) are given up and counted in the
// error.
func (l *Logger) Close(ctx context.Context) error {
	closed := make(chan struct{})
	go func() {
		// Lock waits for Records that are sending; they finish when the
		// writer makes room or when abandon is called below.
		l.once.Do(func() {
			l.mu.Lock()
			l.closed = true
			close(l.ch)
			l.mu.Unlock()
		})
		close(closed)
	}()
	select {
	case <-l.done:
	case <-ctx.Done():
		l.abandon()
		<-closed
		<-l.done
	}
	l.abandon()
	if n := l.lost.Load(); n > 0 {
		return fmt.Errorf("audit: %d rows could not be written before shutdown", n)
	}
	return nil
}

// Pending is how many recorded rows are not written yet.
func (l *Logger) Pending() int64 { return l.pending.Load() }

// Failures is how many attempts to write a batch have failed (each is
// retried: see write).
func (l *Logger) Failures() int64 { return l.failures.Load() }

func (l *Logger) run() {
	defer close(l.done)
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	for {
		it, ok := <-l.ch
		if !ok {
			return
		}
		var (
			rows    []row
			flushes []chan struct{}
		)
		add := func(it item) {
			if it.flush != nil {
				flushes = append(flushes, it.flush)
			} else {
				rows = append(rows, toRow(it.ev, it.reqID))
			}
		}
		add(it)
		// Collect for up to lingerFor, so that a steady trickle of rows
		// shares one transaction; a Flush, a full batch or Close ends the
		// wait at once.
		open := true
		linger.Reset(lingerFor)
	collect:
		for len(rows) < maxBatch && len(flushes) == 0 {
			select {
			case it, ok := <-l.ch:
				if !ok {
					open = false
					break collect
				}
				add(it)
			case <-linger.C:
				break collect
			}
		}
		linger.Stop()
		if len(rows) > 0 {
			l.write(rows)
		}
		for _, f := range flushes {
			close(f)
		}
		if !open {
			return
		}
	}
}

// write inserts rows, retrying with backoff until it succeeds or Close
// gives up.
func (l *Logger) write(rows []row) {
	backoff := minBackoff
	for attempt := 1; ; attempt++ {
		err := insert(l.writeCtx, l.db, rows)
		if err == nil {
			l.pending.Add(-int64(len(rows)))
			return
		}
		l.failures.Add(1)
		if l.writeCtx.Err() != nil {
			l.lost.Add(int64(len(rows)))
			l.pending.Add(-int64(len(rows)))
			l.log.Error("audit rows given up at shutdown", "rows", len(rows), "err", err)
			return
		}
		level := slog.LevelWarn
		if attempt > 3 {
			level = slog.LevelError
		}
		l.log.Log(context.Background(), level, "writing audit rows failed, retrying",
			"rows", len(rows), "attempt", attempt, "retry_in", backoff, "err", err)
		select {
		case <-time.After(backoff):
		case <-l.writeCtx.Done():
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

package datapool

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Every stored correction is published on a Redis stream, so training and
// deployment learn about new corrections (and which release produced the
// inference) without polling the table. Entries are flat string fields:
//
//	id, source_app, source_environment, fields_corrected ("merchant,amount"),
//	model_version, prompt_version, pattern_version, quality ("0.87"),
//	is_outlier ("true"/"false"), created_at (RFC 3339)
//
// The stream is capped (MAXLEN ~ StreamMaxLen). Publishing happens after the
// rows are committed, from a queue drained by one goroutine while the module
// runs (a request never waits for Redis), synchronously otherwise. When Redis
// is down the correction stays stored, the failure is logged and counted
// (ocrpool_datapool_events_failed_total), and consumers catch up from the
// table. Delivery is at most once: a crash loses what was queued.

// StreamKeyParts are the parts of the stream's key under the Redis prefix:
// cache.Key(StreamKeyParts...).
var StreamKeyParts = []string{"datapool", "corrections"}

// StreamMaxLen is the approximate length the stream is trimmed to.
const StreamMaxLen = 100_000

// publishTimeout bounds one publish; the request that stored the rows does
// not wait longer for Redis.
const publishTimeout = 2 * time.Second

type publisher struct {
	rdb    *redis.Client
	key    string
	maxLen int64
	log    *slog.Logger
	failed prometheus.Counter

	// Once started (Module.Start), events go through a queue to one
	// goroutine that sends them in pipelined batches, so a request does
	// not wait for Redis; Stop drains the queue. Before Start (the CLI,
	// tests of the Service) they are sent synchronously.
	mu    sync.RWMutex
	queue chan Event
	done  chan struct{}
}

// queueSize bounds the events waiting for Redis; when Redis is down long
// enough to fill it, further events are dropped and counted.
const queueSize = 50_000

// maxPipeline is the most events sent in one round trip.
const maxPipeline = 500

// start begins asynchronous publishing.
func (p *publisher) start() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.queue != nil {
		return
	}
	p.queue = make(chan Event, queueSize)
	p.done = make(chan struct{})
	go p.loop(p.queue, p.done)
}

func (p *publisher) loop(queue <-chan Event, done chan<- struct{}) {
	defer close(done)
	batch := make([]Event, 0, maxPipeline)
	for e := range queue {
		batch = append(batch[:0], e)
	fill:
		for len(batch) < maxPipeline {
			select {
			case e, ok := <-queue:
				if !ok {
					break fill
				}
				batch = append(batch, e)
			default:
				break fill
			}
		}
		p.send(context.Background(), batch)
	}
}

// stop sends what is queued and returns to synchronous publishing; it
// waits until the queue is drained or ctx ends.
func (p *publisher) stop(ctx context.Context) error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	queue, done := p.queue, p.done
	p.queue, p.done = nil, nil
	if queue != nil {
		close(queue)
	}
	p.mu.Unlock()
	if done == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("publishing queued correction events: %w", ctx.Err())
	}
}

func eventOf(p *prepared) Event {
	e := Event{
		ID:                p.row.ID,
		SourceApp:         p.row.SourceApp,
		SourceEnvironment: p.row.SourceEnvironment,
		FieldsCorrected:   p.row.FieldsCorrected.Items,
		IsOutlier:         p.row.IsOutlier,
		CreatedAt:         p.row.CreatedAt.Format(time.RFC3339Nano),
	}
	if p.row.ModelVersion != nil {
		e.ModelVersion = *p.row.ModelVersion
	}
	if p.row.PromptVersion != nil {
		e.PromptVersion = *p.row.PromptVersion
	}
	if p.row.PatternVersion != nil {
		e.PatternVersion = *p.row.PatternVersion
	}
	if p.row.DataQualityScore != nil {
		e.Quality = *p.row.DataQualityScore
	}
	return e
}

// values is the stream entry of e as field, value pairs: a slice, not a
// map, since a batch publishes a thousand of them at once.
func (e Event) values() []string {
	return []string{
		"id", e.ID,
		"source_app", e.SourceApp,
		"source_environment", e.SourceEnvironment,
		"fields_corrected", strings.Join(e.FieldsCorrected, ","),
		"model_version", e.ModelVersion,
		"prompt_version", e.PromptVersion,
		"pattern_version", e.PatternVersion,
		"quality", e.Quality,
		"is_outlier", strconv.FormatBool(e.IsOutlier),
		"created_at", e.CreatedAt,
	}
}

// EventFromValues reads a stream entry's fields back into an Event.
func EventFromValues(v map[string]any) Event {
	str := func(k string) string { s, _ := v[k].(string); return s }
	e := Event{
		ID:                str("id"),
		SourceApp:         str("source_app"),
		SourceEnvironment: str("source_environment"),
		ModelVersion:      str("model_version"),
		PromptVersion:     str("prompt_version"),
		PatternVersion:    str("pattern_version"),
		Quality:           str("quality"),
		IsOutlier:         str("is_outlier") == "true",
		CreatedAt:         str("created_at"),
		FieldsCorrected:   []string{},
	}
	if f := str("fields_corrected"); f != "" {
		e.FieldsCorrected = strings.Split(f, ",")
	}
	return e
}

// publish sends events to the stream: queued when started, else at once
// in one pipeline. It never fails the caller: the rows are already
// committed.
func (p *publisher) publish(ctx context.Context, events []Event) {
	if p == nil || len(events) == 0 {
		return
	}
	p.mu.RLock()
	if p.queue != nil {
		dropped := 0
		for _, e := range events {
			select {
			case p.queue <- e:
			default:
				dropped++
			}
		}
		p.mu.RUnlock()
		if dropped > 0 {
			p.failed.Add(float64(dropped))
			p.log.WarnContext(ctx, "correction event queue full; events dropped, the corrections are stored", "dropped", dropped)
		}
		return
	}
	p.mu.RUnlock()
	p.send(ctx, events)
}

// send adds events to the stream in pipelines of at most maxPipeline.
func (p *publisher) send(ctx context.Context, events []Event) {
	for len(events) > 0 {
		n := min(len(events), maxPipeline)
		p.sendOnce(ctx, events[:n])
		events = events[n:]
	}
}

func (p *publisher) sendOnce(ctx context.Context, events []Event) {
	// Not cancelled with the request: the rows are stored, the events
	// should follow even if the client has gone.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	pipe := p.rdb.Pipeline()
	for _, e := range events {
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: p.key, MaxLen: p.maxLen, Approx: true, Values: e.values()})
	}
	cmds, err := pipe.Exec(ctx)
	if err == nil {
		return
	}
	failed := 0
	for _, c := range cmds {
		if c.Err() != nil {
			failed++
		}
	}
	if failed == 0 {
		failed = len(events)
	}
	p.failed.Add(float64(failed))
	p.log.WarnContext(ctx, "publishing correction events failed; the corrections are stored",
		"stream", p.key, "events", len(events), "failed", failed, "err", err)
}

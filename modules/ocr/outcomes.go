package ocr

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ocrpool/ocrpool/modules/platform/apierr"
	"github.com/ocrpool/ocrpool/modules/platform/cache"
)

// Outcome is what one request leaves on the outcome stream, for the
// deployment module (error rate per release during a canary) and training.
// It carries no text and no field values, only how it went.
type Outcome struct {
	Release    string
	PatternSet string
	Rules      string
	// Endpoint is "process" or "extract".
	Endpoint string
	App      string
	Success  bool
	// Code is the apierr code of a failure.
	Code          apierr.Code
	Duration      time.Duration
	OCRConfidence *float64
	// Confidences are per found field, by JSON name.
	Confidences map[string]float64
	At          time.Time
}

// values is the stream entry: flat strings, field confidences as conf_<name>.
func (o Outcome) values() map[string]any {
	v := map[string]any{
		"release":     o.Release,
		"pattern_set": o.PatternSet,
		"rules":       o.Rules,
		"endpoint":    o.Endpoint,
		"app":         o.App,
		"success":     strconv.FormatBool(o.Success),
		"duration_ms": strconv.FormatFloat(float64(o.Duration.Microseconds())/1000, 'f', 1, 64),
		"at":          o.At.UTC().Format(time.RFC3339Nano),
	}
	if o.Code != "" {
		v["code"] = string(o.Code)
	}
	if o.OCRConfidence != nil {
		v["ocr_confidence"] = strconv.FormatFloat(*o.OCRConfidence, 'f', 3, 64)
	}
	for name, c := range o.Confidences {
		v["conf_"+name] = strconv.FormatFloat(c, 'f', 3, 64)
	}
	return v
}

// outcomes publishes Outcomes with XADD on the stream cache.Key("ocr",
// "outcomes"), trimmed to about maxLen entries. Publishing happens in the
// background with a short timeout and a bounded number in flight: a slow
// or absent Redis never delays or fails a request; what cannot be
// published is logged and counted.
type outcomes struct {
	cache  *cache.Cache // nil: outcomes are dropped (tests, eval)
	stream string
	maxLen int64
	log    *slog.Logger
	failed func()

	slots chan struct{}
	wg    sync.WaitGroup
}

const outcomeTimeout = 2 * time.Second

func newOutcomes(c *cache.Cache, maxLen int64, log *slog.Logger, failed func()) *outcomes {
	o := &outcomes{cache: c, maxLen: maxLen, log: log, failed: failed, slots: make(chan struct{}, 64)}
	if c != nil {
		o.stream = c.Key("ocr", "outcomes")
	}
	return o
}

// Stream is the Redis stream key outcomes go to.
func (o *outcomes) Stream() string { return o.stream }

func (o *outcomes) publish(out Outcome) {
	if o.cache == nil {
		return
	}
	select {
	case o.slots <- struct{}{}:
	default: // too many in flight: Redis is slow or gone
		o.failed()
		o.log.Warn("outcome dropped: too many publishes in flight", "release", out.Release)
		return
	}
	o.wg.Add(1)
	go func() {
		defer func() { <-o.slots; o.wg.Done() }()
		ctx, cancel := context.WithTimeout(context.Background(), outcomeTimeout)
		defer cancel()
		args := &redis.XAddArgs{Stream: o.stream, Values: out.values()}
		if o.maxLen > 0 {
			args.MaxLen, args.Approx = o.maxLen, true
		}
		if err := o.cache.Client.XAdd(ctx, args).Err(); err != nil {
			o.failed()
			o.log.Warn("outcome not published", "stream", o.stream, "err", err)
		}
	}()
}

// wait blocks until every publish in flight is done or ctx ends.
func (o *outcomes) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { o.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

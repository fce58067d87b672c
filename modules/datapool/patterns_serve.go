package datapool

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/ocrpool/ocrpool/modules/datapool/webhook"
	"github.com/ocrpool/ocrpool/modules/patternset"
	"github.com/ocrpool/ocrpool/modules/platform/cache"
)

// servedSet is the active pattern set as this process serves it: the
// response body is encoded once per activation, not once per request.
type servedSet struct {
	Version string
	Body    []byte // JSON of PatternSet

	gzipOnce sync.Once
	gz       []byte
}

// gzipped is Body compressed, made on the first request that accepts it:
// a set of thousands of patterns shrinks about tenfold, and every app
// downloads it after each activation.
func (s *servedSet) gzipped() []byte {
	s.gzipOnce.Do(func() {
		var buf bytes.Buffer
		buf.Grow(len(s.Body) / 6)
		zw, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression) // a valid level: no error
		_, _ = zw.Write(s.Body)                                     // a bytes.Buffer does not fail
		_ = zw.Close()
		s.gz = buf.Bytes()
	})
	return s.gz
}

// servedBody is PatternSet with its patterns copied as stored: a set of
// thousands of patterns is not decoded and encoded again to be served.
// Patterns is left empty and spliced in (withRawField).
type servedBody struct {
	PatternVersion
	Patterns json.RawMessage `json:"patterns,omitempty"`
}

// newServedSet builds the body of a version; patterns is its compact
// "patterns" object.
func newServedSet(row patternVersionRow, patterns json.RawMessage) *servedSet {
	if len(patterns) == 0 || patterns[0] != '{' {
		patterns = json.RawMessage("{}")
	}
	head, _ := json.Marshal(servedBody{PatternVersion: row.info(nil)}) // plain values: cannot fail
	return &servedSet{Version: row.VersionName, Body: withRawField(head, "patterns", patterns)}
}

// withRawField returns the JSON object obj with "key": raw added last. raw
// must be valid, compact JSON and key a plain name: json.Marshal would
// check and compact a RawMessage again, tens of milliseconds per megabyte
// of patterns.
func withRawField(obj []byte, key string, raw json.RawMessage) []byte {
	out := make([]byte, 0, len(obj)+len(key)+len(raw)+4)
	out = append(out, obj[:len(obj)-1]...)
	if len(obj) > 2 {
		out = append(out, ',')
	}
	out = append(out, '"')
	out = append(out, key...)
	out = append(out, '"', ':')
	out = append(out, raw...)
	return append(out, '}')
}

// storedPatterns is the "patterns" object of a stored pattern_data.
func storedPatterns(data string) json.RawMessage {
	var raw struct {
		Patterns json.RawMessage `json:"patterns"`
	}
	var buf bytes.Buffer
	if json.Unmarshal([]byte(data), &raw) != nil || json.Compact(&buf, raw.Patterns) != nil {
		return nil
	}
	return buf.Bytes()
}

// encode is how a served set is stored in Redis: the version, a newline,
// then the body as is (JSON would add a base64 copy of megabytes).
func (s *servedSet) encode() []byte {
	out := make([]byte, 0, len(s.Version)+1+len(s.Body))
	out = append(out, s.Version...)
	out = append(out, '\n')
	return append(out, s.Body...)
}

// decodeServedSet reads what encode wrote. A value in the JSON form of
// earlier releases also reads, so a rolling upgrade serves throughout.
func decodeServedSet(raw []byte) (*servedSet, bool) {
	if len(raw) > 0 && raw[0] == '{' {
		var legacy struct {
			Version string `json:"version"`
			Body    []byte `json:"body"`
		}
		if json.Unmarshal(raw, &legacy) != nil || legacy.Version == "" || !json.Valid(legacy.Body) {
			return nil, false
		}
		return &servedSet{Version: legacy.Version, Body: legacy.Body}, true
	}
	version, body, ok := bytes.Cut(raw, []byte{'\n'})
	if !ok || !validVersionName(string(version)) || !json.Valid(body) {
		return nil, false
	}
	return &servedSet{Version: string(version), Body: body}, true
}

func (s *servedSet) decode() (*PatternSet, error) {
	var ps PatternSet
	if err := json.Unmarshal(s.Body, &ps); err != nil {
		return nil, fmt.Errorf("decoding pattern set %s: %w", s.Version, err)
	}
	return &ps, nil
}

// Set converts the served shape back into a patternset.Set, for
// compiling a matcher.
func (ps *PatternSet) Set() *patternset.Set {
	return &patternset.Set{Version: ps.Version, Patterns: ps.Patterns}
}

// patternServer keeps this process's copy of the active pattern set.
//
// The active set lives in Redis under key; an activation writes it there
// and publishes the version on channel, and every process swaps its copy
// atomically when the message arrives, so replicas agree within about a
// second. When Redis is unreachable the last copy keeps being served and
// the database is polled instead; a slow database poll also runs when all
// is well, as a safety net for activations made by a CLI that could not
// reach this Redis (an embedded miniredis).
type patternServer struct {
	store   *patternStore
	rdb     *redis.Client // nil: no Redis (the CLI)
	key     string
	channel string
	log     *slog.Logger
	poll    time.Duration

	cur      atomic.Pointer[servedSet]
	loaded   atomic.Bool
	degraded atomic.Bool
	swaps    func(version string) // observer, may be nil

	stop context.CancelFunc
	wg   sync.WaitGroup
}

// registerMetrics exports what this process serves, so replicas that
// disagree (a missed activation) or a process cut off from Redis show.
func (p *patternServer) registerMetrics(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ocrpool_patterns_served_version",
			Help: "Number of the pattern set version this process serves on GET /patterns/global (12 for v12; 0: none).",
		}, func() float64 {
			if cur := p.cur.Load(); cur != nil {
				n, _ := patternset.VersionNumber(cur.Version)
				return float64(n)
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ocrpool_patterns_serving_degraded",
			Help: "1 while Redis is unreachable and this process follows activations by polling the database.",
		}, func() float64 {
			if p.degraded.Load() {
				return 1
			}
			return 0
		}),
	} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("registering metrics: %w", err)
		}
	}
	return nil
}

// current returns the served set, loading it on first use (a process that
// has not started its loop, such as the CLI).
func (p *patternServer) current(ctx context.Context) *servedSet {
	if !p.loaded.Load() {
		_ = p.reload(ctx)
	}
	return p.cur.Load()
}

// publish makes set current here, in Redis and, through the channel, in
// every other process. Redis failures are logged: the other processes
// catch up from the database poll.
func (p *patternServer) publish(ctx context.Context, set *servedSet) {
	p.swap(set)
	if p.rdb == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	if err := p.rdb.Set(ctx, p.key, set.encode(), 0).Err(); err != nil {
		p.log.Error("writing the active pattern set to Redis failed; other processes will load it from the database", "version", set.Version, "err", err)
		return
	}
	if err := p.rdb.Publish(ctx, p.channel, set.Version).Err(); err != nil {
		p.log.Error("announcing the active pattern set failed; other processes will load it from the database", "version", set.Version, "err", err)
	}
}

func (p *patternServer) swap(set *servedSet) {
	p.loaded.Store(true)
	old := p.cur.Load()
	if old != nil && old.Version == set.Version && bytes.Equal(old.Body, set.Body) {
		return // the same bytes: keep the copy, and its gzip
	}
	p.cur.Store(set)
	// Compress now rather than on the first request: apps fetch a new
	// version all at once, after its webhook.
	go set.gzipped()
	if old == nil || old.Version != set.Version {
		p.log.Info("serving pattern set", "version", set.Version)
		if p.swaps != nil {
			p.swaps(set.Version)
		}
	}
}

// reload fetches the active set from Redis, or from the database when Redis
// has none or is down, and swaps it in.
func (p *patternServer) reload(ctx context.Context) error {
	if p.rdb != nil {
		raw, err := p.rdb.Get(ctx, p.key).Bytes()
		switch {
		case err == nil:
			if set, ok := decodeServedSet(raw); ok {
				p.swap(set)
				return nil
			}
		case !errors.Is(err, redis.Nil):
			p.markDegraded(err)
		}
	}
	return p.reloadFromDB(ctx)
}

func (p *patternServer) reloadFromDB(ctx context.Context) error {
	_, name, err := p.store.activeID(ctx)
	if err != nil {
		return err
	}
	if name == "" {
		p.loaded.Store(true)
		return nil
	}
	if cur := p.cur.Load(); cur != nil && cur.Version == name {
		p.loaded.Store(true)
		return nil
	}
	row, err := p.store.version(ctx, name)
	if err != nil {
		return err
	}
	set := newServedSet(row, storedPatterns(row.PatternData))
	p.swap(set)
	if p.rdb != nil && !p.degraded.Load() {
		// The database is the truth: correct Redis for the other processes
		// (first start, a flushed Redis, an activation Redis never heard of).
		_ = p.rdb.Set(ctx, p.key, set.encode(), 0).Err()
	}
	return nil
}

func (p *patternServer) markDegraded(err error) {
	if p.degraded.CompareAndSwap(false, true) {
		p.log.Warn("Redis unavailable: serving the last pattern set and polling the database", "err", err)
	}
}

// Start loads the active set and follows activations until Stop.
func (p *patternServer) Start(ctx context.Context) {
	ctx, p.stop = context.WithCancel(context.WithoutCancel(ctx))
	if err := p.reload(ctx); err != nil {
		p.log.Warn("loading the active pattern set failed; will retry", "err", err)
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.follow(ctx)
	}()
}

// follow listens on the channel; whenever the subscription breaks it falls
// back to polling until it can subscribe again.
func (p *patternServer) follow(ctx context.Context) {
	poll := time.NewTicker(p.poll)
	defer poll.Stop()
	for ctx.Err() == nil {
		var msgs <-chan *redis.Message
		var sub *redis.PubSub
		if p.rdb != nil {
			sub = p.rdb.Subscribe(ctx, p.channel)
			if _, err := sub.Receive(ctx); err != nil {
				_ = sub.Close()
				sub = nil
				p.markDegraded(err)
			} else {
				if p.degraded.CompareAndSwap(true, false) {
					p.log.Info("Redis is back: following pattern set activations again")
				}
				// A message may have been missed while unsubscribed.
				_ = p.reload(ctx)
				msgs = sub.Channel(redis.WithChannelHealthCheckInterval(5 * time.Second))
			}
		}
	loop:
		for {
			select {
			case <-ctx.Done():
				break loop
			case msg, ok := <-msgs:
				if !ok {
					p.markDegraded(errors.New("subscription closed"))
					break loop
				}
				if cur := p.cur.Load(); cur != nil && cur.Version == msg.Payload {
					continue // this process's own activation, already swapped in
				}
				if err := p.reload(ctx); err != nil {
					p.log.Warn("reloading the active pattern set failed", "err", err)
				}
			case <-poll.C:
				if err := p.reloadFromDB(ctx); err != nil && ctx.Err() == nil {
					p.log.Warn("polling the active pattern set failed", "err", err)
				}
				if p.rdb != nil {
					// A closed or broken connection does not always close the
					// subscription's channel: check Redis itself.
					if err := p.rdb.Ping(ctx).Err(); err != nil {
						p.markDegraded(err)
					} else if sub == nil || p.degraded.Load() {
						break loop // subscribe again
					}
				}
			}
		}
		if sub != nil {
			_ = sub.Close()
		}
	}
}

// Stop ends the loop.
func (p *patternServer) Stop(ctx context.Context) error {
	if p.stop == nil {
		return nil
	}
	p.stop()
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// initPatterns wires the pattern-set parts of s from d.
func (s *Service) initPatterns(d Deps) {
	s.patterns = &patternStore{db: d.DB.Gorm, dialect: d.DB.Dialect}
	poll := d.PatternPoll
	if poll <= 0 {
		poll = 10 * time.Second
	}
	s.serving = &patternServer{store: s.patterns, log: s.log, poll: poll}
	if d.Cache != nil {
		s.rdb = d.Cache.Client
		s.serving.rdb = d.Cache.Client
		s.serving.key = d.Cache.Key("datapool", "patterns", "active")
		s.serving.channel = PatternsChannel(d.Cache)
	} else {
		s.serving.key = "datapool:patterns:active"
	}
	hc := d.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	s.webhooks = webhook.New(d.DB, hc, s.log.With("component", "webhooks"), d.Webhooks)
}

// PatternsChannel is the Redis channel on which activations are announced
// (the payload is the version name), for other modules that follow them.
func PatternsChannel(c *cache.Cache) string { return c.Key("datapool", "patterns", "changed") }

package ratelimit

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Limiter takes a token from bucket name, which refills at rate tokens per
// second up to burst. When none is left it returns false and how long
// until one is. rate ≤ 0 means unlimited. On an error (Redis unreachable)
// it returns true with the error: callers decide, ocrpool's guard fails
// open.
type Limiter interface {
	Allow(ctx context.Context, name string, rate, burst float64) (bool, time.Duration, error)
}

// script takes one token from the bucket KEYS[1] refilled at ARGV[1]
// tokens per second up to ARGV[2]. It returns {allowed (0/1), wait in
// microseconds until a token is available}.
var script = redis.NewScript(`
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
local elapsed = now - ts
if elapsed < 0 then elapsed = 0 end
tokens = math.min(burst, tokens + elapsed * rate / 1000000)
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = math.ceil((1 - tokens) * 1000000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, wait}
`)

// Redis keeps buckets in Redis under a key prefix, shared by every
// process using that Redis.
type Redis struct {
	rdb    *redis.Client
	prefix string
}

// NewRedis returns a Limiter whose buckets are the Redis keys prefix+name.
func NewRedis(rdb *redis.Client, prefix string) *Redis {
	return &Redis{rdb: rdb, prefix: prefix}
}

// Allow implements Limiter.
func (l *Redis) Allow(ctx context.Context, name string, rate, burst float64) (bool, time.Duration, error) {
	if rate <= 0 {
		return true, 0, nil
	}
	burst = math.Max(burst, 1)
	res, err := script.Run(ctx, l.rdb, []string{l.prefix + name}, rate, burst).Int64Slice()
	if err != nil {
		return true, 0, fmt.Errorf("ratelimit: %w", err)
	}
	if len(res) != 2 {
		return true, 0, fmt.Errorf("ratelimit: unexpected script reply %v", res)
	}
	return res[0] == 1, time.Duration(res[1]) * time.Microsecond, nil
}

// Local keeps buckets in this process. It is what a process on the
// embedded miniredis uses: such a process cannot share Redis with another
// (split roles are refused on it), and miniredis interprets the Lua script
// afresh on every call, which costs more than the request it limits.
type Local struct {
	mu      sync.Mutex
	buckets map[string]*bucket
	now     func() time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

// maxLocal bounds the buckets kept; over it, full (idle) ones are dropped.
const maxLocal = 10_000

// NewLocal returns an in-process Limiter.
func NewLocal() *Local {
	return &Local{buckets: map[string]*bucket{}, now: time.Now}
}

// Allow implements Limiter, with the same arithmetic as the Redis script.
func (l *Local) Allow(_ context.Context, name string, rate, burst float64) (bool, time.Duration, error) {
	if rate <= 0 {
		return true, 0, nil
	}
	burst = math.Max(burst, 1)
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.buckets[name]
	if !ok {
		if len(l.buckets) >= maxLocal {
			l.prune(now, rate, burst)
		}
		b = &bucket{tokens: burst, at: now}
		l.buckets[name] = b
	}
	b.tokens = math.Min(burst, b.tokens+max(0, now.Sub(b.at).Seconds())*rate)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0, nil
	}
	wait := time.Duration(math.Ceil((1 - b.tokens) / rate * float64(time.Second)))
	return false, wait, nil
}

// prune drops buckets that would be full again by now: forgetting them
// changes nothing.
func (l *Local) prune(now time.Time, rate, burst float64) {
	for name, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*rate >= burst {
			delete(l.buckets, name)
		}
	}
}

package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ocrpool/ocrpool/modules/platform/ratelimit"
	"github.com/ocrpool/ocrpool/modules/platform/testenv"
)

// limiters returns n limiters on one Redis (n replicas), each with its own
// client.
func limiters(t *testing.T, n int) []ratelimit.Limiter {
	t.Helper()
	cfg := testenv.RedisConfig(t)
	opts, err := redis.ParseURL(cfg.URL)
	if err != nil {
		t.Fatal(err)
	}
	var out []ratelimit.Limiter
	for range n {
		rdb := redis.NewClient(opts)
		t.Cleanup(func() { rdb.Close() })
		out = append(out, ratelimit.NewRedis(rdb, cfg.KeyPrefix+"rl:"))
	}
	return out
}

func TestBucket(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	local := ratelimit.NewLocal()
	for name, ls := range map[string][]ratelimit.Limiter{
		"redis": limiters(t, 2),
		"local": {local, local}, // one process: both "replicas" are the same
	} {
		t.Run(name, func(t *testing.T) { testBucket(ctx, t, ls) })
	}
}

func testBucket(ctx context.Context, t *testing.T, ls []ratelimit.Limiter) {
	// A refill rate so slow that no token comes back during the test.
	const rate, burst = 0.001, 3
	tests := []struct {
		name string
		l    int
		key  string
		want bool
	}{
		{"first", 0, "k1", true},
		{"second, other replica", 1, "k1", true},
		{"third", 0, "k1", true},
		{"burst spent", 1, "k1", false},
		{"still spent on the other replica", 0, "k1", false},
		{"other key has its own bucket", 0, "k2", true},
	}
	for _, tt := range tests {
		ok, wait, err := ls[tt.l].Allow(ctx, tt.key, rate, burst)
		if err != nil {
			t.Fatal(err)
		}
		if ok != tt.want {
			t.Fatalf("%s: Allow = %v, want %v", tt.name, ok, tt.want)
		}
		if !ok && (wait < 900*time.Second || wait > 1000*time.Second) {
			t.Fatalf("%s: wait = %s, want about 1000s (one token at %g/s)", tt.name, wait, rate)
		}
	}
}

func TestUnlimitedAndRefill(t *testing.T) {
	t.Parallel()
	for name, l := range map[string]ratelimit.Limiter{"redis": limiters(t, 1)[0], "local": ratelimit.NewLocal()} {
		t.Run(name, func(t *testing.T) { testUnlimitedAndRefill(t, l) })
	}
}

func testUnlimitedAndRefill(t *testing.T, l ratelimit.Limiter) {
	ctx := context.Background()
	for range 100 {
		if ok, _, err := l.Allow(ctx, "free", 0, 0); !ok || err != nil {
			t.Fatalf("rate 0 = %v, %v; want unlimited", ok, err)
		}
	}
	// 50 tokens per second, burst 1: refused at once, allowed again after
	// the wait it reports.
	if ok, _, _ := l.Allow(ctx, "r", 50, 1); !ok {
		t.Fatal("first request refused")
	}
	ok, wait, err := l.Allow(ctx, "r", 50, 1)
	if ok || err != nil || wait <= 0 || wait > 20*time.Millisecond {
		t.Fatalf("second request = %v, %s, %v; want refused with a wait ≤ 20ms", ok, wait, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		time.Sleep(wait)
		if ok, wait, _ = l.Allow(ctx, "r", 50, 1); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("bucket never refilled")
		}
	}
}

func TestRedisDownFailsOpen(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer rdb.Close()
	ok, _, err := ratelimit.NewRedis(rdb, "x:").Allow(context.Background(), "k", 1, 1)
	if !ok || err == nil {
		t.Fatalf("Allow with Redis down = %v, %v; want allowed with an error", ok, err)
	}
}

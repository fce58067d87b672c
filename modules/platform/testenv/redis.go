package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ocrpool/ocrpool/config"
	"github.com/ocrpool/ocrpool/modules/platform/cache"
)

// RedisURLEnv names the variable that points tests at a real Redis. Unset,
// tests use miniredis.
const RedisURLEnv = "OCRPOOL_TEST_REDIS_URL"

// Redis returns an open cache for one test, closed on Cleanup. With
// OCRPOOL_TEST_REDIS_URL set it talks to that server under a fresh random
// key prefix (test:<hex>:), whose keys are deleted on Cleanup so parallel
// runs and reruns do not see each other; otherwise it is an embedded
// miniredis, exactly as cache.Open starts it for a laptop.
func Redis(tb testing.TB) *cache.Cache {
	tb.Helper()
	var cfg config.RedisConfig
	if os.Getenv(RedisURLEnv) != "" {
		cfg = RedisConfig(tb)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := cache.Open(ctx, cfg)
	if err != nil {
		tb.Fatalf("testenv: open redis: %v", err)
	}
	// Registered after RedisConfig's key cleanup, so it runs first: the
	// client is closed before the keys are swept with a client of its own.
	tb.Cleanup(func() {
		if err := c.Close(); err != nil {
			tb.Errorf("testenv: close redis: %v", err)
		}
	})
	return c
}

// RedisConfig returns an isolated Redis configuration for tests that open
// their own clients, e.g. two schedulers standing for two processes that
// share one Redis. With OCRPOOL_TEST_REDIS_URL set it is that server under a
// fresh key prefix, swept on Cleanup. Otherwise it is the URL of a miniredis
// started for this test (stopped on Cleanup): an empty URL would give every
// cache.Open its own private miniredis, and nothing would be shared.
func RedisConfig(tb testing.TB) config.RedisConfig {
	tb.Helper()
	prefix := "test:" + randomRedisHex() + ":"
	url := os.Getenv(RedisURLEnv)
	if url == "" {
		mr := miniredis.RunT(tb)
		mr.ClockTTL(true) // expiry on the wall clock, as cache.Open does
		return config.RedisConfig{URL: "redis://" + mr.Addr(), KeyPrefix: prefix}
	}

	opts, err := redis.ParseURL(url)
	if err != nil {
		tb.Fatalf("testenv: parse %s: %v", RedisURLEnv, err)
	}
	tb.Cleanup(func() {
		// The test's context is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := deleteRedisPrefix(ctx, opts, prefix); err != nil {
			tb.Errorf("testenv: delete keys %s*: %v", prefix, err)
		}
	})
	return config.RedisConfig{URL: url, KeyPrefix: prefix}
}

// deleteRedisPrefix removes every key under prefix with SCAN + DEL: KEYS
// would block a shared server, and the prefix is random hex, so it needs no
// glob escaping.
func deleteRedisPrefix(ctx context.Context, opts *redis.Options, prefix string) error {
	rdb := redis.NewClient(opts)
	defer func() { _ = rdb.Close() }()
	var cursor uint64
	for {
		keys, next, err := rdb.Scan(ctx, cursor, prefix+"*", 500).Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			if err := rdb.Del(ctx, keys...).Err(); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// randomRedisHex is 64 random bits: enough that concurrent runs on one
// server never pick the same prefix. (crypto/rand.Read cannot fail.)
func randomRedisHex() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

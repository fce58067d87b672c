package cache

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ocrpool/ocrpool/config"
)

func TestOpenEmbeddedRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c, err := Open(ctx, config.RedisConfig{KeyPrefix: "t:"})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })

	if !c.Embedded() {
		t.Fatal("Embedded() = false with an empty URL")
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	k := c.Key("greeting")
	if err := c.Client.Set(ctx, k, "hello", 0).Err(); err != nil {
		t.Fatalf("Set: %v", err)
	}
	got, err := c.Client.Get(ctx, k).Result()
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got != "hello" {
		t.Fatalf("Get = %q, want %q", got, "hello")
	}
}

func TestEmbeddedTTLFollowsWallClock(t *testing.T) {
	t.Parallel()
	// Locks and cache entries rely on expiry, which miniredis only does on
	// the wall clock when asked to.
	ctx := t.Context()
	c, err := Open(ctx, config.RedisConfig{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })

	if err := c.Client.Set(ctx, "short", "v", 50*time.Millisecond).Err(); err != nil {
		t.Fatalf("Set: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := c.Client.Exists(ctx, "short").Result()
		if err != nil {
			t.Fatalf("Exists: %v", err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("key with a 50ms TTL still exists after 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		prefix string
		parts  []string
		want   string
	}{
		{"prefix and parts", "ocrpool:", []string{"datapool", "patterns", "active"}, "ocrpool:datapool:patterns:active"},
		{"no prefix", "", []string{"a", "b"}, "a:b"},
		{"single part", "p:", []string{"x"}, "p:x"},
		{"no parts", "p:", nil, "p:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Cache{Prefix: tt.prefix}
			if got := c.Key(tt.parts...); got != tt.want {
				t.Fatalf("Key(%q) = %q, want %q", tt.parts, got, tt.want)
			}
		})
	}
}

func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, err := Open(ctx, config.RedisConfig{URL: "redis://:secret@127.0.0.1:1/0"})
	if err == nil {
		_ = c.Close()
		t.Fatal("Open succeeded against 127.0.0.1:1")
	}
	if !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("error %q does not name the address", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Fatalf("error %q leaks the password", err)
	}
}

func TestOpenBadURL(t *testing.T) {
	t.Parallel()
	_, err := Open(t.Context(), config.RedisConfig{URL: "http://example.com"})
	if err == nil {
		t.Fatal("Open accepted an http:// URL")
	}
}

func TestCloseStopsMiniredis(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c, err := Open(ctx, config.RedisConfig{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	addr := c.Client.Options().Addr
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	other := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer func() { _ = other.Close() }()
	if err := other.Ping(ctx).Err(); err == nil {
		t.Fatalf("a new client still reaches %s after Close", addr)
	}
}

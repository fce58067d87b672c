// Package cache is ocrpool's one Redis connection: a go-redis client pointed
// either at the configured server or, when no URL is configured, at an
// in-process miniredis. Everything else (caches, pub/sub, streams, locks) uses
// go-redis the same way in both cases, so there is one code path.
package cache

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ocrpool/ocrpool/config"
)

// Cache is the process's Redis client and its key prefix.
type Cache struct {
	Client *redis.Client
	// Prefix is put before every key (see Key), so several deployments or
	// test runs can share one Redis.
	Prefix string

	mr *miniredis.Miniredis // nil when talking to a real server

	closeOnce sync.Once
	closeErr  error
}

// Open connects to cfg.URL (redis:// or rediss://) or, when it is empty,
// starts an in-process miniredis and points go-redis at it. It pings before
// returning so a wrong address fails at start, not at the first request.
func Open(ctx context.Context, cfg config.RedisConfig) (*Cache, error) {
	var (
		opts *redis.Options
		mr   *miniredis.Miniredis
	)
	if cfg.URL == "" {
		mr = miniredis.NewMiniRedis()
		// miniredis only ages TTLs on FastForward by default (it is built for
		// unit tests); the embedded mode is a real runtime, where cache
		// entries and lock keys must expire on the wall clock.
		mr.ClockTTL(true)
		if err := mr.Start(); err != nil {
			return nil, fmt.Errorf("cache: start embedded miniredis: %w", err)
		}
		opts = &redis.Options{Addr: mr.Addr()}
	} else {
		var err error
		opts, err = redis.ParseURL(cfg.URL)
		if err != nil {
			// The URL may hold a password: do not echo it.
			return nil, fmt.Errorf("cache: parse redis url: %w", err)
		}
	}

	c := &Cache{Client: redis.NewClient(opts), Prefix: cfg.KeyPrefix, mr: mr}
	if err := c.Client.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		// opts.Addr is host:port only, never the credentials.
		return nil, fmt.Errorf("cache: connect to redis at %s: %w", opts.Addr, err)
	}
	return c, nil
}

// Key builds a key under the prefix: Key("datapool", "patterns", "active")
// is Prefix+"datapool:patterns:active".
func (c *Cache) Key(parts ...string) string {
	return c.Prefix + strings.Join(parts, ":")
}

// Embedded reports whether Redis is the in-process miniredis, which cannot
// be shared with other processes.
func (c *Cache) Embedded() bool { return c.mr != nil }

// Ping checks that Redis answers; it backs the readiness probe.
func (c *Cache) Ping(ctx context.Context) error {
	if err := c.Client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("cache: ping: %w", err)
	}
	return nil
}

// Close closes the client, then stops miniredis if it was started here.
// The client goes first so no command is in flight against a stopped
// server. Calling Close again returns the first result.
func (c *Cache) Close() error {
	c.closeOnce.Do(func() {
		if err := c.Client.Close(); err != nil {
			c.closeErr = fmt.Errorf("cache: close client: %w", err)
		}
		if c.mr != nil {
			c.mr.Close()
		}
	})
	return c.closeErr
}

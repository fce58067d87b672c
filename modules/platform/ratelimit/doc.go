// Package ratelimit is a token bucket per name (an API key id) kept in
// Redis, so every replica of a role spends from the same bucket: a key
// limited to 50 requests per second gets 50 in total, not 50 per process.
//
// One Lua script refills the bucket from the time elapsed since its last
// use (Redis's own clock, so replicas' clock skew does not matter) and
// takes a token, atomically. A bucket idle long enough to be full again
// expires, so idle keys cost nothing.
//
// A process on the embedded miniredis, which no other process can share,
// uses Local, the same bucket in memory.
//
// When Redis cannot be reached, Allow reports the error and callers let
// the request through (fail open): a Redis outage must not become an API
// outage, and /readyz already reports it.
package ratelimit

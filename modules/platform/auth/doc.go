// Package auth owns who may call ocrpool: the permissions and roles every
// route declares (perm.go), the API keys stored in the api_keys table
// (keys.go), their format (key.go) and the Principal a request carries once
// its key is accepted (principal.go).
//
// A key looks like ocp_live_<43 base62 characters> (production) or
// ocp_test_… (any other environment): 256 random bits from crypto/rand.
// Only its SHA-256 (hex) and a short display prefix are stored; a key is
// looked up by that hash, so no secret is ever compared byte by byte and
// the comparison leaks no timing.
//
// Keys caches accepted lookups in process for security.key_cache_ttl
// (default 5 s): that is the longest a key revoked by another process may
// still be accepted here. A revocation is also published on Redis
// (<prefix>auth:revoked) and every process drops the key from its cache at
// once, so in practice a revoked key stops working within milliseconds;
// the TTL only bounds the case where the message is lost (a Redis blip).
// Unknown keys are never cached, so a key created by another process works
// on its first request here. last_used_at is kept in memory and written in
// one UPDATE every few seconds and on Close, never once per request.
//
// The package knows nothing of HTTP: the guard package turns a route's
// Permission into middleware, and it records the audit rows.
package auth

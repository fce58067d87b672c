// Package guard is the server.Guard of every ocrpool process: the
// middleware that turns a route's declared permission into enforcement,
// and the key-management endpoints (/api-keys…). It lives apart from
// package auth because package server imports auth for Permission, and
// the guard needs server (Error, Route) as well as auth, audit and
// ratelimit.
//
// For a route declared auth.Public the guard adds nothing. For any other
// route, in order:
//
//  1. Authorization: Bearer <key> is checked: a missing, malformed,
//     unknown, expired or revoked key is 401 (apierr.Unauthenticated);
//  2. the key's role must hold the route's permission, else 403
//     (apierr.Forbidden);
//  3. the key's token bucket (security.rate_limits.<role>, burst = rate ×
//     burst_seconds, shared across replicas through Redis) must have a
//     token, else 429 (apierr.RateLimited) with Retry-After in seconds;
//  4. the handler runs, with the auth.Principal in the request context;
//  5. one audit row is recorded for the request, whatever happened above
//     (a panic included): actor (the key id, never the key; "anonymous"
//     when no key was recognised), the route's action and resource, the
//     :id or :v path parameter as resource id, IP, user agent, success
//     (status < 400) and the error message the client got.
package guard

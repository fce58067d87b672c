// Package requestid carries the request id through a context, so logs,
// audit rows and calls to peers name the request that caused them.
package requestid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
)

// Header is the HTTP header that carries the id between processes.
const Header = "X-Request-ID"

type ctxKey struct{}

// NewContext returns ctx carrying id.
func NewContext(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the id in ctx, or "".
func FromContext(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// New returns a fresh random id.
func New() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// Valid reports whether a client-supplied id is safe to echo and log: short,
// only letters, digits, '-', '_' and '.', and not an API key pasted into
// the wrong header (keys start with "ocp_").
func Valid(id string) bool {
	if id == "" || len(id) > 64 || strings.HasPrefix(strings.ToLower(id), "ocp_") {
		return false
	}
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
		default:
			return false
		}
	}
	return true
}

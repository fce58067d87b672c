package auth

import "context"

// Principal is the caller of a request whose API key was accepted.
type Principal struct {
	// KeyID is the api_keys.key_id: what logs and the audit log name,
	// never the key itself.
	KeyID       string
	Role        Role
	AppName     string
	Environment string
}

// ctxKey is unexported so only this package can put a Principal in a
// context: nothing else can forge one.
type ctxKey struct{}

// NewContext returns ctx carrying p.
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the Principal of the request ctx belongs to. ok is
// false on public routes and outside requests.
func FromContext(ctx context.Context) (p Principal, ok bool) {
	p, ok = ctx.Value(ctxKey{}).(Principal)
	return p, ok
}

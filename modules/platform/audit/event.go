package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ocrpool/ocrpool/modules/platform/auth"
)

// Actor types. An API key's role decides its actor type: app keys are
// "app", training_service keys are "service" (a program), admin keys are
// "user" (an operator), as is the CLI ("cli:<os user>"). "system" is
// ocrpool itself (the first-start admin key, scheduled jobs) and
// "anonymous" a request without a usable key.
const (
	ActorApp       = "app"
	ActorService   = "service"
	ActorUser      = "user"
	ActorSystem    = "system"
	ActorAnonymous = "anonymous"
)

// Event is one audit row before it is written.
type Event struct {
	// Time is when it happened; zero means now.
	Time time.Time
	// ActorType is one of the Actor constants; ActorID names the actor:
	// an API key id (never the key), "cli:<os user>", "anonymous".
	ActorType string
	ActorID   string
	// Action and ResourceType say what was done to what ("create",
	// "api_key"); ResourceID names the resource when there is one.
	Action       string
	ResourceType string
	ResourceID   string
	// Details is free-form context, stored as JSON. Record adds the
	// request id from the context, and owns the map from then on: do not
	// change it after Record. Never put secrets or raw personal data here.
	Details   map[string]any
	IP        string
	UserAgent string
	Success   bool
	// Error is the message the caller got when Success is false.
	Error string
}

// Column limits of audit_log (VARCHAR(n) on PostgreSQL, CHECK on SQLite),
// and caps for the free-text columns.
const (
	maxActorType = 20
	maxActorID   = 100
	maxAction    = 50
	maxResource  = 50
	maxResID     = 100
	maxUserAgent = 512
	maxError     = 1000
)

// genesis is the prev_hash of the first row.
var genesis = strings.Repeat("0", 64)

// tsLayout is the timestamp in the canonical content: UTC, microseconds,
// which both dialects store exactly.
const tsLayout = "2006-01-02T15:04:05.000000Z"

// toRow turns ev (of request reqID) into a row that every dialect accepts: valid UTF-8
// without NUL (PostgreSQL refuses both), within the column limits, a valid
// IP or none. A row the database refused would block the writer, so
// everything is made acceptable here.
func toRow(ev Event, reqID string) row {
	t := ev.Time
	if t.IsZero() {
		t = time.Now()
	}
	details := ev.Details
	if id := reqID; id != "" && !auth.LooksLikeKey(id) {
		if _, ok := details["request_id"]; !ok {
			d := make(map[string]any, len(details)+1)
			for k, v := range details {
				d[k] = v
			}
			d["request_id"] = id
			details = d
		}
	}
	r := row{
		Timestamp:    t.UTC().Truncate(time.Microsecond),
		ActorType:    orDefault(clean(ev.ActorType, maxActorType), ActorSystem),
		ActorID:      orDefault(clean(ev.ActorID, maxActorID), "unknown"),
		Action:       orDefault(clean(ev.Action, maxAction), "unknown"),
		ResourceType: orDefault(clean(ev.ResourceType, maxResource), "unknown"),
		ResourceID:   ptr(clean(ev.ResourceID, maxResID)),
		IPAddress:    ptr(canonIP(ev.IP)),
		UserAgent:    ptr(clean(ev.UserAgent, maxUserAgent)),
		Success:      ev.Success,
		ErrorMessage: ptr(clean(ev.Error, maxError)),
	}
	if len(details) > 0 {
		b, err := json.Marshal(sanitize(details))
		if err != nil {
			b = []byte(`{"error":"details could not be encoded as JSON"}`)
		}
		r.Details = ptr(canonicalJSON(string(b)))
	}
	return r
}

// clean makes s valid UTF-8 without NUL and at most n characters.
func clean(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// sanitize applies clean's character rules to every string in a decoded
// JSON value (PostgreSQL's JSONB refuses \u0000 too).
func sanitize(v any) any {
	switch x := v.(type) {
	case string:
		return clean(x, 1<<20)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[clean(k, 200)] = sanitize(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = sanitize(e)
		}
		return out
	}
	return v
}

// canonicalJSON is the one encoding of a JSON text: decoded and encoded
// again by encoding/json (sorted keys, no spaces). PostgreSQL hands JSONB
// back reformatted; canonicalJSON of what it returns equals canonicalJSON
// of what was stored. "" and "null" are "".
func canonicalJSON(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || s == "null" {
		return ""
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return s
	}
	b, err := json.Marshal(sanitize(v))
	if err != nil {
		return s
	}
	return string(b)
}

// canonIP returns the address in s in its standard form ("" when s is not
// one). PostgreSQL's INET may hand back "127.0.0.1/32" for "127.0.0.1".
func canonIP(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if p, err := netip.ParsePrefix(s); err == nil {
		if p.Bits() == p.Addr().BitLen() {
			return p.Addr().Unmap().String()
		}
		return p.String()
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.WithZone("").Unmap().String()
	}
	return ""
}

// chainHash is row_hash for r after prev: SHA-256 over prev, a newline
// and r's canonical content.
func chainHash(prev string, r *row) string {
	content := []any{
		r.ID, r.Timestamp.UTC().Format(tsLayout),
		r.ActorType, r.ActorID, r.Action, r.ResourceType, deref(r.ResourceID),
		canonicalJSON(deref(r.Details)), canonIP(deref(r.IPAddress)), deref(r.UserAgent),
		r.Success, deref(r.ErrorMessage),
	}
	b, _ := json.Marshal(content) // strings, numbers and bools always encode
	h := sha256.New()
	h.Write([]byte(prev))
	h.Write([]byte{'\n'})
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

func ptr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

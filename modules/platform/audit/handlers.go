package audit

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ocrpool/ocrpool/modules/platform/apierr"
	"github.com/ocrpool/ocrpool/modules/platform/auth"
	"github.com/ocrpool/ocrpool/modules/platform/server"
)

// Gin context keys a handler uses to add to its request's audit row.
const (
	resourceIDKey = "ocrpool.audit.resource_id"
	detailsKey    = "ocrpool.audit.details"
)

// SetResourceID names the resource a request acted on when its path does
// not (the id of a key just created, say). The guard writes it in the
// request's audit row.
func SetResourceID(c *gin.Context, id string) { c.Set(resourceIDKey, id) }

// AddDetail adds key: value to the details of the request's audit row.
// Never pass secrets or raw personal data.
func AddDetail(c *gin.Context, key string, value any) {
	d, _ := c.Value(detailsKey).(map[string]any)
	if d == nil {
		d = map[string]any{}
		c.Set(detailsKey, d)
	}
	d[key] = value
}

// Annotations returns what SetResourceID and AddDetail put on c.
func Annotations(c *gin.Context) (resourceID string, details map[string]any) {
	resourceID, _ = c.Value(resourceIDKey).(string)
	details, _ = c.Value(detailsKey).(map[string]any)
	return resourceID, details
}

// List returns the rows q selects, newest first (see the package-level
// List).
func (l *Logger) List(ctx context.Context, q Query) (Page, error) { return List(ctx, l.db, q) }

// Routes are the audit log's HTTP endpoints: GET /audit/log (admin).
func Routes(l *Logger) []server.Route {
	return []server.Route{{
		Method: http.MethodGet, Path: "/audit/log", Perm: auth.PermAuditRead,
		Action: "read", Resource: "audit_log",
		Handler: func(c *gin.Context) { handleList(c, l) },
	}}
}

// listParams are the query parameters of GET /audit/log.
var paramName = regexp.MustCompile(`^[a-z_]{1,32}$`)

var listParams = map[string]bool{
	"actor": true, "actor_type": true, "action": true, "resource_type": true, "resource_id": true,
	"since": true, "until": true, "success": true, "limit": true, "cursor": true,
}

func handleList(c *gin.Context, l *Logger) {
	q, err := parseQuery(c)
	if err != nil {
		server.Error(c, err)
		return
	}
	page, err := l.List(c.Request.Context(), q)
	if err != nil {
		server.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, page)
}

func parseQuery(c *gin.Context) (Query, error) {
	vals := c.Request.URL.Query()
	for k, v := range vals {
		if !listParams[k] {
			// Named only when it looks like a parameter name: whatever
			// else was sent is not echoed.
			if !paramName.MatchString(k) {
				k = "query"
			}
			return Query{}, apierr.Field(k, "unknown query parameter")
		}
		if len(v) > 1 {
			return Query{}, apierr.Field(k, "given more than once")
		}
	}
	q := Query{
		ActorID: vals.Get("actor"), ActorType: vals.Get("actor_type"), Action: vals.Get("action"),
		ResourceType: vals.Get("resource_type"), ResourceID: vals.Get("resource_id"), Cursor: vals.Get("cursor"),
	}
	for _, tp := range []struct {
		name string
		dst  **time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		if s := vals.Get(tp.name); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return Query{}, apierr.Field(tp.name, "must be an RFC 3339 time such as 2025-01-31T00:00:00Z")
			}
			*tp.dst = &t
		}
	}
	if s := vals.Get("success"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return Query{}, apierr.Field("success", "must be true or false")
		}
		q.Success = &b
	}
	if s := vals.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			return Query{}, apierr.Field("limit", "must be between 1 and %d", MaxLimit)
		}
		q.Limit = n
	}
	return q, nil
}

package guard

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ocrpool/ocrpool/modules/platform/apierr"
	"github.com/ocrpool/ocrpool/modules/platform/audit"
	"github.com/ocrpool/ocrpool/modules/platform/auth"
	"github.com/ocrpool/ocrpool/modules/platform/server"
)

// KeyRoutes are the admin endpoints that manage API keys. Each request
// leaves its audit row through the guard; the handlers add the key's id
// and identity to it.
func KeyRoutes(keys *auth.Keys) []server.Route {
	h := keyHandlers{keys: keys}
	return []server.Route{
		{Method: http.MethodPost, Path: "/api-keys/create", Perm: auth.PermKeysManage,
			Action: "create", Resource: "api_key", Handler: h.create},
		{Method: http.MethodGet, Path: "/api-keys", Perm: auth.PermKeysManage,
			Action: "list", Resource: "api_key", Handler: h.list},
		{Method: http.MethodPost, Path: "/api-keys/:id/revoke", Perm: auth.PermKeysManage,
			Action: "revoke", Resource: "api_key", Handler: h.revoke},
	}
}

type keyHandlers struct{ keys *auth.Keys }

// createRequest is the body of POST /api-keys/create. expires_in ("90d",
// "12h") and expires_at (RFC 3339) are alternatives; neither means the key
// does not expire.
type createRequest struct {
	Role        string `json:"role"`
	AppName     string `json:"app_name"`
	Environment string `json:"environment"`
	ExpiresIn   string `json:"expires_in"`
	ExpiresAt   string `json:"expires_at"`
	Notes       string `json:"notes"`
}

func (h keyHandlers) create(c *gin.Context) {
	var req createRequest
	if err := server.DecodeJSON(c, &req); err != nil {
		server.Error(c, err)
		return
	}
	now := time.Now()
	n := auth.NewKey{
		Role: auth.Role(req.Role), AppName: req.AppName, Environment: req.Environment, Notes: req.Notes,
	}
	if p, ok := auth.FromContext(c.Request.Context()); ok {
		n.CreatedBy = "key:" + p.KeyID
	}
	switch {
	case req.ExpiresIn != "" && req.ExpiresAt != "":
		server.Error(c, apierr.Field("expires_at", "give expires_in or expires_at, not both"))
		return
	case req.ExpiresIn != "":
		t, err := auth.ParseExpiry(req.ExpiresIn, now)
		if err != nil {
			server.Error(c, apierr.Field("expires_in", "must be a positive number of days (90d), weeks (2w) or a duration (12h)"))
			return
		}
		n.ExpiresAt = t
	case req.ExpiresAt != "":
		t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(req.ExpiresAt))
		if err != nil {
			server.Error(c, apierr.Field("expires_at", "must be an RFC 3339 time such as 2026-01-31T00:00:00Z"))
			return
		}
		n.ExpiresAt = &t
	}
	created, err := h.keys.Create(c.Request.Context(), n)
	if err != nil {
		server.Error(c, err)
		return
	}
	annotate(c, created.Key)
	// The secret is in this response only: keep it out of caches.
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusCreated, gin.H{
		"key":     created.Secret,
		"api_key": created.Key,
		"warning": "store the key now: it is shown only in this response",
	})
}

func (h keyHandlers) list(c *gin.Context) {
	keys, err := h.keys.List(c.Request.Context())
	if err != nil {
		server.Error(c, err)
		return
	}
	audit.AddDetail(c, "count", len(keys))
	c.JSON(http.StatusOK, gin.H{"api_keys": keys})
}

func (h keyHandlers) revoke(c *gin.Context) {
	key, err := h.keys.Revoke(c.Request.Context(), c.Param("id"))
	if err != nil {
		server.Error(c, err)
		return
	}
	annotate(c, key)
	c.JSON(http.StatusOK, gin.H{"api_key": key})
}

// annotate names key in the request's audit row.
func annotate(c *gin.Context, k auth.Key) {
	audit.SetResourceID(c, k.ID)
	audit.AddDetail(c, "key_prefix", k.Prefix)
	audit.AddDetail(c, "key_role", string(k.Role))
	audit.AddDetail(c, "app_name", k.AppName)
	audit.AddDetail(c, "environment", k.Environment)
	if k.ExpiresAt != nil {
		audit.AddDetail(c, "expires_at", k.ExpiresAt.Format(time.RFC3339))
	}
}

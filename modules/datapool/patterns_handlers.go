package datapool

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ocrpool/ocrpool/modules/datapool/webhook"
	"github.com/ocrpool/ocrpool/modules/platform/apierr"
	"github.com/ocrpool/ocrpool/modules/platform/audit"
	"github.com/ocrpool/ocrpool/modules/platform/auth"
	"github.com/ocrpool/ocrpool/modules/platform/server"
)

// patternRoutes are the /patterns and /webhooks routes.
func (s *Service) patternRoutes() []server.Route {
	r := func(method, path string, perm auth.Permission, action, resource string, h gin.HandlerFunc) server.Route {
		return server.Route{Method: method, Path: path, Perm: perm, Action: action, Resource: resource, Handler: h}
	}
	return []server.Route{
		r(http.MethodGet, "/patterns/global", auth.PermPatternsRead, "get_active", "pattern", s.handlePatternsGlobal),
		r(http.MethodGet, "/patterns/version/:v", auth.PermPatternsRead, "get_version", "pattern", s.handlePatternVersion),
		r(http.MethodGet, "/patterns/versions", auth.PermPatternsRead, "list_versions", "pattern", s.handlePatternVersions),
		r(http.MethodGet, "/patterns/diff", auth.PermPatternsRead, "diff", "pattern", s.handlePatternDiff),
		r(http.MethodGet, "/patterns/history", auth.PermPatternsRead, "history", "pattern", s.handlePatternHistory),
		r(http.MethodPost, "/patterns/refresh", auth.PermPatternsWrite, "refresh", "pattern", s.handlePatternRefresh),
		r(http.MethodPost, "/patterns/rollback/:v", auth.PermPatternsWrite, "rollback", "pattern", s.handlePatternSwitch(actionRollback)),
		r(http.MethodPost, "/patterns/activate/:v", auth.PermPatternsWrite, "activate", "pattern", s.handlePatternSwitch(actionActivate)),
		r(http.MethodPost, "/webhooks", auth.PermWebhooks, "subscribe", "webhook", s.handleWebhookCreate),
		r(http.MethodGet, "/webhooks", auth.PermWebhooks, "list", "webhook", s.handleWebhookList),
		r(http.MethodDelete, "/webhooks/:id", auth.PermWebhooks, "unsubscribe", "webhook", s.handleWebhookDelete),
		r(http.MethodGet, "/webhooks/deliveries", auth.PermWebhooks, "list_deliveries", "webhook", s.handleWebhookDeliveries),
	}
}

// actor names the caller in version history: the API key id.
func actor(c *gin.Context) string {
	if p, ok := auth.FromContext(c.Request.Context()); ok {
		return "key:" + p.KeyID
	}
	return "anonymous"
}

// handlePatternsGlobal serves the active set from memory; a client that
// already has it (If-None-Match: "v12") gets 304 and no body.
func (s *Service) handlePatternsGlobal(c *gin.Context) {
	cur := s.serving.current(c.Request.Context())
	if cur == nil {
		server.Error(c, apierr.New(apierr.NotFound, "no pattern set is active yet: run a refresh (POST /patterns/refresh or `ocrpool patterns refresh`)"))
		return
	}
	etag := etagOf(cur.Version)
	c.Header("ETag", etag)
	c.Header("Cache-Control", "no-cache")
	// One ETag for both codings: it names the version, and without Range
	// requests nothing can mix the bytes of the two. A 304 carries Vary too.
	c.Header("Vary", "Accept-Encoding")
	if etagMatches(c.GetHeader("If-None-Match"), etag) {
		c.Status(http.StatusNotModified)
		return
	}
	audit.SetResourceID(c, cur.Version)
	if acceptsGzip(c.GetHeader("Accept-Encoding")) {
		c.Header("Content-Encoding", "gzip")
		c.Data(http.StatusOK, "application/json; charset=utf-8", cur.gzipped())
		return
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", cur.Body)
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip: named
// (or *) with a q-value above zero.
func acceptsGzip(header string) bool {
	star := false
	for _, item := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(item, ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "x-gzip" && coding != "*" {
			continue
		}
		ok := qValue(params) > 0
		if coding != "*" {
			return ok
		}
		star = ok
	}
	return star
}

// qValue reads "q=0.5" from the parameters of an Accept-Encoding item; 1
// when there is none, 0 when it does not parse.
func qValue(params string) float64 {
	for _, p := range strings.Split(params, ";") {
		name, value, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "q") {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil || q < 0 || q > 1 {
			return 0
		}
		return q
	}
	return 1
}

func etagMatches(header, etag string) bool {
	for _, candidate := range strings.Split(header, ",") {
		candidate = strings.TrimPrefix(strings.TrimSpace(candidate), "W/")
		if candidate == etag || candidate == "*" {
			return true
		}
	}
	return false
}

func (s *Service) handlePatternVersion(c *gin.Context) {
	v := c.Param("v")
	audit.SetResourceID(c, v)
	set, err := s.PatternSetVersion(c.Request.Context(), v)
	if err != nil {
		server.Error(c, err)
		return
	}
	c.Header("ETag", etagOf(set.Version))
	c.JSON(http.StatusOK, set)
}

func (s *Service) handlePatternVersions(c *gin.Context) {
	vs, err := s.PatternVersions(c.Request.Context())
	if err != nil {
		server.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"versions": vs})
}

func (s *Service) handlePatternDiff(c *gin.Context) {
	from, to := c.Query("from"), c.Query("to")
	if from == "" || to == "" {
		field := "from"
		if from != "" {
			field = "to"
		}
		server.Error(c, apierr.Field(field, "is required, e.g. ?from=v3&to=v4"))
		return
	}
	d, err := s.DiffPatterns(c.Request.Context(), from, to)
	if err != nil {
		server.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"from": from, "to": to, "diff": d})
}

// handlePatternHistory lists activations, or with ?at=RFC3339 tells which
// version was live then.
func (s *Service) handlePatternHistory(c *gin.Context) {
	if at := c.Query("at"); at != "" {
		t, err := time.Parse(time.RFC3339, at)
		if err != nil {
			server.Error(c, apierr.Field("at", "must be an RFC 3339 time, e.g. 2026-11-28T12:00:00Z"))
			return
		}
		a, err := s.PatternsLiveAt(c.Request.Context(), t)
		if err != nil {
			server.Error(c, err)
			return
		}
		c.JSON(http.StatusOK, a)
		return
	}
	limit := 100
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			server.Error(c, apierr.Field("limit", "must be a number from 1 to 1000"))
			return
		}
		limit = n
	}
	as, err := s.PatternActivations(c.Request.Context(), limit)
	if err != nil {
		server.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"activations": as})
}

func (s *Service) handlePatternRefresh(c *gin.Context) {
	res, err := s.RefreshPatterns(c.Request.Context(), actor(c))
	if err != nil {
		server.Error(c, err)
		return
	}
	audit.SetResourceID(c, res.Version)
	audit.AddDetail(c, "created", res.Created)
	audit.AddDetail(c, "activated", res.Activated)
	c.JSON(http.StatusOK, res)
}

// switchRequest is the body of rollback and activate.
type switchRequest struct {
	Reason string `json:"reason"`
}

func (s *Service) handlePatternSwitch(action string) gin.HandlerFunc {
	return func(c *gin.Context) {
		v := c.Param("v")
		audit.SetResourceID(c, v)
		var req switchRequest
		if c.Request.ContentLength != 0 {
			if err := server.DecodeJSON(c, &req); err != nil {
				server.Error(c, err)
				return
			}
		}
		if len(req.Reason) > 2000 {
			server.Error(c, apierr.Field("reason", "is longer than 2000 characters"))
			return
		}
		audit.AddDetail(c, "reason", req.Reason)
		var (
			info PatternVersion
			err  error
		)
		if action == actionRollback {
			info, err = s.RollbackPatterns(c.Request.Context(), v, actor(c), req.Reason)
		} else {
			info, err = s.ActivatePatterns(c.Request.Context(), v, actor(c), req.Reason)
		}
		if err != nil {
			server.Error(c, err)
			return
		}
		c.JSON(http.StatusOK, info)
	}
}

func (s *Service) handleWebhookCreate(c *gin.Context) {
	var in webhook.NewSubscription
	if err := server.DecodeJSON(c, &in); err != nil {
		server.Error(c, err)
		return
	}
	sub, err := s.webhooks.Subscribe(c.Request.Context(), in, actor(c))
	if err != nil {
		server.Error(c, err)
		return
	}
	audit.SetResourceID(c, sub.ID)
	c.JSON(http.StatusCreated, sub)
}

func (s *Service) handleWebhookList(c *gin.Context) {
	subs, err := s.webhooks.Subscriptions(c.Request.Context())
	if err != nil {
		server.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"subscriptions": subs})
}

func (s *Service) handleWebhookDelete(c *gin.Context) {
	id := c.Param("id")
	audit.SetResourceID(c, id)
	if err := s.webhooks.Unsubscribe(c.Request.Context(), id); err != nil {
		server.Error(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Service) handleWebhookDeliveries(c *gin.Context) {
	f := webhook.DeliveryFilter{SubscriptionID: c.Query("subscription_id"), Status: c.Query("status")}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 500 {
			server.Error(c, apierr.Field("limit", "must be a number from 1 to 500"))
			return
		}
		f.Limit = n
	}
	ds, err := s.webhooks.Deliveries(c.Request.Context(), f)
	if err != nil {
		server.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"deliveries": ds})
}

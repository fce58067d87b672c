package guard

import (
	"context"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ocrpool/ocrpool/config"
	"github.com/ocrpool/ocrpool/modules/platform/apierr"
	"github.com/ocrpool/ocrpool/modules/platform/audit"
	"github.com/ocrpool/ocrpool/modules/platform/auth"
	"github.com/ocrpool/ocrpool/modules/platform/ratelimit"
	"github.com/ocrpool/ocrpool/modules/platform/server"
)

// Deps are what the guard enforces with.
type Deps struct {
	Keys  *auth.Keys
	Audit *audit.Logger
	// Limiter nil means no rate limits.
	Limiter ratelimit.Limiter
	Limits  config.RateLimitConfig
	Log     *slog.Logger
}

type guard struct {
	Deps
	lastWarn atomic.Int64 // unix nanos of the last rate-limiter warning
}

// New returns the server.Guard that enforces d (see the package
// documentation).
func New(d Deps) server.Guard {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	g := &guard{Deps: d}
	return g.chain
}

func (g *guard) chain(r server.Route) []gin.HandlerFunc {
	if r.Perm == auth.Public {
		return nil
	}
	return []gin.HandlerFunc{g.handler(r)}
}

// ActorType is the audit actor type of a key's role: training_service
// keys are programs ("service"), admin keys are operators ("user"), app
// keys are apps ("app").
func ActorType(role auth.Role) string {
	switch role {
	case auth.RoleTrainingService:
		return audit.ActorService
	case auth.RoleAdmin:
		return audit.ActorUser
	}
	return audit.ActorApp
}

func (g *guard) handler(r server.Route) gin.HandlerFunc {
	action, resource, perm := r.ActionName(), r.ResourceName(), r.Perm
	return func(c *gin.Context) {
		ev := audit.Event{
			Time:         time.Now(),
			ActorType:    audit.ActorAnonymous,
			ActorID:      audit.ActorAnonymous,
			Action:       action,
			ResourceType: resource,
			IP:           c.ClientIP(),
			UserAgent:    c.Request.UserAgent(),
		}
		panicked := true
		defer func() {
			g.record(c, r, ev, panicked)
		}()

		p, err := g.Keys.Authenticate(c.Request.Context(), c.GetHeader("Authorization"))
		if p.KeyID != "" { // known key, maybe expired or revoked
			ev.ActorType, ev.ActorID = ActorType(p.Role), p.KeyID
		}
		if err != nil {
			if apierr.Is(err, apierr.Unauthenticated) {
				c.Header("WWW-Authenticate", `Bearer realm="ocrpool"`)
			}
			server.Error(c, err)
			panicked = false
			return
		}
		c.Request = c.Request.WithContext(auth.NewContext(c.Request.Context(), p))
		if !p.Role.Can(perm) {
			server.Error(c, apierr.New(apierr.Forbidden, "role %s lacks permission %s", p.Role, perm))
			panicked = false
			return
		}
		if ok, wait := g.allow(c.Request.Context(), p); !ok {
			secs := max(1, int(math.Ceil(wait.Seconds())))
			c.Header("Retry-After", strconv.Itoa(secs))
			server.Error(c, apierr.New(apierr.RateLimited, "rate limit of role %s exceeded, retry in %d s", p.Role, secs))
			panicked = false
			return
		}
		c.Next()
		panicked = false
	}
}

// allow spends a token of p's bucket. A limiter error lets the request
// through (fail open) and is logged at most every 10 seconds.
func (g *guard) allow(ctx context.Context, p auth.Principal) (bool, time.Duration) {
	if g.Limiter == nil {
		return true, 0
	}
	var rate float64
	switch p.Role {
	case auth.RoleApp:
		rate = g.Limits.App
	case auth.RoleAdmin:
		rate = g.Limits.Admin
	case auth.RoleTrainingService:
		rate = g.Limits.TrainingService
	}
	ok, wait, err := g.Limiter.Allow(ctx, p.KeyID, rate, rate*g.Limits.BurstSeconds)
	if err != nil {
		now := time.Now().UnixNano()
		if last := g.lastWarn.Load(); now-last > int64(10*time.Second) && g.lastWarn.CompareAndSwap(last, now) {
			g.Log.WarnContext(ctx, "rate limiter unavailable, letting requests through", "err", err)
		}
		return true, 0
	}
	return ok, wait
}

// record writes the request's audit row.
func (g *guard) record(c *gin.Context, r server.Route, ev audit.Event, panicked bool) {
	status := c.Writer.Status()
	if panicked {
		status = http.StatusInternalServerError
	}
	resID, extra := audit.Annotations(c)
	if resID == "" {
		resID = pathResource(c)
	}
	if auth.LooksLikeKey(resID) {
		resID = "(redacted: looked like an API key)"
	}
	ev.ResourceID = resID
	details := make(map[string]any, len(extra)+3)
	for k, v := range extra {
		details[k] = v
	}
	details["method"] = c.Request.Method
	details["route"] = r.Path
	details["status"] = status
	ev.Details = details
	ev.Success = status < 400
	switch e := server.ErrorOf(c); {
	case panicked:
		ev.Error = "internal: handler panicked"
	case e != nil:
		ev.Error = e.Error()
	case !ev.Success:
		ev.Error = http.StatusText(status)
	}
	g.Audit.Record(c.Request.Context(), ev)
}

// pathResource is the :id or :v path parameter, else the first one.
func pathResource(c *gin.Context) string {
	for _, name := range []string{"id", "v"} {
		if v := c.Param(name); v != "" {
			return v
		}
	}
	if len(c.Params) > 0 {
		return c.Params[0].Value
	}
	return ""
}

package server

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/ocrpool/ocrpool/modules/platform/auth"
)

// Route is one REST endpoint. Modules return their routes as values, so the
// permission of every route is declared next to its path and the full list
// can be checked (default deny) and tested.
type Route struct {
	Method string
	Path   string
	// Perm is required: a route without one is refused at start.
	Perm auth.Permission
	// Action and Resource name the route in the audit log ("ingest",
	// "correction"). Empty means derived from the method and path.
	Action   string
	Resource string
	// MaxBody overrides server.max_body_bytes for this route (OCR images).
	MaxBody int64
	Handler gin.HandlerFunc
}

// Guard turns a route's declaration into the middleware that enforces it
// (authentication, permission, rate limit, audit). It is called once per
// route at mount time.
type Guard func(r Route) []gin.HandlerFunc

var methods = map[string]bool{
	http.MethodGet: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodHead: true,
}

func (r Route) validate() error {
	switch {
	case !methods[r.Method]:
		return fmt.Errorf("route %s %s: unsupported method", r.Method, r.Path)
	case !strings.HasPrefix(r.Path, "/"):
		return fmt.Errorf("route %s %s: path must start with /", r.Method, r.Path)
	case r.Perm == "":
		return fmt.Errorf("route %s %s: no permission declared (use auth.Public for an open route)", r.Method, r.Path)
	case r.Handler == nil:
		return fmt.Errorf("route %s %s: no handler", r.Method, r.Path)
	}
	return nil
}

// ActionName is the audit action of the route.
func (r Route) ActionName() string {
	if r.Action != "" {
		return r.Action
	}
	return strings.ToLower(r.Method) + " " + r.Path
}

// ResourceName is the audit resource type of the route: Resource, or the
// first path segment.
func (r Route) ResourceName() string {
	if r.Resource != "" {
		return r.Resource
	}
	seg := strings.SplitN(strings.TrimPrefix(r.Path, "/"), "/", 2)[0]
	if seg == "" {
		return "root"
	}
	return seg
}

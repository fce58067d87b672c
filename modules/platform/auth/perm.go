package auth

import (
	"fmt"
	"sort"
)

// Permission is what a route requires. Every route declares one next to its
// path (see server.Route); Public is an explicit declaration, not a default.
type Permission string

// The permissions of DESIGN §5.
const (
	Public Permission = "public"

	PermIngest         Permission = "corrections:ingest"
	PermExport         Permission = "corrections:export"
	PermStats          Permission = "corrections:stats"
	PermPatternsRead   Permission = "patterns:read"
	PermPatternsWrite  Permission = "patterns:write"
	PermWebhooks       Permission = "webhooks:manage"
	PermAuditRead      Permission = "audit:read"
	PermKeysManage     Permission = "keys:manage"
	PermTrainingRead   Permission = "training:read"
	PermTrainingRun    Permission = "training:run"
	PermDeploy         Permission = "deployments:write"
	PermDeployApprove  Permission = "deployments:approve"
	PermDeploymentRead Permission = "deployments:read"
	PermOCR            Permission = "ocr:process"
	PermOCRAdmin       Permission = "ocr:admin"
	PermDashboard      Permission = "dashboard:read"
)

// Role is an API key's role.
type Role string

// The roles of the architecture document.
const (
	RoleApp             Role = "app"
	RoleAdmin           Role = "admin"
	RoleTrainingService Role = "training_service"
)

// appPerms is what every key may do; admin and training_service add to it
// (admin ⊇ app, training_service ⊇ app), as the architecture document says.
var appPerms = []Permission{PermIngest, PermPatternsRead, PermOCR}

var rolePerms = map[Role][]Permission{
	RoleApp: appPerms,
	RoleAdmin: append([]Permission{
		PermPatternsWrite, PermWebhooks, PermAuditRead, PermKeysManage, PermStats,
		PermTrainingRead, PermDeploymentRead, PermDeployApprove, PermOCRAdmin, PermDashboard,
	}, appPerms...),
	RoleTrainingService: append([]Permission{
		PermExport, PermTrainingRead, PermTrainingRun, PermDeploy, PermDeploymentRead,
		PermOCRAdmin,
	}, appPerms...),
}

// ParseRole returns the role named s.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if _, ok := rolePerms[r]; !ok {
		return "", fmt.Errorf("unknown role %q (want one of %v)", s, Roles())
	}
	return r, nil
}

// Roles lists the valid roles, sorted.
func Roles() []Role {
	out := make([]Role, 0, len(rolePerms))
	for r := range rolePerms {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Can reports whether role r holds permission p. Everyone holds Public.
func (r Role) Can(p Permission) bool {
	if p == Public {
		return true
	}
	for _, q := range rolePerms[r] {
		if q == p {
			return true
		}
	}
	return false
}

// Permissions lists what r may do, sorted; it is stored with each key.
func (r Role) Permissions() []Permission {
	out := append([]Permission(nil), rolePerms[r]...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

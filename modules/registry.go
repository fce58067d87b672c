package modules

import (
	"fmt"
	"sort"
	"strings"
)

// Module names.
const (
	Datapool   = "datapool"
	Training   = "training"
	Deployment = "deployment"
	OCR        = "ocr"
)

// RoleAll runs every role in one process.
const RoleAll = "all"

// roleModules maps a --roles value to the modules it starts (DESIGN §2).
var roleModules = map[string][]string{
	"datapool": {Datapool},
	"training": {Training, Deployment},
	"ocr":      {OCR},
}

// deps lists the modules each module calls. A dependency that does not run
// in this process is reached over HTTP at peers.<its role>_url. The graph
// has no cycles: OCR outcomes flow ocr → deployment, never the other way.
var deps = map[string][]string{
	Datapool:   nil,
	Training:   {Datapool},
	Deployment: {Training, Datapool},
	OCR:        {Datapool, Deployment},
}

// startOrder puts dependencies first; shutdown walks it backwards. A table
// test checks that it respects deps.
var startOrder = []string{Datapool, Training, Deployment, OCR}

// Plan is what one process runs.
type Plan struct {
	// Roles are the selected roles, sorted.
	Roles []string
	// Modules are the modules to start, in start order.
	Modules []string
	// Remote are the dependencies of local modules that run elsewhere, by
	// module, in start order.
	Remote []string
}

// Local reports whether module m runs in this process.
func (p Plan) Local(m string) bool {
	for _, x := range p.Modules {
		if x == m {
			return true
		}
	}
	return false
}

// Split reports whether some role runs in another process.
func (p Plan) Split() bool { return len(p.Modules) < len(startOrder) }

// Resolve turns a --roles value ("all", "" or a comma-separated list) into
// a Plan. Unknown roles are an error that names the valid ones.
func Resolve(roles string) (Plan, error) {
	selected := map[string]bool{}
	for _, r := range strings.Split(roles, ",") {
		r = strings.TrimSpace(strings.ToLower(r))
		switch {
		case r == "" && strings.TrimSpace(roles) != "":
			return Plan{}, fmt.Errorf("roles: empty role in %q", roles)
		case r == "" || r == RoleAll:
			for name := range roleModules {
				selected[name] = true
			}
		case roleModules[r] != nil:
			selected[r] = true
		default:
			return Plan{}, fmt.Errorf("roles: unknown role %q (valid: %s)", r, strings.Join(RoleNames(), ", "))
		}
	}
	mods := map[string]bool{}
	var plan Plan
	for r := range selected {
		plan.Roles = append(plan.Roles, r)
		for _, m := range roleModules[r] {
			mods[m] = true
		}
	}
	sort.Strings(plan.Roles)
	remote := map[string]bool{}
	for _, m := range startOrder {
		if !mods[m] {
			continue
		}
		plan.Modules = append(plan.Modules, m)
		for _, d := range deps[m] {
			if !mods[d] {
				remote[d] = true
			}
		}
	}
	for _, m := range startOrder {
		if remote[m] {
			plan.Remote = append(plan.Remote, m)
		}
	}
	return plan, nil
}

// RoleNames lists the roles, "all" first.
func RoleNames() []string {
	names := []string{RoleAll}
	var rest []string
	for r := range roleModules {
		rest = append(rest, r)
	}
	sort.Strings(rest)
	return append(names, rest...)
}

// RoleOf returns the role that runs module m.
func RoleOf(m string) string {
	for r, ms := range roleModules {
		for _, x := range ms {
			if x == m {
				return r
			}
		}
	}
	return ""
}

// RoleInfo describes one role for `ocrpool roles`.
type RoleInfo struct {
	Role    string
	Modules []string
	// Deps are the modules the role's modules call, outside the role.
	Deps []string
}

// Describe lists every role with its modules and outside dependencies.
func Describe() []RoleInfo {
	var out []RoleInfo
	for _, r := range RoleNames()[1:] {
		plan, _ := Resolve(r) // r comes from the table, it always resolves
		out = append(out, RoleInfo{Role: r, Modules: plan.Modules, Deps: plan.Remote})
	}
	return out
}

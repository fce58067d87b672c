package datapool

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocrpool/ocrpool/config"
	"github.com/ocrpool/ocrpool/modules/platform/auth"
	"github.com/ocrpool/ocrpool/modules/platform/db"
	"github.com/ocrpool/ocrpool/modules/platform/testenv"
)

func TestRoutesDeclarePermissions(t *testing.T) {
	e := newTestEnv(t)
	want := map[string]struct {
		perm             auth.Permission
		action, resource string
	}{
		http.MethodPost + " /corrections/ingest": {auth.PermIngest, "ingest", "correction"},
		http.MethodGet + " /corrections/export":  {auth.PermExport, "export", "dataset"},
		http.MethodGet + " /corrections/stats":   {auth.PermStats, "stats", "correction"},
	}
	found := 0
	for _, r := range e.mod.Routes() {
		w, ok := want[r.Method+" "+r.Path]
		if !ok {
			continue // the pattern routes are tested with them
		}
		found++
		if r.Perm != w.perm || r.Action != w.action || r.Resource != w.resource {
			t.Errorf("route %s %s: perm %q action %q resource %q", r.Method, r.Path, r.Perm, r.Action, r.Resource)
		}
	}
	if found != len(want) {
		t.Fatalf("%d of the %d /corrections routes are mounted", found, len(want))
	}
	if !auth.RoleApp.Can(auth.PermIngest) || auth.RoleApp.Can(auth.PermExport) || !auth.RoleTrainingService.Can(auth.PermExport) {
		t.Fatal("the role table no longer matches the architecture document's")
	}
}

func TestNewPIIKey(t *testing.T) {
	d := testenv.DB(t)
	deps := Deps{DB: d}
	switch d.Dialect {
	case db.Postgres:
		_, err := New(config.Default().Datapool, deps)
		if err == nil || !strings.Contains(err.Error(), "security.pii_key is required with PostgreSQL (OCRPOOL_SECURITY_PII_KEY)") {
			t.Fatalf("New without a key on PostgreSQL: %v", err)
		}
	default:
		deps.SQLitePath = filepath.Join(t.TempDir(), "ocrpool.db")
		m1, err := New(config.Default().Datapool, deps)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(deps.SQLitePath), PIIKeyFile)); err != nil {
			t.Fatalf("no generated key: %v", err)
		}
		m2, err := New(config.Default().Datapool, deps)
		if err != nil {
			t.Fatal(err)
		}
		if m1.svc.mask.userHash("u") != m2.svc.mask.userHash("u") {
			t.Fatal("a restart changed the user hashes")
		}
	}
}

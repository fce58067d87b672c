package modules

import (
	"reflect"
	"strings"
	"testing"

	"github.com/ocrpool/ocrpool/config"
)

func TestResolve(t *testing.T) {
	tests := []struct {
		roles       string
		wantRoles   []string
		wantModules []string
		wantRemote  []string
	}{
		{"all", []string{"datapool", "ocr", "training"}, []string{Datapool, Training, Deployment, OCR}, nil},
		{"", []string{"datapool", "ocr", "training"}, []string{Datapool, Training, Deployment, OCR}, nil},
		{"datapool", []string{"datapool"}, []string{Datapool}, nil},
		{"training", []string{"training"}, []string{Training, Deployment}, []string{Datapool}},
		{"ocr", []string{"ocr"}, []string{OCR}, []string{Datapool, Deployment}},
		{"ocr,datapool", []string{"datapool", "ocr"}, []string{Datapool, OCR}, []string{Deployment}},
		{" OCR , training ", []string{"ocr", "training"}, []string{Training, Deployment, OCR}, []string{Datapool}},
		{"datapool,datapool", []string{"datapool"}, []string{Datapool}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.roles, func(t *testing.T) {
			p, err := Resolve(tt.roles)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p.Roles, tt.wantRoles) || !reflect.DeepEqual(p.Modules, tt.wantModules) || !reflect.DeepEqual(p.Remote, tt.wantRemote) {
				t.Errorf("Resolve(%q) = %+v, want roles %v modules %v remote %v", tt.roles, p, tt.wantRoles, tt.wantModules, tt.wantRemote)
			}
		})
	}
}

func TestResolveErrors(t *testing.T) {
	for _, roles := range []string{"bogus", "datapool,bogus", "datapool,,ocr", "deployment"} {
		t.Run(roles, func(t *testing.T) {
			_, err := Resolve(roles)
			if err == nil {
				t.Fatalf("Resolve(%q) succeeded", roles)
			}
			if !strings.Contains(err.Error(), "datapool, ocr, training") && !strings.Contains(err.Error(), "empty role") {
				t.Errorf("error %q does not list the valid roles", err)
			}
		})
	}
}

// Dependencies start before the modules that call them, and every module
// of the table has a role and a place in the order.
func TestStartOrderRespectsDeps(t *testing.T) {
	pos := map[string]int{}
	for i, m := range startOrder {
		pos[m] = i
	}
	if len(pos) != len(deps) {
		t.Fatalf("startOrder has %d modules, deps %d", len(pos), len(deps))
	}
	for m, ds := range deps {
		if RoleOf(m) == "" {
			t.Errorf("module %s has no role", m)
		}
		for _, d := range ds {
			if pos[d] >= pos[m] {
				t.Errorf("%s depends on %s but starts before it", m, d)
			}
		}
	}
}

func TestCheck(t *testing.T) {
	shared := func(c *config.Config) {
		c.Database.URL = "postgres://db.example/ocrpool"
		c.Redis.URL = "redis://cache.example:6379/0"
	}
	tests := []struct {
		name   string
		mutate func(*config.Config)
		want   string // "" means valid
	}{
		{"all embedded", func(c *config.Config) {}, ""},
		{"unknown role", func(c *config.Config) { c.Roles = "bogus" }, `unknown role "bogus"`},
		{"split on sqlite", func(c *config.Config) { c.Roles = "datapool"; c.Redis.URL = "redis://r:6379" }, "OCRPOOL_DATABASE_URL"},
		{"split on miniredis", func(c *config.Config) { c.Roles = "datapool"; c.Database.URL = "postgres://d/x" }, "OCRPOOL_REDIS_URL"},
		{"datapool alone, shared stores", func(c *config.Config) { shared(c); c.Roles = "datapool" }, ""},
		{"ocr without peers", func(c *config.Config) { shared(c); c.Roles = "ocr" }, "peers.datapool_url"},
		{"ocr without training peer", func(c *config.Config) {
			shared(c)
			c.Roles = "ocr"
			c.Peers.DatapoolURL = "http://datapool.example:5000"
		}, "peers.training_url"},
		{"ocr without service key", func(c *config.Config) {
			shared(c)
			c.Roles = "ocr"
			c.Peers.DatapoolURL = "http://datapool.example:5000"
			c.Peers.TrainingURL = "http://training.example:6000"
		}, "peers.service_key"},
		{"ocr complete", func(c *config.Config) {
			shared(c)
			c.Roles = "ocr"
			c.Peers.DatapoolURL = "http://datapool.example:5000"
			c.Peers.TrainingURL = "http://training.example:6000"
			c.Peers.ServiceKey = "ocp_live_x"
		}, ""},
		{"invalid key", func(c *config.Config) { c.Log.Level = "loud" }, "log.level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			tt.mutate(&cfg)
			_, err := Check(cfg)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Check() = %v, want ok", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Check() = %v, want an error naming %q", err, tt.want)
			}
		})
	}
}

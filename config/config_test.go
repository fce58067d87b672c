package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ocrpool.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadDefaults(t *testing.T) {
	t.Chdir(t.TempDir()) // no ./ocrpool.yaml here
	cfg, err := Load(Source{Env: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, Default()) {
		t.Fatalf("Load() with no sources = %+v, want Default()", cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
}

func TestLoadPrecedence(t *testing.T) {
	file := writeFile(t, "server:\n  addr: \":1001\"\n  shutdown_timeout: 20s\nlog:\n  level: warn\n")
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs.String("addr", ":8080", "")

	tests := []struct {
		name     string
		env      map[string]string
		flag     string
		wantAddr string
	}{
		{"file over default", nil, "", ":1001"},
		{"env over file", map[string]string{"OCRPOOL_SERVER_ADDR": ":1002"}, "", ":1002"},
		{"flag over env", map[string]string{"OCRPOOL_SERVER_ADDR": ":1002"}, ":1003", ":1003"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
			fs.String("addr", ":8080", "")
			if tt.flag != "" {
				if err := fs.Parse([]string{"--addr=" + tt.flag}); err != nil {
					t.Fatal(err)
				}
			}
			cfg, err := Load(Source{File: file, Env: env(tt.env), Flags: map[string]*pflag.Flag{"server.addr": fs.Lookup("addr")}})
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Server.Addr != tt.wantAddr {
				t.Errorf("server.addr = %q, want %q", cfg.Server.Addr, tt.wantAddr)
			}
			// Keys that no higher source sets keep the file's value.
			if cfg.Server.ShutdownTimeout != 20*time.Second || cfg.Log.Level != "warn" {
				t.Errorf("file values lost: shutdown_timeout=%s level=%s", cfg.Server.ShutdownTimeout, cfg.Log.Level)
			}
		})
	}
	// An unset flag does not override anything.
	cfg, err := Load(Source{File: file, Env: env(nil), Flags: map[string]*pflag.Flag{"server.addr": fs.Lookup("addr")}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Addr != ":1001" {
		t.Errorf("unset flag overrode the file: %q", cfg.Server.Addr)
	}
}

// Every key, including ones no file mentions, is settable from the
// environment: the explicit binding is what makes that true.
func TestEveryKeyFromEnv(t *testing.T) {
	samples := map[reflect.Kind]string{
		reflect.String: "x", reflect.Bool: "true", reflect.Int: "7", reflect.Int64: "7", reflect.Float64: "0.25",
	}
	for key, def := range flatten(Default()) {
		t.Run(key, func(t *testing.T) {
			val := samples[reflect.TypeOf(def).Kind()]
			switch d := def.(type) {
			case bool:
				val = strconv.FormatBool(!d)
			case time.Duration:
				val = "42s"
			case []int:
				val = "10,100"
			}
			cfg, err := Load(Source{File: writeFile(t, "{}\n"), Env: env(map[string]string{EnvName(key): val})})
			if err != nil {
				t.Fatalf("%s=%s: %v", EnvName(key), val, err)
			}
			got := flatten(cfg)[key]
			if reflect.DeepEqual(got, def) {
				t.Fatalf("%s=%s left %s at its default %v", EnvName(key), val, key, def)
			}
		})
	}
}

// The example file documents every key, with its default value.
func TestExampleFileMatchesDefaults(t *testing.T) {
	raw, err := os.ReadFile("ocrpool.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok {
				walk(prefix+k+".", sub)
				continue
			}
			documented[prefix+k] = true
		}
	}
	walk("", doc)
	for _, k := range Keys() {
		if !documented[k] {
			t.Errorf("config/ocrpool.example.yaml does not document %s", k)
		}
	}
	for k := range documented {
		if _, ok := flatten(Default())[k]; !ok {
			t.Errorf("config/ocrpool.example.yaml documents unknown key %s", k)
		}
	}
	cfg, err := Load(Source{File: "ocrpool.example.yaml", Env: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, Default()) {
		t.Errorf("the example file's values differ from Default():\n got %+v\nwant %+v", cfg, Default())
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		src  Source
		want string
	}{
		{"missing file", Source{File: "/nonexistent/ocrpool.yaml"}, "/nonexistent/ocrpool.yaml"},
		{"bad yaml", Source{File: writeFile(t, "server: [\n")}, "reading config file"},
		{"unknown key", Source{File: writeFile(t, "server:\n  adress: x\n")}, "adress"},
		{"bad duration", Source{Env: env(map[string]string{"OCRPOOL_SERVER_SHUTDOWN_TIMEOUT": "soon"})}, "shutdown_timeout"},
		{"bad number", Source{Env: env(map[string]string{"OCRPOOL_DATAPOOL_MAX_BATCH": "many"})}, "max_batch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.src.Env == nil {
				tt.src.Env = env(nil)
			}
			_, err := Load(tt.src)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load() error = %v, want one naming %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans several lines: %q", err)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		key    string
		mutate func(*Config)
	}{
		{"log.level", func(c *Config) { c.Log.Level = "loud" }},
		{"server.addr", func(c *Config) { c.Server.Addr = "8080" }},
		{"server.shutdown_timeout", func(c *Config) { c.Server.ShutdownTimeout = 0 }},
		{"server.shutdown_delay", func(c *Config) { c.Server.ShutdownDelay = time.Minute }},
		{"server.max_body_bytes", func(c *Config) { c.Server.MaxBodyBytes = 10 }},
		{"server.tls", func(c *Config) { c.Server.TLS.CertFile = "cert.pem" }},
		{"database.url", func(c *Config) { c.Database.URL = "mysql://x" }},
		{"database.path", func(c *Config) { c.Database.Path = " " }},
		{"redis.url", func(c *Config) { c.Redis.URL = "http://x" }},
		{"peers.datapool_url", func(c *Config) { c.Peers.DatapoolURL = "datapool:5000" }},
		{"security.rate_limits.app", func(c *Config) { c.Security.RateLimits.App = -1 }},
		{"datapool.pattern_refresh_cron", func(c *Config) { c.Datapool.PatternRefreshCron = "every day" }},
		{"datapool.min_quality", func(c *Config) { c.Datapool.MinQuality = 2 }},
		{"datapool.pattern_holdout", func(c *Config) { c.Datapool.PatternHoldout = 51 }},
		{"datapool.pattern_holdout", func(c *Config) { c.Datapool.PatternHoldout = -1 }},
		{"deployment.canary_steps", func(c *Config) { c.Deployment.CanarySteps = []int{50, 20, 100} }},
		{"deployment.canary_steps", func(c *Config) { c.Deployment.CanarySteps = []int{5, 20} }},
		{"deployment.max_error_rate", func(c *Config) { c.Deployment.MaxErrorRate = 5 }},
		{"ocr.pool_size", func(c *Config) { c.OCR.PoolSize = -1 }},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			c := Default()
			tt.mutate(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.key+":") {
				t.Fatalf("Validate() = %v, want an error naming %s", err, tt.key)
			}
		})
	}
}

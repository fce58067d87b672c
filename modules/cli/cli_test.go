package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocrpool/ocrpool/config"
	"github.com/ocrpool/ocrpool/modules/platform/testenv"
)

// run executes the command tree with args and returns stdout and the error.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := NewRoot(&out, &errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// configFile writes a config pointing at an isolated database.
func configFile(t *testing.T, db config.DatabaseConfig) string {
	t.Helper()
	body := fmt.Sprintf("database:\n  url: %q\n  path: %q\nlog:\n  level: warn\n", db.URL, db.Path)
	p := filepath.Join(t.TempDir(), "ocrpool.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCommandErrorsNameTheProblem(t *testing.T) {
	t.Chdir(t.TempDir())
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown role", []string{"serve", "--roles=bogus"}, `unknown role "bogus"`},
		{"unknown flag", []string{"serve", "--bogus"}, "unknown flag: --bogus"},
		{"unreadable config", []string{"--config", "/nonexistent/x.yaml", "serve"}, "/nonexistent/x.yaml"},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"bad addr", []string{"serve", "--addr", "nope"}, "server.addr"},
		{"migrate needs a subcommand arg count", []string{"migrate", "up", "extra"}, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := run(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ocrpool %v = %v, want an error with %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestRolesAndVersion(t *testing.T) {
	out, err := run(t, "roles")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"datapool", "training, deployment", "ocr", "all"} {
		if !strings.Contains(out, want) {
			t.Errorf("roles output lacks %q:\n%s", want, out)
		}
	}
	if out, err := run(t, "version"); err != nil || !strings.HasPrefix(out, "ocrpool ") {
		t.Errorf("version = %q, %v", out, err)
	}
	if out, err := run(t, "completion", "bash"); err != nil || !strings.Contains(out, "ocrpool") {
		t.Errorf("completion bash: %v", err)
	}
}

// migrate status, up, down and up again, on SQLite or on PostgreSQL when
// OCRPOOL_TEST_DATABASE_URL is set.
func TestMigrateCommands(t *testing.T) {
	cfgFile := configFile(t, testenv.DBConfig(t))
	steps := []struct {
		args []string
		want []string
	}{
		{[]string{"migrate", "status"}, []string{"pending"}},
		{[]string{"migrate", "up"}, []string{"pending 0001_schema.sql\n", "applied 1\n", "took "}},
		{[]string{"migrate", "up"}, []string{"up to date"}},
		{[]string{"migrate", "status"}, []string{"applied"}},
		{[]string{"migrate", "down"}, []string{"reverted"}},
		{[]string{"migrate", "status"}, []string{"pending"}},
		{[]string{"migrate", "up"}, []string{"pending ", "applied "}},
		{[]string{"migrate", "status"}, []string{"applied"}},
	}
	for i, s := range steps {
		out, err := run(t, append([]string{"--config", cfgFile}, s.args...)...)
		if err != nil {
			t.Fatalf("step %d %v: %v", i, s.args, err)
		}
		for _, w := range s.want {
			if !strings.Contains(out, w) {
				t.Fatalf("step %d %v: output lacks %q:\n%s", i, s.args, w, out)
			}
		}
	}
}

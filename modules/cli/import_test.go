package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/parquet-go/parquet-go"

	"github.com/ocrpool/ocrpool/modules/datapool"
	"github.com/ocrpool/ocrpool/modules/platform/testenv"
)

// datapoolConfig writes a config with an isolated, migrated database, a
// PII key and an isolated Redis, and returns its path.
func datapoolConfig(t *testing.T) string {
	t.Helper()
	dbc := testenv.DBConfig(t)
	rc := testenv.RedisConfig(t)
	body := fmt.Sprintf("database:\n  url: %q\n  path: %q\nredis:\n  url: %q\n  key_prefix: %q\nsecurity:\n  pii_key: %q\nlog:\n  level: warn\n",
		dbc.URL, dbc.Path, rc.URL, rc.KeyPrefix, "cli-test-pii-key-0123456789")
	p := filepath.Join(t.TempDir(), "ocrpool.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "--config", p, "migrate", "up"); err != nil {
		t.Fatal(err)
	}
	return p
}

// runErr executes the command tree and returns stdout, stderr and the error.
func runErr(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := NewRoot(&out, &errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func v1Line(i int) string {
	b, _ := json.Marshal(map[string]any{
		"source_correction_id": uuid.NewString(),
		"user_id":              fmt.Sprintf("user-%d", i),
		"ocr_provider":         "tesseract",
		"ocr_text":             fmt.Sprintf("SHELL STATION %d\nTOTAL RM 80.%02d\n12/03/2024", i, i%100),
		"original_inference":   map[string]any{"merchant": "SHEL", "amount": "80"},
		"corrected_fields":     map[string]any{"merchant": "Shell", "amount": fmt.Sprintf("RM 80.%02d", i%100), "category": "petrol"},
		"created_at":           "2024-03-12T09:00:00Z",
	})
	return string(b)
}

func TestImportThenExport(t *testing.T) {
	cfg := datapoolConfig(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "corrections.jsonl")
	var lines []string
	for i := 0; i < 25; i++ {
		lines = append(lines, v1Line(i))
	}
	lines = append(lines, `{"broken":`, `{"source_app":"otherapp"}`)
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	out, stderr, err := runErr(t, "--config", cfg, "import", "--file", file, "--app", "expenseapp", "--env", "sandbox", "--batch", "10")
	if err != nil {
		t.Fatalf("import: %v\n%s", err, stderr)
	}
	if !strings.Contains(out, "imported 25, duplicates 0, rejected 2 of 27 lines") || !strings.Contains(out, file+".rejects.jsonl") {
		t.Fatalf("import output:\n%s", out)
	}
	if !strings.Contains(stderr, "importing") {
		t.Fatalf("no progress on stderr:\n%s", stderr)
	}
	out, _, err = runErr(t, "--config", cfg, "import", "--file", file, "--app", "expenseapp", "--env", "sandbox")
	if err != nil || !strings.Contains(out, "imported 0, duplicates 25, rejected 2") {
		t.Fatalf("second import: %v\n%s", err, out)
	}

	jsonl := filepath.Join(dir, "out.jsonl")
	out, stderr, err = runErr(t, "--config", cfg, "export", "--since", "2024-03-01", "--apps", "expenseapp", "-o", jsonl)
	if err != nil {
		t.Fatalf("export: %v\n%s", err, stderr)
	}
	if !regexp.MustCompile(`exported 25 corrections \(\d+ bytes, jsonl\) to .*out.jsonl; dataset ds_`).MatchString(out) {
		t.Fatalf("export output:\n%s", out)
	}
	if !strings.Contains(stderr, "exporting") {
		t.Fatalf("no progress on stderr:\n%s", stderr)
	}
	b, err := os.ReadFile(jsonl)
	if err != nil || strings.Count(string(b), "\n") != 25 || !strings.Contains(string(b), `"corrected_category":"fuel"`) {
		t.Fatalf("exported file: %v\n%.300s", err, b)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, ".*partial*"))
	if len(matches) != 0 {
		t.Fatalf("temporary files left: %v", matches)
	}

	pq := filepath.Join(dir, "out.parquet") // format from the extension
	if _, stderr, err := runErr(t, "--config", cfg, "export", "--fields", "merchant", "-o", pq); err != nil {
		t.Fatalf("parquet export: %v\n%s", err, stderr)
	}
	f, err := os.Open(pq)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	rows, err := parquet.Read[datapool.ParquetRow](f, fi.Size())
	if err != nil || len(rows) != 25 {
		t.Fatalf("parquet: %d rows, %v", len(rows), err)
	}
}

func TestExportAndImportErrors(t *testing.T) {
	cfg := datapoolConfig(t)
	out := filepath.Join(t.TempDir(), "x.jsonl")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"NoOutput", []string{"export"}, `"output" not set`},
		{"BadSince", []string{"export", "--since", "soon", "-o", out}, "--since"},
		{"BadFormat", []string{"export", "--format", "xml", "-o", out}, "format"},
		{"BadQuality", []string{"export", "--min-quality", "high", "-o", out}, "--min-quality"},
		{"BadURL", []string{"export", "--url", "nope", "-o", out}, "--url"},
		{"ImportNoApp", []string{"import", "--file", out, "--env", "sandbox"}, `"app" not set`},
		{"ImportMissingFile", []string{"import", "--file", out + ".missing", "--app", "a", "--env", "b"}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runErr(t, append([]string{"--config", cfg}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("a failed export left %s", out)
	}
}

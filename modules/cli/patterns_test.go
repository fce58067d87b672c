package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// receiptLine is one v1 export line: a receipt of merchant carrying phrase.
func receiptLine(i int, merchant, phrase, category string) string {
	line, _ := json.Marshal(map[string]any{
		"source_correction_id": uuid.NewString(),
		"user_id":              fmt.Sprintf("user-%d", i),
		"ocr_provider":         "tesseract",
		"ocr_text":             fmt.Sprintf("%s\nRECEIPT %d\n%s\nTOTAL %d.00", strings.ToUpper(merchant), i, phrase, 10+i%7),
		"original_inference":   map[string]any{"merchant": "UNKNOWN SHOP", "amount": fmt.Sprintf("%d.00", 10+i%7)},
		"corrected_fields":     map[string]any{"merchant": merchant, "amount": fmt.Sprintf("%d.00", 10+i%7), "category": category},
		"created_at":           time.Now().UTC().Add(-time.Duration(i) * time.Minute).Format(time.RFC3339),
	})
	return string(line)
}

// The pattern commands drive the same Service as the API: refresh learns
// and activates v1, a second refresh learns nothing new, rollback needs a
// reason, history names the live version, and each leaves an audit row.
func TestPatternCommands(t *testing.T) {
	cfg := datapoolConfig(t)
	var lines []string
	for i := 0; i < 12; i++ {
		lines = append(lines, receiptLine(i, "Uber", "YOUR RIDE\nTRIP WITH DRIVER", "transport"))
		lines = append(lines, receiptLine(100+i, "Starbucks", "GRANDE LATTE", "meals"))
	}
	file := filepath.Join(t.TempDir(), "v1.jsonl")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runErr(t, "--config", cfg, "import", "--file", file, "--app", "expenseapp", "--env", "sandbox"); err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		args    []string
		want    string
		wantErr string
	}{
		{[]string{"patterns", "refresh"}, "version v1, active: true", ""},
		{[]string{"patterns", "refresh"}, "nothing new to learn", ""},
		{[]string{"patterns", "list"}, "v1       *", ""},
		{[]string{"patterns", "show", "v1"}, `"corrected_value": "Uber"`, ""},
		{[]string{"patterns", "show", "v7"}, "", "no pattern set version"},
		{[]string{"patterns", "rollback", "v1"}, "", "reason"},
		{[]string{"patterns", "activate", "v1"}, "", "already active"},
		{[]string{"patterns", "history", "--at", time.Now().UTC().Add(time.Hour).Format(time.RFC3339)}, "v1 was live", ""},
		{[]string{"patterns", "history"}, "activate", ""},
		{[]string{"webhooks", "add", "--url", "http://127.0.0.1:9/hook", "--app", "expenseapp", "--env", "sandbox"}, "signing secret (shown once): whsec_", ""},
		{[]string{"webhooks", "add", "--url", "nope", "--app", "a", "--env", "e"}, "", "url"},
		{[]string{"webhooks", "list"}, "http://127.0.0.1:9/hook", ""},
		{[]string{"audit", "verify"}, "", ""},
	}
	for _, s := range steps {
		out, _, err := runErr(t, append([]string{"--config", cfg}, s.args...)...)
		switch {
		case s.wantErr != "" && (err == nil || !strings.Contains(err.Error(), s.wantErr)):
			t.Fatalf("ocrpool %v = %v, want an error with %q", s.args, err, s.wantErr)
		case s.wantErr == "" && err != nil:
			t.Fatalf("ocrpool %v: %v", s.args, err)
		case !strings.Contains(out, s.want):
			t.Fatalf("ocrpool %v output lacks %q:\n%s", s.args, s.want, out)
		}
	}
	out, _, err := runErr(t, "--config", cfg, "audit", "list", "--action", "refresh")
	if err != nil || strings.Count(out, "refresh") < 2 {
		t.Fatalf("audit rows of the two refreshes: %v\n%s", err, out)
	}
}

package datapool

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeImportFile writes a v1 export: valid lines, blank lines and the bad
// lines listed in the returned map (line number → field at fault).
func writeImportFile(tb testing.TB, n int) (path string, bad map[int64]string) {
	tb.Helper()
	var b strings.Builder
	bad = map[int64]string{}
	line := int64(0)
	add := func(s string) {
		b.WriteString(s)
		b.WriteByte('\n')
		line++
	}
	for i, c := range sampleN(n) {
		c.SourceApp, c.SourceEnvironment = "", "" // the v1 export does not say
		add(string(mustJSON(tb, c)))
		switch i {
		case 2:
			add("")
		case 3:
			add(`{"source_app": "expenseapp", "ocr_text": `) // cut off
			bad[line] = ""
		case 4:
			c2 := sample()
			c2.CorrectedFields.Date = "2023-02-29"
			add(string(mustJSON(tb, c2)))
			bad[line] = "corrected_fields.date"
		case 5:
			c2 := sample()
			c2.SourceApp = "otherapp"
			add(string(mustJSON(tb, c2)))
			bad[line] = "source_app"
		case 6:
			add(`{"user_email": "jane@example.com"}`)
			bad[line] = "user_email"
		}
	}
	path = filepath.Join(tb.TempDir(), "corrections.jsonl")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path, bad
}

func TestImportFile(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	path, bad := writeImportFile(t, 20)
	var progress []int64
	opts := ImportOptions{App: "expenseapp", Environment: "sandbox", BatchSize: 7,
		Progress: func(done, total int64) { progress = append(progress, done) }}
	sum, err := e.svc.ImportFile(ctx, path, opts)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Lines != 24 || sum.Imported != 20 || sum.Duplicates != 0 || sum.Rejected != 4 || sum.Resumed {
		t.Fatalf("summary = %+v", sum)
	}
	if n := e.count(t, "corrections_master"); n != 20 {
		t.Fatalf("rows = %d, want 20", n)
	}
	fi, _ := os.Stat(path)
	if len(progress) < 3 || progress[len(progress)-1] != fi.Size() {
		t.Fatalf("progress = %v, want several steps ending at %d", progress, fi.Size())
	}
	if _, err := os.Stat(StatePath(path)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the checkpoint of a finished import should be gone: %v", err)
	}

	// Rejected lines: line number and reason, never the line itself.
	rej, err := os.ReadFile(sum.RejectsPath)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(rej), "jane@example.com") || strings.Contains(string(rej), "user-") {
		t.Fatalf("the rejects file holds personal data: %s", rej)
	}
	lines := strings.Split(strings.TrimSpace(string(rej)), "\n")
	if len(lines) != len(bad) {
		t.Fatalf("rejects:\n%s\nwant %d lines", rej, len(bad))
	}
	for _, l := range lines {
		var r struct {
			Line  int64
			Error struct{ Code, Message, Field string }
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		field, ok := bad[r.Line]
		if !ok || r.Error.Field != field || r.Error.Message == "" {
			t.Errorf("reject %s: want line in %v with field %q", l, bad, field)
		}
	}

	// Idempotent: a second run stores nothing new.
	again, err := e.svc.ImportFile(ctx, path, opts)
	if err != nil {
		t.Fatal(err)
	}
	if again.Imported != 0 || again.Duplicates != 20 || again.Rejected != 4 {
		t.Fatalf("second run = %+v", again)
	}
	if n := e.count(t, "corrections_master"); n != 20 {
		t.Fatalf("rows = %d after a second run, want 20", n)
	}
}

func TestImportResumes(t *testing.T) {
	e := newTestEnv(t)
	path, _ := writeImportFile(t, 30)
	ctx, cancel := context.WithCancel(context.Background())
	batches := 0
	opts := ImportOptions{App: "expenseapp", Environment: "sandbox", BatchSize: 5,
		Progress: func(done, total int64) {
			if batches++; batches == 2 {
				cancel() // interrupted after two batches
			}
		}}
	sum, err := e.svc.ImportFile(ctx, path, opts)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %+v, %v", sum, err)
	}
	stored := e.count(t, "corrections_master")
	if stored == 0 || stored >= 30 {
		t.Fatalf("rows after interruption = %d", stored)
	}
	if _, err := os.Stat(StatePath(path)); err != nil {
		t.Fatalf("no checkpoint after an interruption: %v", err)
	}

	opts.Progress = nil
	sum, err = e.svc.ImportFile(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Resumed || sum.Imported != 30 || sum.Duplicates != 0 || sum.Rejected != 4 {
		t.Fatalf("resumed summary = %+v (the counts include the first run's)", sum)
	}
	if n := e.count(t, "corrections_master"); n != 30 {
		t.Fatalf("rows = %d, want 30", n)
	}
	rej, _ := os.ReadFile(sum.RejectsPath)
	if got := strings.Count(string(rej), "\n"); got != 4 {
		t.Fatalf("rejects file has %d lines after resuming, want 4:\n%s", got, rej)
	}
}

func TestImportChangedFileNeedsRestart(t *testing.T) {
	e := newTestEnv(t)
	path, _ := writeImportFile(t, 10)
	ctx, cancel := context.WithCancel(context.Background())
	opts := ImportOptions{App: "expenseapp", Environment: "sandbox", BatchSize: 3,
		Progress: func(int64, int64) { cancel() }}
	if _, err := e.svc.ImportFile(ctx, path, opts); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(string(mustJSON(t, sample())) + "\n")
	f.Close()
	later := time.Now().Add(time.Minute)
	_ = os.Chtimes(path, later, later)
	opts.Progress = nil
	if _, err := e.svc.ImportFile(context.Background(), path, opts); err == nil || !strings.Contains(err.Error(), "--restart") {
		t.Fatalf("err = %v, want a hint to --restart", err)
	}
	opts.Restart = true
	sum, err := e.svc.ImportFile(context.Background(), path, opts)
	if err != nil || sum.Imported+sum.Duplicates != 11 {
		t.Fatalf("restart = %+v, %v", sum, err)
	}
}

func TestImportOptionsValidated(t *testing.T) {
	e := newTestEnv(t)
	path, _ := writeImportFile(t, 1)
	if _, err := e.svc.ImportFile(context.Background(), path, ImportOptions{Environment: "sandbox"}); err == nil {
		t.Fatal("no --app: want an error")
	}
	if _, err := e.svc.ImportFile(context.Background(), path+".missing", ImportOptions{App: "a", Environment: "b"}); err == nil {
		t.Fatal("missing file: want an error")
	}
}

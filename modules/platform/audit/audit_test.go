package audit_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocrpool/ocrpool/modules/platform/apierr"
	"github.com/ocrpool/ocrpool/modules/platform/audit"
	"github.com/ocrpool/ocrpool/modules/platform/db"
	"github.com/ocrpool/ocrpool/modules/platform/requestid"
	"github.com/ocrpool/ocrpool/modules/platform/testenv"
)

func count(t *testing.T, d *db.DB) int64 {
	t.Helper()
	var n int64
	if err := d.Gorm.Raw("SELECT COUNT(*) FROM audit_log").Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func verifyOK(t *testing.T, d *db.DB, wantRows int64) {
	t.Helper()
	rep, err := audit.Verify(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Rows != wantRows {
		t.Fatalf("Verify = %+v, want an intact chain of %d rows", rep, wantRows)
	}
}

func closeLogger(t *testing.T, l *audit.Logger) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := l.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func event(i int) audit.Event {
	return audit.Event{
		ActorType: audit.ActorApp, ActorID: fmt.Sprintf("key-%d", i%7), Action: "ingest",
		ResourceType: "correction", ResourceID: fmt.Sprint(i), IP: "192.0.2.10", UserAgent: "test",
		Success: i%3 != 0, Details: map[string]any{"i": i},
	}
}

// Rows recorded from many goroutines through a tiny buffer are all
// written by Close, in one valid chain: none is lost.
func TestCloseWritesEveryRow(t *testing.T) {
	t.Parallel()
	d := testenv.DB(t)
	l := audit.New(d, nil, 4) // a full buffer makes Record wait, never drop
	const goroutines, each = 8, 150
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				l.Record(context.Background(), event(g*each+i))
			}
		}()
	}
	wg.Wait()
	closeLogger(t, l)
	if got := count(t, d); got != goroutines*each {
		t.Fatalf("%d rows after Close, want %d", got, goroutines*each)
	}
	verifyOK(t, d, goroutines*each)
	if l.Pending() != 0 {
		t.Fatalf("Pending after Close = %d", l.Pending())
	}
	// A Record after Close is written synchronously, not lost.
	l.Record(context.Background(), event(0))
	verifyOK(t, d, goroutines*each+1)
}

// Two processes (two loggers on their own connections) extend one chain.
func TestChainAcrossProcesses(t *testing.T) {
	t.Parallel()
	cfg := testenv.DBConfig(t)
	var loggers []*audit.Logger
	var first *db.DB
	for i := range 2 {
		d, err := db.Open(context.Background(), cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		if i == 0 {
			if _, err := d.MigrateUp(context.Background()); err != nil {
				t.Fatal(err)
			}
			first = d
		}
		loggers = append(loggers, audit.New(d, nil, 16))
	}
	var wg sync.WaitGroup
	const each = 200
	for _, l := range loggers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				l.Record(context.Background(), event(i))
				if i%50 == 0 {
					_ = l.Flush(context.Background()) // many small transactions interleave
				}
			}
		}()
	}
	wg.Wait()
	for _, l := range loggers {
		closeLogger(t, l)
	}
	verifyOK(t, first, 2*each)
}

// Each kind of tampering is reported at the first row it breaks.
func TestVerifyFindsTampering(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		sql  string
		// broken is the id Verify must name, given rows 1..10.
		broken int64
	}{
		{"action changed", "UPDATE audit_log SET action = 'export' WHERE id = 4", 4},
		{"success flipped", "UPDATE audit_log SET success = NOT success WHERE id = 7", 7},
		{"details changed", `UPDATE audit_log SET details = '{"i": 99}' WHERE id = 2`, 2},
		{"ip changed", "UPDATE audit_log SET ip_address = '198.51.100.1' WHERE id = 9", 9},
		{"timestamp changed", "UPDATE audit_log SET timestamp = ? WHERE id = 5", 5},
		{"row deleted", "DELETE FROM audit_log WHERE id = 6", 7},
		{"hash rewritten", "UPDATE audit_log SET row_hash = prev_hash WHERE id = 3", 3},
		{"row without hash", "UPDATE audit_log SET row_hash = NULL WHERE id = 10", 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := testenv.DB(t)
			l := audit.New(d, nil, 64)
			for i := range 10 {
				l.Record(context.Background(), event(i))
			}
			closeLogger(t, l)
			verifyOK(t, d, 10)
			var args []any
			if strings.Contains(tt.sql, "?") {
				args = append(args, time.Now().Add(time.Hour).UTC())
			}
			if err := d.Gorm.Exec(tt.sql, args...).Error; err != nil {
				t.Fatal(err)
			}
			rep, err := audit.Verify(context.Background(), d)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() || rep.BrokenAt != tt.broken || rep.Reason == "" {
				t.Fatalf("Verify = %+v, want broken at row %d", rep, tt.broken)
			}
		})
	}
}

// Whatever a caller passes is stored (PostgreSQL refuses NUL and invalid
// UTF-8, and VARCHAR limits apply) and still verifies: a refused row would
// block the writer.
func TestHostileValuesAreStored(t *testing.T) {
	t.Parallel()
	d := testenv.DB(t)
	l := audit.New(d, nil, 16)
	long := strings.Repeat("é", 300)
	evs := []audit.Event{
		{ActorType: "app\x00", ActorID: long, Action: long, ResourceType: long, ResourceID: long,
			UserAgent: "bad\xff\xfeutf8\x00", IP: "not an ip", Error: long + long + long + long,
			Details: map[string]any{"nul": "a\x00b", "bad\xffkey": []any{"x\x00", 1.5, true, nil}, "html": "<script>&"}},
		{IP: "::ffff:192.0.2.1", Details: map[string]any{"big": 12345678901234567890.0, "nested": map[string]any{"z": 1, "a": []any{}}}},
		{IP: "2001:db8::1", Details: map[string]any{"unicode": "日本語 \u2028"}},
		{}, // everything empty: defaults fill the NOT NULL columns
	}
	for _, ev := range evs {
		l.Record(context.Background(), ev)
	}
	closeLogger(t, l)
	verifyOK(t, d, int64(len(evs)))
	page, err := audit.List(context.Background(), d, audit.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if got := page.Entries[len(page.Entries)-1]; got.ActorType != "app" || got.IPAddress != "" || len([]rune(got.ActorID)) != 100 {
		t.Fatalf("first row = %+v", got)
	}
	if got := page.Entries[len(page.Entries)-2]; got.IPAddress != "192.0.2.1" {
		t.Fatalf("mapped IPv4 stored as %q", got.IPAddress)
	}
}

func TestListFiltersAndPages(t *testing.T) {
	t.Parallel()
	d := testenv.DB(t)
	l := audit.New(d, nil, 64)
	base := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	ctx := requestid.NewContext(context.Background(), "req-1")
	for i := range 12 {
		ev := event(i)
		ev.Time = base.Add(time.Duration(i) * time.Minute)
		if i >= 8 {
			ev.Action, ev.ResourceType, ev.ActorType = "revoke", "api_key", audit.ActorUser
		}
		l.Record(ctx, ev)
	}
	closeLogger(t, l)
	tru, fals := true, false
	at := func(m int) *time.Time { t := base.Add(time.Duration(m) * time.Minute); return &t }
	tests := []struct {
		name string
		q    audit.Query
		want []string // resource ids, newest first
	}{
		{"all", audit.Query{}, []string{"11", "10", "9", "8", "7", "6", "5", "4", "3", "2", "1", "0"}},
		{"action", audit.Query{Action: "revoke"}, []string{"11", "10", "9", "8"}},
		{"actor type and id", audit.Query{ActorType: audit.ActorApp, ActorID: "key-1"}, []string{"1"}},
		{"resource", audit.Query{ResourceType: "correction", ResourceID: "5"}, []string{"5"}},
		{"since inclusive, until exclusive", audit.Query{Since: at(3), Until: at(6)}, []string{"5", "4", "3"}},
		{"success", audit.Query{Success: &fals, Until: at(7)}, []string{"6", "3", "0"}},
		{"success true", audit.Query{Success: &tru, Since: at(9)}, []string{"11", "10"}},
		{"no match", audit.Query{Action: "nope"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, limit := range []int{0, 1, 5} { // every page size yields the same rows
				q := tt.q
				q.Limit = limit
				var got []string
				for pages := 0; ; pages++ {
					p, err := audit.List(context.Background(), d, q)
					if err != nil {
						t.Fatal(err)
					}
					if limit > 0 && len(p.Entries) > limit {
						t.Fatalf("page of %d entries, limit %d", len(p.Entries), limit)
					}
					for _, e := range p.Entries {
						got = append(got, e.ResourceID)
						if !strings.Contains(string(e.Details), `"request_id":"req-1"`) || e.RowHash == "" {
							t.Fatalf("entry %+v lacks request id or hash", e)
						}
					}
					if p.NextCursor == "" {
						break
					}
					if pages > 20 {
						t.Fatal("pagination does not end")
					}
					q.Cursor = p.NextCursor
				}
				if strings.Join(got, ",") != strings.Join(tt.want, ",") {
					t.Fatalf("limit %d: got %v, want %v", limit, got, tt.want)
				}
			}
		})
	}
	for _, q := range []audit.Query{{Limit: -1}, {Limit: audit.MaxLimit + 1}, {Cursor: "bogus"}, {Cursor: "djE6LTE"}} {
		if _, err := audit.List(context.Background(), d, q); !apierr.Is(err, apierr.Invalid) {
			t.Errorf("List(%+v) = %v, want invalid", q, err)
		}
	}
}

// Close gives up, with an error that counts the rows, when the database
// is gone and its deadline passes; it does not hang.
func TestCloseDeadlineWhenDatabaseIsDown(t *testing.T) {
	t.Parallel()
	cfg := testenv.DBConfig(t)
	d, err := db.Open(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.MigrateUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	l := audit.New(d, nil, 2)
	d.Close()
	l.Record(context.Background(), event(0)) // the writer takes it and retries
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 5 { // more than the buffer: some Records wait
			l.Record(context.Background(), event(i))
		}
	}()
	// The failed attempts are counted (a metric) while the writer retries.
	deadline := time.Now().Add(5 * time.Second)
	for l.Failures() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if l.Failures() < 2 || l.Pending() == 0 {
		t.Fatalf("with the database down: %d failed attempts, %d rows pending; want retries counted and rows pending", l.Failures(), l.Pending())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err = l.Close(ctx)
	<-done
	if err == nil || !strings.Contains(err.Error(), "could not be written") {
		t.Fatalf("Close with the database down = %v, want the count of rows given up", err)
	}
}

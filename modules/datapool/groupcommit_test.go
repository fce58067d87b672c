package datapool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocrpool/ocrpool/modules/platform/apierr"
	"github.com/ocrpool/ocrpool/modules/platform/db"
)

// holdFlusher makes the group committer look busy, so that requests queue
// up instead of being flushed; release starts the flusher, which then
// stores everything queued as one group. This is how the tests get a known
// group without relying on timing.
func holdFlusher(t *testing.T, g *groupCommitter) (release func()) {
	t.Helper()
	// A flusher still finishing the previous rows would see the queue
	// empty, count itself out and undo the hold: wait until it has gone.
	if err := g.drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	g.running = g.maxFlushes
	g.idle = make(chan struct{})
	g.mu.Unlock()
	return func() {
		g.mu.Lock()
		g.running = 1
		g.mu.Unlock()
		go g.run()
	}
}

// waitQueued waits until n rows are queued.
func waitQueued(t *testing.T, g *groupCommitter, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		g.mu.Lock()
		queued := len(g.queue)
		g.mu.Unlock()
		if queued >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %d queued rows, have %d", n, queued)
		}
		runtime.Gosched()
	}
}

// textCorrection is sample() with a text of its own: only corrections
// given the same tag are the same receipt.
func textCorrection(tag string) Correction {
	c := sample()
	c.OCRText = strings.Replace(sampleText, "THANK YOU", "THANK YOU "+tag, 1)
	return c
}

// outcome is what one ingest should answer.
type outcome int

const (
	wantStored outcome = iota
	wantDuplicate
	wantConflict
	wantCanceled
	wantInvalid
)

func (o outcome) String() string {
	return [...]string{"stored", "duplicate", "conflict", "canceled", "invalid"}[o]
}

// classify turns an Ingest answer into an outcome.
func classify(res IngestResult, err error) (outcome, error) {
	var ae *apierr.Error
	switch {
	case err == nil && res.Duplicate:
		return wantDuplicate, nil
	case err == nil:
		return wantStored, nil
	case errors.Is(err, context.Canceled):
		return wantCanceled, nil
	case errors.As(err, &ae) && ae.Code == apierr.Conflict:
		return wantConflict, nil
	case errors.As(err, &ae) && ae.Code == apierr.Invalid:
		return wantInvalid, nil
	}
	return 0, err
}

// TestGroupCommit sends one group of concurrent single corrections with
// every kind of answer in it and checks each answer and the table.
func TestGroupCommit(t *testing.T) {
	e := newTestEnv(t, withClock(fixedNow))
	ctx := context.Background()

	// Stored before the group.
	retried := textCorrection("retried")
	conflicting := textCorrection("conflicting")
	sameTextAsStored := textCorrection("stored-text")
	prior := map[string]string{} // source id → stored id
	for _, c := range []Correction{retried, conflicting, sameTextAsStored} {
		res, err := e.svc.Ingest(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		prior[c.SourceCorrectionID] = res.ID
	}
	changed := conflicting
	changed.CorrectedFields.Amount = "99.00"
	twiceNew := textCorrection("twice")
	twiceOther := twiceNew
	twiceOther.CorrectedFields.Amount = "13.00"
	sameText1, sameText2 := textCorrection("same-text"), textCorrection("same-text")
	invalid := textCorrection("invalid")
	invalid.SourceApp = ""
	againStoredText := textCorrection("stored-text") // new source id, a stored receipt's text

	tests := []struct {
		name   string
		c      Correction
		cancel string // "before": ctx cancelled before Ingest; "queued": while queued
		want   []outcome
	}{
		{name: "new", c: textCorrection("new-1"), want: []outcome{wantStored}},
		{name: "new upper-case id", c: func() Correction {
			c := textCorrection("new-2")
			c.SourceCorrectionID = strings.ToUpper(c.SourceCorrectionID)
			return c
		}(), want: []outcome{wantStored}},
		{name: "retry of a stored correction", c: retried, want: []outcome{wantDuplicate}},
		{name: "stored source id, other content", c: changed, want: []outcome{wantConflict}},
		{name: "same id twice in the group, same content (1)", c: twiceNew, want: []outcome{wantStored}},
		{name: "same id twice in the group, same content (2)", c: twiceNew, want: []outcome{wantDuplicate}},
		{name: "same id in the group, other content", c: twiceOther, want: []outcome{wantConflict}},
		{name: "same receipt twice in the group (1)", c: sameText1, want: []outcome{wantStored}},
		{name: "same receipt twice in the group (2)", c: sameText2, want: []outcome{wantStored}},
		{name: "a stored receipt again", c: againStoredText, want: []outcome{wantStored}},
		{name: "invalid", c: invalid, want: []outcome{wantInvalid}},
		{name: "cancelled before", c: textCorrection("cancel-before"), cancel: "before", want: []outcome{wantCanceled}},
		{name: "cancelled while queued", c: textCorrection("cancel-queued"), cancel: "queued", want: []outcome{wantCanceled}},
		{name: "new after the cancelled", c: textCorrection("new-3"), want: []outcome{wantStored}},
	}
	release := holdFlusher(t, e.svc.commits)
	type answer struct {
		res IngestResult
		err error
	}
	answers := make([]answer, len(tests))
	answered := make([]chan struct{}, len(tests))
	var wg sync.WaitGroup
	queued := 0
	var cancelQueued []context.CancelFunc
	for i, tt := range tests {
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		switch tt.cancel {
		case "before":
			cancel()
		case "queued":
			cancelQueued = append(cancelQueued, cancel)
		}
		wg.Add(1)
		answered[i] = make(chan struct{})
		go func() {
			defer wg.Done()
			defer close(answered[i])
			answers[i].res, answers[i].err = e.svc.Ingest(rctx, tt.c)
		}()
		// One at a time, so the queue holds them in table order.
		if tt.cancel == "" && tt.want[0] != wantInvalid || tt.cancel == "queued" {
			queued++
			waitQueued(t, e.svc.commits, queued)
		}
	}
	for _, cancel := range cancelQueued {
		cancel()
	}
	// A request cancelled while queued answers without a flush.
	for i, tt := range tests {
		if tt.cancel == "queued" {
			<-answered[i]
		}
	}
	release()
	wg.Wait()

	for i, tt := range tests {
		got, err := classify(answers[i].res, answers[i].err)
		if err != nil {
			t.Errorf("%s: unexpected error %v", tt.name, err)
			continue
		}
		ok := false
		for _, w := range tt.want {
			ok = ok || got == w
		}
		if !ok {
			t.Errorf("%s: got %s (%+v, %v), want one of %v", tt.name, got, answers[i].res, answers[i].err, tt.want)
		}
	}
	// Of the two identical requests, one stored and one is its duplicate.
	a, b := answers[4].res, answers[5].res
	if a.ID != b.ID || a.Duplicate == b.Duplicate {
		t.Errorf("identical requests answered %+v and %+v, want one id, one duplicate", a, b)
	}
	if e.svc.commits.drain(ctx) != nil {
		t.Fatal("drain")
	}

	// The table holds exactly the stored rows.
	wantIDs := map[string]bool{}
	for id := range prior {
		wantIDs[strings.ToLower(id)] = true
	}
	for i, tt := range tests {
		if got, _ := classify(answers[i].res, answers[i].err); got == wantStored {
			wantIDs[strings.ToLower(tt.c.SourceCorrectionID)] = true
		}
	}
	var stored []correctionRow
	if err := e.db.Gorm.Find(&stored).Error; err != nil {
		t.Fatal(err)
	}
	gotIDs := map[string]correctionRow{}
	for _, r := range stored {
		gotIDs[strings.ToLower(deref(r.SourceCorrectionID))] = r
	}
	if len(stored) != len(wantIDs) || len(gotIDs) != len(wantIDs) {
		t.Errorf("table has %d rows (%d source ids), want %d", len(stored), len(gotIDs), len(wantIDs))
	}
	for id := range wantIDs {
		if _, ok := gotIDs[id]; !ok {
			t.Errorf("source id %s is not stored", id)
		}
	}
	for _, tt := range tests {
		if tt.cancel != "" {
			if _, ok := gotIDs[strings.ToLower(tt.c.SourceCorrectionID)]; ok {
				t.Errorf("%s: stored, want nothing stored", tt.name)
			}
		}
	}
	// The conflict did not change the stored row.
	if r := e.row(t, prior[conflicting.SourceCorrectionID]); deref(r.CorrectedAmount) != "12.50" {
		t.Errorf("conflicting request changed the stored amount to %s", deref(r.CorrectedAmount))
	}

	// Duplicate receipts: against the stored row, and within the group.
	dupOf := func(r correctionRow) string {
		const marker = reasonDuplicate + ": same text as correction "
		reason := deref(r.OutlierReason)
		i := strings.Index(reason, marker)
		if i < 0 {
			return ""
		}
		rest := reason[i+len(marker):]
		if j := strings.Index(rest, ";"); j >= 0 {
			rest = rest[:j]
		}
		return rest
	}
	if r := gotIDs[strings.ToLower(againStoredText.SourceCorrectionID)]; dupOf(r) != prior[sameTextAsStored.SourceCorrectionID] || !r.IsOutlier {
		t.Errorf("a stored receipt again: outlier %v, reason %q, want a duplicate of %s", r.IsOutlier, deref(r.OutlierReason), prior[sameTextAsStored.SourceCorrectionID])
	}
	// The first of the two in the queue is the original.
	r1, r2 := gotIDs[strings.ToLower(sameText1.SourceCorrectionID)], gotIDs[strings.ToLower(sameText2.SourceCorrectionID)]
	if dupOf(r1) != "" || dupOf(r2) != r1.ID || !r2.IsOutlier {
		t.Errorf("same receipt twice: reasons %q and %q, want the second naming the first (%s)", deref(r1.OutlierReason), deref(r2.OutlierReason), r1.ID)
	}
	if r := gotIDs[strings.ToLower(tests[0].c.SourceCorrectionID)]; r.IsOutlier {
		t.Errorf("new: outlier %q", deref(r.OutlierReason))
	}

	// One event per stored row of the group.
	storedInGroup := 0
	for i := range tests {
		if got, _ := classify(answers[i].res, answers[i].err); got == wantStored {
			storedInGroup++
		}
	}
	if got := int(counterValue(t, e.svc.metrics.corrections.WithLabelValues("stored"))); got != len(prior)+storedInGroup {
		t.Errorf("stored counter = %d, want %d", got, len(prior)+storedInGroup)
	}
	n, err := e.cache.Client.XLen(ctx, e.cache.Key(StreamKeyParts...)).Result()
	if err != nil {
		t.Fatal(err)
	}
	if int(n) != len(prior)+storedInGroup {
		t.Errorf("stream has %d events, want %d", n, len(prior)+storedInGroup)
	}
}

// TestGroupCommitBadRow: a group the database refuses because of one row
// is stored row by row, so only that row's request fails.
func TestGroupCommitBadRow(t *testing.T) {
	e := newTestEnv(t, withClock(fixedNow))
	ctx := context.Background()
	first, err := e.svc.Ingest(ctx, textCorrection("first"))
	if err != nil {
		t.Fatal(err)
	}
	var preps []*prepared
	for i := range 4 {
		p, err := e.svc.prepare(textCorrection(fmt.Sprint("bad-row-", i)), fixedNow())
		if err != nil {
			t.Fatal(err)
		}
		preps = append(preps, p)
	}
	preps[2].row.ID = first.ID // the primary key is taken: not an ON CONFLICT case

	release := holdFlusher(t, e.svc.commits)
	type answer struct {
		inserted bool
		err      error
	}
	answers := make([]answer, len(preps))
	var wg sync.WaitGroup
	for i, p := range preps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i].inserted, answers[i].err = e.svc.commits.insert(ctx, p)
		}()
		waitQueued(t, e.svc.commits, i+1)
	}
	release()
	wg.Wait()
	for i, a := range answers {
		if i == 2 {
			if a.err == nil || a.inserted {
				t.Errorf("row with a taken id: inserted %v, err %v; want an error", a.inserted, a.err)
			}
			continue
		}
		if a.err != nil || !a.inserted {
			t.Errorf("row %d: inserted %v, err %v; want inserted", i, a.inserted, a.err)
		}
	}
	if got := e.count(t, "corrections_master"); got != 4 {
		t.Errorf("table has %d rows, want 4", got)
	}
}

// TestGroupCommitConcurrentHTTP sends many single corrections at once over
// HTTP, some of them repeated and some conflicting, with whatever grouping
// the scheduler makes, and checks every answer and the table.
func TestGroupCommitConcurrentHTTP(t *testing.T) {
	e := newTestEnv(t)
	const distinct = 40
	cs := make([]Correction, distinct)
	for i := range cs {
		cs[i] = textCorrection(fmt.Sprint("http-", i))
	}
	type request struct {
		c        Correction
		original int // index into cs
		conflict bool
	}
	var reqs []request
	for i, c := range cs {
		reqs = append(reqs, request{c: c, original: i})
		if i%3 == 0 {
			reqs = append(reqs, request{c: c, original: i})
		}
		if i%5 == 0 {
			other := c
			other.CorrectedFields.Amount = "77.70"
			reqs = append(reqs, request{c: other, original: i, conflict: true})
		}
	}
	codes := make([]int, len(reqs))
	bodies := make([]map[string]any, len(reqs))
	var wg sync.WaitGroup
	for i, r := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := e.do(t, http.MethodPost, "/corrections/ingest", mustJSON(t, r.c))
			codes[i] = w.Code
			if err := json.Unmarshal(w.Body.Bytes(), &bodies[i]); err != nil {
				t.Errorf("request %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	// Per source id: exactly one 201, the identical ones 200 with its id;
	// a conflicting one is 409 unless it won the race, and then the
	// original is the 409.
	type tally struct{ created, dup, conflict int }
	per := make([]tally, distinct)
	ids := make([]map[string]bool, distinct)
	for i, r := range reqs {
		tl := &per[r.original]
		switch codes[i] {
		case http.StatusCreated:
			tl.created++
		case http.StatusOK:
			tl.dup++
		case http.StatusConflict:
			tl.conflict++
		default:
			t.Errorf("request %d: status %d %v", i, codes[i], bodies[i])
			continue
		}
		if id, _ := bodies[i]["id"].(string); id != "" {
			if ids[r.original] == nil {
				ids[r.original] = map[string]bool{}
			}
			ids[r.original][id] = true
		}
	}
	for i := range cs {
		n := 1 + boolInt(i%3 == 0)
		conflicting := boolInt(i%5 == 0)
		tl := per[i]
		if tl.created != 1 || tl.created+tl.dup+tl.conflict != n+conflicting || len(ids[i]) != 1 {
			t.Errorf("source id %d: %+v, ids %v; want 1 created of %d requests (%d conflicting)", i, tl, ids[i], n+conflicting, conflicting)
		}
	}
	if got := e.count(t, "corrections_master"); got != distinct {
		t.Errorf("table has %d rows, want %d", got, distinct)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestGroupCommitDrain: drain waits for queued rows and gives up with its
// context.
func TestGroupCommitDrain(t *testing.T) {
	e := newTestEnv(t)
	g := e.svc.commits
	if err := g.drain(context.Background()); err != nil {
		t.Fatalf("drain of an idle committer: %v", err)
	}
	release := holdFlusher(t, g)
	done := make(chan error, 1)
	c := textCorrection("drain")
	go func() { _, err := e.svc.Ingest(context.Background(), c); done <- err }()
	waitQueued(t, g, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := g.drain(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("drain with a cancelled context while busy = %v", err)
	}
	release()
	if err := g.drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := e.count(t, "corrections_master"); got != 1 {
		t.Errorf("table has %d rows after drain, want 1", got)
	}
}

// A request cancelled after its row was taken into a group gets the
// group's outcome, not "cancelled": the row is stored all the same.
func TestGroupCommitCancelledAfterTaken(t *testing.T) {
	e := newTestEnv(t)
	g := e.svc.commits
	// Hold the table, so the flush that takes the row waits on the database.
	lock := e.db.Gorm.Begin()
	defer lock.Rollback()
	stmt := "DELETE FROM corrections_master" // SQLite: takes the write lock
	if e.db.Dialect == db.Postgres {
		stmt = "LOCK TABLE corrections_master IN SHARE ROW EXCLUSIVE MODE"
	}
	if err := lock.Exec(stmt).Error; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type answer struct {
		res IngestResult
		err error
	}
	done := make(chan answer, 1)
	c := textCorrection("cancel-taken")
	go func() {
		res, err := e.svc.Ingest(ctx, c)
		done <- answer{res, err}
	}()
	// Taken: out of the queue, with a flush running.
	deadline := time.Now().Add(10 * time.Second)
	for {
		g.mu.Lock()
		taken := len(g.queue) == 0 && g.running > 0
		g.mu.Unlock()
		if taken {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the row was not taken into a group within 10 s")
		}
		runtime.Gosched()
	}
	cancel()
	select {
	case a := <-done:
		t.Fatalf("answered %+v, %v while its group was still being stored", a.res, a.err)
	case <-time.After(100 * time.Millisecond):
	}
	if err := lock.Rollback().Error; err != nil {
		t.Fatal(err)
	}
	a := <-done
	if a.err != nil || a.res.Duplicate || a.res.ID == "" {
		t.Fatalf("after cancelling a taken row: %+v, %v; want it stored", a.res, a.err)
	}
	if got := e.count(t, "corrections_master"); got != 1 {
		t.Errorf("table has %d rows, want 1", got)
	}
}

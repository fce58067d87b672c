package datapool

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ocrpool/ocrpool/modules/platform/apierr"
)

func TestIngestStoresNormalisedRow(t *testing.T) {
	e := newTestEnv(t, withClock(fixedNow))
	ctx := context.Background()
	c := sample()
	c.ReceiptImagePath = "/receipts/u1/2024/03/abc.jpg"
	c.ExpenseID = "exp-123"
	res, err := e.svc.Ingest(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if res.Duplicate || res.ID == "" {
		t.Fatalf("Ingest = %+v", res)
	}
	r := e.row(t, res.ID)
	str := func(p *string) string {
		if p == nil {
			return "<nil>"
		}
		return *p
	}
	checks := []struct{ name, got, want string }{
		{"source_app", r.SourceApp, "expenseapp"},
		{"source_correction_id", str(r.SourceCorrectionID), strings.ToLower(c.SourceCorrectionID)},
		{"user_id_hash", r.UserIDHash, e.svc.mask.userHash(c.UserID)},
		{"corrected_merchant", str(r.CorrectedMerchant), "Starbucks"},
		{"corrected_amount", str(r.CorrectedAmount), "12.50"},
		{"corrected_date", string(*r.CorrectedDate), "2024-03-12"},
		{"corrected_category", str(r.CorrectedCategory), "meals"},
		{"corrected_card_last_four", str(r.CorrectedCardLastFour), "4242"},
		{"fields_corrected", strings.Join(r.FieldsCorrected.Items, ","), "merchant,amount,category"},
		{"ocr_confidence", str(r.OCRConfidence), "0.820"},
		{"pattern_version", str(r.PatternVersion), "v7"},
		{"receipt_image_path_hash", str(r.ReceiptImagePathHash), e.svc.mask.pathHash(c.ReceiptImagePath)},
		{"expense_id_token", str(r.ExpenseIDToken), e.svc.mask.expenseToken("exp-123")},
		{"created_at", r.CreatedAt.UTC().Format(time.RFC3339), "2024-03-12T10:35:00Z"},
		{"ingested_at", r.IngestedAt.UTC().Format(time.RFC3339), "2024-03-12T11:00:00Z"},
		{"is_outlier", boolString(r.IsOutlier), "false"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %q, want %q", ch.name, ch.got, ch.want)
		}
	}
	if r.DataQualityScore == nil {
		t.Fatal("no quality score")
	}
	var orig map[string]string
	if err := json.Unmarshal([]byte(r.OriginalInference), &orig); err != nil || orig["amount"] != "12.5O" {
		t.Errorf("original_inference should keep the misread as sent: %s (%v)", r.OriginalInference, err)
	}
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func TestIngestIdempotent(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	c := sample()
	c.CreatedAt = "" // a retry without created_at is still the same correction
	first, err := e.svc.Ingest(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("SameContentIsDuplicate", func(t *testing.T) {
		again, err := e.svc.Ingest(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if !again.Duplicate || again.ID != first.ID {
			t.Fatalf("retry = %+v, want duplicate of %s", again, first.ID)
		}
	})
	t.Run("UpperCaseUUIDIsSameKey", func(t *testing.T) {
		c2 := c
		c2.SourceCorrectionID = strings.ToUpper(c.SourceCorrectionID)
		again, err := e.svc.Ingest(ctx, c2)
		if err != nil || !again.Duplicate || again.ID != first.ID {
			t.Fatalf("retry = %+v, %v", again, err)
		}
	})
	t.Run("DifferentContentIsConflict", func(t *testing.T) {
		c2 := c
		c2.CorrectedFields.Amount = "13.50"
		_, err := e.svc.Ingest(ctx, c2)
		if got := apierr.CodeOf(err); got != apierr.Conflict {
			t.Fatalf("code = %q (%v), want conflict", got, err)
		}
	})
	t.Run("OtherAppSameIDIsNew", func(t *testing.T) {
		c2 := c
		c2.SourceApp = "otherapp"
		res, err := e.svc.Ingest(ctx, c2)
		if err != nil || res.Duplicate {
			t.Fatalf("other app = %+v, %v", res, err)
		}
	})
	if n := e.count(t, "corrections_master"); n != 2 {
		t.Fatalf("rows = %d, want 2", n)
	}
}

func TestIngestConcurrentIdenticalRequests(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	c := sample()
	const n = 16
	var wg sync.WaitGroup
	results := make([]IngestResult, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			results[i], errs[i] = e.svc.Ingest(ctx, c)
		}(i)
	}
	close(start)
	wg.Wait()
	stored := 0
	for i := range results {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		if results[i].ID != results[0].ID {
			t.Fatalf("request %d got id %s, request 0 %s", i, results[i].ID, results[0].ID)
		}
		if !results[i].Duplicate {
			stored++
		}
	}
	if stored != 1 {
		t.Fatalf("%d requests reported storing, want 1", stored)
	}
	if got := e.count(t, "corrections_master"); got != 1 {
		t.Fatalf("rows = %d, want 1", got)
	}
}

func TestIngestValidation(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	nan := 2.0
	tests := []struct {
		name   string
		modify func(*Correction)
		field  string
		msg    string
	}{
		{"NoApp", func(c *Correction) { c.SourceApp = "" }, "source_app", "required"},
		{"BadApp", func(c *Correction) { c.SourceApp = "expense app!" }, "source_app", "only letters"},
		{"LongEnv", func(c *Correction) { c.SourceEnvironment = strings.Repeat("e", 21) }, "source_environment", "longer than 20"},
		{"NoSourceID", func(c *Correction) { c.SourceCorrectionID = "" }, "source_correction_id", "required"},
		{"SourceIDNotUUID", func(c *Correction) { c.SourceCorrectionID = "12345" }, "source_correction_id", "UUID"},
		{"NoUser", func(c *Correction) { c.UserID = " " }, "user_id", "required"},
		{"NoProvider", func(c *Correction) { c.OCRProvider = "" }, "ocr_provider", "required"},
		{"NoText", func(c *Correction) { c.OCRText = "  \n" }, "ocr_text", "required"},
		{"HugeText", func(c *Correction) { c.OCRText = strings.Repeat("x", maxOCRText+1) }, "ocr_text", "limit"},
		{"BadUTF8", func(c *Correction) { c.OCRText = "abc\xff" }, "ocr_text", "UTF-8"},
		{"Confidence", func(c *Correction) { c.OCRConfidence = &nan }, "ocr_confidence", "between 0 and 1"},
		{"LongVersion", func(c *Correction) { c.ModelVersion = strings.Repeat("v", 21) }, "model_version", "longer than 20"},
		{"NoCorrected", func(c *Correction) { c.CorrectedFields = Fields{} }, "corrected_fields", "at least one"},
		{"ImpossibleDate", func(c *Correction) { c.CorrectedFields.Date = "31/02/2024" }, "corrected_fields.date", "February 2024 has 29 days"},
		{"NegativeAmount", func(c *Correction) { c.CorrectedFields.Amount = "-5.00" }, "corrected_fields.amount", "negative"},
		{"AbsurdAmount", func(c *Correction) { c.CorrectedFields.Amount = "1000000000000" }, "corrected_fields.amount", "over the limit"},
		{"CurrencyClash", func(c *Correction) {
			c.CorrectedFields.Amount = "RM 5"
			c.CorrectedFields.Currency = "EUR"
		}, "corrected_fields.currency", "MYR"},
		{"BadCurrency", func(c *Correction) { c.CorrectedFields.Currency = "dollars" }, "corrected_fields.currency", "ISO 4217"},
		{"Card", func(c *Correction) { c.CorrectedFields.CardLastFour = "12" }, "corrected_fields.card_last_four", "four digits"},
		{"MerchantPunctuation", func(c *Correction) { c.CorrectedFields.Merchant = "!!!" }, "corrected_fields.merchant", "no letters"},
		{"MerchantLong", func(c *Correction) { c.CorrectedFields.Merchant = Value(strings.Repeat("abc ", 120)) }, "corrected_fields.merchant", "longer than 200"},
		{"ControlChars", func(c *Correction) { c.CorrectedFields.Merchant = "Star\x01bucks" }, "corrected_fields.merchant", "control"},
		{"OriginalControl", func(c *Correction) { c.OriginalInference.Merchant = "a\x00b" }, "original_inference.merchant", "control"},
		{"CreatedAt", func(c *Correction) { c.CreatedAt = "yesterday" }, "created_at", "RFC 3339"},
		{"CreatedAtAncient", func(c *Correction) { c.CreatedAt = "1970-01-01T00:00:00Z" }, "created_at", "outside"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := sample()
			tt.modify(&c)
			_, err := e.svc.Ingest(ctx, c)
			var ae *apierr.Error
			if !asAPIErr(err, &ae) || ae.Code != apierr.Invalid || ae.Field != tt.field || !strings.Contains(ae.Message, tt.msg) {
				t.Fatalf("err = %v, want invalid %s containing %q", err, tt.field, tt.msg)
			}
		})
	}
	if n := e.count(t, "corrections_master"); n != 0 {
		t.Fatalf("rows = %d after invalid input, want 0", n)
	}
}

func asAPIErr(err error, target **apierr.Error) bool {
	e, ok := err.(*apierr.Error)
	if ok {
		*target = e
	}
	return ok
}

func TestIngestBatch(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	cs := sampleN(5)
	cs[1].CorrectedFields.Date = "2024-02-30" // invalid
	cs[3] = cs[2]                             // same key twice in one batch: a duplicate
	cs[4].SourceCorrectionID = cs[0].SourceCorrectionID
	cs[4].CorrectedFields.Merchant = "Costa" // same key, other content: conflict
	results, err := e.svc.IngestBatch(ctx, cs)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		status int
		code   apierr.Code
		dup    bool
	}{{http.StatusCreated, "", false}, {http.StatusBadRequest, apierr.Invalid, false}, {http.StatusCreated, "", false},
		{http.StatusOK, "", true}, {http.StatusConflict, apierr.Conflict, false}}
	for i, w := range want {
		r := results[i]
		if r.Index != i || r.Status != w.status || r.Duplicate != w.dup || (r.Error == nil) != (w.code == "") ||
			(r.Error != nil && r.Error.Code != w.code) {
			t.Errorf("result %d = %+v (err %v), want status %d code %q dup %v", i, r, r.Error, w.status, w.code, w.dup)
		}
	}
	if results[3].ID != results[2].ID {
		t.Errorf("in-batch duplicate got id %s, want %s", results[3].ID, results[2].ID)
	}
	if results[1].Error.Field != "corrected_fields.date" {
		t.Errorf("field = %q", results[1].Error.Field)
	}
	if n := e.count(t, "corrections_master"); n != 2 {
		t.Fatalf("rows = %d, want 2", n)
	}
	// The whole batch again: every stored item is a duplicate now.
	again, err := e.svc.IngestBatch(ctx, []Correction{cs[0], cs[2]})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range again {
		if !r.Duplicate || r.Status != http.StatusOK {
			t.Errorf("retry %d = %+v", i, r)
		}
	}
}

func TestIngestBatchLimits(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	if _, err := e.svc.IngestBatch(ctx, nil); apierr.CodeOf(err) != apierr.Invalid {
		t.Fatalf("empty batch: %v", err)
	}
	_, err := e.svc.IngestBatch(ctx, sampleN(1001))
	if apierr.CodeOf(err) != apierr.TooLarge || !strings.Contains(err.Error(), "1000") {
		t.Fatalf("1001 items: %v", err)
	}
	if n := e.count(t, "corrections_master"); n != 0 {
		t.Fatalf("rows = %d, want 0", n)
	}
	// Exactly the limit goes through, across insert chunks.
	res, err := e.svc.IngestBatch(ctx, sampleN(1000))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Error != nil {
			t.Fatalf("item %d: %v", r.Index, r.Error)
		}
	}
	if n := e.count(t, "corrections_master"); n != 1000 {
		t.Fatalf("rows = %d, want 1000", n)
	}
}

func TestIngestPublishesEvents(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	res, err := e.svc.Ingest(ctx, sample())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Ingest(ctx, sample()); err != nil { // same text: a duplicate receipt, still an event
		t.Fatal(err)
	}
	key := e.cache.Key(StreamKeyParts...)
	msgs, err := e.cache.Client.XRange(ctx, key, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 {
		t.Fatalf("stream has %d entries, want 2", len(msgs))
	}
	ev := EventFromValues(msgs[0].Values)
	if ev.ID != res.ID || ev.SourceApp != "expenseapp" || strings.Join(ev.FieldsCorrected, ",") != "merchant,amount,category" ||
		ev.ModelVersion != "m1.2" || ev.PromptVersion != "p3" || ev.PatternVersion != "v7" || ev.Quality == "" || ev.IsOutlier {
		t.Fatalf("event = %+v", ev)
	}
	if !EventFromValues(msgs[1].Values).IsOutlier {
		t.Fatalf("second event should be an outlier (duplicate receipt): %+v", msgs[1].Values)
	}
	// A duplicate ingest publishes nothing.
	c := sample()
	if _, err := e.svc.Ingest(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Ingest(ctx, c); err != nil {
		t.Fatal(err)
	}
	if n, _ := e.cache.Client.XLen(ctx, key).Result(); n != 3 {
		t.Fatalf("stream length = %d, want 3", n)
	}
}

func TestIngestSurvivesRedisOutage(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	// A client pointed at nothing stands for Redis being down.
	e.svc.events.rdb = redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer e.svc.events.rdb.Close()
	res, err := e.svc.Ingest(ctx, sample())
	if err != nil || res.ID == "" {
		t.Fatalf("ingest with Redis down: %+v, %v", res, err)
	}
	if !strings.Contains(e.logs.String(), "publishing correction events failed") {
		t.Fatal("the failure was not logged")
	}
	if got := counterValue(t, e.svc.metrics.eventsFailed); got != 1 {
		t.Fatalf("events_failed = %v, want 1", got)
	}
}

// TestIngestLargeBatchWithRetries goes through the bulk path (COPY on
// PostgreSQL) with retries and a conflict mixed in.
func TestIngestLargeBatchWithRetries(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	first := sampleN(copyThreshold + 10)
	if _, err := e.svc.IngestBatch(ctx, first[:20]); err != nil {
		t.Fatal(err)
	}
	changed := first[5]
	changed.CorrectedFields.Amount = "77.00"
	batch := append(append([]Correction(nil), first...), changed)
	res, err := e.svc.IngestBatch(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	var created, dups, conflicts int
	for _, r := range res {
		switch {
		case r.Status == http.StatusCreated:
			created++
		case r.Duplicate:
			dups++
		case r.Error != nil && r.Error.Code == apierr.Conflict:
			conflicts++
		default:
			t.Fatalf("unexpected result %+v (%v)", r, r.Error)
		}
	}
	if created != len(first)-20 || dups != 20 || conflicts != 1 {
		t.Fatalf("created %d, duplicates %d, conflicts %d; want %d, 20, 1", created, dups, conflicts, len(first)-20)
	}
	if n := e.count(t, "corrections_master"); n != int64(len(first)) {
		t.Fatalf("rows = %d, want %d", n, len(first))
	}
}

// TestEventsAsyncWhileStarted: a started module queues events and Stop
// publishes what is queued.
func TestEventsAsyncWhileStarted(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	if err := e.mod.Start(ctx); err != nil {
		t.Fatal(err)
	}
	cs := sampleN(30)
	for _, c := range cs[:10] {
		if _, err := e.svc.Ingest(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.svc.IngestBatch(ctx, cs[10:]); err != nil {
		t.Fatal(err)
	}
	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := e.mod.Stop(stopCtx); err != nil {
		t.Fatal(err)
	}
	if n, err := e.cache.Client.XLen(ctx, e.cache.Key(StreamKeyParts...)).Result(); err != nil || n != 30 {
		t.Fatalf("stream length = %d, %v; want 30", n, err)
	}
	// After Stop, publishing is synchronous again.
	if _, err := e.svc.Ingest(ctx, sample()); err != nil {
		t.Fatal(err)
	}
	if n, _ := e.cache.Client.XLen(ctx, e.cache.Key(StreamKeyParts...)).Result(); n != 31 {
		t.Fatalf("stream length = %d, want 31", n)
	}
}

// TestIngestConcurrentOverlappingBatches sends the same large batch from
// several clients at once: on PostgreSQL the bulk COPY of all but one
// loses the race on the unique key and takes the upsert path.
func TestIngestConcurrentOverlappingBatches(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	batch := sampleN(120)
	const clients = 4
	results := make([][]ItemResult, clients)
	errs := make([]error, clients)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			<-start
			results[c], errs[c] = e.svc.IngestBatch(ctx, batch)
		}(c)
	}
	close(start)
	wg.Wait()
	stored := 0
	for c := 0; c < clients; c++ {
		if errs[c] != nil {
			t.Fatalf("client %d: %v", c, errs[c])
		}
		for i, r := range results[c] {
			if r.Error != nil {
				t.Fatalf("client %d item %d: %v", c, i, r.Error)
			}
			if r.ID != results[0][i].ID {
				t.Fatalf("item %d has ids %s and %s", i, r.ID, results[0][i].ID)
			}
			if !r.Duplicate {
				stored++
			}
		}
	}
	if stored != len(batch) {
		t.Fatalf("%d items reported stored, want %d", stored, len(batch))
	}
	if n := e.count(t, "corrections_master"); n != int64(len(batch)) {
		t.Fatalf("rows = %d, want %d", n, len(batch))
	}
}

// Package datapooltest holds the contract every datapool.Client must meet,
// as a test suite run against the in-process *datapool.Service and the
// *datapool.HTTPClient alike, so that a call means the same thing whether
// the data pool runs in this process or elsewhere.
package datapooltest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ocrpool/ocrpool/modules/datapool"
	"github.com/ocrpool/ocrpool/modules/platform/apierr"
)

// Sample returns a valid correction of app with a fresh source id; i
// varies the receipt text so samples are not duplicate receipts.
func Sample(app string, i int) datapool.Correction {
	conf := 0.9
	return datapool.Correction{
		SourceApp:          app,
		SourceEnvironment:  "sandbox",
		SourceCorrectionID: uuid.NewString(),
		UserID:             "user-42",
		OCRProvider:        "tesseract",
		OCRText:            "GRAB HOLDINGS receipt " + strings.Repeat("x", i%7) + " ride to KLIA total RM 45.20 on 12/03/2024 #" + uuid.NewString()[:8],
		OCRConfidence:      &conf,
		OriginalInference:  datapool.Fields{Merchant: "GRA8", Amount: "45.2O", Date: "12/03/2024"},
		CorrectedFields:    datapool.Fields{Merchant: "Grab", Amount: "RM 45.20", Date: "12/03/2024", Category: "taxi"},
		ModelVersion:       "m1",
		CreatedAt:          "2024-03-12T12:00:00Z",
	}
}

func uniqueApp(tb testing.TB) string {
	tb.Helper()
	var b [5]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	return "conf-" + hex.EncodeToString(b[:])
}

// wantCode fails unless err carries code (and field, when not empty).
func wantCode(tb testing.TB, err error, code apierr.Code, field string) {
	tb.Helper()
	if got := apierr.CodeOf(err); got != code {
		tb.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
	if field != "" {
		var ae *apierr.Error
		if e, ok := err.(*apierr.Error); ok {
			ae = e
		}
		if ae == nil || ae.Field != field {
			tb.Fatalf("error = %v, want field %q", err, field)
		}
	}
}

// Conformance runs the datapool.Client contract against the client that
// newClient returns (called once; subtests keep apart by using apps of
// their own). maxBatch is the data pool's datapool.max_batch.
func Conformance(t *testing.T, maxBatch int, newClient func(t *testing.T) datapool.Client) {
	c := newClient(t)
	ctx := context.Background()

	t.Run("IngestStoresOnceAndIsIdempotent", func(t *testing.T) {
		in := Sample(uniqueApp(t), 0)
		first, err := c.Ingest(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if first.ID == "" || first.Duplicate {
			t.Fatalf("first ingest = %+v", first)
		}
		again, err := c.Ingest(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if !again.Duplicate || again.ID != first.ID {
			t.Fatalf("retry = %+v, want a duplicate of %s", again, first.ID)
		}
	})

	t.Run("IngestConflict", func(t *testing.T) {
		in := Sample(uniqueApp(t), 1)
		if _, err := c.Ingest(ctx, in); err != nil {
			t.Fatal(err)
		}
		in.CorrectedFields.Amount = "RM 46.20"
		_, err := c.Ingest(ctx, in)
		wantCode(t, err, apierr.Conflict, "source_correction_id")
	})

	t.Run("IngestInvalidNamesTheField", func(t *testing.T) {
		tests := []struct {
			name   string
			modify func(*datapool.Correction)
			field  string
		}{
			{"ImpossibleDate", func(c *datapool.Correction) { c.CorrectedFields.Date = "30/02/2024" }, "corrected_fields.date"},
			{"NegativeAmount", func(c *datapool.Correction) { c.CorrectedFields.Amount = "-1" }, "corrected_fields.amount"},
			{"MissingApp", func(c *datapool.Correction) { c.SourceApp = "" }, "source_app"},
			{"NotAUUID", func(c *datapool.Correction) { c.SourceCorrectionID = "abc" }, "source_correction_id"},
			{"NothingCorrected", func(c *datapool.Correction) { c.CorrectedFields = datapool.Fields{} }, "corrected_fields"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				in := Sample(uniqueApp(t), 2)
				tt.modify(&in)
				_, err := c.Ingest(ctx, in)
				wantCode(t, err, apierr.Invalid, tt.field)
			})
		}
	})

	t.Run("IngestBatchReportsEachItem", func(t *testing.T) {
		app := uniqueApp(t)
		items := []datapool.Correction{Sample(app, 3), Sample(app, 4), Sample(app, 5)}
		items[1].CorrectedFields.Date = "2024-13-01"
		items[2] = items[0]
		res, err := c.IngestBatch(ctx, items)
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 3 {
			t.Fatalf("%d results, want 3", len(res))
		}
		if res[0].Status != http.StatusCreated || res[0].ID == "" || res[0].Error != nil {
			t.Errorf("item 0 = %+v", res[0])
		}
		if res[1].Status != http.StatusBadRequest || res[1].Error == nil || res[1].Error.Code != apierr.Invalid ||
			res[1].Error.Field != "corrected_fields.date" || res[1].ID != "" {
			t.Errorf("item 1 = %+v (%v)", res[1], res[1].Error)
		}
		if res[2].Status != http.StatusOK || !res[2].Duplicate || res[2].ID != res[0].ID {
			t.Errorf("item 2 = %+v", res[2])
		}
		for i, r := range res {
			if r.Index != i {
				t.Errorf("result %d has index %d", i, r.Index)
			}
		}
	})

	t.Run("IngestBatchLimits", func(t *testing.T) {
		_, err := c.IngestBatch(ctx, nil)
		wantCode(t, err, apierr.Invalid, "corrections")
		app := uniqueApp(t)
		over := make([]datapool.Correction, maxBatch+1)
		for i := range over {
			over[i] = Sample(app, i)
		}
		_, err = c.IngestBatch(ctx, over)
		wantCode(t, err, apierr.TooLarge, "corrections")
		var buf bytes.Buffer
		ds, err := c.Export(ctx, datapool.ExportQuery{Apps: []string{app}, IncludeOutliers: true}, &buf)
		if err != nil || ds.Count != 0 {
			t.Fatalf("an over-limit batch stored something: %+v, %v", ds, err)
		}
	})

	t.Run("ExportJSONL", func(t *testing.T) {
		app := uniqueApp(t)
		ids := map[string]bool{}
		for i := 0; i < 3; i++ {
			r, err := c.Ingest(ctx, Sample(app, 10+i))
			if err != nil {
				t.Fatal(err)
			}
			ids[r.ID] = true
		}
		var buf bytes.Buffer
		ds, err := c.Export(ctx, datapool.ExportQuery{Apps: []string{app}, Since: mustTime("2024-03-01")}, &buf)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(ds.ID, "ds_") || ds.Count != 3 || ds.Bytes != int64(buf.Len()) || ds.Format != datapool.JSONL {
			t.Fatalf("dataset = %+v (%d bytes written)", ds, buf.Len())
		}
		sc := bufio.NewScanner(&buf)
		for sc.Scan() {
			var rec datapool.ExportRecord
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				t.Fatal(err)
			}
			if !ids[rec.ID] || rec.CorrectedAmount == nil || rec.CorrectedAmount.StringFixed(2) != "45.20" ||
				rec.CorrectedCurrency == nil || *rec.CorrectedCurrency != "MYR" || rec.UserIDHash == "" {
				t.Fatalf("record = %+v", rec)
			}
			delete(ids, rec.ID)
		}
		if len(ids) != 0 {
			t.Fatalf("not exported: %v", ids)
		}
	})

	t.Run("ExportCSV", func(t *testing.T) {
		app := uniqueApp(t)
		if _, err := c.Ingest(ctx, Sample(app, 20)); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		ds, err := c.Export(ctx, datapool.ExportQuery{Apps: []string{app}, Format: datapool.CSV}, &buf)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(&buf).ReadAll()
		if err != nil || len(recs) != 2 || ds.Count != 1 || ds.Format != datapool.CSV {
			t.Fatalf("csv = %v, %v; dataset %+v", recs, err, ds)
		}
	})

	t.Run("ExportInvalid", func(t *testing.T) {
		var buf bytes.Buffer
		_, err := c.Export(ctx, datapool.ExportQuery{Format: "xml"}, &buf)
		wantCode(t, err, apierr.Invalid, "format")
		_, err = c.Export(ctx, datapool.ExportQuery{Fields: []string{"tip"}}, &buf)
		wantCode(t, err, apierr.Invalid, "fields")
		if buf.Len() != 0 {
			t.Fatalf("a refused export wrote %d bytes", buf.Len())
		}
	})

	t.Run("PatternSetErrors", func(t *testing.T) {
		c := newClient(t)
		_, err := c.ActivePatternSet(context.Background())
		wantCode(t, err, apierr.NotFound, "")
		_, err = c.PatternSetVersion(context.Background(), "latest")
		wantCode(t, err, apierr.Invalid, "version")
		_, err = c.PatternSetVersion(context.Background(), "v9")
		wantCode(t, err, apierr.NotFound, "")
	})
}

func mustTime(date string) time.Time {
	t, err := time.Parse(time.DateOnly, date)
	if err != nil {
		panic(err)
	}
	return t
}

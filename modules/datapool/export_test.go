package datapool

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/shopspring/decimal"

	"github.com/ocrpool/ocrpool/modules/platform/apierr"
)

func TestParseSince(t *testing.T) {
	now := time.Date(2024, 3, 12, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		err  bool
	}{
		{"", time.Time{}, false},
		{"24h", now.Add(-24 * time.Hour), false},
		{"7d", now.AddDate(0, 0, -7), false},
		{"2w", now.AddDate(0, 0, -14), false},
		{"7D", now.AddDate(0, 0, -7), false},
		{"2024-03-01", time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), false},
		{"2024-03-01T12:00:00+02:00", time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC), false},
		{"7", time.Time{}, true},
		{"-7d", time.Time{}, true},
		{"7y", time.Time{}, true},
		{"2024-02-30", time.Time{}, true},
		{"yesterday", time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSince(tt.in, now)
			if (err != nil) != tt.err || !got.Equal(tt.want) {
				t.Fatalf("ParseSince(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.err)
			}
		})
	}
}

func TestParseExportQuery(t *testing.T) {
	now := time.Date(2024, 3, 12, 10, 0, 0, 0, time.UTC)
	q, err := ParseExportQuery(url.Values{
		"since": {"7d"}, "min_quality": {"0.7"}, "apps": {"a,b", "c"}, "environments": {"sandbox"},
		"fields": {"merchant"}, "include_outliers": {"true"}, "format": {"PARQUET"},
	}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !q.Since.Equal(now.AddDate(0, 0, -7)) || q.MinQuality.String() != "0.7" || strings.Join(q.Apps, ",") != "a,b,c" ||
		!q.IncludeOutliers || q.Format != Parquet || q.Fields[0] != "merchant" {
		t.Fatalf("query = %+v", q)
	}
	back, err := ParseExportQuery(q.Values(), now)
	if err != nil || !back.Since.Equal(q.Since) || back.Format != q.Format || !slices.Equal(back.Apps, q.Apps) {
		t.Fatalf("round trip = %+v, %v", back, err)
	}
	for _, bad := range []struct{ v url.Values }{
		{url.Values{"min_qualty": {"0.7"}}},
		{url.Values{"since": {"lately"}}},
		{url.Values{"include_outliers": {"maybe"}}},
		{url.Values{"min_quality": {"high"}}},
	} {
		if _, err := ParseExportQuery(bad.v, now); apierr.CodeOf(err) != apierr.Invalid {
			t.Errorf("%v: err = %v", bad.v, err)
		}
	}
}

// seedExport stores corrections for the export tests: three apps and
// environments, one outlier, known amounts.
func seedExport(tb testing.TB, e *testEnv) []Correction {
	tb.Helper()
	cs := sampleN(6)
	amounts := []string{"12.50", "0.10", "99999999.99", "1,234.05", "7", "3.33"}
	for i := range cs {
		cs[i].CorrectedFields.Amount = Value(amounts[i])
		cs[i].CreatedAt = fmt.Sprintf("2024-03-%02dT10:00:00Z", i+12)
	}
	cs[1].SourceApp = "otherapp"
	cs[2].SourceEnvironment = "production"
	cs[3].CorrectedFields = Fields{Date: "2024-03-02"} // only the date corrected
	cs[3].OriginalInference = Fields{Date: "2024-03-01"}
	cs[4].OriginalInference = cs[4].CorrectedFields // identical: an outlier
	res, err := e.svc.IngestBatch(context.Background(), cs)
	if err != nil {
		tb.Fatal(err)
	}
	for _, r := range res {
		if r.Error != nil {
			tb.Fatalf("seeding item %d: %v", r.Index, r.Error)
		}
	}
	return cs
}

func exportIDs(tb testing.TB, e *testEnv, q ExportQuery) []string {
	tb.Helper()
	var buf bytes.Buffer
	ds, err := e.svc.Export(context.Background(), q, &buf)
	if err != nil {
		tb.Fatal(err)
	}
	var ids []string
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r ExportRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			tb.Fatal(err)
		}
		ids = append(ids, r.SourceCorrectionID)
	}
	if int64(len(ids)) != ds.Count {
		tb.Fatalf("dataset count %d, lines %d", ds.Count, len(ids))
	}
	return ids
}

func TestExportFilters(t *testing.T) {
	e := newTestEnv(t)
	e.svc.store.pageSize = 2 // page through the rows: keyset paging is tested too
	cs := seedExport(t, e)
	id := func(i ...int) []string {
		var out []string
		for _, x := range i {
			out = append(out, strings.ToLower(cs[x].SourceCorrectionID))
		}
		return out
	}
	day := func(d int) time.Time { return time.Date(2024, 3, d, 0, 0, 0, 0, time.UTC) }
	tests := []struct {
		name string
		q    ExportQuery
		want []string
	}{
		{"DefaultSkipsOutliers", ExportQuery{}, id(0, 1, 2, 3, 5)},
		{"IncludeOutliers", ExportQuery{IncludeOutliers: true}, id(0, 1, 2, 3, 4, 5)},
		{"Since", ExportQuery{Since: day(14)}, id(2, 3, 5)},
		{"Until", ExportQuery{Until: day(14)}, id(0, 1)},
		{"Apps", ExportQuery{Apps: []string{"OtherApp"}}, id(1)},
		{"Environments", ExportQuery{Environments: []string{"production"}}, id(2)},
		{"Fields", ExportQuery{Fields: []string{"date"}}, id(3)},
		{"MinQualityAll", ExportQuery{MinQuality: decimal.RequireFromString("0.01")}, id(0, 1, 2, 3, 5)},
		{"MinQualityNone", ExportQuery{MinQuality: decimal.RequireFromString("1")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exportIDs(t, e, tt.q); !slices.Equal(got, tt.want) {
				t.Fatalf("exported %v, want %v", got, tt.want)
			}
		})
	}
	for _, bad := range []ExportQuery{
		{Format: "xml"}, {Fields: []string{"tip"}}, {MinQuality: decimal.NewFromInt(2)},
		{Since: day(15), Until: day(14)}, {Apps: []string{"bad app"}},
	} {
		if _, err := e.svc.Export(context.Background(), bad, io.Discard); apierr.CodeOf(err) != apierr.Invalid {
			t.Errorf("%+v: err = %v, want invalid", bad, err)
		}
	}
}

func TestExportFormatsRoundTrip(t *testing.T) {
	e := newTestEnv(t)
	seedExport(t, e)
	ctx := context.Background()
	wantAmounts := []string{"12.50", "0.10", "99999999.99", "", "3.33"} // non-outliers, created_at order

	t.Run("JSONL", func(t *testing.T) {
		var buf bytes.Buffer
		ds, err := e.svc.Export(ctx, ExportQuery{Format: JSONL}, &buf)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			var m map[string]any
			dec := json.NewDecoder(strings.NewReader(line))
			dec.UseNumber()
			if err := dec.Decode(&m); err != nil {
				t.Fatal(err)
			}
			a, _ := m["corrected_amount"].(string) // a string: exact, never a float
			got = append(got, a)
			if _, ok := m["original_inference"].(map[string]any); !ok {
				t.Fatalf("original_inference is not an object: %v", m["original_inference"])
			}
		}
		if !slices.Equal(got, wantAmounts) {
			t.Fatalf("amounts = %q, want %q", got, wantAmounts)
		}
		checkDataset(t, e, ds, 5, int64(buf.Len()), "jsonl")
	})
	t.Run("CSV", func(t *testing.T) {
		var buf bytes.Buffer
		ds, err := e.svc.Export(ctx, ExportQuery{Format: CSV}, &buf)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(recs[0], CSVHeader) || len(recs) != 6 {
			t.Fatalf("header %v, %d records", recs[0], len(recs))
		}
		col := slices.Index(CSVHeader, "corrected_amount")
		var got []string
		for _, r := range recs[1:] {
			got = append(got, r[col])
		}
		if !slices.Equal(got, wantAmounts) {
			t.Fatalf("amounts = %q, want %q", got, wantAmounts)
		}
		if f := recs[1][slices.Index(CSVHeader, "fields_corrected")]; f != "merchant;amount;category" {
			t.Fatalf("fields_corrected = %q", f)
		}
		checkDataset(t, e, ds, 5, ds.Bytes, "csv")
	})
	t.Run("Parquet", func(t *testing.T) {
		var buf bytes.Buffer
		ds, err := e.svc.Export(ctx, ExportQuery{Format: Parquet}, &buf)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := parquet.Read[ParquetRow](bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rows {
			a := ""
			if r.CorrectedAmount != nil {
				a = decimal.New(*r.CorrectedAmount, -2).StringFixed(2)
			}
			got = append(got, a)
		}
		if !slices.Equal(got, wantAmounts) {
			t.Fatalf("amounts = %q, want %q", got, wantAmounts)
		}
		if r := rows[0]; r.CorrectedDate == nil || time.Unix(int64(*r.CorrectedDate)*86400, 0).UTC().Format(time.DateOnly) != "2024-03-12" ||
			!slices.Equal(r.FieldsCorrected, []string{"merchant", "amount", "category"}) || r.DataQualityScore == nil {
			t.Fatalf("row 0 = %+v", r)
		}
		// The decimal columns carry the DECIMAL logical type.
		f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatal(err)
		}
		col, ok := f.Schema().Lookup("corrected_amount")
		if !ok || !strings.Contains(col.Node.Type().String(), "DECIMAL(10,2)") {
			t.Fatalf("corrected_amount type = %v", col.Node.Type())
		}
		checkDataset(t, e, ds, 5, int64(buf.Len()), "parquet")
	})
	t.Run("Empty", func(t *testing.T) {
		for _, f := range []Format{JSONL, CSV, Parquet} {
			var buf bytes.Buffer
			ds, err := e.svc.Export(ctx, ExportQuery{Format: f, Apps: []string{"nobody"}}, &buf)
			if err != nil || ds.Count != 0 {
				t.Fatalf("%s: %+v, %v", f, ds, err)
			}
		}
	})
}

func checkDataset(tb testing.TB, e *testEnv, ds Dataset, count, size int64, format string) {
	tb.Helper()
	if ds.Count != count || ds.Bytes != size || string(ds.Format) != format || !strings.HasPrefix(ds.ID, "ds_") {
		tb.Fatalf("dataset = %+v, want %d rows, %d bytes, %s", ds, count, size, format)
	}
	row, err := e.svc.store.dataset(context.Background(), ds.ID)
	if err != nil {
		tb.Fatal(err)
	}
	if row.CorrectionCount != count || row.FileSizeBytes != size || row.ExportFormat != format ||
		row.DateRangeStart != "2024-03-12" || row.DateRangeEnd != "2024-03-17" || row.Filters == "" {
		tb.Fatalf("training_datasets row = %+v", row)
	}
}

func TestHandleExport(t *testing.T) {
	e := newTestEnv(t)
	seedExport(t, e)
	ts := httptest.NewServer(e.engine)
	defer ts.Close()

	resp, err := http.Get(ts.URL + "/corrections/export?format=csv&since=2024-03-13&apps=expenseapp")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Fatalf("status %d, type %q, body %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	id := resp.Header.Get(HeaderDatasetID)
	if !strings.HasPrefix(id, "ds_") || resp.Trailer.Get(TrailerCount) != "3" || resp.Trailer.Get(TrailerBytes) != fmt.Sprint(len(body)) {
		t.Fatalf("id %q, trailers %v (body %d bytes)", id, resp.Trailer, len(body))
	}
	row, err := e.svc.store.dataset(context.Background(), id)
	if err != nil || row.CorrectionCount != 3 || strings.Join(row.IncludedApps.Items, ",") != "expenseapp" {
		t.Fatalf("dataset row = %+v, %v", row, err)
	}

	for _, bad := range []string{"format=xml", "since=soon", "min_quality=2", "fields=tip", "bogus=1"} {
		resp, err := http.Get(ts.URL + "/corrections/export?" + bad)
		if err != nil {
			t.Fatal(err)
		}
		var env apierr.Envelope
		_ = json.NewDecoder(resp.Body).Decode(&env)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || env.Error == nil || env.Error.Field == "" {
			t.Errorf("%s: status %d, error %+v", bad, resp.StatusCode, env.Error)
		}
		if resp.Header.Get(HeaderDatasetID) != "" {
			t.Errorf("%s: a rejected export has no dataset id", bad)
		}
	}
}

// TestExportPagesThroughTies pages through rows that share created_at: the
// keyset (created_at, id) must neither skip nor repeat any.
func TestExportPagesThroughTies(t *testing.T) {
	e := newTestEnv(t)
	e.svc.store.pageSize = 3
	cs := sampleN(10)
	for i := range cs {
		cs[i].CreatedAt = "2024-03-12T10:00:00.123456Z"
		if i >= 7 {
			cs[i].CreatedAt = "2024-03-12T10:00:01Z"
		}
	}
	if _, err := e.svc.IngestBatch(context.Background(), cs); err != nil {
		t.Fatal(err)
	}
	ids := exportIDs(t, e, ExportQuery{})
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("%s exported twice", id)
		}
		seen[id] = true
	}
	if len(ids) != 10 {
		t.Fatalf("exported %d rows, want 10", len(ids))
	}
}

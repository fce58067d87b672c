package datapool

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ocrpool/ocrpool/modules/platform/apierr"
)

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// jsonSample is sample() as a JSON object the tests can edit.
func jsonSample(tb testing.TB) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(mustJSON(tb, sample()), &m); err != nil {
		tb.Fatal(err)
	}
	return m
}

func decodeError(tb testing.TB, w *httptest.ResponseRecorder) *apierr.Error {
	tb.Helper()
	var env apierr.Envelope
	if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || env.Error == nil {
		tb.Fatalf("body is not an error envelope: %s", w.Body.String())
	}
	return env.Error
}

func TestHandleIngestSingle(t *testing.T) {
	e := newTestEnv(t)
	body := mustJSON(t, sample())
	w := e.do(t, http.MethodPost, "/corrections/ingest", body)
	if w.Code != http.StatusCreated {
		t.Fatalf("status = %d, body %s", w.Code, w.Body)
	}
	var first IngestResult
	if err := json.Unmarshal(w.Body.Bytes(), &first); err != nil || first.ID == "" || first.Duplicate {
		t.Fatalf("body = %s", w.Body)
	}
	w = e.do(t, http.MethodPost, "/corrections/ingest", body)
	var again IngestResult
	_ = json.Unmarshal(w.Body.Bytes(), &again)
	if w.Code != http.StatusOK || !again.Duplicate || again.ID != first.ID {
		t.Fatalf("retry: status %d, body %s", w.Code, w.Body)
	}
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	m["corrected_fields"].(map[string]any)["amount"] = "99.00"
	w = e.do(t, http.MethodPost, "/corrections/ingest", mustJSON(t, m))
	if w.Code != http.StatusConflict || decodeError(t, w).Code != apierr.Conflict {
		t.Fatalf("changed content: status %d, body %s", w.Code, w.Body)
	}
	// JSON numbers are accepted for amounts and kept exactly.
	m = jsonSample(t)
	m["corrected_fields"] = map[string]any{"amount": json.Number("1234.10")}
	w = e.do(t, http.MethodPost, "/corrections/ingest", mustJSON(t, m))
	if w.Code != http.StatusCreated {
		t.Fatalf("numeric amount: status %d, body %s", w.Code, w.Body)
	}
	var res IngestResult
	_ = json.Unmarshal(w.Body.Bytes(), &res)
	if got := *e.row(t, res.ID).CorrectedAmount; got != "1234.10" {
		t.Fatalf("amount = %s, want 1234.10", got)
	}
}

func TestHandleIngestBatch(t *testing.T) {
	e := newTestEnv(t)
	items := sampleN(3)
	body := mustJSON(t, map[string]any{"corrections": items})
	w := e.do(t, http.MethodPost, "/corrections/ingest", body)
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d, body %s", w.Code, w.Body)
	}
	var res BatchResult
	if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil || len(res.Results) != 3 {
		t.Fatalf("body = %s", w.Body)
	}

	// A bad item (wrong type, unknown field) rejects only itself: 207.
	raw := fmt.Sprintf(`{"corrections":[%s, {"source_app": 5}, %s, {"bogus": 1}]}`,
		mustJSON(t, sampleN(1)[0]), mustJSON(t, items[0]))
	w = e.do(t, http.MethodPost, "/corrections/ingest", []byte(raw))
	if w.Code != http.StatusMultiStatus {
		t.Fatalf("status = %d, body %s", w.Code, w.Body)
	}
	var mixed struct {
		Results []map[string]any `json:"results"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &mixed); err != nil {
		t.Fatal(err)
	}
	want := []string{`"status":201`, `"field":"source_app"`, `"duplicate":true`, `"field":"bogus"`}
	for i, r := range mixed.Results {
		b := string(mustJSON(t, r))
		if !strings.Contains(b, want[i]) || r["index"] != float64(i) {
			t.Errorf("result %d = %s, want it to contain %s", i, b, want[i])
		}
		if _, hasDup := r["duplicate"]; r["error"] != nil && hasDup {
			t.Errorf("result %d: an error result has no duplicate field: %s", i, b)
		}
	}
	if n := e.count(t, "corrections_master"); n != 4 {
		t.Fatalf("rows = %d, want 4", n)
	}
}

// TestHandleIngestHostile sends bad bodies: each gets a 4xx naming the
// problem and the database stays unchanged.
func TestHandleIngestHostile(t *testing.T) {
	e := newTestEnv(t)
	valid := string(mustJSON(t, sample()))
	with := func(edit func(m map[string]any)) string {
		m := jsonSample(t)
		edit(m)
		return string(mustJSON(t, m))
	}
	var big5000 strings.Builder
	big5000.WriteString(`{"corrections":[`)
	for i := 0; i < 5000; i++ {
		if i > 0 {
			big5000.WriteByte(',')
		}
		big5000.WriteString(`{"source_app":"x"}`)
	}
	big5000.WriteString(`]}`)
	tenMB := `{"ocr_text":"` + strings.Repeat("a", 10<<20) + `"}`

	tests := []struct {
		name   string
		body   string
		status int
		field  string
		msg    string
	}{
		{"Empty", "", 400, "", "empty"},
		{"Malformed", `{"source_app": "x",`, 400, "", "malformed JSON"},
		{"NotAnObject", `[1,2,3]`, 400, "body", "an object"},
		{"TrailingData", valid + ` {}`, 400, "", "data after"},
		{"WrongTypeApp", with(func(m map[string]any) { m["source_app"] = 42 }), 400, "source_app", "a string"},
		{"WrongTypeConfidence", with(func(m map[string]any) { m["ocr_confidence"] = "high" }), 400, "ocr_confidence", "a number"},
		{"WrongTypeFields", with(func(m map[string]any) { m["corrected_fields"] = "merchant" }), 400, "corrected_fields", "an object"},
		{"WrongTypeFieldValue", with(func(m map[string]any) { m["corrected_fields"] = map[string]any{"amount": []int{1}} }), 400, "corrected_fields.amount", "array"},
		{"BoolFieldValue", with(func(m map[string]any) { m["original_inference"] = map[string]any{"merchant": true} }), 400, "original_inference.merchant", "bool"},
		{"UnknownField", with(func(m map[string]any) { m["user_email"] = "a@b.c" }), 400, "user_email", "unknown field"},
		{"UnknownNestedField", with(func(m map[string]any) { m["corrected_fields"] = map[string]any{"tip": "1.00"} }), 400, "tip", "unknown field"},
		{"ImpossibleDate", with(func(m map[string]any) { m["corrected_fields"] = map[string]any{"date": "2023-02-29"} }), 400, "corrected_fields.date", "28 days"},
		{"Month13", with(func(m map[string]any) { m["corrected_fields"] = map[string]any{"date": "13/13/2024"} }), 400, "corrected_fields.date", "month 13"},
		{"NegativeAmount", with(func(m map[string]any) { m["corrected_fields"] = map[string]any{"amount": -12.5} }), 400, "corrected_fields.amount", "negative"},
		{"AbsurdAmount", with(func(m map[string]any) { m["corrected_fields"] = map[string]any{"amount": 1e15} }), 400, "corrected_fields.amount", "over the limit"},
		{"ExponentAmount", with(func(m map[string]any) { m["corrected_fields"] = map[string]any{"amount": json.Number("1e400")} }), 400, "corrected_fields.amount", "plain notation"},
		{"HugeAmount", with(func(m map[string]any) { m["corrected_fields"] = map[string]any{"amount": "123456789012.00"} }), 400, "corrected_fields.amount", "over the limit"},
		{"InvalidUTF8", `{"source_app":"` + "\xff\xfe" + `"}`, 400, "", "UTF-8"},
		{"InvalidUTF8InBatch", `{"corrections":[{"ocr_text":"` + "\xc3\x28" + `"}]}`, 400, "", "UTF-8"},
		{"BatchOf5000", big5000.String(), 413, "corrections", "the limit is 1000"},
		{"EmptyBatch", `{"corrections":[]}`, 400, "corrections", "empty"},
		{"BatchMixedWithFields", `{"corrections":[` + valid + `],"source_app":"x"}`, 400, "corrections", "only"},
		{"TenMegabytes", tenMB, 413, "", "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := e.do(t, http.MethodPost, "/corrections/ingest", []byte(tt.body))
			if w.Code != tt.status {
				t.Fatalf("status = %d, want %d; body %.300s", w.Code, tt.status, w.Body)
			}
			ae := decodeError(t, w)
			if ae.Field != tt.field || !strings.Contains(ae.Message, tt.msg) {
				t.Fatalf("error = %+v, want field %q and a message containing %q", ae, tt.field, tt.msg)
			}
		})
	}
	t.Run("ChunkedTenMegabytes", func(t *testing.T) {
		// No Content-Length: the limit bites while reading.
		req := httptest.NewRequest(http.MethodPost, "/corrections/ingest", struct{ *bytes.Reader }{bytes.NewReader([]byte(tenMB))})
		req.ContentLength = -1
		w := httptest.NewRecorder()
		e.engine.ServeHTTP(w, req)
		if w.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("status = %d, body %.200s", w.Code, w.Body)
		}
	})
	if n := e.count(t, "corrections_master"); n != 0 {
		t.Fatalf("rows = %d after hostile input, want 0", n)
	}
	if n, _ := e.cache.Client.XLen(t.Context(), e.cache.Key(StreamKeyParts...)).Result(); n != 0 {
		t.Fatalf("events = %d after hostile input, want 0", n)
	}
}

func TestHandleStats(t *testing.T) {
	e := newTestEnv(t)
	ctx := t.Context()
	cs := sampleN(3)
	cs[2].SourceApp = "otherapp"
	cs[2].SourceEnvironment = "production"
	if _, err := e.svc.IngestBatch(ctx, cs); err != nil {
		t.Fatal(err)
	}
	c := sample() // same text as none of the above, but identical fields: outlier
	c.OCRText = "another receipt, long enough to fingerprint"
	c.OriginalInference = c.CorrectedFields
	if _, err := e.svc.Ingest(ctx, c); err != nil {
		t.Fatal(err)
	}
	w := e.do(t, http.MethodGet, "/corrections/stats?hours=3", nil)
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d, body %s", w.Code, w.Body)
	}
	var st Stats
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	if st.Total != 4 || st.Outliers != 1 {
		t.Fatalf("total/outliers = %d/%d, want 4/1", st.Total, st.Outliers)
	}
	if got := fmt.Sprint(st.ByApp); got != "[{expenseapp 3} {otherapp 1}]" {
		t.Errorf("by app = %s", got)
	}
	if got := fmt.Sprint(st.ByEnvironment); got != "[{sandbox 3} {production 1}]" {
		t.Errorf("by environment = %s", got)
	}
	if got := fmt.Sprint(st.ByField); got != "[{amount 3} {category 3} {merchant 3}]" {
		t.Errorf("by field = %s", got)
	}
	var hist int64
	for _, b := range st.QualityHistogram {
		hist += b.Count
	}
	if len(st.QualityHistogram) != 10 || hist != 4 {
		t.Errorf("histogram = %+v", st.QualityHistogram)
	}
	if len(st.IngestedPerHour) != 3 || st.IngestedPerHour[2].Count != 4 {
		t.Errorf("per hour = %+v", st.IngestedPerHour)
	}
	for _, bad := range []string{"hours=0", "hours=abc", "since=soon", "bogus=1"} {
		if w := e.do(t, http.MethodGet, "/corrections/stats?"+bad, nil); w.Code != http.StatusBadRequest {
			t.Errorf("%s: status %d", bad, w.Code)
		}
	}
}

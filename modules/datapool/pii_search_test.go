package datapool

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/ocrpool/ocrpool/modules/platform/db"
)

// TestPIINeverStored stores corrections full of personal data through the
// HTTP route, then searches every column of every table, the Redis stream,
// an export and the captured logs for the raw values.
func TestPIINeverStored(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	raw := map[string]string{
		"user_id":      "u-8f3a2c1e-jane.doe",
		"card_spaces":  "4111 1111 1111 1111",
		"card_dashes":  "5500-0000-0000-0004",
		"card_plain":   "4012888888881881",
		"email":        "jane.doe@example.com",
		"email2":       "j.doe+receipts@corp.example.org",
		"phone_intl":   "+60 12-345 6789",
		"phone_us":     "(555) 123-4567",
		"phone_tel":    "03-7712 3456",
		"image_path":   "/srv/receipts/jane.doe/IMG_20240312.jpg",
		"expense_id":   "EXP-99812-JANE",
		"scid_user_id": "jane.doe.private",
	}
	text := fmt.Sprintf(`STARBUCKS #12 Tel: %s
Customer: %s  Phone %s
VISA %s  MC %s
PAN %s
Receipt sent to %s / cc %s
Call us %s
TOTAL 12.50 DATE 12/03/2024`,
		raw["phone_tel"], raw["email"], raw["phone_intl"], raw["card_spaces"], raw["card_dashes"],
		raw["card_plain"], raw["email"], raw["email2"], raw["phone_us"])

	c := sample()
	c.UserID = raw["user_id"]
	c.OCRText = text
	c.ReceiptImagePath = raw["image_path"]
	c.ExpenseID = raw["expense_id"]
	c.OriginalInference = Fields{Merchant: Value(raw["email"]), CardLastFour: Value(raw["card_spaces"]), Category: Value("call " + raw["phone_us"])}
	c.CorrectedFields = Fields{Merchant: "Starbucks", Amount: "12.50", CardLastFour: Value(raw["card_dashes"])}
	w := e.do(t, http.MethodPost, "/corrections/ingest", mustJSON(t, c))
	if w.Code != http.StatusCreated {
		t.Fatalf("status = %d, body %s", w.Code, w.Body)
	}
	// A batch too, with a rejected item that carries personal data.
	c2 := c
	c2.SourceCorrectionID = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
	c2.UserID = raw["scid_user_id"]
	bad := c
	bad.SourceCorrectionID = "6ba7b811-9dad-11d1-80b4-00c04fd430c8"
	bad.CorrectedFields.Date = "2024-02-31"
	w = e.do(t, http.MethodPost, "/corrections/ingest", mustJSON(t, map[string]any{"corrections": []Correction{c2, bad}}))
	if w.Code != http.StatusMultiStatus {
		t.Fatalf("status = %d, body %s", w.Code, w.Body)
	}
	// And an export, as the training service would read it.
	var export bytes.Buffer
	if _, err := e.svc.Export(ctx, ExportQuery{IncludeOutliers: true}, &export); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(export.String(), "************1881") {
		t.Fatalf("the masked card should be in the export: %s", export.String())
	}

	var haystacks []string
	for table, rows := range dumpTables(t, e.db) {
		for _, r := range rows {
			haystacks = append(haystacks, table+": "+r)
		}
	}
	msgs, err := e.cache.Client.XRange(ctx, e.cache.Key(StreamKeyParts...), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		haystacks = append(haystacks, fmt.Sprint("stream: ", m.Values))
	}
	haystacks = append(haystacks, "export: "+export.String(), "logs: "+e.logs.String(), "responses: "+w.Body.String())

	digits := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, s)
	}
	for name, v := range raw {
		needles := []string{v, strings.ToLower(v)}
		if d := digits(v); len(d) >= 7 {
			needles = append(needles, d)
		}
		for _, needle := range needles {
			for _, h := range haystacks {
				if strings.Contains(h, needle) || strings.Contains(digits(h), digits(needle)) && len(digits(needle)) >= 13 {
					t.Errorf("%s (%q) found in %.200s", name, needle, h)
				}
			}
		}
	}
	// The search did see the stored, masked text.
	all := strings.Join(haystacks, "\n")
	for _, want := range []string{"corrections_master: ", "training_datasets: ", "[phone]", "***@example.com", "**** **** **** 1111", "****-****-****-0004"} {
		if !strings.Contains(all, want) {
			t.Errorf("the search never saw %q", want)
		}
	}
}

// dumpTables returns every row of every table of the database, each as one
// string of all its values.
func dumpTables(tb testing.TB, d *db.DB) map[string][]string {
	tb.Helper()
	sqlDB, err := d.Gorm.DB()
	if err != nil {
		tb.Fatal(err)
	}
	q := `SELECT name FROM sqlite_master WHERE type = 'table'`
	if d.Dialect == db.Postgres {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	}
	rows, err := sqlDB.Query(q)
	if err != nil {
		tb.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			tb.Fatal(err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	out := map[string][]string{}
	for _, table := range tables {
		rs, err := sqlDB.Query(`SELECT * FROM "` + table + `"`)
		if err != nil {
			tb.Fatalf("reading %s: %v", table, err)
		}
		cols, _ := rs.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rs.Next() {
			if err := rs.Scan(ptrs...); err != nil {
				tb.Fatal(err)
			}
			var b strings.Builder
			for i, v := range vals {
				if bs, ok := v.([]byte); ok {
					v = string(bs)
				}
				fmt.Fprintf(&b, "%s=%v | ", cols[i], v)
			}
			out[table] = append(out[table], b.String())
		}
		rs.Close()
	}
	return out
}

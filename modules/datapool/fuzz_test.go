package datapool

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The fuzz targets check invariants, not values: never panic, normalising
// twice changes nothing, and whatever is accepted is valid output.
// Run each with: go test -run '^$' -fuzz '^FuzzX$' -fuzztime 30s ./modules/datapool/

func FuzzNormalizeMerchant(f *testing.F) {
	for _, s := range []string{"STARBUCKS #1234", "McDonald's", "AMZN Mktp US*2K4LM", "SQ *SQ *X", "ǅ", "İSTANBUL bİ",
		"Foo Sdn. Bhd.", "ß", "a@b.co", "7-ELEVEN 00231", "\u0301", "ＳＨＥＬＬ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := NormalizeMerchant(s)
		if again := NormalizeMerchant(got); again != got {
			t.Fatalf("not idempotent: %q → %q → %q", s, got, again)
		}
		if !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8 from %q: %q", s, got)
		}
		if got != strings.TrimSpace(got) || strings.Contains(got, "  ") {
			t.Fatalf("untidy spacing from %q: %q", s, got)
		}
		if MerchantKey(got) != MerchantKey(s) {
			t.Fatalf("key changed: %q vs %q", MerchantKey(got), MerchantKey(s))
		}
	})
}

func FuzzTaxonomy(f *testing.F) {
	tax := DefaultTaxonomy()
	for _, s := range []string{"Food & Beverage", "office_supplies", "Taxi/Uber", "restaurants", "", "ß"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, _ := tax.Normalize(s)
		if got == "" {
			return
		}
		if again, known := tax.Normalize(got); again != got || !known {
			t.Fatalf("not idempotent: %q → %q → %q (%v)", s, got, again, known)
		}
	})
}

var isoDate = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

func FuzzNormalizeDate(f *testing.F) {
	for _, s := range []string{"2024-03-12", "12/03/2024", "31/02/2024", "Mar 12, 2024", "12MAR24", "Tue, 12 Mar 2024 10:00",
		"2024-03-12T10:00:00Z", "12/31/2024", "0/0/0", "99999999", "1 1 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormalizeDate(s)
		if err != nil {
			return
		}
		if !isoDate.MatchString(got) {
			t.Fatalf("NormalizeDate(%q) = %q, not yyyy-mm-dd", s, got)
		}
		d, perr := time.Parse(time.DateOnly, got)
		if perr != nil || d.Year() < minYear || d.Year() > maxYear {
			t.Fatalf("NormalizeDate(%q) = %q: impossible date (%v)", s, got, perr)
		}
		if again, err := NormalizeDate(got); err != nil || again != got {
			t.Fatalf("not idempotent: %q → %q → %q, %v", s, got, again, err)
		}
	})
}

func FuzzNormalizeAmount(f *testing.F) {
	for _, s := range []string{"12.50", "RM 1,234.50", "1.234,56 €", "-5", "1e400", "99999999.99", "0.500", ".5", "1'234.50 CHF",
		"１２．５０", "$", "12..5", "1 234,56"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := NormalizeAmount(s)
		if err != nil {
			return
		}
		if m.Amount.IsNegative() || m.Amount.GreaterThan(maxAmount) || m.Amount.Exponent() < -2 {
			t.Fatalf("NormalizeAmount(%q) = %s: out of range", s, m.Amount)
		}
		if m.Currency != "" && !currencyCodes[m.Currency] {
			t.Fatalf("NormalizeAmount(%q): currency %q is not a code", s, m.Currency)
		}
		again, err := NormalizeAmount(m.Amount.StringFixed(2))
		if err != nil || !again.Amount.Equal(m.Amount) {
			t.Fatalf("not idempotent: %q → %s → %v, %v", s, m.Amount.StringFixed(2), again.Amount, err)
		}
	})
}

func FuzzNormalizeCardLastFour(f *testing.F) {
	for _, s := range []string{"**** 1234", "4111 1111 1111 1111", "12", "１２３４"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormalizeCardLastFour(s)
		if err != nil {
			return
		}
		if len(got) != 4 || !isDigits(got) {
			t.Fatalf("NormalizeCardLastFour(%q) = %q", s, got)
		}
		if again, err := NormalizeCardLastFour(got); err != nil || again != got {
			t.Fatalf("not idempotent: %q → %q → %q", s, got, again)
		}
	})
}

// cardRun finds digit runs of 13–19 digits standing alone.
var cardRun = regexp.MustCompile(`(^|[^0-9])([0-9]{13,19})($|[^0-9])`)

func FuzzMaskText(f *testing.F) {
	for _, s := range []string{
		sampleText, "VISA 4111 1111 1111 1111 12.50", "jane@example.com a@b@c.de", "+60 12-345 6789 (03) 1234 5678",
		"4111111111111111", "************1111 5678 9012", "Tel: 7654321", "12.50 13.00 14.00", "2024-03-12",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, hits := MaskText(s)
		if hits < 0 || (hits == 0 && got != s) {
			t.Fatalf("MaskText(%q) = %q with %d hits", s, got, hits)
		}
		if again, n := MaskText(got); again != got || n != 0 {
			t.Fatalf("not idempotent: %q → %q → %q (%d)", s, got, again, n)
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("MaskText broke UTF-8: %q → %q", s, got)
		}
		for _, m := range cardRun.FindAllStringSubmatch(got, -1) {
			digits := m[2]
			if luhn(digits, []digitGroup{{start: 0, end: len(digits)}}) {
				t.Fatalf("a card number survived masking: %q in %q", digits, got)
			}
		}
	})
}

// FuzzIngestDecode runs the JSON decoding and the pure pipeline (no
// database) on arbitrary bodies: no panic, and any accepted correction is a
// row the database will take.
func FuzzIngestDecode(f *testing.F) {
	f.Add([]byte(`{"source_app":"a","source_environment":"b","source_correction_id":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","user_id":"u","ocr_provider":"t","ocr_text":"x","corrected_fields":{"amount":"1"}}`))
	b, _ := json.Marshal(sample())
	f.Add(b)
	b, _ = json.Marshal(map[string]any{"corrections": sampleN(2)})
	f.Add(b)
	f.Add([]byte(`{"corrections":[{"source_app":5},null,{}]}`))
	f.Add([]byte(`{"ocr_confidence":1e999}`))
	s := &Service{taxonomy: DefaultTaxonomy(), mask: newMasker([]byte(testPIIKey))}
	now := fixedNow()
	f.Fuzz(func(t *testing.T, body []byte) {
		single, items, itemErrs, err := decodeIngest(body, 1000)
		if err != nil {
			return
		}
		if single != nil {
			items, itemErrs = []Correction{*single}, []error{nil}
		}
		for i, c := range items {
			if itemErrs[i] != nil {
				continue
			}
			p, err := s.prepare(c, now)
			if err != nil {
				continue
			}
			checkRow(t, p.row)
		}
	})
}

// checkRow asserts what the schema would: lengths, formats, valid text.
func checkRow(t *testing.T, r correctionRow) {
	t.Helper()
	limits := map[string]struct {
		v *string
		n int
	}{
		"source_app": {&r.SourceApp, 50}, "source_environment": {&r.SourceEnvironment, 20},
		"ocr_provider": {&r.OCRProvider, 20}, "user_id_hash": {&r.UserIDHash, 64},
		"corrected_merchant": {r.CorrectedMerchant, 200}, "corrected_category": {r.CorrectedCategory, 100},
		"corrected_card_last_four": {r.CorrectedCardLastFour, 4}, "corrected_currency": {r.CorrectedCurrency, 3},
		"model_version": {r.ModelVersion, 20}, "prompt_version": {r.PromptVersion, 20}, "pattern_version": {r.PatternVersion, 20},
		"receipt_image_path_hash": {r.ReceiptImagePathHash, 16}, "expense_id_token": {r.ExpenseIDToken, 32},
	}
	for name, l := range limits {
		if l.v == nil {
			continue
		}
		if !utf8.ValidString(*l.v) || utf8.RuneCountInString(*l.v) > l.n {
			t.Fatalf("%s = %q breaks its column (max %d)", name, *l.v, l.n)
		}
	}
	if !utf8.ValidString(r.OCRText) || strings.ContainsRune(r.OCRText, 0) {
		t.Fatalf("ocr_text is not storable: %q", r.OCRText)
	}
	if !json.Valid([]byte(r.OriginalInference)) {
		t.Fatalf("original_inference is not JSON: %s", r.OriginalInference)
	}
	if r.CorrectedAmount != nil && !regexp.MustCompile(`^\d{1,8}\.\d{2}$`).MatchString(*r.CorrectedAmount) {
		t.Fatalf("corrected_amount = %q", *r.CorrectedAmount)
	}
	if r.CorrectedDate != nil && !isoDate.MatchString(string(*r.CorrectedDate)) {
		t.Fatalf("corrected_date = %q", *r.CorrectedDate)
	}
	if r.DataQualityScore == nil || !regexp.MustCompile(`^[01]\.\d{2}$`).MatchString(*r.DataQualityScore) || *r.DataQualityScore > "1.00" {
		t.Fatalf("data_quality_score = %v", r.DataQualityScore)
	}
	for _, f := range r.FieldsCorrected.Items {
		if !strings.Contains(strings.Join(correctableFields, ","), f) {
			t.Fatalf("fields_corrected has %q", f)
		}
	}
}

// FuzzIngestHandler sends arbitrary bodies through the real gin handler to
// a real (SQLite, or PostgreSQL when configured) database: never a 5xx,
// always a JSON answer.
func FuzzIngestHandler(f *testing.F) {
	b, _ := json.Marshal(sample())
	f.Add(b)
	b, _ = json.Marshal(map[string]any{"corrections": sampleN(3)})
	f.Add(b)
	f.Add([]byte(`{"corrections":[{"source_app":5},null,{}]}`))
	f.Add([]byte(`{"source_app":"a","source_environment":"b","source_correction_id":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","user_id":"u","ocr_provider":"t","ocr_text":"\u0000x","corrected_fields":{"amount":"1","date":"29/02/2024"}}`))
	f.Add([]byte("\xff"))
	e := newTestEnv(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/corrections/ingest", strings.NewReader(string(body)))
		w := httptest.NewRecorder()
		e.engine.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("status %d for %q: %s", w.Code, body, w.Body)
		}
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("answer is not JSON: %s", w.Body)
		}
		switch w.Code {
		case http.StatusOK, http.StatusCreated, http.StatusMultiStatus:
		default:
			var env struct {
				Error *struct{ Code, Message string }
			}
			if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || env.Error == nil || env.Error.Message == "" {
				t.Fatalf("status %d without an error body: %s", w.Code, w.Body)
			}
		}
	})
}

// FuzzValueUnmarshal: Value's fast path for plain strings reads exactly
// what encoding/json reads, for any JSON string (escaped or raw, valid
// UTF-8 or not).
func FuzzValueUnmarshal(f *testing.F) {
	for _, s := range []string{"", "Starbucks", "RM 1.234,50", `a"b`, `back\slash`, "tab\there", "caf\u00e9", "\xff\xfe", "line\nbreak", `\u0041`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		encoded, _ := json.Marshal(s)
		for _, b := range [][]byte{encoded, []byte(`"` + s + `"`)} {
			var want string
			wantErr := json.Unmarshal(b, &want)
			var got struct {
				V Value `json:"v"`
			}
			body := append(append([]byte(`{"v":`), b...), '}')
			gotErr := json.Unmarshal(body, &got)
			if (gotErr == nil) != (wantErr == nil) {
				t.Fatalf("%q: error %v, encoding/json %v", b, gotErr, wantErr)
			}
			if gotErr == nil && string(got.V) != want {
				t.Fatalf("%q: Value %q, encoding/json %q", b, got.V, want)
			}
		}
	})
}

func FuzzAcceptsGzip(f *testing.F) {
	for _, s := range []string{"", "gzip", "gzip, deflate, br", "br;q=1.0, gzip;q=0.5", "*", "*;q=0", "gzip;q=0",
		"GZIP;Q=0.001", "x-gzip", "gzip;q=", "gzip;q=1.5", "identity;q=0, *;q=0.1", ";;,,", "gzip;level=9;q=0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		got := acceptsGzip(header)
		// Naming gzip with no parameters, first in the list, always allows it;
		// refusing it with q=0 first always refuses it.
		if again := acceptsGzip("gzip, " + header); !again {
			t.Errorf("acceptsGzip(%q) = false with plain gzip first", "gzip, "+header)
		}
		if again := acceptsGzip("gzip;q=0, " + header); again {
			t.Errorf("acceptsGzip(%q) = true with gzip refused first", "gzip;q=0, "+header)
		}
		if !strings.Contains(strings.ToLower(header), "gzip") && !strings.Contains(header, "*") && got {
			t.Errorf("acceptsGzip(%q) = true without gzip or *", header)
		}
	})
}

func FuzzDecodeServedSet(f *testing.F) {
	f.Add([]byte("v3\n{\"version\":\"v3\",\"patterns\":{}}"))
	f.Add([]byte(`{"version":"v3","body":"e30="}`))
	f.Add([]byte("v\n{}"))
	f.Add([]byte("v99999999999999999999\n{}"))
	f.Add([]byte("v1\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		set, ok := decodeServedSet(raw)
		if !ok {
			return
		}
		// Whatever is accepted is served as is: a version name and a JSON
		// body, and it stores back to what the current form reads.
		if !validVersionName(set.Version) || !json.Valid(set.Body) {
			t.Fatalf("accepted %q: version %q, body valid %v", raw, set.Version, json.Valid(set.Body))
		}
		again, ok := decodeServedSet(set.encode())
		if !ok || again.Version != set.Version || string(again.Body) != string(set.Body) {
			t.Fatalf("re-encoding %q does not read back", raw)
		}
	})
}

package datapool

import (
	"encoding/json"
	"reflect"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/ocrpool/ocrpool/modules/platform/apierr"
)

// This file holds the values that cross the module boundary: request and
// response bodies of the /corrections routes and the arguments and results
// of Client. They are plain JSON-able values, so a call means the same thing
// in-process and over HTTP. Nothing here knows about GORM.

// Correction is one user's correction of one receipt, as an app sends it to
// POST /corrections/ingest. It carries personal data (user_id, the receipt
// image path, the expense id and whatever the OCR text holds); the data pool
// masks all of it before anything is stored or logged.
type Correction struct {
	SourceApp         string `json:"source_app"`
	SourceEnvironment string `json:"source_environment"`
	// SourceCorrectionID is the app's own id of the correction, a UUID.
	// (source_app, source_correction_id) makes ingest idempotent.
	SourceCorrectionID string `json:"source_correction_id"`
	// UserID is stored only as a keyed hash (HMAC-SHA256).
	UserID      string `json:"user_id"`
	OCRProvider string `json:"ocr_provider"`
	OCRText     string `json:"ocr_text"`
	// OCRConfidence is between 0 and 1; nil when the engine gave none.
	OCRConfidence *float64 `json:"ocr_confidence,omitempty"`
	// OriginalInference is what the app's extraction guessed.
	OriginalInference Fields `json:"original_inference"`
	// CorrectedFields are the values the user ended with; at least one.
	CorrectedFields Fields `json:"corrected_fields"`
	// ReceiptImagePath is stored as a 16-hex keyed hash.
	ReceiptImagePath string `json:"receipt_image_path,omitempty"`
	// ExpenseID is stored as an opaque token ("exp_" + keyed hash).
	ExpenseID      string `json:"expense_id,omitempty"`
	ModelVersion   string `json:"model_version,omitempty"`
	PromptVersion  string `json:"prompt_version,omitempty"`
	PatternVersion string `json:"pattern_version,omitempty"`
	// CreatedAt is when the user made the correction, RFC 3339 (or a bare
	// yyyy-mm-dd); empty means now.
	CreatedAt string `json:"created_at,omitempty"`
}

// Fields are receipt fields as an extraction produced them or a user fixed
// them. Values are free text in the receipt's own notation ("RM 1.234,50",
// "12 Mar 24"); the data pool normalises them. JSON numbers are accepted for
// any field and kept as written. An empty value means "not given".
type Fields struct {
	Merchant     Value `json:"merchant,omitempty"`
	Amount       Value `json:"amount,omitempty"`
	Currency     Value `json:"currency,omitempty"`
	Date         Value `json:"date,omitempty"`
	Category     Value `json:"category,omitempty"`
	CardLastFour Value `json:"card_last_four,omitempty"`
}

// empty reports whether no field is given.
func (f Fields) empty() bool { return f == Fields{} }

// Value is one field value: a JSON string or number (kept exactly as
// written, never through a float), or null for "not given".
type Value string

var stringType = reflect.TypeOf("")

// UnmarshalJSON accepts a string, a number or null. Objects, arrays and
// booleans are a type error that encoding/json attributes to the field.
func (v *Value) UnmarshalJSON(b []byte) error {
	if len(b) == 0 {
		return &json.UnmarshalTypeError{Value: "nothing", Type: stringType}
	}
	switch c := b[0]; {
	case c == '"':
		// The common string has no escapes; the decoder has checked its
		// syntax, so its text is the value. Invalid UTF-8 goes the long way,
		// where encoding/json replaces it as always.
		if len(b) >= 2 && b[len(b)-1] == '"' {
			if inner := b[1 : len(b)-1]; !hasEscapeOrControl(inner) && utf8.Valid(inner) {
				*v = Value(inner)
				return nil
			}
		}
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*v = Value(s)
	case c == 'n':
		*v = ""
	case c == '-' || (c >= '0' && c <= '9'):
		*v = Value(b) // the decoder has checked it is a JSON number
	case c == 't' || c == 'f':
		return &json.UnmarshalTypeError{Value: "bool", Type: stringType}
	case c == '{':
		return &json.UnmarshalTypeError{Value: "object", Type: stringType}
	case c == '[':
		return &json.UnmarshalTypeError{Value: "array", Type: stringType}
	default:
		return &json.UnmarshalTypeError{Value: string(b[:1]), Type: stringType}
	}
	return nil
}

// hasEscapeOrControl reports whether a JSON string's inside holds a
// backslash, a quote or a control character: anything but plain text.
func hasEscapeOrControl(b []byte) bool {
	for _, c := range b {
		if c == '\\' || c == '"' || c < 0x20 {
			return true
		}
	}
	return false
}

// IngestResult is the answer to one stored correction.
type IngestResult struct {
	// ID is the data pool's id of the correction.
	ID string `json:"id"`
	// Duplicate is true when the same (source_app, source_correction_id)
	// with the same content was already stored: nothing changed.
	Duplicate bool `json:"duplicate"`
}

// ItemResult is the outcome of one correction of a batch: an id, or an
// error naming the field at fault. Index is the position in the batch.
type ItemResult struct {
	Index int `json:"index"`
	// Status is the HTTP status the item would have had on its own: 201
	// stored, 200 duplicate, 4xx rejected.
	Status    int           `json:"status"`
	ID        string        `json:"id,omitempty"`
	Duplicate bool          `json:"duplicate"`
	Error     *apierr.Error `json:"error,omitempty"`
}

// MarshalJSON writes {"index","status","id","duplicate"} for a stored item
// and {"index","status","error"} for a rejected one.
func (r ItemResult) MarshalJSON() ([]byte, error) {
	if r.Error != nil {
		return json.Marshal(struct {
			Index  int           `json:"index"`
			Status int           `json:"status"`
			Error  *apierr.Error `json:"error"`
		}{r.Index, r.Status, r.Error})
	}
	type plain ItemResult
	return json.Marshal(plain(r))
}

// BatchResult is the body of a batch answer.
type BatchResult struct {
	Results []ItemResult `json:"results"`
}

// MarshalJSON writes what encoding/json would, with the stored and
// duplicate items (nearly all of a batch of up to 1,000) written by hand:
// encoding/json would call ItemResult.MarshalJSON for each and re-scan
// every item's output.
func (b BatchResult) MarshalJSON() ([]byte, error) {
	if b.Results == nil {
		return []byte(`{"results":null}`), nil
	}
	out := make([]byte, 0, 16+len(b.Results)*80)
	out = append(out, `{"results":[`...)
	for i, r := range b.Results {
		if i > 0 {
			out = append(out, ',')
		}
		if r.Error != nil || !plainID(r.ID) {
			item, err := json.Marshal(r)
			if err != nil {
				return nil, err
			}
			out = append(out, item...)
			continue
		}
		out = append(out, `{"index":`...)
		out = strconv.AppendInt(out, int64(r.Index), 10)
		out = append(out, `,"status":`...)
		out = strconv.AppendInt(out, int64(r.Status), 10)
		if r.ID != "" {
			out = append(out, `,"id":"`...)
			out = append(out, r.ID...)
			out = append(out, '"')
		}
		out = append(out, `,"duplicate":`...)
		out = strconv.AppendBool(out, r.Duplicate)
		out = append(out, '}')
	}
	return append(out, "]}"...), nil
}

// plainID reports whether id needs no escaping in JSON (our ids are UUIDs).
func plainID(id string) bool {
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Format is an export file format.
type Format string

// The export formats.
const (
	JSONL   Format = "jsonl"
	CSV     Format = "csv"
	Parquet Format = "parquet"
)

// ContentType is the MIME type of an export in format f.
func (f Format) ContentType() string {
	switch f {
	case CSV:
		return "text/csv; charset=utf-8"
	case Parquet:
		return "application/vnd.apache.parquet"
	}
	return "application/x-ndjson"
}

// ExportQuery selects the corrections of an export. The zero value exports
// every non-outlier correction as JSON lines.
type ExportQuery struct {
	// Since and Until bound created_at: Since <= created_at < Until. Zero
	// means unbounded. ParseSince turns "7d", "24h" or a date into a time.
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
	// MinQuality keeps rows whose data_quality_score is at least this
	// (0.00–1.00); zero keeps every row.
	MinQuality decimal.Decimal `json:"min_quality"`
	// Apps and Environments keep rows of these sources; empty keeps all.
	Apps         []string `json:"apps"`
	Environments []string `json:"environments"`
	// Fields keeps rows in which at least one of these fields was corrected
	// (merchant, amount, date, category, card_last_four); empty keeps all.
	Fields []string `json:"fields"`
	// IncludeOutliers also exports rows flagged is_outlier.
	IncludeOutliers bool `json:"include_outliers"`
	// Format is jsonl (default), csv or parquet.
	Format Format `json:"format"`
}

// Dataset describes a finished export; it is recorded in training_datasets.
type Dataset struct {
	// ID is the training_datasets.dataset_id, also sent as X-Dataset-ID.
	ID     string `json:"dataset_id"`
	Format Format `json:"format"`
	// Count is the number of corrections written.
	Count int64 `json:"count"`
	// Bytes is the size of the file written.
	Bytes int64 `json:"bytes"`
}

// ExportRecord is one exported correction, as a line of a JSONL export and a
// row of the CSV and Parquet exports. It holds no personal data: the user
// is a keyed hash, the OCR text is masked. Money is a decimal string.
type ExportRecord struct {
	ID                   string           `json:"id"`
	SourceApp            string           `json:"source_app"`
	SourceEnvironment    string           `json:"source_environment"`
	SourceCorrectionID   string           `json:"source_correction_id"`
	CreatedAt            time.Time        `json:"created_at"`
	IngestedAt           time.Time        `json:"ingested_at"`
	UserIDHash           string           `json:"user_id_hash"`
	OCRProvider          string           `json:"ocr_provider"`
	OCRText              string           `json:"ocr_text"`
	OCRConfidence        *decimal.Decimal `json:"ocr_confidence"`
	OriginalInference    json.RawMessage  `json:"original_inference"`
	CorrectedMerchant    *string          `json:"corrected_merchant"`
	CorrectedAmount      *decimal.Decimal `json:"corrected_amount"`
	CorrectedCurrency    *string          `json:"corrected_currency"`
	CorrectedDate        *string          `json:"corrected_date"`
	CorrectedCategory    *string          `json:"corrected_category"`
	CorrectedCardLast4   *string          `json:"corrected_card_last_four"`
	FieldsCorrected      []string         `json:"fields_corrected"`
	DataQualityScore     *decimal.Decimal `json:"data_quality_score"`
	IsOutlier            bool             `json:"is_outlier"`
	OutlierReason        *string          `json:"outlier_reason"`
	ModelVersion         *string          `json:"model_version"`
	PromptVersion        *string          `json:"prompt_version"`
	PatternVersion       *string          `json:"pattern_version"`
	ReceiptImagePathHash *string          `json:"receipt_image_path_hash"`
	ExpenseIDToken       *string          `json:"expense_id_token"`
	TextFingerprint      *string          `json:"text_fingerprint"`
}

// Stats is the dashboard's view of the pool (GET /corrections/stats).
type Stats struct {
	// Total and Outliers count every stored correction.
	Total    int64 `json:"total"`
	Outliers int64 `json:"outliers"`
	// ByApp, ByEnvironment and ByField count corrections per source and per
	// corrected field, largest first.
	ByApp         []Count `json:"by_app"`
	ByEnvironment []Count `json:"by_environment"`
	ByField       []Count `json:"by_field"`
	// QualityHistogram has ten buckets of data_quality_score: [0.0, 0.1),
	// [0.1, 0.2) … [0.9, 1.0].
	QualityHistogram []Bucket `json:"quality_histogram"`
	// IngestedPerHour counts ingestion over the last Hours hours, oldest
	// first, one entry per hour (zeros included).
	Hours           int         `json:"hours"`
	IngestedPerHour []HourCount `json:"ingested_per_hour"`
}

// Count is a number of corrections under a key.
type Count struct {
	Key   string `json:"key"`
	Count int64  `json:"count"`
}

// Bucket is one bar of the quality histogram.
type Bucket struct {
	Min   decimal.Decimal `json:"min"`
	Max   decimal.Decimal `json:"max"`
	Count int64           `json:"count"`
}

// HourCount is the ingestion of one hour, starting at Hour (UTC).
type HourCount struct {
	Hour  time.Time `json:"hour"`
	Count int64     `json:"count"`
}

// Event is what the data pool publishes on its Redis stream for every stored
// correction (key <prefix>datapool:corrections), for the training and
// deployment modules: which fields were corrected and which versions
// produced the inference. Stream entries carry these as string fields.
type Event struct {
	ID                string   `json:"id"`
	SourceApp         string   `json:"source_app"`
	SourceEnvironment string   `json:"source_environment"`
	FieldsCorrected   []string `json:"fields_corrected"`
	ModelVersion      string   `json:"model_version"`
	PromptVersion     string   `json:"prompt_version"`
	PatternVersion    string   `json:"pattern_version"`
	Quality           string   `json:"quality"`
	IsOutlier         bool     `json:"is_outlier"`
	CreatedAt         string   `json:"created_at"`
}

// MarshalJSON writes the decimals at their column's scale ("12.50",
// "0.820", "0.75"), as strings: exact, and the way money is read.
func (r ExportRecord) MarshalJSON() ([]byte, error) {
	type plain ExportRecord
	fixed := func(d *decimal.Decimal, places int32) *string {
		if d == nil {
			return nil
		}
		s := d.StringFixed(places)
		return &s
	}
	return json.Marshal(struct {
		plain
		OCRConfidence    *string `json:"ocr_confidence"`
		CorrectedAmount  *string `json:"corrected_amount"`
		DataQualityScore *string `json:"data_quality_score"`
	}{plain(r), fixed(r.OCRConfidence, 3), fixed(r.CorrectedAmount, 2), fixed(r.DataQualityScore, 2)})
}

package ocr

import "github.com/ocrpool/ocrpool/modules/ocr/extract"

// Options are the per-request choices of Process and Extract.
type Options struct {
	// RoutingKey keeps one user on one release during a canary (sticky
	// routing); empty routes by nothing in particular.
	RoutingKey string `json:"routing_key,omitempty"`
	// App names the calling application, for outcomes and audit.
	App string `json:"app,omitempty"`
}

// Result is the answer of POST /ocr/process and POST /ocr/extract.
type Result struct {
	// Text is what OCR read (for /ocr/extract, the text given).
	Text string `json:"text"`
	// OCRConfidence is Tesseract's mean word confidence, 0–1; null for
	// /ocr/extract, where no OCR ran.
	OCRConfidence *float64 `json:"ocr_confidence"`
	Fields        Fields   `json:"fields"`
	Versions      Versions `json:"versions"`
	// TimingsMS is the time of each step in milliseconds: decode, the
	// preprocessing steps that ran (orient … border), ocr, extract, total.
	TimingsMS map[string]float64 `json:"timings_ms"`
}

// Field is one extracted value.
type Field struct {
	Value string `json:"value"`
	// Confidence is 0–1.
	Confidence float64 `json:"confidence"`
	// Source names the rule ("rule:total-keyword") or the learned pattern
	// ("pattern:<set version>:<id>") that won.
	Source string `json:"source"`
	// NeedsReview is true when Confidence is under ocr.review_threshold.
	NeedsReview bool `json:"needs_review"`
}

// Fields are the extracted values; null means not found.
type Fields struct {
	Merchant *Field `json:"merchant"`
	// Amount is a decimal string ("1234.50").
	Amount *Field `json:"amount"`
	// Currency is an ISO 4217 code.
	Currency *Field `json:"currency"`
	// Date is ISO 8601 (yyyy-mm-dd).
	Date         *Field `json:"date"`
	Category     *Field `json:"category"`
	CardLastFour *Field `json:"card_last_four"`
}

// Versions name what produced a result, so a correction can say which
// release it corrects.
type Versions struct {
	// Release is the release routed to this request.
	Release string `json:"release"`
	// PatternSet is the learned pattern set's version; empty when none is
	// loaded.
	PatternSet string `json:"pattern_set"`
	// Rules is the version of the extraction rules.
	Rules string `json:"rules"`
	// Prompt is the LLM prompt version; empty when no LLM is used.
	Prompt string `json:"prompt"`
	// Engine is the OCR engine and model ("tesseract 5.3.0 eng psm6");
	// empty for /ocr/extract.
	Engine string `json:"engine,omitempty"`
}

func fieldFrom(f *extract.Field, threshold float64) *Field {
	if f == nil {
		return nil
	}
	return &Field{Value: f.Value, Confidence: f.Confidence, Source: f.Source, NeedsReview: f.Confidence < threshold}
}

func fieldsFrom(f extract.Fields, threshold float64) Fields {
	return Fields{
		Merchant:     fieldFrom(f.Merchant, threshold),
		Amount:       fieldFrom(f.Amount, threshold),
		Currency:     fieldFrom(f.Currency, threshold),
		Date:         fieldFrom(f.Date, threshold),
		Category:     fieldFrom(f.Category, threshold),
		CardLastFour: fieldFrom(f.CardLastFour, threshold),
	}
}

// each calls fn for every field by its JSON name, found or not.
func (f Fields) each(fn func(name string, v *Field)) {
	fn("merchant", f.Merchant)
	fn("amount", f.Amount)
	fn("currency", f.Currency)
	fn("date", f.Date)
	fn("category", f.Category)
	fn("card_last_four", f.CardLastFour)
}

// Package extract turns the text of an OCR'd receipt into fields (merchant,
// amount, currency, date, category, card last four). It is pure: no I/O, no
// globals that change, safe for concurrent use.
package extract

// Field is one extracted value.
type Field struct {
	Value      string  `json:"value"`
	Confidence float64 `json:"confidence"` // 0..1
	Source     string  `json:"source"`     // which rule or pattern won, e.g. "rule:total-keyword", "pattern:v3:p17"
}

// Fields are the extracted values; nil means not found.
type Fields struct {
	Merchant     *Field `json:"merchant"`
	Amount       *Field `json:"amount"`   // decimal string, e.g. "1234.50"
	Currency     *Field `json:"currency"` // ISO 4217 when known
	Date         *Field `json:"date"`     // ISO yyyy-mm-dd
	Category     *Field `json:"category"`
	CardLastFour *Field `json:"card_last_four"`
}

// PatternHit is one learned pattern that matched the text.
type PatternHit struct {
	Field, Value string
	Confidence   float64
	PatternID    string
}

// Patterns is a learned pattern set (from the data pool); nil means none.
type Patterns interface {
	Version() string
	// Match applies the set to a receipt's text. guesses are the values the
	// rules found, by field ("merchant": the header line read): a learned
	// alias turns a known misreading into the right value.
	Match(text string, guesses map[string]string) []PatternHit
}

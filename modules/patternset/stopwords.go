package patternset

// defaultStopWords are words that never make a phrase on their own: English
// function words, receipt boilerplate that every merchant prints (TOTAL,
// CASH, TAX, DATE, …), payment networks, month and day names, currency
// codes. A phrase may contain them ("trip with", "your ride") but needs at
// least one other word of two or more letters. Precision would reject most of
// them anyway; listing them keeps the candidate space small and the learned
// phrases readable. Numeric tokens (amounts, dates, times, phone, GST and
// invoice numbers) are never part of a phrase at all.
var defaultStopWords = []string{
	// function words
	"a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "i", "in", "is",
	"it", "its", "me", "my", "no", "not", "of", "on", "or", "our", "so", "that", "the", "this",
	"to", "was", "we", "with", "you", "your", "yours", "us", "all", "per", "via",
	// receipt boilerplate
	"total", "subtotal", "sub", "grand", "tax", "taxes", "vat", "gst", "hst", "pst", "sst", "tip",
	"tips", "gratuity", "service", "charge", "cash", "change", "due", "balance", "amount", "amt",
	"paid", "pay", "payment", "tender", "tendered", "rounding", "round", "adj", "discount", "disc",
	"card", "credit", "debit", "visa", "mastercard", "master", "amex", "discover", "maestro",
	"contactless", "chip", "pin", "auth", "authorization", "approval", "approved", "code", "ref",
	"reference", "trans", "transaction", "txn", "terminal", "tid", "mid", "merchant", "id",
	"invoice", "receipt", "bill", "order", "qty", "quantity", "price", "unit", "units", "item",
	"items", "each", "ea", "description", "desc", "date", "time", "am", "pm", "tel", "phone",
	"fax", "www", "com", "http", "https", "email", "customer", "copy", "thank", "thanks",
	"welcome", "please", "again", "visit", "sale", "sales", "purchase", "net", "gross", "account",
	"acct", "number", "nr", "ticket", "cashier", "counter", "table", "guest", "guests", "server",
	"reg", "registration", "company", "inclusive", "incl", "excl", "exclusive",
	// months and days
	"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
	"january", "february", "march", "april", "june", "july", "august", "september", "october",
	"november", "december", "mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat",
	"sun", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
	// currencies
	"usd", "eur", "gbp", "rm", "myr", "sgd", "cad", "aud", "chf", "jpy", "inr",
}

// DefaultStopWords returns a copy of the built-in stop list (Options.StopWords
// adds to it).
func DefaultStopWords() []string {
	return append([]string(nil), defaultStopWords...)
}

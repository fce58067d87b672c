package datapool

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/shopspring/decimal"
	"golang.org/x/text/unicode/norm"
)

// This file holds the normalisers: pure functions from a field as a receipt
// or a user wrote it to its canonical form. They never panic, and applying
// one to its own output changes nothing (the fuzz tests check both).

// maxMerchantLen is corrected_merchant's VARCHAR(200), in characters.
const maxMerchantLen = 200

// Merchant normalisation: the key is the comparable form (upper case,
// punctuation and legal suffixes and store numbers gone); the display form
// is what is stored (an alias's spelling, or the key in title case).

// legalSuffixes are dropped from the end of a merchant name, repeatedly, so
// "SDN BHD", "PTE LTD" and "CO LTD" go too.
var legalSuffixes = map[string]bool{
	"INC": true, "INCORPORATED": true, "LLC": true, "LTD": true, "LIMITED": true,
	"CORP": true, "CORPORATION": true, "CO": true, "COMPANY": true, "PLC": true,
	"GMBH": true, "AG": true, "SA": true, "SAS": true, "SARL": true, "SRL": true,
	"BV": true, "NV": true, "AB": true, "OY": true, "KK": true, "LLP": true,
	"LP": true, "PTY": true, "PTE": true, "BHD": true, "SDN": true, "PVT": true,
	"TBK": true,
}

// storeWords introduce a store or branch number: "STORE 123", "NO 5".
var storeWords = map[string]bool{
	"STORE": true, "STR": true, "NO": true, "NUM": true, "BRANCH": true, "BR": true,
	"UNIT": true, "LOC": true, "OUTLET": true, "SHOP": true,
}

// processorPrefixes are payment processors' marks before the merchant on
// card slips ("SQ *BLUE BOTTLE", "TST* JOE'S").
var processorPrefixes = map[string]bool{"SQ": true, "TST": true, "SP": true, "PP": true}

// merchantAliases maps a merchant key, or the first words of one, to the
// merchant's usual spelling. Longer prefixes win.
var merchantAliases = map[string]string{
	"AMZN":            "Amazon",
	"AMZN MKTP":       "Amazon",
	"AMAZONCOM":       "Amazon",
	"AMAZON":          "Amazon",
	"UBER":            "Uber",
	"UBER EATS":       "Uber Eats",
	"UBEREATS":        "Uber Eats",
	"GRAB":            "Grab",
	"GRABFOOD":        "GrabFood",
	"GRAB FOOD":       "GrabFood",
	"LYFT":            "Lyft",
	"MCDONALDS":       "McDonald's",
	"MCD":             "McDonald's",
	"STARBUCKS":       "Starbucks",
	"SBUX":            "Starbucks",
	"WALMART":         "Walmart",
	"WAL MART":        "Walmart",
	"WM SUPERCENTER":  "Walmart",
	"7 ELEVEN":        "7-Eleven",
	"7ELEVEN":         "7-Eleven",
	"SEVEN ELEVEN":    "7-Eleven",
	"KFC":             "KFC",
	"IKEA":            "IKEA",
	"H & M":           "H&M",
	"TESCO":           "Tesco",
	"COSTCO":          "Costco",
	"TARGET":          "Target",
	"SHELL":           "Shell",
	"PETRONAS":        "Petronas",
	"AEON":            "AEON",
	"GOOGLE":          "Google",
	"APPLECOM":        "Apple",
	"APPLE COM BILL":  "Apple",
	"MICROSOFT":       "Microsoft",
	"NETFLIXCOM":      "Netflix",
	"NETFLIX":         "Netflix",
	"DOORDASH":        "DoorDash",
	"DD DOORDASH":     "DoorDash",
	"AIRBNB":          "Airbnb",
	"BOOKINGCOM":      "Booking.com",
	"BOOKING COM":     "Booking.com",
	"MARRIOTT":        "Marriott",
	"HILTON":          "Hilton",
	"DELTA AIR LINES": "Delta Air Lines",
	"UNITED AIRLINES": "United Airlines",
	"AIRASIA":         "AirAsia",
	"AIR ASIA":        "AirAsia",
	"PIZZA HUT":       "Pizza Hut",
	"DOMINOS":         "Domino's",
	"SUBWAY":          "Subway",
	"BURGER KING":     "Burger King",
	"TIM HORTONS":     "Tim Hortons",
	"HOME DEPOT":      "The Home Depot",
	"THE HOME DEPOT":  "The Home Depot",
	"CVS":             "CVS",
	"CVS PHARMACY":    "CVS",
	"WALGREENS":       "Walgreens",
}

// aliasKeys are the alias keys split into words, longest first.
var aliasKeys = func() [][]string {
	var keys [][]string
	for k := range merchantAliases {
		keys = append(keys, strings.Fields(k))
	}
	sort.Slice(keys, func(i, j int) bool {
		if len(keys[i]) != len(keys[j]) {
			return len(keys[i]) > len(keys[j])
		}
		return strings.Join(keys[i], " ") < strings.Join(keys[j], " ")
	})
	return keys
}()

// NormalizeMerchant returns the canonical spelling of a merchant name: known
// aliases get their usual spelling ("AMZN MKTP US*2K4" → "Amazon"); other
// names lose punctuation, legal suffixes (INC, LLC, LTD, SDN BHD …) and store
// numbers ("#123", "STORE 45", a trailing 3+ digit number) and come out in
// title case, with vowel-less words kept upper case ("KFC"). It returns ""
// when nothing of a name is left.
func NormalizeMerchant(s string) string {
	if len(s) <= merchantMemoMaxLen {
		if v, ok := merchantMemo.Load(s); ok {
			return v.(string)
		}
	}
	out := normalizeMerchantFixed(s)
	if len(s) <= merchantMemoMaxLen {
		if merchantMemoSize.Add(1) > merchantMemoMax {
			merchantMemo.Clear()
			merchantMemoSize.Store(0)
		}
		merchantMemo.Store(s, out)
	}
	return out
}

// merchantMemo remembers recent results of NormalizeMerchant (a pure
// function; merchant names repeat a lot), up to merchantMemoMax names.
var (
	merchantMemo     sync.Map
	merchantMemoSize atomic.Int64
)

const (
	merchantMemoMax    = 50_000
	merchantMemoMaxLen = 200
)

func normalizeMerchantFixed(s string) string {
	// The steps are idempotent in practice; iterating to a fixed point
	// guarantees it for the odd Unicode case mapping that is not.
	out := normalizeMerchantOnce(s)
	for i := 0; i < 3; i++ {
		next := normalizeMerchantOnce(out)
		if next == out {
			break
		}
		out = next
	}
	return out
}

// MerchantKey is the comparable form of a merchant name: two names are the
// same merchant when their keys are equal.
func MerchantKey(s string) string {
	return strings.Join(merchantTokens(NormalizeMerchant(s)), " ")
}

func normalizeMerchantOnce(s string) string {
	tokens := merchantTokens(s)
	if len(tokens) == 0 {
		return ""
	}
	if display, ok := merchantAlias(tokens); ok {
		return display
	}
	words := make([]string, len(tokens))
	for i, t := range tokens {
		words[i] = titleWord(t)
	}
	return strings.Join(words, " ")
}

// merchantTokens splits a name into upper-case words with punctuation,
// processor prefixes, store numbers and legal suffixes removed.
func merchantTokens(s string) []string {
	s = strings.ToUpper(norm.NFKC.String(strings.ToValidUTF8(s, "")))
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == '\'' || r == '’' || r == '.' || r == '`':
			// joined: MCDONALD'S → MCDONALDS, S.A. → SA, AMAZON.COM → AMAZONCOM
		case r == '#':
			b.WriteString(" # ")
		case r == '&' || r == '+':
			b.WriteString(" & ")
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		case unicode.IsMark(r):
			b.WriteRune(r)
		default:
			b.WriteByte(' ')
		}
	}
	raw := strings.Fields(b.String())
	tokens := raw[:0]
	for i := 0; i < len(raw); i++ {
		t := raw[i]
		switch {
		case t == "#":
			// "# 123" is a store number; a lone '#' is noise.
			if i+1 < len(raw) && isDigits(raw[i+1]) {
				i++
			}
			continue
		case storeWords[t] && i+1 < len(raw) && isDigits(raw[i+1]) && len(tokens) > 0:
			i++
			continue
		}
		tokens = append(tokens, t)
	}
	if len(tokens) > 1 && processorPrefixes[tokens[0]] {
		tokens = tokens[1:]
	}
	for changed := true; changed && len(tokens) > 1; {
		changed = false
		last := tokens[len(tokens)-1]
		switch {
		case legalSuffixes[last], last == "&", last == "AND":
			tokens, changed = tokens[:len(tokens)-1], true
		case isDigits(last) && utf8.RuneCountInString(last) >= 3:
			tokens, changed = tokens[:len(tokens)-1], true
		}
	}
	return tokens
}

func merchantAlias(tokens []string) (string, bool) {
	for _, k := range aliasKeys {
		if len(k) > len(tokens) {
			continue
		}
		match := true
		for i := range k {
			if tokens[i] != k[i] {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		// A short alias must match the whole name ("MCD"), a longer one
		// may be followed by descriptors ("AMZN MKTP US 2K4").
		if len(k) == len(tokens) || len(strings.Join(k, "")) >= 4 {
			return merchantAliases[strings.Join(k, " ")], true
		}
	}
	return "", false
}

// titleWord writes an upper-case word in title case, except words without
// vowels, which are usually initials (KFC, BP).
func titleWord(w string) string {
	if !strings.ContainsAny(w, "AEIOUY") && hasLetter(w) && utf8.RuneCountInString(w) <= 4 && isASCII(w) {
		return w
	}
	lower := strings.ToLower(w)
	r, size := utf8.DecodeRuneInString(lower)
	up := unicode.ToUpper(r)
	// Only change the first letter when upper-casing it round-trips, so the
	// key of the output is the key of the input.
	if unicode.ToLower(up) != r || strings.ToUpper(string(up)) != strings.ToUpper(string(r)) {
		return lower
	}
	return string(up) + lower[size:]
}

func hasLetter(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Category taxonomy.

// Taxonomy maps category names and their synonyms onto a fixed set of
// canonical categories (snake_case). Build one with NewTaxonomy; the data
// pool uses DefaultTaxonomy unless its Deps say otherwise.
type Taxonomy struct {
	phrases map[string]string // key form of a name or synonym → canonical
	names   []string
	other   string
}

// DefaultCategories is the default taxonomy: canonical category → synonyms.
var DefaultCategories = map[string][]string{
	"meals": {"meal", "food", "food and beverage", "f&b", "fnb", "restaurant", "dining", "dine",
		"lunch", "dinner", "breakfast", "cafe", "coffee", "fast food", "snack", "drinks", "bar", "takeaway", "food delivery"},
	"groceries":      {"grocery", "supermarket", "hypermarket", "market", "minimart", "convenience store"},
	"transportation": {"transport", "taxi", "cab", "ride", "rideshare", "ride hailing", "bus", "train", "rail", "metro", "subway", "parking", "toll", "mileage", "car rental", "public transport"},
	"fuel":           {"gas", "gasoline", "petrol", "diesel", "gas station", "petrol station", "fuel station"},
	"travel":         {"airfare", "flight", "airline", "air travel", "air ticket", "travel"},
	"lodging":        {"hotel", "accommodation", "motel", "hostel", "airbnb", "lodging"},
	"office_supplies": {"office", "office supply", "stationery", "stationary", "printing",
		"supplies", "office equipment"},
	"software":              {"saas", "subscription", "apps", "app", "cloud", "software license"},
	"telecom":               {"phone", "mobile", "internet", "telecommunication", "telco", "broadband"},
	"utilities":             {"utility", "electricity", "water", "power", "energy"},
	"entertainment":         {"movie", "cinema", "event", "ticket", "concert", "recreation"},
	"healthcare":            {"medical", "pharmacy", "health", "doctor", "clinic", "hospital", "dental"},
	"shopping":              {"retail", "clothing", "apparel", "electronics", "department store"},
	"professional_services": {"consulting", "legal", "accounting", "service", "professional service"},
	"education":             {"training", "course", "book", "tuition", "conference"},
	"other":                 {"misc", "miscellaneous", "general", "others", "uncategorized", "uncategorised"},
}

// NewTaxonomy builds a taxonomy from canonical names to synonyms. Names must
// be lower snake_case; one of them must be "other", where unknown categories
// go. A synonym claimed by two names is an error.
func NewTaxonomy(categories map[string][]string) (*Taxonomy, error) {
	t := &Taxonomy{phrases: map[string]string{}, other: "other"}
	if _, ok := categories["other"]; !ok {
		return nil, errors.New("taxonomy: it needs an \"other\" category for unknown names")
	}
	names := make([]string, 0, len(categories))
	for name := range categories {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if name == "" || strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
			return nil, fmt.Errorf("taxonomy: category %q must be lower snake_case", name)
		}
		if len(name) > 100 {
			return nil, fmt.Errorf("taxonomy: category %q is longer than 100 characters", name)
		}
		t.names = append(t.names, name)
		for _, p := range append([]string{name}, categories[name]...) {
			k := categoryKey(p)
			if k == "" {
				return nil, fmt.Errorf("taxonomy: category %q has an empty synonym", name)
			}
			for _, kk := range []string{k, singular(k)} {
				if have, dup := t.phrases[kk]; dup && have != name {
					return nil, fmt.Errorf("taxonomy: synonym %q belongs to both %q and %q", p, have, name)
				}
				t.phrases[kk] = name
			}
		}
	}
	return t, nil
}

// DefaultTaxonomy returns the taxonomy of DefaultCategories.
func DefaultTaxonomy() *Taxonomy {
	t, err := NewTaxonomy(DefaultCategories)
	if err != nil {
		panic(err) // DefaultCategories is a constant; its test keeps it valid
	}
	return t
}

// Names lists the canonical categories, sorted.
func (t *Taxonomy) Names() []string { return append([]string(nil), t.names...) }

// Normalize maps a category as written onto the taxonomy. known is false
// when nothing matched and the result is "other". An empty input gives "".
func (t *Taxonomy) Normalize(s string) (canonical string, known bool) {
	k := categoryKey(s)
	if k == "" {
		return "", false
	}
	if c, ok := t.phrases[k]; ok {
		return c, true
	}
	if c, ok := t.phrases[singular(k)]; ok {
		return c, true
	}
	for _, w := range strings.Fields(k) {
		if c, ok := t.phrases[w]; ok {
			return c, true
		}
		if c, ok := t.phrases[singular(w)]; ok {
			return c, true
		}
	}
	return t.other, false
}

// categoryKey lower-cases s, turns "&" into "and" and every other
// punctuation or symbol (including '_') into a space.
func categoryKey(s string) string {
	s = strings.ToLower(norm.NFKC.String(strings.ToValidUTF8(s, "")))
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '&':
			b.WriteString(" and ")
		case r == '\'' || r == '’':
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		default:
			b.WriteByte(' ')
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// singular drops a plural "s" from the last word ("restaurants").
func singular(k string) string {
	if len(k) > 3 && strings.HasSuffix(k, "s") && !strings.HasSuffix(k, "ss") {
		return k[:len(k)-1]
	}
	return k
}

// Dates.

// minYear and maxYear bound a receipt date: anything outside is a misread.
const (
	minYear = 1900
	maxYear = 2100
)

var monthNames = map[string]int{
	"jan": 1, "january": 1, "januari": 1,
	"feb": 2, "february": 2, "februari": 2,
	"mar": 3, "march": 3, "mac": 3, "mrz": 3, "maerz": 3, "märz": 3,
	"apr": 4, "april": 4,
	"may": 5, "mei": 5, "mai": 5,
	"jun": 6, "june": 6, "juni": 6,
	"jul": 7, "july": 7, "julai": 7, "juli": 7,
	"aug": 8, "august": 8, "ogos": 8, "ogo": 8,
	"sep": 9, "sept": 9, "september": 9,
	"oct": 10, "october": 10, "okt": 10, "oktober": 10,
	"nov": 11, "november": 11,
	"dec": 12, "december": 12, "dis": 12, "disember": 12, "dez": 12, "dezember": 12,
}

var weekdayNames = map[string]bool{
	"mon": true, "monday": true, "tue": true, "tues": true, "tuesday": true, "wed": true, "wednesday": true,
	"thu": true, "thur": true, "thurs": true, "thursday": true, "fri": true, "friday": true,
	"sat": true, "saturday": true, "sun": true, "sunday": true,
}

// dateToken is a run of digits or of letters in a date string, with the
// separator that preceded it.
type dateToken struct {
	text  string
	digit bool
	sep   string
}

// NormalizeDate reads a receipt date and returns it as yyyy-mm-dd. It reads
// yyyy-mm-dd, yyyy/mm/dd, yyyymmdd, dd/mm/yyyy, dd-mm-yy, dd.mm.yyyy,
// dd MON yyyy, dd-MON-yy, MON dd yyyy and "Month dd, yyyy", with an optional
// leading weekday and a trailing time (after a space or 'T'). Numeric dates
// are day first unless the first number cannot be a month day and the
// second can (12/31/2024 is read as December 31). Two-digit years are
// 1970–2069. Impossible dates (31/02/2024, month 13, years outside
// 1900–2100) are an error saying why.
func NormalizeDate(s string) (string, error) {
	y, m, d, err := parseDate(s)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%04d-%02d-%02d", y, m, d), nil
}

var errDateFormat = errors.New("not a recognised date (want yyyy-mm-dd, dd/mm/yyyy, dd MON yyyy or MON dd, yyyy)")

func parseDate(s string) (y, m, d int, err error) {
	s = strings.TrimSpace(norm.NFKC.String(strings.ToValidUTF8(s, "")))
	if s == "" {
		return 0, 0, 0, errors.New("empty date")
	}
	if len(s) > 64 {
		return 0, 0, 0, errors.New("date is longer than 64 characters")
	}
	toks, ok := dateTokens(s)
	if !ok {
		return 0, 0, 0, errDateFormat
	}
	// A leading weekday ("Tue, 12 Mar 2024") says nothing more.
	if len(toks) > 0 && !toks[0].digit && weekdayNames[strings.ToLower(toks[0].text)] {
		toks = toks[1:]
		if len(toks) > 0 {
			toks[0].sep = ""
		}
	}
	if len(toks) < 1 {
		return 0, 0, 0, errDateFormat
	}
	var a, b, c dateToken
	switch {
	case len(toks) == 1 && toks[0].digit && len(toks[0].text) == 8:
		// yyyymmdd
		t := toks[0].text
		y, m, d = atoi(t[:4]), atoi(t[4:6]), atoi(t[6:])
		return checkDate(y, m, d)
	case len(toks) < 3:
		if len(toks) == 2 && ((!toks[0].digit && toks[1].digit) || (toks[0].digit && !toks[1].digit)) {
			return 0, 0, 0, errors.New("date has no year")
		}
		return 0, 0, 0, errDateFormat
	}
	a, b, c = toks[0], toks[1], toks[2]
	switch {
	case a.digit && b.digit && c.digit:
		if !sameSep(b.sep, c.sep) || !numericSep(b.sep) {
			return 0, 0, 0, errDateFormat
		}
		switch {
		case len(a.text) == 4: // yyyy-mm-dd
			if len(b.text) > 2 || len(c.text) > 2 {
				return 0, 0, 0, errDateFormat
			}
			y, m, d = atoi(a.text), atoi(b.text), atoi(c.text)
		case len(a.text) <= 2 && len(b.text) <= 2 && (len(c.text) == 2 || len(c.text) == 4):
			d, m, y = atoi(a.text), atoi(b.text), year(c.text)
			if m > 12 && d <= 12 { // 12/31/2024: month first
				d, m = m, d
			}
		default:
			return 0, 0, 0, errDateFormat
		}
	case a.digit && !b.digit && c.digit: // 12 Mar 2024, 12-MAR-24
		mm, ok := monthNames[strings.ToLower(b.text)]
		if !ok || len(a.text) > 2 || (len(c.text) != 2 && len(c.text) != 4) {
			return 0, 0, 0, errDateFormat
		}
		d, m, y = atoi(a.text), mm, year(c.text)
	case !a.digit && b.digit && c.digit: // Mar 12, 2024
		mm, ok := monthNames[strings.ToLower(a.text)]
		if !ok || len(b.text) > 2 || (len(c.text) != 2 && len(c.text) != 4) {
			return 0, 0, 0, errDateFormat
		}
		m, d, y = mm, atoi(b.text), year(c.text)
	default:
		return 0, 0, 0, errDateFormat
	}
	// Whatever follows must be a time: after a space or 'T', digits and ':'.
	if len(toks) > 3 {
		rest := toks[3:]
		if rest[0].sep != " " && rest[0].sep != "T" && rest[0].sep != ", " && rest[0].sep != "," {
			return 0, 0, 0, errDateFormat
		}
		for _, t := range rest {
			if !t.digit && !isTimeWord(t.text) {
				return 0, 0, 0, errDateFormat
			}
		}
	}
	return checkDate(y, m, d)
}

func isTimeWord(s string) bool {
	switch strings.ToLower(s) {
	case "am", "pm", "z", "utc", "gmt", "h":
		return true
	}
	return false
}

// dateTokens splits s into digit runs and letter runs with the separator
// before each. It fails on characters that have no place in a date.
func dateTokens(s string) ([]dateToken, bool) {
	toks := make([]dateToken, 0, 4) // a date has three, maybe a weekday
	var sep strings.Builder
	i := 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r >= '0' && r <= '9':
			j := i
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			toks = append(toks, dateToken{text: s[i:j], digit: true, sep: sep.String()})
			sep.Reset()
			i = j
			continue
		case unicode.IsLetter(r):
			j := i
			for j < len(s) {
				r2, n := utf8.DecodeRuneInString(s[j:])
				if !unicode.IsLetter(r2) {
					break
				}
				j += n
			}
			word := s[i:j]
			lw := strings.ToLower(word)
			// 1st, 2nd, 3rd, 12th after a day number.
			if len(toks) > 0 && toks[len(toks)-1].digit && sep.Len() == 0 && (lw == "st" || lw == "nd" || lw == "rd" || lw == "th") {
				i = j
				continue
			}
			// 'T' between a date and a time (2024-03-12T10:00).
			if word == "T" && len(toks) == 3 && sep.Len() == 0 {
				sep.WriteString("T")
				i = j
				continue
			}
			toks = append(toks, dateToken{text: word, sep: sep.String()})
			sep.Reset()
			i = j
			continue
		case r == ' ' || r == '-' || r == '/' || r == '.' || r == ',' || r == ':' || r == '+' || r == '\t':
			if r == '\t' {
				r = ' '
			}
			if sep.Len() < 3 {
				sep.WriteRune(r)
			} else {
				return nil, false
			}
		default:
			return nil, false
		}
		i += size
	}
	if len(toks) > 12 {
		return nil, false
	}
	return toks, true
}

func numericSep(s string) bool { return s == "-" || s == "/" || s == "." || s == " " }

func sameSep(a, b string) bool { return a == b }

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}

// year reads a two- or four-digit year; two digits are 1970–2069.
func year(s string) int {
	n := atoi(s)
	if len(s) == 2 {
		if n < 70 {
			return 2000 + n
		}
		return 1900 + n
	}
	return n
}

var monthLong = [...]string{"", "January", "February", "March", "April", "May", "June", "July",
	"August", "September", "October", "November", "December"}

func checkDate(y, m, d int) (int, int, int, error) {
	switch {
	case y < minYear || y > maxYear:
		return 0, 0, 0, fmt.Errorf("year %d is outside %d–%d", y, minYear, maxYear)
	case m < 1 || m > 12:
		return 0, 0, 0, fmt.Errorf("month %d does not exist", m)
	case d < 1:
		return 0, 0, 0, fmt.Errorf("day %d does not exist", d)
	}
	if n := daysIn(y, m); d > n {
		return 0, 0, 0, fmt.Errorf("%s %d has %d days, not %d", monthLong[m], y, n, d)
	}
	return y, m, d, nil
}

func daysIn(y, m int) int {
	switch m {
	case 4, 6, 9, 11:
		return 30
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	}
	return 31
}

// Amounts.

// maxAmount is the largest corrected_amount (DECIMAL(10,2)).
var maxAmount = decimal.RequireFromString("99999999.99")

// Money is an exact amount with its ISO 4217 currency ("" when the receipt
// did not say).
type Money struct {
	Amount   decimal.Decimal
	Currency string
}

// currencySymbols maps symbols and local abbreviations to ISO 4217 codes.
// Longer marks are tried first ("US$" before "$"). A bare "$" is USD unless
// a currency is given separately.
var currencySymbols = map[string]string{
	"US$": "USD", "USD$": "USD", "S$": "SGD", "SG$": "SGD", "A$": "AUD", "AU$": "AUD",
	"C$": "CAD", "CA$": "CAD", "NZ$": "NZD", "HK$": "HKD", "R$": "BRL", "MX$": "MXN",
	"RM": "MYR", "RP": "IDR", "€": "EUR", "£": "GBP", "¥": "JPY", "円": "JPY", "₹": "INR",
	"₩": "KRW", "₱": "PHP", "฿": "THB", "₫": "VND", "₺": "TRY", "₽": "RUB", "₪": "ILS",
	"ZŁ": "PLN", "KČ": "CZK", "FR": "CHF", "$": "USD",
}

// currencyCodes are the ISO 4217 codes recognised in amounts and in the
// currency field.
var currencyCodes = map[string]bool{
	"USD": true, "EUR": true, "GBP": true, "JPY": true, "CNY": true, "MYR": true, "SGD": true,
	"AUD": true, "CAD": true, "NZD": true, "HKD": true, "INR": true, "IDR": true, "THB": true,
	"PHP": true, "VND": true, "KRW": true, "TWD": true, "CHF": true, "SEK": true, "NOK": true,
	"DKK": true, "PLN": true, "CZK": true, "HUF": true, "RON": true, "BGN": true, "TRY": true,
	"RUB": true, "UAH": true, "ILS": true, "AED": true, "SAR": true, "QAR": true, "KWD": true,
	"BHD": true, "OMR": true, "JOD": true, "EGP": true, "ZAR": true, "NGN": true, "KES": true,
	"BRL": true, "MXN": true, "ARS": true, "CLP": true, "COP": true, "PEN": true, "PKR": true,
	"BDT": true, "LKR": true, "BND": true, "MOP": true, "ISK": true,
}

// currencyMarks are the symbols and codes, longest first.
var currencyMarks = func() []string {
	var marks []string
	for k := range currencySymbols {
		marks = append(marks, k)
	}
	for k := range currencyCodes {
		marks = append(marks, k)
	}
	sort.Slice(marks, func(i, j int) bool {
		if len(marks[i]) != len(marks[j]) {
			return len(marks[i]) > len(marks[j])
		}
		return marks[i] < marks[j]
	})
	return marks
}()

func markCurrency(mark string) (code string, ambiguous bool) {
	if c, ok := currencySymbols[mark]; ok {
		return c, mark == "$" || mark == "¥" || mark == "FR"
	}
	return mark, false
}

// NormalizeCurrency returns the ISO 4217 code for a code or symbol ("rm",
// "€", "usd").
func NormalizeCurrency(s string) (string, error) {
	u := strings.ToUpper(strings.TrimSpace(norm.NFKC.String(strings.ToValidUTF8(s, ""))))
	if u == "" {
		return "", nil
	}
	if currencyCodes[u] {
		return u, nil
	}
	if c, ok := currencySymbols[u]; ok {
		return c, nil
	}
	return "", errors.New("not a known ISO 4217 currency code or symbol")
}

// NormalizeAmount reads an amount as printed on a receipt: with a currency
// symbol or code before or after it ("RM 12.50", "12,50 €", "USD 1,234.56")
// and either decimal convention (1,234.56 or 1.234,56; a single separator
// followed by exactly three digits is a thousands separator: "1.234" is
// 1234). It returns the exact amount with two decimal places and the ISO
// 4217 currency it named ("" if none). Negative amounts, more than two
// decimal places, exponents and amounts over 99,999,999.99 are errors.
func NormalizeAmount(s string) (Money, error) {
	s = strings.TrimSpace(norm.NFKC.String(strings.ToValidUTF8(s, "")))
	if s == "" {
		return Money{}, errors.New("empty amount")
	}
	if len(s) > 64 {
		return Money{}, errors.New("amount is longer than 64 characters")
	}
	up := strings.ToUpper(s)
	var cur string
	// One currency mark, before or after the number.
	for _, mark := range currencyMarks {
		switch {
		case strings.HasPrefix(up, mark):
			up = strings.TrimSpace(up[len(mark):])
		case strings.HasSuffix(up, mark):
			up = strings.TrimSpace(up[:len(up)-len(mark)])
		default:
			continue
		}
		cur, _ = markCurrency(mark)
		break
	}
	// A sign may sit outside the currency mark too ("-$5"), so look again.
	if strings.HasPrefix(up, "-") || strings.HasSuffix(up, "-") || strings.HasPrefix(up, "(") || strings.HasPrefix(s, "-") || strings.Contains(up, "CR") {
		return Money{}, errors.New("amount must not be negative")
	}
	up = strings.TrimPrefix(up, "+")
	if up == "" {
		return Money{}, errors.New("amount has no digits")
	}
	if i := strings.IndexAny(up, "eE"); i > 0 && i+1 < len(up) && up[i-1] >= '0' && up[i-1] <= '9' {
		return Money{}, errors.New("amount must be written in plain notation, not with an exponent")
	}
	var digits strings.Builder
	var seps []byte  // separators in order ('_' for a space or apostrophe)
	var sepPos []int // number of digits before each separator
	var groups []int // digits between separators
	n, run := 0, 0
	for i := 0; i < len(up); i++ {
		c := up[i]
		switch {
		case c >= '0' && c <= '9':
			digits.WriteByte(c)
			n++
			run++
		case c == ',' || c == '.':
			if run == 0 {
				if n == 0 && c == '.' { // ".50"
					seps = append(seps, c)
					sepPos = append(sepPos, 0)
					groups = append(groups, 0)
					continue
				}
				return Money{}, errors.New("amount has two separators in a row")
			}
			seps = append(seps, c)
			sepPos = append(sepPos, n)
			groups = append(groups, run)
			run = 0
		case c == ' ' || c == '\'' || c == '_':
			// digit grouping (1 234,56; 1'234.56): only between digits
			if run == 0 || i+1 >= len(up) || up[i+1] < '0' || up[i+1] > '9' {
				return Money{}, errors.New("amount has a stray space or apostrophe")
			}
			seps = append(seps, '_')
			sepPos = append(sepPos, n)
			groups = append(groups, run)
			run = 0
		default:
			return Money{}, errors.New("amount is not a number (want digits with an optional currency, e.g. \"RM 1,234.50\")")
		}
	}
	if n == 0 {
		return Money{}, errors.New("amount has no digits")
	}
	if run == 0 {
		return Money{}, errors.New("amount ends with a separator")
	}
	groups = append(groups, run)
	all := digits.String()

	// Find the decimal separator, if any.
	decAt := -1 // index in seps
	lastDot, lastComma := -1, -1
	dots, commas := 0, 0
	for i, c := range seps {
		switch c {
		case '.':
			lastDot = i
			dots++
		case ',':
			lastComma = i
			commas++
		}
	}
	switch {
	case dots > 0 && commas > 0:
		decAt = max(lastDot, lastComma)
		if decAt != len(seps)-1 {
			return Money{}, errors.New("amount mixes separators (want 1,234.56 or 1.234,56)")
		}
	case dots+commas == 1:
		i := max(lastDot, lastComma)
		after := groups[i+1]
		before := sepPos[i]
		if i != len(seps)-1 {
			// a decimal mark followed by a space group: not a number
			return Money{}, errors.New("amount has digits grouped after its decimal separator")
		}
		intPart := all[:before]
		if after == 3 && before >= 1 && before <= 3 && strings.TrimLeft(intPart, "0") != "" && len(seps) == 1 {
			decAt = -1 // 1.234 / 1,234: thousands
		} else {
			decAt = i
		}
	case dots > 1 || commas > 1:
		// 1,234,567 or 1.234.567: thousands only
		decAt = -1
	}
	// Every separator except the decimal one groups thousands: 3 digits after it.
	for i := range seps {
		if i == decAt {
			continue
		}
		if groups[i+1] != 3 || (i == 0 && groups[0] > 3 && seps[0] != '_') {
			return Money{}, errors.New("amount has misplaced thousands separators")
		}
		if decAt >= 0 && i > decAt {
			return Money{}, errors.New("amount has digits grouped after its decimal separator")
		}
	}
	intDigits, frac := all, ""
	if decAt >= 0 {
		intDigits, frac = all[:sepPos[decAt]], all[sepPos[decAt]:]
	}
	frac = strings.TrimRight(frac, "0")
	if len(frac) > 2 {
		return Money{}, errors.New("amount has more than 2 decimal places")
	}
	intDigits = strings.TrimLeft(intDigits, "0")
	if len(intDigits) > 8 {
		return Money{}, fmt.Errorf("amount is over the limit of %s", maxAmount.StringFixed(2))
	}
	if intDigits == "" {
		intDigits = "0"
	}
	lit := intDigits
	if frac != "" {
		lit += "." + frac
	}
	amt, err := decimal.NewFromString(lit)
	if err != nil {
		return Money{}, errors.New("amount is not a number")
	}
	if amt.GreaterThan(maxAmount) {
		return Money{}, fmt.Errorf("amount is over the limit of %s", maxAmount.StringFixed(2))
	}
	return Money{Amount: amt.Round(2), Currency: cur}, nil
}

// amountCurrencyAmbiguous reports whether the currency NormalizeAmount read
// from s came from an ambiguous symbol ($, ¥, Fr), which a separately given
// currency may override.
func amountCurrencyAmbiguous(s string) bool {
	up := strings.ToUpper(strings.TrimSpace(norm.NFKC.String(strings.ToValidUTF8(s, ""))))
	for _, mark := range currencyMarks {
		if strings.HasPrefix(up, mark) || strings.HasSuffix(up, mark) {
			_, amb := markCurrency(mark)
			return amb
		}
	}
	return false
}

// Card numbers.

// NormalizeCardLastFour returns the last four digits of a card reference
// ("**** 1234", "xxxx-1234", "ending 1234", a full card number).
func NormalizeCardLastFour(s string) (string, error) {
	if len(s) > 64 {
		return "", errors.New("card_last_four is longer than 64 characters")
	}
	var digits []byte
	for _, r := range norm.NFKC.String(strings.ToValidUTF8(s, "")) {
		if r >= '0' && r <= '9' {
			digits = append(digits, byte(r))
		}
	}
	if len(digits) < 4 {
		return "", errors.New("card_last_four needs four digits")
	}
	if len(digits) > 19 {
		return "", errors.New("card_last_four has more digits than a card number")
	}
	return string(digits[len(digits)-4:]), nil
}

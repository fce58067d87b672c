package extract

import (
	"math"
	"strings"
	"unicode"
)

// legalSuffixes mark a registered business name.
var legalSuffixes = map[string]bool{
	"SDN": true, "BHD": true, "BERHAD": true, "S/B": true, "PLT": true, "LLC": true, "LLP": true, "INC": true,
	"CORP": true, "CORPORATION": true, "LTD": true, "LIMITED": true, "PLC": true, "GMBH": true, "AG": true,
	"KG": true, "SARL": true, "SAS": true, "SRL": true, "SPA": true, "BV": true, "NV": true, "PTY": true,
	"PTE": true, "CO": true, "COMPANY": true, "TBK": true, "PT": true,
}

// businessWords are common in shop names and raise confidence a little.
var businessWords = map[string]bool{
	"ENTERPRISE": true, "ENTERPRISES": true, "TRADING": true, "RESTAURANT": true, "RESTORAN": true, "CAFE": true,
	"BAKERY": true, "BAKERIES": true, "HARDWARE": true, "STATIONERY": true, "SUPERMARKET": true, "HYPERMARKET": true,
	"MART": true, "MINIMARKET": true, "STORE": true, "STORES": true, "SHOP": true, "PHARMACY": true, "HOTEL": true,
	"KEDAI": true, "PERNIAGAAN": true, "SYARIKAT": true, "GROUP": true, "HOLDINGS": true, "INDUSTRIES": true,
	"MARKETING": true, "SERVICES": true, "SERVICE": true, "SEAFOOD": true, "BOOK": true, "BOOKS": true,
	"BOOKSTORE": true, "FARMASI": true, "CLINIC": true, "KLINIK": true, "STATION": true, "MARKET": true,
	"INTERNATIONAL": true, "DINER": true, "BAR": true, "GRILL": true, "PIZZA": true, "COFFEE": true, "TEA": true,
	"KITCHEN": true, "FOOD": true, "FOODS": true, "BISTRO": true, "PUB": true, "INN": true, "MOTEL": true,
	"PETROL": true, "ELECTRICAL": true, "ELECTRONICS": true, "FURNITURE": true, "TEXTILE": true, "BOUTIQUE": true,
	"CENTRE": true, "CENTER": true, "EMPORIUM": true, "DEPARTMENT": true, "WHOLESALE": true,
	"MAKANAN": true, "MINIMART": true, "PASARAYA": true, "DELI": true, "CHEMIST": true, "OPTICAL": true,
}

// skipWords mark a header line that is not the business name.
var skipWords = map[string]bool{
	// address
	"JALAN": true, "JLN": true, "LOT": true, "STREET": true, "ST": true, "ROAD": true, "RD": true, "AVE": true,
	"AVENUE": true, "BLVD": true, "LANE": true, "TAMAN": true, "TMN": true, "LORONG": true, "PERSIARAN": true,
	"FLOOR": true, "FLR": true, "LEVEL": true, "UNIT": true, "BLOCK": true, "BLK": true, "SUITE": true,
	"KAWASAN": true, "BANDAR": true, "SEKSYEN": true, "SECTION": true, "DRIVE": true, "HIGHWAY": true,
	"STRASSE": true, "STR": true, "RUE": true, "VIA": true, "CALLE": true, "BUILDING": true, "BANGUNAN": true,
	"WISMA": true, "KAMPUNG": true, "DARUL": true, "EHSAN": true, "PO": true, "BOX": true,
	// contact and registration
	"TEL": true, "TELEPHONE": true, "PHONE": true, "FAX": true, "HP": true, "MOBILE": true, "WHATSAPP": true,
	"WHATSAPPS": true, "EMAIL": true, "WWW": true, "HTTP": true, "HTTPS": true, "COM": true,
	"GST": true, "REG": true, "ROC": true, "REGISTRATION": true, "ABN": true, "VAT": true, "UEN": true,
	"BRN": true, "SST": true, "NPWP": true, "SIRET": true, "TIN": true,
	// document titles and greetings
	"INVOICE": true, "RECEIPT": true, "RECEIPTS": true, "BILL": true, "WELCOME": true, "THANK": true, "THANKS": true,
	"CASHIER": true, "TABLE": true, "ORDER": true, "COPY": true, "CUSTOMER": true, "MEMBER": true,
	"DATE": true, "TIME": true, "TERMINAL": true, "POS": true, "QUOTATION": true, "STATEMENT": true,
	"DUPLICATE": true, "SIMPLIFIED": true, "OFFICIAL": true, "HOURS": true, "OPEN": true, "DOC": true,
}

// merchantLines is how far down the header is searched.
const merchantLines = 12

type merchantCand struct {
	idx    int
	text   string // cleaned, as printed
	score  float64
	legal  bool
	suffix bool // the line is only a legal suffix ("SDN BHD", "CO. (M) SDN BHD")
}

type merchantResult struct {
	name   string
	conf   float64
	source string
}

// findMerchant picks the business name from the header lines.
func findMerchant(lines []line) (merchantResult, bool) {
	var cands []merchantCand
	nameLike := 0
	limit := min(len(lines), merchantLines)
	for i := 0; i < limit; i++ {
		c, ok := headerCandidate(&lines[i])
		if !ok {
			continue
		}
		c.idx = i
		// the name is near the top: each name-like line before this one costs
		c.score -= 0.35 * float64(nameLike)
		c.score -= 0.05 * float64(i)
		nameLike++
		cands = append(cands, c)
	}
	if len(cands) == 0 {
		return merchantResult{}, false
	}
	bi := 0
	for k := range cands {
		if cands[k].score > cands[bi].score {
			bi = k
		}
	}
	best := cands[bi]
	name := best.text
	score := best.score
	source := "rule:merchant-header"
	// a name broken across two lines
	if best.suffix && bi > 0 && cands[bi-1].idx == best.idx-1 && !cands[bi-1].legal {
		name = cands[bi-1].text + " " + name
		source = "rule:merchant-header-joined"
	} else if bi+1 < len(cands) && cands[bi+1].idx == best.idx+1 && !best.legal {
		nx := cands[bi+1]
		short := len(strings.Fields(best.text)) <= 3 && len(strings.Fields(nx.text)) <= 3 && !hasDigitStr(nx.text)
		if nx.suffix || nx.legal || short && sharesWord(best.text, nx.text) {
			name = name + " " + nx.text
			source = "rule:merchant-header-joined"
			if nx.legal {
				score += 1
			}
		}
	}
	conf := 1 - math.Exp(-math.Max(score, 0.1)/2)
	return merchantResult{name: name, conf: clamp01(math.Min(conf, 0.9)), source: source}, true
}

// headerCandidate cleans a header line and scores it as a business name.
func headerCandidate(l *line) (merchantCand, bool) {
	text := cleanName(l.raw)
	up := strings.ToUpper(text)
	words := splitWords(up)
	letters, digits, lowerStart, alphaWords := 0, 0, 0, 0
	for _, r := range text {
		switch {
		case unicode.IsLetter(r):
			letters++
		case unicode.IsDigit(r):
			digits++
		}
	}
	if letters < 3 || digits*2 > letters {
		return merchantCand{}, false
	}
	for _, w := range strings.Fields(text) {
		r := []rune(w)
		if unicode.IsLetter(r[0]) {
			alphaWords++
			if unicode.IsLower(r[0]) {
				lowerStart++
			}
		}
	}
	for _, w := range words {
		if skipWords[w] {
			return merchantCand{}, false
		}
	}
	if strings.Contains(up, "@") && strings.Contains(up, ".") || strings.Contains(up, ".COM") || strings.Contains(up, "WWW.") {
		return merchantCand{}, false
	}
	if strings.HasPrefix(strings.TrimSpace(l.raw), "(") {
		return merchantCand{}, false // registration number or branch note
	}
	if looksLikePostcodeLine(words) {
		return merchantCand{}, false
	}
	allKeywords := true
	for _, w := range words {
		if _, ok := keywordDict[w]; !ok {
			allKeywords = false
			break
		}
	}
	if allKeywords {
		return merchantCand{}, false // "CASH", "TAX INVOICE", "TOTAL"
	}
	c := merchantCand{text: text, score: 1}
	nonSuffix := 0
	for k, w := range words {
		switch {
		case legalSuffixes[w] || w == "S" && k+1 < len(words) && words[k+1] == "B":
			c.legal = true
		case w == "B" && k > 0 && words[k-1] == "S", w == "M" && k > 0:
			// "S/B", "(M)"
		default:
			nonSuffix++
		}
		if businessWords[w] {
			c.score += 0.6
		}
	}
	if c.legal {
		c.score += 1.5
	}
	// only a suffix, or a suffix with one misread word ("CO. (M) SDN BAD")
	if nonSuffix == 0 || nonSuffix == 1 && len(words) > 2 && legalSuffixes[words[0]] && words[0] != "PT" {
		c.suffix = true
		c.score -= 0.5
	}
	if digits > 0 {
		c.score -= 0.4
	}
	if alphaWords > 0 && lowerStart*2 > alphaWords {
		c.score -= 1.2 // receipt names are printed in capitals or title case; this is OCR noise
	}
	// short junk tokens ("a ee tee") and mostly symbols
	short := 0
	for _, w := range words {
		if len(w) <= 2 && !legalSuffixes[w] && w != "&" && w != "M" && w != "S" && w != "B" {
			short++
		}
	}
	if len(words) > 0 && short*2 > len(words) {
		c.score -= 0.8
	}
	if len(words) == 1 && len(words[0]) <= 3 {
		c.score -= 0.6
	}
	return c, true
}

// cleanName removes OCR junk from a printed name: stray symbols, a trailing
// registration number "(728515-M)", doubled spaces.
func cleanName(s string) string {
	var b strings.Builder
	prev := ' '
	rs := []rune(s)
	for i, r := range rs {
		if r == '$' && i+1 < len(rs) && (rs[i+1] == '/' || unicode.IsLetter(rs[i+1])) && !unicode.IsDigit(prev) {
			r = 'S' // "$/B", "$UPER": a misread S, not a price
		}
		prev = r
		switch {
		case unicode.IsLetter(r), unicode.IsDigit(r), r == ' ', r == '&', r == '.', r == ',', r == '\'', r == '-',
			r == '(', r == ')', r == '/', r == '@', r == '+':
			b.WriteRune(r)
		case r == '’':
			b.WriteByte('\'')
		default:
			b.WriteByte(' ')
		}
	}
	t := strings.Join(fixSuffixes(trimJunkTokens(strings.Fields(b.String()))), " ")
	// drop a trailing "(728515-M)", "(139386 X)", "728515-M", "CO. REG ..." part
	for {
		u := strings.TrimRight(t, " ,.-")
		if i := strings.LastIndexByte(u, '('); i > 0 && isRegNumber(u[i:]) {
			t = strings.TrimSpace(u[:i])
			continue
		}
		if i := strings.LastIndexByte(u, ' '); i > 0 && isRegNumber(u[i+1:]) {
			t = strings.TrimSpace(u[:i])
			continue
		}
		break
	}
	// unbalanced brackets and dangling punctuation at the ends
	t = strings.Trim(t, " ,-/+@'")
	if strings.Count(t, "(") != strings.Count(t, ")") {
		t = strings.Join(strings.Fields(strings.NewReplacer("(", " ", ")", " ").Replace(t)), " ")
	}
	return t
}

// isRegNumber: "(728515-M)", "139386 X)", "002043319-W".
func isRegNumber(s string) bool {
	s = strings.Trim(s, "() ")
	digits, letters := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case isDigit(c):
			digits++
		case isLetter(c):
			letters++
		case c == '-' || c == ' ' || c == '.':
		default:
			return false
		}
	}
	return digits >= 4 && letters <= 2
}

// looksLikePostcodeLine: "43300 SERI KEMBANGAN", "57000 KL".
func looksLikePostcodeLine(words []string) bool {
	for _, w := range words {
		if len(w) == 5 && allDigits(w) {
			return true
		}
	}
	return false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

func hasDigitStr(s string) bool {
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			return true
		}
	}
	return false
}

// sharesWord: "RESTAURANT JIAWEI" / "JIAWEI HOUSE" continue one name.
func sharesWord(a, b string) bool {
	wa := splitWords(strings.ToUpper(a))
	for _, w := range splitWords(strings.ToUpper(b)) {
		if len(w) >= 3 && hasWord(wa, w) {
			return true
		}
	}
	return false
}

// suffixForms are legal suffixes whose OCR misreads are corrected when they
// end a name ("SON BHO" → "SDN BHD", "$/B" → "S/B").
var suffixForms = []string{"SDN", "BHD", "S/B", "LTD", "PTE", "PTY", "INC", "LLC", "GMBH", "BERHAD", "LIMITED"}

// letterFor undoes OCR digit-for-letter confusions in words that should be
// letters.
func letterFor(r rune) rune {
	switch r {
	case '0':
		return 'O'
	case '1', '|', '!':
		return 'I'
	case '3', '8':
		return 'B'
	case '5', '$':
		return 'S'
	case '6':
		return 'G'
	}
	return r
}

// fixSuffixes corrects misread legal suffixes among the last three words of
// a name, when they are one edit (after digit→letter) from a known form and
// at least one of them is exact or the pair reads as "SDN BHD".
func fixSuffixes(ws []string) []string {
	n := len(ws)
	if n < 2 {
		return ws
	}
	canon := func(w string) (string, bool) {
		u := strings.ToUpper(strings.Trim(w, ".,"))
		if len(u) < 3 {
			return "", false
		}
		m := strings.Map(letterFor, u)
		for _, f := range suffixForms {
			if u == f || m == f {
				return f, true
			}
			if len(f) >= 3 && len(m) == len(f) && editDistance1(m, f) && m[0] == f[0] || f == "BHD" && len(m) == 3 && m[1:] == "HD" {
				return f, true
			}
		}
		return "", false
	}
	out := append([]string(nil), ws...)
	// "SON BHO", "SEN 3HD", "SIN BHD": a pair reading as SDN BHD
	if n >= 3 {
		a, okA := canon(ws[n-2])
		b, okB := canon(ws[n-1])
		if okA && okB && (a == "SDN" || strings.EqualFold(ws[n-2], "SDN") || strings.EqualFold(ws[n-2], "SDN.")) && b == "BHD" {
			if !strings.EqualFold(strings.Trim(ws[n-2], "."), "SDN") {
				out[n-2] = "SDN"
			}
			if !strings.EqualFold(strings.Trim(ws[n-1], "."), "BHD") {
				out[n-1] = "BHD"
			}
			return out
		}
	}
	if f, ok := canon(ws[n-1]); ok && (f == "S/B" || f == "BHD" && strings.EqualFold(ws[n-2], "SDN")) && !strings.EqualFold(ws[n-1], f) {
		out[n-1] = f
	}
	return out
}

// trimJunkTokens drops OCR debris around a capitalised name: short tokens
// with lower-case letters ("ie", "oy", "oO") or lone symbols and digits at
// either end.
func trimJunkTokens(ws []string) []string {
	upper := 0
	for _, w := range ws {
		if strings.ToUpper(w) == w && countLetters(w) > 1 {
			upper++
		}
	}
	junk := func(w string) bool {
		if len(w) == 1 && !unicode.IsLetter(rune(w[0])) {
			return w != "&"
		}
		if upper >= 2 && len(w) <= 3 && strings.ToUpper(w) != w {
			return true
		}
		return false
	}
	for len(ws) > 1 && junk(ws[0]) {
		ws = ws[1:]
	}
	for len(ws) > 1 && junk(ws[len(ws)-1]) {
		ws = ws[:len(ws)-1]
	}
	return ws
}

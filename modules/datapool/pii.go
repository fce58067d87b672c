package datapool

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/ocrpool/ocrpool/modules/platform/db"
)

// This file masks personal data before anything is stored or logged.
//
//   - user_id            → HMAC-SHA256(key, user_id), 64 hex characters. A
//     plain SHA-256 (the architecture document's) is reversible for
//     guessable ids by hashing candidates; a keyed hash is not without the
//     key, and it is still stable, so one user's corrections stay linked.
//   - receipt_image_path → the first 16 hex characters of HMAC(key, "path:"+path).
//   - expense_id         → "exp_" + 24 hex characters of HMAC(key, "expense:"+id):
//     opaque, yet the same expense always gets the same token.
//   - ocr_text (and every other free-text field): card numbers (13–19
//     digits, spaces or dashes allowed, passing the Luhn check) keep only
//     their last four digits; e-mail addresses lose their local part
//     ("***@example.com"); phone numbers become "[phone]".

// PIIKeyFile is the name of the generated key file, next to the SQLite file.
const PIIKeyFile = "pii.key"

// piiKeyLen is the size of a generated key.
const piiKeyLen = 32

// resolvePIIKey returns the HMAC key: the configured security.pii_key, or
// with the embedded SQLite database a random key generated once and kept in
// pii.key (mode 0600) next to the database file, so hashes survive
// restarts. PostgreSQL (a shared, production database) requires the key in
// the configuration: a generated key on one host would give other hosts
// different hashes.
func resolvePIIKey(configured string, dialect db.Dialect, sqlitePath string) ([]byte, error) {
	if configured != "" {
		if len(configured) < 16 {
			return nil, errors.New("security.pii_key must be at least 16 characters")
		}
		return []byte(configured), nil
	}
	if dialect != db.SQLite {
		return nil, errors.New("security.pii_key is required with PostgreSQL (OCRPOOL_SECURITY_PII_KEY)")
	}
	if sqlitePath == "" {
		return nil, errors.New("security.pii_key is empty and there is no database path to keep a generated key next to")
	}
	path := filepath.Join(filepath.Dir(sqlitePath), PIIKeyFile)
	if key, err := readPIIKey(path); err == nil {
		return key, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var raw [piiKeyLen]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, fmt.Errorf("generating %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating the directory of %s: %w", path, err)
	}
	// O_EXCL: when two processes start at once, one writes and the other
	// reads what it wrote.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return readPIIKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", path, err)
	}
	text := hex.EncodeToString(raw[:]) + "\n"
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	return []byte(strings.TrimSpace(text)), nil
}

func readPIIKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key := strings.TrimSpace(string(b))
	if len(key) < 2*16 {
		return nil, fmt.Errorf("%s is damaged (%d characters, want %d): restore it from a backup; deleting it changes every user hash", path, len(key), 2*piiKeyLen)
	}
	return []byte(key), nil
}

// masker hashes identifiers with the PII key.
type masker struct {
	key []byte
	// pool reuses keyed HMAC states (hmac.New hashes the key each time).
	pool *sync.Pool
}

func newMasker(key []byte) masker {
	return masker{key: key, pool: &sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}}
}

func (m masker) mac(parts ...string) []byte {
	var h hash.Hash
	if m.pool != nil {
		h = m.pool.Get().(hash.Hash)
		defer m.pool.Put(h)
		h.Reset()
	} else {
		h = hmac.New(sha256.New, m.key)
	}
	for _, p := range parts {
		h.Write([]byte(p))
	}
	return h.Sum(nil)
}

// userHash is user_id_hash: HMAC-SHA256(key, user_id) in hex.
func (m masker) userHash(userID string) string { return hex.EncodeToString(m.mac(userID)) }

// pathHash is receipt_image_path_hash: 16 hex characters.
func (m masker) pathHash(path string) string {
	return hex.EncodeToString(m.mac("path:", path))[:16]
}

// expenseToken is expense_id_token: "exp_" and 24 hex characters.
func (m masker) expenseToken(id string) string {
	return "exp_" + hex.EncodeToString(m.mac("expense:", id))[:24]
}

// MaskText masks card numbers, e-mail addresses and phone numbers in s and
// returns the masked text with the number of masked items. It is pure and
// idempotent: masking masked text changes nothing.
func MaskText(s string) (string, int) {
	if !maybePII(s) {
		return s, 0
	}
	hits := 0
	if strings.IndexByte(s, '@') >= 0 {
		var n int
		s, n = maskEmails(s)
		hits += n
	}
	var n int
	s, n = maskNumbers(s)
	return s, hits + n
}

// maybePII is a quick pre-check: without an '@' and with fewer than seven
// digits there is no e-mail, card or phone number to mask.
func maybePII(s string) bool {
	digits := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '@':
			return true
		case c >= '0' && c <= '9':
			if digits++; digits >= 7 {
				return true
			}
		}
	}
	return false
}

func isEmailLocal(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

func isDomainChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-'
}

// maskEmails replaces the local part of every address with "***".
func maskEmails(s string) (string, int) {
	var b strings.Builder
	hits, last := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] != '@' {
			continue
		}
		start := i
		for start > last && isEmailLocal(s[start-1]) {
			start--
		}
		end := i + 1
		for end < len(s) && isDomainChar(s[end]) {
			end++
		}
		domain := strings.TrimRight(s[i+1:end], ".-")
		end = i + 1 + len(domain)
		dot := strings.LastIndexByte(domain, '.')
		// A local part right after another '@' is the domain of an
		// address already seen (a@b.co@c.com), not a local part.
		if start == i || (start > 0 && s[start-1] == '@') || dot <= 0 || len(domain)-dot-1 < 2 || !isLetters(domain[dot+1:]) {
			continue
		}
		b.WriteString(s[last:start])
		b.WriteString("***@")
		b.WriteString(domain)
		last = end
		i = end - 1
		hits++
	}
	if hits == 0 {
		return s, 0
	}
	b.WriteString(s[last:])
	return b.String(), hits
}

func isLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if !(s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z') {
			return false
		}
	}
	return s != ""
}

// A numeric run is a stretch of digit groups joined by short separators
// (space, '-', '.', '(', ')'), possibly led by '+' or '('. Cards and phone
// numbers are looked for inside runs; a single pass over the text finds
// them without regular expressions, which matters at ingest rates.

type digitGroup struct {
	start, end int    // byte offsets of the digits in the text
	sep        string // separator before this group ("" for the first)
	masked     bool   // already part of a card or known not a phone
	money      bool
}

// phoneKeywords precede a phone number on receipts.
var phoneKeywords = []string{"tel", "phone", "ph", "mobile", "mob", "hp", "h/p", "fax", "call", "whatsapp", "contact", "tel no", "telephone"}

func maskNumbers(s string) (string, int) {
	type span struct {
		start, end int
		repl       string
	}
	var spans []span
	hits := 0
	// One slice for every run's groups: a receipt has dozens of runs.
	groups := make([]digitGroup, 0, 8)
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		// Collect the run starting at i.
		groups = groups[:0]
		j := i
		sep := ""
		for {
			k := j
			for k < len(s) && isDigit(s[k]) {
				k++
			}
			groups = append(groups, digitGroup{start: j, end: k, sep: sep})
			// A separator of one or two characters followed by a digit
			// continues the run.
			m := k
			for m < len(s) && m-k < 2 && isRunSep(s[m]) {
				m++
			}
			if m == k || m >= len(s) || !isDigit(s[m]) {
				j = k
				break
			}
			sep = s[k:m]
			j = m
		}
		runStart, runEnd := i, j
		// A leading '+' or '(' belongs to a phone number.
		lead := runStart
		if lead > 0 && (s[lead-1] == '+' || s[lead-1] == '(') {
			lead--
			if lead > 0 && s[lead] == '(' && s[lead-1] == '+' {
				lead--
			}
		}
		// The visible last four of an already masked card ("**** 1234",
		// "****1234") stay as they are. Masking leaves exactly four digits
		// there; more after a '*' may be a whole card ("*4111111111111111")
		// and are looked at like any other run.
		cardTail := groups[0].end-groups[0].start <= 4 &&
			((runStart >= 1 && s[runStart-1] == '*') ||
				(runStart >= 2 && s[runStart-2] == '*' && (s[runStart-1] == ' ' || s[runStart-1] == '-')))
		if cardTail {
			groups[0].masked = true
		}

		// Cards: from each group, the longest stretch of groups joined by
		// nothing, ' ' or '-' that has 13–19 digits and passes Luhn.
		for g := 0; g < len(groups); g++ {
			if groups[g].masked {
				continue
			}
			best, digits := -1, 0
			for h := g; h < len(groups); h++ {
				if h > g && groups[h].sep != " " && groups[h].sep != "-" {
					break
				}
				if groups[h].masked {
					break
				}
				digits += groups[h].end - groups[h].start
				if digits > 19 {
					break
				}
				if digits >= 13 && luhn(s, groups[g:h+1]) {
					best = h
				}
			}
			if best < 0 {
				continue
			}
			// Mask every digit but the last four.
			total := 0
			for h := g; h <= best; h++ {
				total += groups[h].end - groups[h].start
			}
			keep := 4
			var b strings.Builder
			b.Grow(groups[best].end - groups[g].start)
			seen := 0
			for p := groups[g].start; p < groups[best].end; p++ {
				c := s[p]
				if isDigit(c) {
					seen++
					if seen <= total-keep {
						c = '*'
					}
				}
				b.WriteByte(c)
			}
			spans = append(spans, span{groups[g].start, groups[best].end, b.String()})
			for h := g; h <= best; h++ {
				groups[h].masked = true
			}
			hits++
			g = best
		}

		markMoneyAndDates(groups)

		// Phones: maximal stretches of unmasked groups.
		for g := 0; g < len(groups); {
			if groups[g].masked || groups[g].money {
				g++
				continue
			}
			h := g
			for h+1 < len(groups) && !groups[h+1].masked && !groups[h+1].money && !strings.ContainsAny(groups[h+1].sep, "/,") {
				h++
			}
			start := groups[g].start
			if g == 0 {
				start = lead
			}
			if isPhone(s, start, groups[g:h+1]) {
				end := groups[h].end
				spans = append(spans, span{start, end, "[phone]"})
				hits++
			}
			g = h + 1
		}
		i = runEnd
	}
	if len(spans) == 0 {
		return s, 0
	}
	// Cards are found before phones, so spans are not in text order.
	sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for _, sp := range spans {
		if sp.start < last { // spans never overlap; be safe anyway
			continue
		}
		b.WriteString(s[last:sp.start])
		b.WriteString(sp.repl)
		last = sp.end
	}
	b.WriteString(s[last:])
	return b.String(), hits
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isRunSep(c byte) bool {
	return c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '/' || c == ','
}

// luhn checks the Luhn sum of the digits of groups.
func luhn(s string, groups []digitGroup) bool {
	sum, double := 0, false
	for g := len(groups) - 1; g >= 0; g-- {
		for p := groups[g].end - 1; p >= groups[g].start; p-- {
			d := int(s[p] - '0')
			if double {
				d *= 2
				if d > 9 {
					d -= 9
				}
			}
			sum += d
			double = !double
		}
	}
	return sum%10 == 0
}

// markMoneyAndDates marks groups that are amounts (12.50, 1,234.56) or dates
// (12/03/2024, 2024-03-12, 12.03.24), which are never phone numbers.
func markMoneyAndDates(groups []digitGroup) {
	n := func(g int) int { return groups[g].end - groups[g].start }
	for g := 1; g < len(groups); g++ {
		sep := groups[g].sep
		// x.yy or x,yy at the end of a number: cents
		if (sep == "." || sep == ",") && n(g) == 2 && (g+1 == len(groups) || groups[g+1].sep != sep) {
			groups[g].money, groups[g-1].money = true, true
			// and its thousands groups before it
			for k := g - 1; k > 0 && (groups[k].sep == "," || groups[k].sep == ".") && n(k) == 3; k-- {
				groups[k-1].money = true
			}
		}
	}
	for g := 0; g+2 < len(groups); g++ {
		a, b, c := n(g), n(g+1), n(g+2)
		s1, s2 := groups[g+1].sep, groups[g+2].sep
		if s1 != s2 || (s1 != "-" && s1 != "/" && s1 != ".") {
			continue
		}
		if (a == 4 && b <= 2 && c <= 2) || (a <= 2 && b <= 2 && (c == 2 || c == 4)) {
			groups[g].money, groups[g+1].money, groups[g+2].money = true, true, true
		}
	}
}

// isPhone decides whether the groups (with the text from start) are a
// phone number; see the rules in the package documentation.
func isPhone(s string, start int, groups []digitGroup) bool {
	digits := 0
	for _, g := range groups {
		digits += g.end - g.start
	}
	if digits < 7 || digits > 15 {
		return false
	}
	for _, g := range groups[1:] {
		if strings.ContainsAny(g.sep, "/,") {
			return false
		}
	}
	if s[start] == '+' {
		return digits >= 8
	}
	if s[start] == '(' || strings.Contains(groupSeps(groups), "(") {
		return digits >= 9
	}
	if afterPhoneKeyword(s, start) {
		return true
	}
	if digits < 9 || digits > 12 {
		return false
	}
	if len(groups) == 1 {
		// 0123456789: a national number with its trunk prefix.
		return s[groups[0].start] == '0' && digits >= 10 && digits <= 11
	}
	first := groups[0].end - groups[0].start
	if first < 2 || first > 4 {
		return false
	}
	for i, g := range groups {
		if i > 0 && g.sep != " " && g.sep != "-" {
			return false
		}
		if n := g.end - g.start; i > 0 && (n < 3 || n > 5) {
			return false
		}
	}
	return true
}

func groupSeps(groups []digitGroup) string {
	var b strings.Builder
	for _, g := range groups {
		b.WriteString(g.sep)
	}
	return b.String()
}

// afterPhoneKeyword reports whether a phone keyword ("Tel:", "H/P no.")
// ends just before start.
func afterPhoneKeyword(s string, start int) bool {
	from := max(0, start-16)
	before := strings.ToLower(s[from:start])
	before = strings.TrimRight(before, " .:#-\t")
	before = strings.TrimSuffix(before, "no")
	before = strings.TrimRight(before, " .:#-\t")
	for _, k := range phoneKeywords {
		if strings.HasSuffix(before, k) {
			i := len(before) - len(k)
			if i == 0 || !isLetterByte(before[i-1]) {
				return true
			}
		}
	}
	return false
}

func isLetterByte(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

package datapool

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ocrpool/ocrpool/modules/platform/db"
)

func TestMaskText(t *testing.T) {
	tests := []struct {
		name, in, want string
		hits           int
	}{
		{"CardSpaces", "VISA 4111 1111 1111 1111 APPROVED", "VISA **** **** **** 1111 APPROVED", 1},
		{"CardDashes", "card 5500-0000-0000-0004.", "card ****-****-****-0004.", 1},
		{"CardPlain", "PAN:4012888888881881", "PAN:************1881", 1},
		{"Amex15", "AMEX 3782 822463 10005", "AMEX **** ****** *0005", 1},
		{"NotLuhn", "REF 4111 1111 1111 1112", "REF 4111 1111 1111 1112", 0},
		{"CardThenAmount", "4111 1111 1111 1111 12.50", "**** **** **** 1111 12.50", 1},
		{"Email", "mail: jane.doe+r@example.co.uk thanks", "mail: ***@example.co.uk thanks", 1},
		{"EmailNoTLD", "a@b", "a@b", 0},
		{"TwoEmails", "a@x.io,b@y.io", "***@x.io,***@y.io", 2},
		{"PhoneUS", "Call 555-123-4567 today", "Call [phone] today", 1},
		{"PhoneIntl", "TEL +60 12-345 6789", "TEL [phone]", 1},
		{"PhoneParens", "(03) 1234 5678", "[phone]", 1},
		{"PhoneIntlParens", "+1 (555) 123-4567", "[phone]", 1},
		{"PhoneKeyword", "Tel: 7654321", "Tel: [phone]", 1},
		{"PhoneKeywordNo", "TEL NO. 03-7712 3456", "TEL NO. [phone]", 1},
		{"PhoneTrunk", "HP0123456789", "HP[phone]", 1},
		{"PhoneMobileMY", "contact 0123456789", "contact [phone]", 1},
		{"DateISO", "Date: 2024-03-12 10:31", "Date: 2024-03-12 10:31", 0},
		{"DateDMY", "12/03/2024", "12/03/2024", 0},
		{"DateDots", "12.03.2024", "12.03.2024", 0},
		{"Amounts", "2 x 3.50 7.00 TOTAL 1,234.56", "2 x 3.50 7.00 TOTAL 1,234.56", 0},
		{"AmountList", "12.50 13.00 14.00 15.00", "12.50 13.00 14.00 15.00", 0},
		{"Invoice", "INV 20240312", "INV 20240312", 0},
		{"ShortNumbers", "Table 12 Pax 4 Qty 100", "Table 12 Pax 4 Qty 100", 0},
		{"GSTReg", "GST REG 001234567890", "GST REG 001234567890", 0},
		{"Mixed", "jo@ex.com 4111111111111111 +44 20 7946 0958",
			"***@ex.com ************1111 [phone]", 3},
		{"CardAfterStar", "*1111111111112", "**********1112", 1},
		{"CardAfterStars", "REF**4111111111111111 OK", "REF**************1111 OK", 1},
		{"MaskedTailAfterStar", "VISA ****4242 12.50", "VISA ****4242 12.50", 0},
		{"Empty", "", "", 0},
		{"Unicode", "Café — 4111 1111 1111 1111 ✓", "Café — **** **** **** 1111 ✓", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, hits := MaskText(tt.in)
			if got != tt.want || hits != tt.hits {
				t.Fatalf("MaskText(%q) = %q, %d; want %q, %d", tt.in, got, hits, tt.want, tt.hits)
			}
			if again, n := MaskText(got); again != got || n != 0 {
				t.Fatalf("not idempotent: %q → %q (%d hits)", got, again, n)
			}
		})
	}
}

func TestResolvePIIKey(t *testing.T) {
	t.Run("Configured", func(t *testing.T) {
		key, err := resolvePIIKey("a-configured-secret-key", db.Postgres, "")
		if err != nil || string(key) != "a-configured-secret-key" {
			t.Fatalf("got %q, %v", key, err)
		}
	})
	t.Run("ConfiguredTooShort", func(t *testing.T) {
		if _, err := resolvePIIKey("short", db.SQLite, ""); err == nil || !strings.Contains(err.Error(), "at least 16") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("RequiredWithPostgres", func(t *testing.T) {
		_, err := resolvePIIKey("", db.Postgres, "")
		if err == nil || err.Error() != "security.pii_key is required with PostgreSQL (OCRPOOL_SECURITY_PII_KEY)" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("GeneratedWithSQLite", func(t *testing.T) {
		dir := t.TempDir()
		dbPath := filepath.Join(dir, "data", "ocrpool.db")
		k1, err := resolvePIIKey("", db.SQLite, dbPath)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(filepath.Join(dir, "data", PIIKeyFile))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Fatalf("pii.key mode = %o, want 600", got)
		}
		if len(k1) != 64 {
			t.Fatalf("key length = %d, want 64 hex characters", len(k1))
		}
		k2, err := resolvePIIKey("", db.SQLite, dbPath)
		if err != nil || string(k2) != string(k1) {
			t.Fatalf("second start got another key (%v): hashes would change", err)
		}
	})
	t.Run("DamagedFile", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, PIIKeyFile), []byte("x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := resolvePIIKey("", db.SQLite, filepath.Join(dir, "o.db")); err == nil || !strings.Contains(err.Error(), "damaged") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestMaskerHashes(t *testing.T) {
	m := masker{key: []byte("0123456789abcdef0123")}
	other := masker{key: []byte("another-key-entirely")}
	if h := m.userHash("user-1"); !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(h) {
		t.Fatalf("userHash = %q", h)
	}
	if m.userHash("user-1") != m.userHash("user-1") {
		t.Fatal("userHash is not stable")
	}
	if m.userHash("user-1") == other.userHash("user-1") {
		t.Fatal("userHash does not depend on the key")
	}
	if h := m.pathHash("/r/1.jpg"); !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(h) {
		t.Fatalf("pathHash = %q", h)
	}
	if tok := m.expenseToken("exp-9"); !regexp.MustCompile(`^exp_[0-9a-f]{24}$`).MatchString(tok) {
		t.Fatalf("expenseToken = %q", tok)
	}
	pooled := newMasker(m.key)
	for i := 0; i < 3; i++ { // reused states hash like fresh ones
		if pooled.userHash("user-1") != m.userHash("user-1") || pooled.pathHash("/r/1.jpg") != m.pathHash("/r/1.jpg") {
			t.Fatal("pooled HMAC differs from a fresh one")
		}
	}
}

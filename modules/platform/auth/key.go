package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Key prefixes: recognisable in logs and by secret scanners, and they say
// at a glance whether a key reaches production data.
const (
	LivePrefix = "ocp_live_"
	TestPrefix = "ocp_test_"
)

// ProductionEnv is the environment whose keys are ocp_live_.
const ProductionEnv = "production"

// secretLen base62 characters carry 43·log2(62) ≈ 256 bits.
const secretLen = 43

// displayLen is how many characters of the secret the display prefix
// keeps (about 24 of its 256 bits): enough to tell keys apart in a list.
const displayLen = 4

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

var keyPattern = regexp.MustCompile(`^ocp_(live|test)_[0-9A-Za-z]{43}$`)

// KeyPrefixFor is the prefix of keys for environment env.
func KeyPrefixFor(env string) string {
	if env == ProductionEnv {
		return LivePrefix
	}
	return TestPrefix
}

// GenerateKey returns a new random key for environment env.
func GenerateKey(env string) (string, error) {
	// Rejection sampling keeps every character uniform: bytes ≥ 248
	// (4·62) are dropped so that b % 62 is unbiased.
	out := make([]byte, 0, secretLen)
	buf := make([]byte, 64)
	for len(out) < secretLen {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("auth: generating a key: %w", err)
		}
		for _, b := range buf {
			if b < 248 && len(out) < secretLen {
				out = append(out, base62[b%62])
			}
		}
	}
	return KeyPrefixFor(env) + string(out), nil
}

// WellFormed reports whether raw has the shape of an ocrpool key.
func WellFormed(raw string) bool { return keyPattern.MatchString(raw) }

// LooksLikeKey reports whether s contains something shaped like an
// ocrpool key, so that a key pasted where an id belongs is not stored or
// echoed.
func LooksLikeKey(s string) bool {
	return strings.Contains(s, LivePrefix) || strings.Contains(s, TestPrefix)
}

// HashKey is what the api_keys table stores for raw: SHA-256, hex.
func HashKey(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}

// DisplayPrefix is the part of raw that may be shown and stored in clear
// (ocp_live_AbCd): it names a key without revealing it.
func DisplayPrefix(raw string) string {
	n := len(LivePrefix) + displayLen
	if len(raw) < n {
		return raw
	}
	return raw[:n]
}

// ParseExpiry turns "90d", "12h", "2w" or any Go duration into a time
// after now. Empty means no expiry (nil).
func ParseExpiry(s string, now time.Time) (*time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var d time.Duration
	unit := s[len(s)-1]
	if unit == 'd' || unit == 'w' {
		n, err := strconv.Atoi(s[:len(s)-1])
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("expiry %q: want a positive number of days (90d), weeks (2w) or a duration (12h)", s)
		}
		per := 24 * time.Hour
		if unit == 'w' {
			per *= 7
		}
		if n > 100*366 {
			return nil, fmt.Errorf("expiry %q is more than a century", s)
		}
		d = time.Duration(n) * per
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil || d <= 0 {
			return nil, fmt.Errorf("expiry %q: want a positive number of days (90d), weeks (2w) or a duration (12h)", s)
		}
	}
	t := now.Add(d).UTC()
	return &t, nil
}

package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Headers of every delivery. Receivers verify SignatureHeader against
// HMAC-SHA256(secret, TimestampHeader + "." + body) and may refuse stale
// timestamps to stop replays.
const (
	SignatureHeader = "X-Ocrpool-Signature" // "sha256=<hex>"
	TimestampHeader = "X-Ocrpool-Timestamp" // Unix seconds
	EventHeader     = "X-Ocrpool-Event"
	DeliveryHeader  = "X-Ocrpool-Delivery"
)

// Sign returns the SignatureHeader value for body sent at ts.
func Sign(secret string, ts time.Time, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(ts.Unix(), 10)))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a delivery as a receiver would: the signature must match
// and the timestamp must be within tolerance of now.
func Verify(secret, signature, timestamp string, body []byte, now time.Time, tolerance time.Duration) error {
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook: bad %s %q", TimestampHeader, timestamp)
	}
	ts := time.Unix(sec, 0)
	if d := now.Sub(ts); d > tolerance || d < -tolerance {
		return fmt.Errorf("webhook: timestamp %s is outside the %s tolerance", ts.UTC().Format(time.RFC3339), tolerance)
	}
	if !strings.HasPrefix(signature, "sha256=") {
		return fmt.Errorf("webhook: %s must start with sha256=", SignatureHeader)
	}
	want := Sign(secret, ts, body)
	if !hmac.Equal([]byte(want), []byte(signature)) {
		return fmt.Errorf("webhook: signature mismatch")
	}
	return nil
}

package modules

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ocrpool/ocrpool/modules/platform/auth"
)

// The learning loop over HTTP, through the real guard: an app's
// corrections become a pattern set that the OCR role applies to the next
// receipt of the same merchant, announced to it through Redis.
func TestLearningLoop(t *testing.T) {
	app := startApp(t, securityConfig(t), appOpts{})
	c := newClient(t, app)
	appKey := mustKey(t, app.Platform(), auth.RoleApp).Secret
	adminKey := mustKey(t, app.Platform(), auth.RoleAdmin).Secret

	const receipt = "Thanks for riding with us\nTRIP WITH ALEX\nYOUR RIDE TOTAL 12.40\n28/11/2026"
	extract := func() (value, source, patternSet string) {
		t.Helper()
		r := c.do(http.MethodPost, "/ocr/extract", appKey, fmt.Sprintf(`{"text":%q}`, receipt))
		if r.status != http.StatusOK {
			t.Fatalf("POST /ocr/extract = %d %s", r.status, r.body)
		}
		var res struct {
			Fields struct {
				Merchant *struct{ Value, Source string } `json:"merchant"`
			} `json:"fields"`
			Versions struct {
				PatternSet string `json:"pattern_set"`
			} `json:"versions"`
		}
		if err := json.Unmarshal(r.body, &res); err != nil {
			t.Fatal(err)
		}
		if res.Fields.Merchant == nil {
			return "", "", res.Versions.PatternSet
		}
		return res.Fields.Merchant.Value, res.Fields.Merchant.Source, res.Versions.PatternSet
	}
	if v, _, _ := extract(); v == "Uber" {
		t.Fatal("the rules alone already say Uber: the test proves nothing")
	}

	var items []string
	now := time.Now().UTC()
	for i := 0; i < 12; i++ {
		for _, m := range []struct{ merchant, text, category string }{
			{"Uber", "Thanks for riding with us\nTRIP WITH DRIVER %d\nYOUR RIDE TOTAL %d.40", "transport"},
			{"Starbucks", "STARBUCKS STORE %d\nGRANDE LATTE\nTOTAL %d.10", "meals"},
		} {
			item, _ := json.Marshal(map[string]any{
				"source_app": "expenseapp", "source_environment": "sandbox", "source_correction_id": uuid.NewString(),
				"user_id": fmt.Sprintf("user-%d", i), "ocr_provider": "tesseract",
				"ocr_text":           fmt.Sprintf(m.text, i, 10+i),
				"original_inference": map[string]any{"merchant": "UNKNOWN", "amount": fmt.Sprintf("%d.40", 10+i)},
				"corrected_fields":   map[string]any{"merchant": m.merchant, "amount": fmt.Sprintf("%d.40", 10+i), "category": m.category},
				"created_at":         now.Add(-time.Duration(i) * time.Minute).Format(time.RFC3339),
			})
			items = append(items, string(item))
		}
	}
	r := c.do(http.MethodPost, "/corrections/ingest", appKey, `{"corrections":[`+strings.Join(items, ",")+`]}`)
	if r.status >= 300 && r.status != http.StatusMultiStatus {
		t.Fatalf("ingest = %d %s", r.status, r.body)
	}
	if r := c.do(http.MethodPost, "/patterns/refresh", appKey, ""); r.status != http.StatusForbidden {
		t.Fatalf("refresh with an app key = %d, want 403", r.status)
	}
	r = c.do(http.MethodPost, "/patterns/refresh", adminKey, "")
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"activated":true`) {
		t.Fatalf("refresh = %d %s", r.status, r.body)
	}

	deadline := time.Now().Add(5 * time.Second)
	for {
		value, source, set := extract()
		if value == "Uber" {
			if !strings.HasPrefix(source, "pattern:v1:") || set != "v1" {
				t.Fatalf("merchant Uber from %q with pattern set %q, want a v1 pattern", source, set)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the OCR role never applied v1: merchant %q from %q (pattern set %q)", value, source, set)
		}
		time.Sleep(50 * time.Millisecond)
	}
	r = c.do(http.MethodGet, "/readyz", "", "")
	if !strings.Contains(string(r.body), `"version":"v1"`) {
		t.Fatalf("/readyz does not report the pattern set in use: %s", r.body)
	}
}

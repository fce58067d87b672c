package ocr

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/ocrpool/ocrpool/modules/ocr/extract"
	"github.com/ocrpool/ocrpool/modules/platform/apierr"
)

func TestBucket(t *testing.T) {
	t.Parallel()
	under := 0
	const n = 20000
	for i := range n {
		k := fmt.Sprintf("user-%d", i)
		b := Bucket(k)
		if b < 0 || b > 99 || Bucket(k) != b {
			t.Fatalf("Bucket(%q) = %d, then %d", k, b, Bucket(k))
		}
		if b < 20 {
			under++
		}
	}
	// 20 % of keys, within a few standard deviations (≈ 0.3 %).
	if share := float64(under) / n; share < 0.185 || share > 0.215 {
		t.Errorf("%.3f of keys under 20, want about 0.20", share)
	}
}

func TestRoutingValidate(t *testing.T) {
	t.Parallel()
	cand := &Release{Name: "r2", PatternSet: "v9"}
	tests := []struct {
		name  string
		r     Routing
		field string // "" = valid
	}{
		{"default", DefaultRouting(), ""},
		{"canary", Routing{Stable: Release{Name: "r1"}, Candidate: cand, Percent: 5}, ""},
		{"candidate staged at 0 %", Routing{Stable: Release{Name: "r1"}, Candidate: cand}, ""},
		{"no stable name", Routing{Candidate: cand, Percent: 5}, "stable.name"},
		{"percent over 100", Routing{Stable: Release{Name: "r1"}, Candidate: cand, Percent: 101}, "percent"},
		{"negative percent", Routing{Stable: Release{Name: "r1"}, Candidate: cand, Percent: -1}, "percent"},
		{"percent without candidate", Routing{Stable: Release{Name: "r1"}, Percent: 5}, "candidate"},
		{"candidate without name", Routing{Stable: Release{Name: "r1"}, Candidate: &Release{}, Percent: 5}, "candidate.name"},
		{"same names", Routing{Stable: Release{Name: "r2"}, Candidate: cand, Percent: 5}, "candidate.name"},
		{"long version", Routing{Stable: Release{Name: "r1", PatternSet: strings.Repeat("v", 65)}}, "stable.pattern_set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.r.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var ae *apierr.Error
			if !apierrAs(err, &ae) || ae.Code != apierr.Invalid || ae.Field != tt.field {
				t.Fatalf("Validate = %v, want Invalid on %s", err, tt.field)
			}
		})
	}
}

func apierrAs(err error, target **apierr.Error) bool {
	if e, ok := err.(*apierr.Error); ok {
		*target = e
		return true
	}
	return false
}

// TestRoutingCanary routes /ocr/extract requests between the stable release
// (following the active pattern set) and a candidate pinned to another
// version, by routing key, through the HTTP routes.
func TestRoutingCanary(t *testing.T) {
	env := newTestEnv(t, testConfig(), &fakeEngine{text: receiptText}, nil)
	svc := env.mod.Service()
	svc.SetPatterns(fixedPatterns{"v1"})
	loads := 0
	svc.SetVersionLoader(func(_ context.Context, v string) (extract.Patterns, error) {
		loads++
		if v == "v404" {
			return nil, apierr.New(apierr.NotFound, "no pattern set %s", v)
		}
		return fixedPatterns{v}, nil
	})

	put := func(body string) (int, string) {
		w, _, _ := env.do(t, http.MethodPut, "/ocr/v2/routing", strings.NewReader(body), "application/json")
		return w.Code, w.Body.String()
	}
	if code, body := put(`{"stable":{"name":"r1"},"candidate":{"name":"r2","pattern_set":"v9"},"percent":30}`); code != 200 {
		t.Fatalf("PUT routing: %d %s", code, body)
	}
	if loads != 1 {
		t.Errorf("pinned sets loaded %d times, want 1", loads)
	}
	extractAs := func(key string) Result {
		t.Helper()
		body, _ := json.Marshal(map[string]string{"text": receiptText, "routing_key": key})
		w, res, _ := env.do(t, http.MethodPost, "/ocr/extract", strings.NewReader(string(body)), "application/json")
		if w.Code != 200 {
			t.Fatalf("extract: %d %s", w.Code, w.Body)
		}
		return res
	}
	candidates := 0
	for i := range 200 {
		key := fmt.Sprintf("user-%d", i)
		res := extractAs(key)
		want, wantSet := "r1", "v1"
		if Bucket(key) < 30 {
			want, wantSet = "r2", "v9"
			candidates++
		}
		if res.Versions.Release != want || res.Versions.PatternSet != wantSet {
			t.Fatalf("key %s (bucket %d): release %s with %s, want %s with %s", key, Bucket(key),
				res.Versions.Release, res.Versions.PatternSet, want, wantSet)
		}
		if again := extractAs(key); again.Versions.Release != want {
			t.Fatalf("key %s moved to %s", key, again.Versions.Release)
		}
	}
	if candidates == 0 || candidates == 200 {
		t.Fatalf("%d of 200 keys on the candidate", candidates)
	}
	if res := extractAs(""); res.Versions.Release != "r1" {
		t.Errorf("no routing key went to %s, want the stable release", res.Versions.Release)
	}
	// The stable release follows the active set.
	svc.SetPatterns(fixedPatterns{"v2"})
	for i := range 50 {
		if key := fmt.Sprintf("user-%d", i); Bucket(key) >= 30 {
			if res := extractAs(key); res.Versions.PatternSet != "v2" {
				t.Fatalf("stable release applies %s after activation of v2", res.Versions.PatternSet)
			}
			break
		}
	}

	// Bad requests change nothing.
	before := svc.Routing()
	for _, tt := range []struct {
		body string
		code int
	}{
		{`{"stable":{"name":"r1"},"candidate":{"name":"r3","pattern_set":"v404"},"percent":50}`, 404},
		{`{"stable":{"name":"r1"},"percent":50}`, 400},
		{`{"stable":{"name":"r1"},"percent":"50"}`, 400},
		{`{"stable":{"name":"r1"},"surprise":1}`, 400},
		{`not json`, 400},
	} {
		if code, body := put(tt.body); code != tt.code {
			t.Errorf("PUT %s: %d %s, want %d", tt.body, code, body, tt.code)
		}
		if got := svc.Routing(); fmt.Sprint(got) != fmt.Sprint(before) {
			t.Fatalf("PUT %s changed the routing to %+v", tt.body, got)
		}
	}
	w, _, _ := env.do(t, http.MethodGet, "/ocr/v2/routing", nil, "")
	var got Routing
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got.Percent != 30 || got.Candidate == nil || got.Candidate.Name != "r2" {
		t.Fatalf("GET routing: %d %s", w.Code, w.Body)
	}
}

// TestRoutingOutcomes: each outcome names the release that served it.
func TestRoutingOutcomes(t *testing.T) {
	c := testRedis(t)
	env := newTestEnv(t, testConfig(), &fakeEngine{text: receiptText}, c)
	svc := env.mod.Service()
	if err := svc.SetRouting(context.Background(), Routing{Stable: Release{Name: "r1"}, Candidate: &Release{Name: "r2"}, Percent: 100}); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"alice", ""} {
		if _, err := svc.Extract(context.Background(), receiptText, Options{RoutingKey: key}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.Extract(context.Background(), "", Options{RoutingKey: "bob"}); err == nil {
		t.Fatal("empty text accepted")
	}
	if err := svc.outcomes.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Client.XRange(context.Background(), c.Key("ocr", "outcomes"), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var releases []string
	for _, m := range msgs {
		releases = append(releases, fmt.Sprint(m.Values["release"], "/", m.Values["success"]))
	}
	slices.Sort(releases) // published from a queue: any order
	if want := []string{"r1/true", "r2/false", "r2/true"}; fmt.Sprint(releases) != fmt.Sprint(want) {
		t.Errorf("outcome releases %v, want %v", releases, want)
	}
}

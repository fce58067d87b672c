package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ocrpool/ocrpool/modules/platform/testenv"
)

var keyRe = regexp.MustCompile(`ocp_(live|test)_[A-Za-z0-9_-]+`)

// TestSplitRoles runs the data pool, training and OCR roles as three
// processes of the real binary sharing PostgreSQL and Redis, the way they
// run in production: the OCR process reaches the data pool over HTTP with a
// training_service key, corrections sent to one process teach the other,
// and both stop cleanly on SIGTERM. Split roles cannot share the embedded
// SQLite database, so this needs OCRPOOL_TEST_DATABASE_URL (CI sets it).
func TestSplitRoles(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two processes")
	}
	db := testenv.DBConfig(t)
	if db.URL == "" {
		t.Skip("split roles need PostgreSQL: set " + testenv.DatabaseURLEnv)
	}
	rd := testenv.RedisConfig(t)
	env := []string{
		"OCRPOOL_DATABASE_URL=" + db.URL,
		"OCRPOOL_REDIS_URL=" + rd.URL,
		"OCRPOOL_REDIS_KEY_PREFIX=" + rd.KeyPrefix,
		"OCRPOOL_SECURITY_PII_KEY=test-pii-key-0123456789abcdef",
		"OCRPOOL_SERVER_SHUTDOWN_TIMEOUT=5s",
		"OCRPOOL_OCR_POOL_SIZE=1",
	}
	run := func(args ...string) string {
		t.Helper()
		out, err := ocrpool(t, env, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ocrpool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("migrate", "up")
	key := func(role, app string) string {
		t.Helper()
		k := keyRe.FindString(run("keys", "create", "--role", role, "--app", app, "--env", "sandbox"))
		if k == "" {
			t.Fatalf("keys create --role %s printed no key", role)
		}
		return k
	}
	admin, service, app := key("admin", "ops"), key("training_service", "ocrpool"), key("app", "expenseapp")

	poolAddr, trainAddr, ocrAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	peers := []string{"OCRPOOL_PEERS_DATAPOOL_URL=http://" + poolAddr, "OCRPOOL_PEERS_TRAINING_URL=http://" + trainAddr,
		"OCRPOOL_PEERS_OCR_URL=http://" + ocrAddr, "OCRPOOL_PEERS_SERVICE_KEY=" + service}
	serve := func(addr, roles string) *served {
		return startServe(t, append(append([]string{"OCRPOOL_SERVER_ADDR=" + addr}, env...), peers...), "--roles="+roles)
	}
	pool := serve(poolAddr, "datapool")
	train := serve(trainAddr, "training")
	ocr := serve(ocrAddr, "ocr")

	call := func(addr, method, path, key, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	// Each process serves only its own role's routes.
	if code, _ := call(ocrAddr, http.MethodPost, "/corrections/ingest", app, `{}`); code != http.StatusNotFound {
		t.Errorf("the OCR process answers /corrections/ingest with %d, want 404", code)
	}
	if code, _ := call(poolAddr, http.MethodPost, "/ocr/extract", app, `{"text":"x"}`); code != http.StatusNotFound {
		t.Errorf("the data pool process answers /ocr/extract with %d, want 404", code)
	}

	// 12 corrections: a fifth of them (by id) are held out to validate on,
	// and at least 3 must remain to learn from.
	for i := range 12 {
		body, _ := json.Marshal(map[string]any{
			"source_app": "expenseapp", "source_environment": "sandbox", "source_correction_id": uuid.NewString(),
			"user_id": fmt.Sprintf("user-%d", i), "ocr_provider": "tesseract", "ocr_confidence": 0.9,
			"ocr_text":           fmt.Sprintf("QWZX %d\nTRIP WITH DRIVER %d\nFARE %d.50\n2026-11-1%d", i, i, 10+i, i%10),
			"original_inference": map[string]string{"merchant": "QWZX"},
			"corrected_fields":   map[string]string{"merchant": "Rideshare Kings", "amount": fmt.Sprintf("%d.50", 10+i), "date": fmt.Sprintf("2026-11-1%d", i%10)},
		})
		if code, b := call(poolAddr, http.MethodPost, "/corrections/ingest", app, string(body)); code != http.StatusCreated {
			t.Fatalf("ingest: %d %s", code, b)
		}
	}
	if code, b := call(poolAddr, http.MethodPost, "/patterns/refresh", admin, ``); code != http.StatusOK || !strings.Contains(b, `"activated":true`) {
		t.Fatalf("refresh: %d %s", code, b)
	}

	// The OCR process hears of the activation on Redis and applies it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, b := call(ocrAddr, http.MethodPost, "/ocr/extract", app, `{"text":"ZZQX 7\nTRIP WITH SAM\nFARE 9.50\n2026-11-25"}`)
		if code != http.StatusOK {
			t.Fatalf("extract: %d %s", code, b)
		}
		var res struct {
			Fields struct {
				Merchant *struct{ Value, Source string } `json:"merchant"`
			} `json:"fields"`
			Versions struct {
				PatternSet string `json:"pattern_set"`
			} `json:"versions"`
		}
		if err := json.Unmarshal([]byte(b), &res); err != nil {
			t.Fatal(err)
		}
		if m := res.Fields.Merchant; m != nil && m.Value == "Rideshare Kings" && strings.HasPrefix(m.Source, "pattern:v1:") && res.Versions.PatternSet == "v1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the OCR process did not apply v1 within 10 s: %s\ndata pool log:\n%s\nocr log:\n%s", b, pool.out, ocr.out)
		}
		time.Sleep(100 * time.Millisecond)
	}

	for _, p := range []*served{ocr, train, pool} {
		p.stop(t)
	}
}

type served struct {
	out    *testenv.Buffer
	signal func(syscall.Signal) error
	exited chan error
}

// startServe starts `ocrpool serve` with env and args and waits for its
// /healthz; the process is killed at the end of the test if still running.
func startServe(t *testing.T, env []string, args ...string) *served {
	t.Helper()
	addr := ""
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "OCRPOOL_SERVER_ADDR="); ok {
			addr = v
		}
	}
	out := &testenv.Buffer{}
	cmd := ocrpool(t, env, append([]string{"serve"}, args...)...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &served{out: out, exited: make(chan error, 1),
		signal: func(sig syscall.Signal) error { return cmd.Process.Signal(sig) }}
	go func() { s.exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case err := <-s.exited:
			t.Fatalf("ocrpool serve %s exited early (%v):\n%s", strings.Join(args, " "), err, out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("ocrpool serve %s: no /healthz within 30 s:\n%s", strings.Join(args, " "), out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM and requires exit status 0 within 10 s.
func (s *served) stop(t *testing.T) {
	t.Helper()
	if err := s.signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.exited:
		if err != nil {
			t.Errorf("exit after SIGTERM = %v, want 0:\n%s", err, s.out)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("still running 10 s after SIGTERM:\n%s", s.out)
	}
}

package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocrpool/ocrpool/modules/platform/testenv"
)

// The test binary doubles as the ocrpool binary: started with
// OCRPOOL_TEST_MAIN=1 it runs main, so the tests below exercise the real
// process (signals, exit codes) without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("OCRPOOL_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func ocrpool(t *testing.T, env []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "OCRPOOL_TEST_MAIN=1"), env...)
	cmd.Dir = t.TempDir()
	return cmd
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestBadInvocationExitsNonZero(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--roles=bogus"}, `unknown role "bogus"`},
		{[]string{"serve", "--nope"}, "unknown flag: --nope"},
		{[]string{"--config", "/nonexistent.yaml", "serve"}, "/nonexistent.yaml"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stderr bytes.Buffer
			cmd := ocrpool(t, nil, tt.args...)
			cmd.Stderr = &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() == 0 {
				t.Fatalf("exit = %v, want non-zero", err)
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], tt.want) {
				t.Fatalf("stderr = %q, want one line naming %q", stderr.String(), tt.want)
			}
		})
	}
}

// serve --migrate on embedded defaults answers /healthz, and SIGTERM makes
// it exit 0 within server.shutdown_timeout.
func TestServeThenSIGTERM(t *testing.T) {
	addr := freeAddr(t)
	db := testenv.DBConfig(t)
	rd := testenv.RedisConfig(t)
	var out bytes.Buffer
	cmd := ocrpool(t, []string{
		"OCRPOOL_SERVER_ADDR=" + addr,
		"OCRPOOL_SERVER_SHUTDOWN_TIMEOUT=5s",
		"OCRPOOL_DATABASE_URL=" + db.URL,
		"OCRPOOL_DATABASE_PATH=" + db.Path,
		"OCRPOOL_REDIS_URL=" + rd.URL,
		"OCRPOOL_REDIS_KEY_PREFIX=" + rd.KeyPrefix,
		"OCRPOOL_SECURITY_PII_KEY=test-pii-key-0123456789abcdef",
	}, "serve", "--migrate")
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(fmt.Sprintf("http://%s/healthz", addr))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("ocrpool exited early (%v):\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("no /healthz within 20s:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM = %v, want 0:\n%s", err, out.String())
		}
	case <-time.After(6 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("still running 6s after SIGTERM:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "ocrpool stopped") {
		t.Errorf("no orderly shutdown in the log:\n%s", out.String())
	}
}

package ocr_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ocrpool/ocrpool/config"
	"github.com/ocrpool/ocrpool/modules/ocr"
	"github.com/ocrpool/ocrpool/modules/ocr/eval"
	"github.com/ocrpool/ocrpool/modules/platform/server"
)

// The benchmarks are an external test package: they use the module only
// through what it exports, as `serve` does, and may import eval (which
// imports ocr).

func benchModule(b *testing.B, cfg config.OCRConfig) (*ocr.Module, http.Handler) {
	b.Helper()
	log := slog.New(slog.DiscardHandler)
	m, err := ocr.New(cfg, ocr.Deps{Log: log, Metrics: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Stop(context.Background()) })
	scfg := config.Default().Server
	srv, err := server.New(scfg, server.Deps{Log: log, Registry: prometheus.NewRegistry(),
		Guard: func(server.Route) []gin.HandlerFunc { return nil }})
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Mount(m.Routes()...); err != nil {
		b.Fatal(err)
	}
	return m, srv.Handler()
}

func multipartBody(b *testing.B, image []byte) ([]byte, string) {
	b.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	fw, err := w.CreateFormFile("image", "receipt.jpg")
	if err != nil {
		b.Fatal(err)
	}
	_, _ = fw.Write(image)
	_ = w.WriteField("app", "bench")
	_ = w.Close()
	return buf.Bytes(), w.FormDataContentType()
}

// benchSamples returns the dev receipts (OCRPOOL_BENCH_RECEIPTS of them,
// default 20), or skips.
func benchSamples(b *testing.B) []eval.Sample {
	b.Helper()
	dir, ok := eval.FindDevSet()
	if !ok {
		b.Skipf("no %s above this folder: the SROIE benchmarks need the dev receipts", eval.DevSetPath)
	}
	n := 20
	if v, err := strconv.Atoi(os.Getenv("OCRPOOL_BENCH_RECEIPTS")); err == nil && v > 0 {
		n = v
	}
	s, err := eval.Load(dir, n)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func readAll(b *testing.B, samples []eval.Sample) [][]byte {
	b.Helper()
	out := make([][]byte, len(samples))
	for i, s := range samples {
		var err error
		if out[i], err = os.ReadFile(s.Image); err != nil {
			b.Fatal(err)
		}
	}
	return out
}

// BenchmarkProcessVsTesseractCLI is the per-receipt latency of POST
// /ocr/process in this process (multipart body, gin, decode, the eight
// steps, Tesseract, extraction, JSON) next to `tesseract IMG stdout` with
// OMP_THREAD_LIMIT=1 on the same image, alternating receipt by receipt so
// both see the same machine load. ratio = handler / cli; goal ≤ 1.3.
func BenchmarkProcessVsTesseractCLI(b *testing.B) {
	samples := benchSamples(b)
	bin, err := exec.LookPath("tesseract")
	if err != nil {
		b.Skip("no tesseract command")
	}
	images := readAll(b, samples)
	cfg := config.Default().OCR
	cfg.PoolSize = 1
	_, h := benchModule(b, cfg)
	bodies := make([][]byte, len(images))
	types := make([]string, len(images))
	for i, img := range images {
		bodies[i], types[i] = multipartBody(b, img)
	}
	var handler, cli time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k, s := range samples {
			start := time.Now()
			req := httptest.NewRequest(http.MethodPost, "/ocr/process", bytes.NewReader(bodies[k]))
			req.Header.Set("Content-Type", types[k])
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			handler += time.Since(start)
			if w.Code != http.StatusOK {
				b.Fatalf("%s: %d %s", s.Stem, w.Code, w.Body)
			}
			cmd := exec.Command(bin, s.Image, "stdout")
			cmd.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1")
			start = time.Now()
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("tesseract %s: %v: %s", s.Image, err, out)
			}
			cli += time.Since(start)
		}
	}
	b.StopTimer()
	n := float64(b.N * len(samples))
	b.ReportMetric(float64(handler.Milliseconds())/n, "handler-ms/receipt")
	b.ReportMetric(float64(cli.Milliseconds())/n, "cli-ms/receipt")
	b.ReportMetric(float64(handler)/float64(cli), "ratio")
}

// BenchmarkPoolThroughput processes the same receipts with one Tesseract
// client and one worker, and with two of each, and reports receipts per
// second and their ratio (goal ≥ 1.7 on 2 cores). On a shared machine the
// second core may be busy with other work, so the same run also measures
// the machine itself: `tesseract IMG stdout` one process at a time, then
// two at a time (cli-ratio). ratio close to cli-ratio means the pool scales
// as far as the machine lets it.
func BenchmarkPoolThroughput(b *testing.B) {
	samples := benchSamples(b)
	images := readAll(b, samples)
	bin, err := exec.LookPath("tesseract")
	if err != nil {
		b.Skip("no tesseract command")
	}
	svcs := map[int]*ocr.Service{}
	for _, workers := range []int{1, 2} {
		cfg := config.Default().OCR
		cfg.PoolSize = workers
		m, _ := benchModule(b, cfg)
		svcs[workers] = m.Service()
	}
	// parallel runs do(i) for the receipts idx with workers goroutines.
	parallel := func(idx []int, workers int, do func(i int) error) time.Duration {
		start := time.Now()
		jobs := make(chan int)
		errs := make(chan error, len(idx))
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range jobs {
					if err := do(i); err != nil {
						errs <- err
					}
				}
			}()
		}
		for _, i := range idx {
			jobs <- i
		}
		close(jobs)
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	cli := func(i int) error {
		cmd := exec.Command(bin, samples[i].Image, "stdout")
		cmd.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("tesseract %s: %v: %s", samples[i].Image, err, out)
		}
		return nil
	}
	// Each way runs the whole stream of receipts, so a worker waits for the
	// other only at the stream's end, as a server under steady load would
	// not at all; the order of the four ways turns every round, so a change
	// in the machine's load does not always hit the same one.
	all := make([]int, len(samples))
	for i := range all {
		all[i] = i
	}
	ways := []struct {
		name    string
		workers int
		do      func(i int) error
	}{
		{"pool1", 1, func(i int) error {
			_, err := svcs[1].Process(context.Background(), images[i], ocr.Options{})
			return err
		}},
		{"pool2", 2, func(i int) error {
			_, err := svcs[2].Process(context.Background(), images[i], ocr.Options{})
			return err
		}},
		{"cli1", 1, cli},
		{"cli2", 2, cli},
	}
	elapsed := map[string]time.Duration{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k := range ways {
			w := ways[(i+k)%len(ways)]
			elapsed[w.name] += parallel(all, w.workers, w.do)
		}
	}
	b.StopTimer()
	rate := func(k string) float64 { return float64(b.N*len(images)) / elapsed[k].Seconds() }
	b.ReportMetric(rate("pool1"), "receipts/s-1worker")
	b.ReportMetric(rate("pool2"), "receipts/s-2workers")
	b.ReportMetric(rate("pool2")/rate("pool1"), "ratio")
	b.ReportMetric(rate("cli2")/rate("cli1"), "cli-ratio")
}

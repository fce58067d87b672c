//go:build !notesseract

package engine

import (
	"context"
	"errors"
	"image"
	"image/color"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocrpool/ocrpool/modules/ocr/synth"
)

func newPool(t *testing.T, size int) *Pool {
	t.Helper()
	p, err := New(Config{Language: "eng", PSM: 6, DPI: 300, PoolSize: size})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func render(t *testing.T, seed uint64, o synth.Options) (synth.Receipt, *image.Gray) {
	t.Helper()
	r := synth.Random(seed)
	img, err := synth.Render(r, o)
	if err != nil {
		t.Fatal(err)
	}
	return r, img
}

func TestRecognizeSyntheticReceipt(t *testing.T) {
	p := newPool(t, 1)
	r, img := render(t, 7, synth.Options{FontSize: 28})
	txt, err := p.Recognize(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{r.Merchant, r.Date, r.Total} {
		if !strings.Contains(txt.Text, want) {
			t.Errorf("OCR text lacks %q:\n%s", want, txt.Text)
		}
	}
	if txt.Confidence < 0.5 || txt.Confidence > 1 {
		t.Errorf("confidence %v on clean print, want 0.5..1", txt.Confidence)
	}
	if !strings.HasPrefix(p.Version(), "tesseract ") || !strings.Contains(p.Version(), "psm6") {
		t.Errorf("Version() = %q", p.Version())
	}
}

// The encodings Leptonica reads back: PBM for black and white, PGM for
// gray, PPM for colour. Each must come out as the same text.
func TestRecognizeEncodings(t *testing.T) {
	p := newPool(t, 1)
	r, gray := render(t, 8, synth.Options{FontSize: 28})
	bw := image.NewGray(gray.Rect)
	col := image.NewRGBA(gray.Rect)
	for i, v := range gray.Pix {
		if v >= 128 {
			bw.Pix[i] = 255
		}
		col.Set(i%gray.Stride, i/gray.Stride, color.RGBA{v, v, 255, 255}) // bluish paper
	}
	for name, img := range map[string]image.Image{"pbm": bw, "pgm": gray, "ppm": col} {
		txt, err := p.Recognize(context.Background(), img)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !strings.Contains(txt.Text, r.Total) {
			t.Errorf("%s: OCR text lacks the total %q:\n%s", name, r.Total, txt.Text)
		}
	}
	if _, err := p.Recognize(context.Background(), image.NewGray(image.Rect(0, 0, 0, 0))); err == nil {
		t.Error("Recognize of an empty image succeeded")
	}
}

// Many goroutines share a pool of two clients; run with -race.
func TestPoolConcurrent(t *testing.T) {
	p := newPool(t, 2)
	var imgs []*image.Gray
	var totals []string
	for seed := uint64(20); seed < 23; seed++ {
		r, img := render(t, seed, synth.Options{FontSize: 24})
		imgs, totals = append(imgs, img), append(totals, r.Total)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			txt, err := p.Recognize(context.Background(), imgs[g%len(imgs)])
			if err == nil && !strings.Contains(txt.Text, totals[g%len(imgs)]) {
				err = errors.New("text of another image, or none: " + txt.Text)
			}
			errs <- err
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestRecognizeWaitsForAClientUntilCtxEnds(t *testing.T) {
	var waited []time.Duration
	var mu sync.Mutex
	p, err := New(Config{PoolSize: 1, OnWait: func(d time.Duration) { mu.Lock(); waited = append(waited, d); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c := <-p.clients // hold the only client
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, img := render(t, 1, synth.Options{FontSize: 20})
	if _, err := p.Recognize(ctx, img); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Recognize with no free client = %v, want DeadlineExceeded", err)
	}
	p.clients <- c
	if _, err := p.Recognize(context.Background(), img); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(waited) != 1 {
		t.Errorf("OnWait called %d times, want once (for the recognition that ran)", len(waited))
	}
}

func TestNewFailsOnMissingLanguage(t *testing.T) {
	_, err := New(Config{Language: "xxx", PoolSize: 1})
	if err == nil || !strings.Contains(err.Error(), `"xxx"`) {
		t.Fatalf("New with an unknown language = %v, want an error naming it", err)
	}
}

// Tesseract runs single-threaded whatever OMP_THREAD_LIMIT was at start:
// the CPU time of a recognition is about its wall time.
func TestRecognizeIsSingleThreaded(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test")
	}
	p := newPool(t, 1)
	_, img := render(t, 3, synth.Options{FontSize: 24})
	wall, cpu := measure(t, func() {
		if _, err := p.Recognize(context.Background(), img); err != nil {
			t.Fatal(err)
		}
	})
	if cpu > wall*13/10+20*time.Millisecond {
		t.Errorf("one recognition used %v of CPU in %v: Tesseract ran on several threads", cpu, wall)
	}
}

func TestAssemble(t *testing.T) {
	got := assemble([]word{
		{"SHOP", 90, 1, 1, 1}, {"NAME", 80, 1, 1, 1},
		{"TOTAL", 95, 1, 1, 2}, {"9.50", 60, 1, 1, 2},
		{"THANKS", 70, 2, 1, 1},
	})
	if want := "SHOP NAME\nTOTAL 9.50\n\nTHANKS"; got.Text != want {
		t.Errorf("text %q, want %q", got.Text, want)
	}
	// (4·90 + 4·80 + 5·95 + 4·60 + 6·70) / 23 / 100
	if want := 0.78913; got.Confidence < want-1e-4 || got.Confidence > want+1e-4 {
		t.Errorf("confidence %v, want %v", got.Confidence, want)
	}
	if z := assemble(nil); z.Text != "" || z.Confidence != 0 {
		t.Errorf("no words: %+v", z)
	}
}

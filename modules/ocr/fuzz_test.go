package ocr

import (
	"context"
	"testing"

	"github.com/ocrpool/ocrpool/modules/ocr/synth"
	"github.com/ocrpool/ocrpool/modules/platform/apierr"
)

// FuzzProcess sends arbitrary bytes through Process (decode, every
// preprocessing step, a fake OCR, extraction): hostile images get a 4xx,
// never a panic or a 500.
func FuzzProcess(f *testing.F) {
	_, img := renderReceipt(f, 5, synth.Options{FontSize: 9, Rotate: 3, Noise: 8})
	p, j := pngOf(f, img), jpegOf(f, img)
	f.Add(p)
	f.Add(j)
	f.Add(p[:len(p)/2])
	f.Add(j[:100])
	f.Add(pngBomb(100000, 100000))
	f.Add(pngBomb(20, 20))
	f.Add([]byte("II*\x00\x08\x00\x00\x00"))
	f.Add([]byte("%PDF-1.7"))
	cfg := testConfig()
	cfg.MaxImagePixels = 1 << 17 // small, so the fuzzer explores quickly
	cfg.Preprocess.Binarize = true
	env := newTestEnv(f, cfg, &fakeEngine{text: receiptText}, nil)
	svc := env.mod.Service()
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := svc.Process(context.Background(), data, Options{})
		if err != nil {
			if s := apierr.Status(apierr.CodeOf(err)); s < 400 || s >= 500 {
				t.Fatalf("Process error %v has status %d, want 4xx", err, s)
			}
			return
		}
		if res.TimingsMS["total"] <= 0 {
			t.Fatalf("no total timing: %v", res.TimingsMS)
		}
	})
}

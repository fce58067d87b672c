package ocr

import (
	"context"
	"strings"
	"testing"

	"github.com/ocrpool/ocrpool/config"
	"github.com/ocrpool/ocrpool/modules/ocr/engine"
	"github.com/ocrpool/ocrpool/modules/ocr/synth"
)

// Synthetic receipts, drawn in the test with the distortions of a phone
// photo, go through the real pipeline and the real Tesseract: the drawn
// total, date and merchant must come out in the text.
func TestProcessSyntheticReceipts(t *testing.T) {
	pool, err := engine.New(engine.Config{Language: "eng", PSM: 6, DPI: 300, PoolSize: 2})
	if err != nil {
		t.Skipf("no Tesseract: %v", err)
	}
	env := newTestEnv(t, config.Default().OCR, pool, nil)
	svc := env.mod.Service()
	tests := []struct {
		name string
		o    synth.Options
		jpeg bool
	}{
		{"clean", synth.Options{FontSize: 26}, false},
		{"small print", synth.Options{FontSize: 13}, false},
		{"turned 4 degrees with noise", synth.Options{FontSize: 24, Rotate: 4, Noise: 14, Seed: 1}, true},
		{"turned -6 degrees, blurred", synth.Options{FontSize: 26, Rotate: -6, Blur: 1, Seed: 2}, true},
		{"faded ink, speckled, scanner border", synth.Options{FontSize: 24, Ink: 120, Paper: 225, Speckle: 0.003, Border: 30, Seed: 3}, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, img := renderReceipt(t, uint64(100+i), tt.o)
			data := pngOf(t, img)
			if tt.jpeg {
				data = jpegOf(t, img)
			}
			res, err := svc.Process(context.Background(), data, Options{App: "test"})
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{r.Merchant, r.Date, r.Total} {
				if !strings.Contains(res.Text, want) {
					t.Errorf("OCR text lacks %q:\n%s", want, res.Text)
				}
			}
			if res.OCRConfidence == nil || *res.OCRConfidence <= 0 {
				t.Errorf("ocr_confidence = %v", res.OCRConfidence)
			}
			for _, k := range []string{"decode", "grayscale", "rescale", "deskew", "border", "ocr", "extract", "total"} {
				if _, ok := res.TimingsMS[k]; !ok {
					t.Errorf("timings_ms lacks %q: %v", k, res.TimingsMS)
				}
			}
			if res.Versions.Engine == "" || res.Versions.Release != BuiltinRelease || res.Versions.Rules == "" {
				t.Errorf("versions %+v", res.Versions)
			}
		})
	}
}

func TestExtractValidates(t *testing.T) {
	env := newTestEnv(t, testConfig(), &fakeEngine{}, nil)
	svc := env.mod.Service()
	for _, text := range []string{"", "  \n ", strings.Repeat("x", MaxTextBytes+1), "\xff\xfe"} {
		if _, err := svc.Extract(context.Background(), text, Options{}); err == nil {
			t.Errorf("Extract(%.10q…) succeeded", text)
		}
	}
	res, err := svc.Extract(context.Background(), receiptText, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.OCRConfidence != nil || res.Versions.Engine != "" || res.Text != receiptText {
		t.Errorf("extract result %+v", res)
	}
}

func TestSetStep(t *testing.T) {
	c := config.Default().OCR.Preprocess
	for _, name := range []string{"orient", "grayscale", "rescale", "denoise", "contrast", "binarize", "deskew", "border"} {
		if err := SetStep(&c, name, false); err != nil {
			t.Fatal(err)
		}
	}
	o := PreprocessOptions(c, 0)
	if len(o.Off) != 8 {
		t.Fatalf("off %v", o.Off)
	}
	for s, off := range o.Off {
		if !off {
			t.Errorf("step %s still on", s)
		}
	}
	if err := SetStep(&c, "sharpen", true); err == nil {
		t.Error("SetStep accepted an unknown step")
	}
}

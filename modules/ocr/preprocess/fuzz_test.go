package preprocess

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/ocrpool/ocrpool/modules/ocr/synth"
	"github.com/ocrpool/ocrpool/modules/platform/apierr"
)

// FuzzDecode feeds arbitrary bytes to Decode and, when they decode, the
// whole pipeline with every step on. Hostile input may be refused, with an
// *apierr.Error, but must never panic or hang.
func FuzzDecode(f *testing.F) {
	small := receipt(f, synth.Options{FontSize: 10, Rotate: 2})
	png := encodePNG(f, small)
	jpg := encodeJPEG(f, small)
	f.Add(png)
	f.Add(jpg)
	f.Add(png[:len(png)/3])
	f.Add(jpg[:len(jpg)/3])
	f.Add(exifJPEG(jpg, 6, binary.LittleEndian))
	f.Add(pngHeader(100000, 100000))
	f.Add(pngHeader(1, 1))
	f.Add([]byte("II*\x00\x08\x00\x00\x00"))
	f.Add([]byte("MM\x00*\x00\x00\x00\x08\x00\x01\x01\x00\x00\x03\x00\x00\x00\x01\xff\xff"))
	f.Add([]byte("not an image"))
	// Small limits keep each run fast enough for the fuzzer to explore; the
	// code paths are the same at any size.
	lim := Limits{MaxBytes: 1 << 20, MaxPixels: 1 << 17, Timeout: 5 * time.Second}
	o := DefaultOptions()
	o.Off = map[Step]bool{}
	o.MaxPixels = 1 << 18
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = JPEGOrientation(data)
		d, err := Decode(context.Background(), data, lim)
		if err != nil {
			if _, ok := err.(*apierr.Error); !ok {
				t.Fatalf("Decode error %T %v is not an *apierr.Error", err, err)
			}
			if c := apierr.CodeOf(err); apierr.Status(c) < 400 || apierr.Status(c) >= 500 {
				t.Fatalf("Decode error %v maps to status %d, want 4xx", err, apierr.Status(c))
			}
			return
		}
		if b := d.Image.Bounds(); int64(b.Dx())*int64(b.Dy()) > lim.MaxPixels {
			t.Fatalf("decoded %v, over the pixel limit", b)
		}
		if _, _, err := Run(context.Background(), d, o); err != nil {
			t.Fatalf("Run: %v", err)
		}
	})
}

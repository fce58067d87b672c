package preprocess

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"image"
	"strings"
	"testing"
	"time"

	"golang.org/x/image/tiff"

	"github.com/ocrpool/ocrpool/modules/platform/apierr"
)

// pngHeader is a PNG whose IHDR claims w×h but that holds no pixel data: a
// decompression bomb as far as the header goes.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 0 // 8-bit gray
	chunk := append([]byte("IHDR"), ihdr...)
	_ = binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	b.Write(chunk)
	_ = binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

func TestDecodeLimits(t *testing.T) {
	small := receipt(t, synthSmall())
	okPNG := encodePNG(t, small)
	okJPEG := encodeJPEG(t, small)
	var tb bytes.Buffer
	if err := tiff.Encode(&tb, small, nil); err != nil {
		t.Fatal(err)
	}
	lim := Limits{MaxBytes: 4 << 20, MaxPixels: 4_000_000, Timeout: 10 * time.Second}
	tests := []struct {
		name string
		data []byte
		lim  Limits
		want apierr.Code // "" is success
	}{
		{"png", okPNG, lim, ""},
		{"jpeg", okJPEG, lim, ""},
		{"tiff", tb.Bytes(), lim, ""},
		{"empty", nil, lim, apierr.Invalid},
		{"over the byte limit", okPNG, Limits{MaxBytes: int64(len(okPNG) - 1)}, apierr.TooLarge},
		{"bomb header 100000x100000", pngHeader(100000, 100000), lim, apierr.TooLarge},
		{"bomb header under the side limit but over the pixels", pngHeader(10000, 10000), lim, apierr.TooLarge},
		{"zero width", pngHeader(0, 10), lim, apierr.Unprocessable},
		{"header only, no pixels", pngHeader(100, 100), lim, apierr.Unprocessable},
		{"truncated jpeg", okJPEG[:len(okJPEG)/2], lim, apierr.Unprocessable},
		{"truncated png", okPNG[:len(okPNG)/2], lim, apierr.Unprocessable},
		{"jpeg magic then garbage", append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, bytes.Repeat([]byte{7}, 100)...), lim, apierr.Unprocessable},
		{"text file renamed .png", []byte("total 12.50\nthank you\n"), lim, apierr.Unsupported},
		{"pdf", []byte("%PDF-1.4\n%âãÏÓ\n"), lim, apierr.Unsupported},
		{"gif", []byte("GIF89a\x01\x00\x01\x00"), lim, apierr.Unsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Decode(context.Background(), tt.data, tt.lim)
			if got := apierr.CodeOf(err); got != tt.want {
				t.Fatalf("Decode() error = %v (code %q), want code %q", err, got, tt.want)
			}
			if tt.want == "" && d.Image.Bounds().Dx() != small.Rect.Dx() {
				t.Errorf("decoded width %d, want %d", d.Image.Bounds().Dx(), small.Rect.Dx())
			}
		})
	}
}

func TestDecodeTimeout(t *testing.T) {
	big := encodePNG(t, receipt(t, synthSmall()))
	_, err := Decode(context.Background(), big, Limits{Timeout: time.Nanosecond})
	if apierr.CodeOf(err) != apierr.Unprocessable || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("Decode() with a 1ns limit = %v, want 422 naming the time limit", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Decode(ctx, big, Limits{}); err != context.Canceled {
		t.Fatalf("Decode() on a cancelled context = %v, want context.Canceled", err)
	}
}

// exifJPEG inserts an APP1 Exif segment with the given orientation after
// the SOI marker of a JPEG.
func exifJPEG(jpg []byte, orientation uint16, order binary.ByteOrder) []byte {
	var t bytes.Buffer
	if order == binary.LittleEndian {
		t.WriteString("II")
	} else {
		t.WriteString("MM")
	}
	_ = binary.Write(&t, order, uint16(42))
	_ = binary.Write(&t, order, uint32(8)) // IFD0 right after the header
	_ = binary.Write(&t, order, uint16(2)) // two entries
	// An unrelated tag first (ImageWidth, LONG), then Orientation.
	_ = binary.Write(&t, order, []uint16{0x0100, 4})
	_ = binary.Write(&t, order, []uint32{1, 640})
	_ = binary.Write(&t, order, []uint16{0x0112, 3})
	_ = binary.Write(&t, order, uint32(1))
	_ = binary.Write(&t, order, []uint16{orientation, 0})
	_ = binary.Write(&t, order, uint32(0)) // no next IFD
	seg := append([]byte("Exif\x00\x00"), t.Bytes()...)
	var out bytes.Buffer
	out.Write(jpg[:2])
	out.Write([]byte{0xFF, 0xE1})
	_ = binary.Write(&out, binary.BigEndian, uint16(len(seg)+2))
	out.Write(seg)
	out.Write(jpg[2:])
	return out.Bytes()
}

func TestJPEGOrientation(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 40, 20))
	for x := 0; x < 10; x++ { // a dark mark in the top-left corner
		img.Pix[x] = 0
	}
	for i := 10; i < len(img.Pix); i++ {
		img.Pix[i] = 255
	}
	jpg := encodeJPEG(t, img)
	for _, tt := range []struct {
		name  string
		data  []byte
		want  int
		wantW int
	}{
		{"no exif", jpg, 1, 40},
		{"6 little-endian", exifJPEG(jpg, 6, binary.LittleEndian), 6, 20},
		{"8 big-endian", exifJPEG(jpg, 8, binary.BigEndian), 8, 20},
		{"3", exifJPEG(jpg, 3, binary.BigEndian), 3, 40},
		{"out of range", exifJPEG(jpg, 9, binary.BigEndian), 1, 40},
		{"truncated", exifJPEG(jpg, 6, binary.BigEndian)[:30], 1, 0},
		{"png", encodePNG(t, img), 1, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := JPEGOrientation(tt.data); got != tt.want {
				t.Fatalf("JPEGOrientation() = %d, want %d", got, tt.want)
			}
			if tt.wantW == 0 {
				return
			}
			d, err := Decode(context.Background(), tt.data, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			out, _, err := Run(context.Background(), d, Options{Off: offAllBut(StepOrient)})
			if err != nil {
				t.Fatal(err)
			}
			if got := out.Bounds().Dx(); got != tt.wantW {
				t.Errorf("upright width = %d, want %d", got, tt.wantW)
			}
		})
	}
}

func TestOrientMovesTheCorner(t *testing.T) {
	// A 3×2 image with distinct pixels; each orientation's upright image is
	// known from the EXIF specification.
	src := &image.Gray{Pix: []uint8{1, 2, 3, 4, 5, 6}, Stride: 3, Rect: image.Rect(0, 0, 3, 2)}
	want := map[int][]uint8{
		1: {1, 2, 3, 4, 5, 6},
		2: {3, 2, 1, 6, 5, 4},
		3: {6, 5, 4, 3, 2, 1},
		4: {4, 5, 6, 1, 2, 3},
		5: {1, 4, 2, 5, 3, 6},
		6: {4, 1, 5, 2, 6, 3},
		7: {6, 3, 5, 2, 4, 1},
		8: {3, 6, 2, 5, 1, 4},
	}
	for o, w := range want {
		got := Grayscale(Orient(src, o))
		if !bytes.Equal(got.Pix, w) {
			t.Errorf("Orient(%d) = %v, want %v", o, got.Pix, w)
		}
		// The colour path must agree with the gray one.
		c := Grayscale(Orient(toRGBA(src), o))
		if !bytes.Equal(c.Pix, w) {
			t.Errorf("Orient(%d) on RGBA = %v, want %v", o, c.Pix, w)
		}
	}
}

func toRGBA(g *image.Gray) *image.RGBA {
	out := image.NewRGBA(g.Rect)
	for i, v := range g.Pix {
		copy(out.Pix[4*i:], []uint8{v, v, v, 255})
	}
	return out
}

func offAllBut(keep ...Step) map[Step]bool {
	off := map[Step]bool{}
	for _, s := range Steps {
		off[s] = true
	}
	for _, s := range keep {
		off[s] = false
	}
	return off
}

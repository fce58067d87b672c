package preprocess

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"time"

	"golang.org/x/image/tiff"

	"github.com/ocrpool/ocrpool/modules/platform/apierr"
)

// Format is an accepted image format.
type Format string

// The formats Decode accepts. Anything else is refused with 415.
const (
	JPEG Format = "jpeg"
	PNG  Format = "png"
	TIFF Format = "tiff"
)

// Limits bound what Decode accepts from a client.
type Limits struct {
	// MaxBytes is the largest encoded image; 0 means no limit.
	MaxBytes int64
	// MaxPixels is the largest width×height, checked from the header before
	// any pixel is decoded (decompression bombs); 0 means no limit.
	MaxPixels int64
	// MaxSide caps either dimension; 0 means 50 000.
	MaxSide int
	// Timeout bounds decoding; 0 means no limit beyond ctx.
	Timeout time.Duration
}

// Decoded is an image as it came in.
type Decoded struct {
	Image  image.Image
	Format Format
	// Orientation is the EXIF orientation (1–8) of a JPEG; 1 when absent.
	Orientation int
}

// Sniff names the format of data from its first bytes: JPEG, PNG or TIFF.
// Other content (a PDF, a text file renamed .png) is apierr Unsupported.
func Sniff(data []byte) (Format, error) {
	switch {
	case bytes.HasPrefix(data, []byte{0xFF, 0xD8, 0xFF}):
		return JPEG, nil
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return PNG, nil
	case bytes.HasPrefix(data, []byte("II*\x00")), bytes.HasPrefix(data, []byte("MM\x00*")):
		return TIFF, nil
	case len(data) == 0:
		return "", apierr.New(apierr.Invalid, "the image is empty")
	}
	return "", apierr.New(apierr.Unsupported, "unsupported image type %s: send JPEG, PNG or TIFF", describe(data))
}

// describe names common non-image content for the 415 message.
func describe(data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte("%PDF")):
		return "PDF"
	case bytes.HasPrefix(data, []byte("GIF8")):
		return "GIF"
	case bytes.HasPrefix(data, []byte("RIFF")) && len(data) >= 12 && string(data[8:12]) == "WEBP":
		return "WebP"
	case bytes.HasPrefix(data, []byte("BM")):
		return "BMP"
	}
	return "(not a known image format)"
}

// Decode checks data against lim and decodes it. It never panics on
// hostile input. Errors are *apierr.Error:
//
//   - Invalid (400): empty input
//   - TooLarge (413): over MaxBytes, MaxPixels or MaxSide
//   - Unsupported (415): not JPEG, PNG or TIFF
//   - Unprocessable (422): a corrupt or truncated image, or decoding took
//     longer than Timeout
//
// and ctx's error when ctx ends first.
func Decode(ctx context.Context, data []byte, lim Limits) (Decoded, error) {
	if lim.MaxBytes > 0 && int64(len(data)) > lim.MaxBytes {
		return Decoded{}, apierr.New(apierr.TooLarge, "the image is %d bytes, over the limit of %d", len(data), lim.MaxBytes)
	}
	f, err := Sniff(data)
	if err != nil {
		return Decoded{}, err
	}
	cfg, err := decodeConfig(f, data)
	if err != nil {
		return Decoded{}, apierr.New(apierr.Unprocessable, "the %s header cannot be read: %v", f, err)
	}
	if err := checkSize(cfg, lim); err != nil {
		return Decoded{}, err
	}
	orientation := 1
	if f == JPEG {
		orientation = JPEGOrientation(data)
	}

	if lim.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, lim.Timeout, errDecodeTimeout)
		defer cancel()
	}
	type result struct {
		img image.Image
		err error
	}
	// The decoders cannot be interrupted: a decode that outlives the
	// deadline finishes in the background (bounded by MaxPixels) and its
	// result is dropped.
	done := make(chan result, 1)
	go func() {
		img, err := decodeSafely(f, data)
		done <- result{img, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return Decoded{}, apierr.New(apierr.Unprocessable, "the %s image is corrupt or truncated: %v", f, r.err)
		}
		b := r.img.Bounds()
		if b.Dx() != cfg.Width || b.Dy() != cfg.Height {
			return Decoded{}, apierr.New(apierr.Unprocessable, "the %s image decodes to %dx%d, not the %dx%d its header says", f, b.Dx(), b.Dy(), cfg.Width, cfg.Height)
		}
		return Decoded{Image: r.img, Format: f, Orientation: orientation}, nil
	case <-ctx.Done():
		if errors.Is(context.Cause(ctx), errDecodeTimeout) {
			return Decoded{}, apierr.New(apierr.Unprocessable, "decoding the %s image took longer than the limit of %s", f, lim.Timeout)
		}
		return Decoded{}, ctx.Err()
	}
}

var errDecodeTimeout = errors.New("decode timeout")

func checkSize(cfg image.Config, lim Limits) error {
	maxSide := lim.MaxSide
	if maxSide <= 0 {
		maxSide = 50_000
	}
	w, h := cfg.Width, cfg.Height
	switch {
	case w <= 0 || h <= 0:
		return apierr.New(apierr.Unprocessable, "the image has no pixels (%dx%d)", w, h)
	case w > maxSide || h > maxSide:
		return apierr.New(apierr.TooLarge, "the image is %dx%d pixels, over the limit of %d on a side", w, h, maxSide)
	case lim.MaxPixels > 0 && int64(w)*int64(h) > lim.MaxPixels:
		return apierr.New(apierr.TooLarge, "the image is %dx%d = %d pixels, over the limit of %d", w, h, int64(w)*int64(h), lim.MaxPixels)
	}
	return nil
}

func decodeConfig(f Format, data []byte) (cfg image.Config, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decoder failed: %v", r)
		}
	}()
	r := bytes.NewReader(data)
	switch f {
	case JPEG:
		return jpeg.DecodeConfig(r)
	case PNG:
		return png.DecodeConfig(r)
	case TIFF:
		return tiff.DecodeConfig(r)
	}
	return image.Config{}, fmt.Errorf("format %s", f)
}

// decodeSafely decodes with the format's own decoder (never image.Decode,
// whose registry could grow formats nobody reviewed) and turns a decoder
// panic into an error.
func decodeSafely(f Format, data []byte) (img image.Image, err error) {
	defer func() {
		if r := recover(); r != nil {
			img, err = nil, fmt.Errorf("decoder failed: %v", r)
		}
	}()
	var r io.Reader = bytes.NewReader(data)
	switch f {
	case JPEG:
		return jpeg.Decode(r)
	case PNG:
		return png.Decode(r)
	case TIFF:
		return tiff.Decode(r)
	}
	return nil, fmt.Errorf("format %s", f)
}

// Package engine runs OCR. Engine is the interface the ocr module uses;
// New returns a pool of Tesseract clients (gosseract, cgo), one per slot
// because a Tesseract client is not safe for concurrent use. Built with
// -tags notesseract (no cgo, no Tesseract: data-pool and training-only
// containers), New returns ErrUnavailable instead.
package engine

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/draw"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Text is what OCR read.
type Text struct {
	Text string
	// Confidence is Tesseract's mean word confidence, weighted by word
	// length, from 0 to 1.
	Confidence float64
}

// Engine reads the text of an image.
type Engine interface {
	// Recognize reads img. It waits for a free client until ctx ends
	// (returning ctx's error); a recognition that has started runs to its
	// end, as Tesseract cannot be interrupted through gosseract.
	Recognize(ctx context.Context, img image.Image) (Text, error)
	// Version names the engine and its model, e.g. "tesseract 5.3.0 eng psm6".
	Version() string
	// Close frees every client. Recognize must not be called afterwards.
	Close() error
}

// ErrUnavailable is New's error in a build without Tesseract.
var ErrUnavailable = errors.New("built without Tesseract (-tags notesseract): the ocr role is unavailable")

// Config configures New.
type Config struct {
	// Language is Tesseract's language, e.g. "eng" or "eng+msa".
	Language string
	// PSM is Tesseract's page segmentation mode (3 auto, 4 single column,
	// 6 single block, 11 sparse).
	PSM int
	// DPI is the resolution Tesseract assumes (user_defined_dpi); 0 lets it
	// guess.
	DPI int
	// PoolSize is the number of clients; 0 means runtime.NumCPU().
	PoolSize int
	// Variables are further Tesseract parameters ("tessedit_do_invert": "0").
	Variables map[string]string
	// OnWait, when set, is told how long each Recognize waited for a client.
	OnWait func(time.Duration)
}

// Size is the resolved pool size.
func (c Config) Size() int {
	if c.PoolSize > 0 {
		return c.PoolSize
	}
	return runtime.NumCPU()
}

// encodePNM writes img in the simplest format Leptonica reads: PBM (1 bit)
// for a black-and-white image, so Tesseract skips its own thresholding, PGM
// for gray and PPM for colour. No compression: encoding costs a copy.
func encodePNM(img image.Image) []byte {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	var buf bytes.Buffer
	header := func(magic string) {
		buf.WriteString(magic + "\n" + strconv.Itoa(w) + " " + strconv.Itoa(h) + "\n")
	}
	if g, ok := img.(*image.Gray); ok {
		if binary(g) {
			header("P4")
			rowBytes := (w + 7) / 8
			buf.Grow(rowBytes * h)
			row := make([]byte, rowBytes)
			for y := 0; y < h; y++ {
				clear(row)
				src := g.Pix[g.PixOffset(b.Min.X, b.Min.Y+y):][:w]
				for x, v := range src {
					if v < 128 { // PBM: 1 is black
						row[x>>3] |= 0x80 >> (x & 7)
					}
				}
				buf.Write(row)
			}
			return buf.Bytes()
		}
		header("P5")
		buf.WriteString("255\n")
		buf.Grow(w * h)
		for y := 0; y < h; y++ {
			buf.Write(g.Pix[g.PixOffset(b.Min.X, b.Min.Y+y):][:w])
		}
		return buf.Bytes()
	}
	rgba, ok := img.(*image.RGBA)
	if !ok {
		rgba = image.NewRGBA(image.Rect(0, 0, w, h))
		draw.Draw(rgba, rgba.Rect, img, b.Min, draw.Src)
		b = rgba.Rect
	}
	header("P6")
	buf.WriteString("255\n")
	buf.Grow(3 * w * h)
	for y := 0; y < h; y++ {
		src := rgba.Pix[rgba.PixOffset(b.Min.X, b.Min.Y+y):][:4*w]
		for x := 0; x < w; x++ {
			buf.Write(src[4*x : 4*x+3])
		}
	}
	return buf.Bytes()
}

func binary(g *image.Gray) bool {
	b := g.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for _, v := range g.Pix[g.PixOffset(b.Min.X, y):][:b.Dx()] {
			if v != 0 && v != 255 {
				return false
			}
		}
	}
	return true
}

// word is one recognised word with its place in the layout.
type word struct {
	text             string
	conf             float64 // 0–100
	block, par, line int
}

// assemble joins words the way Tesseract's GetUTF8Text does: words of a
// line separated by spaces, lines by newlines, a blank line between
// paragraphs. The confidence is the mean word confidence weighted by
// length.
func assemble(words []word) Text {
	var (
		sb               strings.Builder
		confSum, confLen float64
	)
	for i, w := range words {
		if i > 0 {
			p := words[i-1]
			switch {
			case w.block != p.block || w.par != p.par:
				sb.WriteString("\n\n")
			case w.line != p.line:
				sb.WriteByte('\n')
			default:
				sb.WriteByte(' ')
			}
		}
		sb.WriteString(w.text)
		n := float64(utf8.RuneCountInString(w.text))
		confSum += w.conf * n
		confLen += n
	}
	t := Text{Text: sb.String()}
	if confLen > 0 {
		t.Confidence = confSum / confLen / 100
	}
	return t
}

// Package preprocess prepares a receipt photo or scan for Tesseract in
// eight steps, each a pure function on an image and each switchable:
//
//  1. orient     – (after Decode) turn upright by the JPEG's EXIF orientation
//  2. grayscale  – one 8-bit luminance channel
//  3. denoise    – remove isolated specks (a median applied to outliers
//     only), when the print is large enough to tell a speck from a full stop
//  4. rescale    – characters to about TextHeight pixels (≈300 DPI print)
//  5. contrast   – flatten the paper (shadows, fading), darken faint ink
//  6. binarize   – Sauvola (adaptive), Otsu (global) or Clean (white paper,
//     gray ink); off by default, see DefaultOptions
//  7. deskew     – projection-profile angle search, rotate back
//  8. border     – strip dark borders and blank margins, pad with white
//
// Denoise runs before rescale, at the resolution of the capture: there a
// speck of sensor or scanner noise is one pixel, which a 3×3 filter can
// tell from a full stop; after upscaling it is a blurred blob the size of
// one. Steps 3–8 work on *image.Gray; when grayscale is off the first of them
// that runs converts with the same luminance weights, so switching
// grayscale off changes where the conversion happens, not its result.
// docs/OCR.md has the ablation that justifies each step's default.
package preprocess

import (
	"context"
	"fmt"
	"image"
	"strings"
	"time"
)

// Step names one preprocessing step, as in config and --disable-step.
type Step string

// The steps, in pipeline order.
const (
	StepOrient    Step = "orient"
	StepGrayscale Step = "grayscale"
	StepRescale   Step = "rescale"
	StepDenoise   Step = "denoise"
	StepContrast  Step = "contrast"
	StepBinarize  Step = "binarize"
	StepDeskew    Step = "deskew"
	StepBorder    Step = "border"
)

// Steps lists every step in pipeline order.
var Steps = []Step{StepOrient, StepGrayscale, StepDenoise, StepRescale, StepContrast, StepBinarize, StepDeskew, StepBorder}

// ParseStep returns the step called name.
func ParseStep(name string) (Step, error) {
	for _, s := range Steps {
		if string(s) == strings.ToLower(strings.TrimSpace(name)) {
			return s, nil
		}
	}
	names := make([]string, len(Steps))
	for i, s := range Steps {
		names[i] = string(s)
	}
	return "", fmt.Errorf("unknown preprocessing step %q (steps: %s)", name, strings.Join(names, ", "))
}

// Options configure the pipeline. DefaultOptions is the measured best.
type Options struct {
	// Off lists the steps that are switched off.
	Off map[Step]bool
	// TextHeight is the character height rescale aims for, in pixels.
	TextHeight float64
	// RescaleTolerance leaves text alone whose height is within the factor
	// 1+RescaleTolerance of TextHeight.
	RescaleTolerance float64
	// MaxPixels caps the image size after rescaling.
	MaxPixels int64
	// Binarization is Sauvola, Otsu or Clean.
	Binarization string
	// SauvolaK is Sauvola's sensitivity (0.2–0.35; higher keeps less ink).
	SauvolaK float64
	// MaxSkew is the largest angle deskew looks for, in degrees.
	MaxSkew float64
	// Padding is the white margin border leaves around the content, in
	// pixels.
	Padding int
}

// DefaultOptions returns the defaults measured in docs/OCR.md: every step
// on except binarize, characters rescaled to 20 px. Tesseract 5 binarizes
// internally only to find the lines; its LSTM recognizer reads the gray
// image, and a binarized input costs it the soft glyph edges (Sauvola: −4
// points of word recall on the SROIE scans, −15 points of amount on
// synthetic photos).
func DefaultOptions() Options {
	return Options{
		Off:              map[Step]bool{StepBinarize: true},
		TextHeight:       20,
		RescaleTolerance: 0.15,
		MaxPixels:        12_000_000,
		Binarization:     Sauvola,
		SauvolaK:         0.2,
		MaxSkew:          10,
		Padding:          20,
	}
}

// On reports whether step s runs.
func (o Options) On(s Step) bool { return !o.Off[s] }

// Timing is how long one step took.
type Timing struct {
	Step     Step
	Duration time.Duration
}

// Report says what the pipeline measured and did.
type Report struct {
	Timings []Timing
	// TextHeight is the character height measured by rescale (0 when it
	// did not run or could not tell).
	TextHeight float64
	// Scale is the factor rescale applied.
	Scale float64
	// Skew is the angle deskew measured, in degrees.
	Skew float64
}

// Run applies the switched-on steps to a decoded image. Decoding itself is
// Decode's job; the orient step applies d.Orientation. It stops between
// steps when ctx ends.
func Run(ctx context.Context, d Decoded, o Options) (image.Image, Report, error) {
	rep := Report{Scale: 1}
	img := d.Image
	timed := func(s Step, f func()) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		start := time.Now()
		f()
		rep.Timings = append(rep.Timings, Timing{Step: s, Duration: time.Since(start)})
		return nil
	}
	gray := func() *image.Gray { // steps 3–8 work on one channel
		g, ok := img.(*image.Gray)
		if !ok || g.Rect.Min != (image.Point{}) {
			g = Grayscale(img)
			img = g
		}
		return g
	}
	// native is the text height at the resolution of the capture, measured
	// once for denoise and rescale.
	native, measured := 0.0, false
	nativeHeight := func() float64 {
		if !measured {
			native, measured = TextHeight(gray()), true
		}
		return native
	}
	// textHeight is what the steps after rescale size their windows by:
	// the target when rescale scaled, else the measured height.
	textHeight := 0.0
	height := func() float64 {
		if textHeight == 0 {
			if textHeight = TextHeight(gray()); textHeight == 0 {
				textHeight = o.TextHeight
			}
		}
		return textHeight
	}
	steps := []struct {
		s Step
		f func()
	}{
		{StepOrient, func() { img = Orient(img, d.Orientation) }},
		{StepGrayscale, func() { img = Grayscale(img) }},
		{StepDenoise, func() {
			if nativeHeight() >= MinSpeckleTextHeight {
				img = Despeckle(gray(), 48)
			}
		}},
		{StepRescale, func() {
			var r RescaleResult
			img, r = rescale(gray(), nativeHeight(), o.TextHeight, o.RescaleTolerance, o.MaxPixels)
			rep.TextHeight, rep.Scale = r.TextHeight, r.Scale
			switch {
			case r.Scale != 1:
				textHeight = r.TextHeight * r.Scale
			case r.TextHeight > 0:
				textHeight = r.TextHeight
			}
		}},
		{StepContrast, func() { img = NormalizeContrast(gray(), int(2*height())) }},
		{StepBinarize, func() {
			if o.Binarization == Otsu {
				img = BinarizeOtsu(gray())
				return
			}
			g, th := gray(), height()
			m := BinarizeSauvola(g, int(1.5*th), o.SauvolaK)
			if o.Binarization == Clean {
				img = CleanBackground(g, m, max(1, int(th/8)), max(2, int(th*th/300)))
				return
			}
			img = m
		}},
		{StepDeskew, func() { img, rep.Skew = Deskew(gray(), o.MaxSkew, 0.2) }},
		{StepBorder, func() { img, _ = CropBorder(gray(), o.Padding) }},
	}
	for _, st := range steps {
		if !o.On(st.s) {
			continue
		}
		if err := timed(st.s, st.f); err != nil {
			return nil, rep, err
		}
	}
	return img, rep, nil
}

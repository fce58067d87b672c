package preprocess

import (
	"image"
	"math"
)

// RescaleResult says what Rescale measured and did.
type RescaleResult struct {
	// TextHeight is the character height measured before scaling, in
	// pixels; 0 when it could not be measured.
	TextHeight float64
	// Scale is the factor applied (1 when the image was left alone).
	Scale float64
}

// Rescale scales g so that its characters are about target pixels high
// (Tesseract's fast English model read receipts best with capitals and
// digits about 20 px high, ~300 DPI for receipt print: docs/OCR.md), within [0.25, 4]× and at most maxPixels pixels (0 means no
// cap). Text already within the factor 1+tolerance of target is left alone
// (a resampling blurs a little and costs time), as are images whose text
// height cannot be measured.
func Rescale(g *image.Gray, target, tolerance float64, maxPixels int64) (*image.Gray, RescaleResult) {
	return rescale(g, TextHeight(g), target, tolerance, maxPixels)
}

// rescale is Rescale with the text height th already measured.
func rescale(g *image.Gray, th, target, tolerance float64, maxPixels int64) (*image.Gray, RescaleResult) {
	res := RescaleResult{TextHeight: th, Scale: 1}
	if th <= 0 || target <= 0 {
		return g, res
	}
	s := math.Max(0.25, math.Min(4, target/th))
	w, h := g.Rect.Dx(), g.Rect.Dy()
	if maxPixels > 0 {
		if px := float64(w) * float64(h) * s * s; px > float64(maxPixels) {
			s *= math.Sqrt(float64(maxPixels) / px)
		}
	}
	if s >= 1/(1+tolerance) && s <= 1+tolerance {
		return g, res
	}
	nw, nh := max(1, int(math.Round(float64(w)*s))), max(1, int(math.Round(float64(h)*s)))
	res.Scale = s
	return Resize(g, nw, nh), res
}

// Resize resamples g to nw×nh with a triangle (bilinear) filter that widens
// when shrinking, so downscaling averages instead of skipping pixels.
func Resize(g *image.Gray, nw, nh int) *image.Gray {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	if nw == w && nh == h {
		return g
	}
	xs := weights(w, nw)
	ys := weights(h, nh)
	// Horizontal pass: h rows of nw.
	tmp := make([]uint8, nw*h)
	for y := 0; y < h; y++ {
		src := g.Pix[y*g.Stride : y*g.Stride+w]
		dst := tmp[y*nw : (y+1)*nw]
		for x := range dst {
			dst[x] = xs[x].apply(src, 1)
		}
	}
	out := image.NewGray(image.Rect(0, 0, nw, nh))
	acc := make([]int32, nw)
	for y := 0; y < nh; y++ {
		k := ys[y]
		dst := out.Pix[y*out.Stride : y*out.Stride+nw]
		// Vertical pass, accumulated row by row for cache locality.
		clear(acc)
		for i, wt := range k.w {
			row := tmp[(k.first+i)*nw : (k.first+i+1)*nw]
			for x, v := range row {
				acc[x] += wt * int32(v)
			}
		}
		for x, a := range acc {
			dst[x] = clamp8((a + 1<<13) >> 14)
		}
	}
	return out
}

// kernel is the set of source samples for one output sample: weights in
// 2^14 fixed point starting at index first.
type kernel struct {
	first int
	w     []int32
}

func (k kernel) apply(src []uint8, stride int) uint8 {
	var a int32
	for i, wt := range k.w {
		a += wt * int32(src[(k.first+i)*stride])
	}
	return clamp8((a + 1<<13) >> 14)
}

func weights(n, nn int) []kernel {
	scale := float64(nn) / float64(n)
	support := 1.0
	if scale < 1 {
		support = 1 / scale
	}
	out := make([]kernel, nn)
	for i := range out {
		center := (float64(i)+0.5)/scale - 0.5
		lo := int(math.Floor(center - support + 1))
		hi := int(math.Ceil(center + support - 1))
		lo, hi = max(lo, 0), min(hi, n-1)
		if hi < lo {
			hi = lo
		}
		fw := make([]float64, hi-lo+1)
		sum := 0.0
		for j := range fw {
			d := math.Abs(float64(lo+j)-center) / support
			if d < 1 {
				fw[j] = 1 - d
			}
			sum += fw[j]
		}
		k := kernel{first: lo, w: make([]int32, len(fw))}
		if sum == 0 {
			k.w[0] = 1 << 14
		} else {
			var tot int32
			for j := range fw {
				k.w[j] = int32(math.Round(fw[j] / sum * (1 << 14)))
				tot += k.w[j]
			}
			k.w[len(k.w)/2] += 1<<14 - tot // exact unity gain
		}
		out[i] = k
	}
	return out
}

func clamp8(v int32) uint8 {
	switch {
	case v < 0:
		return 0
	case v > 255:
		return 255
	}
	return uint8(v)
}

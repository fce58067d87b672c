package preprocess

import (
	"image"
	"math"
)

// Binarization methods.
const (
	Otsu    = "otsu"
	Sauvola = "sauvola"
	// Clean keeps the gray ink and whitens the rest (CleanBackground).
	Clean = "clean"
)

// BinarizeOtsu sets every pixel to 0 (ink) or 255 (paper) with one global
// threshold chosen by Otsu's method.
func BinarizeOtsu(g *image.Gray) *image.Gray {
	return threshold(g, otsu(histogram(g)))
}

func threshold(g *image.Gray, thr uint8) *image.Gray {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	out := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		src := g.Pix[y*g.Stride : y*g.Stride+w]
		dst := out.Pix[y*out.Stride : y*out.Stride+w]
		for x, v := range src {
			if v >= thr {
				dst[x] = 255
			}
		}
	}
	return out
}

// BinarizeSauvola thresholds each pixel against its window×window
// neighbourhood (Sauvola & Pietikäinen 2000): T = m·(1 + k·(s/128 − 1)),
// with m and s the local mean and standard deviation. Unlike one global
// threshold it keeps faint print next to dark print and ignores gradual
// shading. window is forced odd and at least 3; k is usually 0.2–0.35.
// Memory beyond the output is a few rows, whatever the image size.
func BinarizeSauvola(g *image.Gray, window int, k float64) *image.Gray {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	out := image.NewGray(image.Rect(0, 0, w, h))
	if w == 0 || h == 0 {
		return out
	}
	window = max(3, window|1)
	r := window / 2
	// Column sums over the rows [y-r, y+r] (clamped), kept up to date as y
	// advances; a horizontal running sum over them gives the window sums.
	colSum := make([]int64, w)
	colSq := make([]int64, w)
	addRow := func(y int, sign int64) {
		row := g.Pix[y*g.Stride : y*g.Stride+w]
		for x, v := range row {
			colSum[x] += sign * int64(v)
			colSq[x] += sign * int64(v) * int64(v)
		}
	}
	for y := 0; y <= min(r, h-1); y++ {
		addRow(y, 1)
	}
	for y := 0; y < h; y++ {
		if y > 0 {
			if y+r < h {
				addRow(y+r, 1)
			}
			if y-r-1 >= 0 {
				addRow(y-r-1, -1)
			}
		}
		rows := int64(min(h-1, y+r) - max(0, y-r) + 1)
		src := g.Pix[y*g.Stride : y*g.Stride+w]
		dst := out.Pix[y*out.Stride : y*out.Stride+w]
		var s, sq int64
		for x := 0; x <= min(r, w-1); x++ {
			s += colSum[x]
			sq += colSq[x]
		}
		for x := 0; x < w; x++ {
			if x > 0 {
				if x+r < w {
					s += colSum[x+r]
					sq += colSq[x+r]
				}
				if x-r-1 >= 0 {
					s -= colSum[x-r-1]
					sq -= colSq[x-r-1]
				}
			}
			n := rows * int64(min(w-1, x+r)-max(0, x-r)+1)
			mean := float64(s) / float64(n)
			variance := float64(sq)/float64(n) - mean*mean
			sd := math.Sqrt(max(0, variance))
			t := mean * (1 + k*(sd/128-1))
			if float64(src[x]) > t {
				dst[x] = 255
			}
		}
	}
	return out
}

// CleanBackground keeps the gray levels of ink and paints everything else
// white: pixels that mask (a binarization of g) calls paper, farther than
// reach pixels from its ink, become 255, and so do ink specks of fewer than
// minArea pixels. Tesseract's LSTM reads the gray image, whose soft glyph
// edges it was trained on; this keeps them while removing the paper
// texture, shadows and specks that a hard binarization removes.
func CleanBackground(g, mask *image.Gray, reach, minArea int) *image.Gray {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	keep := make([]bool, w*h)
	for _, c := range components(mask, 128) {
		if c.area < minArea {
			continue
		}
		for y := c.box.Min.Y; y < c.box.Max.Y; y++ {
			row := mask.Pix[y*mask.Stride:]
			for x := c.box.Min.X; x < c.box.Max.X; x++ {
				if row[x] < 128 {
					keep[y*w+x] = true
				}
			}
		}
	}
	keep = dilate(keep, w, h, reach)
	out := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		src := g.Pix[y*g.Stride : y*g.Stride+w]
		dst := out.Pix[y*out.Stride : y*out.Stride+w]
		k := keep[y*w : (y+1)*w]
		for x, v := range src {
			if k[x] {
				dst[x] = v
			} else {
				dst[x] = 255
			}
		}
	}
	return out
}

// dilate grows the true cells of a w×h grid by r in every direction (a
// square structuring element), separably.
func dilate(in []bool, w, h, r int) []bool {
	if r <= 0 {
		return in
	}
	tmp := make([]bool, len(in))
	for y := 0; y < h; y++ {
		row, out := in[y*w:(y+1)*w], tmp[y*w:(y+1)*w]
		last := -1 << 30 // position of the latest true cell seen
		for x := 0; x < w; x++ {
			if row[x] {
				last = x
			}
			out[x] = x-last <= r
		}
		last = 1 << 30
		for x := w - 1; x >= 0; x-- {
			if row[x] {
				last = x
			}
			if last-x <= r {
				out[x] = true
			}
		}
	}
	res := make([]bool, len(in))
	for x := 0; x < w; x++ {
		last := -1 << 30
		for y := 0; y < h; y++ {
			if tmp[y*w+x] {
				last = y
			}
			res[y*w+x] = y-last <= r
		}
		last = 1 << 30
		for y := h - 1; y >= 0; y-- {
			if tmp[y*w+x] {
				last = y
			}
			if last-y <= r {
				res[y*w+x] = true
			}
		}
	}
	return res
}

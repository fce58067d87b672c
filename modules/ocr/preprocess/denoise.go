package preprocess

import "image"

// Median3 replaces every pixel by the median of its 3×3 neighbourhood:
// it removes salt-and-pepper specks and JPEG ringing while keeping the
// edges of strokes (which a blur would soften). Border pixels use the
// replicated edge.
func Median3(g *image.Gray) *image.Gray {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	out := image.NewGray(image.Rect(0, 0, w, h))
	if w < 3 || h < 3 {
		copy(out.Pix, g.Pix)
		return out
	}
	row := func(y int) []uint8 {
		y = max(0, min(h-1, y))
		return g.Pix[y*g.Stride : y*g.Stride+w]
	}
	for y := 0; y < h; y++ {
		a, b, c := row(y-1), row(y), row(y+1)
		d := out.Pix[y*out.Stride : y*out.Stride+w]
		d[0] = med9(a[0], a[0], a[1], b[0], b[0], b[1], c[0], c[0], c[1])
		for x := 1; x < w-1; x++ {
			d[x] = med9(a[x-1], a[x], a[x+1], b[x-1], b[x], b[x+1], c[x-1], c[x], c[x+1])
		}
		x := w - 1
		d[x] = med9(a[x-1], a[x], a[x], b[x-1], b[x], b[x], c[x-1], c[x], c[x])
	}
	return out
}

// med9 is the median of nine values by the 19-exchange network of
// Paeth / Devillard's opt_med9.
func med9(p0, p1, p2, p3, p4, p5, p6, p7, p8 uint8) uint8 {
	s := func(a, b *uint8) {
		if *a > *b {
			*a, *b = *b, *a
		}
	}
	s(&p1, &p2)
	s(&p4, &p5)
	s(&p7, &p8)
	s(&p0, &p1)
	s(&p3, &p4)
	s(&p6, &p7)
	s(&p1, &p2)
	s(&p4, &p5)
	s(&p7, &p8)
	s(&p0, &p3)
	s(&p5, &p8)
	s(&p4, &p7)
	s(&p3, &p6)
	s(&p1, &p4)
	s(&p2, &p5)
	s(&p4, &p7)
	s(&p4, &p2)
	s(&p6, &p4)
	s(&p4, &p2)
	return p4
}

// MinSpeckleTextHeight is the smallest character height, in pixels, at
// which Despeckle can tell a speck from a full stop: below it a full stop
// is itself one or two pixels, and the pipeline's denoise step does
// nothing rather than delete decimal points.
const MinSpeckleTextHeight = 16

// Despeckle is a median filter that only touches specks: a pixel is
// replaced by the median of its 3×3 neighbourhood only when it is darker
// than all eight neighbours by more than thr gray levels (or lighter by as
// much). Isolated dots go; strokes, even one pixel wide, have a neighbour
// about as dark as themselves and stay. (A plain median erases such
// strokes: on the dev set it cost 6 points of word recall.)
func Despeckle(g *image.Gray, thr uint8) *image.Gray {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	out := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		copy(out.Pix[y*out.Stride:y*out.Stride+w], g.Pix[y*g.Stride:y*g.Stride+w])
	}
	if w < 3 || h < 3 {
		return out
	}
	t := int(thr)
	for y := 1; y < h-1; y++ {
		a := g.Pix[(y-1)*g.Stride : (y-1)*g.Stride+w]
		b := g.Pix[y*g.Stride : y*g.Stride+w]
		c := g.Pix[(y+1)*g.Stride : (y+1)*g.Stride+w]
		d := out.Pix[y*out.Stride : y*out.Stride+w]
		for x := 1; x < w-1; x++ {
			p, first := int(b[x]), int(a[x])
			// Almost every pixel is within thr of its upper neighbour:
			// decided by one comparison.
			if p+t >= first && p <= first+t {
				continue
			}
			lo, hi := 255, 0
			for _, v := range [8]uint8{a[x-1], a[x], a[x+1], b[x-1], b[x+1], c[x-1], c[x], c[x+1]} {
				lo, hi = min(lo, int(v)), max(hi, int(v))
			}
			if p+t < lo || p > hi+t {
				d[x] = med9(a[x-1], a[x], a[x+1], b[x-1], b[x], b[x+1], c[x-1], c[x], c[x+1])
			}
		}
	}
	return out
}

package preprocess

import (
	"image"
	"math"
)

// Skew estimates how far the text lines of g are rotated, in degrees,
// positive when they descend to the right as displayed (a clockwise tilt),
// by the projection profile method: the angle at which the dark pixels,
// projected onto the vertical axis, make the sharpest peaks and valleys.
// It searches ±maxDeg, coarse then fine, and returns 0 when g has too
// little ink to tell.
func Skew(g *image.Gray, maxDeg float64) float64 {
	pts := inkPoints(g, 50_000)
	if len(pts) < 200 || maxDeg <= 0 {
		return 0
	}
	h := g.Rect.Dy()
	w := g.Rect.Dx()
	diag := int(math.Hypot(float64(w), float64(h))) + 2
	bins := make([]int32, 2*diag)
	score := func(deg float64) float64 {
		for i := range bins {
			bins[i] = 0
		}
		sin, cos := math.Sincos(deg * math.Pi / 180)
		for _, p := range pts {
			// The row the point falls on once the image is turned by -deg.
			y := int(float64(p[1])*cos-float64(p[0])*sin) + diag
			if y >= 0 && y < len(bins) {
				bins[y]++
			}
		}
		var s float64
		for i := 1; i < len(bins); i++ {
			d := float64(bins[i] - bins[i-1])
			s += d * d
		}
		return s
	}
	best, bestScore := 0.0, score(0)
	search := func(lo, hi, step float64) {
		for a := lo; a <= hi+1e-9; a += step {
			if s := score(a); s > bestScore {
				best, bestScore = a, s
			}
		}
	}
	search(-maxDeg, maxDeg, 0.5)
	c := best
	search(c-0.5, c+0.5, 0.1)
	c = best
	search(c-0.1, c+0.1, 0.025)
	return best
}

// inkPoints samples up to limit dark pixels of g (below its Otsu threshold)
// on a regular grid.
func inkPoints(g *image.Gray, limit int) [][2]int32 {
	thr := otsu(histogram(g))
	w, h := g.Rect.Dx(), g.Rect.Dy()
	ink := 0
	for y := 0; y < h; y++ {
		for _, v := range g.Pix[y*g.Stride : y*g.Stride+w] {
			if v < thr {
				ink++
			}
		}
	}
	if ink == 0 {
		return nil
	}
	step := 1
	for ink/(step*step) > limit {
		step++
	}
	pts := make([][2]int32, 0, min(ink, limit*2))
	for y := 0; y < h; y += step {
		row := g.Pix[y*g.Stride : y*g.Stride+w]
		for x := 0; x < w; x += step {
			if row[x] < thr {
				pts = append(pts, [2]int32{int32(x), int32(y)})
			}
		}
	}
	return pts
}

// Rotate turns g by deg degrees counterclockwise as displayed (y down)
// around its centre,
// enlarging the canvas so no corner is cut and filling with white. A
// binary input (only 0 and 255) stays binary.
func Rotate(g *image.Gray, deg float64) *image.Gray {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	sin, cos := math.Sincos(deg * math.Pi / 180)
	nw := int(math.Ceil(math.Abs(float64(w)*cos) + math.Abs(float64(h)*sin)))
	nh := int(math.Ceil(math.Abs(float64(w)*sin) + math.Abs(float64(h)*cos)))
	out := image.NewGray(image.Rect(0, 0, nw, nh))
	binary := isBinary(g)
	cx, cy := float64(w)/2, float64(h)/2
	ncx, ncy := float64(nw)/2, float64(nh)/2
	for y := 0; y < nh; y++ {
		dst := out.Pix[y*out.Stride : y*out.Stride+nw]
		dy := float64(y) + 0.5 - ncy
		for x := 0; x < nw; x++ {
			dx := float64(x) + 0.5 - ncx
			// Inverse map: where in g does this output pixel come from?
			sx := cos*dx - sin*dy + cx - 0.5
			sy := sin*dx + cos*dy + cy - 0.5
			v := sample(g, sx, sy)
			if binary {
				if v >= 128 {
					v = 255
				} else {
					v = 0
				}
			}
			dst[x] = v
		}
	}
	return out
}

// sample reads g at (x, y) bilinearly; outside is white paper.
func sample(g *image.Gray, x, y float64) uint8 {
	x0, y0 := int(math.Floor(x)), int(math.Floor(y))
	fx, fy := x-float64(x0), y-float64(y0)
	w, h := g.Rect.Dx(), g.Rect.Dy()
	at := func(x, y int) float64 {
		if x < 0 || y < 0 || x >= w || y >= h {
			return 255
		}
		return float64(g.Pix[y*g.Stride+x])
	}
	v := (at(x0, y0)*(1-fx)+at(x0+1, y0)*fx)*(1-fy) + (at(x0, y0+1)*(1-fx)+at(x0+1, y0+1)*fx)*fy
	return uint8(v + 0.5)
}

func isBinary(g *image.Gray) bool {
	h := histogram(g)
	for v := 1; v < 255; v++ {
		if h[v] != 0 {
			return false
		}
	}
	return true
}

// Deskew measures the skew of g and, when it is at least minDeg, turns g
// back by it (a clockwise tilt is undone counterclockwise). It returns the
// measured angle in degrees.
func Deskew(g *image.Gray, maxDeg, minDeg float64) (*image.Gray, float64) {
	a := Skew(g, maxDeg)
	if math.Abs(a) < minDeg {
		return g, a
	}
	return Rotate(g, a), a
}

package preprocess

import (
	"image"
	"sort"
)

// component is a connected set of ink pixels (8-connected).
type component struct {
	box  image.Rectangle
	area int
}

type run struct {
	y, x0, x1 int // [x0, x1)
	parent    int32
}

// components finds the 8-connected components of the pixels darker than
// thr, by runs and union-find: memory grows with the number of runs, not
// of pixels.
func components(g *image.Gray, thr uint8) []component {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	var runs []run
	prevStart, prevEnd := 0, 0
	find := func(i int32) int32 {
		for runs[i].parent != i {
			runs[i].parent = runs[runs[i].parent].parent
			i = runs[i].parent
		}
		return i
	}
	for y := 0; y < h; y++ {
		row := g.Pix[y*g.Stride : y*g.Stride+w]
		start := len(runs)
		for x := 0; x < w; {
			if row[x] >= thr {
				x++
				continue
			}
			x0 := x
			for x < w && row[x] < thr {
				x++
			}
			id := int32(len(runs))
			runs = append(runs, run{y: y, x0: x0, x1: x, parent: id})
			// Runs of the previous row overlapping [x0-1, x] touch this one.
			for p := prevStart; p < prevEnd; p++ {
				pr := runs[p]
				if pr.x1 < x0 || pr.x0 > x {
					continue
				}
				a, b := find(int32(p)), find(id)
				if a != b {
					if a < b {
						runs[b].parent = a
					} else {
						runs[a].parent = b
					}
				}
			}
		}
		prevStart, prevEnd = start, len(runs)
	}
	index := map[int32]int{}
	var out []component
	for i := range runs {
		r := find(int32(i))
		k, ok := index[r]
		rb := image.Rect(runs[i].x0, runs[i].y, runs[i].x1, runs[i].y+1)
		if !ok {
			index[r] = len(out)
			out = append(out, component{box: rb, area: runs[i].x1 - runs[i].x0})
			continue
		}
		out[k].box = out[k].box.Union(rb)
		out[k].area += runs[i].x1 - runs[i].x0
	}
	return out
}

// otsu returns the threshold that best separates the two classes of h
// (Otsu 1979): pixels below it are ink.
func otsu(h [256]int) uint8 {
	total, sum := 0, 0.0
	for i, n := range h {
		total += n
		sum += float64(i * n)
	}
	if total == 0 {
		return 128
	}
	var (
		wB, sumB float64
		best     float64 = -1
		thr      int
	)
	for t := 0; t < 256; t++ {
		wB += float64(h[t])
		if wB == 0 {
			continue
		}
		wF := float64(total) - wB
		if wF == 0 {
			break
		}
		sumB += float64(t * h[t])
		mB, mF := sumB/wB, (sum-sumB)/wF
		if v := wB * wF * (mB - mF) * (mB - mF); v > best {
			best, thr = v, t
		}
	}
	return uint8(thr + 1) // pixels <= thr are the dark class
}

// TextHeight estimates the height in pixels of the characters in g: the
// median height of the connected components that look like glyphs. It
// returns 0 when g shows too few of them to tell.
func TextHeight(g *image.Gray) float64 {
	// A band of 1200 rows around the middle is plenty of text to measure
	// (the body of a receipt, not only its header) and bounds the time on
	// long receipts.
	if h := g.Rect.Dy(); h > 1200 {
		g = g.SubImage(image.Rect(0, h/2-600, g.Rect.Dx(), h/2+600)).(*image.Gray)
		g = &image.Gray{Pix: g.Pix, Stride: g.Stride, Rect: image.Rect(0, 0, g.Rect.Dx(), g.Rect.Dy())}
	}
	thr := otsu(histogram(g))
	w, h := g.Rect.Dx(), g.Rect.Dy()
	var heights []int
	for _, c := range components(g, thr) {
		cw, ch := c.box.Dx(), c.box.Dy()
		if ch < 5 || ch > h/5 || cw > 4*ch || cw > w/3 {
			continue
		}
		fill := float64(c.area) / float64(cw*ch)
		if fill < 0.08 || fill > 0.9 {
			continue
		}
		heights = append(heights, ch)
	}
	if len(heights) < 10 {
		return 0
	}
	sort.Ints(heights)
	// Glyphs are the bulk; take the 60th percentile so lowercase and
	// punctuation fragments pull less than capitals and digits.
	return float64(heights[len(heights)*6/10])
}

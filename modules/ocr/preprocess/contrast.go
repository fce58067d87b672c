package preprocess

import (
	"image"
	"slices"
)

// NormalizeContrast evens out the paper and normalises the ink. Each pixel
// is divided by the local paper brightness (the 90th percentile of each
// cell×cell block, interpolated between block centres), so shadows, fading
// towards an edge and yellowed paper all become white. Then faint ink is
// darkened: when the typical ink of the text blocks (see flatten) is
// lighter than 40, darkness is scaled so that it becomes black, which
// restores faded thermal print. Dark ink is left alone and the paper side
// is never stretched: Tesseract's LSTM reads the soft edges of glyphs, and
// a plain 1st–99th percentile stretch cost 1.6 points of word recall on the
// dev set. cell 0 means 32.
func NormalizeContrast(g *image.Gray, cell int) *image.Gray {
	if cell <= 0 {
		cell = 32
	}
	w, h := g.Rect.Dx(), g.Rect.Dy()
	out := image.NewGray(image.Rect(0, 0, w, h))
	if w == 0 || h == 0 {
		return out
	}
	darkenInk(out, flatten(g, out, cell))
	return out
}

// flatten writes g divided by its background estimate into out (×255).
// It returns the typical darkness of the ink after flattening: the median,
// over the blocks that hold some ink but are mostly paper (text, not a
// dark border or a logo), of each block's 2nd percentile; 0 when no block
// qualifies.
func flatten(g, out *image.Gray, cell int) uint8 {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	gw, gh := (w+cell-1)/cell, (h+cell-1)/cell
	// The paper level of a block is its 90th percentile, not its maximum:
	// a few bright specks (dust on the glass, sensor noise) must not make
	// the block's paper look whiter than it is.
	grid := make([]int32, gw*gh)
	hist := make([][256]int32, gw)
	var inks []uint8
	for gy := 0; gy < gh; gy++ {
		clear(hist)
		y0, y1 := gy*cell, min(h, (gy+1)*cell)
		for y := y0; y < y1; y++ {
			src := g.Pix[y*g.Stride : y*g.Stride+w]
			for cx := range hist {
				hc := &hist[cx]
				for _, v := range src[cx*cell : min(w, (cx+1)*cell)] {
					hc[v]++
				}
			}
		}
		for cx := range hist {
			n := int32((y1 - y0) * (min(w, (cx+1)*cell) - cx*cell))
			// Quantiles from the dark end: 2 %, 50 %, 90 %.
			q := [3]int32{max(1, n/50), max(1, n/2), max(1, n*9/10)}
			var at [3]int32
			acc, k := int32(0), 0
			for v := 0; v < 256 && k < 3; v++ {
				acc += hist[cx][v]
				for k < 3 && acc >= q[k] {
					at[k] = int32(v)
					k++
				}
			}
			paper := max(1, at[2])
			grid[gy*gw+cx] = paper
			if p50, p2 := at[1]*255/paper, at[0]*255/paper; p50 >= 200 && p2 < 180 {
				inks = append(inks, uint8(p2))
			}
		}
	}
	// A block with no paper in it (a logo, a bar code, a thick rule) is far
	// darker than its neighbours: it takes their paper. Other blocks keep
	// their own maximum, so a shadow's gradient is followed closely.
	wide := make([]int32, len(grid))
	for gy := 0; gy < gh; gy++ {
		for gx := 0; gx < gw; gx++ {
			own, m := grid[gy*gw+gx], int32(1)
			for y := max(0, gy-1); y <= min(gh-1, gy+1); y++ {
				for x := max(0, gx-1); x <= min(gw-1, gx+1); x++ {
					m = max(m, grid[y*gw+x])
				}
			}
			if own*4 >= m*3 {
				m = max(own, 1)
			}
			wide[gy*gw+gx] = m
		}
	}
	// v·255/bg as v·recip[bg]>>16: a multiplication, not a division, per
	// pixel.
	var recip [256]int32
	for b := 1; b < 256; b++ {
		recip[b] = int32((255<<16 + b - 1) / b)
	}
	// The background is interpolated linearly between block centres, first
	// down the rows (per row, the value at every block column, in 1/256),
	// then along the row by adding a fixed-point step per pixel.
	centre := func(i int) int { return i*cell + cell/2 }
	col := make([]int32, gw)
	bg := make([]int32, w)
	for y := 0; y < h; y++ {
		gy0 := max(0, min(gh-1, (y-cell/2)/cell))
		if y < cell/2 {
			gy0 = 0
		}
		gy1 := min(gh-1, gy0+1)
		f := int32(max(0, min(cell, y-centre(gy0)))) * 256 / int32(cell)
		for gx := range col {
			col[gx] = wide[gy0*gw+gx]*(256-f) + wide[gy1*gw+gx]*f
		}
		for x := 0; x < min(w, centre(0)); x++ {
			bg[x] = col[0] >> 8
		}
		for i := 0; i+1 < gw; i++ {
			x0, x1 := centre(i), min(w, centre(i+1))
			v := col[i] << 8 // 1/65536
			step := ((col[i+1] - col[i]) << 8) / int32(cell)
			for x := x0; x < x1; x++ {
				bg[x] = v >> 16
				v += step
			}
		}
		for x := centre(gw - 1); x < w; x++ {
			bg[x] = col[gw-1] >> 8
		}
		src := g.Pix[y*g.Stride : y*g.Stride+w]
		dst := out.Pix[y*out.Stride : y*out.Stride+w]
		bg := bg[:len(src)]
		for x, v := range src {
			b := max(1, min(255, bg[x]))
			dst[x] = uint8(min(255, (int32(v)*recip[b])>>16))
		}
	}
	if len(inks) == 0 {
		return 0
	}
	slices.Sort(inks)
	return inks[len(inks)/2]
}

// darkenInk scales darkness (255 − v) so that the ink level becomes black,
// in place. It only ever darkens, and leaves ink that is already dark.
func darkenInk(g *image.Gray, level uint8) {
	if level < 40 || level >= 200 {
		return
	}
	var lut [256]uint8
	for v := range lut {
		d := (255 - v) * 255 / (255 - int(level))
		lut[v] = uint8(255 - min(255, d))
	}
	w := g.Rect.Dx()
	for y := 0; y < g.Rect.Dy(); y++ {
		row := g.Pix[y*g.Stride : y*g.Stride+w]
		for x, v := range row {
			row[x] = lut[v]
		}
	}
}

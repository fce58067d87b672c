package preprocess

import "image"

// CropBorder removes what is not the receipt from the edges of g — dark
// bands left by a scanner lid or a table around a photo, and blank paper —
// and surrounds what remains with pad pixels of white (Tesseract finds
// lines more reliably with a quiet margin). It returns the image and the
// part of g it kept.
func CropBorder(g *image.Gray, pad int) (*image.Gray, image.Rectangle) {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	keep := image.Rect(0, 0, w, h)
	if w < 8 || h < 8 {
		return Pad(g, keep, pad), keep
	}
	thr := otsu(histogram(g))
	dark := func(x, y int) bool { return g.Pix[y*g.Stride+x] < thr }
	rowInk := func(y int, r image.Rectangle) int {
		n := 0
		for x := r.Min.X; x < r.Max.X; x++ {
			if dark(x, y) {
				n++
			}
		}
		return n
	}
	colInk := func(x int, r image.Rectangle) int {
		n := 0
		for y := r.Min.Y; y < r.Max.Y; y++ {
			if dark(x, y) {
				n++
			}
		}
		return n
	}
	// Dark bands: edge rows or columns that are mostly ink. Twice, since
	// stripping the columns of a frame clears its rows and vice versa.
	for pass := 0; pass < 2; pass++ {
		for keep.Dy() > 1 && rowInk(keep.Min.Y, keep)*5 > keep.Dx()*3 {
			keep.Min.Y++
		}
		for keep.Dy() > 1 && rowInk(keep.Max.Y-1, keep)*5 > keep.Dx()*3 {
			keep.Max.Y--
		}
		for keep.Dx() > 1 && colInk(keep.Min.X, keep)*5 > keep.Dy()*3 {
			keep.Min.X++
		}
		for keep.Dx() > 1 && colInk(keep.Max.X-1, keep)*5 > keep.Dy()*3 {
			keep.Max.X--
		}
	}
	// Blank margins: shrink to the rows and columns with some ink, ignoring
	// lone specks.
	minInk := 2
	for keep.Dy() > 1 && rowInk(keep.Min.Y, keep) < minInk {
		keep.Min.Y++
	}
	for keep.Dy() > 1 && rowInk(keep.Max.Y-1, keep) < minInk {
		keep.Max.Y--
	}
	for keep.Dx() > 1 && colInk(keep.Min.X, keep) < minInk {
		keep.Min.X++
	}
	for keep.Dx() > 1 && colInk(keep.Max.X-1, keep) < minInk {
		keep.Max.X--
	}
	if keep.Dx() < 4 || keep.Dy() < 4 { // nothing that looks like content: keep all
		keep = image.Rect(0, 0, w, h)
	}
	return Pad(g, keep, pad), keep
}

// Pad copies the part r of g onto white paper with pad pixels on each side.
func Pad(g *image.Gray, r image.Rectangle, pad int) *image.Gray {
	pad = max(0, pad)
	out := image.NewGray(image.Rect(0, 0, r.Dx()+2*pad, r.Dy()+2*pad))
	for i := range out.Pix {
		out.Pix[i] = 255
	}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		copy(out.Pix[(y-r.Min.Y+pad)*out.Stride+pad:], g.Pix[y*g.Stride+r.Min.X:y*g.Stride+r.Max.X])
	}
	return out
}

package preprocess

import (
	"image"
	"image/color"
)

// Grayscale converts img to 8-bit luminance (ITU-R BT.601, the weights JPEG
// itself uses): a JPEG's Y plane is copied as is, a gray image is returned
// unchanged. Every later step works on one 8-bit channel.
func Grayscale(img image.Image) *image.Gray {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	switch src := img.(type) {
	case *image.Gray:
		if src.Rect.Min == (image.Point{}) {
			return src
		}
		dst := image.NewGray(image.Rect(0, 0, w, h))
		for y := 0; y < h; y++ {
			copy(dst.Pix[y*dst.Stride:y*dst.Stride+w], src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):])
		}
		return dst
	case *image.YCbCr:
		dst := image.NewGray(image.Rect(0, 0, w, h))
		for y := 0; y < h; y++ {
			copy(dst.Pix[y*dst.Stride:y*dst.Stride+w], src.Y[src.YOffset(b.Min.X, b.Min.Y+y):])
		}
		return dst
	case *image.RGBA:
		dst := image.NewGray(image.Rect(0, 0, w, h))
		for y := 0; y < h; y++ {
			s := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):]
			d := dst.Pix[y*dst.Stride : y*dst.Stride+w]
			for x := range d {
				d[x] = luma(s[4*x], s[4*x+1], s[4*x+2])
			}
		}
		return dst
	case *image.NRGBA:
		dst := image.NewGray(image.Rect(0, 0, w, h))
		for y := 0; y < h; y++ {
			s := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):]
			d := dst.Pix[y*dst.Stride : y*dst.Stride+w]
			for x := range d {
				// Transparent pixels are paper: blend onto white.
				a := uint32(s[4*x+3])
				l := uint32(luma(s[4*x], s[4*x+1], s[4*x+2]))
				d[x] = uint8((l*a + 255*(255-a)) / 255)
			}
		}
		return dst
	}
	dst := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r, g, bl, a := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			// Premultiplied: add white where transparent.
			r, g, bl = r+0xffff-a, g+0xffff-a, bl+0xffff-a
			dst.Pix[y*dst.Stride+x] = color.GrayModel.Convert(color.RGBA64{uint16(min(r, 0xffff)), uint16(min(g, 0xffff)), uint16(min(bl, 0xffff)), 0xffff}).(color.Gray).Y
		}
	}
	return dst
}

func luma(r, g, b uint8) uint8 {
	// 19595 + 38470 + 7471 = 65536: the stdlib's color.GrayModel weights.
	return uint8((19595*uint32(r) + 38470*uint32(g) + 7471*uint32(b) + 1<<15) >> 16)
}

// histogram counts the pixels of each gray level.
func histogram(g *image.Gray) (h [256]int) {
	w := g.Rect.Dx()
	for y := 0; y < g.Rect.Dy(); y++ {
		for _, v := range g.Pix[y*g.Stride : y*g.Stride+w] {
			h[v]++
		}
	}
	return h
}

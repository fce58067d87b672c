package preprocess

import (
	"context"
	"image"
	"image/color"
	"math"
	"testing"

	"github.com/ocrpool/ocrpool/modules/ocr/synth"
)

func synthSmall() synth.Options { return synth.Options{FontSize: 16} }

func TestGrayscale(t *testing.T) {
	tests := []struct {
		name string
		img  image.Image
		want uint8
	}{
		{"gray unchanged", uniform(4, 4, 77), 77},
		{"rgba red is dark", rgba(4, 4, color.RGBA{255, 0, 0, 255}), 76},
		{"rgba white", rgba(4, 4, color.RGBA{255, 255, 255, 255}), 255},
		{"ycbcr takes luma", func() image.Image {
			y := image.NewYCbCr(image.Rect(0, 0, 4, 4), image.YCbCrSubsampleRatio420)
			for i := range y.Y {
				y.Y[i] = 123
			}
			return y
		}(), 123},
		{"transparent nrgba is paper", image.NewNRGBA(image.Rect(0, 0, 4, 4)), 255},
		{"paletted (generic path)", func() image.Image {
			p := image.NewPaletted(image.Rect(0, 0, 4, 4), color.Palette{color.Gray{40}})
			return p
		}(), 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := Grayscale(tt.img)
			if g.Rect != image.Rect(0, 0, 4, 4) {
				t.Fatalf("bounds %v", g.Rect)
			}
			if got := g.Pix[5]; got != tt.want {
				t.Errorf("pixel = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestTextHeightAndRescale(t *testing.T) {
	for _, size := range []float64{12, 20, 40} {
		g := receipt(t, synth.Options{FontSize: size})
		th := TextHeight(g)
		// Capitals and digits of Go Mono are about 0.73 of the font size.
		if want := 0.73 * size; math.Abs(th-want) > 0.3*want {
			t.Errorf("font %v px: TextHeight = %v, want about %.0f", size, th, want)
		}
		out, r := Rescale(g, 24, 0.15, 0)
		if r.Scale == 1 {
			if math.Abs(th-24) > 0.15*24+1 {
				t.Errorf("font %v px: not rescaled although text is %v px", size, th)
			}
			continue
		}
		if after := TextHeight(out); math.Abs(after-24) > 5 {
			t.Errorf("font %v px: text is %v px after rescaling by %.2f, want about 24", size, after, r.Scale)
		}
	}
	blank := uniform(200, 200, 255)
	if out, r := Rescale(blank, 24, 0.15, 0); r.Scale != 1 || out != blank {
		t.Errorf("a blank page was rescaled by %v", r.Scale)
	}
	// The pixel cap wins over the target.
	g := receipt(t, synth.Options{FontSize: 10})
	out, _ := Rescale(g, 40, 0, int64(g.Rect.Dx()*g.Rect.Dy()*2))
	if px := out.Rect.Dx() * out.Rect.Dy(); px > g.Rect.Dx()*g.Rect.Dy()*2+g.Rect.Dx()+g.Rect.Dy() {
		t.Errorf("rescaled to %d pixels, over the cap of %d", px, g.Rect.Dx()*g.Rect.Dy()*2)
	}
}

func TestResizeKeepsLevels(t *testing.T) {
	for _, size := range [][2]int{{50, 50}, {300, 120}, {7, 3}, {1, 1}} {
		out := Resize(uniform(100, 60, 200), size[0], size[1])
		if out.Rect.Dx() != size[0] || out.Rect.Dy() != size[1] {
			t.Fatalf("size %v", out.Rect)
		}
		for _, v := range out.Pix {
			if v != 200 {
				t.Fatalf("Resize to %v changed a flat gray to %d", size, v)
			}
		}
	}
}

func TestDenoise(t *testing.T) {
	g := uniform(40, 40, 240)
	// A one-pixel-wide line and isolated specks.
	for x := 5; x < 35; x++ {
		g.Pix[20*g.Stride+x] = 10
	}
	specks := [][2]int{{3, 3}, {30, 8}, {12, 33}}
	for _, p := range specks {
		g.Pix[p[1]*g.Stride+p[0]] = 0
	}
	tests := []struct {
		name     string
		f        func(*image.Gray) *image.Gray
		keepLine bool
	}{
		{"Despeckle", func(g *image.Gray) *image.Gray { return Despeckle(g, 48) }, true},
		{"Median3", Median3, false}, // the reason the pipeline uses Despeckle
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := tt.f(g)
			for _, p := range specks {
				if v := out.Pix[p[1]*out.Stride+p[0]]; v < 200 {
					t.Errorf("speck at %v kept (%d)", p, v)
				}
			}
			line := 0
			for x := 5; x < 35; x++ {
				if out.Pix[20*out.Stride+x] < 128 {
					line++
				}
			}
			if tt.keepLine && line < 28 {
				t.Errorf("the one-pixel line lost %d of 30 pixels", 30-line)
			}
			if !tt.keepLine && line > 0 {
				t.Errorf("a plain median is expected to erase a one-pixel line, kept %d pixels", line)
			}
		})
	}
}

func TestNormalizeContrastFlattensShadow(t *testing.T) {
	g := receipt(t, synth.Options{FontSize: 24, Ink: 110, Paper: 235})
	// A shadow: the paper darkens from 235 to about 120 left to right.
	w := g.Rect.Dx()
	for y := 0; y < g.Rect.Dy(); y++ {
		for x := 0; x < w; x++ {
			i := y*g.Stride + x
			g.Pix[i] = uint8(float64(g.Pix[i]) * (1 - 0.5*float64(x)/float64(w)))
		}
	}
	out := NormalizeContrast(g, 48)
	// Paper (pixels that were bright for their column) is near white
	// everywhere, and the faded ink is darker than before.
	var paper, paperN, inkBefore, inkAfter, inkN float64
	for y := 0; y < g.Rect.Dy(); y++ {
		for x := 0; x < w; x++ {
			before := float64(g.Pix[y*g.Stride+x])
			after := float64(out.Pix[y*out.Stride+x])
			col := 235 * (1 - 0.5*float64(x)/float64(w))
			switch {
			case before > col-10:
				paper += after
				paperN++
			case before < col*0.6:
				inkBefore += before
				inkAfter += after
				inkN++
			}
		}
	}
	if p := paper / paperN; p < 240 {
		t.Errorf("mean paper after = %.0f, want at least 240 across the shadow", p)
	}
	if inkAfter/inkN > inkBefore/inkN-20 {
		t.Errorf("mean ink %.0f → %.0f, want it darker", inkBefore/inkN, inkAfter/inkN)
	}
}

func TestBinarize(t *testing.T) {
	g := receipt(t, synth.Options{FontSize: 20, Noise: 12, Seed: 3})
	for _, tt := range []struct {
		name string
		f    func(*image.Gray) *image.Gray
	}{
		{"otsu", BinarizeOtsu},
		{"sauvola", func(g *image.Gray) *image.Gray { return BinarizeSauvola(g, 31, 0.2) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := tt.f(g)
			for i, v := range out.Pix {
				if v != 0 && v != 255 {
					t.Fatalf("pixel %d = %d, want only 0 or 255", i, v)
				}
			}
			before, after := ink(g), ink(out)
			if after < before*7/10 || after > before*16/10 {
				t.Errorf("ink pixels %d → %d, want about the same", before, after)
			}
		})
	}
	// Clean keeps gray ink but whitens the paper.
	mask := BinarizeSauvola(g, 31, 0.2)
	out := CleanBackground(g, mask, 2, 2)
	var gray, white int
	for i, v := range out.Pix {
		if mask.Pix[i] == 255 && g.Pix[i] > 200 && v == 255 {
			white++
		}
		if v > 0 && v < 255 {
			gray++
		}
	}
	if gray == 0 || white == 0 {
		t.Errorf("CleanBackground: %d gray and %d whitened pixels, want both", gray, white)
	}
}

func TestDeskewRecoversAngle(t *testing.T) {
	for _, angle := range []float64{-7, -3, -0.8, 0, 1.5, 4, 8.5} {
		g := receipt(t, synth.Options{FontSize: 18, Rotate: angle, Noise: 6, Seed: 9})
		got := Skew(g, 10)
		if math.Abs(got-angle) > 0.5 {
			t.Errorf("Skew of a page turned %v° = %.2f°, want within 0.5°", angle, got)
		}
		straight, measured := Deskew(g, 10, 0.2)
		if math.Abs(angle) >= 0.5 {
			if rest := Skew(straight, 10); math.Abs(rest) > 0.5 {
				t.Errorf("after Deskew(%.2f°) the page is still at %.2f°", measured, rest)
			}
		}
	}
	if got := Skew(uniform(100, 100, 255), 10); got != 0 {
		t.Errorf("Skew of a blank page = %v, want 0", got)
	}
}

func TestRotateKeepsBinary(t *testing.T) {
	out := Rotate(BinarizeOtsu(receipt(t, synthSmall())), 3.3)
	if !isBinary(out) {
		t.Fatal("rotating a binary image made gray pixels")
	}
}

func TestCropBorder(t *testing.T) {
	g := receipt(t, synth.Options{FontSize: 18, Border: 25, Seed: 2})
	out, keep := CropBorder(g, 10)
	if keep.Min.X < 25 || keep.Min.Y < 25 || keep.Max.X > g.Rect.Dx()-25 || keep.Max.Y > g.Rect.Dy()-25 {
		t.Errorf("kept %v of %v, want the 25 px frame gone", keep, g.Rect)
	}
	// The margin around the content is white, 10 px wide.
	for y := 0; y < out.Rect.Dy(); y++ {
		for x := 0; x < out.Rect.Dx(); x++ {
			if (x < 10 || y < 10 || x >= out.Rect.Dx()-10 || y >= out.Rect.Dy()-10) && out.Pix[y*out.Stride+x] != 255 {
				t.Fatalf("pixel (%d,%d) of the padding is %d, want white", x, y, out.Pix[y*out.Stride+x])
			}
		}
	}
	// All the text is still there.
	if before, after := ink(g.SubImage(image.Rect(30, 30, g.Rect.Dx()-30, g.Rect.Dy()-30)).(*image.Gray)), ink(out); after < before {
		t.Errorf("ink %d → %d: cropping cut text", before, after)
	}
	// A blank page keeps its size, padded.
	blank, keep := CropBorder(uniform(50, 40, 255), 5)
	if keep != image.Rect(0, 0, 50, 40) || blank.Rect.Dx() != 60 {
		t.Errorf("blank page: kept %v, size %v", keep, blank.Rect)
	}
}

func TestRunSwitchesSteps(t *testing.T) {
	d := Decoded{Image: receipt(t, synth.Options{FontSize: 14, Rotate: 2}), Orientation: 1}
	for _, s := range Steps {
		t.Run("only "+string(s), func(t *testing.T) {
			o := DefaultOptions()
			o.Off = offAllBut(s)
			o.Binarization = Sauvola
			_, rep, err := Run(context.Background(), d, o)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Timings) != 1 || rep.Timings[0].Step != s {
				t.Errorf("timings %v, want only %s", rep.Timings, s)
			}
		})
	}
	o := DefaultOptions()
	o.Off = map[Step]bool{}
	img, rep, err := Run(context.Background(), d, o)
	if err != nil || len(rep.Timings) != len(Steps) || img == nil {
		t.Fatalf("all steps: %d timings, err %v", len(rep.Timings), err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := Run(ctx, d, o); err == nil {
		t.Error("Run on a cancelled context succeeded")
	}
	if _, err := ParseStep("sharpen"); err == nil {
		t.Error("ParseStep accepted an unknown step")
	}
}

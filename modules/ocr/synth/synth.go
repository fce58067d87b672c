// Package synth draws synthetic receipts — text lines in Go's own fonts on
// an image, turned, blurred, faded and speckled on request — together with
// the truth they show. Tests use it so OCR runs on any machine without
// shipping real receipts (whose licences are unclear) in the repository.
package synth

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
	"math/rand/v2"
	"strings"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gomono"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// Receipt is what a receipt says.
type Receipt struct {
	Merchant string
	// Date is as printed, e.g. "14/03/2018".
	Date string
	// Total is as printed, e.g. "48.50".
	Total string
	// Lines are every line top to bottom, Merchant, Date and Total among
	// them.
	Lines []string
}

// Random makes a plausible receipt: a merchant header, address, items,
// subtotal, tax, total, payment and card lines. The same seed gives the
// same receipt.
func Random(seed uint64) Receipt {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	pick := func(xs []string) string { return xs[r.IntN(len(xs))] }
	merchant := pick([]string{"GREEN LEAF CAFE", "KEDAI RUNCIT MAJU", "NORTHSIDE HARDWARE", "BLUE OCEAN BAKERY",
		"PASAR MINI SENTOSA", "CITY BOOK STORE", "GOLDEN WOK RESTAURANT", "HAPPY MART"})
	d, m, y := 1+r.IntN(28), 1+r.IntN(12), 2016+r.IntN(8)
	date := fmt.Sprintf("%02d/%02d/%d", d, m, y)
	items := []string{"COFFEE", "NASI LEMAK", "SCREWS 4MM", "BREAD LOAF", "NOTEBOOK A5", "MINERAL WATER", "TEH TARIK", "BATTERY AA"}
	var (
		lines    = []string{merchant, fmt.Sprintf("NO %d JALAN %s", 1+r.IntN(99), pick([]string{"MERDEKA", "BUNGA RAYA", "AMPANG"})), "TEL 03-" + fmt.Sprint(1000000+r.IntN(8999999)), ""}
		subtotal int
	)
	lines = append(lines, "DATE: "+date+fmt.Sprintf("  %02d:%02d", r.IntN(24), r.IntN(60)), "")
	for i, n := 0, 2+r.IntN(4); i < n; i++ {
		cents := 100 + r.IntN(4900)
		subtotal += cents
		lines = append(lines, row(items[r.IntN(len(items))], money(cents), 30))
	}
	tax := subtotal * 6 / 100
	total := subtotal + tax
	lines = append(lines, "", row("SUBTOTAL", money(subtotal), 30), row("TAX 6%", money(tax), 30),
		row("TOTAL", money(total), 30), row("CASH", money(total+500), 30), row("CHANGE", money(500), 30),
		"", fmt.Sprintf("CARD **** **** **** %04d", r.IntN(10000)), "THANK YOU")
	return Receipt{Merchant: merchant, Date: date, Total: money(total), Lines: lines}
}

func money(cents int) string { return fmt.Sprintf("%d.%02d", cents/100, cents%100) }

// row puts label left and value right in width characters.
func row(label, value string, width int) string {
	pad := width - len(label) - len(value)
	if pad < 1 {
		pad = 1
	}
	return label + strings.Repeat(" ", pad) + value
}

// Options say how the receipt looks.
type Options struct {
	// FontSize is the glyph size in pixels; 0 means 28.
	FontSize float64
	// Proportional draws in Go Regular instead of Go Mono.
	Proportional bool
	// Rotate turns the page by this many degrees, clockwise as displayed.
	Rotate float64
	// Blur is a box blur radius in pixels.
	Blur int
	// Ink and Paper are the gray levels of print and paper; zero values
	// mean 20 and 245. Faded print is Ink 140, say.
	Ink, Paper uint8
	// Noise is the standard deviation of added Gaussian noise, in gray
	// levels; Speckle is the fraction of pixels set to random black or white.
	Noise   float64
	Speckle float64
	// Shade darkens the page from left to right, by this fraction at the
	// right edge (0.4: a shadow that takes 40 % of the light), as a hand or
	// a phone over the receipt does.
	Shade float64
	// Border draws a dark frame this many pixels wide around the page, as a
	// scanner lid leaves.
	Border int
	// Seed drives the noise.
	Seed uint64
}

var (
	fontsOnce         sync.Once
	monoFont, regFont *opentype.Font
	fontErr           error
)

func face(o Options) (font.Face, error) {
	fontsOnce.Do(func() {
		if monoFont, fontErr = opentype.Parse(gomono.TTF); fontErr != nil {
			return
		}
		regFont, fontErr = opentype.Parse(goregular.TTF)
	})
	if fontErr != nil {
		return nil, fontErr
	}
	f := monoFont
	if o.Proportional {
		f = regFont
	}
	size := o.FontSize
	if size <= 0 {
		size = 28
	}
	return opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
}

// Render draws r's lines and applies o's distortions, in the order a real
// receipt suffers them: print (ink, paper), camera (rotation, blur, shade),
// sensor (noise, speckle), scanner (border).
func Render(r Receipt, o Options) (*image.Gray, error) {
	f, err := face(o)
	if err != nil {
		return nil, fmt.Errorf("synth: %w", err)
	}
	defer f.Close()
	ink, paper := o.Ink, o.Paper
	if ink == 0 {
		ink = 20
	}
	if paper == 0 {
		paper = 245
	}
	m := f.Metrics()
	lineH := (m.Height * 5 / 4).Ceil()
	margin := lineH
	width := 0
	for _, l := range r.Lines {
		width = max(width, font.MeasureString(f, l).Ceil())
	}
	img := image.NewGray(image.Rect(0, 0, width+2*margin, len(r.Lines)*lineH+2*margin))
	draw.Draw(img, img.Rect, image.NewUniform(color.Gray{paper}), image.Point{}, draw.Src)
	d := font.Drawer{Dst: img, Src: image.NewUniform(color.Gray{ink}), Face: f}
	for i, l := range r.Lines {
		d.Dot = fixed.P(margin, margin+i*lineH+m.Ascent.Ceil())
		d.DrawString(l)
	}
	out := img
	if o.Rotate != 0 {
		out = rotate(out, o.Rotate, paper)
	}
	if o.Blur > 0 {
		out = boxBlur(out, o.Blur)
	}
	if o.Shade > 0 {
		w := float64(out.Rect.Dx())
		for y := 0; y < out.Rect.Dy(); y++ {
			row := out.Pix[y*out.Stride : y*out.Stride+out.Rect.Dx()]
			for x, v := range row {
				row[x] = uint8(float64(v) * (1 - o.Shade*float64(x)/w))
			}
		}
	}
	rng := rand.New(rand.NewPCG(o.Seed, 7))
	if o.Noise > 0 || o.Speckle > 0 {
		for i, v := range out.Pix {
			f := float64(v) + rng.NormFloat64()*o.Noise
			if o.Speckle > 0 && rng.Float64() < o.Speckle {
				f = float64(255 * rng.IntN(2))
			}
			out.Pix[i] = uint8(math.Max(0, math.Min(255, math.Round(f))))
		}
	}
	if o.Border > 0 {
		b := out.Rect
		for y := 0; y < b.Dy(); y++ {
			for x := 0; x < b.Dx(); x++ {
				if x < o.Border || y < o.Border || x >= b.Dx()-o.Border || y >= b.Dy()-o.Border {
					out.Pix[y*out.Stride+x] = uint8(15 + rng.IntN(20))
				}
			}
		}
	}
	return out, nil
}

// rotate turns g by deg degrees clockwise as displayed, enlarging the
// canvas and filling it with paper. (It is written independently of the
// preprocessing package's Rotate so tests of deskew do not grade
// themselves.)
func rotate(g *image.Gray, deg float64, paper uint8) *image.Gray {
	w, h := float64(g.Rect.Dx()), float64(g.Rect.Dy())
	t := deg * math.Pi / 180
	s, c := math.Sin(t), math.Cos(t)
	nw := int(math.Ceil(math.Abs(w*c) + math.Abs(h*s)))
	nh := int(math.Ceil(math.Abs(w*s) + math.Abs(h*c)))
	out := image.NewGray(image.Rect(0, 0, nw, nh))
	for y := 0; y < nh; y++ {
		for x := 0; x < nw; x++ {
			// Clockwise on screen (y down) is the standard rotation
			// matrix; invert it to find the source pixel.
			dx, dy := float64(x)+0.5-float64(nw)/2, float64(y)+0.5-float64(nh)/2
			sx := c*dx + s*dy + w/2 - 0.5
			sy := -s*dx + c*dy + h/2 - 0.5
			out.Pix[y*out.Stride+x] = bilinear(g, sx, sy, paper)
		}
	}
	return out
}

func bilinear(g *image.Gray, x, y float64, bg uint8) uint8 {
	x0, y0 := int(math.Floor(x)), int(math.Floor(y))
	fx, fy := x-float64(x0), y-float64(y0)
	at := func(x, y int) float64 {
		if x < 0 || y < 0 || x >= g.Rect.Dx() || y >= g.Rect.Dy() {
			return float64(bg)
		}
		return float64(g.Pix[y*g.Stride+x])
	}
	v := (at(x0, y0)*(1-fx)+at(x0+1, y0)*fx)*(1-fy) + (at(x0, y0+1)*(1-fx)+at(x0+1, y0+1)*fx)*fy
	return uint8(math.Round(v))
}

func boxBlur(g *image.Gray, r int) *image.Gray {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	tmp := make([]int, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			s, n := 0, 0
			for k := max(0, x-r); k <= min(w-1, x+r); k++ {
				s += int(g.Pix[y*g.Stride+k])
				n++
			}
			tmp[y*w+x] = s / n
		}
	}
	out := image.NewGray(g.Rect)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			s, n := 0, 0
			for k := max(0, y-r); k <= min(h-1, y+r); k++ {
				s += tmp[k*w+x]
				n++
			}
			out.Pix[y*out.Stride+x] = uint8(s / n)
		}
	}
	return out
}

// Photo returns distortions drawn at random for seed, within what phone
// photos and cheap scans of receipts show: small print to large, turned up
// to 8°, some blur, faded ink, yellowed paper, shadows, noise, specks and
// scanner borders. The same seed gives the same options.
func Photo(seed uint64) Options {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	o := Options{
		FontSize: 14 + 14*r.Float64(),
		Rotate:   16*r.Float64() - 8,
		Ink:      uint8(20 + r.IntN(120)),
		Paper:    uint8(200 + r.IntN(50)),
		Noise:    10 * r.Float64(),
		Seed:     seed,
	}
	if r.IntN(3) == 0 {
		o.Blur = 1
	}
	if r.IntN(2) == 0 {
		o.Shade = 0.5 * r.Float64()
	}
	if r.IntN(3) == 0 {
		o.Speckle = 0.003 * r.Float64()
	}
	if r.IntN(3) == 0 {
		o.Border = 15 + r.IntN(25)
	}
	return o
}

package synth

import (
	"bytes"
	"strings"
	"testing"
)

func TestRandomIsDeterministicAndComplete(t *testing.T) {
	a, b := Random(42), Random(42)
	if strings.Join(a.Lines, "\n") != strings.Join(b.Lines, "\n") {
		t.Fatal("Random(42) differs between calls")
	}
	text := strings.Join(a.Lines, "\n")
	for _, want := range []string{a.Merchant, a.Date, a.Total} {
		if !strings.Contains(text, want) {
			t.Errorf("the lines do not show %q", want)
		}
	}
	if Random(43).Total == a.Total && Random(43).Date == a.Date {
		t.Error("different seeds gave the same receipt")
	}
}

func TestRender(t *testing.T) {
	r := Random(1)
	plain, err := Render(r, Options{FontSize: 20})
	if err != nil {
		t.Fatal(err)
	}
	if plain.Rect.Dx() < 200 || plain.Rect.Dy() < 20*len(r.Lines) {
		t.Fatalf("image %v too small for %d lines", plain.Rect, len(r.Lines))
	}
	dark := 0
	for _, v := range plain.Pix {
		if v < 128 {
			dark++
		}
	}
	if dark == 0 {
		t.Fatal("nothing was drawn")
	}
	turned, err := Render(r, Options{FontSize: 20, Rotate: 5, Blur: 1, Noise: 10, Speckle: 0.001, Border: 8, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if turned.Rect.Dx() <= plain.Rect.Dx() || turned.Rect.Dy() <= plain.Rect.Dy() {
		t.Errorf("a turned page %v should need a larger canvas than %v", turned.Rect, plain.Rect)
	}
	again, _ := Render(r, Options{FontSize: 20, Rotate: 5, Blur: 1, Noise: 10, Speckle: 0.001, Border: 8, Seed: 3})
	if !bytes.Equal(turned.Pix, again.Pix) {
		t.Error("the same options and seed rendered different images")
	}
}

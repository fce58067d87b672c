//go:build notesseract

package engine

import (
	"errors"
	"testing"
)

func TestNewUnavailable(t *testing.T) {
	p, err := New(Config{})
	if p != nil || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("New() = %v, %v; want ErrUnavailable", p, err)
	}
	if want := "built without Tesseract (-tags notesseract): the ocr role is unavailable"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

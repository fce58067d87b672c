//go:build notesseract

package engine

import (
	"context"
	"image"
)

// Pool is the Tesseract engine; in this build it cannot be created.
type Pool struct{}

var _ Engine = (*Pool)(nil)

// New returns ErrUnavailable: this binary was built with -tags notesseract.
func New(Config) (*Pool, error) { return nil, ErrUnavailable }

// Recognize implements Engine; it is never reached.
func (*Pool) Recognize(context.Context, image.Image) (Text, error) { return Text{}, ErrUnavailable }

// Version implements Engine.
func (*Pool) Version() string { return "none" }

// Close implements Engine.
func (*Pool) Close() error { return nil }

// OpenMPThreadLimit is 0: there is no OpenMP in this build.
func OpenMPThreadLimit() int { return 0 }

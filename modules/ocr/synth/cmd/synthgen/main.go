// Command synthgen writes synthetic receipts in the layout `ocrpool eval`
// reads (STEM.png + STEM.json with company, date and total), each with
// distortions drawn by synth.Photo: a labelled set of phone-photo-like
// receipts that anyone can regenerate, for the ablation in docs/OCR.md.
//
//	go run ./modules/ocr/synth/cmd/synthgen -n 40 -out /tmp/synth
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"image/png"
	"os"
	"path/filepath"

	"github.com/ocrpool/ocrpool/modules/ocr/synth"
)

func main() {
	n := flag.Int("n", 40, "number of receipts")
	out := flag.String("out", "", "folder to write into (created)")
	seed := flag.Uint64("seed", 1, "first seed")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "synthgen: -out is required")
		os.Exit(2)
	}
	if err := run(*out, *n, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "synthgen:", err)
		os.Exit(1)
	}
}

func run(dir string, n int, seed uint64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		s := seed + uint64(i)
		r := synth.Random(s)
		img, err := synth.Render(r, synth.Photo(s))
		if err != nil {
			return err
		}
		stem := filepath.Join(dir, fmt.Sprintf("synth%04d", i))
		f, err := os.Create(stem + ".png")
		if err != nil {
			return err
		}
		if err := png.Encode(f, img); err != nil {
			_ = f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		truth, _ := json.Marshal(map[string]string{"company": r.Merchant, "date": r.Date, "total": r.Total})
		if err := os.WriteFile(stem+".json", truth, 0o644); err != nil {
			return err
		}
	}
	return nil
}

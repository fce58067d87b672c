package eval

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Truth is what a labelled receipt says, as written on it.
type Truth struct {
	Company string `json:"company"`
	Date    string `json:"date"`
	Total   string `json:"total"`
}

// Sample is one labelled receipt: STEM.jpg (or .png) with STEM.json.
type Sample struct {
	Stem  string
	Image string // path
	Truth Truth
	// Lines are the receipt's text lines from STEM.box.csv (SROIE's
	// x1,y1,…,y4,text rows) when that file exists; they give the word
	// recall of the OCR, a finer measure than three fields.
	Lines []string
}

// Load lists the labelled receipts in dir, sorted by stem: every image
// (.jpg, .jpeg, .png) with a STEM.json beside it. limit > 0 keeps the first
// limit.
func Load(dir string, limit int) ([]Sample, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	var out []Sample
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if e.IsDir() || (ext != ".jpg" && ext != ".jpeg" && ext != ".png") {
			continue
		}
		stem := strings.TrimSuffix(e.Name(), filepath.Ext(e.Name()))
		raw, err := os.ReadFile(filepath.Join(dir, stem+".json"))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("eval: %w", err)
		}
		var t Truth
		if err := json.Unmarshal(raw, &t); err != nil {
			return nil, fmt.Errorf("eval: %s.json: %w", stem, err)
		}
		lines, err := boxLines(filepath.Join(dir, stem+".box.csv"))
		if err != nil {
			return nil, fmt.Errorf("eval: %w", err)
		}
		out = append(out, Sample{Stem: stem, Image: filepath.Join(dir, e.Name()), Truth: t, Lines: lines})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("eval: no labelled receipts (STEM.jpg + STEM.json) in %s", dir)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Stem < out[j].Stem })
	if limit > 0 && limit < len(out) {
		out = out[:limit]
	}
	return out, nil
}

// boxLines reads the text column of a SROIE box file; a missing file is no
// lines.
func boxLines(path string) ([]string, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, row := range strings.Split(string(raw), "\n") {
		// Eight coordinates, then the text (which may hold commas).
		f := strings.SplitN(strings.TrimRight(row, "\r"), ",", 9)
		if len(f) == 9 {
			lines = append(lines, f[8])
		}
	}
	return lines, nil
}

// DevSetPath is where the SROIE dev receipts live relative to a folder
// that contains the repository: ../shared/datasets/sroie/dev from its root.
const DevSetPath = "shared/datasets/sroie/dev"

// FindDevSet looks for DevSetPath in the working directory and each of its
// parents (tests run in their package's folder) and returns the first
// folder that exists.
func FindDevSet() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		p := filepath.Join(dir, DevSetPath)
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			return p, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

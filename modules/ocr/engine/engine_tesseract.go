//go:build !notesseract

package engine

/*
#cgo LDFLAGS: -lgomp
#include <omp.h>

// single_threaded makes OpenMP parallel regions started from the calling
// OS thread run on that thread alone (see ompSingleThread).
static void single_threaded(void) { omp_set_max_active_levels(0); }
static int thread_limit(void) { return omp_get_thread_limit(); }
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"image"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/otiai10/gosseract/v2"
)

// Pool is an Engine over a fixed set of Tesseract clients.
type Pool struct {
	cfg     Config
	clients chan *gosseract.Client
	all     []*gosseract.Client
	version string

	closeOnce sync.Once
}

var _ Engine = (*Pool)(nil)

// New starts cfg.Size() Tesseract clients, each loaded with the language
// model and checked on a blank page, so a missing language fails here and
// not on the first request.
//
// Tesseract parallelises inside one recognition with OpenMP. With one
// client per core that only adds contention: on 2 cores it is about 2.5×
// slower for identical text (measured: 0.77 s vs 1.9 s for one receipt).
// The usual cure is OMP_THREAD_LIMIT=1, and New sets it with os.Setenv
// before the first client exists, because it is process-global and child
// processes (a tesseract CLI run, a benchmark's baseline) inherit it. But
// libgomp reads its environment once, when it is loaded with the program,
// so for this process the variable only counts if it was set before the
// process started. New therefore also pins each recognition to its OS
// thread and sets that thread's OpenMP max-active-levels to 0, which makes
// every parallel region Tesseract starts from it run on the thread alone,
// whatever the environment said.
func New(cfg Config) (*Pool, error) {
	if err := os.Setenv("OMP_THREAD_LIMIT", "1"); err != nil {
		return nil, fmt.Errorf("engine: set OMP_THREAD_LIMIT: %w", err)
	}
	if cfg.Language == "" {
		cfg.Language = "eng"
	}
	if cfg.PSM == 0 {
		cfg.PSM = int(gosseract.PSM_SINGLE_BLOCK)
	}
	n := cfg.Size()
	p := &Pool{cfg: cfg, clients: make(chan *gosseract.Client, n)}
	blank := encodePNM(image.NewGray(image.Rect(0, 0, 64, 32)))
	for i := 0; i < n; i++ {
		c := gosseract.NewClient()
		p.all = append(p.all, c)
		err := configure(c, cfg)
		if err == nil {
			err = warm(c, blank)
		}
		if err != nil {
			return nil, errors.Join(fmt.Errorf("engine: starting Tesseract client %d (language %q): %w", i+1, cfg.Language, err), p.Close())
		}
		p.clients <- c
	}
	p.version = fmt.Sprintf("tesseract %s %s psm%d", strings.Fields(p.all[0].Version() + " ?")[0], cfg.Language, cfg.PSM)
	return p, nil
}

func configure(c *gosseract.Client, cfg Config) error {
	if err := c.SetLanguage(strings.Split(cfg.Language, "+")...); err != nil {
		return err
	}
	// As variables, applied right after Init: a page segmentation mode set
	// on the API before Init would be reset by it.
	vars := map[gosseract.SettableVariable]string{
		"tessedit_pageseg_mode": strconv.Itoa(cfg.PSM),
		gosseract.DEBUG_FILE:    os.DevNull, // no "Estimating resolution" chatter on stderr
	}
	for k, v := range cfg.Variables {
		vars[gosseract.SettableVariable(k)] = v
	}
	if cfg.DPI > 0 {
		vars["user_defined_dpi"] = strconv.Itoa(cfg.DPI)
	}
	for k, v := range vars {
		if err := c.SetVariable(k, v); err != nil {
			return err
		}
	}
	return nil
}

// warm runs a first recognition, which loads the model.
func warm(c *gosseract.Client, img []byte) error {
	if err := c.SetImageFromBytes(img); err != nil {
		return err
	}
	_, err := recognize(c)
	return err
}

// Recognize implements Engine.
func (p *Pool) Recognize(ctx context.Context, img image.Image) (Text, error) {
	if img == nil || img.Bounds().Empty() {
		return Text{}, errors.New("engine: empty image")
	}
	data := encodePNM(img)
	start := time.Now()
	var c *gosseract.Client
	select {
	case c = <-p.clients:
	case <-ctx.Done():
		return Text{}, ctx.Err()
	}
	defer func() { p.clients <- c }()
	if p.cfg.OnWait != nil {
		p.cfg.OnWait(time.Since(start))
	}
	if err := c.SetImageFromBytes(data); err != nil {
		return Text{}, fmt.Errorf("engine: %w", err)
	}
	words, err := recognize(c)
	if err != nil {
		return Text{}, fmt.Errorf("engine: %w", err)
	}
	return assemble(words), nil
}

// recognize runs Tesseract on the client's image, single-threaded (see
// New), and returns its words in reading order. One pass gives both the
// text and the word confidences.
func recognize(c *gosseract.Client) ([]word, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	C.single_threaded()
	boxes, err := c.GetBoundingBoxesVerbose()
	if err != nil {
		return nil, err
	}
	words := make([]word, 0, len(boxes))
	for _, b := range boxes {
		if strings.TrimSpace(b.Word) == "" {
			continue
		}
		words = append(words, word{text: b.Word, conf: b.Confidence, block: b.BlockNum, par: b.ParNum, line: b.LineNum})
	}
	return words, nil
}

// Version implements Engine.
func (p *Pool) Version() string { return p.version }

// Close implements Engine.
func (p *Pool) Close() error {
	p.closeOnce.Do(func() {
		for _, c := range p.all {
			_ = c.Close()
		}
	})
	return nil
}

// OpenMPThreadLimit is libgomp's thread limit as read from the environment
// when the process started (2147483647 when OMP_THREAD_LIMIT was unset).
func OpenMPThreadLimit() int { return int(C.thread_limit()) }

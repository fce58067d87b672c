package ocr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/ocrpool/ocrpool/config"
	"github.com/ocrpool/ocrpool/modules/ocr/engine"
	"github.com/ocrpool/ocrpool/modules/ocr/extract"
	"github.com/ocrpool/ocrpool/modules/ocr/preprocess"
	"github.com/ocrpool/ocrpool/modules/platform/apierr"
	"github.com/ocrpool/ocrpool/modules/platform/version"
)

// BuiltinRelease names the release served until a routing (routing.go)
// says otherwise: the rules compiled into this binary plus the active
// pattern set.
const BuiltinRelease = "builtin"

// MaxTextBytes is the longest text /ocr/extract accepts; receipts are a few
// kilobytes.
const MaxTextBytes = 64 << 10

// minSide is the smallest image side that can hold a line of text.
const minSide = 16

// Service reads receipts: decode, preprocess, OCR, extract. It has no HTTP
// in it; handlers, the eval command and benchmarks call it directly.
// Safe for concurrent use.
type Service struct {
	cfg       config.OCRConfig
	log       *slog.Logger
	eng       engine.Engine
	pre       preprocess.Options
	plain     preprocess.Options // the second read's: orient and grayscale
	limits    preprocess.Limits
	dateOrder extract.DateOrder
	rules     string

	// slots admits as many requests as there are Tesseract clients: decoding
	// and preprocessing a 40-megapixel image takes hundreds of megabytes, so
	// waiting requests hold only their encoded bytes.
	slots    chan struct{}
	metrics  *metrics
	outcomes *outcomes
	patterns patternHolder
	// patternErr is the outcome of the last pattern reload (learned.go).
	patternErr atomic.Pointer[patternState]
	// routing picks each request's release (routing.go); versions loads
	// the pattern sets releases pin.
	routing  atomic.Pointer[routing]
	versions VersionLoader
}

// PreprocessOptions turns the config section into pipeline options.
func PreprocessOptions(c config.OCRPreprocessConfig, maxPixels int64) preprocess.Options {
	o := preprocess.DefaultOptions()
	o.Off = map[preprocess.Step]bool{
		preprocess.StepOrient:    !c.Orient,
		preprocess.StepGrayscale: !c.Grayscale,
		preprocess.StepRescale:   !c.Rescale,
		preprocess.StepDenoise:   !c.Denoise,
		preprocess.StepContrast:  !c.Contrast,
		preprocess.StepBinarize:  !c.Binarize,
		preprocess.StepDeskew:    !c.Deskew,
		preprocess.StepBorder:    !c.Border,
	}
	o.TextHeight = c.TextHeight
	o.RescaleTolerance = c.RescaleTolerance
	o.Binarization = c.Binarization
	o.MaxSkew = c.MaxSkew
	o.Padding = c.Padding
	if maxPixels > 0 && maxPixels < o.MaxPixels {
		o.MaxPixels = maxPixels
	}
	return o
}

// plainOptions keep only orient and grayscale (as configured) for the
// second read.
func plainOptions(c config.OCRPreprocessConfig, maxPixels int64) preprocess.Options {
	o := PreprocessOptions(c, maxPixels)
	for _, st := range preprocess.Steps {
		if st != preprocess.StepOrient && st != preprocess.StepGrayscale {
			o.Off[st] = true
		}
	}
	return o
}

// SetStep switches one preprocessing step on or off in c by its name
// (orient, grayscale, rescale, denoise, contrast, binarize, deskew,
// border), for `ocrpool eval --disable-step` and ablations.
func SetStep(c *config.OCRPreprocessConfig, name string, on bool) error {
	s, err := preprocess.ParseStep(name)
	if err != nil {
		return err
	}
	switch s {
	case preprocess.StepOrient:
		c.Orient = on
	case preprocess.StepGrayscale:
		c.Grayscale = on
	case preprocess.StepRescale:
		c.Rescale = on
	case preprocess.StepDenoise:
		c.Denoise = on
	case preprocess.StepContrast:
		c.Contrast = on
	case preprocess.StepBinarize:
		c.Binarize = on
	case preprocess.StepDeskew:
		c.Deskew = on
	case preprocess.StepBorder:
		c.Border = on
	}
	return nil
}

// newService builds the logic over an engine; m and out may not be nil.
func newService(cfg config.OCRConfig, eng engine.Engine, log *slog.Logger, m *metrics, out *outcomes) *Service {
	n := cfg.PoolSize
	if n <= 0 {
		n = engine.Config{}.Size()
	}
	order := extract.DateOrderAuto
	switch cfg.DateOrder {
	case "dmy":
		order = extract.DateOrderDMY
	case "mdy":
		order = extract.DateOrderMDY
	}
	s := &Service{
		cfg:       cfg,
		log:       log,
		eng:       eng,
		pre:       PreprocessOptions(cfg.Preprocess, cfg.MaxImagePixels),
		plain:     plainOptions(cfg.Preprocess, cfg.MaxImagePixels),
		limits:    preprocess.Limits{MaxBytes: cfg.MaxImageBytes, MaxPixels: cfg.MaxImagePixels, Timeout: cfg.DecodeTimeout},
		dateOrder: order,
		rules:     "builtin@" + version.Get().Version,
		slots:     make(chan struct{}, n),
		metrics:   m,
		outcomes:  out,
	}
	s.routing.Store(&routing{Routing: DefaultRouting()})
	return s
}

// Process reads a receipt image. Errors are *apierr.Error: the codes of
// preprocess.Decode for bad images (400, 413, 415, 422), Unprocessable for
// an image too small to hold text or that OCR cannot read, Unavailable
// when every worker stayed busy for ocr.queue_timeout, Timeout when ctx's
// deadline passed.
func (s *Service) Process(ctx context.Context, image []byte, opts Options) (res Result, err error) {
	start := time.Now()
	defer func() { s.finish("process", start, &res, err, opts) }()

	if err := s.acquire(ctx); err != nil {
		return Result{}, err
	}
	defer func() { <-s.slots }()

	timings := map[string]float64{}
	step := func(name string, d time.Duration) {
		timings[name] = ms(d)
		s.metrics.steps.WithLabelValues(name).Observe(d.Seconds())
	}

	t := time.Now()
	dec, err := preprocess.Decode(ctx, image, s.limits)
	step("decode", time.Since(t))
	if err != nil {
		return Result{}, ctxErr(err)
	}
	if b := dec.Image.Bounds(); b.Dx() < minSide || b.Dy() < minSide {
		return Result{}, apierr.New(apierr.Unprocessable, "the image is %dx%d pixels, too small to hold text (at least %dx%d)", b.Dx(), b.Dy(), minSide, minSide)
	}
	img, rep, err := preprocess.Run(ctx, dec, s.pre)
	for _, tm := range rep.Timings {
		step(string(tm.Step), tm.Duration)
	}
	if err != nil {
		return Result{}, ctxErr(err)
	}

	t = time.Now()
	txt, err := s.eng.Recognize(ctx, img)
	step("ocr", time.Since(t))
	if err != nil {
		if ce := ctxErr(err); apierr.CodeOf(ce) != apierr.Internal {
			return Result{}, ce
		}
		// Tesseract fails on pathological pages (nothing but noise, say):
		// a property of the image, not an outage.
		s.log.WarnContext(ctx, "ocr failed", "err", err)
		return Result{}, apierr.New(apierr.Unprocessable, "OCR could not read the image")
	}

	rel := s.release(opts)
	res = s.extract(txt.Text, timings, rel)
	conf := txt.Confidence
	if s.cfg.SecondRead && (res.Fields.Amount == nil || res.Fields.Date == nil) {
		s.secondRead(ctx, dec, &res, &conf, step, rel)
	}
	res.OCRConfidence = &conf
	res.Versions.Engine = s.eng.Version()
	res.TimingsMS["total"] = ms(time.Since(start))
	return res, nil
}

// secondRead reads the image again when the first read yielded no amount
// or no date: with only orient and grayscale, so Tesseract sees the
// capture as it is. Tesseract's character errors depend on the exact
// pixels, so a second, differently prepared image often gets right the
// line the first got wrong. Fields the first read lacks are taken from the
// second (their source marked "@read2"), and the text becomes both reads.
// A failure of the second read leaves the first result as it was.
func (s *Service) secondRead(ctx context.Context, dec preprocess.Decoded, res *Result, conf *float64, step func(string, time.Duration), rel release) {
	t := time.Now()
	img, _, err := preprocess.Run(ctx, dec, s.plain)
	if err != nil {
		return
	}
	txt, err := s.eng.Recognize(ctx, img)
	step("ocr_second_read", time.Since(t))
	if err != nil {
		return
	}
	second := s.extract(txt.Text, map[string]float64{}, rel)
	filled := 0
	fill := func(dst **Field, src *Field) {
		if *dst == nil && src != nil {
			f := *src
			f.Source += "@read2"
			*dst = &f
			filled++
		}
	}
	fill(&res.Fields.Merchant, second.Fields.Merchant)
	fill(&res.Fields.Amount, second.Fields.Amount)
	fill(&res.Fields.Currency, second.Fields.Currency)
	fill(&res.Fields.Date, second.Fields.Date)
	fill(&res.Fields.Category, second.Fields.Category)
	fill(&res.Fields.CardLastFour, second.Fields.CardLastFour)
	if filled > 0 {
		res.Text += "\n\n" + txt.Text
		*conf = (*conf + txt.Confidence) / 2
	}
}

// Extract runs the extraction on text that was read elsewhere. Errors:
// Invalid when text is empty or not UTF-8, TooLarge over MaxTextBytes.
func (s *Service) Extract(ctx context.Context, text string, opts Options) (res Result, err error) {
	start := time.Now()
	defer func() { s.finish("extract", start, &res, err, opts) }()
	switch {
	case strings.TrimSpace(text) == "":
		return Result{}, apierr.Field("text", "must not be empty")
	case len(text) > MaxTextBytes:
		return Result{}, apierr.New(apierr.TooLarge, "text is %d bytes, over the limit of %d", len(text), MaxTextBytes)
	case !utf8.ValidString(text):
		return Result{}, apierr.Field("text", "must be valid UTF-8")
	}
	if err := ctx.Err(); err != nil {
		return Result{}, ctxErr(err)
	}
	res = s.extract(text, map[string]float64{}, s.release(opts))
	res.TimingsMS["total"] = ms(time.Since(start))
	return res, nil
}

// release is a request's release, chosen once so that both reads of a
// receipt apply the same one.
type release struct {
	name     string
	patterns extract.Patterns
}

func (s *Service) release(opts Options) release {
	name, p := s.route(opts.RoutingKey)
	return release{name: name, patterns: p}
}

func (s *Service) extract(text string, timings map[string]float64, rel release) Result {
	t := time.Now()
	p := rel.patterns
	ex := extract.New(extract.Options{ReferenceDate: time.Now(), DateOrder: s.dateOrder, DefaultCurrency: s.cfg.DefaultCurrency})
	f := ex.Extract(text, p)
	d := time.Since(t)
	timings["extract"] = ms(d)
	s.metrics.steps.WithLabelValues("extract").Observe(d.Seconds())
	v := Versions{Release: rel.name, Rules: s.rules}
	if p != nil {
		v.PatternSet = p.Version()
	}
	return Result{Text: text, Fields: fieldsFrom(f, s.cfg.ReviewThreshold), Versions: v, TimingsMS: timings}
}

// acquire waits for a worker slot, at most ocr.queue_timeout.
func (s *Service) acquire(ctx context.Context) error {
	start := time.Now()
	timer := time.NewTimer(s.cfg.QueueTimeout)
	defer timer.Stop()
	select {
	case s.slots <- struct{}{}:
		s.metrics.poolWait.Observe(time.Since(start).Seconds())
		return nil
	case <-timer.C:
		return apierr.New(apierr.Unavailable, "all %d OCR workers stayed busy for %s: retry later", cap(s.slots), s.cfg.QueueTimeout)
	case <-ctx.Done():
		return ctxErr(ctx.Err())
	}
}

// finish counts the request and publishes its outcome.
func (s *Service) finish(endpoint string, start time.Time, res *Result, err error, opts Options) {
	result := "ok"
	if err != nil {
		result = string(apierr.CodeOf(err))
	}
	s.metrics.requests.WithLabelValues(endpoint, result).Inc()
	o := Outcome{
		Rules: s.rules, Endpoint: endpoint, App: opts.App, Success: err == nil, Duration: time.Since(start), At: time.Now(),
	}
	if err != nil {
		// The release the request was (or would have been) routed to, so a
		// candidate's failures count against it.
		o.Release, _ = s.route(opts.RoutingKey)
		o.Code = apierr.CodeOf(err)
	} else {
		o.Release = res.Versions.Release
		o.PatternSet = res.Versions.PatternSet
		o.OCRConfidence = res.OCRConfidence
		o.Confidences = map[string]float64{}
		res.Fields.each(func(name string, f *Field) {
			if f != nil {
				o.Confidences[name] = f.Confidence
			}
		})
	}
	s.outcomes.publish(o)
}

// ctxErr gives context errors their apierr codes; other errors pass.
func ctxErr(err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return apierr.New(apierr.Timeout, "the request took longer than its deadline")
	case errors.Is(err, context.Canceled):
		return apierr.New(apierr.Unavailable, "the request was cancelled")
	}
	return err
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// String describes the service for logs.
func (s *Service) String() string {
	return fmt.Sprintf("ocr(%s, %d workers)", s.eng.Version(), cap(s.slots))
}

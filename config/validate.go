package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/robfig/cron/v3"
)

// Validate checks every key that can be checked without knowing the roles
// (the role-dependent rules live with the role table in package modules).
// The first error names the key and says why it is wrong.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}

	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		bad("log.format", "must be json or text, got %q", c.Log.Format)
	}

	if _, _, err := net.SplitHostPort(c.Server.Addr); err != nil {
		bad("server.addr", "must be host:port or :port, got %q", c.Server.Addr)
	}
	if c.Server.ShutdownTimeout <= 0 {
		bad("server.shutdown_timeout", "must be positive, got %s", c.Server.ShutdownTimeout)
	}
	if c.Server.ShutdownDelay < 0 || c.Server.ShutdownDelay >= c.Server.ShutdownTimeout {
		bad("server.shutdown_delay", "must be at least 0 and less than server.shutdown_timeout, got %s", c.Server.ShutdownDelay)
	}
	if c.Server.ReadHeaderTimeout <= 0 {
		bad("server.read_header_timeout", "must be positive, got %s", c.Server.ReadHeaderTimeout)
	}
	if c.Server.MaxBodyBytes < 1024 {
		bad("server.max_body_bytes", "must be at least 1024, got %d", c.Server.MaxBodyBytes)
	}
	if (c.Server.TLS.CertFile == "") != (c.Server.TLS.KeyFile == "") {
		bad("server.tls", "cert_file and key_file must be set together")
	}

	if c.Database.URL != "" {
		u, err := url.Parse(c.Database.URL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			bad("database.url", "must be a postgres:// URL (empty means embedded SQLite)")
		}
	} else if strings.TrimSpace(c.Database.Path) == "" {
		bad("database.path", "must be set when database.url is empty")
	}
	if c.Database.MaxOpenConns < 1 {
		bad("database.max_open_conns", "must be at least 1, got %d", c.Database.MaxOpenConns)
	}
	if c.Redis.URL != "" {
		if u, err := url.Parse(c.Redis.URL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
			bad("redis.url", "must be a redis:// or rediss:// URL (empty means embedded miniredis)")
		}
	}
	for key, raw := range map[string]string{
		"peers.datapool_url": c.Peers.DatapoolURL,
		"peers.training_url": c.Peers.TrainingURL,
		"peers.ocr_url":      c.Peers.OCRURL,
	} {
		if raw == "" {
			continue
		}
		if u, err := url.Parse(raw); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(key, "must be an http(s) URL, got %q", raw)
		}
	}
	if c.Peers.Timeout <= 0 {
		bad("peers.timeout", "must be positive, got %s", c.Peers.Timeout)
	}

	if c.Security.KeyCacheTTL < 0 {
		bad("security.key_cache_ttl", "must not be negative")
	}
	rl := c.Security.RateLimits
	for key, v := range map[string]float64{
		"security.rate_limits.app":              rl.App,
		"security.rate_limits.admin":            rl.Admin,
		"security.rate_limits.training_service": rl.TrainingService,
	} {
		if v < 0 {
			bad(key, "must not be negative (0 means unlimited)")
		}
	}
	if rl.BurstSeconds <= 0 {
		bad("security.rate_limits.burst_seconds", "must be positive")
	}
	if c.Security.AuditBuffer < 1 {
		bad("security.audit_buffer", "must be at least 1")
	}

	if c.Scheduler.LockTTL <= 0 {
		bad("scheduler.lock_ttl", "must be positive")
	}
	for key, expr := range map[string]string{
		"datapool.pattern_refresh_cron": c.Datapool.PatternRefreshCron,
		"training.run_cron":             c.Training.RunCron,
	} {
		if _, err := cron.ParseStandard(expr); err != nil {
			bad(key, "not a cron expression: %v", err)
		}
	}
	if c.Datapool.MaxBatch < 1 {
		bad("datapool.max_batch", "must be at least 1")
	}
	if c.Datapool.MinFrequency < 1 {
		bad("datapool.min_frequency", "must be at least 1")
	}
	if c.Datapool.PatternHoldout < 0 || c.Datapool.PatternHoldout > 50 {
		bad("datapool.pattern_holdout", "must be a percentage between 0 and 50")
	}
	if c.Datapool.MinQuality < 0 || c.Datapool.MinQuality > 1 {
		bad("datapool.min_quality", "must be between 0 and 1")
	}
	if c.Datapool.PatternWindow <= 0 {
		bad("datapool.pattern_window", "must be positive")
	}

	prev := 0
	for _, p := range c.Deployment.CanarySteps {
		if p <= prev || p > 100 {
			bad("deployment.canary_steps", "must rise strictly within 1..100, got %v", c.Deployment.CanarySteps)
			break
		}
		prev = p
	}
	if len(c.Deployment.CanarySteps) == 0 || prev != 100 {
		bad("deployment.canary_steps", "must end at 100, got %v", c.Deployment.CanarySteps)
	}
	if c.Deployment.MaxErrorRate <= 0 || c.Deployment.MaxErrorRate >= 1 {
		bad("deployment.max_error_rate", "must be a fraction between 0 and 1")
	}

	if c.OCR.PoolSize < 0 {
		bad("ocr.pool_size", "must not be negative (0 means one per CPU)")
	}
	if c.OCR.MaxImageBytes < 1024 {
		bad("ocr.max_image_bytes", "must be at least 1024")
	}
	if c.OCR.MaxImagePixels < 10_000 {
		bad("ocr.max_image_pixels", "must be at least 10000")
	}
	if strings.TrimSpace(c.OCR.Language) == "" {
		bad("ocr.language", "must name a Tesseract language, e.g. eng")
	}
	if c.OCR.PSM < 0 || c.OCR.PSM > 13 {
		bad("ocr.psm", "must be a Tesseract page segmentation mode 0..13, got %d", c.OCR.PSM)
	}
	if c.OCR.DPI != 0 && (c.OCR.DPI < 70 || c.OCR.DPI > 2400) {
		bad("ocr.dpi", "must be 0 (let Tesseract guess) or 70..2400, got %d", c.OCR.DPI)
	}
	if c.OCR.DecodeTimeout <= 0 {
		bad("ocr.decode_timeout", "must be positive, got %s", c.OCR.DecodeTimeout)
	}
	if c.OCR.QueueTimeout <= 0 {
		bad("ocr.queue_timeout", "must be positive, got %s", c.OCR.QueueTimeout)
	}
	if c.OCR.ReviewThreshold < 0 || c.OCR.ReviewThreshold > 1 {
		bad("ocr.review_threshold", "must be between 0 and 1, got %v", c.OCR.ReviewThreshold)
	}
	switch c.OCR.DateOrder {
	case "auto", "dmy", "mdy":
	default:
		bad("ocr.date_order", "must be auto, dmy or mdy, got %q", c.OCR.DateOrder)
	}
	if cur := c.OCR.DefaultCurrency; cur != "" && (len(cur) != 3 || strings.ToUpper(cur) != cur || strings.Trim(cur, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "") {
		bad("ocr.default_currency", "must be empty or an ISO 4217 code such as MYR, got %q", cur)
	}
	if c.OCR.OutcomesMaxLen < 0 {
		bad("ocr.outcomes_max_len", "must not be negative (0 keeps every outcome)")
	}
	pp := c.OCR.Preprocess
	if pp.TextHeight < 8 || pp.TextHeight > 200 {
		bad("ocr.preprocess.text_height", "must be 8..200 pixels, got %v", pp.TextHeight)
	}
	if pp.RescaleTolerance < 0 || pp.RescaleTolerance > 10 {
		bad("ocr.preprocess.rescale_tolerance", "must be 0..10, got %v", pp.RescaleTolerance)
	}
	switch pp.Binarization {
	case "sauvola", "otsu", "clean":
	default:
		bad("ocr.preprocess.binarization", "must be sauvola, otsu or clean, got %q", pp.Binarization)
	}
	if pp.MaxSkew < 0 || pp.MaxSkew > 45 {
		bad("ocr.preprocess.max_skew", "must be 0..45 degrees, got %v", pp.MaxSkew)
	}
	if pp.Padding < 0 || pp.Padding > 1000 {
		bad("ocr.preprocess.padding", "must be 0..1000 pixels, got %d", pp.Padding)
	}
	return errors.Join(errs...)
}

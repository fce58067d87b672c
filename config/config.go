// Package config holds ocrpool's configuration: one struct tree, its defaults,
// how it is loaded (flags > OCRPOOL_* environment > file > defaults) and how it
// is validated. It is a leaf package: modules receive their own section by
// value and never see viper.
package config

import "time"

// Config is the whole configuration of one ocrpool process.
type Config struct {
	// Roles selects the modules this process runs: "all" or a comma-separated
	// list of datapool, training, ocr.
	Roles string `mapstructure:"roles"`

	Log        LogConfig        `mapstructure:"log"`
	Server     ServerConfig     `mapstructure:"server"`
	Database   DatabaseConfig   `mapstructure:"database"`
	Redis      RedisConfig      `mapstructure:"redis"`
	Peers      PeersConfig      `mapstructure:"peers"`
	Security   SecurityConfig   `mapstructure:"security"`
	Scheduler  SchedulerConfig  `mapstructure:"scheduler"`
	Datapool   DatapoolConfig   `mapstructure:"datapool"`
	Training   TrainingConfig   `mapstructure:"training"`
	Deployment DeploymentConfig `mapstructure:"deployment"`
	OCR        OCRConfig        `mapstructure:"ocr"`
}

// LogConfig controls the process logger.
type LogConfig struct {
	// Level is debug, info, warn or error.
	Level string `mapstructure:"level"`
	// Format is json or text.
	Format string `mapstructure:"format"`
}

// ServerConfig is the one HTTP server of a process.
type ServerConfig struct {
	Addr string `mapstructure:"addr"`
	// ShutdownTimeout bounds the whole graceful shutdown.
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
	// ShutdownDelay keeps serving (with /readyz at 503) so load balancers
	// notice before connections are refused.
	ShutdownDelay     time.Duration `mapstructure:"shutdown_delay"`
	ReadHeaderTimeout time.Duration `mapstructure:"read_header_timeout"`
	// MaxBodyBytes caps every request body; bigger bodies get 413.
	MaxBodyBytes int64     `mapstructure:"max_body_bytes"`
	TLS          TLSConfig `mapstructure:"tls"`
}

// TLSConfig turns on HTTPS when both files are set.
type TLSConfig struct {
	CertFile string `mapstructure:"cert_file"`
	KeyFile  string `mapstructure:"key_file"`
}

// Enabled reports whether HTTPS is configured.
func (t TLSConfig) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// DatabaseConfig selects PostgreSQL (URL set) or the embedded SQLite file.
type DatabaseConfig struct {
	// URL is a PostgreSQL URL; empty means the embedded SQLite file at Path.
	URL  string `mapstructure:"url"`
	Path string `mapstructure:"path"`
	// AutoMigrate applies pending migrations at start (serve --migrate).
	AutoMigrate  bool `mapstructure:"auto_migrate"`
	MaxOpenConns int  `mapstructure:"max_open_conns"`
	MaxIdleConns int  `mapstructure:"max_idle_conns"`
}

// Embedded reports whether the database is the in-process SQLite file.
func (d DatabaseConfig) Embedded() bool { return d.URL == "" }

// RedisConfig selects a Redis server (URL set) or an in-process miniredis.
type RedisConfig struct {
	URL string `mapstructure:"url"`
	// KeyPrefix is put before every key and channel, so several deployments
	// (or test runs) can share one Redis.
	KeyPrefix string `mapstructure:"key_prefix"`
}

// Embedded reports whether Redis is the in-process miniredis.
func (r RedisConfig) Embedded() bool { return r.URL == "" }

// PeersConfig says where roles that do not run in this process are reached.
type PeersConfig struct {
	DatapoolURL string `mapstructure:"datapool_url"`
	TrainingURL string `mapstructure:"training_url"`
	OCRURL      string `mapstructure:"ocr_url"`
	// ServiceKey is the training_service API key this process presents to peers.
	ServiceKey string        `mapstructure:"service_key"`
	Timeout    time.Duration `mapstructure:"timeout"`
}

// SecurityConfig holds secrets and access limits.
type SecurityConfig struct {
	// PIIKey is the HMAC secret for user id hashes. Empty with the embedded
	// database means a generated secret kept in the data directory.
	PIIKey string `mapstructure:"pii_key"`
	// KeyCacheTTL bounds how long a revoked key may still be accepted by
	// another process sharing the database.
	KeyCacheTTL time.Duration `mapstructure:"key_cache_ttl"`
	// RateLimits are requests per second per key, by role; 0 means unlimited.
	RateLimits RateLimitConfig `mapstructure:"rate_limits"`
	// AuditBuffer is how many audit rows may wait for the writer. When it
	// is full, requests wait for room rather than drop a row.
	AuditBuffer int `mapstructure:"audit_buffer"`
}

// RateLimitConfig is a token bucket per API key: Rate tokens per second, up
// to Burst at once, per role.
type RateLimitConfig struct {
	App             float64 `mapstructure:"app"`
	Admin           float64 `mapstructure:"admin"`
	TrainingService float64 `mapstructure:"training_service"`
	// BurstSeconds is how many seconds of rate a key may spend at once.
	BurstSeconds float64 `mapstructure:"burst_seconds"`
}

// SchedulerConfig controls the process's job scheduler.
type SchedulerConfig struct {
	// Enabled turns scheduled jobs on; CLI commands run jobs directly.
	Enabled bool `mapstructure:"enabled"`
	// LockTTL is how long a job's distributed lock lives if its holder dies.
	LockTTL time.Duration `mapstructure:"lock_ttl"`
}

// DatapoolConfig is the data pool module's section.
type DatapoolConfig struct {
	// MaxBatch is the largest number of corrections one ingest request may carry.
	MaxBatch int `mapstructure:"max_batch"`
	// PatternRefreshCron schedules pattern learning (cron, UTC).
	PatternRefreshCron string        `mapstructure:"pattern_refresh_cron"`
	PatternWindow      time.Duration `mapstructure:"pattern_window"`
	MinFrequency       int           `mapstructure:"min_frequency"`
	MinQuality         float64       `mapstructure:"min_quality"`
	// PatternHoldout is the percentage of corrections (chosen by a stable
	// hash of their id) a new pattern set is not learned from but validated
	// on; 0 learns from all and makes the validation gate a formality.
	PatternHoldout int `mapstructure:"pattern_holdout"`
}

// TrainingConfig is the training module's section.
type TrainingConfig struct {
	// RunCron schedules training runs (cron, UTC).
	RunCron string `mapstructure:"run_cron"`
}

// DeploymentConfig is the deployment module's section.
type DeploymentConfig struct {
	// CanarySteps are the traffic percentages a canary walks through.
	CanarySteps []int `mapstructure:"canary_steps"`
	// CanaryHold is how long each step must stay healthy before promotion.
	CanaryHold time.Duration `mapstructure:"canary_hold"`
	// MaxErrorRate triggers an automatic rollback, as a fraction (0.05 = 5 %).
	MaxErrorRate float64 `mapstructure:"max_error_rate"`
}

// OCRConfig is the OCR module's section.
type OCRConfig struct {
	// Language is Tesseract's language, e.g. eng or eng+msa.
	Language string `mapstructure:"language"`
	// PoolSize is the number of Tesseract clients; 0 means one per CPU.
	PoolSize int `mapstructure:"pool_size"`
	// PSM is Tesseract's page segmentation mode: 6 (one block of text) reads
	// receipts best; 3 (automatic) and 4 (one column) are the alternatives.
	PSM int `mapstructure:"psm"`
	// DPI is the resolution Tesseract assumes (its user_defined_dpi); 0 lets
	// it guess from the image.
	DPI int `mapstructure:"dpi"`
	// SecondRead reads a receipt again, with only orient and grayscale, when
	// the first read found no amount or no date, and takes the missing
	// fields from the second read.
	SecondRead     bool  `mapstructure:"second_read"`
	MaxImageBytes  int64 `mapstructure:"max_image_bytes"`
	MaxImagePixels int64 `mapstructure:"max_image_pixels"`
	// DecodeTimeout bounds decoding one image; slower images get 422.
	DecodeTimeout time.Duration `mapstructure:"decode_timeout"`
	// QueueTimeout is how long a request may wait for a free Tesseract
	// client before it gets 503.
	QueueTimeout time.Duration `mapstructure:"queue_timeout"`
	// ReviewThreshold marks a field needs_review when its confidence is
	// below it.
	ReviewThreshold float64 `mapstructure:"review_threshold"`
	// DateOrder resolves dates such as 03/04/2019: auto (from the receipt
	// itself, then its currency, then day first), dmy or mdy.
	DateOrder string `mapstructure:"date_order"`
	// DefaultCurrency (ISO 4217) is reported, with low confidence, when a
	// receipt names none; empty reports none.
	DefaultCurrency string `mapstructure:"default_currency"`
	// OutcomesMaxLen caps the Redis stream of request outcomes (approximate
	// trimming); 0 keeps every entry.
	OutcomesMaxLen int64 `mapstructure:"outcomes_max_len"`
	// Preprocess switches and tunes the eight image preprocessing steps.
	Preprocess OCRPreprocessConfig `mapstructure:"preprocess"`
}

// OCRPreprocessConfig is the image pipeline before Tesseract. Each step can
// be switched off; docs/OCR.md measures what each one is worth.
type OCRPreprocessConfig struct {
	// Orient turns JPEGs upright by their EXIF orientation.
	Orient bool `mapstructure:"orient"`
	// Grayscale converts to 8-bit luminance first.
	Grayscale bool `mapstructure:"grayscale"`
	// Rescale scales the image so characters are about TextHeight pixels,
	// unless they are already within the factor 1+RescaleTolerance of it.
	Rescale          bool    `mapstructure:"rescale"`
	TextHeight       float64 `mapstructure:"text_height"`
	RescaleTolerance float64 `mapstructure:"rescale_tolerance"`
	// Denoise removes isolated specks.
	Denoise bool `mapstructure:"denoise"`
	// Contrast flattens the paper (shadows, yellowing) and darkens faint ink.
	Contrast bool `mapstructure:"contrast"`
	// Binarize turns the image black and white with Binarization (sauvola,
	// otsu, or clean: whiten the background, keep the ink's gray levels).
	Binarize     bool   `mapstructure:"binarize"`
	Binarization string `mapstructure:"binarization"`
	// Deskew straightens text lines tilted by up to MaxSkew degrees.
	Deskew  bool    `mapstructure:"deskew"`
	MaxSkew float64 `mapstructure:"max_skew"`
	// Border strips dark borders and blank margins and leaves Padding pixels
	// of white around the text.
	Border  bool `mapstructure:"border"`
	Padding int  `mapstructure:"padding"`
}

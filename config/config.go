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
	Language string `mapstructure:"language"`
	// PoolSize is the number of Tesseract clients; 0 means one per CPU.
	PoolSize       int   `mapstructure:"pool_size"`
	MaxImageBytes  int64 `mapstructure:"max_image_bytes"`
	MaxImagePixels int64 `mapstructure:"max_image_pixels"`
}

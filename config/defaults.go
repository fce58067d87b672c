package config

import "time"

// Default returns the configuration used when nothing else is said: every
// role in one process on :8080, embedded SQLite and miniredis. It is the
// single place where defaults are written.
func Default() Config {
	return Config{
		Roles: "all",
		Log:   LogConfig{Level: "info", Format: "json"},
		Server: ServerConfig{
			Addr:              ":8080",
			ShutdownTimeout:   15 * time.Second,
			ShutdownDelay:     0,
			ReadHeaderTimeout: 10 * time.Second,
			MaxBodyBytes:      8 << 20,
		},
		Database: DatabaseConfig{
			Path:         "./data/ocrpool.db",
			MaxOpenConns: 16,
			MaxIdleConns: 16,
		},
		Redis: RedisConfig{KeyPrefix: "ocrpool:"},
		Peers: PeersConfig{Timeout: 30 * time.Second},
		Security: SecurityConfig{
			KeyCacheTTL: 5 * time.Second,
			RateLimits: RateLimitConfig{
				App:             50,
				Admin:           20,
				TrainingService: 100,
				BurstSeconds:    2,
			},
			AuditBuffer: 4096,
		},
		Scheduler: SchedulerConfig{Enabled: true, LockTTL: 10 * time.Minute},
		Datapool: DatapoolConfig{
			MaxBatch:           1000,
			PatternRefreshCron: "0 0 * * *",
			PatternWindow:      90 * 24 * time.Hour,
			MinFrequency:       3,
			MinQuality:         0.5,
			PatternHoldout:     20,
		},
		Training: TrainingConfig{RunCron: "0 3 * * 0"},
		Deployment: DeploymentConfig{
			CanarySteps:  []int{5, 20, 50, 100},
			CanaryHold:   time.Hour,
			MaxErrorRate: 0.05,
		},
		OCR: OCRConfig{
			Language:        "eng",
			PSM:             6,
			DPI:             300,
			SecondRead:      true,
			MaxImageBytes:   20 << 20,
			MaxImagePixels:  40_000_000,
			DecodeTimeout:   10 * time.Second,
			QueueTimeout:    30 * time.Second,
			ReviewThreshold: 0.6,
			DateOrder:       "auto",
			OutcomesMaxLen:  100_000,
			Preprocess: OCRPreprocessConfig{
				Orient:           true,
				Grayscale:        true,
				Rescale:          true,
				TextHeight:       20,
				RescaleTolerance: 0.15,
				Denoise:          true,
				Contrast:         true,
				Binarize:         false,
				Binarization:     "sauvola",
				Deskew:           true,
				MaxSkew:          10,
				Border:           true,
				Padding:          20,
			},
		},
	}
}

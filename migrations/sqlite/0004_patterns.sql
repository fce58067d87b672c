-- 0004_patterns: pattern-set activation history and webhook subscriptions
-- and deliveries (issue "Pattern sets"), SQLite. Type adaptations as in
-- 0001_schema.sql.

-- +goose Up

ALTER TABLE pattern_cache_versions ADD COLUMN content_hash VARCHAR(64) CHECK (length(content_hash) <= 64);
ALTER TABLE pattern_cache_versions ADD COLUMN window_start DATETIME;
ALTER TABLE pattern_cache_versions ADD COLUMN window_end DATETIME;
ALTER TABLE pattern_cache_versions ADD COLUMN validation TEXT CHECK (validation IS NULL OR json_valid(validation));

CREATE TABLE pattern_activations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    version_id INTEGER NOT NULL REFERENCES pattern_cache_versions(version_id),
    version_name VARCHAR(20) NOT NULL CHECK (length(version_name) <= 20),
    action VARCHAR(20) NOT NULL CHECK (length(action) <= 20),
    activated_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')),
    deactivated_at DATETIME,
    actor VARCHAR(100) CHECK (length(actor) <= 100),
    reason TEXT
);

CREATE INDEX idx_pattern_activations_activated_at ON pattern_activations (activated_at);

CREATE TABLE webhook_subscriptions (
    id TEXT NOT NULL PRIMARY KEY,
    url TEXT NOT NULL,
    app_name VARCHAR(50) NOT NULL CHECK (length(app_name) <= 50),
    environment VARCHAR(20) NOT NULL CHECK (length(environment) <= 20),
    secret TEXT NOT NULL,
    events TEXT NOT NULL CHECK (json_valid(events)),
    is_active BOOLEAN NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    created_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')),
    created_by VARCHAR(100) CHECK (length(created_by) <= 100),
    notes TEXT
);

CREATE INDEX idx_webhook_subscriptions_active ON webhook_subscriptions (is_active);

CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_id TEXT NOT NULL REFERENCES webhook_subscriptions(id),
    event VARCHAR(50) NOT NULL CHECK (length(event) <= 50),
    version_name VARCHAR(20) CHECK (length(version_name) <= 20),
    payload TEXT NOT NULL CHECK (json_valid(payload)),
    status VARCHAR(20) NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at DATETIME,
    last_status_code INTEGER,
    last_error TEXT,
    attempt_log TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(attempt_log)),
    created_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')),
    delivered_at DATETIME
);

CREATE INDEX idx_webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX idx_webhook_deliveries_subscription ON webhook_deliveries (subscription_id, created_at);

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhook_subscriptions;
DROP TABLE pattern_activations;
ALTER TABLE pattern_cache_versions DROP COLUMN validation;
ALTER TABLE pattern_cache_versions DROP COLUMN window_end;
ALTER TABLE pattern_cache_versions DROP COLUMN window_start;
ALTER TABLE pattern_cache_versions DROP COLUMN content_hash;

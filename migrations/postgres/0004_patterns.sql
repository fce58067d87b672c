-- 0004_patterns: pattern-set activation history and webhook subscriptions
-- and deliveries (issue "Pattern sets"), PostgreSQL.

-- +goose Up

-- What a pattern set version was learned from and how it fared at the
-- validation gate: content_hash decides whether a refresh learned anything
-- new; validation holds the held-out scores of the candidate and of the
-- version that was active.
ALTER TABLE pattern_cache_versions
    ADD COLUMN content_hash VARCHAR(64),
    ADD COLUMN window_start TIMESTAMPTZ,
    ADD COLUMN window_end TIMESTAMPTZ,
    ADD COLUMN validation JSONB;

-- One row per activation of a pattern set version, so "which version was
-- live at time T" is a range lookup: activated_at <= T < deactivated_at.
CREATE TABLE pattern_activations (
    id BIGSERIAL PRIMARY KEY,
    version_id INTEGER NOT NULL REFERENCES pattern_cache_versions(version_id),
    version_name VARCHAR(20) NOT NULL,
    action VARCHAR(20) NOT NULL,              -- 'activate', 'rollback'
    activated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    deactivated_at TIMESTAMPTZ,
    actor VARCHAR(100),
    reason TEXT
);

CREATE INDEX idx_pattern_activations_activated_at ON pattern_activations (activated_at);

CREATE TABLE webhook_subscriptions (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    url TEXT NOT NULL,
    app_name VARCHAR(50) NOT NULL,
    environment VARCHAR(20) NOT NULL,
    secret TEXT NOT NULL,                     -- needed in clear to sign each delivery
    events JSONB NOT NULL,
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    created_by VARCHAR(100),
    notes TEXT
);

CREATE INDEX idx_webhook_subscriptions_active ON webhook_subscriptions (is_active);

-- One row per (event, subscriber); attempt_log keeps every attempt.
CREATE TABLE webhook_deliveries (
    id BIGSERIAL PRIMARY KEY,
    subscription_id UUID NOT NULL REFERENCES webhook_subscriptions(id),
    event VARCHAR(50) NOT NULL,
    version_name VARCHAR(20),
    payload JSONB NOT NULL,
    status VARCHAR(20) NOT NULL,              -- 'pending', 'delivered', 'failed'
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ,
    last_status_code INTEGER,
    last_error TEXT,
    attempt_log JSONB NOT NULL DEFAULT '[]',
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    delivered_at TIMESTAMPTZ
);

CREATE INDEX idx_webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX idx_webhook_deliveries_subscription ON webhook_deliveries (subscription_id, created_at);

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhook_subscriptions;
DROP TABLE pattern_activations;
ALTER TABLE pattern_cache_versions
    DROP COLUMN IF EXISTS validation,
    DROP COLUMN IF EXISTS window_end,
    DROP COLUMN IF EXISTS window_start,
    DROP COLUMN IF EXISTS content_hash;

-- 0001_schema: the tables of architecture-v2.md ("Database Schema"), PostgreSQL.
--
-- Tables, columns, column order, types, defaults and foreign keys are those
-- of the document. Adaptations:
--   * The document's inline "INDEX name (cols)" clauses are MySQL syntax; they
--     are CREATE INDEX statements here. PostgreSQL index names are unique per
--     schema and the document reuses idx_created_at, idx_active and
--     idx_started_at in several tables, so every index is named
--     idx_<table>_<name from the document>.
--   * corrections_master gets UNIQUE (source_app, source_correction_id): ingest
--     is idempotent, a retried request never duplicates a row. Rows without a
--     source_correction_id (NULL) never conflict.
--   * "TIMESTAMP WITH TIME ZONE" is written TIMESTAMPTZ (the same type).
--   * api_keys keeps the document's idx_key_hash although the UNIQUE
--     constraint on key_hash already indexes it.

-- +goose Up

--
-- Data pool
--

CREATE TABLE corrections_master (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    source_app VARCHAR(50) NOT NULL,
    source_environment VARCHAR(20) NOT NULL,
    source_correction_id UUID,

    created_at TIMESTAMPTZ DEFAULT NOW(),
    user_id_hash VARCHAR(64) NOT NULL,

    ocr_provider VARCHAR(20) NOT NULL,
    ocr_text TEXT NOT NULL,
    ocr_confidence DECIMAL(4,3),

    original_inference JSONB NOT NULL,

    corrected_merchant VARCHAR(200),
    corrected_amount DECIMAL(10,2),
    corrected_date DATE,
    corrected_category VARCHAR(100),
    corrected_card_last_four VARCHAR(4),

    fields_corrected TEXT[] NOT NULL,

    data_quality_score DECIMAL(3,2),
    is_outlier BOOLEAN DEFAULT FALSE,
    outlier_reason TEXT,

    used_in_training BOOLEAN DEFAULT FALSE,
    training_dataset_id VARCHAR(50),
    training_run_version VARCHAR(20),

    model_version VARCHAR(20),
    prompt_version VARCHAR(20),

    ingested_at TIMESTAMPTZ DEFAULT NOW(),
    last_modified_at TIMESTAMPTZ DEFAULT NOW(),

    CONSTRAINT uq_corrections_master_source UNIQUE (source_app, source_correction_id)
);

CREATE INDEX idx_corrections_master_source_app_env ON corrections_master (source_app, source_environment);
CREATE INDEX idx_corrections_master_created_at ON corrections_master (created_at);
CREATE INDEX idx_corrections_master_fields_corrected ON corrections_master USING GIN (fields_corrected);
CREATE INDEX idx_corrections_master_merchant ON corrections_master (corrected_merchant);
CREATE INDEX idx_corrections_master_used_in_training ON corrections_master (used_in_training);
CREATE INDEX idx_corrections_master_quality_score ON corrections_master (data_quality_score);

CREATE TABLE pattern_cache_versions (
    version_id SERIAL PRIMARY KEY,
    version_name VARCHAR(20) NOT NULL UNIQUE,
    created_at TIMESTAMPTZ DEFAULT NOW(),

    pattern_data JSONB NOT NULL,
    pattern_count INTEGER NOT NULL,

    based_on_corrections_count INTEGER,
    avg_pattern_confidence DECIMAL(4,3),

    is_active BOOLEAN DEFAULT FALSE,
    activated_at TIMESTAMPTZ,
    deactivated_at TIMESTAMPTZ,

    replaced_by_version INTEGER REFERENCES pattern_cache_versions(version_id),
    rollback_reason TEXT,

    notes TEXT
);

CREATE INDEX idx_pattern_cache_versions_active ON pattern_cache_versions (is_active);
CREATE INDEX idx_pattern_cache_versions_created_at ON pattern_cache_versions (created_at);

CREATE TABLE training_datasets (
    dataset_id VARCHAR(50) PRIMARY KEY,
    created_at TIMESTAMPTZ DEFAULT NOW(),

    correction_count INTEGER NOT NULL,
    date_range_start DATE NOT NULL,
    date_range_end DATE NOT NULL,

    min_quality_score DECIMAL(3,2),
    included_environments TEXT[],
    included_apps TEXT[],

    export_format VARCHAR(10),
    file_path TEXT,
    file_size_bytes BIGINT,

    used_in_training_run VARCHAR(50),
    resulted_in_version VARCHAR(20)
);

CREATE INDEX idx_training_datasets_created_at ON training_datasets (created_at);

CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    timestamp TIMESTAMPTZ DEFAULT NOW(),

    actor_type VARCHAR(20) NOT NULL,
    actor_id VARCHAR(100) NOT NULL,
    action VARCHAR(50) NOT NULL,
    resource_type VARCHAR(50) NOT NULL,
    resource_id VARCHAR(100),

    details JSONB,
    ip_address INET,
    user_agent TEXT,

    success BOOLEAN NOT NULL,
    error_message TEXT
);

CREATE INDEX idx_audit_log_timestamp ON audit_log (timestamp);
CREATE INDEX idx_audit_log_actor ON audit_log (actor_type, actor_id);
CREATE INDEX idx_audit_log_action ON audit_log (action);
CREATE INDEX idx_audit_log_resource ON audit_log (resource_type, resource_id);

CREATE TABLE api_keys (
    key_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    key_hash VARCHAR(64) NOT NULL UNIQUE,

    app_name VARCHAR(50) NOT NULL,
    environment VARCHAR(20) NOT NULL,

    role VARCHAR(20) NOT NULL,
    permissions JSONB NOT NULL,

    is_active BOOLEAN DEFAULT TRUE,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    expires_at TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,

    created_by VARCHAR(100),
    notes TEXT
);

CREATE INDEX idx_api_keys_key_hash ON api_keys (key_hash);
CREATE INDEX idx_api_keys_active ON api_keys (is_active);

--
-- Training
--

CREATE TABLE training_runs (
    run_id VARCHAR(50) PRIMARY KEY,
    started_at TIMESTAMPTZ DEFAULT NOW(),
    completed_at TIMESTAMPTZ,

    dataset_id VARCHAR(50) REFERENCES training_datasets(dataset_id),
    corrections_since DATE NOT NULL,
    min_frequency INTEGER DEFAULT 3,

    status VARCHAR(20) NOT NULL,
    progress_pct INTEGER DEFAULT 0,

    patterns_generated INTEGER,
    prompt_version_created VARCHAR(20),
    model_version_created VARCHAR(20),

    validation_accuracy JSONB,
    improvement_over_previous DECIMAL(5,2),

    deployment_status VARCHAR(20),
    deployment_started_at TIMESTAMPTZ,
    deployment_completed_at TIMESTAMPTZ,

    error_message TEXT,
    stack_trace TEXT
);

CREATE INDEX idx_training_runs_status ON training_runs (status);
CREATE INDEX idx_training_runs_started_at ON training_runs (started_at);

CREATE TABLE deployments (
    deployment_id SERIAL PRIMARY KEY,
    training_run_id VARCHAR(50) REFERENCES training_runs(run_id),

    version_name VARCHAR(20) NOT NULL,
    deployment_type VARCHAR(20) NOT NULL,

    started_at TIMESTAMPTZ DEFAULT NOW(),
    completed_at TIMESTAMPTZ,

    canary_percentage INTEGER,
    canary_target_apps TEXT[],

    blue_version VARCHAR(20),
    green_version VARCHAR(20),
    active_slot VARCHAR(10),

    success_rate DECIMAL(5,2),
    error_rate DECIMAL(5,2),
    avg_confidence DECIMAL(4,3),
    rollback_triggered BOOLEAN DEFAULT FALSE,
    rollback_reason TEXT
);

CREATE INDEX idx_deployments_started_at ON deployments (started_at);
CREATE INDEX idx_deployments_version ON deployments (version_name);

CREATE TABLE prompt_versions (
    version_id SERIAL PRIMARY KEY,
    version_name VARCHAR(20) NOT NULL UNIQUE,
    created_at TIMESTAMPTZ DEFAULT NOW(),

    merchant_prompt TEXT,
    category_prompt TEXT,
    amount_prompt TEXT,
    date_prompt TEXT,

    based_on_run_id VARCHAR(50) REFERENCES training_runs(run_id),
    improvement_notes TEXT,

    is_active BOOLEAN DEFAULT FALSE,
    activated_at TIMESTAMPTZ
);

CREATE INDEX idx_prompt_versions_active ON prompt_versions (is_active);
CREATE INDEX idx_prompt_versions_created_at ON prompt_versions (created_at);

-- +goose Down

DROP TABLE IF EXISTS prompt_versions;
DROP TABLE IF EXISTS deployments;
DROP TABLE IF EXISTS training_runs;
DROP TABLE IF EXISTS api_keys;
DROP TABLE IF EXISTS audit_log;
DROP TABLE IF EXISTS training_datasets;
DROP TABLE IF EXISTS pattern_cache_versions;
DROP TABLE IF EXISTS corrections_master;

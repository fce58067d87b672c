-- 0001_schema: the tables of architecture-v2.md ("Database Schema"), SQLite.
--
-- Same tables, columns (names and order), defaults, foreign keys, unique keys
-- and indexes as postgres/0001_schema.sql. Types are adapted; CHECK
-- constraints make SQLite refuse what PostgreSQL's types would refuse, so a
-- bug shows up in the embedded tests too:
--   * UUID -> TEXT NOT NULL PRIMARY KEY / TEXT. UUIDs are made in Go, so there
--     is no default. (NOT NULL is explicit: SQLite lets a non-INTEGER primary
--     key be NULL otherwise.)
--   * VARCHAR(n) -> VARCHAR(n) with CHECK (length(col) <= n): SQLite ignores
--     the length, PostgreSQL enforces it.
--   * JSONB -> TEXT holding JSON, CHECK json_valid.
--   * TEXT[] -> TEXT holding a JSON array of strings, CHECK json_type = 'array'.
--   * DECIMAL(p,s) -> TEXT holding the decimal in plain notation ("12345678.91"),
--     so money stays exact (SQLite has no decimal type; REAL would round).
--     CHECK allows only digits, '.' and '-'. Compare numerically with
--     CAST(col AS REAL) (or in Go), not as text.
--   * TIMESTAMP WITH TIME ZONE -> DATETIME holding UTC text in the driver's
--     format, "2006-01-02 15:04:05.999999999+00:00" (RFC 3339 with a space);
--     defaults produce the same shape, so text order is time order. The
--     DATETIME/DATE declared types make the driver scan them into time.Time.
--   * DATE -> DATE ("2006-01-02" text).
--   * SERIAL/BIGSERIAL -> INTEGER PRIMARY KEY AUTOINCREMENT (ids never reused).
--   * BIGINT -> INTEGER; INET -> TEXT.
--   * BOOLEAN -> BOOLEAN (0/1, CHECK IN (0, 1)), defaults FALSE/TRUE as 0/1.
--   * Index names are idx_<table>_<name from the document>, as on PostgreSQL,
--     except the GIN index on fields_corrected, which SQLite cannot express.

-- +goose Up

--
-- Data pool
--

CREATE TABLE corrections_master (
    id TEXT NOT NULL PRIMARY KEY,
    source_app VARCHAR(50) NOT NULL CHECK (length(source_app) <= 50),
    source_environment VARCHAR(20) NOT NULL CHECK (length(source_environment) <= 20),
    source_correction_id TEXT,

    created_at DATETIME DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')),
    user_id_hash VARCHAR(64) NOT NULL CHECK (length(user_id_hash) <= 64),

    ocr_provider VARCHAR(20) NOT NULL CHECK (length(ocr_provider) <= 20),
    ocr_text TEXT NOT NULL,
    ocr_confidence TEXT CHECK (ocr_confidence NOT GLOB '*[^-0-9.]*' AND ocr_confidence GLOB '*[0-9]*'),

    original_inference TEXT NOT NULL CHECK (json_valid(original_inference)),

    corrected_merchant VARCHAR(200) CHECK (length(corrected_merchant) <= 200),
    corrected_amount TEXT CHECK (corrected_amount NOT GLOB '*[^-0-9.]*' AND corrected_amount GLOB '*[0-9]*'),
    corrected_date DATE,
    corrected_category VARCHAR(100) CHECK (length(corrected_category) <= 100),
    corrected_card_last_four VARCHAR(4) CHECK (length(corrected_card_last_four) <= 4),

    fields_corrected TEXT NOT NULL CHECK (json_valid(fields_corrected) AND json_type(fields_corrected) = 'array'),

    data_quality_score TEXT CHECK (data_quality_score NOT GLOB '*[^-0-9.]*' AND data_quality_score GLOB '*[0-9]*'),
    is_outlier BOOLEAN DEFAULT 0 CHECK (is_outlier IN (0, 1)),
    outlier_reason TEXT,

    used_in_training BOOLEAN DEFAULT 0 CHECK (used_in_training IN (0, 1)),
    training_dataset_id VARCHAR(50) CHECK (length(training_dataset_id) <= 50),
    training_run_version VARCHAR(20) CHECK (length(training_run_version) <= 20),

    model_version VARCHAR(20) CHECK (length(model_version) <= 20),
    prompt_version VARCHAR(20) CHECK (length(prompt_version) <= 20),

    ingested_at DATETIME DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')),
    last_modified_at DATETIME DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')),

    CONSTRAINT uq_corrections_master_source UNIQUE (source_app, source_correction_id)
);

CREATE INDEX idx_corrections_master_source_app_env ON corrections_master (source_app, source_environment);
CREATE INDEX idx_corrections_master_created_at ON corrections_master (created_at);
-- No idx_corrections_master_fields_corrected: PostgreSQL's is a GIN index for
-- array containment; SQLite has no index that helps json_each() lookups.
CREATE INDEX idx_corrections_master_merchant ON corrections_master (corrected_merchant);
CREATE INDEX idx_corrections_master_used_in_training ON corrections_master (used_in_training);
CREATE INDEX idx_corrections_master_quality_score ON corrections_master (data_quality_score);

CREATE TABLE pattern_cache_versions (
    version_id INTEGER PRIMARY KEY AUTOINCREMENT,
    version_name VARCHAR(20) NOT NULL UNIQUE CHECK (length(version_name) <= 20),
    created_at DATETIME DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')),

    pattern_data TEXT NOT NULL CHECK (json_valid(pattern_data)),
    pattern_count INTEGER NOT NULL,

    based_on_corrections_count INTEGER,
    avg_pattern_confidence TEXT CHECK (avg_pattern_confidence NOT GLOB '*[^-0-9.]*' AND avg_pattern_confidence GLOB '*[0-9]*'),

    is_active BOOLEAN DEFAULT 0 CHECK (is_active IN (0, 1)),
    activated_at DATETIME,
    deactivated_at DATETIME,

    replaced_by_version INTEGER REFERENCES pattern_cache_versions(version_id),
    rollback_reason TEXT,

    notes TEXT
);

CREATE INDEX idx_pattern_cache_versions_active ON pattern_cache_versions (is_active);
CREATE INDEX idx_pattern_cache_versions_created_at ON pattern_cache_versions (created_at);

CREATE TABLE training_datasets (
    dataset_id VARCHAR(50) NOT NULL PRIMARY KEY CHECK (length(dataset_id) <= 50),
    created_at DATETIME DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')),

    correction_count INTEGER NOT NULL,
    date_range_start DATE NOT NULL,
    date_range_end DATE NOT NULL,

    min_quality_score TEXT CHECK (min_quality_score NOT GLOB '*[^-0-9.]*' AND min_quality_score GLOB '*[0-9]*'),
    included_environments TEXT CHECK (json_valid(included_environments) AND json_type(included_environments) = 'array'),
    included_apps TEXT CHECK (json_valid(included_apps) AND json_type(included_apps) = 'array'),

    export_format VARCHAR(10) CHECK (length(export_format) <= 10),
    file_path TEXT,
    file_size_bytes INTEGER,

    used_in_training_run VARCHAR(50) CHECK (length(used_in_training_run) <= 50),
    resulted_in_version VARCHAR(20) CHECK (length(resulted_in_version) <= 20)
);

CREATE INDEX idx_training_datasets_created_at ON training_datasets (created_at);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp DATETIME DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')),

    actor_type VARCHAR(20) NOT NULL CHECK (length(actor_type) <= 20),
    actor_id VARCHAR(100) NOT NULL CHECK (length(actor_id) <= 100),
    action VARCHAR(50) NOT NULL CHECK (length(action) <= 50),
    resource_type VARCHAR(50) NOT NULL CHECK (length(resource_type) <= 50),
    resource_id VARCHAR(100) CHECK (length(resource_id) <= 100),

    details TEXT CHECK (json_valid(details)),
    ip_address TEXT,
    user_agent TEXT,

    success BOOLEAN NOT NULL CHECK (success IN (0, 1)),
    error_message TEXT
);

CREATE INDEX idx_audit_log_timestamp ON audit_log (timestamp);
CREATE INDEX idx_audit_log_actor ON audit_log (actor_type, actor_id);
CREATE INDEX idx_audit_log_action ON audit_log (action);
CREATE INDEX idx_audit_log_resource ON audit_log (resource_type, resource_id);

CREATE TABLE api_keys (
    key_id TEXT NOT NULL PRIMARY KEY,
    key_hash VARCHAR(64) NOT NULL UNIQUE CHECK (length(key_hash) <= 64),

    app_name VARCHAR(50) NOT NULL CHECK (length(app_name) <= 50),
    environment VARCHAR(20) NOT NULL CHECK (length(environment) <= 20),

    role VARCHAR(20) NOT NULL CHECK (length(role) <= 20),
    permissions TEXT NOT NULL CHECK (json_valid(permissions)),

    is_active BOOLEAN DEFAULT 1 CHECK (is_active IN (0, 1)),
    created_at DATETIME DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')),
    expires_at DATETIME,
    last_used_at DATETIME,

    created_by VARCHAR(100) CHECK (length(created_by) <= 100),
    notes TEXT
);

CREATE INDEX idx_api_keys_key_hash ON api_keys (key_hash);
CREATE INDEX idx_api_keys_active ON api_keys (is_active);

--
-- Training
--

CREATE TABLE training_runs (
    run_id VARCHAR(50) NOT NULL PRIMARY KEY CHECK (length(run_id) <= 50),
    started_at DATETIME DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')),
    completed_at DATETIME,

    dataset_id VARCHAR(50) REFERENCES training_datasets(dataset_id),
    corrections_since DATE NOT NULL,
    min_frequency INTEGER DEFAULT 3,

    status VARCHAR(20) NOT NULL CHECK (length(status) <= 20),
    progress_pct INTEGER DEFAULT 0,

    patterns_generated INTEGER,
    prompt_version_created VARCHAR(20) CHECK (length(prompt_version_created) <= 20),
    model_version_created VARCHAR(20) CHECK (length(model_version_created) <= 20),

    validation_accuracy TEXT CHECK (json_valid(validation_accuracy)),
    improvement_over_previous TEXT CHECK (improvement_over_previous NOT GLOB '*[^-0-9.]*' AND improvement_over_previous GLOB '*[0-9]*'),

    deployment_status VARCHAR(20) CHECK (length(deployment_status) <= 20),
    deployment_started_at DATETIME,
    deployment_completed_at DATETIME,

    error_message TEXT,
    stack_trace TEXT
);

CREATE INDEX idx_training_runs_status ON training_runs (status);
CREATE INDEX idx_training_runs_started_at ON training_runs (started_at);

CREATE TABLE deployments (
    deployment_id INTEGER PRIMARY KEY AUTOINCREMENT,
    training_run_id VARCHAR(50) REFERENCES training_runs(run_id),

    version_name VARCHAR(20) NOT NULL CHECK (length(version_name) <= 20),
    deployment_type VARCHAR(20) NOT NULL CHECK (length(deployment_type) <= 20),

    started_at DATETIME DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')),
    completed_at DATETIME,

    canary_percentage INTEGER,
    canary_target_apps TEXT CHECK (json_valid(canary_target_apps) AND json_type(canary_target_apps) = 'array'),

    blue_version VARCHAR(20) CHECK (length(blue_version) <= 20),
    green_version VARCHAR(20) CHECK (length(green_version) <= 20),
    active_slot VARCHAR(10) CHECK (length(active_slot) <= 10),

    success_rate TEXT CHECK (success_rate NOT GLOB '*[^-0-9.]*' AND success_rate GLOB '*[0-9]*'),
    error_rate TEXT CHECK (error_rate NOT GLOB '*[^-0-9.]*' AND error_rate GLOB '*[0-9]*'),
    avg_confidence TEXT CHECK (avg_confidence NOT GLOB '*[^-0-9.]*' AND avg_confidence GLOB '*[0-9]*'),
    rollback_triggered BOOLEAN DEFAULT 0 CHECK (rollback_triggered IN (0, 1)),
    rollback_reason TEXT
);

CREATE INDEX idx_deployments_started_at ON deployments (started_at);
CREATE INDEX idx_deployments_version ON deployments (version_name);

CREATE TABLE prompt_versions (
    version_id INTEGER PRIMARY KEY AUTOINCREMENT,
    version_name VARCHAR(20) NOT NULL UNIQUE CHECK (length(version_name) <= 20),
    created_at DATETIME DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')),

    merchant_prompt TEXT,
    category_prompt TEXT,
    amount_prompt TEXT,
    date_prompt TEXT,

    based_on_run_id VARCHAR(50) REFERENCES training_runs(run_id),
    improvement_notes TEXT,

    is_active BOOLEAN DEFAULT 0 CHECK (is_active IN (0, 1)),
    activated_at DATETIME
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

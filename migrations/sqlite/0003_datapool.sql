-- 0003_datapool: columns the data pool needs beyond the architecture
-- document's schema (issue 4), SQLite. Same columns and indexes as
-- postgres/0003_datapool.sql (see there for why each exists), with the
-- types adapted as in 0001: VARCHAR(n) with a length CHECK, JSONB as JSON
-- text. SQLite adds one column per statement.

-- +goose Up

ALTER TABLE corrections_master ADD COLUMN receipt_image_path_hash VARCHAR(16) CHECK (length(receipt_image_path_hash) <= 16);
ALTER TABLE corrections_master ADD COLUMN expense_id_token VARCHAR(32) CHECK (length(expense_id_token) <= 32);
ALTER TABLE corrections_master ADD COLUMN pattern_version VARCHAR(20) CHECK (length(pattern_version) <= 20);
ALTER TABLE corrections_master ADD COLUMN corrected_currency VARCHAR(3) CHECK (length(corrected_currency) <= 3);
ALTER TABLE corrections_master ADD COLUMN text_fingerprint VARCHAR(64) CHECK (length(text_fingerprint) <= 64);
ALTER TABLE corrections_master ADD COLUMN content_fingerprint VARCHAR(64) CHECK (length(content_fingerprint) <= 64);

CREATE INDEX idx_corrections_master_text_fingerprint ON corrections_master (text_fingerprint);
CREATE INDEX idx_corrections_master_created_id ON corrections_master (created_at, id);
CREATE INDEX idx_corrections_master_ingested_at ON corrections_master (ingested_at);

ALTER TABLE training_datasets ADD COLUMN filters TEXT CHECK (json_valid(filters));

-- +goose Down

ALTER TABLE training_datasets DROP COLUMN filters;

DROP INDEX IF EXISTS idx_corrections_master_ingested_at;
DROP INDEX IF EXISTS idx_corrections_master_created_id;
DROP INDEX IF EXISTS idx_corrections_master_text_fingerprint;

ALTER TABLE corrections_master DROP COLUMN content_fingerprint;
ALTER TABLE corrections_master DROP COLUMN text_fingerprint;
ALTER TABLE corrections_master DROP COLUMN corrected_currency;
ALTER TABLE corrections_master DROP COLUMN pattern_version;
ALTER TABLE corrections_master DROP COLUMN expense_id_token;
ALTER TABLE corrections_master DROP COLUMN receipt_image_path_hash;

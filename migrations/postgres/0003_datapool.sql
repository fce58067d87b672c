-- 0003_datapool: columns the data pool needs beyond the architecture
-- document's schema (issue 4), PostgreSQL. Nothing of 0001 changes.
--
-- corrections_master:
--   * receipt_image_path_hash: the document's PII masking keeps a 16-hex hash
--     of receipt_image_path but its table has no column for it.
--   * expense_id_token: likewise for the tokenised expense_id.
--   * pattern_version: the pattern set that produced the inference (the
--     document keeps model_version and prompt_version only).
--   * corrected_currency: ISO 4217 code of corrected_amount (an amount without
--     its currency is not money).
--   * text_fingerprint: hash of the normalised OCR text, to find the same
--     receipt sent twice (an outlier rule).
--   * content_fingerprint: hash of the normalised, masked correction, so a
--     retry with the same (source_app, source_correction_id) is told apart
--     from a different correction reusing the id (409).
--   * idx (created_at, id): exports page through rows in this order.
--   * idx ingested_at: the dashboard's ingestion per hour.
-- training_datasets:
--   * filters: every filter of the export (the document has columns for some).

-- +goose Up

ALTER TABLE corrections_master
    ADD COLUMN receipt_image_path_hash VARCHAR(16),
    ADD COLUMN expense_id_token VARCHAR(32),
    ADD COLUMN pattern_version VARCHAR(20),
    ADD COLUMN corrected_currency VARCHAR(3),
    ADD COLUMN text_fingerprint VARCHAR(64),
    ADD COLUMN content_fingerprint VARCHAR(64);

CREATE INDEX idx_corrections_master_text_fingerprint ON corrections_master (text_fingerprint);
CREATE INDEX idx_corrections_master_created_id ON corrections_master (created_at, id);
CREATE INDEX idx_corrections_master_ingested_at ON corrections_master (ingested_at);

ALTER TABLE training_datasets ADD COLUMN filters JSONB;

-- +goose Down

ALTER TABLE training_datasets DROP COLUMN IF EXISTS filters;

DROP INDEX IF EXISTS idx_corrections_master_ingested_at;
DROP INDEX IF EXISTS idx_corrections_master_created_id;
DROP INDEX IF EXISTS idx_corrections_master_text_fingerprint;

ALTER TABLE corrections_master
    DROP COLUMN IF EXISTS content_fingerprint,
    DROP COLUMN IF EXISTS text_fingerprint,
    DROP COLUMN IF EXISTS corrected_currency,
    DROP COLUMN IF EXISTS pattern_version,
    DROP COLUMN IF EXISTS expense_id_token,
    DROP COLUMN IF EXISTS receipt_image_path_hash;

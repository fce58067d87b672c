-- 0005_learning_columns: what a pattern refresh groups corrections by, as
-- columns (issue "Pattern sets"), SQLite. The same names as PostgreSQL's
-- stored columns, so both dialects share the learning queries; SQLite can
-- only add virtual ones, computed when read, as the expressions were.

-- +goose Up
ALTER TABLE corrections_master ADD COLUMN original_merchant TEXT
    GENERATED ALWAYS AS (json_extract(original_inference, '$.merchant')) VIRTUAL;
ALTER TABLE corrections_master ADD COLUMN original_category TEXT
    GENERATED ALWAYS AS (json_extract(original_inference, '$.category')) VIRTUAL;
-- fields_corrected is a JSON array of quoted names.
ALTER TABLE corrections_master ADD COLUMN original_merchant_wrong BOOLEAN
    GENERATED ALWAYS AS (COALESCE(corrected_merchant, '') = '' AND instr(COALESCE(fields_corrected, ''), '"merchant"') > 0) VIRTUAL;
ALTER TABLE corrections_master ADD COLUMN original_category_wrong BOOLEAN
    GENERATED ALWAYS AS (COALESCE(corrected_category, '') = '' AND instr(COALESCE(fields_corrected, ''), '"category"') > 0) VIRTUAL;

-- +goose Down
ALTER TABLE corrections_master DROP COLUMN original_category_wrong;
ALTER TABLE corrections_master DROP COLUMN original_merchant_wrong;
ALTER TABLE corrections_master DROP COLUMN original_category;
ALTER TABLE corrections_master DROP COLUMN original_merchant;

-- 0006_pattern_data_lz4: PostgreSQL compresses new pattern sets with lz4
-- (see its 0006). SQLite does not compress values: nothing to do, and the
-- migration exists so both dialects share version numbers.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;

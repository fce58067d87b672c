-- 0006_pattern_data_lz4: compress new pattern sets with lz4 instead of
-- pglz (issue "Pattern sets"), PostgreSQL.
--
-- A version's pattern_data is megabytes of JSON at tens of thousands of
-- patterns. Storing it with pglz was a tenth of a second of the refresh on
-- one core, twice lz4's time, and reading it back for a replica or a diff
-- decompresses faster too. Versions already stored keep pglz.
--
-- A server built without lz4 keeps pglz: the refresh is only slower.

-- +goose Up
-- +goose StatementBegin
DO $$
BEGIN
    EXECUTE 'ALTER TABLE pattern_cache_versions ALTER COLUMN pattern_data SET COMPRESSION lz4';
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'this server has no lz4: pattern_data stays compressed with pglz';
END
$$;
-- +goose StatementEnd

-- +goose Down
ALTER TABLE pattern_cache_versions ALTER COLUMN pattern_data SET COMPRESSION default;

-- 0005_learning_columns: what a pattern refresh groups corrections by, as
-- columns (issue "Pattern sets"), PostgreSQL.
--
-- A refresh counts the window's corrections by their corrected and
-- original merchant and category. Reading the originals out of
-- original_inference row by row was a third of that count, and the planner,
-- unable to estimate the groups of expressions, aggregated every row in
-- one process. Stored generated columns are computed once per write; the
-- statistics tell the planner how few groups there are, so its workers
-- aggregate in parallel (docs/BENCHMARKS.md, refresh).
--
-- Adding stored columns rewrites the table under an exclusive lock: a few
-- seconds per million corrections.

-- +goose Up
ALTER TABLE corrections_master
    ADD COLUMN original_merchant TEXT GENERATED ALWAYS AS (original_inference->>'merchant') STORED,
    ADD COLUMN original_category TEXT GENERATED ALWAYS AS (original_inference->>'category') STORED,
    -- The user emptied the field and named it corrected: the original is
    -- known to be wrong, and there is no right value to learn.
    ADD COLUMN original_merchant_wrong BOOLEAN GENERATED ALWAYS AS (
        COALESCE(corrected_merchant, '') = '' AND COALESCE('merchant' = ANY(fields_corrected), FALSE)) STORED,
    ADD COLUMN original_category_wrong BOOLEAN GENERATED ALWAYS AS (
        COALESCE(corrected_category, '') = '' AND COALESCE('category' = ANY(fields_corrected), FALSE)) STORED;

CREATE STATISTICS corrections_master_learning (ndistinct)
    ON corrected_merchant, corrected_category, original_merchant, original_category,
       original_merchant_wrong, original_category_wrong
    FROM corrections_master;

-- +goose Down
DROP STATISTICS IF EXISTS corrections_master_learning;
ALTER TABLE corrections_master
    DROP COLUMN IF EXISTS original_category_wrong,
    DROP COLUMN IF EXISTS original_merchant_wrong,
    DROP COLUMN IF EXISTS original_category,
    DROP COLUMN IF EXISTS original_merchant;

-- 0002_security: what API keys and the tamper-evident audit log need beyond
-- the document's columns, PostgreSQL.
--   * api_keys.key_prefix: the first characters of a key (ocp_live_AbCd), shown
--     in lists so operators can tell keys apart; the key itself is never stored.
--   * api_keys.revoked_at: when the key was revoked (is_active became false).
--   * audit_log.prev_hash / row_hash: the hash chain. row_hash is SHA-256 (hex)
--     over prev_hash and the row's canonical content; prev_hash is the row_hash
--     of the row before it in id order (64 zeros for the first row).
--     `ocrpool audit verify` walks the chain.
--   * idx_api_keys_role: the first-start check looks for an active admin key.

-- +goose Up

ALTER TABLE api_keys ADD COLUMN key_prefix VARCHAR(20) NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN revoked_at TIMESTAMPTZ;
CREATE INDEX idx_api_keys_role ON api_keys (role, is_active);

ALTER TABLE audit_log ADD COLUMN prev_hash VARCHAR(64);
ALTER TABLE audit_log ADD COLUMN row_hash VARCHAR(64);

-- +goose Down

ALTER TABLE audit_log DROP COLUMN row_hash;
ALTER TABLE audit_log DROP COLUMN prev_hash;
DROP INDEX IF EXISTS idx_api_keys_role;
ALTER TABLE api_keys DROP COLUMN revoked_at;
ALTER TABLE api_keys DROP COLUMN key_prefix;

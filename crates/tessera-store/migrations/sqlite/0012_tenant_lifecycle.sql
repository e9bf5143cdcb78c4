-- Tenants as managed objects (SPEC §4.1): the operator tenant (the one made at first start, so
-- the oldest tenant of an existing database), disabled tenants, and one-time links that set a
-- user's password (invitations and resets). Times are milliseconds unless a name says seconds.
ALTER TABLE tenants ADD COLUMN operator INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
-- Seconds: tokens for the tenant issued at or before it are refused (set when disabled).
ALTER TABLE tenants ADD COLUMN tokens_not_after INTEGER NOT NULL DEFAULT 0;
UPDATE tenants SET operator = 1 WHERE seq = (SELECT MIN(seq) FROM tenants);
CREATE UNIQUE INDEX tenants_one_operator ON tenants (operator) WHERE operator = 1;

-- Seconds: console sessions that began at or before it have ended.
ALTER TABLE users ADD COLUMN sessions_not_before INTEGER NOT NULL DEFAULT 0;

-- Only the SHA-256 of a link's token is kept.
CREATE TABLE user_links (
    token_hash BLOB PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    tenant_id  TEXT NOT NULL,
    purpose    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX user_links_by_user ON user_links (user_id);
CREATE INDEX user_links_by_tenant ON user_links (tenant_id);

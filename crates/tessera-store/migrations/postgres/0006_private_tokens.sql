-- Application private tokens (SPEC §7): each integration's own key/value store. Names use the
-- "C" collation, so they sort and range-scan in code-point order, as on SQLite.
CREATE TABLE private_tokens (
    seq        BIGSERIAL PRIMARY KEY,
    client_id  TEXT NOT NULL REFERENCES integrations(client_id) ON DELETE CASCADE,
    tenant_id  TEXT NOT NULL,
    related_id TEXT COLLATE "C" NOT NULL,
    key        TEXT COLLATE "C" NOT NULL,
    size       BIGINT NOT NULL,
    etag       TEXT NOT NULL,
    writes     BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    value      TEXT NOT NULL,
    UNIQUE (client_id, related_id, key)
);
CREATE INDEX private_tokens_by_key ON private_tokens (client_id, key, related_id);

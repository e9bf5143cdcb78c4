-- Application private tokens (SPEC §7): each integration's own key/value store. The value is
-- the last column, so listing (which reads the columns before it) never walks a large value's
-- overflow pages. Names compare as bytes (BINARY), which is code-point order.
CREATE TABLE private_tokens (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id  TEXT NOT NULL REFERENCES integrations(client_id) ON DELETE CASCADE,
    tenant_id  TEXT NOT NULL,
    related_id TEXT NOT NULL,
    key        TEXT NOT NULL,
    size       INTEGER NOT NULL,
    etag       TEXT NOT NULL,
    writes     INTEGER NOT NULL, -- 1 after the create; tells a create from a replace
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    value      TEXT NOT NULL,
    UNIQUE (client_id, related_id, key)
);
CREATE INDEX private_tokens_by_key ON private_tokens (client_id, key, related_id);

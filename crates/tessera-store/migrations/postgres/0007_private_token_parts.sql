-- Values over 1 MiB are kept in parts of at most 1 MiB (UTF-8 text each), keyed by the ETag of
-- the version they belong to: parts are written while the body arrives, then the entry that
-- refers to them, so no statement ever carries a whole large value.
CREATE TABLE private_token_parts (
    client_id  TEXT NOT NULL REFERENCES integrations(client_id) ON DELETE CASCADE,
    etag       TEXT NOT NULL,
    part       BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    value      TEXT NOT NULL,
    UNIQUE (client_id, etag, part)
);
-- The entries whose values are in parts, to tell a finished write's parts from a lost one's.
CREATE INDEX private_tokens_in_parts ON private_tokens (client_id, etag) WHERE size > 1048576;

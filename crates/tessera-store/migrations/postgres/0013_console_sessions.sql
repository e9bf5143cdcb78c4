-- Console sessions kept on the server (SPEC §9): the cookie carries a random id, only its
-- SHA-256 is stored. Signing out removes the row, so the cookie stops working on every
-- instance at once. Times in milliseconds.
CREATE TABLE console_sessions (
    id_hash      BYTEA PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    tenant_id    TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX console_sessions_by_expiry ON console_sessions (expires_at);
CREATE INDEX console_sessions_by_user ON console_sessions (user_id);

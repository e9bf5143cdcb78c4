-- Public keys registered on integrations (RFC 7523), and the ids of JWT assertions already
-- used, so that none is accepted twice on any instance.
CREATE TABLE client_keys (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id  TEXT NOT NULL REFERENCES integrations(client_id) ON DELETE CASCADE,
    kid        TEXT NOT NULL,
    alg        TEXT NOT NULL,
    jwk        TEXT NOT NULL, -- the public JWK
    not_after  INTEGER,       -- a certificate's expiry
    created_at INTEGER NOT NULL,
    UNIQUE (client_id, kid)
);

CREATE TABLE used_assertions (
    issuer     TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at INTEGER NOT NULL, -- seconds: the assertion's exp; the row may go after it
    PRIMARY KEY (issuer, jti)
);
CREATE INDEX used_assertions_by_expiry ON used_assertions (expires_at);

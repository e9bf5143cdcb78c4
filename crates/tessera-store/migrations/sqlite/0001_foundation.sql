-- Tenants, users, integrations and their secrets, signing keys, revocations, the change feed
-- and the audit log. Times are milliseconds since the Unix epoch unless a name says seconds.
CREATE TABLE tenants (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    tier         TEXT NOT NULL,
    created_at   INTEGER NOT NULL
);

CREATE TABLE integrations (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id         TEXT NOT NULL UNIQUE,
    tenant_id         TEXT NOT NULL REFERENCES tenants(id),
    display_name      TEXT NOT NULL,
    scopes            TEXT NOT NULL,
    custom_claims     TEXT NOT NULL,
    token_ttl_seconds INTEGER NOT NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
CREATE INDEX integrations_by_tenant ON integrations (tenant_id, seq);

CREATE TABLE client_secrets (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id  TEXT NOT NULL REFERENCES integrations(client_id) ON DELETE CASCADE,
    hash       BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER
);
CREATE INDEX client_secrets_by_client ON client_secrets (client_id);

CREATE TABLE users (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    email         TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    UNIQUE (tenant_id, email)
);

CREATE TABLE signing_keys (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    kid             TEXT NOT NULL UNIQUE,
    alg             TEXT NOT NULL,
    encrypted_pkcs8 BLOB NOT NULL,
    created_at      INTEGER NOT NULL,
    retired_at      INTEGER,
    verify_until    INTEGER
);

CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    expires_at INTEGER NOT NULL -- seconds, the token's exp
);
CREATE INDEX revoked_tokens_by_expiry ON revoked_tokens (expires_at);

CREATE TABLE changes (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    kind    TEXT NOT NULL,
    subject TEXT NOT NULL,
    extra   INTEGER
);
CREATE INDEX changes_by_time ON changes (at);

CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL,
    at        INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    detail    TEXT NOT NULL
);
CREATE INDEX audit_log_by_tenant ON audit_log (tenant_id, seq);

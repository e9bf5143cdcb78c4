-- Consents to impersonation (SPEC §3.3): an integration may act for a user (or, with
-- user_key '*', for every user of the tenant) with at most these scopes.
CREATE TABLE consents (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    tenant_id  TEXT NOT NULL REFERENCES tenants(id),
    client_id  TEXT NOT NULL, -- may be another tenant's integration
    user_key   TEXT NOT NULL, -- a user id, or '*'
    user_email TEXT NOT NULL, -- as given, for display; '' for '*'
    scopes     TEXT NOT NULL,
    granted_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (tenant_id, client_id, user_key)
);
CREATE INDEX consents_by_client ON consents (tenant_id, client_id);

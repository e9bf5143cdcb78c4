-- Workload identity federation (SPEC §14): the platforms a tenant trusts, and the platform
-- identities an integration accepts in place of a secret. A credential names its issuer by the
-- tenant's (tenant, issuer) pair, so no credential outlives the trust it relies on.
CREATE TABLE trusted_issuers (
    seq                        INTEGER PRIMARY KEY AUTOINCREMENT,
    id                         TEXT NOT NULL UNIQUE,
    tenant_id                  TEXT NOT NULL REFERENCES tenants(id),
    issuer                     TEXT NOT NULL,
    jwks_uri                   TEXT,
    audiences                  TEXT NOT NULL, -- a JSON array
    max_token_lifetime_seconds INTEGER NOT NULL,
    created_at                 INTEGER NOT NULL,
    UNIQUE (tenant_id, issuer)
);

CREATE TABLE federated_credentials (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    tenant_id  TEXT NOT NULL REFERENCES tenants(id),
    client_id  TEXT NOT NULL REFERENCES integrations(client_id),
    issuer     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    claims     TEXT NOT NULL, -- a JSON object of required values
    created_at INTEGER NOT NULL,
    UNIQUE (client_id, issuer, subject),
    FOREIGN KEY (tenant_id, issuer) REFERENCES trusted_issuers (tenant_id, issuer)
);
CREATE INDEX federated_credentials_by_tenant ON federated_credentials (tenant_id, issuer);

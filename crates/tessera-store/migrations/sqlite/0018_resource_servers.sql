-- Resource servers (SPEC §15, RFC 8707): the APIs of a tenant tokens may be issued for. The
-- identifier is kept as registered (it is the tokens' `aud`); `canonical` is the form
-- lookups compare, unique per tenant.
CREATE TABLE resource_servers (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    identifier   TEXT NOT NULL,
    canonical    TEXT NOT NULL,
    display_name TEXT NOT NULL,
    scopes       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    UNIQUE (tenant_id, canonical)
);

-- The resource servers (canonical identifiers, a JSON array) a person's consent covers besides
-- Tessera's own API.
ALTER TABLE consents ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';

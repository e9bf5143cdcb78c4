-- Multi-tenant applications and the Token Management Service (SPEC §8). An integration with an
-- app_name is one version of that application; the name belongs to the tenant that registered
-- it first (applications), so another tenant's authorization of it cannot be claimed by an
-- integration elsewhere.
ALTER TABLE integrations ADD COLUMN app_name TEXT;
ALTER TABLE integrations ADD COLUMN app_version TEXT;
ALTER TABLE integrations ADD COLUMN stage TEXT;
ALTER TABLE integrations ADD COLUMN tms_enabled BIGINT NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX integrations_by_app_version ON integrations (app_name, app_version);

CREATE TABLE applications (
    name       TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants(id),
    created_at BIGINT NOT NULL
);

-- A tenant's authorization of an application by name: one per (tenant, application); a new
-- one replaces it under a new id, so tokens issued under the old one stop.
CREATE TABLE app_authorizations (
    seq        BIGSERIAL PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    tenant_id  TEXT NOT NULL REFERENCES tenants(id),
    app_name   TEXT NOT NULL,
    access     TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    granted_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (tenant_id, app_name)
);
-- TMS lists an application's tenants in id order.
CREATE INDEX app_authorizations_by_app ON app_authorizations (app_name, tenant_id);

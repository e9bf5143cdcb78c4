-- Connections (SPEC §6): a data owner's tenant lets an integration (of any tenant) reach its
-- data. The application's bearer token and the webhook signing secret are encrypted with the
-- master key.
CREATE TABLE connections (
    seq              BIGSERIAL PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    owner_tenant_id  TEXT NOT NULL REFERENCES tenants(id),
    client_id        TEXT NOT NULL REFERENCES integrations(client_id) ON DELETE CASCADE,
    client_tenant_id TEXT NOT NULL,
    scopes           TEXT NOT NULL,
    state            TEXT NOT NULL,
    status           TEXT NOT NULL,
    bearer_token     BYTEA,
    webhook_secret   BYTEA,
    granted_by       TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX connections_by_owner ON connections (owner_tenant_id, seq);
CREATE INDEX connections_by_client_tenant ON connections (client_tenant_id, seq);
CREATE INDEX connections_active ON connections (status, client_id);

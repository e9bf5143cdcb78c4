-- Refresh tokens (SPEC §15, RFC 9700 §4.14): one row per family (one person's authorization
-- of one application), holding only the SHA-256 of its newest token. A use replaces the hash;
-- a replaced token that comes back ends the row.
CREATE TABLE refresh_families (
    id                  TEXT PRIMARY KEY,
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    client_id           TEXT NOT NULL,
    user_id             TEXT NOT NULL,
    scope               TEXT NOT NULL,
    resource            TEXT NOT NULL,
    token_hash          BYTEA NOT NULL,
    generation          BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
    last_used_at        BIGINT NOT NULL,
    idle_expires_at     BIGINT NOT NULL,
    absolute_expires_at BIGINT NOT NULL
);
CREATE INDEX refresh_families_by_person ON refresh_families (tenant_id, user_id);
CREATE INDEX refresh_families_by_client ON refresh_families (client_id);
CREATE INDEX refresh_families_by_end ON refresh_families (idle_expires_at);

-- How long an integration's refresh tokens live: unused, and at most.
ALTER TABLE integrations ADD COLUMN refresh_idle_seconds BIGINT NOT NULL DEFAULT 1209600;
ALTER TABLE integrations ADD COLUMN refresh_absolute_seconds BIGINT NOT NULL DEFAULT 7776000;

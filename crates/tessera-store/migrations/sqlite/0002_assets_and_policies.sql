-- Assets, their events, and the access policies that decide who sees them (SPEC §4, §5).
-- Ids are bare UUIDs; `seq` orders listings so page tokens stay stable while others write.
CREATE TABLE assets (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    tenant_id  TEXT NOT NULL REFERENCES tenants(id),
    asset_type TEXT NOT NULL, -- attributes.arc_display_type, or '': what policies filter on
    attributes TEXT NOT NULL, -- JSON object
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX assets_by_tenant ON assets (tenant_id, seq);
CREATE INDEX assets_by_tenant_type ON assets (tenant_id, asset_type, seq);

CREATE TABLE asset_events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    asset_id   TEXT NOT NULL REFERENCES assets(id) ON DELETE CASCADE,
    tenant_id  TEXT NOT NULL,
    operation  TEXT NOT NULL,
    attributes TEXT NOT NULL, -- JSON object
    principal  TEXT NOT NULL,
    at         INTEGER NOT NULL
);
CREATE INDEX asset_events_by_asset ON asset_events (asset_id, seq);

CREATE TABLE access_policies (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    display_name TEXT NOT NULL,
    description  TEXT NOT NULL,
    rules        TEXT NOT NULL, -- JSON: {filters, permissions}
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX access_policies_by_tenant ON access_policies (tenant_id, seq);

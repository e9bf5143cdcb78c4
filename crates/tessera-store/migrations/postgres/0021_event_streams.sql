-- Shared Signals (SPEC §16): a resource server's event streams and each stream's outbox of
-- signed SETs. A stream outlives its tenant's deletion (no foreign key) so that the SET saying
-- so can still be pushed. status of a SET: pending (until pushed with a 2xx answer or
-- acknowledged by a poll), delivered, failed (refused by the receiver or past the horizon).
CREATE TABLE event_streams (
    seq                  BIGSERIAL PRIMARY KEY,
    id                   TEXT NOT NULL UNIQUE,
    tenant_id            TEXT NOT NULL,
    receiver             TEXT NOT NULL,
    delivery_method      TEXT NOT NULL,
    endpoint_url         TEXT,
    authorization_header TEXT,
    events_requested     TEXT NOT NULL,
    description          TEXT,
    status               TEXT NOT NULL,
    status_reason        TEXT,
    created_at           BIGINT  NOT NULL,
    updated_at           BIGINT  NOT NULL
);
CREATE INDEX event_streams_by_tenant ON event_streams (tenant_id, seq);

CREATE TABLE security_events (
    seq             BIGSERIAL PRIMARY KEY,
    stream_id       TEXT NOT NULL REFERENCES event_streams(id) ON DELETE CASCADE,
    jti             TEXT NOT NULL,
    set_jwt         TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    lease_until     BIGINT  NOT NULL DEFAULT 0,
    last_error      TEXT,
    created_at      BIGINT  NOT NULL,
    UNIQUE (stream_id, jti)
);
-- A stream's oldest pending SET, and the due ones.
CREATE INDEX security_events_pending ON security_events (status, stream_id, seq);

-- The webhook outbox (SPEC §6): one row per data change per connection that hears of it,
-- written in the data change's transaction. status: pending, delivered, failed (past the
-- retry horizon), dropped (the connection was revoked). A worker leases rows (lease_until) so
-- that with several instances each row is delivered by one of them.
CREATE TABLE webhook_events (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    connection_id   TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL
);
-- A connection's oldest pending entry, and the due ones.
CREATE INDEX webhook_events_pending ON webhook_events (status, connection_id, seq);

CREATE TABLE webhook_attempts (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    connection_id TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    event_seq     INTEGER NOT NULL,
    kind          TEXT NOT NULL,
    attempt       INTEGER NOT NULL,
    at            INTEGER NOT NULL,
    status_code   INTEGER,
    error         TEXT,
    duration_ms   INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_by_connection ON webhook_attempts (connection_id, seq);

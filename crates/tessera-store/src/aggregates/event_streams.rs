//! Shared Signals streams (SPEC §16) and their outboxes of signed SETs: leased for push one per
//! stream at a time (in order), or handed to a poll and kept until acknowledged.

/// Implements `EventStreamStore` on `$store` (a `crate::dialect::Backend`).
macro_rules! stamp {
    ($store:ty) => {
        use async_trait::async_trait;

        use tessera_core::id::{StreamId, TenantId};
        use tessera_core::model::{
            EventStream, PendingSet, PushOutcome, StreamBacklog, UnixMillis,
        };
        use tessera_core::ports::{EventStreamStore, StoreResult};

        use $crate::backend_error;
        use $crate::rows::{
            convert, event_stream_columns, EventStreamRow, PendingSetRow, EVENT_STREAM_COLUMNS,
        };

        const PENDING_COLUMNS: &str = "seq, stream_id, jti, set_jwt, attempts, created_at";

        #[async_trait]
        impl EventStreamStore for $store {
            async fn create_stream(&self, s: &EventStream) -> StoreResult<()> {
                let (method, endpoint, header, events) = event_stream_columns(s);
                sqlx::query(&format!(
                    "INSERT INTO event_streams ({EVENT_STREAM_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                ))
                .bind(s.id.to_string())
                .bind(s.tenant_id.to_string())
                .bind(s.receiver.to_string())
                .bind(method)
                .bind(endpoint)
                .bind(header)
                .bind(events)
                .bind(&s.description)
                .bind(s.status.as_str())
                .bind(&s.status_reason)
                .bind(s.created_at)
                .bind(s.updated_at)
                .execute(&self.pool)
                .await
                .map_err(backend_error)?;
                Ok(())
            }

            async fn get_stream(&self, tenant: TenantId, id: StreamId) -> StoreResult<EventStream> {
                sqlx::query_as::<_, EventStreamRow>(&format!(
                    "SELECT {EVENT_STREAM_COLUMNS} FROM event_streams \
                     WHERE tenant_id = $1 AND id = $2"
                ))
                .bind(tenant.to_string())
                .bind(id.to_string())
                .fetch_one(&self.pool)
                .await
                .map_err(backend_error)?
                .try_into()
            }

            async fn streams_hearing(&self, tenant: TenantId) -> StoreResult<Vec<EventStream>> {
                let rows = sqlx::query_as::<_, EventStreamRow>(&format!(
                    "SELECT {EVENT_STREAM_COLUMNS} FROM event_streams WHERE tenant_id = $1 \
                     OR tenant_id IN (SELECT id FROM tenants WHERE operator = 1) ORDER BY seq"
                ))
                .bind(tenant.to_string())
                .fetch_all(&self.pool)
                .await
                .map_err(backend_error)?;
                convert(rows)
            }

            async fn stream_by_id(&self, id: StreamId) -> StoreResult<EventStream> {
                sqlx::query_as::<_, EventStreamRow>(&format!(
                    "SELECT {EVENT_STREAM_COLUMNS} FROM event_streams WHERE id = $1"
                ))
                .bind(id.to_string())
                .fetch_one(&self.pool)
                .await
                .map_err(backend_error)?
                .try_into()
            }

            async fn streams_of(&self, tenant: TenantId) -> StoreResult<Vec<EventStream>> {
                let rows = sqlx::query_as::<_, EventStreamRow>(&format!(
                    "SELECT {EVENT_STREAM_COLUMNS} FROM event_streams WHERE tenant_id = $1 \
                     ORDER BY seq"
                ))
                .bind(tenant.to_string())
                .fetch_all(&self.pool)
                .await
                .map_err(backend_error)?;
                convert(rows)
            }

            async fn update_stream(&self, s: &EventStream) -> StoreResult<()> {
                let (method, endpoint, header, events) = event_stream_columns(s);
                let done = sqlx::query(
                    "UPDATE event_streams SET delivery_method = $3, endpoint_url = $4, \
                     authorization_header = $5, events_requested = $6, description = $7, \
                     status = $8, status_reason = $9, updated_at = $10 \
                     WHERE tenant_id = $1 AND id = $2",
                )
                .bind(s.tenant_id.to_string())
                .bind(s.id.to_string())
                .bind(method)
                .bind(endpoint)
                .bind(header)
                .bind(events)
                .bind(&s.description)
                .bind(s.status.as_str())
                .bind(&s.status_reason)
                .bind(s.updated_at)
                .execute(&self.pool)
                .await
                .map_err(backend_error)?;
                $crate::affected(done.rows_affected())
            }

            async fn delete_stream(&self, tenant: TenantId, id: StreamId) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                // The outbox first: SQLite's cascade needs foreign keys on, PostgreSQL's is the
                // same statement either way.
                sqlx::query(
                    "DELETE FROM security_events WHERE stream_id IN \
                     (SELECT id FROM event_streams WHERE tenant_id = $1 AND id = $2)",
                )
                .bind(tenant.to_string())
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(backend_error)?;
                let done =
                    sqlx::query("DELETE FROM event_streams WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant.to_string())
                        .bind(id.to_string())
                        .execute(&mut *tx)
                        .await
                        .map_err(backend_error)?;
                $crate::affected(done.rows_affected())?;
                tx.commit().await.map_err(backend_error)
            }

            async fn queue_sets(
                &self,
                now: UnixMillis,
                sets: &[(StreamId, String, String)],
            ) -> StoreResult<()> {
                if sets.is_empty() {
                    return Ok(());
                }
                let mut tx = self.begin_write().await?;
                for (stream, jti, set) in sets {
                    sqlx::query(
                        "INSERT INTO security_events (stream_id, jti, set_jwt, status, \
                         next_attempt_at, created_at) VALUES ($1, $2, $3, 'pending', $4, $4)",
                    )
                    .bind(stream.to_string())
                    .bind(jti)
                    .bind(set)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend_error)?;
                }
                tx.commit().await.map_err(backend_error)
            }

            async fn claim_pushes(
                &self,
                now: UnixMillis,
                lease_until: UnixMillis,
                limit: u32,
            ) -> StoreResult<Vec<PendingSet>> {
                // As the webhook outbox: each enabled push stream's oldest pending SET, if due
                // and not leased; the UPDATE checks lease and status again, so of two instances
                // only one takes a row.
                let mut rows: Vec<PendingSetRow> = sqlx::query_as(&format!(
                    "UPDATE security_events SET lease_until = $2 WHERE seq IN ( \
                     SELECT e.seq FROM (SELECT MIN(seq) AS seq FROM security_events \
                     WHERE status = 'pending' GROUP BY stream_id) heads \
                     JOIN security_events e ON e.seq = heads.seq \
                     JOIN event_streams s ON s.id = e.stream_id \
                     WHERE s.delivery_method = 'urn:ietf:rfc:8935' AND s.status = 'enabled' \
                     AND e.next_attempt_at <= $1 AND e.lease_until <= $1 \
                     ORDER BY e.seq LIMIT $3) AND lease_until <= $1 AND status = 'pending' \
                     RETURNING {PENDING_COLUMNS}"
                ))
                .bind(now)
                .bind(lease_until)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(backend_error)?;
                rows.sort_unstable_by_key(|r| r.seq);
                convert(rows)
            }

            async fn finish_pushes(&self, finished: &[(i64, PushOutcome)]) -> StoreResult<()> {
                if finished.is_empty() {
                    return Ok(());
                }
                let mut tx = self.begin_write().await?;
                for (seq, outcome) in finished {
                    let (status, next, error) = match outcome {
                        PushOutcome::Delivered => ("delivered", 0, None),
                        PushOutcome::RetryAt(at, why) => ("pending", *at, Some(why.as_str())),
                        PushOutcome::Failed(why) => ("failed", 0, Some(why.as_str())),
                    };
                    sqlx::query(
                        "UPDATE security_events SET status = $1, next_attempt_at = $2, \
                         attempts = attempts + 1, last_error = $3, lease_until = 0 \
                         WHERE seq = $4 AND status = 'pending'",
                    )
                    .bind(status)
                    .bind(next)
                    .bind(error)
                    .bind(seq)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend_error)?;
                }
                tx.commit().await.map_err(backend_error)
            }

            async fn poll_sets(
                &self,
                stream: StreamId,
                ack: &[String],
                max: u32,
            ) -> StoreResult<(Vec<PendingSet>, bool)> {
                if !ack.is_empty() {
                    let mut tx = self.begin_write().await?;
                    for jti in ack {
                        sqlx::query(
                            "UPDATE security_events SET status = 'delivered' \
                             WHERE stream_id = $1 AND jti = $2 AND status = 'pending'",
                        )
                        .bind(stream.to_string())
                        .bind(jti)
                        .execute(&mut *tx)
                        .await
                        .map_err(backend_error)?;
                    }
                    tx.commit().await.map_err(backend_error)?;
                }
                let mut rows: Vec<PendingSetRow> = sqlx::query_as(&format!(
                    "SELECT {PENDING_COLUMNS} FROM security_events \
                     WHERE status = 'pending' AND stream_id = $1 ORDER BY seq LIMIT $2"
                ))
                .bind(stream.to_string())
                .bind(i64::from(max) + 1)
                .fetch_all(&self.pool)
                .await
                .map_err(backend_error)?;
                let more = rows.len() > max as usize;
                rows.truncate(max as usize);
                Ok((convert(rows)?, more))
            }

            async fn stream_backlog(&self, stream: StreamId) -> StoreResult<StreamBacklog> {
                let (pending, oldest, delivered, failed): (i64, Option<i64>, i64, i64) =
                    sqlx::query_as(
                        "SELECT COUNT(*) FILTER (WHERE status = 'pending'), \
                         MIN(created_at) FILTER (WHERE status = 'pending'), \
                         COUNT(*) FILTER (WHERE status = 'delivered'), \
                         COUNT(*) FILTER (WHERE status = 'failed') \
                         FROM security_events WHERE stream_id = $1",
                    )
                    .bind(stream.to_string())
                    .fetch_one(&self.pool)
                    .await
                    .map_err(backend_error)?;
                let last_error: Option<(Option<String>,)> = sqlx::query_as(
                    "SELECT last_error FROM security_events WHERE stream_id = $1 \
                     AND attempts > 0 ORDER BY seq DESC LIMIT 1",
                )
                .bind(stream.to_string())
                .fetch_optional(&self.pool)
                .await
                .map_err(backend_error)?;
                Ok(StreamBacklog {
                    pending: u64::try_from(pending).unwrap_or_default(),
                    oldest_at: oldest,
                    delivered: u64::try_from(delivered).unwrap_or_default(),
                    failed: u64::try_from(failed).unwrap_or_default(),
                    last_error: last_error.and_then(|(e,)| e),
                })
            }
        }
    };
}

pub(crate) use stamp;

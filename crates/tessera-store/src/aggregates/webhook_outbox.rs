//! The webhook outbox: pending deliveries, claimed by one instance at a time, and their attempts.

/// Implements `WebhookOutbox` on `$store` (a `crate::dialect::Backend`).
macro_rules! stamp {
    ($store:ty) => {
        use async_trait::async_trait;

        use tessera_core::id::ConnectionId;
        use tessera_core::model::{OutboxState, PendingWebhook, UnixMillis, WebhookAttempt, WebhookOutcome};
        use tessera_core::page::{Page, PageRequest};
        use tessera_core::ports::{StoreError, StoreResult, WebhookOutbox};

        use $crate::backend_error;
        use $crate::rows::{fetch_page, WebhookAttemptRow};


        #[async_trait]
        impl WebhookOutbox for $store {
            async fn claim_webhooks(
                &self,
                now: UnixMillis,
                lease_until: UnixMillis,
                limit: u32,
            ) -> StoreResult<Vec<PendingWebhook>> {
                // Each connection's oldest pending entry (one pass over the pending part of
                // the index), if due and not leased. The lease is checked again by the
                // UPDATE itself, and so is the status: of two instances that pick the same
                // row, the second finds it leased — or, if the first has delivered it between
                // the second's snapshot and its row lock, no longer pending — and leaves it
                // (PostgreSQL re-evaluates the outer WHERE on the row it waited for).
                let mut rows: Vec<(i64, String, String, String, i64, i64)> = sqlx::query_as(
                    "UPDATE webhook_events SET lease_until = $2 WHERE seq IN ( \
                     SELECT e.seq FROM (SELECT MIN(seq) AS seq FROM webhook_events \
                     WHERE status = 'pending' GROUP BY connection_id) heads \
                     JOIN webhook_events e ON e.seq = heads.seq \
                     WHERE e.next_attempt_at <= $1 AND e.lease_until <= $1 \
                     ORDER BY e.seq LIMIT $3) AND lease_until <= $1 AND status = 'pending' \
                     RETURNING seq, connection_id, kind, payload, attempts, created_at",
                )
                .bind(now)
                .bind(lease_until)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(backend_error)?;
                // RETURNING comes in no promised order.
                rows.sort_unstable_by_key(|r| r.0);
                rows.into_iter()
                    .map(|(seq, connection, kind, payload, attempts, created_at)| {
                        Ok(PendingWebhook {
                            seq,
                            connection_id: connection.parse().map_err(|_| {
                                StoreError::Backend("corrupt webhook connection".into())
                            })?,
                            kind,
                            payload,
                            attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                            created_at,
                        })
                    })
                    .collect()
            }

            async fn finish_webhooks(
                &self,
                finished: &[(WebhookAttempt, WebhookOutcome)],
            ) -> StoreResult<()> {
                if finished.is_empty() {
                    return Ok(());
                }
                let mut tx = self.begin_write().await?;
                for (attempt, outcome) in finished {
                    if *outcome != WebhookOutcome::Dropped {
                        sqlx::query(
                            "INSERT INTO webhook_attempts (connection_id, event_seq, kind, \
                             attempt, at, status_code, error, duration_ms) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                        )
                        .bind(attempt.connection_id.to_string())
                        .bind(attempt.event_seq)
                        .bind(&attempt.kind)
                        .bind(i64::from(attempt.attempt))
                        .bind(attempt.at)
                        .bind(attempt.status.map(i64::from))
                        .bind(&attempt.error)
                        .bind(i64::from(attempt.duration_ms))
                        .execute(&mut *tx)
                        .await
                        .map_err(backend_error)?;
                    }
                    let (status, next) = match outcome {
                        WebhookOutcome::Delivered => ("delivered", 0),
                        WebhookOutcome::RetryAt(at) => ("pending", *at),
                        WebhookOutcome::Failed => ("failed", 0),
                        WebhookOutcome::Dropped => ("dropped", 0),
                    };
                    sqlx::query(
                        "UPDATE webhook_events SET status = $1, next_attempt_at = $2, \
                         attempts = $3, lease_until = 0 WHERE seq = $4 AND status = 'pending'",
                    )
                    .bind(status)
                    .bind(next)
                    .bind(i64::from(attempt.attempt))
                    .bind(attempt.event_seq)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend_error)?;
                }
                tx.commit().await.map_err(backend_error)
            }

            async fn webhook_attempts(
                &self,
                connection: ConnectionId,
                page: PageRequest,
            ) -> StoreResult<Page<WebhookAttempt>> {
                let query = sqlx::query_as::<_, WebhookAttemptRow>(
                    "SELECT seq, connection_id, event_seq, kind, attempt, at, status_code, \
                     error, duration_ms FROM webhook_attempts \
                     WHERE connection_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                )
                .bind(connection.to_string());
                fetch_page(query, &self.pool, page, |r| r.seq).await
            }

            async fn outbox_state(&self) -> StoreResult<OutboxState> {
                let (pending, failing, oldest): (i64, i64, Option<i64>) = sqlx::query_as(
                    "SELECT COUNT(*), COUNT(*) FILTER (WHERE attempts > 0), MIN(created_at) \
                     FROM webhook_events WHERE status = 'pending'",
                )
                .fetch_one(&self.pool)
                .await
                .map_err(backend_error)?;
                Ok(OutboxState {
                    pending: u64::try_from(pending).unwrap_or_default(),
                    failing: u64::try_from(failing).unwrap_or_default(),
                    oldest_at: oldest,
                })
            }
        }
    };
}

pub(crate) use stamp;

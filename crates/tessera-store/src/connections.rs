//! Connections (SPEC §6) and the webhook outbox on both backends, stamped by
//! `impl_connections!`.

macro_rules! impl_connections {
    ($store:ty) => {
        mod connections_impl {
            use async_trait::async_trait;
            use tessera_core::id::{ConnectionId, TenantId};
            use tessera_core::model::{
                Connection, PendingWebhook, UnixMillis, WebhookAttempt, WebhookOutcome,
            };
            use tessera_core::page::{Page, PageRequest};
            use tessera_core::ports::{ConnectionStore, StoreError, StoreResult, WebhookOutbox};

            use super::*;
            use $crate::backend_error;
            use $crate::rows::{into_page, ConnectionRow, WebhookAttemptRow};

            use $crate::rows::CONNECTION_COLUMNS as COLUMNS;

            #[async_trait]
            impl ConnectionStore for $store {
                async fn create_connection(&self, c: &Connection) -> StoreResult<()> {
                    sqlx::query(
                        "INSERT INTO connections (id, owner_tenant_id, client_id, \
                         client_tenant_id, scopes, state, status, granted_by, created_at, \
                         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    )
                    .bind(c.id.to_string())
                    .bind(c.owner_tenant_id.to_string())
                    .bind(c.client_id.to_string())
                    .bind(c.client_tenant_id.to_string())
                    .bind(c.scopes.to_string())
                    .bind(&c.state)
                    .bind(c.status.as_str())
                    .bind(&c.granted_by)
                    .bind(c.created_at)
                    .bind(c.updated_at)
                    .execute(&self.pool)
                    .await
                    .map_err(backend_error)?;
                    Ok(())
                }

                async fn store_connection_secrets(
                    &self,
                    id: ConnectionId,
                    bearer_token: &[u8],
                    webhook_secret: &[u8],
                    at: UnixMillis,
                ) -> StoreResult<()> {
                    let done = sqlx::query(
                        "UPDATE connections SET bearer_token = $1, webhook_secret = $2, \
                         updated_at = $3 WHERE id = $4 AND status = 'active'",
                    )
                    .bind(bearer_token.to_vec())
                    .bind(webhook_secret.to_vec())
                    .bind(at)
                    .bind(id.to_string())
                    .execute(&self.pool)
                    .await
                    .map_err(backend_error)?;
                    if done.rows_affected() == 0 {
                        return Err(StoreError::NotFound);
                    }
                    Ok(())
                }

                async fn discard_connection(&self, id: ConnectionId) -> StoreResult<()> {
                    sqlx::query("DELETE FROM connections WHERE id = $1")
                        .bind(id.to_string())
                        .execute(&self.pool)
                        .await
                        .map_err(backend_error)?;
                    Ok(())
                }

                async fn discard_unfinished_connections(
                    &self,
                    before: UnixMillis,
                ) -> StoreResult<Vec<ConnectionId>> {
                    let ids: Vec<String> = sqlx::query_scalar(
                        "DELETE FROM connections WHERE status = 'active' \
                         AND bearer_token IS NULL AND created_at < $1 RETURNING id",
                    )
                    .bind(before)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(backend_error)?;
                    ids.into_iter()
                        .map(|id| {
                            id.parse()
                                .map_err(|_| StoreError::Backend("corrupt connection id".into()))
                        })
                        .collect()
                }

                async fn revoke_connection(
                    &self,
                    tenant: TenantId,
                    id: ConnectionId,
                    at: UnixMillis,
                ) -> StoreResult<Connection> {
                    let mut tx = self
                        .pool
                        .begin_with(BEGIN_WRITE)
                        .await
                        .map_err(backend_error)?;
                    let revoked: Connection = sqlx::query_as::<_, ConnectionRow>(&format!(
                        "UPDATE connections SET status = 'revoked', bearer_token = NULL, \
                         updated_at = $1 WHERE id = $2 AND status <> 'revoked' \
                         AND (owner_tenant_id = $3 OR client_tenant_id = $3) \
                         RETURNING {COLUMNS}"
                    ))
                    .bind(at)
                    .bind(id.to_string())
                    .bind(tenant.to_string())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend_error)?
                    .ok_or(StoreError::NotFound)?
                    .try_into()?;
                    // Pending deliveries go with it.
                    sqlx::query(
                        "UPDATE webhook_events SET status = 'dropped', lease_until = 0 \
                         WHERE connection_id = $1 AND status = 'pending'",
                    )
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(backend_error)?;
                    tx.commit().await.map_err(backend_error)?;
                    Ok(revoked)
                }

                async fn get_connection(&self, id: ConnectionId) -> StoreResult<Connection> {
                    sqlx::query_as::<_, ConnectionRow>(&format!(
                        "SELECT {COLUMNS} FROM connections WHERE id = $1"
                    ))
                    .bind(id.to_string())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(backend_error)?
                    .ok_or(StoreError::NotFound)?
                    .try_into()
                }

                async fn list_connections(
                    &self,
                    tenant: TenantId,
                    page: PageRequest,
                ) -> StoreResult<Page<Connection>> {
                    let rows = sqlx::query_as::<_, ConnectionRow>(&format!(
                        "SELECT {COLUMNS} FROM connections \
                         WHERE (owner_tenant_id = $1 OR client_tenant_id = $1) AND seq > $2 \
                         ORDER BY seq LIMIT $3"
                    ))
                    .bind(tenant.to_string())
                    .bind(page.after)
                    .bind(i64::from(page.size) + 1)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(backend_error)?;
                    into_page(rows, page.size, |r| r.seq)
                }

                async fn active_connections(&self) -> StoreResult<Vec<Connection>> {
                    sqlx::query_as::<_, ConnectionRow>(&format!(
                        "SELECT {COLUMNS} FROM connections WHERE status = 'active' ORDER BY seq"
                    ))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(backend_error)?
                    .into_iter()
                    .map(Connection::try_from)
                    .collect()
                }

                async fn connection_secrets(
                    &self,
                    id: ConnectionId,
                ) -> StoreResult<Option<(Vec<u8>, Vec<u8>)>> {
                    let found: Option<(Option<Vec<u8>>, Option<Vec<u8>>)> = sqlx::query_as(
                        "SELECT bearer_token, webhook_secret FROM connections WHERE id = $1",
                    )
                    .bind(id.to_string())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(backend_error)?;
                    Ok(match found {
                        Some((Some(bearer), Some(secret))) => Some((bearer, secret)),
                        _ => None,
                    })
                }
            }

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
                    // UPDATE itself: of two instances that pick the same row, the second finds
                    // it leased and leaves it.
                    let mut rows: Vec<(i64, String, String, String, i64, i64)> = sqlx::query_as(
                        "UPDATE webhook_events SET lease_until = $2 WHERE seq IN ( \
                         SELECT e.seq FROM (SELECT MIN(seq) AS seq FROM webhook_events \
                         WHERE status = 'pending' GROUP BY connection_id) heads \
                         JOIN webhook_events e ON e.seq = heads.seq \
                         WHERE e.next_attempt_at <= $1 AND e.lease_until <= $1 \
                         ORDER BY e.seq LIMIT $3) AND lease_until <= $1 \
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
                    let mut tx = self
                        .pool
                        .begin_with(BEGIN_WRITE)
                        .await
                        .map_err(backend_error)?;
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
                    let rows = sqlx::query_as::<_, WebhookAttemptRow>(
                        "SELECT seq, connection_id, event_seq, kind, attempt, at, status_code, \
                         error, duration_ms FROM webhook_attempts \
                         WHERE connection_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                    )
                    .bind(connection.to_string())
                    .bind(page.after)
                    .bind(i64::from(page.size) + 1)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(backend_error)?;
                    into_page(rows, page.size, |r| r.seq)
                }

                async fn pending_webhooks(&self) -> StoreResult<u64> {
                    let n: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM webhook_events WHERE status = 'pending'",
                    )
                    .fetch_one(&self.pool)
                    .await
                    .map_err(backend_error)?;
                    Ok(u64::try_from(n).unwrap_or_default())
                }
            }
        }
    };
}

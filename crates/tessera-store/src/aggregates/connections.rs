//! Connections (SPEC §6): a data owner's grant to another tenant's integration.

/// Implements `ConnectionStore` on `$store` (a `crate::dialect::Backend`).
macro_rules! stamp {
    ($store:ty) => {
        use async_trait::async_trait;

        use tessera_core::id::{ConnectionId, TenantId};
        use tessera_core::model::{Connection, UnixMillis};
        use tessera_core::page::{Page, PageRequest};
        use tessera_core::ports::{ConnectionStore, StoreError, StoreResult};

        use $crate::backend_error;
        use $crate::rows::{convert, fetch_page, ConnectionRow, CONNECTION_COLUMNS as COLUMNS};

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
                let mut tx = self.begin_write().await?;
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
                let sql = format!(
                    "SELECT {COLUMNS} FROM connections \
                     WHERE (owner_tenant_id = $1 OR client_tenant_id = $1) AND seq > $2 \
                     ORDER BY seq LIMIT $3"
                );
                let query = sqlx::query_as::<_, ConnectionRow>(&sql).bind(tenant.to_string());
                fetch_page(query, &self.pool, page, |r| r.seq).await
            }

            async fn active_connections(&self) -> StoreResult<Vec<Connection>> {
                sqlx::query_as::<_, ConnectionRow>(&format!(
                    "SELECT {COLUMNS} FROM connections WHERE status = 'active' ORDER BY seq"
                ))
                .fetch_all(&self.pool)
                .await
                .map_err(backend_error)
                .and_then(convert)
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
    };
}

pub(crate) use stamp;

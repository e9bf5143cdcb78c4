//! Console sign-in sessions (SPEC §9).

/// Implements `ConsoleSessionStore` on `$store` (a `crate::dialect::Backend`).
macro_rules! stamp {
    ($store:ty) => {
        use async_trait::async_trait;

        use tessera_core::model::UnixMillis;
        use tessera_core::ports::{ConsoleSession, ConsoleSessionStore, StoreError, StoreResult};

        use $crate::backend_error;

        #[async_trait]
        impl ConsoleSessionStore for $store {
            async fn create_console_session(&self, s: &ConsoleSession) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                // Expired sessions go as new ones come.
                sqlx::query("DELETE FROM console_sessions WHERE expires_at < $1")
                    .bind(s.created_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend_error)?;
                sqlx::query(
                    "INSERT INTO console_sessions (id_hash, user_id, tenant_id, created_at, \
                     last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(s.id_hash.to_vec())
                .bind(s.user_id.to_string())
                .bind(s.tenant_id.to_string())
                .bind(s.created_at)
                .bind(s.last_seen_at)
                .bind(s.expires_at)
                .execute(&mut *tx)
                .await
                .map_err(backend_error)?;
                tx.commit().await.map_err(backend_error)
            }

            async fn console_session(
                &self,
                id_hash: &[u8; 32],
            ) -> StoreResult<Option<ConsoleSession>> {
                let row: Option<(String, String, i64, i64, i64)> = sqlx::query_as(
                    "SELECT user_id, tenant_id, created_at, last_seen_at, expires_at \
                     FROM console_sessions WHERE id_hash = $1",
                )
                .bind(id_hash.to_vec())
                .fetch_optional(&self.pool)
                .await
                .map_err(backend_error)?;
                let Some((user, tenant, created_at, last_seen_at, expires_at)) = row else {
                    return Ok(None);
                };
                let bad = || StoreError::Backend("a stored session does not parse".into());
                Ok(Some(ConsoleSession {
                    id_hash: *id_hash,
                    user_id: user.parse().map_err(|_| bad())?,
                    tenant_id: tenant.parse().map_err(|_| bad())?,
                    created_at,
                    last_seen_at,
                    expires_at,
                }))
            }

            async fn touch_console_session(
                &self,
                id_hash: &[u8; 32],
                at: UnixMillis,
            ) -> StoreResult<()> {
                sqlx::query("UPDATE console_sessions SET last_seen_at = $1 WHERE id_hash = $2")
                    .bind(at)
                    .bind(id_hash.to_vec())
                    .execute(&self.pool)
                    .await
                    .map_err(backend_error)?;
                Ok(())
            }

            async fn end_console_session(&self, id_hash: &[u8; 32]) -> StoreResult<()> {
                sqlx::query("DELETE FROM console_sessions WHERE id_hash = $1")
                    .bind(id_hash.to_vec())
                    .execute(&self.pool)
                    .await
                    .map_err(backend_error)?;
                Ok(())
            }
        }
    };
}

pub(crate) use stamp;

//! The change feed that keeps every instance's snapshots fresh.

/// Implements `ChangeFeed` on `$store` (a `crate::dialect::Backend`).
macro_rules! stamp {
    ($store:ty) => {
        use async_trait::async_trait;

        use tessera_core::model::UnixMillis;
        use tessera_core::ports::{Change, ChangeFeed, ChangeRecord, StoreResult};

        use $crate::backend_error;
        use $crate::rows::{change_columns, convert, ChangeRow};

        #[async_trait]
        impl ChangeFeed for $store {
            async fn publish(&self, at: UnixMillis, change: &Change) -> StoreResult<()> {
                let (kind, subject, extra) = change_columns(change);
                sqlx::query(
                    "INSERT INTO changes (at, kind, subject, extra) VALUES ($1, $2, $3, $4)",
                )
                .bind(at)
                .bind(kind)
                .bind(subject)
                .bind(extra)
                .execute(&self.pool)
                .await
                .map_err(backend_error)?;
                Ok(())
            }

            async fn changes_since(&self, since: UnixMillis) -> StoreResult<Vec<ChangeRecord>> {
                sqlx::query_as::<_, ChangeRow>(
                    "SELECT id, at, kind, subject, extra FROM changes WHERE at >= $1 ORDER BY id",
                )
                .bind(since)
                .fetch_all(&self.pool)
                .await
                .map_err(backend_error)
                .and_then(convert)
            }

            async fn prune_changes(&self, before: UnixMillis) -> StoreResult<u64> {
                let done = sqlx::query("DELETE FROM changes WHERE at < $1")
                    .bind(before)
                    .execute(&self.pool)
                    .await
                    .map_err(backend_error)?;
                Ok(done.rows_affected())
            }
        }
    };
}

pub(crate) use stamp;

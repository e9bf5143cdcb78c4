//! The ids (`jti`) of JWT assertions already used, kept until the assertion expires.

/// Implements `AssertionStore` on `$store` (a `crate::dialect::Backend`).
macro_rules! stamp {
    ($store:ty) => {
        use async_trait::async_trait;

        use tessera_core::ports::{AssertionStore, StoreResult};

        use $crate::backend_error;

        #[async_trait]
        impl AssertionStore for $store {
            async fn claim_assertion(
                &self,
                issuer: &str,
                jti: &str,
                expires_at: i64,
            ) -> StoreResult<bool> {
                // Committed with the other grants' writes waiting (`crate::group_commit`).
                self.writes
                    .write($crate::group_commit::Write::Claim {
                        issuer: issuer.to_owned(),
                        jti: jti.to_owned(),
                        expires_at,
                    })
                    .await
            }

            async fn prune_assertions(&self, before_seconds: i64) -> StoreResult<u64> {
                let done = sqlx::query("DELETE FROM used_assertions WHERE expires_at < $1")
                    .bind(before_seconds)
                    .execute(&self.pool)
                    .await
                    .map_err(backend_error)?;
                Ok(done.rows_affected())
            }
        }
    };
}

pub(crate) use stamp;

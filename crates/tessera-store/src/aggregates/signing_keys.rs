//! The server's signing keys, encrypted under the master key.

/// Implements `SigningKeyStore` on `$store` (a `crate::dialect::Backend`).
macro_rules! stamp {
    ($store:ty) => {
        use async_trait::async_trait;

        use tessera_core::model::UnixMillis;
        use tessera_core::ports::{SigningKeyStore, StoreResult, StoredSigningKey};

        use $crate::backend_error;
        use $crate::rows::SigningKeyRow;


        #[async_trait]
        impl SigningKeyStore for $store {
            async fn rotate_signing_key(
                &self,
                key: &StoredSigningKey,
                verify_until: UnixMillis,
            ) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "UPDATE signing_keys SET retired_at = $1, verify_until = $2 WHERE retired_at IS NULL",
                )
                .bind(key.created_at)
                .bind(verify_until)
                .execute(&mut *tx)
                .await
                .map_err(backend_error)?;
                sqlx::query(
                    "INSERT INTO signing_keys (kid, alg, encrypted_pkcs8, created_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(&key.kid)
                .bind(&key.alg)
                .bind(&key.encrypted_pkcs8)
                .bind(key.created_at)
                .execute(&mut *tx)
                .await
                .map_err(backend_error)?;
                tx.commit().await.map_err(backend_error)
            }

            async fn live_signing_keys(&self, now: UnixMillis) -> StoreResult<Vec<StoredSigningKey>> {
                Ok(sqlx::query_as::<_, SigningKeyRow>(
                    "SELECT kid, alg, encrypted_pkcs8, created_at, retired_at, verify_until \
                     FROM signing_keys WHERE verify_until IS NULL OR verify_until > $1 \
                     ORDER BY seq DESC",
                )
                .bind(now)
                .fetch_all(&self.pool)
                .await
                .map_err(backend_error)?
                .into_iter()
                .map(StoredSigningKey::from)
                .collect())
            }
        }
    };
}

pub(crate) use stamp;

//! Revoked token ids, kept until the token would have expired.

/// Implements `RevocationStore` on `$store` (a `crate::dialect::Backend`).
macro_rules! stamp {
    ($store:ty) => {
        use async_trait::async_trait;

        use tessera_core::id::TenantId;
        use tessera_core::ports::{RevocationStore, RevokedToken, StoreResult};

        use $crate::backend_error;
        use $crate::rows::RevokedRow;

        #[async_trait]
        impl RevocationStore for $store {
            async fn revoke_token(
                &self,
                tenant: TenantId,
                token: &RevokedToken,
            ) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO revoked_tokens (jti, tenant_id, expires_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (jti) DO NOTHING",
                )
                .bind(&token.jti)
                .bind(tenant.to_string())
                .bind(token.expires_at)
                .execute(&self.pool)
                .await
                .map_err(backend_error)?;
                Ok(())
            }

            async fn live_revocations(&self, now_seconds: i64) -> StoreResult<Vec<RevokedToken>> {
                Ok(sqlx::query_as::<_, RevokedRow>(
                    "SELECT jti, expires_at FROM revoked_tokens WHERE expires_at > $1",
                )
                .bind(now_seconds)
                .fetch_all(&self.pool)
                .await
                .map_err(backend_error)?
                .into_iter()
                .map(RevokedToken::from)
                .collect())
            }
        }
    };
}

pub(crate) use stamp;

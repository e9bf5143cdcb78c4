//! Refresh token families (SPEC §15): one row each, the hash of its newest token only.

/// Implements `RefreshTokenStore` on `$store` (a `crate::dialect::Backend`).
macro_rules! stamp {
    ($store:ty) => {
        use async_trait::async_trait;

        use tessera_core::id::{ClientId, TenantId, UserId};
        use tessera_core::model::RefreshFamily;
        use tessera_core::ports::{RefreshTokenStore, StoreError, StoreResult};

        use $crate::backend_error;
        use $crate::group_commit::Write;
        use $crate::rows::{RefreshFamilyRow, REFRESH_FAMILY_COLUMNS};

        fn family(row: RefreshFamilyRow) -> StoreResult<RefreshFamily> {
            RefreshFamily::try_from(row)
        }

        #[async_trait]
        impl RefreshTokenStore for $store {
            async fn create_refresh_family(&self, f: &RefreshFamily) -> StoreResult<()> {
                // Committed with the other grants' writes waiting (`crate::group_commit`).
                let started = self
                    .writes
                    .write(Write::StartFamily(Box::new(f.clone())))
                    .await?;
                if !started {
                    return Err(StoreError::Conflict(
                        "this code started a refresh token family already".into(),
                    ));
                }
                Ok(())
            }

            async fn redeem_code(
                &self,
                issuer: &str,
                expires_at: i64,
                family: &RefreshFamily,
            ) -> StoreResult<bool> {
                // One write with the other grants' waiting (`crate::group_commit`).
                self.writes
                    .write(Write::RedeemCode {
                        issuer: issuer.to_owned(),
                        expires_at,
                        family: Box::new(family.clone()),
                    })
                    .await
            }

            async fn refresh_family(&self, id: &str) -> StoreResult<Option<RefreshFamily>> {
                let row: Option<RefreshFamilyRow> = sqlx::query_as(&format!(
                    "SELECT {REFRESH_FAMILY_COLUMNS} FROM refresh_families WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend_error)?;
                row.map(family).transpose()
            }

            async fn rotate_refresh_family(
                &self,
                next: &RefreshFamily,
                current_hash: &[u8; 32],
            ) -> StoreResult<bool> {
                // Committed with the other grants' writes waiting (`crate::group_commit`).
                self.writes
                    .write(Write::Rotate {
                        next: Box::new(next.clone()),
                        current_hash: *current_hash,
                    })
                    .await
            }

            async fn delete_refresh_family(&self, id: &str) -> StoreResult<Option<RefreshFamily>> {
                let row: Option<RefreshFamilyRow> = sqlx::query_as(&format!(
                    "DELETE FROM refresh_families WHERE id = $1 RETURNING {REFRESH_FAMILY_COLUMNS}"
                ))
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend_error)?;
                row.map(family).transpose()
            }

            async fn delete_refresh_families(
                &self,
                tenant: TenantId,
                client: ClientId,
                user: Option<UserId>,
            ) -> StoreResult<u64> {
                let done = sqlx::query(
                    "DELETE FROM refresh_families WHERE tenant_id = $1 AND client_id = $2 \
                     AND ($3 IS NULL OR user_id = $3)",
                )
                .bind(tenant.to_string())
                .bind(client.to_string())
                .bind(user.map(|u| u.to_string()))
                .execute(&self.pool)
                .await
                .map_err(backend_error)?;
                Ok(done.rows_affected())
            }

            async fn refresh_families_of(
                &self,
                tenant: TenantId,
                user: UserId,
            ) -> StoreResult<Vec<RefreshFamily>> {
                let rows: Vec<RefreshFamilyRow> = sqlx::query_as(&format!(
                    "SELECT {REFRESH_FAMILY_COLUMNS} FROM refresh_families \
                     WHERE tenant_id = $1 AND user_id = $2 ORDER BY created_at DESC, id"
                ))
                .bind(tenant.to_string())
                .bind(user.to_string())
                .fetch_all(&self.pool)
                .await
                .map_err(backend_error)?;
                rows.into_iter().map(family).collect()
            }

            async fn sweep_refresh_families(&self, now_seconds: i64) -> StoreResult<u64> {
                let done = sqlx::query(
                    "DELETE FROM refresh_families \
                     WHERE idle_expires_at <= $1 OR absolute_expires_at <= $1",
                )
                .bind(now_seconds)
                .execute(&self.pool)
                .await
                .map_err(backend_error)?;
                Ok(done.rows_affected())
            }
        }
    };
}

pub(crate) use stamp;

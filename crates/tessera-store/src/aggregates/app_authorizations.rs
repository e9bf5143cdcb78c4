//! Multi-tenant applications' authorizations by customer tenants (SPEC §8).

/// Implements `AppAuthorizationStore` on `$store` (a `crate::dialect::Backend`).
macro_rules! stamp {
    ($store:ty) => {
        use async_trait::async_trait;

        use tessera_core::id::{AppAuthorizationId, TenantId};
        use tessera_core::model::AppAuthorization;
        use tessera_core::page::{Page, PageRequest};
        use tessera_core::ports::{AppAuthorizationStore, StoreError, StoreResult};

        use $crate::backend_error;
        use $crate::rows::{tenant_page, tenant_row, tenant_rows, AppAuthorizationRow};

        #[async_trait]
        impl AppAuthorizationStore for $store {
            async fn app_owner(&self, app_name: &str) -> StoreResult<Option<TenantId>> {
                let owner: Option<String> =
                    sqlx::query_scalar("SELECT tenant_id FROM applications WHERE name = $1")
                        .bind(app_name)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(backend_error)?;
                owner
                    .map(|t| {
                        t.parse()
                            .map_err(|_| StoreError::Backend("corrupt application owner".into()))
                    })
                    .transpose()
            }

            async fn put_app_authorization(&self, a: &AppAuthorization) -> StoreResult<()> {
                // One statement: a replacement takes the new id, so tokens issued under
                // the old one stop.
                sqlx::query(
                    "INSERT INTO app_authorizations (id, tenant_id, app_name, access, scopes, \
                     granted_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (tenant_id, app_name) DO UPDATE SET id = excluded.id, \
                     access = excluded.access, scopes = excluded.scopes, \
                     granted_by = excluded.granted_by, created_at = excluded.created_at",
                )
                .bind(a.id.to_string())
                .bind(a.tenant_id.to_string())
                .bind(&a.app_name)
                .bind(a.access.as_str())
                .bind(a.scopes.to_string())
                .bind(&a.granted_by)
                .bind(a.created_at)
                .execute(&self.pool)
                .await
                .map_err(backend_error)?;
                Ok(())
            }

            async fn list_app_authorizations(
                &self,
                tenant: TenantId,
                page: PageRequest,
            ) -> StoreResult<Page<AppAuthorization>> {
                tenant_page::<_, AppAuthorizationRow, _>(&self.pool, tenant, page).await
            }

            async fn delete_app_authorization(
                &self,
                tenant: TenantId,
                id: AppAuthorizationId,
            ) -> StoreResult<AppAuthorization> {
                tenant_row::<_, AppAuthorizationRow, _>(&self.pool, tenant, id.to_string(), true)
                    .await
            }

            async fn app_authorizations_of(
                &self,
                tenant: Option<TenantId>,
            ) -> StoreResult<Vec<AppAuthorization>> {
                tenant_rows::<_, AppAuthorizationRow, _>(&self.pool, tenant).await
            }

            async fn authorizing_tenants(
                &self,
                app_name: &str,
                after: Option<TenantId>,
                limit: u32,
            ) -> StoreResult<Vec<TenantId>> {
                let rows: Vec<String> = sqlx::query_scalar(
                    "SELECT tenant_id FROM app_authorizations \
                     WHERE app_name = $1 AND tenant_id > $2 ORDER BY tenant_id LIMIT $3",
                )
                .bind(app_name)
                .bind(after.map(|t| t.to_string()).unwrap_or_default())
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(backend_error)?;
                rows.into_iter()
                    .map(|t| {
                        t.parse()
                            .map_err(|_| StoreError::Backend("corrupt tenant id".into()))
                    })
                    .collect()
            }
        }
    };
}

pub(crate) use stamp;

//! Access policies (SPEC §5).

/// Implements `AccessPolicyStore` on `$store` (a `crate::dialect::Backend`).
macro_rules! stamp {
    ($store:ty) => {
        use async_trait::async_trait;

        use tessera_core::id::{AccessPolicyId, TenantId};
        use tessera_core::page::{Page, PageRequest};
        use tessera_core::policy::AccessPolicy;
        use tessera_core::ports::{AccessPolicyStore, StoreResult};

        use $crate::rows::{convert, tenant_page, tenant_row, PolicyRow, POLICY_COLUMNS};
        use $crate::to_json;
        use $crate::{affected, backend_error};

        #[async_trait]
        impl AccessPolicyStore for $store {
            async fn create_policy(&self, p: &AccessPolicy) -> StoreResult<AccessPolicy> {
                let (seq,): (i64,) = sqlx::query_as(
                    "INSERT INTO access_policies (id, tenant_id, display_name, description, \
                     rules, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     RETURNING seq",
                )
                .bind(p.id.uuid().to_string())
                .bind(p.tenant_id.to_string())
                .bind(&p.display_name)
                .bind(&p.description)
                .bind(to_json(&p.rules)?)
                .bind(p.created_at)
                .bind(p.updated_at)
                .fetch_one(&self.pool)
                .await
                .map_err(backend_error)?;
                Ok(AccessPolicy { seq, ..p.clone() })
            }

            async fn get_policy(
                &self,
                tenant: TenantId,
                id: AccessPolicyId,
            ) -> StoreResult<AccessPolicy> {
                tenant_row::<_, PolicyRow, _>(&self.pool, tenant, id.uuid().to_string(), false)
                    .await
            }

            async fn list_policies(
                &self,
                tenant: TenantId,
                page: PageRequest,
            ) -> StoreResult<Page<AccessPolicy>> {
                tenant_page::<_, PolicyRow, _>(&self.pool, tenant, page).await
            }

            async fn update_policy(&self, p: &AccessPolicy) -> StoreResult<()> {
                let done = sqlx::query(
                    "UPDATE access_policies SET display_name = $1, description = $2, \
                     rules = $3, updated_at = $4 WHERE tenant_id = $5 AND id = $6",
                )
                .bind(&p.display_name)
                .bind(&p.description)
                .bind(to_json(&p.rules)?)
                .bind(p.updated_at)
                .bind(p.tenant_id.to_string())
                .bind(p.id.uuid().to_string())
                .execute(&self.pool)
                .await
                .map_err(backend_error)?;
                affected(done.rows_affected())
            }

            async fn delete_policy(&self, tenant: TenantId, id: AccessPolicyId) -> StoreResult<()> {
                let done =
                    sqlx::query("DELETE FROM access_policies WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant.to_string())
                        .bind(id.uuid().to_string())
                        .execute(&self.pool)
                        .await
                        .map_err(backend_error)?;
                affected(done.rows_affected())
            }

            async fn tenant_policies(&self, tenant: TenantId) -> StoreResult<Vec<AccessPolicy>> {
                sqlx::query_as::<_, PolicyRow>(&format!(
                    "SELECT {POLICY_COLUMNS} FROM access_policies WHERE tenant_id = $1 \
                     ORDER BY seq"
                ))
                .bind(tenant.to_string())
                .fetch_all(&self.pool)
                .await
                .map_err(backend_error)
                .and_then(convert)
            }
        }
    };
}

pub(crate) use stamp;

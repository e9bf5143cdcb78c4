//! Resource servers (SPEC §15).

/// Implements `ResourceServerStore` on `$store` (a `crate::dialect::Backend`).
macro_rules! stamp {
    ($store:ty) => {
        use async_trait::async_trait;

        use tessera_core::id::{ResourceServerId, TenantId};
        use tessera_core::model::ResourceServer;
        use tessera_core::page::{Page, PageRequest};
        use tessera_core::ports::{ResourceServerStore, StoreResult};

        use $crate::backend_error;
        use $crate::rows::{tenant_page, tenant_row, tenant_rows, ResourceServerRow};

        #[async_trait]
        impl ResourceServerStore for $store {
            async fn create_resource_server(&self, r: &ResourceServer) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO resource_servers (id, tenant_id, identifier, canonical, \
                     display_name, scopes, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(r.id.to_string())
                .bind(r.tenant_id.to_string())
                .bind(&r.identifier)
                .bind(r.canonical())
                .bind(&r.display_name)
                .bind(r.scopes.to_string())
                .bind(r.created_at)
                .bind(r.updated_at)
                .execute(&self.pool)
                .await
                .map_err(backend_error)?;
                Ok(())
            }

            async fn get_resource_server(
                &self,
                tenant: TenantId,
                id: ResourceServerId,
            ) -> StoreResult<ResourceServer> {
                tenant_row::<_, ResourceServerRow, _>(&self.pool, tenant, id.to_string(), false)
                    .await
            }

            async fn list_resource_servers(
                &self,
                tenant: TenantId,
                page: PageRequest,
            ) -> StoreResult<Page<ResourceServer>> {
                tenant_page::<_, ResourceServerRow, _>(&self.pool, tenant, page).await
            }

            async fn update_resource_server(&self, r: &ResourceServer) -> StoreResult<()> {
                let done = sqlx::query(
                    "UPDATE resource_servers SET identifier = $3, canonical = $4, \
                     display_name = $5, scopes = $6, updated_at = $7 \
                     WHERE tenant_id = $1 AND id = $2",
                )
                .bind(r.tenant_id.to_string())
                .bind(r.id.to_string())
                .bind(&r.identifier)
                .bind(r.canonical())
                .bind(&r.display_name)
                .bind(r.scopes.to_string())
                .bind(r.updated_at)
                .execute(&self.pool)
                .await
                .map_err(backend_error)?;
                $crate::affected(done.rows_affected())
            }

            async fn delete_resource_server(
                &self,
                tenant: TenantId,
                id: ResourceServerId,
            ) -> StoreResult<ResourceServer> {
                tenant_row::<_, ResourceServerRow, _>(&self.pool, tenant, id.to_string(), true)
                    .await
            }

            async fn resource_servers_of(
                &self,
                tenant: Option<TenantId>,
            ) -> StoreResult<Vec<ResourceServer>> {
                tenant_rows::<_, ResourceServerRow, _>(&self.pool, tenant).await
            }
        }
    };
}

pub(crate) use stamp;

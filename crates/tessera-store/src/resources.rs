//! Assets, events and access policies, stamped onto each backend by `impl_resources!` like the
//! rest of the storage in `shared.rs`.

macro_rules! impl_resources {
    ($store:ty, $db:ty) => {
        mod resources_impl {
            use async_trait::async_trait;
            use tessera_core::id::{AccessPolicyId, AssetId, TenantId};
            use tessera_core::model::{Asset, AssetEvent, UnixMillis};
            use tessera_core::page::{Page, PageRequest};
            use tessera_core::policy::AccessPolicy;
            use tessera_core::ports::{AccessPolicyStore, AssetStore, StoreError, StoreResult};

            use super::*;
            use $crate::backend_error;

            const ASSET_COLUMNS: &str = "seq, id, tenant_id, attributes, created_at, updated_at";
            const EVENT_COLUMNS: &str =
                "seq, id, asset_id, tenant_id, operation, attributes, principal, at";
            const POLICY_COLUMNS: &str = "seq, id, tenant_id, display_name, description, rules, \
                 created_at, updated_at";

            fn json<T: serde::Serialize>(value: &T) -> StoreResult<String> {
                serde_json::to_string(value).map_err(|e| StoreError::Backend(e.to_string()))
            }

            fn found(rows: u64) -> StoreResult<()> {
                if rows == 0 {
                    Err(StoreError::NotFound)
                } else {
                    Ok(())
                }
            }

            #[async_trait]
            impl AssetStore for $store {
                async fn create_asset(&self, a: &Asset) -> StoreResult<Asset> {
                    let (seq,): (i64,) = sqlx::query_as(
                        "INSERT INTO assets (id, tenant_id, asset_type, attributes, created_at, \
                         updated_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq",
                    )
                    .bind(a.id.uuid().to_string())
                    .bind(a.tenant_id.to_string())
                    .bind(a.asset_type())
                    .bind(json(&a.attributes)?)
                    .bind(a.created_at)
                    .bind(a.updated_at)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(backend_error)?;
                    Ok(Asset { seq, ..a.clone() })
                }

                async fn get_asset(&self, tenant: TenantId, id: AssetId) -> StoreResult<Asset> {
                    sqlx::query_as::<_, AssetRow>(&format!(
                        "SELECT {ASSET_COLUMNS} FROM assets WHERE tenant_id = $1 AND id = $2"
                    ))
                    .bind(tenant.to_string())
                    .bind(id.uuid().to_string())
                    .fetch_one(&self.pool)
                    .await
                    .map_err(backend_error)?
                    .try_into()
                }

                async fn list_assets(
                    &self,
                    tenant: TenantId,
                    types: Option<&[String]>,
                    page: PageRequest,
                ) -> StoreResult<Page<Asset>> {
                    let mut q = sqlx::QueryBuilder::<$db>::new(format!(
                        "SELECT {ASSET_COLUMNS} FROM assets WHERE tenant_id = "
                    ));
                    q.push_bind(tenant.to_string());
                    q.push(" AND seq > ").push_bind(page.after);
                    if let Some(types) = types {
                        q.push(" AND asset_type IN (");
                        let mut list = q.separated(", ");
                        for t in types {
                            list.push_bind(t.clone());
                        }
                        q.push(")");
                    }
                    q.push(" ORDER BY seq LIMIT ").push_bind(i64::from(page.size) + 1);
                    let rows = q
                        .build_query_as::<AssetRow>()
                        .fetch_all(&self.pool)
                        .await
                        .map_err(backend_error)?;
                    into_page(rows, page.size, |r| r.seq)
                }

                async fn update_asset(
                    &self,
                    a: &Asset,
                    expected_updated_at: UnixMillis,
                ) -> StoreResult<()> {
                    let done = sqlx::query(
                        "UPDATE assets SET asset_type = $1, attributes = $2, updated_at = $3 \
                         WHERE tenant_id = $4 AND id = $5 AND updated_at = $6",
                    )
                    .bind(a.asset_type())
                    .bind(json(&a.attributes)?)
                    .bind(a.updated_at)
                    .bind(a.tenant_id.to_string())
                    .bind(a.id.uuid().to_string())
                    .bind(expected_updated_at)
                    .execute(&self.pool)
                    .await
                    .map_err(backend_error)?;
                    if done.rows_affected() == 1 {
                        return Ok(());
                    }
                    // Gone, or changed by someone else since it was read.
                    self.get_asset(a.tenant_id, a.id).await?;
                    Err(StoreError::Conflict(
                        "the asset changed while this request was handled; read it and try again"
                            .into(),
                    ))
                }

                async fn delete_asset(&self, tenant: TenantId, id: AssetId) -> StoreResult<()> {
                    let mut tx = self.pool.begin().await.map_err(backend_error)?;
                    sqlx::query(
                        "DELETE FROM asset_events WHERE tenant_id = $1 AND asset_id = $2",
                    )
                    .bind(tenant.to_string())
                    .bind(id.uuid().to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(backend_error)?;
                    let done = sqlx::query("DELETE FROM assets WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant.to_string())
                        .bind(id.uuid().to_string())
                        .execute(&mut *tx)
                        .await
                        .map_err(backend_error)?;
                    found(done.rows_affected())?;
                    tx.commit().await.map_err(backend_error)
                }

                async fn append_event(&self, e: &AssetEvent) -> StoreResult<AssetEvent> {
                    // The asset must exist in the event's tenant; the insert checks it itself.
                    let seq: Option<(i64,)> = sqlx::query_as(
                        "INSERT INTO asset_events (id, asset_id, tenant_id, operation, attributes, \
                         principal, at) SELECT $1, $2, $3, $4, $5, $6, $7 \
                         WHERE EXISTS (SELECT 1 FROM assets WHERE tenant_id = $3 AND id = $2) \
                         RETURNING seq",
                    )
                    .bind(e.id.to_string())
                    .bind(e.asset_id.uuid().to_string())
                    .bind(e.tenant_id.to_string())
                    .bind(&e.operation)
                    .bind(json(&e.attributes)?)
                    .bind(&e.principal)
                    .bind(e.at)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(backend_error)?;
                    let (seq,) = seq.ok_or(StoreError::NotFound)?;
                    Ok(AssetEvent { seq, ..e.clone() })
                }

                async fn list_events(
                    &self,
                    tenant: TenantId,
                    asset: AssetId,
                    page: PageRequest,
                ) -> StoreResult<Page<AssetEvent>> {
                    let rows = sqlx::query_as::<_, EventRow>(&format!(
                        "SELECT {EVENT_COLUMNS} FROM asset_events \
                         WHERE tenant_id = $1 AND asset_id = $2 AND seq > $3 ORDER BY seq LIMIT $4"
                    ))
                    .bind(tenant.to_string())
                    .bind(asset.uuid().to_string())
                    .bind(page.after)
                    .bind(i64::from(page.size) + 1)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(backend_error)?;
                    into_page(rows, page.size, |r| r.seq)
                }
            }

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
                    .bind(json(&p.rules)?)
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
                    sqlx::query_as::<_, PolicyRow>(&format!(
                        "SELECT {POLICY_COLUMNS} FROM access_policies \
                         WHERE tenant_id = $1 AND id = $2"
                    ))
                    .bind(tenant.to_string())
                    .bind(id.uuid().to_string())
                    .fetch_one(&self.pool)
                    .await
                    .map_err(backend_error)?
                    .try_into()
                }

                async fn list_policies(
                    &self,
                    tenant: TenantId,
                    page: PageRequest,
                ) -> StoreResult<Page<AccessPolicy>> {
                    let rows = sqlx::query_as::<_, PolicyRow>(&format!(
                        "SELECT {POLICY_COLUMNS} FROM access_policies \
                         WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
                    ))
                    .bind(tenant.to_string())
                    .bind(page.after)
                    .bind(i64::from(page.size) + 1)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(backend_error)?;
                    into_page(rows, page.size, |r| r.seq)
                }

                async fn update_policy(&self, p: &AccessPolicy) -> StoreResult<()> {
                    let done = sqlx::query(
                        "UPDATE access_policies SET display_name = $1, description = $2, \
                         rules = $3, updated_at = $4 WHERE tenant_id = $5 AND id = $6",
                    )
                    .bind(&p.display_name)
                    .bind(&p.description)
                    .bind(json(&p.rules)?)
                    .bind(p.updated_at)
                    .bind(p.tenant_id.to_string())
                    .bind(p.id.uuid().to_string())
                    .execute(&self.pool)
                    .await
                    .map_err(backend_error)?;
                    found(done.rows_affected())
                }

                async fn delete_policy(
                    &self,
                    tenant: TenantId,
                    id: AccessPolicyId,
                ) -> StoreResult<()> {
                    let done =
                        sqlx::query("DELETE FROM access_policies WHERE tenant_id = $1 AND id = $2")
                            .bind(tenant.to_string())
                            .bind(id.uuid().to_string())
                            .execute(&self.pool)
                            .await
                            .map_err(backend_error)?;
                    found(done.rows_affected())
                }

                async fn tenant_policies(&self, tenant: TenantId) -> StoreResult<Vec<AccessPolicy>> {
                    sqlx::query_as::<_, PolicyRow>(&format!(
                        "SELECT {POLICY_COLUMNS} FROM access_policies WHERE tenant_id = $1 \
                         ORDER BY seq"
                    ))
                    .bind(tenant.to_string())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(backend_error)?
                    .into_iter()
                    .map(AccessPolicy::try_from)
                    .collect()
                }
            }
        }
    };
}

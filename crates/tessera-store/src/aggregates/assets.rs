//! Assets and their events (SPEC §5). A data change is written into the webhook outbox of every
//! connection that may see it in the same transaction (`enqueue`).

/// Implements `AssetStore` on `$store` (a `crate::dialect::Backend`).
macro_rules! stamp {
    ($store:ty) => {
        use async_trait::async_trait;

        use tessera_core::id::{AssetId, TenantId};
        use tessera_core::model::{Asset, AssetEvent, DataChange, UnixMillis};
        use tessera_core::page::{Page, PageRequest};
        use tessera_core::ports::{AssetStore, StoreError, StoreResult};

        use $crate::dialect::Backend;
        use $crate::rows::{fetch_page, into_page, tenant_row, AssetRow, EventRow, ASSET_COLUMNS};
        use $crate::to_json;
        use $crate::{affected, backend_error};

        type Db = <$store as Backend>::Db;

        const EVENT_COLUMNS: &str =
            "seq, id, asset_id, tenant_id, operation, attributes, principal, at";

        /// Writes `change` into the outbox of every active connection of `tenant` whose
        /// scopes include what it needs and whose application has a webhook URL: one
        /// statement in the data change's transaction, so a change and its webhooks are
        /// stored together or not at all.
        async fn enqueue(
            tx: &mut sqlx::Transaction<'_, Db>,
            tenant: TenantId,
            change: Option<&DataChange>,
        ) -> StoreResult<()> {
            let Some(change) = change else {
                return Ok(());
            };
            sqlx::query(
                "INSERT INTO webhook_events (connection_id, kind, payload, status, \
                 next_attempt_at, created_at) \
                 SELECT c.id, $1, $2, 'pending', $3, $3 FROM connections c \
                 JOIN integrations i ON i.client_id = c.client_id \
                 WHERE c.owner_tenant_id = $4 AND c.status = 'active' \
                 AND i.webhook_url IS NOT NULL AND (' ' || c.scopes || ' ') LIKE $5 \
                 ORDER BY c.seq",
            )
            .bind(change.kind)
            .bind(&change.payload)
            .bind(change.at)
            .bind(tenant.to_string())
            .bind(format!("% {} %", change.needs.as_str()))
            .execute(&mut **tx)
            .await
            .map_err(backend_error)?;
            Ok(())
        }

        #[async_trait]
        impl AssetStore for $store {
            async fn asset_types(&self, tenant: TenantId, limit: u32) -> StoreResult<Vec<String>> {
                // A skip scan over (tenant_id, asset_type): each step seeks the next type, so
                // a tenant with millions of assets of few types costs a few seeks.
                let types: Vec<(String,)> = sqlx::query_as(
                    "WITH RECURSIVE t(v) AS ( \
                     SELECT MIN(asset_type) FROM assets WHERE tenant_id = $1 AND asset_type > '' \
                     UNION ALL SELECT (SELECT MIN(asset_type) FROM assets \
                     WHERE tenant_id = $1 AND asset_type > t.v) FROM t WHERE t.v IS NOT NULL) \
                     SELECT v FROM t WHERE v IS NOT NULL LIMIT $2",
                )
                .bind(tenant.to_string())
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(backend_error)?;
                Ok(types.into_iter().map(|(v,)| v).collect())
            }

            async fn create_asset(
                &self,
                a: &Asset,
                change: Option<&DataChange>,
            ) -> StoreResult<Asset> {
                let mut tx = self.begin_write().await?;
                let (seq,): (i64,) = sqlx::query_as(
                    "INSERT INTO assets (id, tenant_id, asset_type, attributes, created_at, \
                     updated_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq",
                )
                .bind(a.id.uuid().to_string())
                .bind(a.tenant_id.to_string())
                .bind(a.asset_type())
                .bind(to_json(&a.attributes)?)
                .bind(a.created_at)
                .bind(a.updated_at)
                .fetch_one(&mut *tx)
                .await
                .map_err(backend_error)?;
                enqueue(&mut tx, a.tenant_id, change).await?;
                tx.commit().await.map_err(backend_error)?;
                Ok(Asset { seq, ..a.clone() })
            }

            async fn get_asset(&self, tenant: TenantId, id: AssetId) -> StoreResult<Asset> {
                tenant_row::<_, AssetRow, _>(&self.pool, tenant, id.uuid().to_string(), false).await
            }

            async fn list_assets(
                &self,
                tenant: TenantId,
                types: Option<&[String]>,
                page: PageRequest,
            ) -> StoreResult<Page<Asset>> {
                let mut q = sqlx::QueryBuilder::<Db>::new(format!(
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
                q.push(" ORDER BY seq LIMIT ")
                    .push_bind(i64::from(page.size) + 1);
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
                change: Option<&DataChange>,
            ) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query(
                    "UPDATE assets SET asset_type = $1, attributes = $2, updated_at = $3 \
                     WHERE tenant_id = $4 AND id = $5 AND updated_at = $6",
                )
                .bind(a.asset_type())
                .bind(to_json(&a.attributes)?)
                .bind(a.updated_at)
                .bind(a.tenant_id.to_string())
                .bind(a.id.uuid().to_string())
                .bind(expected_updated_at)
                .execute(&mut *tx)
                .await
                .map_err(backend_error)?;
                if done.rows_affected() == 1 {
                    enqueue(&mut tx, a.tenant_id, change).await?;
                    return tx.commit().await.map_err(backend_error);
                }
                drop(tx);
                // Gone, or changed by someone else since it was read.
                self.get_asset(a.tenant_id, a.id).await?;
                Err(StoreError::Conflict(
                    "the asset changed while this request was handled; read it and try again"
                        .into(),
                ))
            }

            async fn delete_asset(
                &self,
                tenant: TenantId,
                id: AssetId,
                change: Option<&DataChange>,
            ) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query("DELETE FROM asset_events WHERE tenant_id = $1 AND asset_id = $2")
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
                affected(done.rows_affected())?;
                enqueue(&mut tx, tenant, change).await?;
                tx.commit().await.map_err(backend_error)
            }

            async fn append_event(
                &self,
                e: &AssetEvent,
                change: Option<&DataChange>,
            ) -> StoreResult<AssetEvent> {
                let mut tx = self.begin_write().await?;
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
                .bind(to_json(&e.attributes)?)
                .bind(&e.principal)
                .bind(e.at)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend_error)?;
                let (seq,) = seq.ok_or(StoreError::NotFound)?;
                enqueue(&mut tx, e.tenant_id, change).await?;
                tx.commit().await.map_err(backend_error)?;
                Ok(AssetEvent { seq, ..e.clone() })
            }

            async fn list_events(
                &self,
                tenant: TenantId,
                asset: AssetId,
                page: PageRequest,
            ) -> StoreResult<Page<AssetEvent>> {
                let sql = format!(
                    "SELECT {EVENT_COLUMNS} FROM asset_events \
                     WHERE tenant_id = $1 AND asset_id = $2 AND seq > $3 ORDER BY seq LIMIT $4"
                );
                let query = sqlx::query_as::<_, EventRow>(&sql)
                    .bind(tenant.to_string())
                    .bind(asset.uuid().to_string());
                fetch_page(query, &self.pool, page, |r| r.seq).await
            }
        }
    };
}

pub(crate) use stamp;

//! Assets, events, access policies, integrations' public keys and used assertion ids, stamped
//! onto each backend by `impl_resources!` like the rest of the storage in `shared.rs`.

macro_rules! impl_resources {
    ($store:ty, $db:ty) => {
        mod resources_impl {
            use async_trait::async_trait;
            use tessera_core::id::{AccessPolicyId, AssetId, ClientId, ConsentId, TenantId};
            use tessera_core::model::{Asset, AssetEvent, ClientKey, Consent, DataChange, UnixMillis};
            use tessera_core::page::{Page, PageRequest};
            use tessera_core::policy::AccessPolicy;
            use tessera_core::ports::{
                AccessPolicyStore, AssertionStore, AssetStore, ConsentStore, StoreError,
                StoreResult,
            };

            use super::*;
            use $crate::backend_error;

            const ASSET_COLUMNS: &str = "seq, id, tenant_id, attributes, created_at, updated_at";
            const EVENT_COLUMNS: &str =
                "seq, id, asset_id, tenant_id, operation, attributes, principal, at";
            const CONSENT_COLUMNS: &str = "seq, id, tenant_id, client_id, user_key, user_email, \
                 scopes, granted_by, created_at";
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

            /// Writes `change` into the outbox of every active connection of `tenant` whose
            /// scopes include what it needs and whose application has a webhook URL: one
            /// statement in the data change's transaction, so a change and its webhooks are
            /// stored together or not at all.
            async fn enqueue(
                tx: &mut sqlx::Transaction<'_, $db>,
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
                async fn create_asset(
                    &self,
                    a: &Asset,
                    change: Option<&DataChange>,
                ) -> StoreResult<Asset> {
                    let mut tx = self.pool.begin_with(BEGIN_WRITE).await.map_err(backend_error)?;
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
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(backend_error)?;
                    enqueue(&mut tx, a.tenant_id, change).await?;
                    tx.commit().await.map_err(backend_error)?;
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
                    change: Option<&DataChange>,
                ) -> StoreResult<()> {
                    let mut tx = self.pool.begin_with(BEGIN_WRITE).await.map_err(backend_error)?;
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
                    let mut tx = self.pool.begin_with(BEGIN_WRITE).await.map_err(backend_error)?;
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
                    enqueue(&mut tx, tenant, change).await?;
                    tx.commit().await.map_err(backend_error)
                }

                async fn append_event(
                    &self,
                    e: &AssetEvent,
                    change: Option<&DataChange>,
                ) -> StoreResult<AssetEvent> {
                    let mut tx = self.pool.begin_with(BEGIN_WRITE).await.map_err(backend_error)?;
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
                    $crate::rows::tenant_page::<_, PolicyRow, _>(
                    &self.pool,
                    POLICY_COLUMNS,
                    "access_policies",
                    tenant,
                    page,
                    |r| r.seq,
                )
                .await
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

            #[async_trait]
            impl AssertionStore for $store {
                async fn claim_assertion(
                    &self,
                    issuer: &str,
                    jti: &str,
                    expires_at: i64,
                ) -> StoreResult<bool> {
                    let done = sqlx::query(
                        "INSERT INTO used_assertions (issuer, jti, expires_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (issuer, jti) DO NOTHING",
                    )
                    .bind(issuer)
                    .bind(jti)
                    .bind(expires_at)
                    .execute(&self.pool)
                    .await
                    .map_err(backend_error)?;
                    Ok(done.rows_affected() == 1)
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

            impl $store {
                pub(crate) async fn add_key(&self, tenant: TenantId, k: &ClientKey) -> StoreResult<()> {
                    let mut tx = self.pool.begin_with(BEGIN_WRITE).await.map_err(backend_error)?;
                    let owned: Option<(i64,)> = sqlx::query_as(
                        "SELECT seq FROM integrations WHERE tenant_id = $1 AND client_id = $2",
                    )
                    .bind(tenant.to_string())
                    .bind(k.client_id.to_string())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend_error)?;
                    if owned.is_none() {
                        return Err(StoreError::NotFound);
                    }
                    sqlx::query(
                        "INSERT INTO client_keys (client_id, kid, alg, jwk, not_after, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(k.client_id.to_string())
                    .bind(&k.kid)
                    .bind(k.alg.as_str())
                    .bind(k.jwk.to_string())
                    .bind(k.not_after)
                    .bind(k.created_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend_error)?;
                    tx.commit().await.map_err(backend_error)
                }

                pub(crate) async fn keys_of(
                    &self,
                    tenant: TenantId,
                    id: ClientId,
                ) -> StoreResult<Vec<ClientKey>> {
                    sqlx::query_as::<_, ClientKeyRow>(
                        "SELECT k.client_id, k.kid, k.alg, k.jwk, k.not_after, k.created_at \
                         FROM client_keys k JOIN integrations i ON i.client_id = k.client_id \
                         WHERE i.tenant_id = $1 AND k.client_id = $2 ORDER BY k.seq",
                    )
                    .bind(tenant.to_string())
                    .bind(id.to_string())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(backend_error)?
                    .into_iter()
                    .map(ClientKey::try_from)
                    .collect()
                }

                /// The keys of one client, or of all (for the snapshot), oldest first.
                pub(crate) async fn stored_keys(
                    &self,
                    client: Option<&str>,
                ) -> StoreResult<Vec<ClientKey>> {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "SELECT client_id, kid, alg, jwk, not_after, created_at FROM client_keys",
                    );
                    if let Some(id) = client {
                        q.push(" WHERE client_id = ").push_bind(id.to_owned());
                    }
                    q.push(" ORDER BY seq");
                    q.build_query_as::<ClientKeyRow>()
                        .fetch_all(&self.pool)
                        .await
                        .map_err(backend_error)?
                        .into_iter()
                        .map(ClientKey::try_from)
                        .collect()
                }

                pub(crate) async fn remove_key(
                    &self,
                    tenant: TenantId,
                    id: ClientId,
                    kid: &str,
                ) -> StoreResult<()> {
                    let done = sqlx::query(
                        "DELETE FROM client_keys WHERE client_id = $1 AND kid = $2 AND client_id IN \
                         (SELECT client_id FROM integrations WHERE tenant_id = $3)",
                    )
                    .bind(id.to_string())
                    .bind(kid)
                    .bind(tenant.to_string())
                    .execute(&self.pool)
                    .await
                    .map_err(backend_error)?;
                    found(done.rows_affected())
                }
            }

            #[async_trait]
            impl ConsentStore for $store {
                async fn put_consent(&self, c: &Consent) -> StoreResult<Consent> {
                    let (user_key, user_email) = consent_user_columns(&c.user);
                    // One statement, so two instances giving the same consent cannot both insert.
                    sqlx::query_as::<_, ConsentRow>(&format!(
                        "INSERT INTO consents (id, tenant_id, client_id, user_key, user_email, \
                         scopes, granted_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                         ON CONFLICT (tenant_id, client_id, user_key) DO UPDATE SET \
                         scopes = excluded.scopes, user_email = excluded.user_email, \
                         granted_by = excluded.granted_by, created_at = excluded.created_at \
                         RETURNING {CONSENT_COLUMNS}"
                    ))
                    .bind(c.id.to_string())
                    .bind(c.tenant_id.to_string())
                    .bind(c.client_id.to_string())
                    .bind(user_key)
                    .bind(user_email)
                    .bind(c.scopes.to_string())
                    .bind(&c.granted_by)
                    .bind(c.created_at)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(backend_error)?
                    .try_into()
                }

                async fn list_consents(
                    &self,
                    tenant: TenantId,
                    page: PageRequest,
                ) -> StoreResult<Page<Consent>> {
                    $crate::rows::tenant_page::<_, ConsentRow, _>(
                    &self.pool,
                    CONSENT_COLUMNS,
                    "consents",
                    tenant,
                    page,
                    |r| r.seq,
                )
                .await
                }

                async fn delete_consent(&self, tenant: TenantId, id: ConsentId) -> StoreResult<Consent> {
                    sqlx::query_as::<_, ConsentRow>(&format!(
                        "DELETE FROM consents WHERE tenant_id = $1 AND id = $2 RETURNING {CONSENT_COLUMNS}"
                    ))
                    .bind(tenant.to_string())
                    .bind(id.to_string())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(backend_error)?
                    .ok_or(StoreError::NotFound)?
                    .try_into()
                }

                async fn consents_of(&self, tenant: Option<TenantId>) -> StoreResult<Vec<Consent>> {
                    sqlx::query_as::<_, ConsentRow>(&format!(
                        "SELECT {CONSENT_COLUMNS} FROM consents \
                         WHERE ($1 IS NULL OR tenant_id = $1) ORDER BY seq"
                    ))
                    .bind(tenant.map(|t| t.to_string()))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(backend_error)?
                    .into_iter()
                    .map(Consent::try_from)
                    .collect()
                }
            }
        }
    };
}

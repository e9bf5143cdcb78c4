//! Integrations, their client secrets and their public keys (SPEC §3).

/// Implements `IntegrationStore` on `$store` (a `crate::dialect::Backend`).
macro_rules! stamp {
    ($store:ty) => {
        use async_trait::async_trait;

        use tessera_core::id::{ClientId, TenantId};
        use tessera_core::model::{ClientKey, ClientSecretRecord, Integration, UnixMillis};
        use tessera_core::page::{Page, PageRequest};
        use tessera_core::ports::{
            IntegrationStore, IntegrationWithSecrets, StoreError, StoreResult,
        };

        use $crate::dialect::Backend;
        use $crate::rows::{
            convert, tenant_page, tenant_row, ClientKeyRow, IntegrationRow, SecretRow,
            INTEGRATION_COLUMNS,
        };
        use $crate::{affected, backend_error};

        type Db = <$store as Backend>::Db;

        /// `app_name`, `app_version`, `stage`, `tms_enabled` as stored.
        fn app_columns(i: &Integration) -> (Option<&str>, Option<&str>, Option<&str>, i64) {
            match &i.app {
                Some(app) => (
                    Some(app.app_name.as_str()),
                    Some(app.app_version.as_str()),
                    Some(app.stage.as_str()),
                    i64::from(app.tms_enabled),
                ),
                None => (None, None, None, 0),
            }
        }

        fn claims_json(integration: &Integration) -> String {
            serde_json::to_string(&integration.custom_claims).unwrap_or_else(|_| "{}".into())
        }

        fn redirect_uris_json(integration: &Integration) -> String {
            serde_json::to_string(&integration.redirect_uris).unwrap_or_else(|_| "[]".into())
        }

        #[async_trait]
        impl IntegrationStore for $store {
            async fn create_integration(
                &self,
                i: &Integration,
                secret: Option<&ClientSecretRecord>,
            ) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                if let Some(app) = &i.app {
                    // The first tenant to register a name owns it; one statement, so two
                    // tenants racing for a name cannot both win.
                    sqlx::query(
                        "INSERT INTO applications (name, tenant_id, created_at) \
                         VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
                    )
                    .bind(&app.app_name)
                    .bind(i.tenant_id.to_string())
                    .bind(i.created_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend_error)?;
                    let owner: String =
                        sqlx::query_scalar("SELECT tenant_id FROM applications WHERE name = $1")
                            .bind(&app.app_name)
                            .fetch_one(&mut *tx)
                            .await
                            .map_err(backend_error)?;
                    if owner != i.tenant_id.to_string() {
                        return Err(StoreError::Conflict(format!(
                            "`app_name` `{}` is registered by another tenant; choose another name",
                            app.app_name
                        )));
                    }
                }
                let (app_name, app_version, stage, tms_enabled) = app_columns(i);
                sqlx::query(
                    "INSERT INTO integrations (client_id, tenant_id, display_name, scopes, \
                     custom_claims, token_ttl_seconds, jwks_uri, app_name, app_version, stage, \
                     tms_enabled, created_at, updated_at, authentication_url, webhook_url, \
                     description, homepage_url, redirect_uris, public_client, \
                     refresh_idle_seconds, refresh_absolute_seconds, origin, \
                     metadata_document_url, dpop_bound_access_tokens) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
                     $16, $17, $18, $19, $20, $21, $22, $23, $24)",
                )
                .bind(i.client_id.to_string())
                .bind(i.tenant_id.to_string())
                .bind(&i.display_name)
                .bind(i.scopes.to_string())
                .bind(claims_json(i))
                .bind(i64::from(i.token_ttl_seconds))
                .bind(&i.jwks_uri)
                .bind(app_name)
                .bind(app_version)
                .bind(stage)
                .bind(tms_enabled)
                .bind(i.created_at)
                .bind(i.updated_at)
                .bind(&i.profile.authentication_url)
                .bind(&i.profile.webhook_url)
                .bind(&i.profile.description)
                .bind(&i.profile.homepage_url)
                .bind(redirect_uris_json(i))
                .bind(i64::from(i.public_client))
                .bind(i64::from(i.refresh.idle_seconds))
                .bind(i64::from(i.refresh.absolute_seconds))
                .bind(i.origin.kind())
                .bind(i.origin.document_url())
                .bind(i64::from(i.dpop_bound_access_tokens))
                .execute(&mut *tx)
                .await
                .map_err(|e| match backend_error(e) {
                    StoreError::Conflict(_) => StoreError::Conflict(
                        "this version of the application is registered already: \
                         `app_name` and `app_version` name one integration"
                            .into(),
                    ),
                    other => other,
                })?;
                if let Some(secret) = secret {
                    insert_secret(&mut tx, secret).await?;
                }
                tx.commit().await.map_err(backend_error)
            }

            async fn remove_secrets(&self, tenant: TenantId, id: ClientId) -> StoreResult<u64> {
                let mut tx = self.begin_write().await?;
                let owned: Option<(i64,)> = sqlx::query_as(
                    "SELECT seq FROM integrations WHERE tenant_id = $1 AND client_id = $2",
                )
                .bind(tenant.to_string())
                .bind(id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend_error)?;
                if owned.is_none() {
                    return Err(StoreError::NotFound);
                }
                let removed = sqlx::query("DELETE FROM client_secrets WHERE client_id = $1")
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(backend_error)?
                    .rows_affected();
                tx.commit().await.map_err(backend_error)?;
                Ok(removed)
            }

            async fn get_integration(
                &self,
                tenant: TenantId,
                id: ClientId,
            ) -> StoreResult<Integration> {
                tenant_row::<_, IntegrationRow, _>(&self.pool, tenant, id.to_string(), false).await
            }

            async fn list_integrations(
                &self,
                tenant: TenantId,
                page: PageRequest,
            ) -> StoreResult<Page<Integration>> {
                tenant_page::<_, IntegrationRow, _>(&self.pool, tenant, page)
                .await
            }

            async fn update_integration(&self, i: &Integration) -> StoreResult<()> {
                let (_, _, stage, tms_enabled) = app_columns(i);
                let done = sqlx::query(
                    "UPDATE integrations SET display_name = $1, scopes = $2, custom_claims = $3, \
                     token_ttl_seconds = $4, jwks_uri = $5, updated_at = $6, stage = $9, \
                     tms_enabled = $10, authentication_url = $11, webhook_url = $12, \
                     description = $13, homepage_url = $14, redirect_uris = $15, \
                     refresh_idle_seconds = $16, refresh_absolute_seconds = $17, \
                     dpop_bound_access_tokens = $18 \
                     WHERE tenant_id = $7 AND client_id = $8",
                )
                .bind(&i.display_name)
                .bind(i.scopes.to_string())
                .bind(claims_json(i))
                .bind(i64::from(i.token_ttl_seconds))
                .bind(&i.jwks_uri)
                .bind(i.updated_at)
                .bind(i.tenant_id.to_string())
                .bind(i.client_id.to_string())
                .bind(stage)
                .bind(tms_enabled)
                .bind(&i.profile.authentication_url)
                .bind(&i.profile.webhook_url)
                .bind(&i.profile.description)
                .bind(&i.profile.homepage_url)
                .bind(redirect_uris_json(i))
                .bind(i64::from(i.refresh.idle_seconds))
                .bind(i64::from(i.refresh.absolute_seconds))
                .bind(i64::from(i.dpop_bound_access_tokens))
                .execute(&self.pool)
                .await
                .map_err(backend_error)?;
                affected(done.rows_affected())
            }

            async fn delete_integration(&self, tenant: TenantId, id: ClientId) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                for sql in [
                    "DELETE FROM client_secrets WHERE client_id IN \
                     (SELECT client_id FROM integrations WHERE tenant_id = $1 AND client_id = $2)",
                    "DELETE FROM federated_credentials WHERE tenant_id = $1 AND client_id = $2",
                    "DELETE FROM refresh_families WHERE client_id IN \
                     (SELECT client_id FROM integrations WHERE tenant_id = $1 AND client_id = $2)",
                ] {
                    sqlx::query(sql)
                        .bind(tenant.to_string())
                        .bind(id.to_string())
                        .execute(&mut *tx)
                        .await
                        .map_err(backend_error)?;
                }
                let done = sqlx::query("DELETE FROM integrations WHERE tenant_id = $1 AND client_id = $2")
                    .bind(tenant.to_string())
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(backend_error)?;
                affected(done.rows_affected())?;
                tx.commit().await.map_err(backend_error)
            }

            async fn replace_secret(
                &self,
                tenant: TenantId,
                secret: &ClientSecretRecord,
                old_expire_at: UnixMillis,
            ) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                let owned: Option<(i64,)> = sqlx::query_as(
                    "SELECT seq FROM integrations WHERE tenant_id = $1 AND client_id = $2",
                )
                .bind(tenant.to_string())
                .bind(secret.client_id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend_error)?;
                if owned.is_none() {
                    return Err(StoreError::NotFound);
                }
                swap_secret(&mut tx, secret, old_expire_at).await?;
                tx.commit().await.map_err(backend_error)
            }

            async fn promote_integration(
                &self,
                tenant: TenantId,
                secret: &ClientSecretRecord,
            ) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                let stage: Option<Option<String>> = sqlx::query_scalar(
                    "SELECT stage FROM integrations WHERE tenant_id = $1 AND client_id = $2",
                )
                .bind(tenant.to_string())
                .bind(secret.client_id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend_error)?;
                match stage.as_ref().map(|s| s.as_deref()) {
                    None => return Err(StoreError::NotFound),
                    Some(None) => {
                        return Err(StoreError::Conflict(
                            "only a multi-tenant integration (an application version) has a stage"
                                .into(),
                        ))
                    }
                    Some(Some("production")) => {
                        return Err(StoreError::Conflict(
                            "this version is in production already".into(),
                        ))
                    }
                    Some(Some(_)) => {}
                }
                sqlx::query(
                    "UPDATE integrations SET stage = 'production', updated_at = $1 \
                     WHERE client_id = $2",
                )
                .bind(secret.created_at)
                .bind(secret.client_id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(backend_error)?;
                // The development credentials stop at once.
                swap_secret(&mut tx, secret, secret.created_at).await?;
                tx.commit().await.map_err(backend_error)
            }

            async fn add_client_key(&self, tenant: TenantId, key: &ClientKey) -> StoreResult<()> {
                self.add_key(tenant, key).await
            }

            async fn list_client_keys(
                &self,
                tenant: TenantId,
                id: ClientId,
            ) -> StoreResult<Vec<ClientKey>> {
                self.keys_of(tenant, id).await
            }

            async fn delete_client_key(
                &self,
                tenant: TenantId,
                id: ClientId,
                kid: &str,
            ) -> StoreResult<()> {
                self.remove_key(tenant, id, kid).await
            }

            async fn find_client(
                &self,
                id: ClientId,
            ) -> StoreResult<Option<IntegrationWithSecrets>> {
                let row = sqlx::query_as::<_, IntegrationRow>(&format!(
                    "SELECT {INTEGRATION_COLUMNS} FROM integrations WHERE client_id = $1"
                ))
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await
                .map_err(backend_error)?;
                let Some(row) = row else { return Ok(None) };
                let secrets = sqlx::query_as::<_, SecretRow>(
                    "SELECT client_id, hash, created_at, expires_at FROM client_secrets \
                     WHERE client_id = $1 ORDER BY seq",
                )
                .bind(id.to_string())
                .fetch_all(&self.pool)
                .await
                .map_err(backend_error)
                .and_then(convert)?;
                let keys = self.stored_keys(Some(&row.client_id)).await?;
                Ok(Some(IntegrationWithSecrets {
                    integration: row.try_into()?,
                    secrets,
                    keys,
                }))
            }

            async fn all_clients(&self, now: UnixMillis) -> StoreResult<Vec<IntegrationWithSecrets>> {
                let integrations = sqlx::query_as::<_, IntegrationRow>(&format!(
                    "SELECT {INTEGRATION_COLUMNS} FROM integrations ORDER BY seq"
                ))
                .fetch_all(&self.pool)
                .await
                .map_err(backend_error)?;
                let secrets = sqlx::query_as::<_, SecretRow>(
                    "SELECT client_id, hash, created_at, expires_at FROM client_secrets \
                     WHERE expires_at IS NULL OR expires_at > $1 ORDER BY seq",
                )
                .bind(now)
                .fetch_all(&self.pool)
                .await
                .map_err(backend_error)?;
                let mut by_client: std::collections::HashMap<String, Vec<ClientSecretRecord>> =
                    std::collections::HashMap::new();
                for s in secrets {
                    let key = s.client_id.clone();
                    by_client.entry(key).or_default().push(s.try_into()?);
                }
                let mut keys_by_client: std::collections::HashMap<String, Vec<ClientKey>> =
                    std::collections::HashMap::new();
                for key in self.stored_keys(None).await? {
                    keys_by_client.entry(key.client_id.to_string()).or_default().push(key);
                }
                integrations
                    .into_iter()
                    .map(|row| {
                        let secrets = by_client.remove(&row.client_id).unwrap_or_default();
                        let keys = keys_by_client.remove(&row.client_id).unwrap_or_default();
                        Ok(IntegrationWithSecrets {
                            integration: row.try_into()?,
                            secrets,
                            keys,
                        })
                    })
                    .collect()
            }
        }

        /// Adds `secret`; every other secret of its integration expires at `old_expire_at`.
        async fn swap_secret(
            tx: &mut sqlx::Transaction<'_, Db>,
            secret: &ClientSecretRecord,
            old_expire_at: UnixMillis,
        ) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE client_secrets SET expires_at = $1 WHERE client_id = $2 \
                     AND (expires_at IS NULL OR expires_at > $1)",
                )
                .bind(old_expire_at)
                .bind(secret.client_id.to_string())
                .execute(&mut **tx)
                .await
                .map_err(backend_error)?;
                // Secrets that expired long ago are of no use to anyone.
                sqlx::query("DELETE FROM client_secrets WHERE client_id = $1 AND expires_at < $2")
                    .bind(secret.client_id.to_string())
                    .bind(secret.created_at - 86_400_000)
                    .execute(&mut **tx)
                    .await
                    .map_err(backend_error)?;
            insert_secret(tx, secret).await
        }

        async fn insert_secret(
            tx: &mut sqlx::Transaction<'_, Db>,
            secret: &ClientSecretRecord,
        ) -> StoreResult<()> {
            sqlx::query(
                "INSERT INTO client_secrets (client_id, hash, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(secret.client_id.to_string())
            .bind(secret.hash.to_vec())
            .bind(secret.created_at)
            .bind(secret.expires_at)
            .execute(&mut **tx)
            .await
            .map_err(backend_error)?;
            Ok(())
        }

        impl $store {
            pub(crate) async fn add_key(&self, tenant: TenantId, k: &ClientKey) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
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
                .map_err(backend_error)
                .and_then(convert)
            }

            /// The keys of one client, or of all (for the snapshot), oldest first.
            pub(crate) async fn stored_keys(
                &self,
                client: Option<&str>,
            ) -> StoreResult<Vec<ClientKey>> {
                let mut q = sqlx::QueryBuilder::<Db>::new(
                    "SELECT client_id, kid, alg, jwk, not_after, created_at FROM client_keys",
                );
                if let Some(id) = client {
                    q.push(" WHERE client_id = ").push_bind(id.to_owned());
                }
                q.push(" ORDER BY seq");
                q.build_query_as::<ClientKeyRow>()
                    .fetch_all(&self.pool)
                    .await
                    .map_err(backend_error)
                .and_then(convert)
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
                affected(done.rows_affected())
            }
        }

    };
}

pub(crate) use stamp;

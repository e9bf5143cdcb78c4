//! The one implementation of the storage ports, stamped onto each backend's store by
//! `impl_storage!`. Every statement here runs on SQLite and PostgreSQL alike.

macro_rules! impl_storage {
    ($store:ty, $backend:literal) => {
        use async_trait::async_trait;
        use tessera_core::id::{ClientId, TenantId, UserId};
        use tessera_core::model::{
            ClientKey, ClientSecretRecord, Integration, UnixMillis, User,
        };
        use tessera_core::page::{Page, PageRequest};
        use tessera_core::ports::{
            AuditEntry, AuditRecord, AuditStore, Change, ChangeFeed, ChangeRecord,
            IntegrationStore, IntegrationWithSecrets, RevocationStore, RevokedToken,
            SigningKeyStore, Storage, StoreResult, StoredSigningKey, UserStore,
        };
        use $crate::rows::*;

        const INTEGRATION_COLUMNS: &str = "seq, client_id, tenant_id, display_name, scopes, \
             custom_claims, token_ttl_seconds, jwks_uri, app_name, app_version, stage, \
             tms_enabled, authentication_url, webhook_url, description, homepage_url, \
             created_at, updated_at";
        const USER_COLUMNS: &str = "seq, id, tenant_id, email, display_name, role, \
             password_hash, created_at, updated_at, sessions_not_before";

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

        fn affected(rows: u64) -> StoreResult<()> {
            if rows == 0 {
                Err(tessera_core::ports::StoreError::NotFound)
            } else {
                Ok(())
            }
        }

        #[async_trait]
        impl IntegrationStore for $store {
            async fn create_integration(
                &self,
                i: &Integration,
                secret: &ClientSecretRecord,
            ) -> StoreResult<()> {
                let mut tx = self.pool.begin_with(BEGIN_WRITE).await.map_err(backend_error)?;
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
                     description, homepage_url) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
                     $16, $17)",
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
                insert_secret(&mut tx, secret).await?;
                tx.commit().await.map_err(backend_error)
            }

            async fn get_integration(
                &self,
                tenant: TenantId,
                id: ClientId,
            ) -> StoreResult<Integration> {
                sqlx::query_as::<_, IntegrationRow>(&format!(
                    "SELECT {INTEGRATION_COLUMNS} FROM integrations \
                     WHERE tenant_id = $1 AND client_id = $2"
                ))
                .bind(tenant.to_string())
                .bind(id.to_string())
                .fetch_one(&self.pool)
                .await
                .map_err(backend_error)?
                .try_into()
            }

            async fn list_integrations(
                &self,
                tenant: TenantId,
                page: PageRequest,
            ) -> StoreResult<Page<Integration>> {
                $crate::rows::tenant_page::<_, IntegrationRow, _>(
                    &self.pool,
                    INTEGRATION_COLUMNS,
                    "integrations",
                    tenant,
                    page,
                    |r| r.seq,
                )
                .await
            }

            async fn update_integration(&self, i: &Integration) -> StoreResult<()> {
                let (_, _, stage, tms_enabled) = app_columns(i);
                let done = sqlx::query(
                    "UPDATE integrations SET display_name = $1, scopes = $2, custom_claims = $3, \
                     token_ttl_seconds = $4, jwks_uri = $5, updated_at = $6, stage = $9, \
                     tms_enabled = $10, authentication_url = $11, webhook_url = $12, \
                     description = $13, homepage_url = $14 \
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
                .execute(&self.pool)
                .await
                .map_err(backend_error)?;
                affected(done.rows_affected())
            }

            async fn delete_integration(&self, tenant: TenantId, id: ClientId) -> StoreResult<()> {
                let mut tx = self.pool.begin_with(BEGIN_WRITE).await.map_err(backend_error)?;
                sqlx::query(
                    "DELETE FROM client_secrets WHERE client_id IN \
                     (SELECT client_id FROM integrations WHERE tenant_id = $1 AND client_id = $2)",
                )
                .bind(tenant.to_string())
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(backend_error)?;
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
                let mut tx = self.pool.begin_with(BEGIN_WRITE).await.map_err(backend_error)?;
                let owned: Option<(i64,)> = sqlx::query_as(
                    "SELECT seq FROM integrations WHERE tenant_id = $1 AND client_id = $2",
                )
                .bind(tenant.to_string())
                .bind(secret.client_id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend_error)?;
                if owned.is_none() {
                    return Err(tessera_core::ports::StoreError::NotFound);
                }
                swap_secret(&mut tx, secret, old_expire_at).await?;
                tx.commit().await.map_err(backend_error)
            }

            async fn promote_integration(
                &self,
                tenant: TenantId,
                secret: &ClientSecretRecord,
            ) -> StoreResult<()> {
                let mut tx = self.pool.begin_with(BEGIN_WRITE).await.map_err(backend_error)?;
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
                .map_err(backend_error)?
                .into_iter()
                .map(ClientSecretRecord::try_from)
                .collect::<StoreResult<Vec<_>>>()?;
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
        async fn swap_secret<'c, DB: sqlx::Database>(
            tx: &mut sqlx::Transaction<'c, DB>,
            secret: &ClientSecretRecord,
            old_expire_at: UnixMillis,
        ) -> StoreResult<()>
        where
            for<'e> &'e mut <DB as sqlx::Database>::Connection: sqlx::Executor<'e, Database = DB>,
            for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
            String: sqlx::Encode<'c, DB> + sqlx::Type<DB>,
            Vec<u8>: sqlx::Encode<'c, DB> + sqlx::Type<DB>,
            i64: sqlx::Encode<'c, DB> + sqlx::Type<DB>,
            Option<i64>: sqlx::Encode<'c, DB> + sqlx::Type<DB>,
        {
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

        async fn insert_secret<'c, DB: sqlx::Database>(
            tx: &mut sqlx::Transaction<'c, DB>,
            secret: &ClientSecretRecord,
        ) -> StoreResult<()>
        where
            for<'e> &'e mut <DB as sqlx::Database>::Connection: sqlx::Executor<'e, Database = DB>,
            for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
            String: sqlx::Encode<'c, DB> + sqlx::Type<DB>,
            Vec<u8>: sqlx::Encode<'c, DB> + sqlx::Type<DB>,
            i64: sqlx::Encode<'c, DB> + sqlx::Type<DB>,
            Option<i64>: sqlx::Encode<'c, DB> + sqlx::Type<DB>,
        {
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

        #[async_trait]
        impl UserStore for $store {
            async fn create_user(&self, u: &User) -> StoreResult<()> {
                tenants_impl::insert_user(&self.pool, u).await
            }

            async fn get_user(&self, tenant: TenantId, id: UserId) -> StoreResult<User> {
                sqlx::query_as::<_, UserRow>(&format!(
                    "SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 AND id = $2"
                ))
                .bind(tenant.to_string())
                .bind(id.to_string())
                .fetch_one(&self.pool)
                .await
                .map_err(backend_error)?
                .try_into()
            }

            async fn find_user(&self, id: UserId) -> StoreResult<Option<User>> {
                sqlx::query_as::<_, UserRow>(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
                    .bind(id.to_string())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(backend_error)?
                    .map(User::try_from)
                    .transpose()
            }

            async fn users_with_email(&self, email: &str) -> StoreResult<Vec<User>> {
                sqlx::query_as::<_, UserRow>(&format!(
                    "SELECT {USER_COLUMNS} FROM users WHERE email = $1 ORDER BY seq LIMIT 20"
                ))
                .bind(email)
                .fetch_all(&self.pool)
                .await
                .map_err(backend_error)?
                .into_iter()
                .map(User::try_from)
                .collect()
            }

            async fn find_user_by_email(
                &self,
                tenant: TenantId,
                email: &str,
            ) -> StoreResult<Option<User>> {
                sqlx::query_as::<_, UserRow>(&format!(
                    "SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 AND email = $2"
                ))
                .bind(tenant.to_string())
                .bind(email)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend_error)?
                .map(User::try_from)
                .transpose()
            }

            async fn list_users(&self, tenant: TenantId, page: PageRequest) -> StoreResult<Page<User>> {
                $crate::rows::tenant_page::<_, UserRow, _>(
                    &self.pool,
                    USER_COLUMNS,
                    "users",
                    tenant,
                    page,
                    |r| r.seq,
                )
                .await
            }

            async fn update_user(&self, u: &User) -> StoreResult<()> {
                let done = sqlx::query(
                    "UPDATE users SET display_name = $1, role = $2, password_hash = $3, \
                     updated_at = $4, sessions_not_before = $5 WHERE tenant_id = $6 AND id = $7",
                )
                .bind(&u.display_name)
                .bind(u.role.as_str())
                .bind(&u.password_hash)
                .bind(u.updated_at)
                .bind(u.sessions_not_before)
                .bind(u.tenant_id.to_string())
                .bind(u.id.to_string())
                .execute(&self.pool)
                .await
                .map_err(backend_error)?;
                affected(done.rows_affected())
            }

            async fn admin_counts(
                &self,
                tenant: TenantId,
            ) -> StoreResult<tessera_core::ports::AdminCounts> {
                let (users, integrations): (i64, i64) = sqlx::query_as(
                    "SELECT (SELECT COUNT(*) FROM users WHERE tenant_id = $1 AND role = 'admin'), \
                     (SELECT COUNT(*) FROM integrations WHERE tenant_id = $1 \
                      AND ' ' || scopes || ' ' LIKE '% admin %')",
                )
                .bind(tenant.to_string())
                .fetch_one(&self.pool)
                .await
                .map_err(backend_error)?;
                Ok(tessera_core::ports::AdminCounts {
                    users: users.max(0) as u64,
                    integrations: integrations.max(0) as u64,
                })
            }

            async fn delete_user(&self, tenant: TenantId, id: UserId) -> StoreResult<()> {
                let done = sqlx::query("DELETE FROM users WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.to_string())
                    .bind(id.to_string())
                    .execute(&self.pool)
                    .await
                    .map_err(backend_error)?;
                affected(done.rows_affected())
            }
        }

        #[async_trait]
        impl SigningKeyStore for $store {
            async fn rotate_signing_key(
                &self,
                key: &StoredSigningKey,
                verify_until: UnixMillis,
            ) -> StoreResult<()> {
                let mut tx = self.pool.begin_with(BEGIN_WRITE).await.map_err(backend_error)?;
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

        #[async_trait]
        impl RevocationStore for $store {
            async fn revoke_token(&self, tenant: TenantId, token: &RevokedToken) -> StoreResult<()> {
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

        #[async_trait]
        impl ChangeFeed for $store {
            async fn publish(&self, at: UnixMillis, change: &Change) -> StoreResult<()> {
                let (kind, subject, extra) = change_columns(change);
                sqlx::query("INSERT INTO changes (at, kind, subject, extra) VALUES ($1, $2, $3, $4)")
                    .bind(at)
                    .bind(kind)
                    .bind(subject)
                    .bind(extra)
                    .execute(&self.pool)
                    .await
                    .map_err(backend_error)?;
                Ok(())
            }

            async fn changes_since(&self, since: UnixMillis) -> StoreResult<Vec<ChangeRecord>> {
                sqlx::query_as::<_, ChangeRow>(
                    "SELECT id, at, kind, subject, extra FROM changes WHERE at >= $1 ORDER BY id",
                )
                .bind(since)
                .fetch_all(&self.pool)
                .await
                .map_err(backend_error)?
                .into_iter()
                .map(ChangeRecord::try_from)
                .collect()
            }

            async fn prune_changes(&self, before: UnixMillis) -> StoreResult<u64> {
                let done = sqlx::query("DELETE FROM changes WHERE at < $1")
                    .bind(before)
                    .execute(&self.pool)
                    .await
                    .map_err(backend_error)?;
                Ok(done.rows_affected())
            }
        }

        #[async_trait]
        impl AuditStore for $store {
            async fn append_audit(&self, records: &[AuditRecord]) -> StoreResult<()> {
                // Multi-row statements: one round trip to the database per 64 records, which
                // keeps the flusher cheap at tens of thousands of tokens a second.
                let mut tx = self.pool.begin_with(BEGIN_WRITE).await.map_err(backend_error)?;
                // Fixed-size chunks repeat the same SQL, so the prepared statement is cached.
                for chunk in records.chunks(64) {
                    // Only for tenants that still exist: a record queued before its tenant was
                    // deleted is dropped, so a deleted tenant keeps no audit log. The position
                    // (column7) keeps the batch's order in `seq`.
                    let mut insert = sqlx::QueryBuilder::new(
                        "INSERT INTO audit_log (tenant_id, at, actor, action, target, detail) \
                         SELECT column1, column2, column3, column4, column5, column6 FROM (",
                    );
                    insert.push_values(chunk.iter().zip(0i64..), |mut row, (r, n)| {
                        row.push_bind(r.tenant_id.to_string())
                            .push_bind(r.at)
                            .push_bind(r.actor.as_str())
                            .push_bind(r.action.as_str())
                            .push_bind(r.target.as_str())
                            .push_bind(r.detail.as_str())
                            .push_bind(n);
                    });
                    insert.push(
                        ") AS v WHERE EXISTS (SELECT 1 FROM tenants t WHERE t.id = v.column1) \
                         ORDER BY column7",
                    );
                    insert.build().execute(&mut *tx).await.map_err(backend_error)?;
                }
                tx.commit().await.map_err(backend_error)
            }

            async fn list_audit(
                &self,
                tenant: TenantId,
                page: PageRequest,
            ) -> StoreResult<Page<AuditEntry>> {
                let rows = sqlx::query_as::<_, AuditRow>(
                    "SELECT seq, tenant_id, at, actor, action, target, detail FROM audit_log \
                     WHERE tenant_id = $1 AND ($2 = 0 OR seq < $2) ORDER BY seq DESC LIMIT $3",
                )
                .bind(tenant.to_string())
                .bind(page.after)
                .bind(i64::from(page.size) + 1)
                .fetch_all(&self.pool)
                .await
                .map_err(backend_error)?;
                into_page(rows, page.size, |r| r.seq)
            }
        }

        #[async_trait]
        impl Storage for $store {
            fn backend_name(&self) -> &'static str {
                $backend
            }
            async fn ping(&self) -> StoreResult<()> {
                sqlx::query("SELECT 1")
                    .execute(&self.pool)
                    .await
                    .map_err(backend_error)?;
                Ok(())
            }
        }
    };
}

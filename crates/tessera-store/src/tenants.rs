//! Tenants and one-time user links (SPEC §4.1) on both backends, stamped by `impl_tenants!`.

macro_rules! impl_tenants {
    ($store:ty, $db:ty) => {
        mod tenants_impl {
            use async_trait::async_trait;
            use tessera_core::id::{ClientId, TenantId};
            use tessera_core::model::{
                Connection, LinkRefusal, Tenant, UnixMillis, User, UserLink,
            };
            use tessera_core::page::{Page, PageRequest};
            use tessera_core::ports::{
                ConsoleSession, ConsoleSessionStore, DeletedTenant, StoreError, StoreResult,
                TenantStore, UserLinkStore,
            };

            use super::*;
            use $crate::backend_error;
            use $crate::rows::{
                into_page, ConnectionRow, TenantRow, UserRow, CONNECTION_COLUMNS, TENANT_COLUMNS,
            };

            type Tx<'c> = sqlx::Transaction<'c, $db>;

            /// Inserts a user, alone or inside a caller's transaction.
            pub(super) async fn insert_user<'c, E>(executor: E, u: &User) -> StoreResult<()>
            where
                E: sqlx::Executor<'c, Database = $db>,
            {
                sqlx::query(
                    "INSERT INTO users (id, tenant_id, email, display_name, role, password_hash, \
                     created_at, updated_at, sessions_not_before) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(u.id.to_string())
                .bind(u.tenant_id.to_string())
                .bind(&u.email)
                .bind(&u.display_name)
                .bind(u.role.as_str())
                .bind(&u.password_hash)
                .bind(u.created_at)
                .bind(u.updated_at)
                .bind(u.sessions_not_before)
                .execute(executor)
                .await
                .map_err(backend_error)?;
                Ok(())
            }

            async fn insert_tenant(tx: &mut Tx<'_>, t: &Tenant) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO tenants (id, display_name, tier, created_at, operator, disabled, \
                     tokens_not_after) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(t.id.to_string())
                .bind(&t.display_name)
                .bind(t.tier.as_str())
                .bind(t.created_at)
                .bind(i64::from(t.operator))
                .bind(i64::from(t.disabled))
                .bind(t.tokens_not_after)
                .execute(&mut **tx)
                .await
                .map_err(backend_error)?;
                Ok(())
            }

            async fn insert_link(tx: &mut Tx<'_>, link: &UserLink) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO user_links (token_hash, user_id, tenant_id, purpose, created_at, \
                     expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(link.token_hash.to_vec())
                .bind(link.user_id.to_string())
                .bind(link.tenant_id.to_string())
                .bind(link.purpose.as_str())
                .bind(link.created_at)
                .bind(link.expires_at)
                .execute(&mut **tx)
                .await
                .map_err(backend_error)?;
                Ok(())
            }

            /// Why a link that could not be taken cannot be: used, expired or unknown.
            async fn refusal(
                tx: &mut Tx<'_>,
                token_hash: &[u8; 32],
                now: UnixMillis,
            ) -> StoreResult<LinkRefusal> {
                let found: Option<(Option<i64>, i64)> = sqlx::query_as(
                    "SELECT used_at, expires_at FROM user_links WHERE token_hash = $1",
                )
                .bind(token_hash.to_vec())
                .fetch_optional(&mut **tx)
                .await
                .map_err(backend_error)?;
                Ok(match found {
                    None => LinkRefusal::Unknown,
                    Some((Some(_), _)) => LinkRefusal::Used,
                    Some((None, expires_at)) if expires_at <= now => LinkRefusal::Expired,
                    Some(_) => LinkRefusal::Unknown,
                })
            }

            async fn link_user(tx: &mut Tx<'_>, user_id: &str) -> StoreResult<User> {
                sqlx::query_as::<_, UserRow>(
                    "SELECT seq, id, tenant_id, email, display_name, role, password_hash, \
                     created_at, updated_at, sessions_not_before FROM users WHERE id = $1",
                )
                .bind(user_id)
                .fetch_one(&mut **tx)
                .await
                .map_err(backend_error)?
                .try_into()
            }

            /// Ids a query returns as text.
            async fn ids<T: std::str::FromStr>(
                tx: &mut Tx<'_>,
                sql: &str,
                tenant: &str,
            ) -> StoreResult<Vec<T>> {
                let rows: Vec<(String,)> = sqlx::query_as(sql)
                    .bind(tenant)
                    .fetch_all(&mut **tx)
                    .await
                    .map_err(backend_error)?;
                rows.into_iter()
                    .map(|(id,)| {
                        id.parse()
                            .map_err(|_| StoreError::Backend("a stored id does not parse".into()))
                    })
                    .collect()
            }

            /// Every statement that removes a tenant's rows, in an order the foreign keys
            /// accept. Grants to the tenant's applications and consents to its integrations in
            /// other tenants go too: nothing may refer to it afterwards.
            const DELETE_TENANT: &[&str] = &[
                "DELETE FROM app_authorizations WHERE tenant_id = $1 OR app_name IN \
                 (SELECT name FROM applications WHERE tenant_id = $1)",
                "DELETE FROM applications WHERE tenant_id = $1",
                "DELETE FROM consents WHERE tenant_id = $1 OR client_id IN \
                 (SELECT client_id FROM integrations WHERE tenant_id = $1)",
                "DELETE FROM connections WHERE owner_tenant_id = $1 OR client_tenant_id = $1",
                "DELETE FROM private_token_parts WHERE client_id IN \
                 (SELECT client_id FROM integrations WHERE tenant_id = $1)",
                "DELETE FROM private_tokens WHERE tenant_id = $1 OR client_id IN \
                 (SELECT client_id FROM integrations WHERE tenant_id = $1)",
                "DELETE FROM client_keys WHERE client_id IN \
                 (SELECT client_id FROM integrations WHERE tenant_id = $1)",
                "DELETE FROM client_secrets WHERE client_id IN \
                 (SELECT client_id FROM integrations WHERE tenant_id = $1)",
                "DELETE FROM integrations WHERE tenant_id = $1",
                "DELETE FROM asset_events WHERE tenant_id = $1",
                "DELETE FROM assets WHERE tenant_id = $1",
                "DELETE FROM access_policies WHERE tenant_id = $1",
                "DELETE FROM user_links WHERE tenant_id = $1",
                "DELETE FROM console_sessions WHERE tenant_id = $1",
                "DELETE FROM users WHERE tenant_id = $1",
                "DELETE FROM revoked_tokens WHERE tenant_id = $1",
                "DELETE FROM audit_log WHERE tenant_id = $1",
                "DELETE FROM tenants WHERE id = $1",
            ];

            #[async_trait]
            impl TenantStore for $store {
                async fn create_tenant(&self, t: &Tenant) -> StoreResult<()> {
                    let mut tx = self.pool.begin_with(BEGIN_WRITE).await.map_err(backend_error)?;
                    insert_tenant(&mut tx, t).await?;
                    tx.commit().await.map_err(backend_error)
                }

                async fn create_tenant_with_admin(
                    &self,
                    t: &Tenant,
                    admin: &User,
                    invitation: Option<&UserLink>,
                ) -> StoreResult<()> {
                    let mut tx = self.pool.begin_with(BEGIN_WRITE).await.map_err(backend_error)?;
                    insert_tenant(&mut tx, t).await?;
                    insert_user(&mut *tx, admin).await?;
                    if let Some(link) = invitation {
                        insert_link(&mut tx, link).await?;
                    }
                    tx.commit().await.map_err(backend_error)
                }

                async fn get_tenant(&self, id: TenantId) -> StoreResult<Tenant> {
                    sqlx::query_as::<_, TenantRow>(&format!(
                        "SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1"
                    ))
                    .bind(id.to_string())
                    .fetch_one(&self.pool)
                    .await
                    .map_err(backend_error)?
                    .try_into()
                }

                async fn list_all_tenants(&self) -> StoreResult<Vec<Tenant>> {
                    sqlx::query_as::<_, TenantRow>(&format!(
                        "SELECT {TENANT_COLUMNS} FROM tenants ORDER BY seq"
                    ))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(backend_error)?
                    .into_iter()
                    .map(Tenant::try_from)
                    .collect()
                }

                async fn list_tenants(&self, page: PageRequest) -> StoreResult<Page<Tenant>> {
                    let rows = sqlx::query_as::<_, TenantRow>(&format!(
                        "SELECT {TENANT_COLUMNS} FROM tenants WHERE seq > $1 ORDER BY seq LIMIT $2"
                    ))
                    .bind(page.after)
                    .bind(i64::from(page.size) + 1)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(backend_error)?;
                    into_page(rows, page.size, |r| r.seq)
                }

                async fn update_tenant(&self, t: &Tenant) -> StoreResult<()> {
                    let done = sqlx::query(
                        "UPDATE tenants SET display_name = $1, tier = $2, disabled = $3, \
                         tokens_not_after = $4 WHERE id = $5",
                    )
                    .bind(&t.display_name)
                    .bind(t.tier.as_str())
                    .bind(i64::from(t.disabled))
                    .bind(t.tokens_not_after)
                    .bind(t.id.to_string())
                    .execute(&self.pool)
                    .await
                    .map_err(backend_error)?;
                    if done.rows_affected() == 0 {
                        return Err(StoreError::NotFound);
                    }
                    Ok(())
                }

                async fn delete_tenant(&self, id: TenantId) -> StoreResult<DeletedTenant> {
                    let tenant = id.to_string();
                    let mut tx = self.pool.begin_with(BEGIN_WRITE).await.map_err(backend_error)?;
                    let operator: Option<(i64,)> =
                        sqlx::query_as("SELECT operator FROM tenants WHERE id = $1")
                            .bind(&tenant)
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(backend_error)?;
                    match operator {
                        None => return Err(StoreError::NotFound),
                        Some((1,)) => {
                            return Err(StoreError::Conflict(
                                "the operator tenant cannot be deleted: it runs the deployment"
                                    .into(),
                            ))
                        }
                        Some(_) => {}
                    }
                    let clients: Vec<ClientId> = ids(
                        &mut tx,
                        "SELECT client_id FROM integrations WHERE tenant_id = $1",
                        &tenant,
                    )
                    .await?;
                    let connections = sqlx::query_as::<_, ConnectionRow>(&format!(
                        "SELECT {CONNECTION_COLUMNS} FROM connections WHERE status = 'active' \
                         AND (owner_tenant_id = $1 OR client_tenant_id = $1) ORDER BY seq"
                    ))
                    .bind(&tenant)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(backend_error)?
                    .into_iter()
                    .map(Connection::try_from)
                    .collect::<StoreResult<Vec<_>>>()?;
                    let mut touched_tenants: Vec<TenantId> = ids(
                        &mut tx,
                        "SELECT DISTINCT tenant_id FROM app_authorizations WHERE tenant_id <> $1 \
                         AND app_name IN (SELECT name FROM applications WHERE tenant_id = $1) \
                         UNION SELECT DISTINCT tenant_id FROM consents WHERE tenant_id <> $1 \
                         AND client_id IN (SELECT client_id FROM integrations WHERE tenant_id = $1)",
                        &tenant,
                    )
                    .await?;
                    touched_tenants.sort_by_key(|t| t.to_string());
                    touched_tenants.dedup();
                    for statement in DELETE_TENANT {
                        sqlx::query(statement)
                            .bind(&tenant)
                            .execute(&mut *tx)
                            .await
                            .map_err(backend_error)?;
                    }
                    tx.commit().await.map_err(backend_error)?;
                    Ok(DeletedTenant {
                        clients,
                        connections,
                        touched_tenants,
                    })
                }
            }

            #[async_trait]
            impl ConsoleSessionStore for $store {
                async fn create_console_session(&self, s: &ConsoleSession) -> StoreResult<()> {
                    let mut tx = self.pool.begin_with(BEGIN_WRITE).await.map_err(backend_error)?;
                    // Expired sessions go as new ones come.
                    sqlx::query("DELETE FROM console_sessions WHERE expires_at < $1")
                        .bind(s.created_at)
                        .execute(&mut *tx)
                        .await
                        .map_err(backend_error)?;
                    sqlx::query(
                        "INSERT INTO console_sessions (id_hash, user_id, tenant_id, created_at, \
                         last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(s.id_hash.to_vec())
                    .bind(s.user_id.to_string())
                    .bind(s.tenant_id.to_string())
                    .bind(s.created_at)
                    .bind(s.last_seen_at)
                    .bind(s.expires_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend_error)?;
                    tx.commit().await.map_err(backend_error)
                }

                async fn console_session(
                    &self,
                    id_hash: &[u8; 32],
                ) -> StoreResult<Option<ConsoleSession>> {
                    let row: Option<(String, String, i64, i64, i64)> = sqlx::query_as(
                        "SELECT user_id, tenant_id, created_at, last_seen_at, expires_at \
                         FROM console_sessions WHERE id_hash = $1",
                    )
                    .bind(id_hash.to_vec())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(backend_error)?;
                    let Some((user, tenant, created_at, last_seen_at, expires_at)) = row else {
                        return Ok(None);
                    };
                    let bad = || StoreError::Backend("a stored session does not parse".into());
                    Ok(Some(ConsoleSession {
                        id_hash: *id_hash,
                        user_id: user.parse().map_err(|_| bad())?,
                        tenant_id: tenant.parse().map_err(|_| bad())?,
                        created_at,
                        last_seen_at,
                        expires_at,
                    }))
                }

                async fn touch_console_session(
                    &self,
                    id_hash: &[u8; 32],
                    at: UnixMillis,
                ) -> StoreResult<()> {
                    sqlx::query("UPDATE console_sessions SET last_seen_at = $1 WHERE id_hash = $2")
                        .bind(at)
                        .bind(id_hash.to_vec())
                        .execute(&self.pool)
                        .await
                        .map_err(backend_error)?;
                    Ok(())
                }

                async fn end_console_session(&self, id_hash: &[u8; 32]) -> StoreResult<()> {
                    sqlx::query("DELETE FROM console_sessions WHERE id_hash = $1")
                        .bind(id_hash.to_vec())
                        .execute(&self.pool)
                        .await
                        .map_err(backend_error)?;
                    Ok(())
                }
            }

            #[async_trait]
            impl UserLinkStore for $store {
                async fn create_invited_user(&self, user: &User, link: &UserLink) -> StoreResult<()> {
                    let mut tx = self.pool.begin_with(BEGIN_WRITE).await.map_err(backend_error)?;
                    insert_user(&mut *tx, user).await?;
                    insert_link(&mut tx, link).await?;
                    tx.commit().await.map_err(backend_error)
                }

                async fn put_user_link(
                    &self,
                    link: &UserLink,
                    sessions_not_before: i64,
                ) -> StoreResult<()> {
                    let mut tx = self.pool.begin_with(BEGIN_WRITE).await.map_err(backend_error)?;
                    let done = sqlx::query(
                        "UPDATE users SET sessions_not_before = $1, updated_at = $2 \
                         WHERE id = $3 AND tenant_id = $4",
                    )
                    .bind(sessions_not_before)
                    .bind(link.created_at)
                    .bind(link.user_id.to_string())
                    .bind(link.tenant_id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(backend_error)?;
                    if done.rows_affected() == 0 {
                        return Err(StoreError::NotFound);
                    }
                    // A new link replaces the unused ones: only the newest one works.
                    sqlx::query("DELETE FROM user_links WHERE user_id = $1 AND used_at IS NULL")
                        .bind(link.user_id.to_string())
                        .execute(&mut *tx)
                        .await
                        .map_err(backend_error)?;
                    insert_link(&mut tx, link).await?;
                    tx.commit().await.map_err(backend_error)
                }

                async fn user_link(
                    &self,
                    token_hash: &[u8; 32],
                    now: UnixMillis,
                ) -> StoreResult<Result<User, LinkRefusal>> {
                    let mut tx = self.pool.begin().await.map_err(backend_error)?;
                    let found: Option<(String,)> = sqlx::query_as(
                        "SELECT user_id FROM user_links WHERE token_hash = $1 \
                         AND used_at IS NULL AND expires_at > $2",
                    )
                    .bind(token_hash.to_vec())
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend_error)?;
                    let answer = match found {
                        Some((user_id,)) => Ok(link_user(&mut tx, &user_id).await?),
                        None => Err(refusal(&mut tx, token_hash, now).await?),
                    };
                    tx.commit().await.map_err(backend_error)?;
                    Ok(answer)
                }

                async fn redeem_user_link(
                    &self,
                    token_hash: &[u8; 32],
                    password_hash: &str,
                    now: UnixMillis,
                ) -> StoreResult<Result<User, LinkRefusal>> {
                    let mut tx = self.pool.begin_with(BEGIN_WRITE).await.map_err(backend_error)?;
                    // One conditional write: of two instances racing, one takes the link, the
                    // other finds it used.
                    let taken: Option<(String,)> = sqlx::query_as(
                        "UPDATE user_links SET used_at = $1 WHERE token_hash = $2 \
                         AND used_at IS NULL AND expires_at > $1 RETURNING user_id",
                    )
                    .bind(now)
                    .bind(token_hash.to_vec())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend_error)?;
                    let Some((user_id,)) = taken else {
                        let why = refusal(&mut tx, token_hash, now).await?;
                        tx.rollback().await.map_err(backend_error)?;
                        return Ok(Err(why));
                    };
                    sqlx::query(
                        "UPDATE users SET password_hash = $1, updated_at = $2, \
                         sessions_not_before = $3 WHERE id = $4",
                    )
                    .bind(password_hash)
                    .bind(now)
                    // The session this request begins for the user starts now, and stands.
                    .bind(now)
                    .bind(&user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend_error)?;
                    let user = link_user(&mut tx, &user_id).await?;
                    tx.commit().await.map_err(backend_error)?;
                    Ok(Ok(user))
                }
            }
        }
    };
}

//! Users of a tenant and their one-time links (invitations, password resets; SPEC §4.1).

/// Implements `UserStore` and `UserLinkStore` on `$store` (a `crate::dialect::Backend`).
macro_rules! stamp {
    ($store:ty) => {
        use async_trait::async_trait;

        use tessera_core::id::{TenantId, UserId};
        use tessera_core::model::{LinkRefusal, UnixMillis, User, UserLink};
        use tessera_core::page::{Page, PageRequest};
        use tessera_core::ports::{StoreError, StoreResult, UserLinkStore, UserStore};

        use $crate::dialect::Backend;
        use $crate::rows::{convert, tenant_page, tenant_row, UserRow, USER_COLUMNS};
        use $crate::{affected, backend_error};

        type Db = <$store as Backend>::Db;
        type Tx<'c> = sqlx::Transaction<'c, Db>;

        /// Inserts a user, alone or inside a caller's transaction.
        pub(crate) async fn insert_user<'c, E>(executor: E, u: &User) -> StoreResult<()>
        where
            E: sqlx::Executor<'c, Database = Db>,
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


        pub(crate) async fn insert_link(tx: &mut Tx<'_>, link: &UserLink) -> StoreResult<()> {
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


        #[async_trait]
        impl UserStore for $store {
            async fn create_user(&self, u: &User) -> StoreResult<()> {
                insert_user(&self.pool, u).await
            }

            async fn get_user(&self, tenant: TenantId, id: UserId) -> StoreResult<User> {
                tenant_row::<_, UserRow, _>(&self.pool, tenant, id.to_string(), false).await
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
                .map_err(backend_error)
                .and_then(convert)
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
                tenant_page::<_, UserRow, _>(&self.pool, tenant, page)
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
                let mut tx = self.begin_write().await?;
                // What the person authorized ends with them (SPEC §15).
                sqlx::query("DELETE FROM refresh_families WHERE tenant_id = $1 AND user_id = $2")
                    .bind(tenant.to_string())
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(backend_error)?;
                let done = sqlx::query("DELETE FROM users WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.to_string())
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(backend_error)?;
                affected(done.rows_affected())?;
                tx.commit().await.map_err(backend_error)
            }
        }

        #[async_trait]
        impl UserLinkStore for $store {
            async fn create_invited_user(&self, user: &User, link: &UserLink) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                insert_user(&mut *tx, user).await?;
                insert_link(&mut tx, link).await?;
                tx.commit().await.map_err(backend_error)
            }

            async fn put_user_link(
                &self,
                link: &UserLink,
                sessions_not_before: i64,
            ) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
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
                let mut tx = self.begin_write().await?;
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
    };
}

pub(crate) use stamp;

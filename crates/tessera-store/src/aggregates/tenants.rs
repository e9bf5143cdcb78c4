//! Tenants (SPEC §4.1): creation with a first admin, listing, and deletion with everything a
//! tenant owns.

/// Implements `TenantStore` on `$store` (a `crate::dialect::Backend`).
macro_rules! stamp {
    ($store:ty) => {
        use async_trait::async_trait;

        use tessera_core::id::{ClientId, TenantId};
        use tessera_core::model::{Tenant, User, UserLink};
        use tessera_core::page::{Page, PageRequest};
        use tessera_core::ports::{DeletedTenant, StoreError, StoreResult, TenantStore};

        use $crate::backend_error;
        use $crate::dialect::Backend;
        use $crate::rows::{
            convert, fetch_page, ConnectionRow, TenantRow, CONNECTION_COLUMNS, TENANT_COLUMNS,
        };
        use super::users::{insert_link, insert_user};

        type Db = <$store as Backend>::Db;
        type Tx<'c> = sqlx::Transaction<'c, Db>;

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
            "DELETE FROM federated_credentials WHERE tenant_id = $1",
            "DELETE FROM trusted_issuers WHERE tenant_id = $1",
            "DELETE FROM resource_servers WHERE tenant_id = $1",
            "DELETE FROM refresh_families WHERE tenant_id = $1 OR client_id IN \
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
                let mut tx = self.begin_write().await?;
                insert_tenant(&mut tx, t).await?;
                tx.commit().await.map_err(backend_error)
            }

            async fn create_tenant_with_admin(
                &self,
                t: &Tenant,
                admin: &User,
                invitation: Option<&UserLink>,
            ) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
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
                .map_err(backend_error)
                .and_then(convert)
            }

            async fn list_tenants(&self, page: PageRequest) -> StoreResult<Page<Tenant>> {
                let sql = format!(
                    "SELECT {TENANT_COLUMNS} FROM tenants WHERE seq > $1 ORDER BY seq LIMIT $2"
                );
                let query = sqlx::query_as::<_, TenantRow>(&sql);
                fetch_page(query, &self.pool, page, |r| r.seq).await
            }

            async fn set_client_registration(
                &self,
                tenant: TenantId,
                policy: &tessera_core::model::ClientRegistrationPolicy,
            ) -> StoreResult<()> {
                let domains = $crate::to_json(&policy.approved_domains)?;
                let done = sqlx::query(
                    "UPDATE tenants SET client_registration = $1, client_metadata_documents = $2, \
                     approved_client_domains = $3 WHERE id = $4",
                )
                .bind(policy.registration.as_str())
                .bind(i64::from(policy.metadata_documents))
                .bind(domains)
                .bind(tenant.to_string())
                .execute(&self.pool)
                .await
                .map_err(backend_error)?;
                $crate::affected(done.rows_affected())
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
                let mut tx = self.begin_write().await?;
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
                .map_err(backend_error)
                .and_then(convert)?;
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

    };
}

pub(crate) use stamp;

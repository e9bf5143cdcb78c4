//! Consents users gave to integrations (SPEC §6).

/// Implements `ConsentStore` on `$store` (a `crate::dialect::Backend`).
macro_rules! stamp {
    ($store:ty) => {
        use async_trait::async_trait;

        use tessera_core::id::{ConsentId, TenantId};
        use tessera_core::model::Consent;
        use tessera_core::page::{Page, PageRequest};
        use tessera_core::ports::{ConsentStore, StoreResult};

        use $crate::backend_error;
        use $crate::rows::{
            consent_user_columns, tenant_page, tenant_row, tenant_rows, ConsentRow, CONSENT_COLUMNS,
        };

        #[async_trait]
        impl ConsentStore for $store {
            async fn put_consent(&self, c: &Consent) -> StoreResult<Consent> {
                let (user_key, user_email) = consent_user_columns(&c.user);
                // One statement, so two instances giving the same consent cannot both insert.
                sqlx::query_as::<_, ConsentRow>(&format!(
                    "INSERT INTO consents (id, tenant_id, client_id, user_key, user_email, \
                     scopes, granted_by, created_at, resources) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                     ON CONFLICT (tenant_id, client_id, user_key) DO UPDATE SET \
                     scopes = excluded.scopes, resources = excluded.resources, user_email = excluded.user_email, \
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
                .bind(serde_json::to_string(&c.resources).unwrap_or_else(|_| "[]".into()))
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
                tenant_page::<_, ConsentRow, _>(&self.pool, tenant, page).await
            }

            async fn delete_consent(
                &self,
                tenant: TenantId,
                id: ConsentId,
            ) -> StoreResult<Consent> {
                tenant_row::<_, ConsentRow, _>(&self.pool, tenant, id.to_string(), true).await
            }

            async fn consents_of(&self, tenant: Option<TenantId>) -> StoreResult<Vec<Consent>> {
                tenant_rows::<_, ConsentRow, _>(&self.pool, tenant).await
            }
        }
    };
}

pub(crate) use stamp;

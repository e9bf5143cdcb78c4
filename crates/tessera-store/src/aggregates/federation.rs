//! Trusted issuers and federated credentials (SPEC §14).

/// Implements `FederationStore` on `$store` (a `crate::dialect::Backend`).
macro_rules! stamp {
    ($store:ty) => {
        use async_trait::async_trait;

        use tessera_core::id::{ClientId, FederatedCredentialId, TenantId, TrustedIssuerId};
        use tessera_core::model::{FederatedCredential, TrustedIssuer};
        use tessera_core::page::{Page, PageRequest};
        use tessera_core::ports::{FederationStore, StoreError, StoreResult};

        use $crate::backend_error;
        use $crate::rows::{
            tenant_rows,
            fetch_page, tenant_page, FederatedCredentialRow,
            TrustedIssuerRow, FEDERATED_CREDENTIAL_COLUMNS, TRUSTED_ISSUER_COLUMNS,
        };

        #[async_trait]
        impl FederationStore for $store {
            async fn create_trusted_issuer(&self, t: &TrustedIssuer) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO trusted_issuers (id, tenant_id, issuer, jwks_uri, audiences, \
                     max_token_lifetime_seconds, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(t.id.to_string())
                .bind(t.tenant_id.to_string())
                .bind(&t.issuer)
                .bind(&t.jwks_uri)
                .bind(serde_json::to_string(&t.audiences).unwrap_or_default())
                .bind(i64::from(t.max_token_lifetime_seconds))
                .bind(t.created_at)
                .execute(&self.pool)
                .await
                .map_err(backend_error)?;
                Ok(())
            }

            async fn list_trusted_issuers(
                &self,
                tenant: TenantId,
                page: PageRequest,
            ) -> StoreResult<Page<TrustedIssuer>> {
                tenant_page::<_, TrustedIssuerRow, _>(&self.pool, tenant, page).await
            }

            async fn delete_trusted_issuer(
                &self,
                tenant: TenantId,
                id: TrustedIssuerId,
            ) -> StoreResult<(TrustedIssuer, u64)> {
                let mut tx = self.begin_write().await?;
                let found: TrustedIssuer = sqlx::query_as::<_, TrustedIssuerRow>(&format!(
                    "SELECT {TRUSTED_ISSUER_COLUMNS} FROM trusted_issuers \
                     WHERE tenant_id = $1 AND id = $2"
                ))
                .bind(tenant.to_string())
                .bind(id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend_error)?
                .ok_or(StoreError::NotFound)?
                .try_into()?;
                let credentials = sqlx::query(
                    "DELETE FROM federated_credentials WHERE tenant_id = $1 AND issuer = $2",
                )
                .bind(tenant.to_string())
                .bind(&found.issuer)
                .execute(&mut *tx)
                .await
                .map_err(backend_error)?
                .rows_affected();
                sqlx::query("DELETE FROM trusted_issuers WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.to_string())
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(backend_error)?;
                tx.commit().await.map_err(backend_error)?;
                Ok((found, credentials))
            }

            async fn create_federated_credential(
                &self,
                c: &FederatedCredential,
            ) -> StoreResult<()> {
                // One statement that inserts nothing unless the issuer is trusted and the
                // integration is the tenant's: no foreign-key error to translate.
                let done = sqlx::query(
                    "INSERT INTO federated_credentials (id, tenant_id, client_id, issuer, subject, \
                     claims, created_at) SELECT $1, $2, $3, $4, $5, $6, $7 \
                     WHERE EXISTS (SELECT 1 FROM trusted_issuers WHERE tenant_id = $2 AND issuer = $4) \
                     AND EXISTS (SELECT 1 FROM integrations WHERE tenant_id = $2 AND client_id = $3)",
                )
                .bind(c.id.to_string())
                .bind(c.tenant_id.to_string())
                .bind(c.client_id.to_string())
                .bind(&c.issuer)
                .bind(&c.subject)
                .bind(serde_json::to_string(&c.claims).unwrap_or_default())
                .bind(c.created_at)
                .execute(&self.pool)
                .await
                .map_err(backend_error)?;
                $crate::affected(done.rows_affected())
            }

            async fn list_federated_credentials(
                &self,
                tenant: TenantId,
                client: ClientId,
                page: PageRequest,
            ) -> StoreResult<Page<FederatedCredential>> {
                let sql = format!(
                    "SELECT {FEDERATED_CREDENTIAL_COLUMNS} FROM federated_credentials \
                     WHERE tenant_id = $1 AND client_id = $2 AND seq > $3 ORDER BY seq LIMIT $4"
                );
                let query = sqlx::query_as::<_, FederatedCredentialRow>(&sql)
                    .bind(tenant.to_string())
                    .bind(client.to_string());
                fetch_page(query, &self.pool, page, |r| r.seq).await
            }

            async fn delete_federated_credential(
                &self,
                tenant: TenantId,
                client: ClientId,
                id: FederatedCredentialId,
            ) -> StoreResult<FederatedCredential> {
                sqlx::query_as::<_, FederatedCredentialRow>(&format!(
                    "DELETE FROM federated_credentials WHERE tenant_id = $1 AND client_id = $2 \
                     AND id = $3 RETURNING {FEDERATED_CREDENTIAL_COLUMNS}"
                ))
                .bind(tenant.to_string())
                .bind(client.to_string())
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await
                .map_err(backend_error)?
                .ok_or(StoreError::NotFound)?
                .try_into()
            }

            async fn federation_of(
                &self,
                tenant: Option<TenantId>,
            ) -> StoreResult<(Vec<TrustedIssuer>, Vec<FederatedCredential>)> {
                let issuers = tenant_rows::<_, TrustedIssuerRow, _>(&self.pool, tenant).await?;
                let credentials =
                    tenant_rows::<_, FederatedCredentialRow, _>(&self.pool, tenant).await?;
                Ok((issuers, credentials))
            }
        }
    };
}

pub(crate) use stamp;

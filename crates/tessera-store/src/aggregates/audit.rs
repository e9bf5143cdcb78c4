//! The audit log: written in batches by the flusher, read newest first.

/// Implements `AuditStore` on `$store` (a `crate::dialect::Backend`).
macro_rules! stamp {
    ($store:ty) => {
        use async_trait::async_trait;

        use tessera_core::id::TenantId;
        use tessera_core::page::{Page, PageRequest};
        use tessera_core::ports::{AuditEntry, AuditFilter, AuditRecord, AuditStore, StoreResult};

        use $crate::backend_error;
        use $crate::rows::{fetch_page, AuditRow};


        #[async_trait]
        impl AuditStore for $store {
            async fn append_audit(&self, records: &[AuditRecord]) -> StoreResult<()> {
                // Multi-row statements: one round trip to the database per 64 records, which
                // keeps the flusher cheap at tens of thousands of tokens a second.
                // The token path's commits wait for this one: it takes its turn (SQLite).
                let _turn = self.writes.gate.turn().await;
                let mut tx = self.begin_write().await?;
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
                filter: &AuditFilter,
                page: PageRequest,
            ) -> StoreResult<Page<AuditEntry>> {
                // Newest first from the cursor: `$6` is the position (0 for the newest), `$7`
                // the limit, as `fetch_page` binds them last.
                let query = sqlx::query_as::<_, AuditRow>(
                    "SELECT seq, tenant_id, at, actor, action, target, detail FROM audit_log \
                     WHERE tenant_id = $1 AND ($2 IS NULL OR actor = $2) \
                     AND ($3 IS NULL OR action = $3) AND ($4 IS NULL OR at >= $4) \
                     AND ($5 IS NULL OR at < $5) AND ($6 = 0 OR seq < $6) \
                     ORDER BY seq DESC LIMIT $7",
                )
                .bind(tenant.to_string())
                .bind(filter.actor.as_deref())
                .bind(filter.action.as_deref())
                .bind(filter.since)
                .bind(filter.until);
                fetch_page(query, &self.pool, page, |r| r.seq).await
            }
        }
    };
}

pub(crate) use stamp;

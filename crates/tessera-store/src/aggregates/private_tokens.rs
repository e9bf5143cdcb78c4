//! Application private tokens (SPEC §7) on both backends.
//! Every statement is scoped by `client_id`: an integration's store is only ever its own.
//! Listings walk the `(client_id, related_id, key)` index (or `(client_id, key, related_id)`
//! for a key filter) from a keyset cursor and never read values unless asked.
//! Values over one part (`VALUE_PART_BYTES`) live in `private_token_parts` under the ETag of
//! their version; a write or delete removes the parts of the value it replaces, in the same
//! transaction.

/// Implements `PrivateTokenStore` on `$store` (a `crate::dialect::Backend`).
macro_rules! stamp {
    ($store:ty) => {
        use async_trait::async_trait;
        use sqlx::Arguments;

        use tessera_core::id::{ClientId, TenantId};
        use tessera_core::model::{
            prefix_successor, EntryFilter, EntryName, PrivateToken, PrivateTokenInfo, UnixMillis,
            WriteCondition, VALUE_PART_BYTES,
        };
        use tessera_core::ports::{PrivateTokenStore, StoreError, StoreResult, StoredEntry};

        use $crate::backend_error;
        use $crate::dialect::{Backend, Dialect};

        type Db = <$store as Backend>::Db;
        const DIALECT: Dialect = <$store as Backend>::DIALECT;

        const INFO_COLUMNS: &str =
            "client_id, related_id, key, size, etag, created_at, updated_at, sealed";

        #[derive(sqlx::FromRow)]
        struct InfoRow {
            client_id: String,
            related_id: String,
            key: String,
            size: i64,
            etag: String,
            created_at: i64,
            updated_at: i64,
            sealed: bool,
        }

        impl InfoRow {
            fn info(self) -> StoreResult<PrivateTokenInfo> {
                Ok(PrivateTokenInfo {
                    client_id: self.client_id.parse().map_err(|_| {
                        StoreError::Backend("corrupt private token client_id".into())
                    })?,
                    name: EntryName {
                        related_id: self.related_id,
                        key: self.key,
                    },
                    size: u64::try_from(self.size).unwrap_or_default(),
                    etag: self.etag,
                    created_at: self.created_at,
                    updated_at: self.updated_at,
                    sealed: self.sealed,
                })
            }
        }

        #[derive(sqlx::FromRow)]
        struct FullRow {
            #[sqlx(flatten)]
            info: InfoRow,
            value: Option<String>,
        }

        /// One entry of a listed page: `relatedId`, `key`, size, ETag, times, and the value
        /// behind a mark of its form (`s` sealed, `p` plain).
        type PageRow = (String, String, i64, String, i64, i64, Option<String>);

        type Tx<'a> = sqlx::Transaction<'a, Db>;

        /// Creates or replaces the entry if `condition` holds, inside `tx`.
        async fn write_entry(
            tx: &mut Tx<'_>,
            tenant: TenantId,
            t: PrivateToken,
            condition: &WriteCondition,
        ) -> StoreResult<StoredEntry> {
            let i = &t.info;
            let size = i64::try_from(i.size).unwrap_or(i64::MAX);
            if *condition == WriteCondition::Always {
                let (writes, created_at): (i64, i64) = sqlx::query_as(
                    "INSERT INTO private_tokens (client_id, tenant_id, related_id, key, \
                     size, etag, writes, created_at, updated_at, value, sealed) \
                     VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7, $8, $9) \
                     ON CONFLICT (client_id, related_id, key) DO UPDATE SET \
                     size = excluded.size, etag = excluded.etag, \
                     writes = private_tokens.writes + 1, \
                     updated_at = excluded.updated_at, value = excluded.value, \
                     sealed = excluded.sealed \
                     RETURNING writes, created_at",
                )
                .bind(i.client_id.to_string())
                .bind(tenant.to_string())
                .bind(&i.name.related_id)
                .bind(&i.name.key)
                .bind(size)
                .bind(&i.etag)
                .bind(i.updated_at)
                .bind(t.value)
                .bind(i.sealed)
                .fetch_one(&mut **tx)
                .await
                .map_err(backend_error)?;
                return Ok(StoredEntry {
                    created: writes == 1,
                    created_at,
                });
            }
            let expected = match condition {
                WriteCondition::Matches(etag) => Some(etag.as_str()),
                _ => None,
            };
            let created_at: Option<i64> = sqlx::query_scalar(
                "UPDATE private_tokens SET size = $1, etag = $2, writes = writes + 1, \
                 updated_at = $3, value = $4, sealed = $9 \
                 WHERE client_id = $5 AND related_id = $6 AND key = $7 \
                 AND ($8 IS NULL OR etag = $8) RETURNING created_at",
            )
            .bind(size)
            .bind(&i.etag)
            .bind(i.updated_at)
            .bind(t.value)
            .bind(i.client_id.to_string())
            .bind(&i.name.related_id)
            .bind(&i.name.key)
            .bind(expected)
            .bind(i.sealed)
            .fetch_optional(&mut **tx)
            .await
            .map_err(backend_error)?;
            let created_at = created_at.ok_or(StoreError::PreconditionFailed)?;
            Ok(StoredEntry {
                created: false,
                created_at,
            })
        }

        /// Removes the parts of the value that was stored under `etag` with `size` bytes.
        async fn drop_parts(
            tx: &mut Tx<'_>,
            client: &str,
            etag: &str,
            size: i64,
        ) -> StoreResult<()> {
            if u64::try_from(size).unwrap_or_default() <= VALUE_PART_BYTES as u64 {
                return Ok(());
            }
            sqlx::query("DELETE FROM private_token_parts WHERE client_id = $1 AND etag = $2")
                .bind(client)
                .bind(etag)
                .execute(&mut **tx)
                .await
                .map_err(backend_error)?;
            Ok(())
        }

        #[async_trait]
        impl PrivateTokenStore for $store {
            async fn put_private_token(
                &self,
                tenant: TenantId,
                t: PrivateToken,
                condition: &WriteCondition,
            ) -> StoreResult<StoredEntry> {
                let client = t.info.client_id.to_string();
                let mut tx = self.begin_write().await?;
                let replaced: Option<(String, i64)> = sqlx::query_as(&format!(
                    "SELECT etag, size FROM private_tokens \
                     WHERE client_id = $1 AND related_id = $2 AND key = $3 {}",
                    DIALECT.lock_row
                ))
                .bind(&client)
                .bind(&t.info.name.related_id)
                .bind(&t.info.name.key)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend_error)?;
                let stored = write_entry(&mut tx, tenant, t, condition).await?;
                if let Some((etag, size)) = replaced {
                    drop_parts(&mut tx, &client, &etag, size).await?;
                }
                tx.commit().await.map_err(backend_error)?;
                Ok(stored)
            }

            async fn put_private_token_part(
                &self,
                client: ClientId,
                etag: &str,
                part: u32,
                text: String,
                at: UnixMillis,
            ) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO private_token_parts (client_id, etag, part, created_at, value) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(client.to_string())
                .bind(etag)
                .bind(i64::from(part))
                .bind(at)
                .bind(text)
                .execute(&self.pool)
                .await
                .map_err(backend_error)?;
                Ok(())
            }

            async fn private_token_part(
                &self,
                client: ClientId,
                etag: &str,
                part: u32,
            ) -> StoreResult<Option<String>> {
                sqlx::query_scalar(
                    "SELECT value FROM private_token_parts \
                     WHERE client_id = $1 AND etag = $2 AND part = $3",
                )
                .bind(client.to_string())
                .bind(etag)
                .bind(i64::from(part))
                .fetch_optional(&self.pool)
                .await
                .map_err(backend_error)
            }

            async fn discard_private_token_parts(
                &self,
                client: ClientId,
                etag: &str,
            ) -> StoreResult<()> {
                sqlx::query("DELETE FROM private_token_parts WHERE client_id = $1 AND etag = $2")
                    .bind(client.to_string())
                    .bind(etag)
                    .execute(&self.pool)
                    .await
                    .map_err(backend_error)?;
                Ok(())
            }

            async fn sweep_private_token_parts(&self, before: UnixMillis) -> StoreResult<u64> {
                let done = sqlx::query(&format!(
                    "DELETE FROM private_token_parts WHERE created_at < $1 AND NOT EXISTS \
                     (SELECT 1 FROM private_tokens t WHERE t.size > {VALUE_PART_BYTES} \
                     AND t.client_id = private_token_parts.client_id \
                     AND t.etag = private_token_parts.etag)"
                ))
                .bind(before)
                .execute(&self.pool)
                .await
                .map_err(backend_error)?;
                Ok(done.rows_affected())
            }

            async fn get_private_token(
                &self,
                client: ClientId,
                name: &EntryName,
            ) -> StoreResult<PrivateToken> {
                let row = sqlx::query_as::<_, FullRow>(&format!(
                    "SELECT {INFO_COLUMNS}, value FROM private_tokens \
                     WHERE client_id = $1 AND related_id = $2 AND key = $3"
                ))
                .bind(client.to_string())
                .bind(&name.related_id)
                .bind(&name.key)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend_error)?
                .ok_or(StoreError::NotFound)?;
                Ok(PrivateToken {
                    value: row.value.unwrap_or_default(),
                    info: row.info.info()?,
                })
            }

            async fn list_private_tokens(
                &self,
                client: ClientId,
                filter: &EntryFilter,
                after: Option<&EntryName>,
                limit: u32,
                value_budget: Option<u64>,
            ) -> StoreResult<Vec<(PrivateTokenInfo, Option<String>)>> {
                let mut args = <Db as sqlx::Database>::Arguments::<'_>::default();
                let mut n = 0;
                let mut next = |args: &mut <Db as sqlx::Database>::Arguments<'_>,
                                value: String|
                 -> StoreResult<String> {
                    args.add(value)
                        .map_err(|e| StoreError::Backend(e.to_string()))?;
                    n += 1;
                    Ok(format!("${n}"))
                };
                let mut sql = format!(
                    "SELECT related_id, key, size, etag, created_at, updated_at \
                     FROM private_tokens WHERE client_id = {}",
                    next(&mut args, client.to_string())?
                );
                if let Some(id) = &filter.related_id {
                    sql += &format!(" AND related_id = {}", next(&mut args, id.clone())?);
                }
                if let Some(prefix) = &filter.related_id_prefix {
                    sql += &format!(" AND related_id >= {}", next(&mut args, prefix.clone())?);
                    if let Some(upper) = prefix_successor(prefix) {
                        sql += &format!(" AND related_id < {}", next(&mut args, upper)?);
                    }
                }
                if let Some(key) = &filter.key {
                    sql += &format!(" AND key = {}", next(&mut args, key.clone())?);
                }
                if let Some(after) = after {
                    let (r, k) = (
                        next(&mut args, after.related_id.clone())?,
                        next(&mut args, after.key.clone())?,
                    );
                    sql += &format!(" AND (related_id, key) > ({r}, {k})");
                }
                sql += &format!(" ORDER BY related_id, key LIMIT {limit}");
                // The page comes back as one JSON array in one row: the driver's cost is
                // per row (SQLite: a channel hand-off and a copy of each value), so this
                // makes a page of 100 cost about what one entry does.
                // Values, when asked for, are read only for the entries that start within
                // `value_budget` bytes of the page: a page never carries more than the
                // budget plus one value, however large the values (the seed's pain).
                let value = match value_budget {
                    Some(budget) => format!(
                        "(SELECT CASE WHEN v.sealed THEN 's' ELSE 'p' END || \
                         CASE WHEN v.size > {VALUE_PART_BYTES} THEN \
                         (SELECT {concat} FROM private_token_parts p \
                         WHERE p.client_id = $1 AND p.etag = v.etag) \
                         ELSE v.value END FROM private_tokens v WHERE v.client_id = $1 \
                         AND v.related_id = w.related_id AND v.key = w.key \
                         AND w.running - w.size < {budget})",
                        concat = DIALECT.concat_parts,
                    ),
                    None => "NULL".to_owned(),
                };
                let sql = format!(
                    "SELECT COALESCE(CAST({agg}({array}(w.related_id, w.key, w.size, w.etag, \
                     w.created_at, w.updated_at, {value}) ORDER BY w.related_id, w.key) \
                     AS TEXT), '[]') \
                     FROM {rows} w",
                    agg = DIALECT.json_agg,
                    array = DIALECT.json_array,
                    // The running total is only needed to spend a value budget.
                    rows = if value_budget.is_some() {
                        format!(
                            "(SELECT m.*, SUM(m.size) OVER (ORDER BY m.related_id, m.key) \
                             AS running FROM ({sql}) m)"
                        )
                    } else {
                        format!("({sql})")
                    },
                );
                let page: String = sqlx::query_scalar_with(&sql, args)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(backend_error)?;
                let rows: Vec<PageRow> = serde_json::from_str(&page)
                    .map_err(|e| StoreError::Backend(format!("a page did not parse: {e}")))?;
                rows.into_iter()
                    .map(
                        |(related_id, key, size, etag, created_at, updated_at, value)| {
                            let (sealed, value) = match value {
                                Some(marked) => match marked.split_at_checked(1) {
                                    Some(("s", value)) => (true, Some(value.to_owned())),
                                    Some(("p", value)) => (false, Some(value.to_owned())),
                                    _ => {
                                        return Err(StoreError::Backend(
                                            "a listed value has no form mark".into(),
                                        ))
                                    }
                                },
                                None => (false, None),
                            };
                            Ok((
                                PrivateTokenInfo {
                                    client_id: client,
                                    name: EntryName { related_id, key },
                                    size: u64::try_from(size).unwrap_or_default(),
                                    etag,
                                    created_at,
                                    updated_at,
                                    sealed,
                                },
                                value,
                            ))
                        },
                    )
                    .collect()
            }

            async fn delete_private_token(
                &self,
                client: ClientId,
                name: &EntryName,
                condition: &WriteCondition,
            ) -> StoreResult<()> {
                let expected = match condition {
                    WriteCondition::Matches(etag) => Some(etag.as_str()),
                    _ => None,
                };
                let client = client.to_string();
                let mut tx = self.begin_write().await?;
                let deleted: Option<(String, i64)> = sqlx::query_as(
                    "DELETE FROM private_tokens \
                     WHERE client_id = $1 AND related_id = $2 AND key = $3 \
                     AND ($4 IS NULL OR etag = $4) RETURNING etag, size",
                )
                .bind(&client)
                .bind(&name.related_id)
                .bind(&name.key)
                .bind(expected)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend_error)?;
                let Some((etag, size)) = deleted else {
                    return Err(match condition {
                        WriteCondition::Always => StoreError::NotFound,
                        _ => StoreError::PreconditionFailed,
                    });
                };
                drop_parts(&mut tx, &client, &etag, size).await?;
                tx.commit().await.map_err(backend_error)
            }

            async fn delete_related_private_tokens(
                &self,
                client: ClientId,
                related_id: &str,
            ) -> StoreResult<u64> {
                let client = client.to_string();
                let mut tx = self.begin_write().await?;
                sqlx::query(&format!(
                    "DELETE FROM private_token_parts WHERE client_id = $1 AND etag IN \
                     (SELECT etag FROM private_tokens WHERE client_id = $1 \
                     AND related_id = $2 AND size > {VALUE_PART_BYTES})"
                ))
                .bind(&client)
                .bind(related_id)
                .execute(&mut *tx)
                .await
                .map_err(backend_error)?;
                let done = sqlx::query(
                    "DELETE FROM private_tokens WHERE client_id = $1 AND related_id = $2",
                )
                .bind(&client)
                .bind(related_id)
                .execute(&mut *tx)
                .await
                .map_err(backend_error)?;
                tx.commit().await.map_err(backend_error)?;
                Ok(done.rows_affected())
            }

            async fn unsealed_private_tokens(&self, limit: u32) -> StoreResult<Vec<PrivateToken>> {
                let rows = sqlx::query_as::<_, FullRow>(&format!(
                    "SELECT {INFO_COLUMNS}, value FROM private_tokens \
                     WHERE NOT sealed ORDER BY seq LIMIT {limit}"
                ))
                .fetch_all(&self.pool)
                .await
                .map_err(backend_error)?;
                rows.into_iter()
                    .map(|row| {
                        Ok(PrivateToken {
                            value: row.value.unwrap_or_default(),
                            info: row.info.info()?,
                        })
                    })
                    .collect()
            }

            async fn seal_private_token(
                &self,
                info: &PrivateTokenInfo,
                whole: String,
                parts: Vec<String>,
            ) -> StoreResult<bool> {
                let client = info.client_id.to_string();
                let mut tx = self.begin_write().await?;
                // The row first: it is locked (or found sealed already, or replaced) before
                // any part changes.
                let done = sqlx::query(
                    "UPDATE private_tokens SET value = $1, sealed = $2 \
                     WHERE client_id = $3 AND related_id = $4 AND key = $5 AND etag = $6 \
                     AND NOT sealed",
                )
                .bind(whole)
                .bind(true)
                .bind(&client)
                .bind(&info.name.related_id)
                .bind(&info.name.key)
                .bind(&info.etag)
                .execute(&mut *tx)
                .await
                .map_err(backend_error)?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                for (n, part) in parts.into_iter().enumerate() {
                    sqlx::query(
                        "UPDATE private_token_parts SET value = $1 \
                         WHERE client_id = $2 AND etag = $3 AND part = $4",
                    )
                    .bind(part)
                    .bind(&client)
                    .bind(&info.etag)
                    .bind(i64::try_from(n).unwrap_or(i64::MAX))
                    .execute(&mut *tx)
                    .await
                    .map_err(backend_error)?;
                }
                tx.commit().await.map_err(backend_error)?;
                Ok(true)
            }
        }
    };
}

pub(crate) use stamp;

//! Application private tokens (SPEC §7) on both backends, stamped by `impl_private_tokens!`.
//! Every statement is scoped by `client_id`: an integration's store is only ever its own.
//! Listings walk the `(client_id, related_id, key)` index (or `(client_id, key, related_id)`
//! for a key filter) from a keyset cursor and never read values unless asked.

macro_rules! impl_private_tokens {
    // `$json_array`/`$json_agg`: the dialect's JSON array constructor and aggregate.
    ($store:ty, $db:ty, $json_array:literal, $json_agg:literal) => {
        mod private_tokens_impl {
            use async_trait::async_trait;
            use sqlx::Arguments;
            use tessera_core::id::{ClientId, TenantId};
            use tessera_core::model::{
                prefix_successor, EntryFilter, EntryName, PrivateToken, PrivateTokenInfo,
                WriteCondition,
            };
            use tessera_core::ports::{PrivateTokenStore, StoreError, StoreResult, StoredEntry};

            use super::*;
            use $crate::backend_error;

            const INFO_COLUMNS: &str =
                "client_id, related_id, key, size, etag, created_at, updated_at";

            #[derive(sqlx::FromRow)]
            struct InfoRow {
                client_id: String,
                related_id: String,
                key: String,
                size: i64,
                etag: String,
                created_at: i64,
                updated_at: i64,
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
                    })
                }
            }

            #[derive(sqlx::FromRow)]
            struct FullRow {
                #[sqlx(flatten)]
                info: InfoRow,
                value: Option<String>,
            }

            /// One entry of a listed page: `relatedId`, `key`, size, ETag, times, value.
            type PageRow = (String, String, i64, String, i64, i64, Option<String>);

            fn size_of(token: &PrivateToken) -> i64 {
                i64::try_from(token.value.len()).unwrap_or(i64::MAX)
            }

            #[async_trait]
            impl PrivateTokenStore for $store {
                async fn put_private_token(
                    &self,
                    tenant: TenantId,
                    t: PrivateToken,
                    condition: &WriteCondition,
                ) -> StoreResult<StoredEntry> {
                    let size = size_of(&t);
                    let i = &t.info;
                    if *condition == WriteCondition::Always {
                        let (writes, created_at): (i64, i64) = sqlx::query_as(
                            "INSERT INTO private_tokens (client_id, tenant_id, related_id, key, \
                             size, etag, writes, created_at, updated_at, value) \
                             VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7, $8) \
                             ON CONFLICT (client_id, related_id, key) DO UPDATE SET \
                             size = excluded.size, etag = excluded.etag, \
                             writes = private_tokens.writes + 1, \
                             updated_at = excluded.updated_at, value = excluded.value \
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
                        .fetch_one(&self.pool)
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
                         updated_at = $3, value = $4 \
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
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(backend_error)?;
                    let created_at = created_at.ok_or(StoreError::PreconditionFailed)?;
                    Ok(StoredEntry {
                        created: false,
                        created_at,
                    })
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
                    let mut args = <$db as sqlx::Database>::Arguments::<'_>::default();
                    let mut n = 0;
                    let mut next = |args: &mut <$db as sqlx::Database>::Arguments<'_>,
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
                            "(SELECT v.value FROM private_tokens v WHERE v.client_id = $1 \
                             AND v.related_id = w.related_id AND v.key = w.key \
                             AND w.running - w.size < {budget})"
                        ),
                        None => "NULL".to_owned(),
                    };
                    let sql = format!(
                        "SELECT COALESCE(CAST({agg}({array}(w.related_id, w.key, w.size, w.etag, \
                         w.created_at, w.updated_at, {value}) ORDER BY w.related_id, w.key) \
                         AS TEXT), '[]') \
                         FROM (SELECT m.*, SUM(m.size) OVER (ORDER BY m.related_id, m.key) \
                         AS running FROM ({sql}) m) w",
                        agg = $json_agg,
                        array = $json_array,
                    );
                    let page: String = sqlx::query_scalar_with(&sql, args)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(backend_error)?;
                    let rows: Vec<PageRow> = serde_json::from_str(&page)
                        .map_err(|e| StoreError::Backend(format!("a page did not parse: {e}")))?;
                    rows.into_iter()
                        .map(|(related_id, key, size, etag, created_at, updated_at, value)| {
                            Ok((
                                PrivateTokenInfo {
                                    client_id: client,
                                    name: EntryName { related_id, key },
                                    size: u64::try_from(size).unwrap_or_default(),
                                    etag,
                                    created_at,
                                    updated_at,
                                },
                                value,
                            ))
                        })
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
                    let done = sqlx::query(
                        "DELETE FROM private_tokens \
                         WHERE client_id = $1 AND related_id = $2 AND key = $3 \
                         AND ($4 IS NULL OR etag = $4)",
                    )
                    .bind(client.to_string())
                    .bind(&name.related_id)
                    .bind(&name.key)
                    .bind(expected)
                    .execute(&self.pool)
                    .await
                    .map_err(backend_error)?;
                    match (done.rows_affected(), condition) {
                        (0, WriteCondition::Always) => Err(StoreError::NotFound),
                        (0, _) => Err(StoreError::PreconditionFailed),
                        _ => Ok(()),
                    }
                }

                async fn delete_related_private_tokens(
                    &self,
                    client: ClientId,
                    related_id: &str,
                ) -> StoreResult<u64> {
                    let done = sqlx::query(
                        "DELETE FROM private_tokens WHERE client_id = $1 AND related_id = $2",
                    )
                    .bind(client.to_string())
                    .bind(related_id)
                    .execute(&self.pool)
                    .await
                    .map_err(backend_error)?;
                    Ok(done.rows_affected())
                }
            }
        }
    };
}

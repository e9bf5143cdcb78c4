//! The SQL of the group commit (`crate::group_commit`): the token path's writes, many in one
//! transaction.

/// Defines `committer(pool)` for `$store` (a `crate::dialect::Backend`).
macro_rules! stamp {
    ($store:ty) => {
        use tessera_core::ports::StoreResult;

        use $crate::aggregates::writes::first_uses;
        use $crate::backend_error;
        use $crate::dialect::Backend;
        use $crate::group_commit::{Committer, Write, WriteGate};
        use $crate::rows::REFRESH_FAMILY_COLUMNS;

        type Db = <$store as Backend>::Db;

        /// Starts the store's group-commit task on `pool`, taking turns at `gate`.
        pub(crate) fn committer(pool: sqlx::Pool<Db>, gate: WriteGate) -> Committer {
            let commit: $crate::group_commit::Commit = Box::new(move |writes| {
                let pool = pool.clone();
                Box::pin(async move { commit(&pool, writes).await })
            });
            Committer::start(commit, gate)
        }

        /// Claims (a code's too) and new families (a code's only once its claim went in) each as
        /// one multi-row statement (`RETURNING` what went in), rotations one conditional update
        /// each; `writes` come sorted by key.
        async fn commit(pool: &sqlx::Pool<Db>, writes: Vec<Write>) -> StoreResult<Vec<bool>> {
            use std::collections::HashSet;
            let mut tx = pool
                .begin_with(<$store as Backend>::DIALECT.begin_write)
                .await
                .map_err(backend_error)?;
            let mut done = vec![false; writes.len()];
            let claims: Vec<_> = writes
                .iter()
                .enumerate()
                .filter_map(|(i, w)| match w {
                    Write::Claim {
                        issuer,
                        jti,
                        expires_at,
                    } => Some((i, issuer, jti, *expires_at)),
                    Write::RedeemCode {
                        issuer,
                        family,
                        expires_at,
                    } => Some((i, issuer, &family.id, *expires_at)),
                    _ => None,
                })
                .collect();
            if !claims.is_empty() {
                let mut q = sqlx::QueryBuilder::<Db>::new(
                    "INSERT INTO used_assertions (issuer, jti, expires_at) ",
                );
                q.push_values(&claims, |mut row, (_, issuer, jti, expires_at)| {
                    row.push_bind(issuer.as_str())
                        .push_bind(jti.as_str())
                        .push_bind(*expires_at);
                });
                q.push(" ON CONFLICT (issuer, jti) DO NOTHING RETURNING issuer, jti");
                let went_in: HashSet<(String, String)> = q
                    .build_query_as::<(String, String)>()
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(backend_error)?
                    .into_iter()
                    .collect();
                let keys = claims
                    .iter()
                    .map(|(_, issuer, jti, _)| ((*issuer).clone(), (*jti).clone()));
                for ((i, ..), first) in claims.iter().zip(first_uses(went_in, keys)) {
                    done[*i] = first;
                }
            }
            let families: Vec<_> = writes
                .iter()
                .enumerate()
                .filter_map(|(i, w)| match w {
                    Write::StartFamily(f) => Some((i, f)),
                    // Only the code's first use starts its family.
                    Write::RedeemCode { family, .. } if done[i] => Some((i, family)),
                    _ => None,
                })
                .collect();
            if !families.is_empty() {
                let mut q = sqlx::QueryBuilder::<Db>::new(format!(
                    "INSERT INTO refresh_families ({REFRESH_FAMILY_COLUMNS}) "
                ));
                q.push_values(&families, |mut row, (_, f)| {
                    row.push_bind(f.id.as_str())
                        .push_bind(f.tenant_id.to_string())
                        .push_bind(f.client_id.to_string())
                        .push_bind(f.user_id.to_string())
                        .push_bind(f.scope.to_string())
                        .push_bind(f.resource.as_str())
                        .push_bind(f.token_hash.to_vec())
                        .push_bind(i64::from(f.generation))
                        .push_bind(f.created_at)
                        .push_bind(f.last_used_at)
                        .push_bind(f.idle_expires_at)
                        .push_bind(f.absolute_expires_at)
                        .push_bind(f.dpop_jkt.as_deref());
                });
                q.push(" ON CONFLICT (id) DO NOTHING RETURNING id");
                let went_in: HashSet<String> = q
                    .build_query_scalar::<String>()
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(backend_error)?
                    .into_iter()
                    .collect();
                let keys = families.iter().map(|(_, f)| f.id.clone());
                for ((i, _), started) in families.iter().zip(first_uses(went_in, keys)) {
                    if matches!(writes[*i], Write::StartFamily(_)) {
                        done[*i] = started;
                    }
                }
            }
            for (i, write) in writes.iter().enumerate() {
                // One conditional statement: of two uses racing with the same token, one
                // matches the old hash and the other finds it replaced.
                if let Write::Rotate { next, current_hash } = write {
                    let result = sqlx::query(
                        "UPDATE refresh_families SET token_hash = $1, generation = $2, \
                         last_used_at = $3, idle_expires_at = $4 \
                         WHERE id = $5 AND token_hash = $6",
                    )
                    .bind(next.token_hash.as_slice())
                    .bind(i64::from(next.generation))
                    .bind(next.last_used_at)
                    .bind(next.idle_expires_at)
                    .bind(&next.id)
                    .bind(current_hash.as_slice())
                    .execute(&mut *tx)
                    .await
                    .map_err(backend_error)?;
                    done[i] = result.rows_affected() == 1;
                }
            }
            tx.commit().await.map_err(backend_error)?;
            Ok(done)
        }
    };
}

pub(crate) use stamp;

/// For each key of a group, in order: whether its row went in (`went_in`, what `RETURNING`
/// gave back) and it is the group's first with that key. The same key twice in one group:
/// the first of them is the first use, the others replays.
pub(crate) fn first_uses<K: Eq + std::hash::Hash>(
    mut went_in: std::collections::HashSet<K>,
    keys: impl IntoIterator<Item = K>,
) -> Vec<bool> {
    keys.into_iter().map(|key| went_in.remove(&key)).collect()
}

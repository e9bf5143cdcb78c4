//! Application private tokens' bench helpers.
//!
//! - `seed-private`: writes entries straight into the server's database (SQLite or PostgreSQL) in multi-row
//!   inserts (a million puts through HTTP would take minutes and measure nothing we report).
//!   `relatedId` = `rel-00000` …, `key` = `key-00` …; the server caches no entries, so it sees
//!   them at once. Values are sealed with the server's master key, as the server stores them.
//!   This is the one place outside `tessera-store` that knows the table.

use std::time::Instant;

use anyhow::{bail, Context};
use sqlx::Connection;
use tessera_core::crypto::MasterKey;
use tessera_core::id::ClientId;
use tessera_core::model::{seal_value, ValuePiece};
use tessera_core::ports::OsRng;

pub async fn seed(
    database: &str,
    client: &str,
    master_key: &str,
    entries: usize,
    related: usize,
) -> anyhow::Result<()> {
    if related == 0 || !entries.is_multiple_of(related) {
        bail!("--entries must be a multiple of --related");
    }
    let key = MasterKey::parse(master_key).map_err(|_| anyhow::anyhow!("--master-key"))?;
    let client_id: ClientId = client.parse().context("--client")?;
    let per_related = entries / related;
    let storage = tessera_store::connect(database).await?;
    let tenant = storage
        .list_all_tenants()
        .await?
        .first()
        .map(|t| t.id.to_string())
        .context("the database has no tenant: start the server once first")?;
    drop(storage);
    let started = Instant::now();
    // The same SQL on both backends.
    macro_rules! insert_on {
        ($conn:ty) => {{
        let mut db = <$conn>::connect(database).await?;
        const ROWS: usize = 500;
        let all: Vec<(usize, usize)> = (0..related)
            .flat_map(|r| (0..per_related).map(move |k| (r, k)))
            .collect();
        let mut tx = db.begin().await?;
        for (n, chunk) in all.chunks(ROWS).enumerate() {
            let mut sql = String::from(
                "INSERT INTO private_tokens (client_id, tenant_id, related_id, key, size, etag, \
                 writes, created_at, updated_at, value, sealed) VALUES ",
            );
            for (i, _) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(',');
                }
                let b = i * 4 + 1;
                sql += &format!(
                    "($1, $2, ${}, ${}, ${}, 'seeded', 1, 0, 0, ${}, $3)",
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6
                );
            }
            let mut query = sqlx::query(&sql).bind(client).bind(&tenant).bind(true);
            for (r, k) in chunk {
                let value = format!("value of rel-{r:05} key-{k:02}");
                query = query
                    .bind(format!("rel-{r:05}"))
                    .bind(format!("key-{k:02}"))
                    .bind(value.len() as i64)
                    .bind(seal_value(&key, &OsRng, client_id, "seeded", ValuePiece::Whole, &value));
            }
            query.execute(&mut *tx).await?;
            if n % 40 == 39 {
                tx.commit().await?;
                tx = db.begin().await?;
            }
        }
        tx.commit().await?;
        }};
    }
    if database.starts_with("sqlite:") {
        insert_on!(sqlx::SqliteConnection);
    } else {
        insert_on!(sqlx::PgConnection);
    }
    println!(
        "RESULT seeded={entries} seconds={:.1}",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

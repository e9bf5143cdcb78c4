//! The scale part (SPEC §12, issue 14): a deployment of 10,000 tenants and 100,000
//! integrations, and the cross-instance figure.
//!
//! - `postgres`: starts a throwaway PostgreSQL cluster (the tests' helper), prints one fresh
//!   database URL per line, and keeps the cluster until this process is stopped.
//! - `seed-scale`: writes tenants and integrations (each with one secret) straight into the
//!   server's database in multi-row inserts, as `seed-private` does: through the API it would
//!   take many minutes and measure nothing we report. Works on SQLite and PostgreSQL (the same
//!   SQL); the server learns of them at its next start.
//! - `propagation`: how long a secret regenerated on one instance takes to be honoured by
//!   another.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use sqlx::Connection;
use tessera_core::crypto::hash_client_secret;

pub fn postgres(databases: usize) -> anyhow::Result<()> {
    for _ in 0..databases {
        let url = tessera_store::testing::postgres_url().map_err(|e| anyhow::anyhow!(e))?;
        println!("{url}");
    }
    // The cluster lives as long as this process (a watchdog stops it afterwards).
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// Rows per multi-row statement: 500 × 8 parameters stays under both backends' limits.
const ROWS: usize = 500;

macro_rules! seed_on {
    ($conn:ty, $database:expr, $tenants:expr, $integrations:expr, $hash:expr, $into_operator:expr) => {{
        let mut db = <$conn>::connect($database).await?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis() as i64;
        let tenant_ids: Vec<String> = (0..$tenants)
            .map(|_| format!("tenant/{}", uuid::Uuid::new_v4()))
            .collect();
        let mut tx = db.begin().await?;
        for chunk in tenant_ids.chunks(ROWS) {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO tenants (id, display_name, tier, created_at) ",
            );
            insert.push_values(chunk, |mut row, id| {
                row.push_bind(id.clone())
                    .push_bind(format!("scale {}", &id[7..15]))
                    .push_bind("TEAM")
                    .push_bind(now);
            });
            insert.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        // With `--into-operator`, every integration goes to the operator tenant (one tenant
        // with a long list, as the console's pages meet it); otherwise they are spread.
        let operator: Option<String> = if $into_operator {
            Some(
                sqlx::query_scalar("SELECT id FROM tenants WHERE operator = 1")
                    .fetch_one(&mut db)
                    .await?,
            )
        } else {
            None
        };
        let clients: Vec<(String, String)> = (0..$integrations)
            .map(|n| {
                let tenant = operator
                    .clone()
                    .unwrap_or_else(|| tenant_ids[n % tenant_ids.len()].clone());
                (uuid::Uuid::new_v4().to_string(), tenant)
            })
            .collect();
        for batch in clients.chunks(ROWS * 20) {
            let mut tx = db.begin().await?;
            for chunk in batch.chunks(ROWS) {
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO integrations (client_id, tenant_id, display_name, scopes, \
                     custom_claims, token_ttl_seconds, created_at, updated_at) ",
                );
                insert.push_values(chunk, |mut row, (id, tenant)| {
                    row.push_bind(id.clone())
                        .push_bind(tenant.clone())
                        .push_bind("scale integration")
                        .push_bind("assets:read events:read")
                        .push_bind("{\"department\":\"ops\"}")
                        .push_bind(3600i64)
                        .push_bind(now)
                        .push_bind(now);
                });
                insert.build().execute(&mut *tx).await?;
                let mut secrets = sqlx::QueryBuilder::new(
                    "INSERT INTO client_secrets (client_id, hash, created_at) ",
                );
                secrets.push_values(chunk, |mut row, (id, _)| {
                    row.push_bind(id.clone())
                        .push_bind($hash.to_vec())
                        .push_bind(now);
                });
                secrets.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
        }
    }};
}

pub async fn seed(
    database: &str,
    tenants: usize,
    integrations: usize,
    secret: &str,
    into_operator: bool,
) -> anyhow::Result<()> {
    if tenants == 0 {
        bail!("--tenants must be at least 1");
    }
    // The schema must be there: the server's first start made it.
    drop(tessera_store::connect(database).await?);
    let started = Instant::now();
    let hash = hash_client_secret(secret);
    if database.starts_with("sqlite:") {
        seed_on!(
            sqlx::SqliteConnection,
            database,
            tenants,
            integrations,
            hash,
            into_operator
        );
    } else {
        seed_on!(
            sqlx::PgConnection,
            database,
            tenants,
            integrations,
            hash,
            into_operator
        );
    }
    println!(
        "RESULT tenants={tenants} integrations={integrations} seconds={:.1}",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A client-credentials request's status.
async fn token_status(http: &reqwest::Client, url: &str, id: &str, secret: &str) -> u16 {
    http.post(format!("{url}/oauth2/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

/// Regenerates a fresh integration's secret on `a` and times until `b` takes the new one;
/// `rounds` times. Polls every 50 ms: failed authentications count against the client (twenty
/// a minute), so a faster poll would lock it out before a slow instance caught up.
pub async fn propagation(
    a: &str,
    b: &str,
    id: &str,
    secret: &str,
    rounds: usize,
) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let admin = super::token_of(&http, a, id, secret)
        .await
        .context("instance A")?;
    let mut took = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let made: serde_json::Value = http
            .post(format!("{a}/v1/integrations"))
            .bearer_auth(&admin)
            .json(&serde_json::json!({"display_name": format!("propagation {round}")}))
            .send()
            .await?
            .json()
            .await?;
        let cid = made["client_id"].as_str().context("client_id")?.to_owned();
        // Let B learn of the integration itself first.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let renewed: serde_json::Value = http
            .post(format!("{a}/v1/integrations/{cid}/secret"))
            .bearer_auth(&admin)
            .send()
            .await?
            .json()
            .await?;
        let started = Instant::now();
        let fresh = renewed["client_secret"].as_str().context("client_secret")?;
        loop {
            if token_status(&http, b, &cid, fresh).await == 200 {
                took.push(started.elapsed());
                break;
            }
            if started.elapsed() > Duration::from_secs(5) {
                bail!("instance B did not take the new secret within 5 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    took.sort();
    println!(
        "RESULT median_ms={:.0} max_ms={:.0} rounds={rounds}",
        crate::percentile(&took, 0.5),
        crate::percentile(&took, 1.0)
    );
    Ok(())
}

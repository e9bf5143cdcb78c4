//! The resource API's bench helpers.
//!
//! - `seed`: writes assets straight into the server's SQLite database (the server reads assets
//!   from storage on every request and caches none, so it sees them at once), alternating the
//!   types `Shown` and `Hidden`.
//! - `list`: walks `GET /v2/assets` page by page with a bearer token, as a client streaming a
//!   large tenant would, and reports what it saw.

use std::time::Instant;

use anyhow::{bail, Context};
use serde_json::json;
use tessera_core::id::AssetId;
use tessera_core::model::Asset;

pub async fn seed(database: &str, count: usize) -> anyhow::Result<()> {
    let storage = tessera_store::connect(database).await?;
    let tenant = storage
        .list_all_tenants()
        .await?
        .first()
        .map(|t| t.id)
        .context("the database has no tenant: start the server once first")?;
    let started = Instant::now();
    let mut first_shown = None;
    for n in 0..count {
        let kind = if n % 2 == 0 { "Shown" } else { "Hidden" };
        let attributes = serde_json::from_value(json!({
            "arc_display_type": kind,
            "arc_description": "a shipping container being tracked",
            "serial": format!("SN-{n:08}"),
            "weight": "20000-lbs",
        }))?;
        let asset = Asset::new(
            AssetId::generate(&tessera_core::ports::OsRng),
            tenant,
            attributes,
            0,
        )?;
        storage.create_asset(&asset, None).await?;
        if first_shown.is_none() && kind == "Shown" {
            first_shown = Some(asset.id.uuid());
        }
    }
    let Some(first) = first_shown else {
        bail!("--count must be at least 1")
    };
    println!(
        "RESULT seeded={count} seconds={:.1} first_shown={first}",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

pub async fn list(url: &str, bearer: &str, page_size: u32) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let started = Instant::now();
    let (mut items, mut pages, mut largest) = (0usize, 0usize, 0usize);
    let mut token = String::new();
    loop {
        let page: serde_json::Value = client
            .get(url)
            .query(&[("page_size", page_size.to_string()), ("page_token", token)])
            .bearer_auth(bearer)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let count = page["assets"]
            .as_array()
            .context("no `assets` in a page")?
            .len();
        items += count;
        pages += 1;
        largest = largest.max(count);
        token = page["next_page_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if token.is_empty() {
            break;
        }
    }
    println!(
        "RESULT items={items} pages={pages} largest_page={largest} seconds={:.2}",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Writes `count` JWT bearer assertions (one per line, each with its own `jti`) signed by a
/// fresh Ed25519 key, and the key's public JWK to `jwk_out`, for a wrk script to send.
pub fn assertions(
    count: usize,
    alg: &str,
    issuer: &str,
    subject: &str,
    audience: &str,
    out: &str,
    jwk_out: &str,
) -> anyhow::Result<()> {
    use std::io::Write;
    use tessera_core::ports::OsRng;
    use tessera_core::token::{SigningAlg, SigningKey};
    let alg = SigningAlg::parse(alg).context("--alg: RS256, ES256 or EdDSA")?;
    let (key, _) =
        SigningKey::generate(alg, &OsRng).map_err(|e| anyhow::anyhow!("cannot make a key: {e}"))?;
    std::fs::write(jwk_out, key.public_jwk().to_string())?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let mut file = std::io::BufWriter::new(std::fs::File::create(out)?);
    for n in 0..count {
        let assertion = key
            .sign_jwt(
                &json!({"iss": issuer, "sub": subject, "aud": audience, "iat": now,
                "exp": now + 3000, "jti": format!("bench-{now}-{n}")}),
            )
            .map_err(|e| anyhow::anyhow!("cannot sign: {e}"))?;
        writeln!(file, "{assertion}")?;
    }
    file.flush()?;
    Ok(())
}

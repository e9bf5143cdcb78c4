//! Shared Signals' reach (SPEC §12, §16): `streams` resource servers, each a `tessera-verify`
//! with a poll subscription of its own (one receiver integration, one stream each), all
//! holding one token; the token is revoked; how long until each of them refuses it, over
//! `rounds` revocations.

use std::time::{Duration, Instant};

use anyhow::Context;
use base64::Engine;
use tessera_verify::{Verifier, VerifyError};

pub async fn run(url: &str, basic: &str, streams: usize, rounds: usize) -> anyhow::Result<()> {
    let (id, secret) = basic.split_once(':').context("--basic id:secret")?;
    let http = reqwest::Client::new();
    let admin = super::token_of(&http, url, id, secret).await?;
    let probe = super::token_of(&http, url, id, secret).await?;
    let payload = probe.split('.').nth(1).context("a JWT")?;
    let claims: serde_json::Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload)?)?;
    let audience = claims["aud"].as_str().context("aud")?.to_owned();
    let mut held = Vec::with_capacity(streams);
    for i in 0..streams {
        let made: serde_json::Value = http
            .post(format!("{url}/v1/integrations"))
            .bearer_auth(&admin)
            .json(&serde_json::json!({"display_name": format!("receiver {i}"), "scopes": ["security_events"]}))
            .send()
            .await?
            .json()
            .await?;
        let (rid, rsecret) = (
            made["client_id"].as_str().context("client_id")?,
            made["client_secret"].as_str().context("client_secret")?,
        );
        let verifier = Verifier::builder(url, &audience).build();
        let subscription = verifier.subscribe_by_poll(rid, rsecret).await?;
        held.push((verifier, subscription));
    }
    let mut took: Vec<Duration> = Vec::with_capacity(streams * rounds);
    for _ in 0..rounds {
        let token = super::token_of(&http, url, id, secret).await?;
        for (verifier, _) in &held {
            verifier
                .verify(&token)
                .await
                .context("a verifier takes the token")?;
        }
        let start = Instant::now();
        let revoked = http
            .post(format!("{url}/oauth2/revoke"))
            .basic_auth(id, Some(secret))
            .form(&[("token", token.as_str())])
            .send()
            .await?;
        anyhow::ensure!(
            revoked.status().is_success(),
            "revocation answered {}",
            revoked.status()
        );
        let waits = held
            .iter()
            .map(|(verifier, _)| refused(verifier, &token, start));
        took.extend(futures::future::join_all(waits).await);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    took.sort();
    println!(
        "RESULT signals streams={streams} rounds={rounds} p50_ms={:.1} p99_ms={:.1} max_ms={:.1}",
        super::percentile(&took, 0.50),
        super::percentile(&took, 0.99),
        took.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
    );
    Ok(())
}

/// How long after `start` the verifier refuses `token` as revoked (at most 10 s).
async fn refused(verifier: &Verifier, token: &str, start: Instant) -> Duration {
    while start.elapsed() < Duration::from_secs(10) {
        if let Err(VerifyError::Revoked(_)) = verifier.verify(token).await {
            return start.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    start.elapsed()
}

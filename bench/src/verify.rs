//! `tessera-verify`'s cost in a resource server (SPEC §12): a token the server issued checked
//! again and again on one thread with the key cached, against the bare signature check of the
//! same token with the same key.

use std::time::{Duration, Instant};

use anyhow::Context;
use base64::Engine;

pub fn run(url: &str, basic: &str, duration: Duration) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let (id, secret) = basic.split_once(':').context("--basic id:secret")?;
        let http = reqwest::Client::new();
        let token = super::token_of(&http, url, id, secret).await?;
        let (header, payload, signature) = parts(&token)?;
        let claims: serde_json::Value = serde_json::from_slice(&payload)?;
        let audience = claims["aud"].as_str().context("aud")?;
        let kid = header["kid"].as_str().unwrap_or_default().to_owned();

        // Remembered: the same token again, as a client sends it until it expires; and each
        // check in full (nothing remembered), the figure to hold against the bare signature.
        let remembered = rate(tessera_verify::Verifier::builder(url, audience).build(), &token, duration).await?;
        let full = tessera_verify::Verifier::builder(url, audience).remember_tokens(0).build();
        let verified = rate(full, &token, duration).await?;

        // The floor: the signature alone, with the key from the same JWKS.
        let discovery: serde_json::Value = http
            .get(format!("{url}/.well-known/openid-configuration"))
            .send()
            .await?
            .json()
            .await?;
        let jwks: serde_json::Value = http
            .get(discovery["jwks_uri"].as_str().context("jwks_uri")?)
            .send()
            .await?
            .json()
            .await?;
        let keys = tessera_core::token::VerifyingKey::from_jwks(&jwks);
        let key = keys
            .iter()
            .find(|k| k.kid.as_deref() == Some(&kid))
            .context("the token's key")?;
        let signed = &token.as_bytes()[..token.rfind('.').context("a JWS")?];
        let mut bare_count = 0u64;
        let start = Instant::now();
        while start.elapsed() < duration {
            for _ in 0..1000 {
                if key.verify(signed, &signature) {
                    bare_count += 1;
                }
            }
        }
        let bare = super::elapsed_rate(bare_count, start);
        println!(
            "RESULT verify alg={} remembered={remembered:.0} verified={verified:.0} bare={bare:.0} ratio={:.2}",
            header["alg"].as_str().unwrap_or_default(),
            bare / verified.max(1.0)
        );
        anyhow::Ok(())
    })
}

/// How many times a second `verifier` accepts `token`, on this thread.
async fn rate(
    verifier: tessera_verify::Verifier,
    token: &str,
    duration: Duration,
) -> anyhow::Result<f64> {
    verifier
        .verify(token)
        .await
        .context("the verifier accepts the server's token")?;
    let mut checked = 0u64;
    let start = Instant::now();
    while start.elapsed() < duration {
        for _ in 0..1000 {
            if verifier.verify(token).await.is_ok() {
                checked += 1;
            }
        }
    }
    Ok(super::elapsed_rate(checked, start))
}

/// A compact JWS's header (parsed), payload and signature (decoded).
fn parts(token: &str) -> anyhow::Result<(serde_json::Value, Vec<u8>, Vec<u8>)> {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut it = token.split('.');
    let (Some(h), Some(p), Some(s)) = (it.next(), it.next(), it.next()) else {
        anyhow::bail!("not a compact JWS");
    };
    Ok((
        serde_json::from_slice(&b64.decode(h)?)?,
        b64.decode(p)?,
        b64.decode(s)?,
    ))
}

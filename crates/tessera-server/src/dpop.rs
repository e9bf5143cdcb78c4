//! DPoP proofs (RFC 9449) wherever Tessera takes one: at the token endpoint and at every API
//! that takes its tokens. The checks are `tessera-jose`'s; here each proof is taken once
//! (bounded memory, the oldest going first) and, when the operator turned them on, the server's
//! nonces are asked for (§8). A nonce is an HMAC of a five-minute window under the master key,
//! so every instance makes and checks the same ones without sharing state.

use axum::http::HeaderMap;
use tessera_core::token::{check_dpop_proof, DpopProof, DpopRequest};

use crate::error::DpopRefusal;
use crate::state::AppState;

/// How far a proof's `iat` may be from now, either way (RFC 9449 §11.1).
pub const WINDOW_SECONDS: i64 = 60;
/// How long one nonce is given out; the previous one is still taken.
const NONCE_SECONDS: i64 = 300;
const NONCE_PURPOSE: &str = "dpop-nonce";

/// What a proof was made for: the request as this server is reached.
pub struct ProofFor<'a> {
    /// `htm`.
    pub method: &'a str,
    /// The path (and no query): `htu` is the issuer and this.
    pub path: &'a str,
    /// At an API: the token sent with the proof (`ath`).
    pub access_token: Option<&'a str>,
}

/// The request's proof, checked and taken; `None` without a `DPoP` header.
pub fn take_proof(
    state: &AppState,
    headers: &HeaderMap,
    made_for: ProofFor<'_>,
) -> Result<Option<DpopProof>, DpopRefusal> {
    let mut proofs = headers.get_all("dpop").iter();
    let Some(proof) = proofs.next() else {
        return Ok(None);
    };
    if proofs.next().is_some() {
        return Err(DpopRefusal::Invalid(
            "the request has more than one `DPoP` header; send one proof".into(),
        ));
    }
    let proof = proof
        .to_str()
        .map_err(|_| DpopRefusal::Invalid("the `DPoP` header is not ASCII".into()))?;
    let uri = format!(
        "{}{}",
        state.config.issuer.trim_end_matches('/'),
        made_for.path
    );
    let now = state.clock.now_seconds();
    let request = DpopRequest {
        method: made_for.method,
        uri: &uri,
        now,
        window: WINDOW_SECONDS,
        access_token: made_for.access_token,
        nonce: None,
    };
    let proof =
        check_dpop_proof(proof, &request).map_err(|e| DpopRefusal::Invalid(e.to_string()))?;
    if state.config.dpop_nonces && !nonce_holds(state, proof.nonce.as_deref(), now) {
        return Err(DpopRefusal::NonceNeeded(nonce(state, now)));
    }
    // Taken in one step: of two requests with the same proof at once, one gets the guard and
    // the other finds the entry (or the guard still held) and is refused.
    let seen = format!("{} {}", proof.jkt, proof.jti);
    match state
        .dpop_proofs
        .get_value_or_guard(&seen, Some(std::time::Duration::ZERO))
    {
        quick_cache::sync::GuardResult::Guard(first) => {
            let _ = first.insert(());
            Ok(Some(proof))
        }
        _ => Err(DpopRefusal::Invalid(
            "this DPoP proof was used already; make a new one for each request".into(),
        )),
    }
}

/// The nonce to give out now.
pub fn nonce(state: &AppState, now: i64) -> String {
    let window = now.div_euclid(NONCE_SECONDS);
    format!(
        "{window}.{}",
        state.master_key.mac(NONCE_PURPOSE, &window.to_be_bytes())
    )
}

fn nonce_holds(state: &AppState, given: Option<&str>, now: i64) -> bool {
    let Some((window, tag)) = given.and_then(|n| n.split_once('.')) else {
        return false;
    };
    let Ok(window) = window.parse::<i64>() else {
        return false;
    };
    let current = now.div_euclid(NONCE_SECONDS);
    (window == current || window == current - 1)
        && state
            .master_key
            .mac_matches(NONCE_PURPOSE, &window.to_be_bytes(), tag)
}

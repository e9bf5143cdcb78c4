//! DPoP at the token endpoint (RFC 9449 §5): a `DPoP` header's proof, checked by
//! `tessera-jose` and taken once, binds the token minted to the client's key.

use axum::http::HeaderMap;
use tessera_core::error::{OAuthError, OAuthErrorCode};
use tessera_core::token::{check_dpop_proof, DpopRequest};

use crate::error::ApiError;
use crate::state::AppState;

/// How far a proof's `iat` may be from now, either way (RFC 9449 §11.1).
const WINDOW_SECONDS: i64 = 60;

fn refused(why: impl Into<String>) -> ApiError {
    OAuthError::new(OAuthErrorCode::InvalidDpopProof, why).into()
}

/// The thumbprint of the key of the request's DPoP proof, or `None` without a `DPoP` header.
pub(super) fn proof_key(state: &AppState, headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let mut proofs = headers.get_all("dpop").iter();
    let Some(proof) = proofs.next() else {
        return Ok(None);
    };
    if proofs.next().is_some() {
        return Err(refused(
            "the request has more than one `DPoP` header; send one proof",
        ));
    }
    let proof = proof
        .to_str()
        .map_err(|_| refused("the `DPoP` header is not ASCII"))?;
    let uri = format!("{}/oauth2/token", state.config.issuer.trim_end_matches('/'));
    let request = DpopRequest {
        method: "POST",
        uri: &uri,
        now: state.clock.now_seconds(),
        window: WINDOW_SECONDS,
        access_token: None,
        nonce: None,
    };
    let proof = check_dpop_proof(proof, &request).map_err(|e| refused(e.to_string()))?;
    // Taken in one step: of two requests with the same proof at once, one gets the guard and
    // the other finds the entry (or the guard still held) and is refused.
    let seen = format!("{} {}", proof.jkt, proof.jti);
    match state
        .dpop_proofs
        .get_value_or_guard(&seen, Some(std::time::Duration::ZERO))
    {
        quick_cache::sync::GuardResult::Guard(first) => {
            let _ = first.insert(());
            Ok(Some(proof.jkt))
        }
        _ => Err(refused(
            "this DPoP proof was used already; make a new one for each request",
        )),
    }
}

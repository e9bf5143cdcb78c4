//! DPoP at the token endpoint (RFC 9449 §5): a `DPoP` header's proof (`crate::dpop`) binds
//! the token minted to the client's key; `dpop_bound_access_tokens` asks for one.

use axum::http::HeaderMap;

use crate::dpop::{take_proof, ProofFor};
use crate::error::{ApiError, DpopAt};
use crate::state::AppState;

/// The thumbprint of the key of the request's DPoP proof, or `None` without a `DPoP` header.
pub(super) fn proof_key(state: &AppState, headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let made_for = ProofFor {
        method: "POST",
        path: "/oauth2/token",
        access_token: None,
    };
    take_proof(state, headers, made_for)
        .map(|proof| proof.map(|p| p.jkt))
        .map_err(|refusal| ApiError::Dpop(refusal, DpopAt::TokenEndpoint))
}

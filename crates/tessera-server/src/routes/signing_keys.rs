//! The deployment's signing keys (SPEC §3.2), for the operator: `GET /v1/signing_keys` lists the
//! live keys, current first, without their private part; `POST /v1/signing_keys/rotate` makes
//! a new key of the configured algorithm current at once. The keys it replaces keep verifying
//! until every token they signed has expired; every instance follows within a second.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::json;
use tessera_core::model::rfc3339;
use tessera_core::ports::{AuditAction, AuditRecord, Change, StoredSigningKey};

use crate::error::{ApiError, ApiResult};
use crate::extract::PlatformCaller;
use crate::hot::keys;
use crate::state::AppState;
use crate::wire::{ErrorResponse, SigningKeyList, SigningKeyView};

fn view(key: &StoredSigningKey, current: bool) -> SigningKeyView {
    SigningKeyView {
        kid: key.kid.clone(),
        alg: key.alg.clone(),
        current,
        created_at: rfc3339(key.created_at),
        retired_at: key.retired_at.map(rfc3339),
        verify_until: key.verify_until.map(rfc3339),
    }
}

/// List the deployment's signing keys (operator).
#[utoipa::path(get, path = "/v1/signing_keys", tag = "keys",
    responses((status = 200, body = SigningKeyList), (status = 403, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn list_signing_keys(
    State(state): State<AppState>,
    _caller: PlatformCaller,
) -> ApiResult<Json<SigningKeyList>> {
    let live = state
        .storage
        .live_signing_keys(state.clock.now_millis())
        .await?;
    Ok(Json(SigningKeyList {
        keys: live
            .iter()
            .map(|k| view(k, k.retired_at.is_none()))
            .collect(),
    }))
}

/// Rotate the signing key now (operator).
#[utoipa::path(post, path = "/v1/signing_keys/rotate", tag = "keys",
    responses((status = 201, body = SigningKeyView, description = "The new current key"), (status = 403, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn rotate_signing_key(
    State(state): State<AppState>,
    caller: PlatformCaller,
) -> ApiResult<(StatusCode, Json<SigningKeyView>)> {
    let alg = state.config.signing_alg;
    let kid = keys::rotate(
        &*state.storage,
        &state.master_key,
        alg,
        &*state.clock,
        &*state.rng,
    )
    .await
    .map_err(|e| ApiError::Internal(format!("key rotation failed: {e}")))?;
    // This instance signs with it at once; the others follow the change feed.
    state.apply(&Change::SigningKeys).await?;
    state.audit(AuditRecord {
        tenant_id: caller.tenant,
        at: state.clock.now_millis(),
        actor: caller.actor.clone(),
        action: AuditAction::SigningKeyRotated.into(),
        target: kid.clone(),
        detail: json!({"alg": alg.as_str()}).to_string(),
    });
    let live = state
        .storage
        .live_signing_keys(state.clock.now_millis())
        .await?;
    let new = live
        .iter()
        .find(|k| k.kid == kid)
        .ok_or_else(|| ApiError::Internal("the new key is not among the live keys".into()))?;
    Ok((StatusCode::CREATED, Json(view(new, true))))
}

//! Public keys on integrations (SPEC §4): what verifies the JWTs an integration signs, for
//! `private_key_jwt` and the JWT bearer grant. A change reaches every instance's client snapshot
//! through the change feed.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::json;
use tessera_core::error::DomainError;
use tessera_core::model::{ClientKey, MAX_KEYS_PER_INTEGRATION};
use tessera_core::ports::{AuditAction, Change};

use super::conventions::{not_found, own_integration, parse_client_id};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, TenantAdmin};
use crate::state::AppState;
use crate::wire::*;

/// Register a public key (JWK or X.509 certificate) on an integration.
#[utoipa::path(post, path = "/v1/integrations/{client_id}/keys", tag = "integrations", request_body = AddClientKeyRequest,
    responses((status = 201, body = ClientKeyView), (status = 400, body = ErrorResponse), (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn add_key(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Path(client_id): Path<String>,
    ApiJson(body): ApiJson<AddClientKeyRequest>,
) -> ApiResult<(StatusCode, Json<ClientKeyView>)> {
    let client_id = parse_client_id(&client_id)?;
    let now = state.clock.now_millis();
    let key = match (body.jwk, body.certificate) {
        (Some(jwk), None) => ClientKey::from_jwk(client_id, &jwk, now)?,
        (None, Some(pem)) => ClientKey::from_certificate_pem(client_id, &pem, now)?,
        _ => {
            return Err(DomainError::invalid(
                "jwk",
                "give exactly one of `jwk` (a public JWK) and `certificate` (X.509 in PEM)",
            )
            .into())
        }
    };
    let existing = state
        .storage
        .list_client_keys(admin.tenant, client_id)
        .await?;
    if existing.len() >= MAX_KEYS_PER_INTEGRATION {
        return Err(DomainError::invalid(
            "jwk",
            format!(
                "the integration already has {MAX_KEYS_PER_INTEGRATION} keys; delete one first"
            ),
        )
        .into());
    }
    state
        .storage
        .add_client_key(admin.tenant, &key)
        .await
        .map_err(|e| match e {
            tessera_core::ports::StoreError::Conflict(_) => {
                ApiError::Domain(DomainError::Conflict(format!(
                    "the integration already has a key with kid `{}`",
                    key.kid
                )))
            }
            other => not_found("integration")(other),
        })?;
    state.publish(Change::Client(client_id)).await?;
    admin.audit(
        &state,
        AuditAction::IntegrationKeyAdded,
        client_id.to_string(),
        json!({"kid": key.kid, "alg": key.alg.as_str()}),
    );
    Ok((StatusCode::CREATED, Json(ClientKeyView::from(&key))))
}

/// List an integration's public keys.
#[utoipa::path(get, path = "/v1/integrations/{client_id}/keys", tag = "integrations",
    responses((status = 200, body = ClientKeyList), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn list_keys(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Path(client_id): Path<String>,
) -> ApiResult<Json<ClientKeyList>> {
    let client_id = own_integration(&state, admin.tenant, &client_id).await?;
    let keys = state
        .storage
        .list_client_keys(admin.tenant, client_id)
        .await?;
    Ok(Json(ClientKeyList {
        keys: keys.iter().map(ClientKeyView::from).collect(),
    }))
}

/// Remove a public key from an integration.
#[utoipa::path(delete, path = "/v1/integrations/{client_id}/keys/{kid}", tag = "integrations",
    responses((status = 204), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn delete_key(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Path((client_id, kid)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let client_id = parse_client_id(&client_id)?;
    state
        .storage
        .delete_client_key(admin.tenant, client_id, &kid)
        .await
        .map_err(not_found("key"))?;
    state.publish(Change::Client(client_id)).await?;
    admin.audit(
        &state,
        AuditAction::IntegrationKeyDeleted,
        client_id.to_string(),
        json!({"kid": kid}),
    );
    Ok(StatusCode::NO_CONTENT)
}

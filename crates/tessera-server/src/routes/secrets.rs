//! An integration's client secrets (SPEC §4): regenerate one, now or after a grace period,
//! or remove them all for an integration that authenticates without one.

use crate::security_events::signal;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::json;
use tessera_core::client_auth::ClientDirectory;
use tessera_core::error::DomainError;
use tessera_core::model::ClientSecretRecord;
use tessera_core::model::SecurityEvent;
use tessera_core::ports::{AuditAction, Change};

use super::conventions::{not_found, parse_client_id};
use crate::error::ApiResult;
use crate::extract::{ApiJson, TenantAdmin};
use crate::state::AppState;
use crate::wire::*;

/// The longest grace period for a replaced secret: 30 days.
const MAX_GRACE_SECONDS: u32 = 30 * 86_400;

/// Remove every secret of an integration at once: from then on it authenticates only with
/// platform tokens (SPEC §14) or its keys. A new one can be made with `POST …/secret`.
#[utoipa::path(delete, path = "/v1/integrations/{client_id}/secret", tag = "integrations",
    responses((status = 204), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn remove_secrets(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Path(client_id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = parse_client_id(&client_id)?;
    let removed = state
        .storage
        .remove_secrets(admin.tenant, id)
        .await
        .map_err(not_found("integration"))?;
    state.publish(Change::Client(id)).await?;
    let told = SecurityEvent::SecretChanged {
        client_id: id,
        change_type: "delete",
    };
    signal(&state, admin.tenant, told).await?;
    admin.audit(
        &state,
        AuditAction::IntegrationSecretRemoved,
        id.to_string(),
        json!({"secrets_removed": removed}),
    );
    Ok(StatusCode::NO_CONTENT)
}

/// Regenerate an integration's secret, now or after a grace period.
#[utoipa::path(post, path = "/v1/integrations/{client_id}/secret", tag = "integrations", request_body = RegenerateSecretRequest,
    responses((status = 200, body = RegeneratedSecret), (status = 400, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
pub async fn regenerate_secret(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Path(client_id): Path<String>,
    body: Option<ApiJson<RegenerateSecretRequest>>,
) -> ApiResult<Json<RegeneratedSecret>> {
    let id = parse_client_id(&client_id)?;
    let grace = body
        .map(|ApiJson(b)| b.grace_seconds.unwrap_or(0))
        .unwrap_or(0);
    if grace > MAX_GRACE_SECONDS {
        return Err(DomainError::invalid(
            "grace_seconds",
            format!("is {grace}; at most {MAX_GRACE_SECONDS} (30 days)"),
        )
        .into());
    }
    // Only this tenant's: another tenant's integration is not found, below, as any other.
    let public = ClientDirectory::client(&state.clients, &id)
        .is_some_and(|c| c.integration.tenant_id == admin.tenant && c.integration.public_client);
    if public {
        // SPEC §15: it proves its codes with PKCE; a secret would make it something else.
        return Err(DomainError::Conflict(
            "a public client (`token_endpoint_auth_method: none`) has no secret to regenerate"
                .into(),
        )
        .into());
    }
    let now = state.clock.now_millis();
    let (secret, record) = ClientSecretRecord::generate(id, &*state.rng, now);
    let old_expire_at = now + i64::from(grace) * 1000;
    state
        .storage
        .replace_secret(admin.tenant, &record, old_expire_at)
        .await
        .map_err(not_found("integration"))?;
    state.publish(Change::Client(id)).await?;
    let told = SecurityEvent::SecretChanged {
        client_id: id,
        change_type: "update",
    };
    signal(&state, admin.tenant, told).await?;
    admin.audit(
        &state,
        AuditAction::IntegrationSecretRegenerated,
        id.to_string(),
        json!({"grace_seconds": grace}),
    );
    Ok(Json(RegeneratedSecret {
        client_id: id.to_string(),
        client_secret: secret.expose().to_owned(),
        previous_secret_expires_at: rfc3339(old_expire_at),
    }))
}

//! Consents to impersonation (SPEC §3.3): `POST/GET/DELETE /v1/consents`. A tenant admin gives
//! them here, for one user or for all (`*`); users give their own in the console.

use crate::security_events::signal;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::json;
use tessera_core::client_auth::ClientDirectory;
use tessera_core::error::DomainError;
use tessera_core::id::{ClientId, ConsentId};
use tessera_core::model::SecurityEvent;
use tessera_core::model::{canonical_resource, Consent, ConsentUser};
use tessera_core::page::next_page_token;
use tessera_core::ports::{AuditAction, Change};

use super::conventions::{not_found, page};
use crate::error::ApiResult;
use crate::extract::{ApiJson, TenantAdmin};
use crate::state::AppState;
use crate::wire::*;

/// Consent for an integration to act for a user or all users.
#[utoipa::path(post, path = "/v1/consents", tag = "consents", request_body = GiveConsentRequest,
    responses((status = 201, body = ConsentView), (status = 400, body = ErrorResponse), (status = 403, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn give_consent(
    State(state): State<AppState>,
    admin: TenantAdmin,
    ApiJson(body): ApiJson<GiveConsentRequest>,
) -> ApiResult<(StatusCode, Json<ConsentView>)> {
    let client_id = body
        .client_id
        .parse::<ClientId>()
        .ok()
        .filter(|id| state.clients.client(id).is_some())
        .ok_or_else(|| DomainError::invalid("client_id", "names no integration"))?;
    let scopes = parse_scope_list("scopes", &body.scopes)?;
    if scopes.is_empty() {
        return Err(DomainError::invalid("scopes", "must name at least one scope").into());
    }
    let mut resources = Vec::new();
    for identifier in &body.resources {
        let found = canonical_resource(identifier)
            .and_then(|canonical| state.resource_servers.find(admin.tenant, &canonical))
            .ok_or_else(|| {
                DomainError::invalid(
                    "resources",
                    format!(
                        "`{}` is not a resource server of this tenant (GET /v1/resource_servers lists them)",
                        identifier.chars().take(200).collect::<String>()
                    ),
                )
            })?;
        resources.push(found.canonical());
    }
    resources.sort();
    resources.dedup();
    let user = if body.user.trim() == "*" {
        ConsentUser::All
    } else {
        let email = body.user.trim().to_lowercase();
        let found = state
            .storage
            .find_user_by_email(admin.tenant, &email)
            .await?
            .ok_or_else(|| {
                DomainError::invalid(
                    "user",
                    format!(
                        "no user `{email}` in this tenant; give an email of one, or `*` for all"
                    ),
                )
            })?;
        ConsentUser::User {
            id: found.id,
            email: found.email,
        }
    };
    let consent = state
        .storage
        .put_consent(&Consent {
            id: ConsentId::generate(&*state.rng),
            tenant_id: admin.tenant,
            client_id,
            user,
            scopes,
            granted_by: admin.actor.clone(),
            created_at: state.clock.now_millis(),
            resources,
        })
        .await?;
    state.publish(Change::People(admin.tenant)).await?;
    let view = ConsentView::from(&consent);
    admin.audit(
        &state,
        AuditAction::ConsentGiven,
        consent.id.to_string(),
        json!({"client_id": view.client_id, "user": view.user, "scopes": view.scopes}),
    );
    Ok((StatusCode::CREATED, Json(view)))
}

/// List the tenant's consents.
#[utoipa::path(get, path = "/v1/consents", tag = "consents", params(PageQuery),
    responses((status = 200, body = ConsentList), (status = 400, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn list_consents(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<ConsentList>> {
    let found = state.storage.list_consents(admin.tenant, page(&q)?).await?;
    Ok(Json(ConsentList {
        consents: found.items.iter().map(ConsentView::from).collect(),
        next_page_token: next_page_token(found.next_after),
    }))
}

/// Withdraw a consent; the tokens issued under it stop, and the refresh tokens of the
/// authorizations it covered end (SPEC §15).
#[utoipa::path(delete, path = "/v1/consents/{id}", tag = "consents",
    responses((status = 204), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn withdraw_consent(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id: ConsentId = id.parse().map_err(|_| DomainError::NotFound("consent"))?;
    let consent = state
        .storage
        .delete_consent(admin.tenant, id)
        .await
        .map_err(not_found("consent"))?;
    state.publish(Change::People(admin.tenant)).await?;
    // Withdrawn and given again, a consent must not bring old refresh tokens back.
    let person = match &consent.user {
        tessera_core::model::ConsentUser::User { id, .. } => Some(*id),
        tessera_core::model::ConsentUser::All => None,
    };
    let ended = state
        .storage
        .delete_refresh_families(admin.tenant, consent.client_id, person)
        .await?;
    let told = SecurityEvent::ConsentWithdrawn {
        user: person,
        client_id: consent.client_id,
    };
    signal(&state, admin.tenant, told).await?;
    admin.audit(
        &state,
        AuditAction::ConsentWithdrawn,
        consent.id.to_string(),
        json!({"client_id": consent.client_id.to_string(), "refresh_families_ended": ended}),
    );
    Ok(StatusCode::NO_CONTENT)
}

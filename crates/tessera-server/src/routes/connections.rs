//! Connections (SPEC §6) for both sides: `GET /v1/connections`, `GET/DELETE
//! /v1/connections/{id}`. Either side revokes: its tokens stop on every instance within a
//! second, and the application is told (`connection.revoked`).

use crate::security_events::signal;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::json;
use tessera_core::error::DomainError;
use tessera_core::id::{ClientId, ConnectionId, TenantId};
use tessera_core::model::Connection;
use tessera_core::model::SecurityEvent;
use tessera_core::model::{validate_state, ConnectionRequest, CONNECTION_URL_TTL_SECONDS};
use tessera_core::page::next_page_token;
use tessera_core::ports::{AuditAction, AuditRecord, Change};
use tessera_core::scope::Scope;
use tessera_core::token::TokenSubject;

use super::conventions::{not_found, page, parse_client_id};
use crate::connections::{connection_secrets, tell_revoked};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, BearerToken, TenantAdmin};
use crate::state::AppState;
use crate::wire::*;

fn parse_id(raw: &str) -> Result<ConnectionId, DomainError> {
    raw.parse().map_err(|_| DomainError::NotFound("connection"))
}

/// A connection the caller's tenant is a side of; 404 for anything else.
async fn visible_connection(
    state: &AppState,
    admin: &TenantAdmin,
    raw: &str,
) -> ApiResult<Connection> {
    let found = state
        .storage
        .get_connection(parse_id(raw)?)
        .await
        .map_err(not_found("connection"))?;
    if !found.involves(admin.tenant) {
        return Err(DomainError::NotFound("connection").into());
    }
    Ok(found)
}

/// List the connections the tenant is a side of.
#[utoipa::path(get, path = "/v1/connections", tag = "connections", params(PageQuery),
    responses((status = 200, body = ConnectionList), (status = 400, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn list_connections(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<ConnectionList>> {
    let found = state
        .storage
        .list_connections(admin.tenant, page(&q)?)
        .await?;
    Ok(Json(ConnectionList {
        connections: found.items.iter().map(ConnectionView::from).collect(),
        next_page_token: next_page_token(found.next_after),
    }))
}

/// Read a connection.
#[utoipa::path(get, path = "/v1/connections/{id}", tag = "connections",
    responses((status = 200, body = ConnectionView), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn get_connection(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Path(id): Path<String>,
) -> ApiResult<Json<ConnectionView>> {
    let found = visible_connection(&state, &admin, &id).await?;
    Ok(Json(ConnectionView::from(&found)))
}

/// List a connection's webhook delivery attempts.
#[utoipa::path(get, path = "/v1/connections/{id}/deliveries", tag = "connections", params(PageQuery),
    responses((status = 200, body = DeliveryList), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn list_deliveries(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<DeliveryList>> {
    let found = visible_connection(&state, &admin, &id).await?;
    let attempts = state.storage.webhook_attempts(found.id, page(&q)?).await?;
    Ok(Json(DeliveryList {
        deliveries: attempts.items.iter().map(DeliveryView::from).collect(),
        next_page_token: next_page_token(attempts.next_after),
    }))
}

/// Revoke a connection; its tokens and webhooks stop.
#[utoipa::path(delete, path = "/v1/connections/{id}", tag = "connections",
    responses((status = 204, description = "Revoked: its tokens stop on every instance within a second; the application is told"), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn revoke_connection(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id)?;
    // Read before the revocation drops it: the application is told with its own token.
    let bearer = connection_secrets(&state, id)
        .await
        .map(|(bearer, _)| bearer);
    let now = state.clock.now_millis();
    let revoked = state
        .storage
        .revoke_connection(admin.tenant, id, now)
        .await
        .map_err(not_found("connection"))?;
    state.publish(Change::Connection(id)).await?;
    let told = SecurityEvent::GrantRevoked {
        grant: id.to_string(),
    };
    signal(&state, revoked.owner_tenant_id, told).await?;
    for tenant_id in [revoked.owner_tenant_id, revoked.client_tenant_id] {
        state.audit(AuditRecord {
            tenant_id,
            at: now,
            actor: admin.actor.clone(),
            action: AuditAction::ConnectionRevoked.into(),
            target: id.to_string(),
            detail: json!({"client_id": revoked.client_id.to_string()}).to_string(),
        });
    }
    tell_revoked(&state, &revoked, bearer);
    Ok(StatusCode::NO_CONTENT)
}

/// Make a signed connection URL for one data owner.
#[utoipa::path(post, path = "/v1/integrations/{client_id}/connection_url", tag = "connections", request_body = ConnectionUrlRequest,
    description = "A tenant admin's token makes one for any integration of the tenant; an integration's own client-credentials token for that integration only.",
    responses((status = 200, body = ConnectionUrl), (status = 400, body = ErrorResponse), (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
pub async fn connection_url(
    State(state): State<AppState>,
    BearerToken(claims): BearerToken,
    Path(client_id): Path<String>,
    ApiJson(body): ApiJson<ConnectionUrlRequest>,
) -> ApiResult<Json<ConnectionUrl>> {
    let id = parse_client_id(&client_id)?;
    // A tenant admin makes them for any integration of the tenant; an application for itself
    // alone, with a token of its own (seed 001: one URL per customer, made by the developer's
    // application). A token for another tenant's data names that tenant, where the
    // integration is not found.
    let itself = claims.client_id == id && claims.sub == TokenSubject::Integration(id);
    if !claims.scope.contains(Scope::Admin) && !itself {
        return Err(ApiError::Forbidden(format!(
            "a token without `admin` makes connection URLs for its own integration only \
             (`{}`), not for `{id}`",
            claims.client_id
        )));
    }
    make_connection_url(&state, claims.tenant_id, id, body)
        .await
        .map(Json)
}

/// A connection URL for the integration `id` of `tenant` (the caller was checked): for the API
/// and the console's connection-URL maker.
pub(crate) async fn make_connection_url(
    state: &AppState,
    tenant: TenantId,
    id: ClientId,
    body: ConnectionUrlRequest,
) -> ApiResult<ConnectionUrl> {
    let integration = state
        .storage
        .get_integration(tenant, id)
        .await
        .map_err(not_found("integration"))?;
    if integration.profile.authentication_url.is_none() {
        return Err(DomainError::invalid(
            "authentication_url",
            "is not set on this integration: set it first, Tessera hands the owner's answer to it",
        )
        .into());
    }
    let scopes = parse_scope_list("scopes", &body.scopes)?;
    if scopes.is_empty() {
        return Err(DomainError::invalid("scopes", "must name at least one scope").into());
    }
    let beyond = scopes.difference(integration.scopes);
    if !beyond.is_empty() {
        return Err(DomainError::invalid(
            "scopes",
            format!(
                "`{beyond}` is beyond what this integration may request ({})",
                integration.scopes
            ),
        )
        .into());
    }
    validate_state(&body.state)?;
    let expires_at = state.clock.now_seconds() + CONNECTION_URL_TTL_SECONDS;
    let request = ConnectionRequest {
        client_id: id,
        scopes,
        state: body.state,
        expires_at,
    };
    Ok(ConnectionUrl {
        url: format!(
            "{}/connect?{}",
            state.config.issuer,
            request.to_query(&state.master_key)
        ),
        expires_at: rfc3339(expires_at * 1000),
    })
}

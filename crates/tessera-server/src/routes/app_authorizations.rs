//! App authorizations (SPEC §8): `POST/GET/DELETE /v1/app_authorizations`. A tenant admin lets
//! a multi-tenant application reach the tenant's data with an access level; TMS then issues
//! tokens for this tenant to every production version of that application.

use crate::security_events::signal;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::json;
use tessera_core::error::DomainError;
use tessera_core::id::AppAuthorizationId;
use tessera_core::model::SecurityEvent;
use tessera_core::model::{validate_app_label, AppAccess, AppAuthorization, ClientSecretRecord};
use tessera_core::page::next_page_token;
use tessera_core::ports::{AuditAction, Change};

use super::conventions::{not_found, page, parse_client_id};
use crate::error::ApiResult;
use crate::extract::{ApiJson, TenantAdmin};
use crate::state::AppState;
use crate::wire::*;

/// Authorize a multi-tenant application to reach the tenant's data.
#[utoipa::path(post, path = "/v1/app_authorizations", tag = "applications", request_body = AuthorizeAppRequest,
    responses((status = 201, body = AppAuthorizationView), (status = 400, body = ErrorResponse), (status = 403, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn authorize_app(
    State(state): State<AppState>,
    admin: TenantAdmin,
    ApiJson(body): ApiJson<AuthorizeAppRequest>,
) -> ApiResult<(StatusCode, Json<AppAuthorizationView>)> {
    validate_app_label("app_name", &body.app_name)?;
    let access = AppAccess::parse(&body.access).ok_or_else(|| {
        DomainError::invalid("access", "must be `read_write`, `limited` or `custom`")
    })?;
    let listed = body
        .scopes
        .as_deref()
        .map(|s| parse_scope_list("scopes", s))
        .transpose()?;
    let scopes = access.scopes(listed)?;
    if state.storage.app_owner(&body.app_name).await?.is_none() {
        return Err(DomainError::invalid(
            "app_name",
            format!("names no registered application (`{}`)", body.app_name),
        )
        .into());
    }
    let authorization = AppAuthorization {
        id: AppAuthorizationId::generate(&*state.rng),
        tenant_id: admin.tenant,
        app_name: body.app_name,
        access,
        scopes,
        granted_by: admin.actor.clone(),
        created_at: state.clock.now_millis(),
    };
    state.storage.put_app_authorization(&authorization).await?;
    state
        .publish(Change::AppAuthorizations(admin.tenant))
        .await?;
    let view = AppAuthorizationView::from(&authorization);
    admin.audit(
        &state,
        AuditAction::AppAuthorized,
        view.id.clone(),
        json!({"app_name": view.app_name, "access": view.access, "scopes": view.scopes}),
    );
    Ok((StatusCode::CREATED, Json(view)))
}

/// List the tenant's application authorizations.
#[utoipa::path(get, path = "/v1/app_authorizations", tag = "applications", params(PageQuery),
    responses((status = 200, body = AppAuthorizationList), (status = 400, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn list_app_authorizations(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<AppAuthorizationList>> {
    let found = state
        .storage
        .list_app_authorizations(admin.tenant, page(&q)?)
        .await?;
    Ok(Json(AppAuthorizationList {
        app_authorizations: found.items.iter().map(AppAuthorizationView::from).collect(),
        next_page_token: next_page_token(found.next_after),
    }))
}

/// Revoke an application authorization.
#[utoipa::path(delete, path = "/v1/app_authorizations/{id}", tag = "applications",
    responses((status = 204, description = "Revoked: tokens issued under it stop working on every instance within a second"), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn revoke_app_authorization(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    // The id as listed, `app_authorizations/<uuid>`; a path segment cannot hold the slash, so
    // the bare uuid is accepted too.
    let id: AppAuthorizationId = id
        .parse()
        .or_else(|_| format!("app_authorizations/{id}").parse())
        .map_err(|_| DomainError::NotFound("app authorization"))?;
    let revoked = state
        .storage
        .delete_app_authorization(admin.tenant, id)
        .await
        .map_err(not_found("app authorization"))?;
    state
        .publish(Change::AppAuthorizations(admin.tenant))
        .await?;
    let told = SecurityEvent::GrantRevoked {
        grant: revoked.id.to_string(),
    };
    signal(&state, admin.tenant, told).await?;
    admin.audit(
        &state,
        AuditAction::AppAuthorizationRevoked,
        revoked.id.to_string(),
        json!({"app_name": revoked.app_name}),
    );
    Ok(StatusCode::NO_CONTENT)
}

/// Promote an application version to production with new credentials.
#[utoipa::path(post, path = "/v1/integrations/{client_id}/promote", tag = "integrations",
    responses((status = 200, body = PromotedIntegration), (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse)))]
pub async fn promote_integration(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Path(client_id): Path<String>,
) -> ApiResult<Json<PromotedIntegration>> {
    let id = parse_client_id(&client_id)?;
    let now = state.clock.now_millis();
    let (secret, record) = ClientSecretRecord::generate(id, &*state.rng, now);
    state
        .storage
        .promote_integration(admin.tenant, &record)
        .await
        .map_err(not_found("integration"))?;
    // Every instance reloads the integration: the development secret stops at once.
    state.publish(Change::Client(id)).await?;
    let integration = state.storage.get_integration(admin.tenant, id).await?;
    admin.audit(
        &state,
        AuditAction::IntegrationPromoted,
        id.to_string(),
        json!({}),
    );
    Ok(Json(PromotedIntegration {
        integration: IntegrationView::from(&integration),
        client_secret: secret.expose().to_owned(),
    }))
}

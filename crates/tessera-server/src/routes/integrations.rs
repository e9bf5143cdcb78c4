//! Integrations (SPEC §4): register, list, read, change and delete the tenant's integrations.

use crate::security_events::signal;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::json;
use tessera_core::error::DomainError;
use tessera_core::id::{ClientId, TenantId};
use tessera_core::model::SecurityEvent;
use tessera_core::model::{
    AppProfile, AppProfilePatch, ClientSecretRecord, IntegrationPatch, NewAppVersion,
    NewIntegration,
};
use tessera_core::page::next_page_token;
use tessera_core::ports::{AuditAction, Change};
use tessera_core::scope::{Scope, ScopeSet};

use super::conventions::{keeps_an_admin, Kept};
use super::conventions::{not_found, page, parse_client_id};
use crate::error::ApiResult;
use crate::extract::{ApiJson, TenantAdmin};
use crate::state::AppState;
use crate::wire::*;

/// Register an integration; its secret is shown once.
#[utoipa::path(post, path = "/v1/integrations", tag = "integrations", request_body = CreateIntegrationRequest,
    responses((status = 201, body = CreatedIntegration), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse)))]
pub async fn create_integration(
    State(state): State<AppState>,
    admin: TenantAdmin,
    ApiJson(body): ApiJson<CreateIntegrationRequest>,
) -> ApiResult<(StatusCode, Json<CreatedIntegration>)> {
    let scopes = requested_scopes(&state, admin.tenant, body.scopes.as_deref())?;
    let now = state.clock.now_millis();
    let public_client = body.public_client()?;
    let app = NewAppVersion::from_request(
        body.multi_tenant,
        body.app_name,
        body.app_version,
        body.tms_enabled,
    )?;
    let integration = NewIntegration {
        public_client,
        dpop_bound_access_tokens: body.dpop_bound_access_tokens,
        display_name: body.display_name,
        scopes,
        custom_claims: body.custom_claims,
        token_ttl_seconds: body.token_ttl_seconds,
        refresh_token_idle_seconds: body.refresh_token_idle_seconds,
        refresh_token_absolute_seconds: body.refresh_token_absolute_seconds,
        jwks_uri: body.jwks_uri,
        redirect_uris: body.redirect_uris.unwrap_or_default(),
        app,
        profile: AppProfile {
            authentication_url: body.authentication_url,
            webhook_url: body.webhook_url,
            description: body.description,
            homepage_url: body.homepage_url,
        },
        urls: state.config.url_rules,
    }
    .validate(ClientId::generate(&*state.rng), admin.tenant, now)?;
    // A public client has nothing to keep secret (SPEC §15).
    let first = (!body.secretless && !public_client)
        .then(|| ClientSecretRecord::generate(integration.client_id, &*state.rng, now));
    state
        .storage
        .create_integration(&integration, first.as_ref().map(|(_, record)| record))
        .await?;
    state.publish(Change::Client(integration.client_id)).await?;
    admin.audit(
        &state,
        AuditAction::IntegrationCreated,
        integration.client_id.to_string(),
        json!({"display_name": integration.display_name, "secretless": body.secretless}),
    );
    Ok((
        StatusCode::CREATED,
        Json(CreatedIntegration {
            integration: IntegrationView::from(&integration),
            client_secret: first.map(|(secret, _)| secret.expose().to_owned()),
        }),
    ))
}

/// The scopes a create or change asks for, if any: known names, and `platform` only for the
/// operator tenant.
fn requested_scopes(
    state: &AppState,
    tenant: TenantId,
    names: Option<&[String]>,
) -> Result<Option<ScopeSet>, DomainError> {
    let scopes = names.map(|s| parse_scope_list("scopes", s)).transpose()?;
    platform_only_for_operator(state, tenant, scopes)?;
    Ok(scopes)
}

/// `platform` manages every tenant: only the operator tenant's integrations may hold it.
fn platform_only_for_operator(
    state: &AppState,
    tenant: TenantId,
    scopes: Option<ScopeSet>,
) -> Result<(), DomainError> {
    let wants_platform = scopes.is_some_and(|s| s.contains(Scope::Platform));
    if wants_platform && !state.clients.tenant(&tenant).is_some_and(|t| t.operator) {
        return Err(DomainError::invalid(
            "scopes",
            "contains `platform`, which only integrations of the operator tenant may hold",
        ));
    }
    Ok(())
}

/// List the tenant's integrations.
#[utoipa::path(get, path = "/v1/integrations", tag = "integrations", params(PageQuery),
    responses((status = 200, body = IntegrationList), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse)))]
pub async fn list_integrations(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<IntegrationList>> {
    let found = state
        .storage
        .list_integrations(admin.tenant, page(&q)?)
        .await?;
    Ok(Json(IntegrationList {
        integrations: found.items.iter().map(IntegrationView::from).collect(),
        next_page_token: next_page_token(found.next_after),
    }))
}

/// Read an integration.
#[utoipa::path(get, path = "/v1/integrations/{client_id}", tag = "integrations",
    responses((status = 200, body = IntegrationView), (status = 404, body = ErrorResponse)))]
pub async fn get_integration(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Path(client_id): Path<String>,
) -> ApiResult<Json<IntegrationView>> {
    let id = parse_client_id(&client_id)?;
    let found = state
        .storage
        .get_integration(admin.tenant, id)
        .await
        .map_err(not_found("integration"))?;
    Ok(Json(IntegrationView::from(&found)))
}

/// Change an integration.
#[utoipa::path(patch, path = "/v1/integrations/{client_id}", tag = "integrations", request_body = PatchIntegrationRequest,
    responses((status = 200, body = IntegrationView), (status = 400, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
pub async fn patch_integration(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Path(client_id): Path<String>,
    ApiJson(body): ApiJson<PatchIntegrationRequest>,
) -> ApiResult<Json<IntegrationView>> {
    let id = parse_client_id(&client_id)?;
    let mut integration = state
        .storage
        .get_integration(admin.tenant, id)
        .await
        .map_err(not_found("integration"))?;
    let scopes = requested_scopes(&state, admin.tenant, body.scopes.as_deref())?;
    if integration.scopes.contains(Scope::Admin)
        && scopes.is_some_and(|s| !s.contains(Scope::Admin))
    {
        keeps_an_admin(
            &state,
            admin.tenant,
            Kept::Integration,
            "stripped of `admin`",
        )
        .await?;
    }
    IntegrationPatch {
        display_name: body.display_name,
        scopes,
        custom_claims: body.custom_claims,
        token_ttl_seconds: body.token_ttl_seconds,
        refresh_token_idle_seconds: body.refresh_token_idle_seconds,
        refresh_token_absolute_seconds: body.refresh_token_absolute_seconds,
        jwks_uri: body.jwks_uri,
        redirect_uris: body.redirect_uris,
        tms_enabled: body.tms_enabled,
        dpop_bound_access_tokens: body.dpop_bound_access_tokens,
        profile: AppProfilePatch {
            authentication_url: body.authentication_url,
            webhook_url: body.webhook_url,
            description: body.description,
            homepage_url: body.homepage_url,
        },
        urls: state.config.url_rules,
    }
    .apply(&mut integration, state.clock.now_millis())?;
    state.storage.update_integration(&integration).await?;
    state.publish(Change::Client(id)).await?;
    admin.audit(
        &state,
        AuditAction::IntegrationUpdated,
        id.to_string(),
        json!({}),
    );
    Ok(Json(IntegrationView::from(&integration)))
}

/// Delete an integration and end everything it holds.
#[utoipa::path(delete, path = "/v1/integrations/{client_id}", tag = "integrations",
    responses((status = 204, description = "Deleted; its tokens stop working on every instance within a second"), (status = 404, body = ErrorResponse)))]
pub async fn delete_integration(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Path(client_id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = parse_client_id(&client_id)?;
    let integration = state
        .storage
        .get_integration(admin.tenant, id)
        .await
        .map_err(not_found("integration"))?;
    if integration.scopes.contains(Scope::Admin) {
        keeps_an_admin(&state, admin.tenant, Kept::Integration, "deleted").await?;
    }
    state
        .storage
        .delete_integration(admin.tenant, id)
        .await
        .map_err(not_found("integration"))?;
    // Tokens name their client; a client that is gone makes them inactive everywhere.
    state.publish(Change::Client(id)).await?;
    // Its federated credentials went with it.
    if !state.federation.credentials_of(admin.tenant, id).is_empty() {
        state.publish(Change::Federation(admin.tenant)).await?;
    }
    signal(
        &state,
        admin.tenant,
        SecurityEvent::IntegrationDeleted { client_id: id },
    )
    .await?;
    admin.audit(
        &state,
        AuditAction::IntegrationDeleted,
        id.to_string(),
        json!({}),
    );
    Ok(StatusCode::NO_CONTENT)
}

//! Tenants (SPEC §4.1): the operator's `/v1/tenants`, with a `platform` token. Each change is
//! audited in the operator tenant and in the tenant concerned, and published so that every
//! instance honours it within a second.

mod lifecycle;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use tessera_core::error::DomainError;
use tessera_core::id::TenantId;
use tessera_core::model::{Tenant, TenantPatch, Tier};
use tessera_core::page::next_page_token;
use tessera_core::ports::StoreError;

use crate::error::ApiResult;
use crate::extract::{ApiJson, PlatformCaller};
use crate::routes::conventions::page;
use crate::state::AppState;
use crate::wire::*;
pub(crate) use lifecycle::{change_tenant, delete_tenant_everywhere, new_tenant, store_new_tenant};

/// A tenant id from the path: `tenant/<uuid>` (with the slash percent-encoded, or through the
/// `/v1/tenants/tenant/{uuid}` route) or the bare UUID.
pub(crate) fn parse_tenant_id(raw: &str) -> Result<TenantId, DomainError> {
    raw.parse()
        .or_else(|_| format!("tenant/{raw}").parse())
        .map_err(|_| {
            DomainError::invalid(
                "tenant_id",
                "must be `tenant/` followed by a UUID, or the bare UUID",
            )
        })
}

/// The URL of a one-time link that sets a password in the console.
pub(crate) fn set_password_url(state: &AppState, token: &str) -> String {
    format!(
        "{}/console/set-password?token={token}",
        state.config.issuer.trim_end_matches('/')
    )
}

/// Create a tenant and invite its first admin (operator).
#[utoipa::path(post, path = "/v1/tenants", tag = "tenants", request_body = CreateTenantRequest,
    responses((status = 201, body = CreatedTenant, description = "Created; the admin's invitation_url is shown once"), (status = 400, body = ErrorResponse), (status = 403, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn create_tenant(
    State(state): State<AppState>,
    caller: PlatformCaller,
    ApiJson(body): ApiJson<CreateTenantRequest>,
) -> ApiResult<(StatusCode, Json<CreatedTenant>)> {
    let new = new_tenant(
        &*state.rng,
        &body.display_name,
        body.tier.as_deref(),
        &body.admin_email,
        body.admin_display_name.as_deref(),
        String::new(),
        state.clock.now_millis(),
    )?;
    let created = store_new_tenant(&state, &caller, new).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// List tenants (operator).
#[utoipa::path(get, path = "/v1/tenants", tag = "tenants", params(PageQuery),
    responses((status = 200, body = TenantList), (status = 400, body = ErrorResponse), (status = 403, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn list_tenants(
    State(state): State<AppState>,
    _caller: PlatformCaller,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<TenantList>> {
    let found = state.storage.list_tenants(page(&q)?).await?;
    Ok(Json(TenantList {
        tenants: found.items.iter().map(TenantView::from).collect(),
        next_page_token: next_page_token(found.next_after),
    }))
}

async fn find_tenant(state: &AppState, raw: &str) -> ApiResult<Tenant> {
    let id = parse_tenant_id(raw)?;
    state.storage.get_tenant(id).await.map_err(|e| match e {
        StoreError::NotFound => DomainError::NotFound("tenant").into(),
        other => other.into(),
    })
}

/// Read a tenant (operator).
#[utoipa::path(get, path = "/v1/tenants/{id}", tag = "tenants",
    params(("id" = String, Path, description = "`tenant/<uuid>` (slash percent-encoded) or the bare UUID")),
    responses((status = 200, body = TenantView), (status = 400, body = ErrorResponse), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn get_tenant(
    State(state): State<AppState>,
    _caller: PlatformCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<TenantView>> {
    Ok(Json(TenantView::from(&find_tenant(&state, &id).await?)))
}

/// Rename, re-tier, disable or enable a tenant (operator).
#[utoipa::path(patch, path = "/v1/tenants/{id}", tag = "tenants", request_body = PatchTenantRequest,
    params(("id" = String, Path, description = "`tenant/<uuid>` (slash percent-encoded) or the bare UUID")),
    responses((status = 200, body = TenantView), (status = 400, body = ErrorResponse), (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse, description = "The operator tenant cannot be disabled")),
    security(("bearer" = [])))]
pub async fn patch_tenant(
    State(state): State<AppState>,
    caller: PlatformCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PatchTenantRequest>,
) -> ApiResult<Json<TenantView>> {
    let patch = TenantPatch {
        display_name: body.display_name,
        tier: body.tier.as_deref().map(Tier::parse_field).transpose()?,
        disabled: body.disabled,
    };
    let tenant = change_tenant(&state, &caller, parse_tenant_id(&id)?, patch).await?;
    Ok(Json(TenantView::from(&tenant)))
}

/// Delete a tenant and all its data (operator).
#[utoipa::path(delete, path = "/v1/tenants/{id}", tag = "tenants",
    params(("id" = String, Path, description = "`tenant/<uuid>` (slash percent-encoded) or the bare UUID")),
    responses((status = 204, description = "Deleted with all of its data; every grant to or from it ended, connected applications told"), (status = 400, body = ErrorResponse), (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse, description = "The operator tenant cannot be deleted")),
    security(("bearer" = [])))]
pub async fn delete_tenant(
    State(state): State<AppState>,
    caller: PlatformCaller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = parse_tenant_id(&id)?;
    delete_tenant_everywhere(&state, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

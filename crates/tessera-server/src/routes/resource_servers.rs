//! Resource servers (SPEC §15, RFC 8707): `/v1/resource_servers`. A tenant admin registers the
//! APIs tokens may be issued for; the authorization endpoint resolves `resource` against them
//! from memory, which every change refreshes on every instance through the feed.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::json;
use tessera_core::error::DomainError;
use tessera_core::id::ResourceServerId;
use tessera_core::model::{ResourceServer, ResourceServerRequest, MAX_RESOURCE_SERVERS};
use tessera_core::page::next_page_token;
use tessera_core::ports::{AuditAction, Change, StoreError};

use super::conventions::{not_found, page};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, TenantAdmin};
use crate::state::AppState;
use crate::wire::*;

/// A path's id (`<uuid>` or `resource_servers/<uuid>`), or 404 as for any id of another tenant.
fn resource_server_id(raw: &str) -> ApiResult<ResourceServerId> {
    let full = if raw.starts_with("resource_servers/") {
        raw.to_owned()
    } else {
        format!("resource_servers/{raw}")
    };
    full.parse()
        .map_err(|_| DomainError::NotFound("resource server").into())
}

/// A taken identifier, in words.
fn identifier_taken(server: &ResourceServer) -> impl Fn(StoreError) -> ApiError + '_ {
    move |e| match e {
        StoreError::Conflict(_) => ApiError::Domain(DomainError::Conflict(format!(
            "the tenant already has a resource server `{}`",
            server.identifier
        ))),
        other => not_found("resource server")(other),
    }
}

/// After a write of `server`: a taken identifier in words, else the change published to every
/// instance and audited.
async fn told(
    state: &AppState,
    admin: &TenantAdmin,
    server: &ResourceServer,
    stored: Result<(), StoreError>,
    action: AuditAction,
) -> ApiResult<()> {
    stored.map_err(identifier_taken(server))?;
    state.publish(Change::ResourceServers(admin.tenant)).await?;
    admin.audit(
        state,
        action,
        server.id.to_string(),
        json!({"identifier": server.identifier, "scopes": server.scopes.to_vec()}),
    );
    Ok(())
}

/// Register an API tokens may be issued for.
#[utoipa::path(post, path = "/v1/resource_servers", tag = "resource servers", request_body = CreateResourceServerRequest,
    responses((status = 201, body = ResourceServerView), (status = 400, body = ErrorResponse), (status = 409, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn create_resource_server(
    State(state): State<AppState>,
    admin: TenantAdmin,
    ApiJson(body): ApiJson<CreateResourceServerRequest>,
) -> ApiResult<(StatusCode, Json<ResourceServerView>)> {
    let request = ResourceServerRequest {
        identifier: Some(body.identifier),
        display_name: body.display_name,
        scopes: body.scopes,
    };
    let server = ResourceServer::new(
        ResourceServerId::generate(&*state.rng),
        admin.tenant,
        &request,
        state.config.url_rules,
        state.clock.now_millis(),
    )?;
    if state.resource_servers.count(admin.tenant) >= MAX_RESOURCE_SERVERS {
        return Err(DomainError::invalid(
            "identifier",
            format!(
                "the tenant already has {MAX_RESOURCE_SERVERS} resource servers; remove one first"
            ),
        )
        .into());
    }
    let stored = state.storage.create_resource_server(&server).await;
    told(
        &state,
        &admin,
        &server,
        stored,
        AuditAction::ResourceServerCreated,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(ResourceServerView::from(&server))))
}

/// List the tenant's resource servers.
#[utoipa::path(get, path = "/v1/resource_servers", tag = "resource servers", params(PageQuery),
    responses((status = 200, body = ResourceServerList), (status = 400, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn list_resource_servers(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<ResourceServerList>> {
    let found = state
        .storage
        .list_resource_servers(admin.tenant, page(&q)?)
        .await?;
    Ok(Json(ResourceServerList {
        resource_servers: found.items.iter().map(ResourceServerView::from).collect(),
        next_page_token: next_page_token(found.next_after),
    }))
}

/// One resource server.
#[utoipa::path(get, path = "/v1/resource_servers/{uuid}", tag = "resource servers",
    responses((status = 200, body = ResourceServerView), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn get_resource_server(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Path(id): Path<String>,
) -> ApiResult<Json<ResourceServerView>> {
    let found = state
        .storage
        .get_resource_server(admin.tenant, resource_server_id(&id)?)
        .await
        .map_err(not_found("resource server"))?;
    Ok(Json(ResourceServerView::from(&found)))
}

/// Change a resource server. Tokens issued for its old identifier keep it as their `aud`.
#[utoipa::path(patch, path = "/v1/resource_servers/{uuid}", tag = "resource servers", request_body = PatchResourceServerRequest,
    responses((status = 200, body = ResourceServerView), (status = 400, body = ErrorResponse), (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn patch_resource_server(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PatchResourceServerRequest>,
) -> ApiResult<Json<ResourceServerView>> {
    let found = state
        .storage
        .get_resource_server(admin.tenant, resource_server_id(&id)?)
        .await
        .map_err(not_found("resource server"))?;
    let change = ResourceServerRequest {
        identifier: body.identifier,
        display_name: body.display_name,
        scopes: body.scopes,
    };
    let server = found.changed(&change, state.config.url_rules, state.clock.now_millis())?;
    let stored = state.storage.update_resource_server(&server).await;
    told(
        &state,
        &admin,
        &server,
        stored,
        AuditAction::ResourceServerUpdated,
    )
    .await?;
    Ok(Json(ResourceServerView::from(&server)))
}

/// Remove a resource server: no new token is issued for it. Tokens already issued for it run
/// until they expire (its own API checks them; Tessera cannot tell it to stop).
#[utoipa::path(delete, path = "/v1/resource_servers/{uuid}", tag = "resource servers",
    responses((status = 204), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn delete_resource_server(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let gone = state
        .storage
        .delete_resource_server(admin.tenant, resource_server_id(&id)?)
        .await
        .map_err(not_found("resource server"))?;
    state.publish(Change::ResourceServers(admin.tenant)).await?;
    admin.audit(
        &state,
        AuditAction::ResourceServerDeleted,
        gone.id.to_string(),
        json!({"identifier": gone.identifier}),
    );
    Ok(StatusCode::NO_CONTENT)
}

//! The tenant admin's view of an integration's private tokens, and the listing both sides use.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use tessera_core::client_auth::ClientDirectory;
use tessera_core::error::DomainError;
use tessera_core::id::ClientId;
use tessera_core::model::{EntryFilter, EntryName};
use tessera_core::page::parse_page_size;

use super::read::*;
use super::{delete_entry, delete_related};
use crate::error::ApiResult;
use crate::extract::{PrivateTokenCaller, TenantAdmin};
use crate::routes::conventions::parse_client_id;
use crate::state::AppState;
use crate::wire::*;

/// List an integration's private tokens (tenant admin).
#[utoipa::path(get, path = "/v1/integrations/{client_id}/private_tokens", tag = "private tokens", params(PrivateTokenQuery),
    responses((status = 200, body = PrivateTokenList), (status = 400, body = ErrorResponse), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn list_for_integration(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Path(client_id): Path<String>,
    Query(q): Query<PrivateTokenQuery>,
) -> ApiResult<Json<PrivateTokenList>> {
    let caller = owned(&state, &admin, &client_id)?;
    list(&state, caller.client, q).await.map(Json)
}

/// The admin's integration `client_id` as its own private-token caller: its owner opens and
/// deletes its entries through the same code the integration does (seed 003: the owner of an
/// API client sees all its tokens).
pub(super) fn owned(
    state: &AppState,
    admin: &TenantAdmin,
    client_id: &str,
) -> ApiResult<PrivateTokenCaller> {
    let id = parse_client_id(client_id)?;
    let in_tenant = state
        .clients
        .client(&id)
        .is_some_and(|c| c.integration.tenant_id == admin.tenant);
    if !in_tenant {
        return Err(DomainError::NotFound("integration").into());
    }
    Ok(PrivateTokenCaller {
        client: id,
        tenant: admin.tenant,
    })
}

/// Read one of an integration's private tokens (tenant admin).
#[utoipa::path(get, path = "/v1/integrations/{client_id}/private_tokens/{relatedId}/{key}", tag = "private tokens",
    params(("client_id" = String, Path), ("relatedId" = String, Path), ("key" = String, Path)),
    responses((status = 200, body = PrivateTokenView), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn get_for_integration(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Path((client_id, related_id, key)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let caller = owned(&state, &admin, &client_id)?;
    get_entry(State(state), caller, Path((related_id, key))).await
}

/// Delete one of an integration's private tokens (tenant admin).
#[utoipa::path(delete, path = "/v1/integrations/{client_id}/private_tokens/{relatedId}/{key}", tag = "private tokens",
    params(("client_id" = String, Path), ("relatedId" = String, Path), ("key" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorResponse), (status = 412, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn delete_for_integration(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Path((client_id, related_id, key)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let caller = owned(&state, &admin, &client_id)?;
    delete_entry(State(state), caller, Path((related_id, key)), headers).await
}

/// Delete a relatedId of an integration's private tokens (tenant admin).
#[utoipa::path(delete, path = "/v1/integrations/{client_id}/private_tokens/{relatedId}", tag = "private tokens",
    params(("client_id" = String, Path), ("relatedId" = String, Path)),
    responses((status = 200, body = DeletedPrivateTokens), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn delete_related_for_integration(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Path((client_id, related_id)): Path<(String, String)>,
) -> ApiResult<Json<DeletedPrivateTokens>> {
    let caller = owned(&state, &admin, &client_id)?;
    delete_related(State(state), caller, Path(related_id)).await
}

pub(super) async fn list(
    state: &AppState,
    client: ClientId,
    q: PrivateTokenQuery,
) -> ApiResult<PrivateTokenList> {
    let filter = EntryFilter {
        related_id: q.related_id,
        related_id_prefix: q.related_id_prefix,
        key: q.key,
    };
    filter.validate()?;
    let include_values = match q.include_values.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(DomainError::invalid("include_values", "must be `true` or `false`").into())
        }
    };
    let size = parse_page_size(q.page_size.as_deref())?;
    let after = match q.page_token.as_deref() {
        None | Some("") => None,
        Some(token) => Some(EntryName::from_page_token(token)?),
    };
    // With values, a page holds entries until their values pass one value's worth of bytes:
    // the store leaves out the values past that, and the page ends before the first of them.
    let budget = include_values.then_some(state.config.max_private_token_bytes as u64);
    let mut rows = state
        .storage
        .list_private_tokens(client, &filter, after.as_ref(), size + 1, budget)
        .await?;
    let mut more = rows.len() > size as usize;
    rows.truncate(size as usize);
    if include_values {
        if let Some(cut) = rows.iter().position(|(_, value)| value.is_none()) {
            rows.truncate(cut);
            more = true;
        }
    }
    let next_page_token = match rows.last() {
        Some((last, _)) if more => last.name.page_token(),
        _ => String::new(),
    };
    Ok(PrivateTokenList {
        private_tokens: rows
            .into_iter()
            .map(|(info, value)| {
                let value = match value {
                    Some(stored) => Some(open_stored(state, &info, &stored)?),
                    None => None,
                };
                Ok(PrivateTokenView::new(&info, value))
            })
            .collect::<ApiResult<_>>()?,
        next_page_token,
    })
}

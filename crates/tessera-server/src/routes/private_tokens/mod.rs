//! Application private tokens (SPEC §7): each integration's own key/value store under
//! `/v1/private_tokens`, and the tenant admin's view of it. Another integration's entries do not
//! exist for a caller: every answer about them is 404.
//!
//! Values are read with a limit of our own instead of the management API's 1 MiB: up to the
//! configured maximum for a raw body, and twice that (plus room for the names) for JSON, whose
//! escapes may grow the text; the decoded value is then held to the maximum itself.
//!
//! A value over one part (`VALUE_PART_BYTES`) moves a part at a time: a raw body is cut into
//! parts as it arrives, each written before the next is read, and the entry that refers to
//! them is written last; a read streams the parts into the response the same way. Memory for
//! a 16 MiB value is then a few parts, not several copies of the value.

mod admin;
mod body;
mod read;
mod upload;

pub use admin::*;
pub use read::*;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use tessera_core::model::{
    seal_value, EntryName, PrivateToken, PrivateTokenInfo, ValuePiece, WriteCondition,
};

use crate::error::{ApiError, ApiResult};
use crate::extract::PrivateTokenCaller;
use crate::state::AppState;
use crate::wire::*;
use body::*;
use upload::*;

/// Stores a received value under `name` for the caller and answers 201 (created) or 200
/// (replaced).
async fn store(
    state: &AppState,
    caller: &PrivateTokenCaller,
    name: EntryName,
    value: Received,
    condition: &WriteCondition,
) -> ApiResult<Response> {
    let now = state.clock.now_millis();
    let Received {
        size,
        inline,
        upload,
    } = value;
    let value = if upload.parts == 0 {
        seal_value(
            &state.master_key,
            &*state.rng,
            caller.client,
            &upload.etag,
            ValuePiece::Whole,
            &inline,
        )
    } else {
        String::new()
    };
    drop(inline);
    let token = PrivateToken {
        info: PrivateTokenInfo {
            client_id: caller.client,
            name,
            size: size as u64,
            etag: upload.etag.clone(),
            created_at: now,
            updated_at: now,
            sealed: true,
        },
        value,
    };
    let mut info = token.info.clone();
    let stored = state
        .storage
        .put_private_token(caller.tenant, token, condition)
        .await?;
    upload.finish();
    info.created_at = stored.created_at;
    let view = PrivateTokenView::new(&info, None);
    let status = if stored.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(with_etag(status, &info, view))
}

/// Create or replace a private token.
#[utoipa::path(put, path = "/v1/private_tokens/{relatedId}/{key}", tag = "private tokens",
    params(("relatedId" = String, Path, description = "Any characters; percent-encode `/`"), ("key" = String, Path)),
    request_body(content = PutPrivateTokenRequest, description = "`{\"value\": …}` as JSON, or the value itself as the body with any other content type"),
    responses((status = 201, body = PrivateTokenView), (status = 200, body = PrivateTokenView), (status = 400, body = ErrorResponse), (status = 403, body = ErrorResponse), (status = 412, body = ErrorResponse), (status = 413, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn put_entry(
    State(state): State<AppState>,
    caller: PrivateTokenCaller,
    Path((related_id, key)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let name = EntryName::new(&related_id, &key)?;
    let condition = write_condition(&headers)?;
    let max = state.config.max_private_token_bytes;
    let value = if is_json(&headers) {
        let bytes = read_body(&headers, body, max.saturating_mul(2) + JSON_ROOM, max).await?;
        let value = parse_json::<PutPrivateTokenRequest>(&bytes)?.value;
        drop(bytes);
        Received::from_text(&state, caller.client, value).await?
    } else {
        Received::from_body(&state, caller.client, &headers, body).await?
    };
    store(&state, &caller, name, value, &condition).await
}

/// Create or replace a private token (relatedId and key in the body).
#[utoipa::path(post, path = "/v1/private_tokens", tag = "private tokens", request_body = PostPrivateTokenRequest,
    responses((status = 201, body = PrivateTokenView), (status = 200, body = PrivateTokenView), (status = 400, body = ErrorResponse), (status = 403, body = ErrorResponse), (status = 413, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn post_entry(
    State(state): State<AppState>,
    caller: PrivateTokenCaller,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    if !is_json(&headers) {
        return Err(ApiError::BadRequest(
            "the body must be JSON `{\"relatedId\", \"key\", \"value\"}`: set `Content-Type: application/json`".into(),
        ));
    }
    let condition = write_condition(&headers)?;
    let max = state.config.max_private_token_bytes;
    let bytes = read_body(&headers, body, max.saturating_mul(2) + JSON_ROOM, max).await?;
    let request: PostPrivateTokenRequest = parse_json(&bytes)?;
    drop(bytes);
    let name = EntryName::new(&request.related_id, &request.key)?;
    let value = Received::from_text(&state, caller.client, request.value).await?;
    store(&state, &caller, name, value, &condition).await
}

/// Delete a private token.
#[utoipa::path(delete, path = "/v1/private_tokens/{relatedId}/{key}", tag = "private tokens",
    params(("relatedId" = String, Path), ("key" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorResponse), (status = 412, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn delete_entry(
    State(state): State<AppState>,
    caller: PrivateTokenCaller,
    Path((related_id, key)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let name = EntryName::new(&related_id, &key)?;
    let condition = write_condition(&headers)?;
    state
        .storage
        .delete_private_token(caller.client, &name, &condition)
        .await
        .map_err(|e| entry_not_found(e.into()))?;
    Ok(StatusCode::NO_CONTENT)
}

/// Delete every private token of a relatedId.
#[utoipa::path(delete, path = "/v1/private_tokens/{relatedId}", tag = "private tokens",
    params(("relatedId" = String, Path)),
    responses((status = 200, body = DeletedPrivateTokens)),
    security(("bearer" = [])))]
pub async fn delete_related(
    State(state): State<AppState>,
    caller: PrivateTokenCaller,
    Path(related_id): Path<String>,
) -> ApiResult<Json<DeletedPrivateTokens>> {
    tessera_core::model::validate_entry_name("relatedId", &related_id)?;
    let deleted = state
        .storage
        .delete_related_private_tokens(caller.client, &related_id)
        .await?;
    Ok(Json(DeletedPrivateTokens { deleted }))
}

/// List private tokens, filtered and paged.
#[utoipa::path(get, path = "/v1/private_tokens", tag = "private tokens", params(PrivateTokenQuery),
    responses((status = 200, body = PrivateTokenList), (status = 400, body = ErrorResponse), (status = 403, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn list_entries(
    State(state): State<AppState>,
    caller: PrivateTokenCaller,
    Query(q): Query<PrivateTokenQuery>,
) -> ApiResult<Json<PrivateTokenList>> {
    list(&state, caller.client, q).await.map(Json)
}

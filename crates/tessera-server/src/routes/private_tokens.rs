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

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::StreamExt;
use serde::de::DeserializeOwned;
use tessera_core::client_auth::ClientDirectory;
use tessera_core::error::DomainError;
use tessera_core::id::ClientId;
use tessera_core::model::{
    new_etag, next_part_len, next_part_len_of_bytes, open_stored_value, open_value, seal_value,
    EntryFilter, EntryName, PrivateToken, PrivateTokenInfo, ValuePiece, WriteCondition,
    VALUE_PART_BYTES,
};
use tessera_core::page::parse_page_size;

use super::conventions::parse_client_id;
use crate::error::{ApiError, ApiResult};
use crate::extract::{PrivateTokenCaller, TenantAdmin};
use crate::state::AppState;
use crate::wire::*;

const MIB: usize = 1024 * 1024;
/// Room for the JSON around the value: the names and the punctuation.
const JSON_ROOM: usize = 64 * 1024;

fn too_large(max: usize) -> ApiError {
    let size = if max.is_multiple_of(MIB) {
        format!("{} MiB", max / MIB)
    } else {
        format!("{max} bytes")
    };
    ApiError::TooLarge(format!(
        "the value is larger than {size}, the most a private token may hold"
    ))
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        })
}

/// The body in one buffer, sized from `Content-Length` up front so that a large value is
/// copied once (not collected in pieces and joined); refused with 413 past `limit` bytes.
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    max: usize,
) -> Result<Vec<u8>, ApiError> {
    let declared = declared_length(headers);
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(max));
    }
    let mut buffer = Vec::with_capacity(declared.unwrap_or(0));
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|_| ApiError::BadRequest("the request body could not be read".into()))?;
        if buffer.len() + chunk.len() > limit {
            return Err(too_large(max));
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(buffer)
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("the JSON body does not fit: {e}")))
}

/// RFC 9110 §13.1.1. `*`: the entry must exist; one quoted ETag: it must be that version. A
/// weak ETag never matches (strong comparison), so it fails like a stale one.
fn write_condition(headers: &HeaderMap) -> Result<WriteCondition, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(WriteCondition::Always);
    };
    let bad = || {
        DomainError::invalid(
            "If-Match",
            "must be `*` or one ETag in double quotes, as the `ETag` header gave it",
        )
    };
    let value = value.to_str().map_err(|_| bad())?.trim();
    if value == "*" {
        return Ok(WriteCondition::Exists);
    }
    if value.starts_with("W/") {
        return Err(ApiError::PreconditionFailed);
    }
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .filter(|tag| !tag.is_empty() && !tag.contains('"'))
        .map(|tag| WriteCondition::Matches(tag.to_owned()))
        .ok_or_else(|| bad().into())
}

/// The entry as JSON with its `ETag`. The buffer is sized for the value up front: growing it
/// by doubling would copy a large value several times and leave up to twice its size unused.
fn with_etag(status: StatusCode, info: &PrivateTokenInfo, view: PrivateTokenView) -> Response {
    let room = view.value.as_ref().map_or(0, String::len) + 1024;
    let mut body = Vec::with_capacity(room);
    if let Err(e) = serde_json::to_writer(&mut body, &view) {
        return ApiError::Internal(format!("could not write the entry: {e}")).into_response();
    }
    drop(view);
    json_with_etag(status, &info.etag, Body::from(body))
}

fn json_with_etag(status: StatusCode, etag: &str, body: Body) -> Response {
    let mut response = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response();
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{etag}\"")) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

/// The parts of a value being written under the ETag of the entry to come. Unless the entry is
/// written ([`PartUpload::finish`]), its parts are removed when this is dropped: on an error, a
/// refused `If-Match`, or a client that hangs up mid-body (axum drops the handler).
struct PartUpload {
    state: AppState,
    client: ClientId,
    etag: String,
    parts: u32,
    finished: bool,
}

impl PartUpload {
    fn new(state: &AppState, client: ClientId) -> Self {
        PartUpload {
            state: state.clone(),
            client,
            etag: new_etag(&*state.rng),
            parts: 0,
            finished: false,
        }
    }

    async fn push(&mut self, text: String) -> ApiResult<()> {
        let now = self.state.clock.now_millis();
        let sealed = seal_value(
            &self.state.master_key,
            &*self.state.rng,
            self.client,
            &self.etag,
            ValuePiece::Part(self.parts),
            &text,
        );
        drop(text);
        self.state
            .storage
            .put_private_token_part(self.client, &self.etag, self.parts, sealed, now)
            .await?;
        self.parts += 1;
        Ok(())
    }

    fn finish(mut self) {
        self.finished = true;
    }
}

impl Drop for PartUpload {
    fn drop(&mut self) {
        if self.finished || self.parts == 0 {
            return;
        }
        let (storage, client, etag) = (self.state.storage.clone(), self.client, self.etag.clone());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = storage.discard_private_token_parts(client, &etag).await {
                    // The periodic sweep removes them later.
                    tracing::warn!(error = %e, "could not remove the parts of an unfinished write");
                }
            });
        }
    }
}

/// A value as received: whole (up to one part) or already written in parts.
struct Received {
    size: usize,
    inline: String,
    upload: PartUpload,
}

impl Received {
    /// A value held in memory (from JSON): written in parts when it is over one part.
    async fn from_text(state: &AppState, client: ClientId, value: String) -> ApiResult<Self> {
        let max = state.config.max_private_token_bytes;
        if value.len() > max {
            return Err(too_large(max));
        }
        let mut upload = PartUpload::new(state, client);
        if value.len() <= VALUE_PART_BYTES {
            return Ok(Received {
                size: value.len(),
                inline: value,
                upload,
            });
        }
        let mut rest = value.as_str();
        while !rest.is_empty() {
            let (part, tail) = rest.split_at(next_part_len(rest));
            upload.push(part.to_owned()).await?;
            rest = tail;
        }
        Ok(Received {
            size: value.len(),
            inline: String::new(),
            upload,
        })
    }

    /// A raw body, cut into parts as it arrives once it is over one part: the body is never
    /// whole in memory. Refused with 413 past the configured maximum.
    async fn from_body(
        state: &AppState,
        client: ClientId,
        headers: &HeaderMap,
        body: Body,
    ) -> ApiResult<Self> {
        let max = state.config.max_private_token_bytes;
        let declared = declared_length(headers);
        if declared.is_some_and(|n| n > max) {
            return Err(too_large(max));
        }
        let not_utf8 = || {
            ApiError::BadRequest(
                "the value must be UTF-8 text; send binary data encoded, e.g. as base64".into(),
            )
        };
        let mut upload = PartUpload::new(state, client);
        let mut pending =
            Vec::with_capacity(declared.unwrap_or(0).min(VALUE_PART_BYTES + JSON_ROOM));
        let mut size = 0;
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk
                .map_err(|_| ApiError::BadRequest("the request body could not be read".into()))?;
            size += chunk.len();
            if size > max {
                return Err(too_large(max));
            }
            pending.extend_from_slice(&chunk);
            while pending.len() > VALUE_PART_BYTES {
                let cut = next_part_len_of_bytes(&pending).ok_or_else(not_utf8)?;
                let rest = pending.split_off(cut);
                let part = std::mem::replace(&mut pending, rest);
                upload
                    .push(String::from_utf8(part).map_err(|_| not_utf8())?)
                    .await?;
            }
        }
        let last = String::from_utf8(pending).map_err(|_| not_utf8())?;
        if upload.parts == 0 {
            return Ok(Received {
                size,
                inline: last,
                upload,
            });
        }
        upload.push(last).await?;
        Ok(Received {
            size,
            inline: String::new(),
            upload,
        })
    }
}

fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
}

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

/// Read a private token's value.
#[utoipa::path(get, path = "/v1/private_tokens/{relatedId}/{key}", tag = "private tokens",
    params(("relatedId" = String, Path), ("key" = String, Path)),
    responses((status = 200, body = PrivateTokenView), (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn get_entry(
    State(state): State<AppState>,
    caller: PrivateTokenCaller,
    Path((related_id, key)): Path<(String, String)>,
) -> ApiResult<Response> {
    let name = EntryName::new(&related_id, &key)?;
    let found = state
        .storage
        .get_private_token(caller.client, &name)
        .await
        .map_err(|e| entry_not_found(e.into()))?;
    if found.info.in_parts() {
        return Ok(stream_parts(&state, found.info));
    }
    let value = open_stored(&state, &found.info, &found.value)?;
    let view = PrivateTokenView::new(&found.info, Some(value));
    Ok(with_etag(StatusCode::OK, &found.info, view))
}

/// The entry as JSON whose `value` (last) is written a part at a time as the client takes it.
/// The parts are read by the version's ETag: if a write replaces the value meanwhile, the
/// response is cut off (the client sees an incomplete body), never a mix of two versions.
fn stream_parts(state: &AppState, info: PrivateTokenInfo) -> Response {
    let key = state.master_key.clone();
    let sealed = info.sealed;
    let mut head = match serde_json::to_vec(&PrivateTokenView::new(&info, None)) {
        Ok(head) => head,
        Err(e) => {
            return ApiError::Internal(format!("could not write the entry: {e}")).into_response()
        }
    };
    head.pop(); // the closing brace: the value comes last
    head.extend_from_slice(b",\"value\":\"");
    let storage = state.storage.clone();
    let (client, etag, size) = (info.client_id, info.etag.clone(), info.size);
    let parts = futures::stream::try_unfold((0u32, 0u64), move |(n, sent)| {
        let (storage, etag, key) = (storage.clone(), etag.clone(), key.clone());
        async move {
            if sent == size {
                return Ok::<_, std::io::Error>(None);
            }
            let part = storage
                .private_token_part(client, &etag, n)
                .await
                .map_err(|e| std::io::Error::other(e.to_string()))?
                .ok_or_else(|| std::io::Error::other("the value was replaced while it was read"))?;
            let part = if sealed {
                open_value(&key, client, &etag, ValuePiece::Part(n), &part).map_err(|_| {
                    tracing::error!(%client, "a stored value part did not open with the master key");
                    std::io::Error::other("a stored value part did not open")
                })?
            } else {
                part
            };
            let escaped = serde_json::to_string(&part).map_err(std::io::Error::other)?;
            let sent = sent + part.len() as u64;
            let mut chunk = escaped.into_bytes();
            chunk.pop(); // the closing quote
            chunk.remove(0); // the opening quote
            if sent == size {
                chunk.extend_from_slice(b"\"}");
            }
            Ok(Some((Bytes::from(chunk), (n + 1, sent))))
        }
    });
    let body = futures::stream::once(async move { Ok(Bytes::from(head)) }).chain(parts);
    json_with_etag(StatusCode::OK, &info.etag, Body::from_stream(body))
}

/// The text of a value as the store gave it (sealed or, from before sealing, plain).
fn open_stored(state: &AppState, info: &PrivateTokenInfo, stored: &str) -> ApiResult<String> {
    open_stored_value(&state.master_key, info, stored).map_err(|_| {
        ApiError::Internal(format!(
            "a stored value of {} did not open with the master key",
            info.client_id
        ))
    })
}

fn entry_not_found(e: ApiError) -> ApiError {
    match e {
        ApiError::Domain(DomainError::NotFound(_)) => DomainError::NotFound("private token").into(),
        other => other,
    }
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
fn owned(state: &AppState, admin: &TenantAdmin, client_id: &str) -> ApiResult<PrivateTokenCaller> {
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

async fn list(
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

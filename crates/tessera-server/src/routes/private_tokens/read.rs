//! Reading an entry back: whole, or its parts streamed into the response as the client takes them.

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use tessera_core::error::DomainError;
use tessera_core::model::{open_stored_value, open_value, EntryName, PrivateTokenInfo, ValuePiece};

use super::body::*;
use crate::error::{ApiError, ApiResult};
use crate::extract::PrivateTokenCaller;
use crate::state::AppState;
use crate::wire::*;

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
pub(super) fn stream_parts(state: &AppState, info: PrivateTokenInfo) -> Response {
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
pub(super) fn open_stored(
    state: &AppState,
    info: &PrivateTokenInfo,
    stored: &str,
) -> ApiResult<String> {
    open_stored_value(&state.master_key, info, stored).map_err(|_| {
        ApiError::Internal(format!(
            "a stored value of {} did not open with the master key",
            info.client_id
        ))
    })
}

pub(super) fn entry_not_found(e: ApiError) -> ApiError {
    match e {
        ApiError::Domain(DomainError::NotFound(_)) => DomainError::NotFound("private token").into(),
        other => other,
    }
}

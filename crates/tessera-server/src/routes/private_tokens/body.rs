//! Reading a request's body and its `If-Match`, and answering with an entry and its `ETag`.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::de::DeserializeOwned;
use tessera_core::error::DomainError;
use tessera_core::model::{PrivateTokenInfo, WriteCondition};

use crate::error::ApiError;
use crate::wire::*;

pub(super) const MIB: usize = 1024 * 1024;
/// Room for the JSON around the value: the names and the punctuation.
pub(super) const JSON_ROOM: usize = 64 * 1024;

pub(super) fn too_large(max: usize) -> ApiError {
    let size = if max.is_multiple_of(MIB) {
        format!("{} MiB", max / MIB)
    } else {
        format!("{max} bytes")
    };
    ApiError::TooLarge(format!(
        "the value is larger than {size}, the most a private token may hold"
    ))
}

pub(super) fn is_json(headers: &HeaderMap) -> bool {
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
pub(super) async fn read_body(
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

pub(super) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("the JSON body does not fit: {e}")))
}

/// RFC 9110 §13.1.1. `*`: the entry must exist; one quoted ETag: it must be that version. A
/// weak ETag never matches (strong comparison), so it fails like a stale one.
pub(super) fn write_condition(headers: &HeaderMap) -> Result<WriteCondition, ApiError> {
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
pub(super) fn with_etag(
    status: StatusCode,
    info: &PrivateTokenInfo,
    view: PrivateTokenView,
) -> Response {
    let room = view.value.as_ref().map_or(0, String::len) + 1024;
    let mut body = Vec::with_capacity(room);
    if let Err(e) = serde_json::to_writer(&mut body, &view) {
        return ApiError::Internal(format!("could not write the entry: {e}")).into_response();
    }
    drop(view);
    json_with_etag(status, &info.etag, Body::from(body))
}

pub(super) fn json_with_etag(status: StatusCode, etag: &str, body: Body) -> Response {
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

/// The `Content-Length` the client declared, if it is a number.
pub(super) fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
}

//! A stream's status and verification (SSF 1.0 §8.1.2, §8.1.4) and RFC 8936 poll delivery: a
//! poll acknowledges what the receiver took, then answers with what waits — at once, or (long
//! polling) as soon as a SET is queued, here or on another instance.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use tessera_core::error::DomainError;
use tessera_core::model::{SecurityEvent, StreamStatus, MAX_EVENTS_PER_POLL};
use tessera_core::ports::AuditAction;

use super::{audit, own_stream, StreamQuery};
use crate::error::ApiResult;
use crate::extract::{ApiJson, StreamReceiver};
use crate::security_events::send_on;
use crate::state::AppState;

/// The longest a poll that asked to wait is held.
const LONG_POLL: Duration = Duration::from_secs(15);
/// How often a held poll looks at the store for SETs another instance queued.
const LOOK_AGAIN: Duration = Duration::from_millis(200);

fn status_view(stream: &tessera_core::model::EventStream) -> Value {
    json!({
        "stream_id": stream.id.to_string(),
        "status": stream.status.as_str(),
        "reason": stream.status_reason,
    })
}

/// SSF 1.0 §8.1.2.1: a stream's status.
pub async fn read_status(
    State(state): State<AppState>,
    caller: StreamReceiver,
    Query(query): Query<StreamQuery>,
) -> ApiResult<Json<Value>> {
    let stream = own_stream(&state, &caller, query.stream_id.as_deref()).await?;
    Ok(Json(status_view(&stream)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    stream_id: Option<String>,
    status: Option<String>,
    reason: Option<String>,
}

/// SSF 1.0 §8.1.2.2: enable, pause or disable a stream; the stream is told (stream-updated).
pub async fn update_status(
    State(state): State<AppState>,
    caller: StreamReceiver,
    ApiJson(body): ApiJson<StatusBody>,
) -> ApiResult<Json<Value>> {
    let mut stream = own_stream(&state, &caller, body.stream_id.as_deref()).await?;
    let status = body
        .status
        .as_deref()
        .map(str::trim)
        .and_then(StreamStatus::parse)
        .ok_or_else(|| {
            DomainError::invalid("status", "must be `enabled`, `paused` or `disabled`")
        })?;
    let reason = body
        .reason
        .map(|r| r.trim().chars().take(200).collect::<String>());
    stream.status = status;
    stream.status_reason = reason.clone().filter(|r| !r.is_empty());
    stream.updated_at = state.clock.now_millis();
    state.storage.update_stream(&stream).await?;
    audit(&state, &caller, AuditAction::EventStreamUpdated, &stream);
    let told = SecurityEvent::StreamUpdated {
        status,
        reason: stream.status_reason.clone(),
    };
    send_on(
        &state,
        stream.tenant_id,
        std::slice::from_ref(&stream),
        &told,
    )
    .await?;
    Ok(Json(status_view(&stream)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    stream_id: Option<String>,
    state: Option<String>,
}

/// SSF 1.0 §8.1.4.2: the receiver asks for a verification event, which goes out on the stream
/// like any other.
pub async fn verify(
    State(state): State<AppState>,
    caller: StreamReceiver,
    ApiJson(body): ApiJson<VerifyBody>,
) -> ApiResult<StatusCode> {
    let stream = own_stream(&state, &caller, body.stream_id.as_deref()).await?;
    if body.state.as_ref().is_some_and(|s| s.len() > 256) {
        return Err(DomainError::invalid("state", "may be at most 256 characters").into());
    }
    let event = SecurityEvent::Verification { state: body.state };
    send_on(
        &state,
        stream.tenant_id,
        std::slice::from_ref(&stream),
        &event,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// RFC 8936 §2.4's request.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollBody {
    #[serde(default, rename = "maxEvents")]
    max_events: Option<u32>,
    #[serde(default, rename = "returnImmediately")]
    return_immediately: Option<bool>,
    #[serde(default)]
    ack: Vec<String>,
    /// SETs the receiver could not use (RFC 8936 §2.4.4): taken like an acknowledgement, so
    /// they are not sent again.
    #[serde(default, rename = "setErrs")]
    set_errs: BTreeMap<String, Value>,
}

/// RFC 8936 §2.4: acknowledge, then take what waits (`{"sets": {jti: SET}, "moreAvailable"}`).
pub async fn poll(
    State(state): State<AppState>,
    caller: StreamReceiver,
    Path(stream_id): Path<String>,
    ApiJson(body): ApiJson<PollBody>,
) -> ApiResult<Json<Value>> {
    let stream = own_stream(&state, &caller, Some(&stream_id)).await?;
    if stream.delivery != tessera_core::model::Delivery::Poll {
        return Err(
            DomainError::Conflict("the stream is delivered by push, not by poll".into()).into(),
        );
    }
    let max = body
        .max_events
        .unwrap_or(MAX_EVENTS_PER_POLL)
        .min(MAX_EVENTS_PER_POLL);
    let mut taken: Vec<String> = body.ack;
    taken.extend(body.set_errs.into_keys());
    let deadline = tokio::time::Instant::now() + LONG_POLL;
    loop {
        // Registered before the read, so a SET queued between the read and the wait wakes it.
        let woken = state.security_events_due.notified();
        let (sets, more) = state.storage.poll_sets(stream.id, &taken, max).await?;
        taken.clear();
        let waiting = stream.status != StreamStatus::Enabled || sets.is_empty();
        if !waiting
            || max == 0
            || body.return_immediately.unwrap_or(false)
            || tokio::time::Instant::now() >= deadline
        {
            let sets: serde_json::Map<String, Value> = if stream.status == StreamStatus::Enabled {
                sets.into_iter()
                    .map(|s| (s.jti, Value::String(s.set)))
                    .collect()
            } else {
                serde_json::Map::new()
            };
            return Ok(Json(
                json!({"sets": sets, "moreAvailable": more && stream.status == StreamStatus::Enabled}),
            ));
        }
        tokio::select! {
            _ = woken => {}
            _ = tokio::time::sleep(LOOK_AGAIN) => {}
        }
    }
}

//! A receiver's streams (SSF 1.0 §8.1.1): create, read, update (the fields named), replace
//! (the rest cleared) and delete. The push `Authorization` header is sealed before it is stored.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;
use tessera_core::error::DomainError;
use tessera_core::id::StreamId;
use tessera_core::model::{
    Delivery, DeliveryRequest, EventStream, StreamRequest, StreamStatus, MAX_STREAMS_PER_RECEIVER,
};
use tessera_core::ports::AuditAction;

use super::{audit, own_stream, stream_view, StreamQuery};
use crate::error::ApiResult;
use crate::extract::{ApiJson, StreamReceiver};
use crate::routes::conventions::not_found;
use crate::security_events::seal_authorization;
use crate::state::AppState;

/// The body of a create, a replace (with `stream_id`) or an update.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamBody {
    #[serde(default)]
    stream_id: Option<String>,
    #[serde(default)]
    delivery: Option<DeliveryBody>,
    #[serde(default)]
    events_requested: Option<Vec<String>>,
    #[serde(default)]
    description: Option<String>,
    // Transmitter-supplied fields a receiver may send back as it read them; ignored.
    #[serde(default, rename = "iss")]
    _iss: Option<Value>,
    #[serde(default, rename = "aud")]
    _aud: Option<Value>,
    #[serde(default, rename = "events_supported")]
    _events_supported: Option<Value>,
    #[serde(default, rename = "events_delivered")]
    _events_delivered: Option<Value>,
    #[serde(default, rename = "min_verification_interval")]
    _min_verification_interval: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliveryBody {
    method: Option<String>,
    endpoint_url: Option<String>,
    authorization_header: Option<String>,
}

impl StreamBody {
    fn request(self) -> StreamRequest {
        let delivery = self.delivery.unwrap_or_default();
        StreamRequest {
            method: delivery.method,
            endpoint_url: delivery.endpoint_url,
            authorization_header: delivery.authorization_header,
            events_requested: self.events_requested,
            description: self.description,
        }
    }
}

/// Applies a request's fields to `stream` (a replace gives every field; an update some).
fn apply(state: &AppState, stream: &mut EventStream, request: &StreamRequest) -> ApiResult<()> {
    if request.method.is_some()
        || request.endpoint_url.is_some()
        || request.authorization_header.is_some()
    {
        stream.delivery = match request.delivery(state.config.url_rules)? {
            DeliveryRequest::Push(endpoint_url, header) => Delivery::Push {
                endpoint_url,
                sealed_authorization: header.map(|h| seal_authorization(state, stream.id, &h)),
            },
            DeliveryRequest::Poll => Delivery::Poll,
        };
    }
    if let Some(events) = request.events()? {
        stream.events_requested = events;
    }
    if request.description.is_some() {
        stream.description = request.description()?;
    }
    stream.updated_at = state.clock.now_millis();
    Ok(())
}

/// SSF 1.0 §8.1.1.1: create a stream.
pub async fn create_stream(
    State(state): State<AppState>,
    caller: StreamReceiver,
    ApiJson(body): ApiJson<StreamBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if body.stream_id.is_some() {
        return Err(DomainError::invalid(
            "stream_id",
            "is Tessera's to give: leave it out when creating a stream",
        )
        .into());
    }
    let request = body.request();
    let owned = state.storage.streams_of(caller.tenant).await?;
    if owned
        .iter()
        .filter(|s| s.receiver == caller.receiver)
        .count()
        >= MAX_STREAMS_PER_RECEIVER
    {
        return Err(DomainError::Conflict(format!(
            "a receiver may have at most {MAX_STREAMS_PER_RECEIVER} streams: delete one first"
        ))
        .into());
    }
    let now = state.clock.now_millis();
    let mut stream = EventStream {
        id: StreamId::generate(&*state.rng),
        tenant_id: caller.tenant,
        receiver: caller.receiver,
        delivery: Delivery::Poll,
        events_requested: Vec::new(),
        description: None,
        status: StreamStatus::Enabled,
        status_reason: None,
        created_at: now,
        updated_at: now,
    };
    // A delivery must be named: `apply` only changes what a request names.
    request.delivery(state.config.url_rules)?;
    apply(&state, &mut stream, &request)?;
    state.storage.create_stream(&stream).await?;
    audit(&state, &caller, AuditAction::EventStreamCreated, &stream);
    Ok((StatusCode::CREATED, Json(stream_view(&state, &stream))))
}

/// SSF 1.0 §8.1.1.2: one stream (`?stream_id=`), or all of the caller's.
pub async fn read_streams(
    State(state): State<AppState>,
    caller: StreamReceiver,
    Query(query): Query<StreamQuery>,
) -> ApiResult<Json<Value>> {
    if query.stream_id.is_some() {
        let stream = own_stream(&state, &caller, query.stream_id.as_deref()).await?;
        return Ok(Json(stream_view(&state, &stream)));
    }
    let streams = state.storage.streams_of(caller.tenant).await?;
    let mine: Vec<Value> = streams
        .iter()
        .filter(|s| s.receiver == caller.receiver)
        .map(|s| stream_view(&state, s))
        .collect();
    Ok(Json(Value::Array(mine)))
}

/// SSF 1.0 §8.1.1.3: change the fields named.
pub async fn update_stream(
    State(state): State<AppState>,
    caller: StreamReceiver,
    ApiJson(body): ApiJson<StreamBody>,
) -> ApiResult<Json<Value>> {
    let mut stream = own_stream(&state, &caller, body.stream_id.as_deref()).await?;
    apply(&state, &mut stream, &body.request())?;
    stored(&state, &caller, &stream).await
}

/// SSF 1.0 §8.1.1.4: replace the receiver-supplied fields.
pub async fn replace_stream(
    State(state): State<AppState>,
    caller: StreamReceiver,
    ApiJson(body): ApiJson<StreamBody>,
) -> ApiResult<Json<Value>> {
    let mut stream = own_stream(&state, &caller, body.stream_id.as_deref()).await?;
    // What a replace leaves out is cleared, not kept.
    let mut request = body.request();
    request.events_requested.get_or_insert_with(Vec::new);
    request.description.get_or_insert_with(String::new);
    request.delivery(state.config.url_rules)?;
    apply(&state, &mut stream, &request)?;
    stored(&state, &caller, &stream).await
}

async fn stored(
    state: &AppState,
    caller: &StreamReceiver,
    stream: &EventStream,
) -> ApiResult<Json<Value>> {
    state
        .storage
        .update_stream(stream)
        .await
        .map_err(not_found("stream"))?;
    audit(state, caller, AuditAction::EventStreamUpdated, stream);
    Ok(Json(stream_view(state, stream)))
}

/// SSF 1.0 §8.1.1.5: delete a stream and what its outbox holds.
pub async fn delete_stream(
    State(state): State<AppState>,
    caller: StreamReceiver,
    Query(query): Query<StreamQuery>,
) -> ApiResult<StatusCode> {
    let stream = own_stream(&state, &caller, query.stream_id.as_deref()).await?;
    state
        .storage
        .delete_stream(caller.tenant, stream.id)
        .await
        .map_err(not_found("stream"))?;
    audit(&state, &caller, AuditAction::EventStreamDeleted, &stream);
    Ok(StatusCode::NO_CONTENT)
}

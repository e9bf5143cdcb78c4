//! Shared Signals (SPEC §16, OpenID SSF 1.0): the transmitter's configuration and the streams a
//! resource server manages with its own token (`security_events`). A receiver sees and changes
//! only its own streams; the SETs it is sent are `security_events::signal`'s, delivered by the
//! push worker or by `delivery::poll`.

pub mod delivery;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use tessera_core::error::DomainError;
use tessera_core::id::StreamId;
use tessera_core::model::{
    Delivery, DeliveryRequest, EventStream, StreamRequest, StreamStatus, MAX_STREAMS_PER_RECEIVER,
    POLL_DELIVERY, PUSH_DELIVERY,
};
use tessera_core::ports::{AuditAction, AuditRecord};
use tessera_core::token::event_type;

use crate::error::ApiResult;
use crate::extract::{ApiJson, StreamReceiver};
use crate::security_events::seal_authorization;
use crate::state::AppState;

/// SSF 1.0 §7.1: the transmitter's metadata.
pub async fn configuration(State(state): State<AppState>) -> Json<Value> {
    let issuer = &state.config.issuer;
    Json(json!({
        "spec_version": "1_0",
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/oauth2/jwks"),
        "delivery_methods_supported": [PUSH_DELIVERY, POLL_DELIVERY],
        "configuration_endpoint": format!("{issuer}/ssf/streams"),
        "status_endpoint": format!("{issuer}/ssf/status"),
        "verification_endpoint": format!("{issuer}/ssf/verify"),
        "authorization_schemes": [{"spec_urn": "urn:ietf:rfc:6749"}],
        "default_subjects": "ALL",
        "events_supported": event_type::ALL,
    }))
}

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

/// `?stream_id=` of a read or a delete.
#[derive(Debug, Deserialize)]
pub struct StreamQuery {
    pub(crate) stream_id: Option<String>,
}

/// A stream as SSF 1.0 §8.1.1 shows it; the push `Authorization` header is never shown again.
pub fn stream_view(state: &AppState, stream: &EventStream) -> Value {
    let issuer = &state.config.issuer;
    let endpoint = match &stream.delivery {
        Delivery::Push { endpoint_url, .. } => endpoint_url.clone(),
        Delivery::Poll => format!("{issuer}/ssf/poll/{}", stream.id),
    };
    json!({
        "stream_id": stream.id.to_string(),
        "iss": issuer,
        "aud": stream.receiver.to_string(),
        "delivery": {"method": stream.delivery.method(), "endpoint_url": endpoint},
        "events_supported": event_type::ALL,
        "events_requested": stream.events_requested,
        "events_delivered": stream.events_delivered(),
        "description": stream.description,
        "min_verification_interval": 0,
    })
}

/// The caller's stream named by `raw`, or 404 as for any stream of another receiver.
pub async fn own_stream(
    state: &AppState,
    caller: &StreamReceiver,
    raw: Option<&str>,
) -> ApiResult<EventStream> {
    let raw = raw.ok_or_else(|| DomainError::invalid("stream_id", "is required"))?;
    let id: StreamId = raw
        .trim()
        .parse()
        .map_err(|_| DomainError::NotFound("stream"))?;
    let stream = state
        .storage
        .get_stream(caller.tenant, id)
        .await
        .map_err(super::conventions::not_found("stream"))?;
    if stream.receiver != caller.receiver {
        return Err(DomainError::NotFound("stream").into());
    }
    Ok(stream)
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

pub(crate) fn audit(
    state: &AppState,
    caller: &StreamReceiver,
    action: AuditAction,
    stream: &EventStream,
) {
    state.audit(AuditRecord {
        tenant_id: caller.tenant,
        at: state.clock.now_millis(),
        actor: format!("client:{}", caller.receiver),
        action: action.into(),
        target: stream.id.to_string(),
        detail: json!({"delivery": stream.delivery.method(), "status": stream.status.as_str()})
            .to_string(),
    });
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
        .map_err(super::conventions::not_found("stream"))?;
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
        .map_err(super::conventions::not_found("stream"))?;
    audit(&state, &caller, AuditAction::EventStreamDeleted, &stream);
    Ok(StatusCode::NO_CONTENT)
}

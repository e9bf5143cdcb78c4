//! Shared Signals (SPEC §16, OpenID SSF 1.0): the transmitter's configuration and the streams a
//! resource server manages with its own token (`security_events`). A receiver sees and changes
//! only its own streams; the SETs it is sent are `security_events::signal`'s, delivered by the
//! push worker or by `delivery::poll`.

pub mod delivery;
pub mod streams;

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use tessera_core::error::DomainError;
use tessera_core::id::StreamId;
use tessera_core::model::{rfc3339, Delivery, EventStream, POLL_DELIVERY, PUSH_DELIVERY};
use tessera_core::ports::{AuditAction, AuditRecord};
use tessera_core::token::event_type;

use crate::error::ApiResult;
use crate::extract::{StreamReceiver, TenantAdmin};
use crate::state::AppState;
use crate::wire::{ErrorResponse, EventStreamList, EventStreamView};

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

/// The tenant's Shared Signals streams, whoever receives them, with their delivery state.
#[utoipa::path(get, path = "/v1/event_streams", tag = "resource servers",
    responses((status = 200, body = EventStreamList), (status = 403, body = ErrorResponse)))]
pub async fn list_event_streams(
    State(state): State<AppState>,
    admin: TenantAdmin,
) -> ApiResult<Json<EventStreamList>> {
    let mut event_streams = Vec::new();
    for stream in state.storage.streams_of(admin.tenant).await? {
        let backlog = state.storage.stream_backlog(stream.id).await?;
        let view = stream_view(&state, &stream);
        let receiver_name =
            tessera_core::client_auth::ClientDirectory::client(&state.clients, &stream.receiver)
                .map(|c| c.integration.display_name.clone());
        event_streams.push(EventStreamView {
            stream_id: stream.id.to_string(),
            receiver: stream.receiver.to_string(),
            receiver_name,
            delivery_method: stream.delivery.method(),
            endpoint_url: view["delivery"]["endpoint_url"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            status: stream.status.as_str(),
            status_reason: stream.status_reason.clone(),
            events_delivered: stream.events_delivered(),
            pending: backlog.pending,
            oldest_pending_at: backlog.oldest_at.map(rfc3339),
            delivered: backlog.delivered,
            failed: backlog.failed,
            last_error: backlog.last_error,
            created_at: rfc3339(stream.created_at),
        });
    }
    Ok(Json(EventStreamList { event_streams }))
}

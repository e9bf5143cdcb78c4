//! An asset's events, and the change the webhook outbox hears of (SPEC §6).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use tessera_core::id::EventId;
use tessera_core::model::{AssetEvent, DataChange};
use tessera_core::page::next_page_token;
use tessera_core::scope::Scope;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ResourceCaller};
use crate::state::AppState;
use crate::wire::*;

use super::*;

/// A change for the webhook outbox (SPEC §6): connections hear of it with their own scopes, so
/// the data carries everything (a connection's tokens see all of the tenant's data within its
/// scopes, not what access policies show the caller).
pub(super) fn data_change(
    state: &AppState,
    kind: &'static str,
    needs: Scope,
    data: &impl serde::Serialize,
) -> Option<DataChange> {
    let payload = serde_json::to_string(data).ok()?;
    Some(DataChange {
        kind,
        needs,
        payload,
        at: state.clock.now_millis(),
    })
}

/// List an asset's events.
#[utoipa::path(get, path = "/v2/assets/{uuid}/events", tag = "assets", params(PageQuery),
    responses((status = 200, body = EventList), (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn list_events(
    State(state): State<AppState>,
    caller: ResourceCaller,
    Path(id): Path<String>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> ApiResult<Json<EventList>> {
    caller.require(Scope::EventsRead)?;
    let (page, filter) = list_query(query)?;
    if !filter.0.is_empty() {
        return Err(ApiError::BadRequest(
            "events take no attribute filters: use page_size and page_token".into(),
        ));
    }
    let access = caller.access(&state).await?;
    let (asset, granted) = visible_asset(&state, &caller, &access, &id).await?;
    if !granted.events {
        // Like assets: what is not shared is an empty list, not an error.
        return Ok(Json(EventList {
            events: Vec::new(),
            next_page_token: String::new(),
        }));
    }
    let found = state
        .storage
        .list_events(caller.tenant, asset.id, page)
        .await?;
    Ok(Json(EventList {
        events: found.items.iter().map(EventView::from).collect(),
        next_page_token: next_page_token(found.next_after),
    }))
}

/// Record an event on an asset.
#[utoipa::path(post, path = "/v2/assets/{uuid}/events", tag = "assets", request_body = AppendEventRequest,
    responses((status = 201, body = EventView), (status = 400, body = ErrorResponse), (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn append_event(
    State(state): State<AppState>,
    caller: ResourceCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AppendEventRequest>,
) -> ApiResult<(StatusCode, Json<EventView>)> {
    caller.require(Scope::EventsWrite)?;
    let access = caller.access(&state).await?;
    let (asset, granted) = visible_asset(&state, &caller, &access, &id).await?;
    check_write(Some(&granted), asset.asset_type(), std::iter::empty())?;
    let event = AssetEvent::new(
        EventId::generate(&*state.rng),
        &asset,
        body.operation,
        body.event_attributes,
        caller.actor.clone(),
        state.clock.now_millis(),
    )?;
    let hook = data_change(
        &state,
        "event.created",
        Scope::EventsRead,
        &EventView::from(&event),
    );
    let event = state
        .storage
        .append_event(&event, hook.as_ref())
        .await
        .map_err(|e| not_found(e.into()))?;
    state.webhooks_due.notify_one();
    Ok((StatusCode::CREATED, Json(EventView::from(&event))))
}

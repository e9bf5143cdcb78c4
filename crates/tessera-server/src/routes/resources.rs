//! The resource API (SPEC §5): assets and their events. Every request needs a token for this
//! audience with the right scope, and sees only what the tenant's access policies grant: assets
//! of permitted types, permitted attributes, events only with event visibility. An asset the
//! caller may not see answers 404, exactly like one that does not exist.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use tessera_core::error::DomainError;
use tessera_core::id::{AssetId, EventId};
use tessera_core::model::{asset_type_of, Asset, AssetEvent, AttributeFilter, DataChange};
use tessera_core::page::{next_page_token, PageRequest};
use tessera_core::policy::{Access, ActorAccess, VisibleTypes};
use tessera_core::scope::Scope;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ResourceCaller};
use crate::state::AppState;
use crate::wire::*;

/// How many stored assets one list request looks at, at most, to fill a page; past it the page
/// ends early with a token to continue. Keeps time and memory per request bounded however much
/// of the tenant the caller's policies hide.
const SCAN_LIMIT: usize = 5_000;

fn asset_id(raw: &str) -> Result<AssetId, ApiError> {
    uuid::Uuid::try_parse(raw)
        .map(AssetId::from_uuid)
        .map_err(|_| DomainError::NotFound("asset").into())
}

fn not_found(e: ApiError) -> ApiError {
    super::conventions::not_found("asset")(e)
}

/// The asset if the caller may see it, with what it may do to it; 404 otherwise.
async fn visible_asset(
    state: &AppState,
    caller: &ResourceCaller,
    access: &ActorAccess,
    raw_id: &str,
) -> ApiResult<(Asset, Access)> {
    let id = asset_id(raw_id)?;
    let asset = state
        .storage
        .get_asset(caller.tenant, id)
        .await
        .map_err(|e| not_found(e.into()))?;
    let granted = access
        .for_type(asset.asset_type())
        .cloned()
        .ok_or(DomainError::NotFound("asset"))?;
    Ok((asset, granted))
}

/// 403 unless `access` lets the caller write, and every attribute named is one it may touch.
fn check_write<'a>(
    access: Option<&Access>,
    asset_type: &str,
    names: impl Iterator<Item = &'a String>,
) -> ApiResult<()> {
    let access = match access {
        Some(a) if a.can_write() => a,
        _ => {
            return Err(ApiError::Forbidden(format!(
                "no access policy lets this caller write assets of type `{asset_type}`"
            )))
        }
    };
    if let Some(name) = access.first_unwritable(names) {
        return Err(ApiError::Forbidden(format!(
            "no access policy lets this caller write the attribute `{name}` of `{asset_type}` assets"
        )));
    }
    Ok(())
}

/// `page_size`, `page_token` and `attributes.<name>=<value>` of a list request.
fn list_query(
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> ApiResult<(PageRequest, AttributeFilter)> {
    let Query(pairs) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let (mut size, mut token, mut filter) = (None, None, Vec::new());
    for (name, value) in pairs {
        match name.as_str() {
            "page_size" if size.is_none() => size = Some(value),
            "page_token" if token.is_none() => token = Some(value),
            "page_size" | "page_token" => {
                return Err(ApiError::BadRequest(format!("`{name}` is given twice")))
            }
            _ => match name.strip_prefix("attributes.") {
                Some(attr) if !attr.is_empty() => filter.push((attr.to_owned(), value)),
                _ => {
                    return Err(ApiError::BadRequest(format!(
                        "unknown query parameter `{}`: use page_size, page_token or attributes.<name>=<value>",
                        name.chars().take(64).collect::<String>()
                    )))
                }
            },
        }
    }
    let page = PageRequest::parse(size.as_deref(), token.as_deref())?;
    Ok((page, AttributeFilter(filter)))
}

/// List the assets the caller may see.
#[utoipa::path(get, path = "/v2/assets", tag = "assets", params(PageQuery),
    responses((status = 200, body = AssetList), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn list_assets(
    State(state): State<AppState>,
    caller: ResourceCaller,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> ApiResult<Json<AssetList>> {
    caller.require(Scope::AssetsRead)?;
    let (page, filter) = list_query(query)?;
    let access = caller.access(&state).await?;
    let types = match access.visible_types() {
        // Secure by default: nothing shared is an empty list, not an error.
        None => {
            return Ok(Json(AssetList {
                assets: Vec::new(),
                next_page_token: String::new(),
            }))
        }
        Some(VisibleTypes::All) => None,
        Some(VisibleTypes::Only(types)) => Some(types),
    };
    let mut assets = Vec::new();
    let mut cursor = page.after;
    let mut scanned = 0;
    loop {
        let batch = state
            .storage
            .list_assets(
                caller.tenant,
                types.as_deref(),
                PageRequest {
                    after: cursor,
                    size: page.size,
                },
            )
            .await?;
        let more_stored = batch.next_after.is_some();
        let count = batch.items.len();
        for (i, asset) in batch.items.into_iter().enumerate() {
            cursor = asset.seq;
            scanned += 1;
            let Some(granted) = access.for_type(asset.asset_type()) else {
                continue;
            };
            let visible = granted.project(&asset.attributes);
            // Filters see only what the caller may read, so they cannot probe hidden values.
            if filter.matches(&visible) {
                assets.push(AssetView::new(&asset, visible));
            }
            if assets.len() == page.size as usize {
                let more = i + 1 < count || more_stored;
                return Ok(Json(AssetList {
                    assets,
                    next_page_token: next_page_token(more.then_some(cursor)),
                }));
            }
        }
        if !more_stored {
            return Ok(Json(AssetList {
                assets,
                next_page_token: String::new(),
            }));
        }
        if scanned >= SCAN_LIMIT {
            return Ok(Json(AssetList {
                assets,
                next_page_token: next_page_token(Some(cursor)),
            }));
        }
    }
}

/// A change for the webhook outbox (SPEC §6): connections hear of it with their own scopes, so
/// the data carries everything (a connection's tokens see all of the tenant's data within its
/// scopes, not what access policies show the caller).
fn data_change(
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

fn asset_data(asset: &Asset) -> AssetView {
    AssetView::new(asset, asset.attributes.clone())
}

/// Create an asset.
#[utoipa::path(post, path = "/v2/assets", tag = "assets", request_body = CreateAssetRequest,
    responses((status = 201, body = AssetView), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn create_asset(
    State(state): State<AppState>,
    caller: ResourceCaller,
    ApiJson(body): ApiJson<CreateAssetRequest>,
) -> ApiResult<(StatusCode, Json<AssetView>)> {
    caller.require(Scope::AssetsWrite)?;
    let access = caller.access(&state).await?;
    let asset_type = asset_type_of(&body.attributes).to_owned();
    let granted = access.for_type(&asset_type);
    check_write(granted, &asset_type, body.attributes.keys())?;
    let asset = Asset::new(
        AssetId::generate(&*state.rng),
        caller.tenant,
        body.attributes,
        state.clock.now_millis(),
    )?;
    let hook = data_change(
        &state,
        "asset.created",
        Scope::AssetsRead,
        &asset_data(&asset),
    );
    let asset = state.storage.create_asset(&asset, hook.as_ref()).await?;
    state.webhooks_due.notify_one();
    let visible = granted
        .map(|g| g.project(&asset.attributes))
        .unwrap_or_default();
    Ok((StatusCode::CREATED, Json(AssetView::new(&asset, visible))))
}

/// Read an asset.
#[utoipa::path(get, path = "/v2/assets/{uuid}", tag = "assets",
    responses((status = 200, body = AssetView), (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn get_asset(
    State(state): State<AppState>,
    caller: ResourceCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<AssetView>> {
    caller.require(Scope::AssetsRead)?;
    let access = caller.access(&state).await?;
    let (asset, granted) = visible_asset(&state, &caller, &access, &id).await?;
    Ok(Json(AssetView::new(
        &asset,
        granted.project(&asset.attributes),
    )))
}

/// Change an asset's attributes.
#[utoipa::path(patch, path = "/v2/assets/{uuid}", tag = "assets", request_body = PatchAssetRequest,
    responses((status = 200, body = AssetView), (status = 400, body = ErrorResponse), (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn patch_asset(
    State(state): State<AppState>,
    caller: ResourceCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PatchAssetRequest>,
) -> ApiResult<Json<AssetView>> {
    caller.require(Scope::AssetsWrite)?;
    let access = caller.access(&state).await?;
    let (asset, granted) = visible_asset(&state, &caller, &access, &id).await?;
    check_write(Some(&granted), asset.asset_type(), body.attributes.keys())?;
    let patched = asset.patched(&body.attributes, state.clock.now_millis())?;
    // A change of type must land in a type the caller may also write.
    let new_access = access.for_type(patched.asset_type());
    if patched.asset_type() != asset.asset_type() {
        check_write(new_access, patched.asset_type(), body.attributes.keys())?;
    }
    state
        .storage
        .update_asset(
            &patched,
            asset.updated_at,
            data_change(
                &state,
                "asset.updated",
                Scope::AssetsRead,
                &asset_data(&patched),
            )
            .as_ref(),
        )
        .await
        .map_err(|e| not_found(e.into()))?;
    state.webhooks_due.notify_one();
    let visible = new_access
        .map(|g| g.project(&patched.attributes))
        .unwrap_or_default();
    Ok(Json(AssetView::new(&patched, visible)))
}

/// Delete an asset.
#[utoipa::path(delete, path = "/v2/assets/{uuid}", tag = "assets",
    responses((status = 204), (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn delete_asset(
    State(state): State<AppState>,
    caller: ResourceCaller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Scope::AssetsWrite)?;
    let access = caller.access(&state).await?;
    let (asset, granted) = visible_asset(&state, &caller, &access, &id).await?;
    check_write(Some(&granted), asset.asset_type(), std::iter::empty())?;
    state
        .storage
        .delete_asset(
            caller.tenant,
            asset.id,
            data_change(
                &state,
                "asset.deleted",
                Scope::AssetsRead,
                &serde_json::json!({"identity": asset.id.to_string()}),
            )
            .as_ref(),
        )
        .await
        .map_err(|e| not_found(e.into()))?;
    state.webhooks_due.notify_one();
    Ok(StatusCode::NO_CONTENT)
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

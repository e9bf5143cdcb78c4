//! The resource API (SPEC §5): assets and their events. Every request needs a token for this
//! audience with the right scope, and sees only what the tenant's access policies grant: assets
//! of permitted types, permitted attributes, events only with event visibility. An asset the
//! caller may not see answers 404, exactly like one that does not exist.

mod access;
mod events;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use tessera_core::id::AssetId;
use tessera_core::model::{asset_type_of, Asset};
use tessera_core::page::{next_page_token, PageRequest};
use tessera_core::policy::VisibleTypes;
use tessera_core::scope::Scope;

use crate::error::ApiResult;
use crate::extract::{ApiJson, ResourceCaller};
use crate::state::AppState;
use crate::wire::*;
use access::{check_write, list_query, not_found, visible_asset, SCAN_LIMIT};
pub use events::*;

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

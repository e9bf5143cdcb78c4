//! What a resource request may see and do: the asset it names, what it may write, the list query.

use axum::extract::rejection::QueryRejection;
use axum::extract::Query;
use tessera_core::error::DomainError;
use tessera_core::id::AssetId;
use tessera_core::model::{Asset, AttributeFilter};
use tessera_core::page::PageRequest;
use tessera_core::policy::{Access, ActorAccess};

use crate::error::{ApiError, ApiResult};
use crate::extract::ResourceCaller;
use crate::state::AppState;

/// How many stored assets one list request looks at, at most, to fill a page; past it the page
/// ends early with a token to continue. Keeps time and memory per request bounded however much
/// of the tenant the caller's policies hide.
pub(super) const SCAN_LIMIT: usize = 5_000;

pub(super) fn asset_id(raw: &str) -> Result<AssetId, ApiError> {
    uuid::Uuid::try_parse(raw)
        .map(AssetId::from_uuid)
        .map_err(|_| DomainError::NotFound("asset").into())
}

pub(super) fn not_found(e: ApiError) -> ApiError {
    crate::routes::conventions::not_found("asset")(e)
}

/// The asset if the caller may see it, with what it may do to it; 404 otherwise.
pub(super) async fn visible_asset(
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
pub(super) fn check_write<'a>(
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
pub(super) fn list_query(
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

//! The tenant's audit log (SPEC §4), newest first, filtered by actor, action and time.

use axum::extract::{Query, State};
use axum::Json;
use tessera_core::error::DomainError;
use tessera_core::page::next_page_token;
use tessera_core::ports::AuditFilter;

use super::conventions::page;
use crate::error::ApiResult;
use crate::extract::TenantAdmin;
use crate::state::AppState;
use crate::wire::*;

/// Read the tenant's audit log, newest first, filtered.
#[utoipa::path(get, path = "/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = AuditList, description = "Newest first"), (status = 400, body = ErrorResponse)))]
pub async fn list_audit(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<AuditList>> {
    let time = |field: &'static str, value: &Option<String>| -> ApiResult<Option<i64>> {
        match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => {
                time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
                    .map(|t| Some((t.unix_timestamp_nanos() / 1_000_000) as i64))
                    .map_err(|_| {
                        DomainError::invalid(
                            field,
                            format!("is `{v}`; give an RFC 3339 time such as 2026-11-29T10:00:00Z"),
                        )
                        .into()
                    })
            }
        }
    };
    let filter = AuditFilter {
        actor: q.actor.clone().filter(|a| !a.trim().is_empty()),
        action: q.action.clone().filter(|a| !a.trim().is_empty()),
        since: time("since", &q.since)?,
        until: time("until", &q.until)?,
    };
    let paging = PageQuery {
        page_size: q.page_size,
        page_token: q.page_token,
    };
    let found = state
        .storage
        .list_audit(admin.tenant, &filter, page(&paging)?)
        .await?;
    Ok(Json(AuditList {
        entries: found.items.iter().map(AuditView::from).collect(),
        next_page_token: next_page_token(found.next_after),
    }))
}

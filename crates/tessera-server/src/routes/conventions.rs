//! The admin API's conventions, which every route module follows: paging, ids from paths, one "not
//! found" per kind, and the audit record of a tenant admin's change.

use tessera_core::error::DomainError;
use tessera_core::id::ClientId;
use tessera_core::page::PageRequest;
use tessera_core::ports::{AuditAction, AuditRecord};

use crate::error::ApiError;
use crate::extract::TenantAdmin;
use crate::state::AppState;
use crate::wire::PageQuery;

pub(crate) fn page(q: &PageQuery) -> Result<PageRequest, DomainError> {
    PageRequest::parse(q.page_size.as_deref(), q.page_token.as_deref())
}

pub(crate) fn parse_client_id(raw: &str) -> Result<ClientId, ApiError> {
    // An id that cannot exist is simply not found, as in any other tenant.
    raw.parse()
        .map_err(|_| DomainError::NotFound("integration").into())
}

/// The caller's integration named by the path's `raw` id: 404 for any other (or another
/// tenant's), as if it did not exist.
pub(crate) async fn own_integration(
    state: &crate::state::AppState,
    tenant: tessera_core::id::TenantId,
    raw: &str,
) -> Result<ClientId, ApiError> {
    let client_id = parse_client_id(raw)?;
    state
        .storage
        .get_integration(tenant, client_id)
        .await
        .map_err(|e| not_found("integration")(e.into()))?;
    Ok(client_id)
}

pub(crate) fn not_found(what: &'static str) -> impl Fn(ApiError) -> ApiError {
    move |e| match e {
        ApiError::Domain(DomainError::NotFound(_)) => DomainError::NotFound(what).into(),
        other => other,
    }
}

impl TenantAdmin {
    pub(crate) fn audit(
        &self,
        state: &AppState,
        action: AuditAction,
        target: String,
        detail: serde_json::Value,
    ) {
        state.audit(AuditRecord {
            tenant_id: self.tenant,
            at: state.clock.now_millis(),
            actor: self.actor.clone(),
            action: action.into(),
            target,
            detail: detail.to_string(),
        });
    }
}

//! The admin API's conventions, which every route module follows: paging, ids from paths, one "not
//! found" per kind, and the audit record of a tenant admin's change.

use tessera_core::crypto::MIN_PASSWORD_CHARS;
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
        .map_err(not_found("integration"))?;
    Ok(client_id)
}

pub(crate) fn not_found<E: Into<ApiError>>(what: &'static str) -> impl Fn(E) -> ApiError {
    move |e| match e.into() {
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

/// Which kind of admin a change would take away.
pub(crate) enum Kept {
    User,
    Integration,
}

/// SPEC §11: a tenant keeps at least one admin user and one integration holding `admin` (of
/// each kind it has): the last one cannot be deleted or demoted, so nobody locks a tenant out
/// of its own management by mistake.
pub(crate) async fn keeps_an_admin(
    state: &AppState,
    tenant: tessera_core::id::TenantId,
    kind: Kept,
    change: &str,
) -> Result<(), ApiError> {
    let counts = state.storage.admin_counts(tenant).await?;
    let (left, what, instead) = match kind {
        Kept::User => (
            counts.users,
            "admin user",
            "make another user an admin first",
        ),
        Kept::Integration => (
            counts.integrations,
            "integration holding `admin`",
            "give another integration `admin` first",
        ),
    };
    if left <= 1 {
        return Err(DomainError::Conflict(format!(
            "the tenant's last {what} cannot be {change}: {instead}"
        ))
        .into());
    }
    Ok(())
}

/// The argon2id hash of a password long enough, off the async workers (argon2 is deliberately
/// slow).
pub(crate) async fn checked_password_hash(
    state: &AppState,
    password: String,
) -> Result<String, ApiError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(DomainError::invalid(
            "password",
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        )
        .into());
    }
    state.hash_password(password).await
}

//! Tenants (SPEC §4.1): the operator's `/v1/tenants`, with a `platform` token. Each change is
//! audited in the operator tenant and in the tenant concerned, and published so that every
//! instance honours it within a second.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::json;
use tessera_core::error::DomainError;
use tessera_core::id::{TenantId, UserId};
use tessera_core::model::{
    validate_email, LinkPurpose, Role, Tenant, TenantPatch, Tier, User, UserLink,
};
use tessera_core::page::next_page_token;
use tessera_core::ports::{AuditAction, AuditRecord, Change, StoreError};

use super::conventions::page;
use crate::connections::{connection_secrets, tell_revoked};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, PlatformCaller};
use crate::state::AppState;
use crate::wire::*;

/// A tenant id from the path: `tenant/<uuid>` (with the slash percent-encoded, or through the
/// `/v1/tenants/tenant/{uuid}` route) or the bare UUID.
pub(crate) fn parse_tenant_id(raw: &str) -> Result<TenantId, DomainError> {
    raw.parse()
        .or_else(|_| format!("tenant/{raw}").parse())
        .map_err(|_| {
            DomainError::invalid(
                "tenant_id",
                "must be `tenant/` followed by a UUID, or the bare UUID",
            )
        })
}

/// The URL of a one-time link that sets a password in the console.
pub(crate) fn set_password_url(state: &AppState, token: &str) -> String {
    format!(
        "{}/console/set-password?token={token}",
        state.config.issuer.trim_end_matches('/')
    )
}

/// Records `action` in the operator tenant and in the tenant concerned.
fn audit_both(
    state: &AppState,
    caller: &PlatformCaller,
    tenant: TenantId,
    action: AuditAction,
    detail: serde_json::Value,
) {
    let mut tenants = vec![caller.tenant];
    if tenant != caller.tenant {
        tenants.push(tenant);
    }
    for tenant_id in tenants {
        state.audit(AuditRecord {
            tenant_id,
            at: state.clock.now_millis(),
            actor: caller.actor.clone(),
            action: action.into(),
            target: tenant.to_string(),
            detail: detail.to_string(),
        });
    }
}

/// What creating a tenant needs from a request, checked before anything is written.
pub(crate) struct NewTenant {
    pub tenant: Tenant,
    pub admin: User,
}

/// A new tenant and its first admin (without a password unless `password_hash` is given).
pub(crate) fn new_tenant(
    rng: &dyn tessera_core::ports::Rng,
    display_name: &str,
    tier: Option<&str>,
    admin_email: &str,
    admin_display_name: Option<&str>,
    password_hash: String,
    now: i64,
) -> Result<NewTenant, DomainError> {
    let tier = tier
        .map(Tier::parse_field)
        .transpose()?
        .unwrap_or(Tier::Team);
    let tenant = Tenant::new(TenantId::generate(rng), display_name, tier, now)?;
    let email = validate_email(admin_email).map_err(|_| {
        DomainError::invalid(
            "admin_email",
            "must be an email address such as jane@example.com",
        )
    })?;
    let admin_name = match admin_display_name {
        Some(name) => name.trim().to_owned(),
        None => email.split('@').next().unwrap_or_default().to_owned(),
    };
    if admin_name.is_empty() || admin_name.chars().count() > 200 {
        return Err(DomainError::invalid(
            "admin_display_name",
            "must be 1 to 200 characters",
        ));
    }
    let admin = User {
        id: UserId::generate(rng),
        tenant_id: tenant.id,
        email,
        display_name: admin_name,
        role: Role::Admin,
        password_hash,
        created_at: now,
        updated_at: now,
        sessions_not_before: 0,
    };
    Ok(NewTenant { tenant, admin })
}

/// Stores a new tenant and its first admin (with an invitation unless the admin has a
/// password already), tells every instance, and audits it. Shared by the API, the console's
/// Tenants page and the sign-up page.
pub(crate) async fn store_new_tenant(
    state: &AppState,
    caller: &PlatformCaller,
    new: NewTenant,
) -> ApiResult<CreatedTenant> {
    let NewTenant { tenant, admin } = new;
    let now = state.clock.now_millis();
    let invitation = (!admin.has_password()).then(|| {
        UserLink::generate(
            &admin,
            LinkPurpose::Invitation,
            &*state.rng,
            now,
            state.config.invitation_ttl_seconds,
        )
    });
    state
        .storage
        .create_tenant_with_admin(&tenant, &admin, invitation.as_ref().map(|(_, l)| l))
        .await?;
    state.publish(Change::Tenant(tenant.id)).await?;
    audit_both(
        state,
        caller,
        tenant.id,
        AuditAction::TenantCreated,
        json!({"display_name": tenant.display_name, "tier": tenant.tier.as_str(),
               "admin_email": admin.email}),
    );
    let (invitation_url, invitation_expires_at) = match &invitation {
        Some((token, link)) => (
            set_password_url(state, token.expose()),
            rfc3339(link.expires_at),
        ),
        None => (String::new(), String::new()),
    };
    Ok(CreatedTenant {
        tenant: TenantView::from(&tenant),
        admin: InvitedUser {
            user_id: admin.id.to_string(),
            email: admin.email.clone(),
            invitation_url,
            invitation_expires_at,
        },
    })
}

/// Create a tenant and invite its first admin (operator).
#[utoipa::path(post, path = "/v1/tenants", tag = "tenants", request_body = CreateTenantRequest,
    responses((status = 201, body = CreatedTenant, description = "Created; the admin's invitation_url is shown once"), (status = 400, body = ErrorResponse), (status = 403, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn create_tenant(
    State(state): State<AppState>,
    caller: PlatformCaller,
    ApiJson(body): ApiJson<CreateTenantRequest>,
) -> ApiResult<(StatusCode, Json<CreatedTenant>)> {
    let new = new_tenant(
        &*state.rng,
        &body.display_name,
        body.tier.as_deref(),
        &body.admin_email,
        body.admin_display_name.as_deref(),
        String::new(),
        state.clock.now_millis(),
    )?;
    let created = store_new_tenant(&state, &caller, new).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// List tenants (operator).
#[utoipa::path(get, path = "/v1/tenants", tag = "tenants", params(PageQuery),
    responses((status = 200, body = TenantList), (status = 400, body = ErrorResponse), (status = 403, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn list_tenants(
    State(state): State<AppState>,
    _caller: PlatformCaller,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<TenantList>> {
    let found = state.storage.list_tenants(page(&q)?).await?;
    Ok(Json(TenantList {
        tenants: found.items.iter().map(TenantView::from).collect(),
        next_page_token: next_page_token(found.next_after),
    }))
}

async fn find_tenant(state: &AppState, raw: &str) -> ApiResult<Tenant> {
    let id = parse_tenant_id(raw)?;
    state.storage.get_tenant(id).await.map_err(|e| match e {
        StoreError::NotFound => DomainError::NotFound("tenant").into(),
        other => other.into(),
    })
}

/// Read a tenant (operator).
#[utoipa::path(get, path = "/v1/tenants/{id}", tag = "tenants",
    params(("id" = String, Path, description = "`tenant/<uuid>` (slash percent-encoded) or the bare UUID")),
    responses((status = 200, body = TenantView), (status = 400, body = ErrorResponse), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn get_tenant(
    State(state): State<AppState>,
    _caller: PlatformCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<TenantView>> {
    Ok(Json(TenantView::from(&find_tenant(&state, &id).await?)))
}

/// Rename, re-tier, disable or enable a tenant (operator).
#[utoipa::path(patch, path = "/v1/tenants/{id}", tag = "tenants", request_body = PatchTenantRequest,
    params(("id" = String, Path, description = "`tenant/<uuid>` (slash percent-encoded) or the bare UUID")),
    responses((status = 200, body = TenantView), (status = 400, body = ErrorResponse), (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse, description = "The operator tenant cannot be disabled")),
    security(("bearer" = [])))]
pub async fn patch_tenant(
    State(state): State<AppState>,
    caller: PlatformCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PatchTenantRequest>,
) -> ApiResult<Json<TenantView>> {
    let patch = TenantPatch {
        display_name: body.display_name,
        tier: body.tier.as_deref().map(Tier::parse_field).transpose()?,
        disabled: body.disabled,
    };
    let tenant = change_tenant(&state, &caller, parse_tenant_id(&id)?, patch).await?;
    Ok(Json(TenantView::from(&tenant)))
}

/// Applies a change to a tenant, tells every instance and audits it. Shared by the API and the
/// console.
pub(crate) async fn change_tenant(
    state: &AppState,
    caller: &PlatformCaller,
    id: TenantId,
    patch: TenantPatch,
) -> ApiResult<Tenant> {
    let mut tenant = state.storage.get_tenant(id).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::from(DomainError::NotFound("tenant")),
        other => other.into(),
    })?;
    let was_disabled = tenant.disabled;
    tenant.apply(patch, state.clock.now_millis())?;
    state.storage.update_tenant(&tenant).await?;
    state.publish(Change::Tenant(tenant.id)).await?;
    let action = match (was_disabled, tenant.disabled) {
        (false, true) => AuditAction::TenantDisabled,
        (true, false) => AuditAction::TenantEnabled,
        _ => AuditAction::TenantUpdated,
    };
    audit_both(
        state,
        caller,
        tenant.id,
        action,
        json!({"display_name": tenant.display_name, "tier": tenant.tier.as_str()}),
    );
    Ok(tenant)
}

/// Deletes a tenant and everything of it. Shared by the API and the console.
pub(crate) async fn delete_tenant_everywhere(
    state: &AppState,
    caller: &PlatformCaller,
    id: TenantId,
) -> ApiResult<()> {
    // Read before the rows go: each connected application is told with its own token.
    let mut bearers = std::collections::HashMap::new();
    for connection in state.connections.involving(id) {
        let bearer = connection_secrets(state, connection).await;
        bearers.insert(connection, bearer.map(|(bearer, _)| bearer));
    }
    let deletion = state.tenant_deletion.write().await;
    let deleted = state.storage.delete_tenant(id).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::from(DomainError::NotFound("tenant")),
        StoreError::Conflict(why) => DomainError::Conflict(why).into(),
        other => other.into(),
    })?;
    state.publish(Change::Tenant(id)).await?;
    drop(deletion);
    for client in &deleted.clients {
        state.publish(Change::Client(*client)).await?;
    }
    for connection in &deleted.connections {
        state.publish(Change::Connection(connection.id)).await?;
    }
    for other in &deleted.touched_tenants {
        state.publish(Change::AppAuthorizations(*other)).await?;
        state.publish(Change::People(*other)).await?;
    }
    for connection in &deleted.connections {
        let bearer = bearers.remove(&connection.id).flatten();
        tell_revoked(state, connection, bearer);
    }
    // The tenant's own audit log went with it; the operator's keeps the record.
    state.audit(AuditRecord {
        tenant_id: caller.tenant,
        at: state.clock.now_millis(),
        actor: caller.actor.clone(),
        action: AuditAction::TenantDeleted.into(),
        target: id.to_string(),
        detail: json!({"integrations": deleted.clients.len(),
                       "connections_ended": deleted.connections.len()})
        .to_string(),
    });
    Ok(())
}

/// Delete a tenant and all its data (operator).
#[utoipa::path(delete, path = "/v1/tenants/{id}", tag = "tenants",
    params(("id" = String, Path, description = "`tenant/<uuid>` (slash percent-encoded) or the bare UUID")),
    responses((status = 204, description = "Deleted with all of its data; every grant to or from it ended, connected applications told"), (status = 400, body = ErrorResponse), (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse, description = "The operator tenant cannot be deleted")),
    security(("bearer" = [])))]
pub async fn delete_tenant(
    State(state): State<AppState>,
    caller: PlatformCaller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = parse_tenant_id(&id)?;
    delete_tenant_everywhere(&state, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

//! A tenant's lifecycle, shared by the API and the console: create with its first admin, change, delete, each audited twice and published.

use crate::security_events::signal;
use serde_json::json;
use tessera_core::error::DomainError;
use tessera_core::id::{TenantId, UserId};
use tessera_core::model::SecurityEvent;
use tessera_core::model::{
    validate_email, LinkPurpose, Role, Tenant, TenantPatch, Tier, User, UserLink,
};
use tessera_core::ports::{AuditAction, AuditRecord, Change, StoreError};

use crate::connections::{connection_secrets, tell_revoked};
use crate::error::{ApiError, ApiResult};
use crate::extract::PlatformCaller;
use crate::state::AppState;
use crate::wire::*;

use super::*;

/// Records `action` in the operator tenant and in the tenant concerned.
pub(super) fn audit_both(
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
    let (action, told) = match (was_disabled, tenant.disabled) {
        (false, true) => (
            AuditAction::TenantDisabled,
            Some(SecurityEvent::TenantDisabled),
        ),
        (true, false) => (
            AuditAction::TenantEnabled,
            Some(SecurityEvent::TenantEnabled),
        ),
        _ => (AuditAction::TenantUpdated, None),
    };
    if let Some(told) = told {
        signal(state, tenant.id, told).await?;
    }
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
    // Queued before the rows go; the streams outlive the tenant (no foreign key) to send it.
    signal(state, id, SecurityEvent::TenantDeleted).await?;
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

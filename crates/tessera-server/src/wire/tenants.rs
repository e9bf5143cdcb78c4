//! Tenants, invitations and password resets (SPEC §4.1).

use serde::{Deserialize, Serialize};
use tessera_core::model::Tenant;
use utoipa::ToSchema;

use super::rfc3339;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenantRequest {
    pub display_name: String,
    /// `FREE`, `TEAM` (default) or `ENTERPRISE`.
    pub tier: Option<String>,
    /// The tenant's first admin; gets a one-time invitation link to set a password.
    pub admin_email: String,
    /// Default: the part of the email before `@`.
    pub admin_display_name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct PatchTenantRequest {
    pub display_name: Option<String>,
    pub tier: Option<String>,
    /// `true` stops the tenant's tokens, grants and sessions on every instance within a
    /// second; `false` restores its grants (not the tokens that were live).
    pub disabled: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantView {
    pub tenant_id: String,
    pub display_name: String,
    pub tier: String,
    /// The tenant that runs the deployment; it cannot be disabled or deleted.
    pub operator: bool,
    pub disabled: bool,
    pub created_at: String,
}

impl From<&Tenant> for TenantView {
    fn from(t: &Tenant) -> Self {
        TenantView {
            tenant_id: t.id.to_string(),
            display_name: t.display_name.clone(),
            tier: t.tier.as_str().to_owned(),
            operator: t.operator,
            disabled: t.disabled,
            created_at: rfc3339(t.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantList {
    pub tenants: Vec<TenantView>,
    pub next_page_token: String,
}

/// A one-time link that sets a user's password; shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitedUser {
    pub user_id: String,
    pub email: String,
    pub invitation_url: String,
    pub invitation_expires_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedTenant {
    #[serde(flatten)]
    pub tenant: TenantView,
    pub admin: InvitedUser,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordResetLink {
    pub user_id: String,
    /// One-time; ends the user's console sessions already.
    pub password_reset_url: String,
    pub expires_at: String,
}

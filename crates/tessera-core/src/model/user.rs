use crate::error::DomainError;
use crate::id::{TenantId, UserId};

use super::UnixMillis;

/// What a user may do in the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Manages the tenant: integrations, policies, users.
    Admin,
    /// Uses the console for their own account and consents.
    Member,
}

impl Role {
    /// The role as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }
    /// The role named `s`, if it is one.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            _ => None,
        }
    }
}

/// A person in one tenant. The password is held only as an argon2id PHC string; an invited
/// user who has not set one yet has "" there, which no password matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The user's id.
    pub id: UserId,
    /// The tenant they belong to.
    pub tenant_id: TenantId,
    /// Their email; unique within the tenant.
    pub email: String,
    /// Their name, as people see it.
    pub display_name: String,
    /// What they may do in the console.
    pub role: Role,
    /// Their password's argon2id hash (PHC string); empty until they set one.
    pub password_hash: String,
    /// When the user was created.
    pub created_at: UnixMillis,
    /// When the user was last changed.
    pub updated_at: UnixMillis,
    /// Console sessions that began before this time (Unix milliseconds) have ended: a password
    /// set or reset, or a role change, signs the user out everywhere.
    pub sessions_not_before: i64,
}

impl User {
    /// Whether the user has set a password (an invited user has not yet).
    pub fn has_password(&self) -> bool {
        !self.password_hash.is_empty()
    }
}

/// What a one-time link lets its holder do: set the password of a user who has none yet, or
/// replace a forgotten one. Both end in the same form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose {
    /// Sets the first password of an invited user.
    Invitation,
    /// Sets a new password after a reset.
    PasswordReset,
}

impl LinkPurpose {
    /// The purpose as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkPurpose::Invitation => "invitation",
            LinkPurpose::PasswordReset => "password_reset",
        }
    }
}

/// How long a password-reset link lasts; invitations last the configured time (7 days by
/// default), since they often wait in an inbox over a weekend.
pub const PASSWORD_RESET_TTL_SECONDS: i64 = 24 * 3600;

/// A one-time link to set a user's password (SPEC §4.1). Only the SHA-256 of its token is
/// stored: the token (256 random bits) is in the URL shown once, never at rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserLink {
    /// SHA-256 of the link's token; the token itself is shown once and never stored.
    pub token_hash: [u8; 32],
    /// The user whose password it sets.
    pub user_id: UserId,
    /// The user's tenant.
    pub tenant_id: TenantId,
    /// Why it was made.
    pub purpose: LinkPurpose,
    /// When it was made.
    pub created_at: UnixMillis,
    /// When it stops working.
    pub expires_at: UnixMillis,
}

impl UserLink {
    /// A new link for `user` and the token that goes into its URL.
    pub fn generate(
        user: &User,
        purpose: LinkPurpose,
        rng: &dyn crate::world::Rng,
        now: UnixMillis,
        ttl_seconds: i64,
    ) -> (crate::id::Secret, UserLink) {
        let token = crate::crypto::generate_client_secret(rng);
        let link = UserLink {
            token_hash: link_token_hash(token.expose()),
            user_id: user.id,
            tenant_id: user.tenant_id,
            purpose,
            created_at: now,
            expires_at: now + ttl_seconds * 1000,
        };
        (token, link)
    }
}

/// The stored form of a link's token.
pub fn link_token_hash(token: &str) -> [u8; 32] {
    crate::crypto::hash_client_secret(token)
}

/// Why a one-time link cannot be used; each says so to whoever opened it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkRefusal {
    /// No such link.
    #[error("This link is not valid: it may be mistyped, or a newer link for the same account replaced it.")]
    Unknown,
    /// The link has been used.
    #[error("This link has been used already: each link sets a password once. Sign in with that password, or ask an admin for a new link.")]
    Used,
    /// The link has expired.
    #[error("This link has expired. Ask an admin of your organization for a new one.")]
    Expired,
}

/// A user to create, password still in the clear (it is hashed by the caller's `PasswordHasher`).
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Their email.
    pub email: String,
    /// Their name, as people see it.
    pub display_name: String,
    /// What they may do in the console.
    pub role: Role,
}

/// A partial update of a user.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    /// A new name.
    pub display_name: Option<String>,
    /// A new role.
    pub role: Option<Role>,
    /// A new password hash.
    pub password_hash: Option<String>,
}

/// A plausible email address, normalised to lower case: one `@`, something on each side, no
/// spaces, at most 254 characters.
pub fn validate_email(email: &str) -> Result<String, DomainError> {
    let email = email.trim();
    let ok = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && matches!(email.split_once('@'), Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@'));
    if ok {
        Ok(email.to_lowercase())
    } else {
        Err(DomainError::invalid(
            "email",
            "must be an email address such as jane@example.com",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            validate_email(" Jane@Example.com ").unwrap(),
            "jane@example.com"
        );
        for bad in [
            "",
            "jane",
            "@example.com",
            "jane@",
            "ja ne@example.com",
            "a@b@c",
        ] {
            assert_eq!(
                validate_email(bad).unwrap_err().field(),
                Some("email"),
                "{bad}"
            );
        }
    }
}

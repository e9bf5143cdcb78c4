use crate::error::DomainError;
use crate::id::{TenantId, UserId};

use super::UnixMillis;

/// What a user may do in the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }
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
    pub id: UserId,
    pub tenant_id: TenantId,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
    pub created_at: UnixMillis,
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
    Invitation,
    PasswordReset,
}

impl LinkPurpose {
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
    pub token_hash: [u8; 32],
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub purpose: LinkPurpose,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
}

impl UserLink {
    /// A new link for `user` and the token that goes into its URL.
    pub fn generate(
        user: &User,
        purpose: LinkPurpose,
        rng: &dyn crate::ports::Rng,
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
    #[error("This link is not valid: it may be mistyped, or a newer link for the same account replaced it.")]
    Unknown,
    #[error("This link has been used already: each link sets a password once. Sign in with that password, or ask an admin for a new link.")]
    Used,
    #[error("This link has expired. Ask an admin of your organization for a new one.")]
    Expired,
}

/// A user to create, password still in the clear (it is hashed by the caller's `PasswordHasher`).
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub display_name: String,
    pub role: Role,
}

/// A partial update of a user.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub display_name: Option<String>,
    pub role: Option<Role>,
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

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

/// A person in one tenant. The password is held only as an argon2id PHC string.
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

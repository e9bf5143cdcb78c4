//! The console's session (SPEC §9), kept on the server: the cookie carries a random id (256
//! bits), the store its SHA-256 with the user, the start, the last use and the absolute end.
//! Signing out removes it, so the cookie stops working on every instance at once; a password
//! set or reset, a role change and a disabled tenant end it too (checked on every console
//! request against the user and the tenant). Forms carry a CSRF token, the MAC of the id; the
//! sign-in form, before any session, uses a signed double-submit cookie.

use axum::http::{header, HeaderMap, HeaderValue};
use tessera_core::crypto::MasterKey;

pub const SESSION_COOKIE: &str = "tessera_session";
pub const SIGN_IN_COOKIE: &str = "tessera_sign_in";

/// A live console session (whose user `signed_in` returns beside it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The secret in the cookie.
    pub id: String,
}

impl Session {
    /// The stored form of a cookie's id.
    pub fn id_hash(id: &str) -> [u8; 32] {
        tessera_core::crypto::hash_client_secret(id)
    }

    /// The CSRF token for this session's forms.
    pub fn csrf(&self, key: &MasterKey) -> String {
        key.mac("csrf", self.id.as_bytes())
    }

    pub fn csrf_matches(&self, key: &MasterKey, token: &str) -> bool {
        key.mac_matches("csrf", self.id.as_bytes(), token)
    }
}

/// A cookie's value from the request, if present once.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// `Set-Cookie` for a console cookie: `HttpOnly`, `SameSite=Lax`, the whole site, `Secure`
/// when the server is reached over TLS; `max_age` 0 removes it.
pub fn set_cookie(name: &str, value: &str, max_age: i64, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_by_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; tessera_session=xyz; b=2"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie(&headers, "c"), None);
    }
}

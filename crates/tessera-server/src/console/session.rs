//! The console's session: a cookie that carries who signed in, until when, and a nonce, with a
//! MAC under the master key's derived key — no session table, every instance reads it. The
//! user is looked up on each console request, so a deleted user's session ends at once.
//! Forms carry a CSRF token derived from the nonce; the sign-in form, before any session, uses
//! a random cookie echoed in the form (double submit).

use axum::http::{header, HeaderMap, HeaderValue};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use tessera_core::crypto::{random_token, MasterKey};
use tessera_core::id::{TenantId, UserId};
use tessera_core::ports::Rng;

pub const SESSION_COOKIE: &str = "tessera_session";
pub const SIGN_IN_COOKIE: &str = "tessera_sign_in";
/// A session lasts a working day.
pub const SESSION_SECONDS: i64 = 12 * 3600;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    #[serde(rename = "u")]
    pub user: UserId,
    #[serde(rename = "t")]
    pub tenant: TenantId,
    /// Unix seconds.
    #[serde(rename = "e")]
    pub expires_at: i64,
    #[serde(rename = "n")]
    pub nonce: String,
}

impl Session {
    pub fn new(user: UserId, tenant: TenantId, now_seconds: i64, rng: &dyn Rng) -> Self {
        Session {
            user,
            tenant,
            expires_at: now_seconds + SESSION_SECONDS,
            nonce: random_token(rng, 16),
        }
    }

    /// The cookie's value: the session as base64url JSON, a dot, its MAC.
    pub fn seal(&self, key: &MasterKey) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default());
        let tag = key.mac("session", payload.as_bytes());
        format!("{payload}.{tag}")
    }

    /// The session a cookie value holds, if its MAC is ours and it has not expired.
    pub fn open(value: &str, key: &MasterKey, now_seconds: i64) -> Option<Session> {
        let (payload, tag) = value.split_once('.')?;
        if !key.mac_matches("session", payload.as_bytes(), tag) {
            return None;
        }
        let session: Session =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        (session.expires_at >= now_seconds).then_some(session)
    }

    /// The CSRF token for this session's forms.
    pub fn csrf(&self, key: &MasterKey) -> String {
        key.mac("csrf", self.nonce.as_bytes())
    }

    pub fn csrf_matches(&self, key: &MasterKey, token: &str) -> bool {
        key.mac_matches("csrf", self.nonce.as_bytes(), token)
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
    use tessera_core::ports::OsRng;

    #[test]
    fn a_session_opens_only_unaltered_and_in_time() {
        let (key, _) = MasterKey::generate(&OsRng);
        let session = Session::new(UserId::random(), TenantId::random(), 100, &OsRng);
        let sealed = session.seal(&key);
        assert_eq!(Session::open(&sealed, &key, 100), Some(session.clone()));
        assert_eq!(
            Session::open(&sealed, &key, 100 + SESSION_SECONDS + 1),
            None
        );
        let (other, _) = MasterKey::generate(&OsRng);
        assert_eq!(Session::open(&sealed, &other, 100), None);
        let forged = format!("{}x", sealed);
        assert_eq!(Session::open(&forged, &key, 100), None);
        let csrf = session.csrf(&key);
        assert!(session.csrf_matches(&key, &csrf));
        let other_session = Session::new(session.user, session.tenant, 100, &OsRng);
        assert!(!other_session.csrf_matches(&key, &csrf));
    }

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

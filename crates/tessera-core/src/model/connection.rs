//! Connections (SPEC §6, seed 001): an application asks a data owner for access through a
//! connection URL; the owner accepts or rejects it on the consent screen. The URL carries the
//! request itself, signed with a key derived from the master key and bounded in time, so the
//! server keeps nothing until the owner answers, and any change to it is detected.

use crate::crypto::MasterKey;
use crate::error::DomainError;
use crate::id::{ClientId, ConnectionId, TenantId};
use crate::scope::ScopeSet;

use super::UnixMillis;

/// How long a connection URL stays valid: a week, time to reach the owner by email.
pub const CONNECTION_URL_TTL_SECONDS: i64 = 7 * 86_400;
/// The longest `state` an application may pass through.
pub const MAX_STATE_LEN: usize = 512;
/// The MAC's purpose label: a tag made for anything else never verifies here.
const PURPOSE: &str = "connection-url";

/// What a connection URL asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionRequest {
    /// The integration that asks for the connection.
    pub client_id: ClientId,
    /// The scopes it asks for.
    pub scopes: ScopeSet,
    /// The application's own value, handed back to it with the grant or the rejection.
    pub state: String,
    /// Unix seconds after which the URL no longer works.
    pub expires_at: i64,
}

/// Why a connection URL is refused; each is shown to the owner on an error page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionUrlError {
    /// The URL is not one Tessera made.
    #[error("this connection link is incomplete or malformed; ask the application for a new one")]
    Malformed,
    /// Its signature does not match what it says.
    #[error("this connection link has been altered since the application made it; ask the application for a new one")]
    Altered,
    /// It is past its expiry.
    #[error("this connection link has expired; ask the application for a new one")]
    Expired,
}

/// Checks an application's `state`: 1 to 512 characters, none of them control characters.
pub fn validate_state(state: &str) -> Result<(), DomainError> {
    if state.is_empty() || state.chars().count() > MAX_STATE_LEN {
        return Err(DomainError::invalid(
            "state",
            format!("must be 1 to {MAX_STATE_LEN} characters"),
        ));
    }
    if state.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            "state",
            "must not contain control characters",
        ));
    }
    Ok(())
}

impl ConnectionRequest {
    /// The bytes the signature covers: every field, each on its own line (none may hold a
    /// newline: ids and scopes cannot, `state` is checked).
    fn signed_text(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}",
            self.client_id, self.scopes, self.state, self.expires_at
        )
    }

    /// The query string of the connection URL, signature last.
    pub fn to_query(&self, key: &MasterKey) -> String {
        let sig = key.mac(PURPOSE, self.signed_text().as_bytes());
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", &self.client_id.to_string())
            .append_pair("scope", &self.scopes.to_string())
            .append_pair("state", &self.state)
            .append_pair("exp", &self.expires_at.to_string())
            .append_pair("sig", &sig)
            .finish()
    }

    /// Reads and checks a connection URL's query string: every parameter exactly once and no
    /// other, an untouched signature, not expired at `now_seconds`.
    pub fn from_query(
        query: &str,
        key: &MasterKey,
        now_seconds: i64,
    ) -> Result<ConnectionRequest, ConnectionUrlError> {
        const NAMES: [&str; 5] = ["client_id", "scope", "state", "exp", "sig"];
        let mut values: [Option<String>; 5] = Default::default();
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let slot = NAMES
                .iter()
                .position(|n| *n == name)
                .ok_or(ConnectionUrlError::Altered)?;
            if values[slot].replace(value.into_owned()).is_some() {
                return Err(ConnectionUrlError::Altered);
            }
        }
        let [Some(client_id), Some(scope), Some(state), Some(exp), Some(sig)] = values else {
            return Err(ConnectionUrlError::Malformed);
        };
        let request = ConnectionRequest {
            client_id: client_id.parse().map_err(|_| ConnectionUrlError::Altered)?,
            scopes: ScopeSet::parse(&scope).map_err(|_| ConnectionUrlError::Altered)?,
            state,
            expires_at: exp.parse().map_err(|_| ConnectionUrlError::Altered)?,
        };
        // Re-serialized fields must sign to the same tag: a scope list written differently
        // (reordered, doubled) is an alteration too.
        if request.scopes.to_string() != scope
            || !key.mac_matches(PURPOSE, request.signed_text().as_bytes(), &sig)
        {
            return Err(ConnectionUrlError::Altered);
        }
        if now_seconds > request.expires_at {
            return Err(ConnectionUrlError::Expired);
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::OsRng;

    fn request() -> ConnectionRequest {
        ConnectionRequest {
            client_id: ClientId::random(),
            scopes: ScopeSet::parse("assets:read events:read").unwrap_or_default(),
            state: "account 42 & more=yes".into(),
            expires_at: 1_000,
        }
    }

    #[test]
    fn a_signed_url_reads_back_until_it_expires() {
        let (key, _) = MasterKey::generate(&OsRng);
        let r = request();
        let query = r.to_query(&key);
        assert_eq!(
            ConnectionRequest::from_query(&query, &key, 999),
            Ok(r.clone())
        );
        assert_eq!(ConnectionRequest::from_query(&query, &key, 1_000), Ok(r));
        assert_eq!(
            ConnectionRequest::from_query(&query, &key, 1_001),
            Err(ConnectionUrlError::Expired)
        );
    }

    #[test]
    fn any_alteration_is_detected() {
        let (key, _) = MasterKey::generate(&OsRng);
        let (other_key, _) = MasterKey::generate(&OsRng);
        let r = request();
        let query = r.to_query(&key);
        let altered = [
            query.replace("events%3Aread", "events%3Awrite"),
            query.replace("exp=1000", "exp=9000"),
            query.replace("account", "acount"),
            format!("{query}&scope=admin"),
            format!("{query}&extra=1"),
            query.replace("assets%3Aread+events%3Aread", "events%3Aread+assets%3Aread"),
        ];
        for q in altered {
            assert_eq!(
                ConnectionRequest::from_query(&q, &key, 0),
                Err(ConnectionUrlError::Altered),
                "{q}"
            );
        }
        assert_eq!(
            ConnectionRequest::from_query(&query, &other_key, 0),
            Err(ConnectionUrlError::Altered)
        );
        let without_sig = query.split("&sig=").next().unwrap_or_default().to_owned();
        assert_eq!(
            ConnectionRequest::from_query(&without_sig, &key, 0),
            Err(ConnectionUrlError::Malformed)
        );
    }

    #[test]
    fn state_is_short_printable_text() {
        assert!(validate_state("abc-123").is_ok());
        assert!(validate_state("").is_err());
        assert!(validate_state("a\nb").is_err());
        assert!(validate_state(&"x".repeat(513)).is_err());
    }
}

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionStatus {
    /// The owner accepted: its tokens work (from the hand-over on, so the application may use
    /// the token it is handed before it answers); a failed hand-over removes it.
    Active,
    /// Revoked by either side: its tokens stop, its webhooks stop.
    Revoked,
}

impl ConnectionStatus {
    /// The status as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionStatus::Active => "active",
            ConnectionStatus::Revoked => "revoked",
        }
    }

    /// The status named `s`, if it is one.
    pub fn parse(s: &str) -> Option<ConnectionStatus> {
        [ConnectionStatus::Active, ConnectionStatus::Revoked]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// A data owner's grant to an application (seed 001's "Authorized connection"): the owner's
/// tenant lets the integration reach its data with `scopes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// The connection's id.
    pub id: ConnectionId,
    /// The data owner's tenant.
    pub owner_tenant_id: TenantId,
    /// The integration the data owner connected.
    pub client_id: ClientId,
    /// The tenant that registered the integration.
    pub client_tenant_id: TenantId,
    /// The scopes granted.
    pub scopes: ScopeSet,
    /// The `state` the application put in the connection URL, handed back to it.
    pub state: String,
    /// Whether it is active, rejected or revoked.
    pub status: ConnectionStatus,
    /// `user:<id>` of the owner who accepted.
    pub granted_by: String,
    /// When it was made.
    pub created_at: UnixMillis,
    /// When its status last changed.
    pub updated_at: UnixMillis,
}

impl Connection {
    /// Whether `tenant` is one of its two sides (and may see and revoke it).
    pub fn involves(&self, tenant: TenantId) -> bool {
        self.owner_tenant_id == tenant || self.client_tenant_id == tenant
    }
}

/// The longest bearer token an application may hand back.
pub const MAX_BEARER_TOKEN_LEN: usize = 4096;

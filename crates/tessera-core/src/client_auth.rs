//! Who is calling: client authentication at the token, introspection and revocation endpoints
//! (RFC 6749 §2.3). The edge extracts credentials; this module decides.

use std::sync::Arc;

use crate::crypto::{client_secret_matches, hash_client_secret};
use crate::error::OAuthError;
use crate::id::{ClientId, Secret};
use crate::model::{ClientKey, ClientSecretRecord, Integration, Tier, UnixMillis};

/// How the client presented its credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// RFC 6749 §2.3.1, HTTP Basic.
    ClientSecretBasic,
    /// RFC 6749 §2.3.1, in the form body.
    ClientSecretPost,
    /// RFC 7523 §2.2: a JWT signed with a key registered on the integration.
    PrivateKeyJwt,
}

/// RFC 7523 §2.2: the `client_assertion_type` of `private_key_jwt`.
pub const CLIENT_ASSERTION_TYPE_JWT: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Credentials as the edge found them, not yet checked.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    pub client_id: String,
    pub secret: Secret,
    pub method: AuthMethod,
}

/// An integration as the token path sees it: what it may get and the hashes of its secrets.
#[derive(Debug, Clone)]
pub struct RegisteredClient {
    pub integration: Integration,
    pub tier: Tier,
    pub secrets: Vec<ClientSecretRecord>,
    /// Public keys that verify the JWTs it signs (RFC 7523).
    pub keys: Vec<ClientKey>,
}

/// Looks clients up on the hot path: an in-memory snapshot, no I/O.
pub trait ClientDirectory {
    fn client(&self, id: &ClientId) -> Option<Arc<RegisteredClient>>;
}

/// The description of every failed authentication: the same words whether the client is
/// unknown or the secret wrong, so that client ids cannot be discovered.
pub const AUTH_FAILED: &str =
    "client authentication failed: unknown client_id or wrong client_secret";

/// Checks the credentials against the directory at `now`.
pub fn authenticate(
    credentials: &ClientCredentials,
    directory: &dyn ClientDirectory,
    now: UnixMillis,
) -> Result<Arc<RegisteredClient>, OAuthError> {
    let client = credentials
        .client_id
        .parse::<ClientId>()
        .ok()
        .and_then(|id| directory.client(&id));
    let Some(client) = client else {
        // Spend the same work as a real check, so timing does not tell unknown ids apart.
        let _ = client_secret_matches(credentials.secret.expose(), &hash_client_secret(""));
        return Err(OAuthError::invalid_client(AUTH_FAILED));
    };
    let matched = client
        .secrets
        .iter()
        .filter(|s| s.expires_at.is_none_or(|at| at > now))
        .fold(false, |found, s| {
            found | client_secret_matches(credentials.secret.expose(), &s.hash)
        });
    if matched {
        Ok(client)
    } else {
        Err(OAuthError::invalid_client(AUTH_FAILED))
    }
}

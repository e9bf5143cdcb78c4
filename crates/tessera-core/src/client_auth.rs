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
    /// RFC 7523 §2.2 with a platform's identity token that a federated credential of the
    /// integration accepts (SPEC §14).
    FederatedJwt,
}

/// RFC 7523 §2.2: the `client_assertion_type` of `private_key_jwt`.
pub const CLIENT_ASSERTION_TYPE_JWT: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Credentials as the edge found them, not yet checked.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    /// The `client_id` the request presented.
    pub client_id: String,
    /// The secret the request presented.
    pub secret: Secret,
    /// How it was presented (HTTP Basic or the form).
    pub method: AuthMethod,
}

/// An integration as the token path sees it: what it may get and the hashes of its secrets.
#[derive(Debug, Clone)]
pub struct RegisteredClient {
    /// The integration as configured.
    pub integration: Integration,
    /// Its tenant's tier, carried in its tokens.
    pub tier: Tier,
    /// Its live secrets, hashed; more than one during a grace period.
    pub secrets: Vec<ClientSecretRecord>,
    /// Public keys that verify the JWTs it signs (RFC 7523).
    pub keys: Vec<ClientKey>,
}

/// Looks clients up on the hot path: an in-memory snapshot, no I/O.
pub trait ClientDirectory {
    /// The client with this id, if one is registered.
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::id::TenantId;

    struct Directory(HashMap<ClientId, Arc<RegisteredClient>>);

    impl ClientDirectory for Directory {
        fn client(&self, id: &ClientId) -> Option<Arc<RegisteredClient>> {
            self.0.get(id).cloned()
        }
    }

    fn record(
        client_id: ClientId,
        secret: &str,
        expires_at: Option<UnixMillis>,
    ) -> ClientSecretRecord {
        ClientSecretRecord {
            client_id,
            hash: hash_client_secret(secret),
            created_at: 0,
            expires_at,
        }
    }

    #[test]
    fn a_live_secret_of_a_known_client_authenticates_and_nothing_else_does() {
        let mut client = crate::grant::fixtures::client(TenantId::random(), "assets:read");
        let id = client.integration.client_id;
        // The current secret, and the one it replaced with a grace period until 1000.
        client.secrets = vec![record(id, "new", None), record(id, "old", Some(1000))];
        let directory = Directory(HashMap::from([(id, Arc::new(client))]));
        let known = id.to_string();
        let unknown = ClientId::random().to_string();
        for (client_id, secret, now, accepted) in [
            (known.as_str(), "new", 5000, true),
            (known.as_str(), "old", 999, true),
            (known.as_str(), "old", 1000, false),
            (known.as_str(), "wrong", 0, false),
            (known.as_str(), "", 0, false),
            (unknown.as_str(), "new", 0, false),
            ("not-a-client-id", "new", 0, false),
        ] {
            let credentials = ClientCredentials {
                client_id: client_id.into(),
                secret: Secret::new(secret.to_owned()),
                method: AuthMethod::ClientSecretBasic,
            };
            match authenticate(&credentials, &directory, now) {
                Ok(found) => {
                    assert!(accepted, "{client_id} {secret} at {now}");
                    assert_eq!(found.integration.client_id, id);
                }
                Err(e) => {
                    assert!(!accepted, "{client_id} {secret} at {now}: {e}");
                    // The same words for an unknown client and a wrong secret.
                    assert_eq!(e.description, AUTH_FAILED);
                }
            }
        }
    }
}

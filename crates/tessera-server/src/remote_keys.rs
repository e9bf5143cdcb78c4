//! Public keys an integration publishes at its `jwks_uri` (RFC 7517), and those of the
//! platforms tenants trust (SPEC §14: at their `jwks_uri`, or the one their OpenID discovery
//! document names), fetched on demand and cached. The cache keeps a set for `ttl`; an assertion naming a `kid` the cached set lacks
//! refetches it, but not more often than `min_refresh`, so a stream of bad assertions cannot
//! turn Tessera into a load generator against the integration. Failures are cached for
//! `min_refresh` as well. Bodies over `max_bytes` are refused while reading.

use std::sync::Arc;
use std::time::Duration;

use tessera_core::id::{ClientId, TrustedIssuerId};
use tessera_core::model::{ClientKey, TrustedIssuer, UnixMillis};

/// Whose key set: an integration's, or a trusted issuer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeySetOwner {
    Integration(ClientId),
    Issuer(TrustedIssuerId),
}

impl KeySetOwner {
    /// The id the keys are recorded under: for an issuer's, its id's UUID (the keys verify
    /// platform tokens, never an integration's assertions).
    fn client_id(self) -> ClientId {
        match self {
            KeySetOwner::Integration(id) => id,
            KeySetOwner::Issuer(id) => ClientId::from_uuid(id.uuid()),
        }
    }
}

/// Where a key set is found.
#[derive(Debug, Clone, Copy)]
pub enum KeySetSource<'a> {
    /// A JWK Set URL.
    Jwks(&'a str),
    /// The issuer's OpenID discovery document names it (OpenID Connect Discovery §4): its
    /// `issuer` must be this one.
    Discovery { issuer: &'a str },
}

/// How the cache and the fetches behave.
#[derive(Debug, Clone)]
pub struct RemoteKeyConfig {
    pub ttl: Duration,
    pub min_refresh: Duration,
    pub max_bytes: usize,
    pub timeout: Duration,
    /// Fetches started per second at most, over all integrations: a fetch can be set off by
    /// anyone who sends a client assertion, without credentials (SPEC §11).
    pub max_fetches_per_second: u32,
}

impl Default for RemoteKeyConfig {
    fn default() -> Self {
        RemoteKeyConfig {
            ttl: Duration::from_secs(300),
            min_refresh: Duration::from_secs(30),
            max_bytes: 64 * 1024,
            timeout: Duration::from_secs(5),
            max_fetches_per_second: 20,
        }
    }
}

struct Entry {
    uri: String,
    fetched_at: UnixMillis,
    keys: Result<Arc<[ClientKey]>, String>,
}

/// The cached key sets, by integration.
pub struct RemoteKeySets {
    http: reqwest::Client,
    config: RemoteKeyConfig,
    allow_private: bool,
    cache: quick_cache::sync::Cache<KeySetOwner, Arc<Entry>>,
    fetches: crate::outbound::FetchAllowance,
}

/// What any failed fetch says: the same words whatever went wrong (refused, closed port, no
/// answer, not JSON), so the answer tells nothing about the target (SPEC §11). The detail is
/// logged.
pub const FETCH_FAILED: &str =
    "could not be fetched, or did not answer a JSON Web Key Set (the server's log says which)";

impl RemoteKeySets {
    /// The client reaches public addresses only unless `allow_private`; no redirects: the URL
    /// an admin registered is the one that is called.
    pub fn new(config: RemoteKeyConfig, allow_private: bool) -> Result<Self, reqwest::Error> {
        Ok(RemoteKeySets {
            http: crate::outbound::client(config.timeout, allow_private)?,
            fetches: crate::outbound::FetchAllowance::new(config.max_fetches_per_second),
            config,
            allow_private,
            cache: quick_cache::sync::Cache::new(10_000),
        })
    }

    /// The keys an integration publishes at `uri`; see [`Self::keys`].
    pub async fn keys(
        &self,
        client: ClientId,
        uri: &str,
        kid: Option<&str>,
        now: UnixMillis,
    ) -> Result<Arc<[ClientKey]>, String> {
        self.keys_of(
            KeySetOwner::Integration(client),
            KeySetSource::Jwks(uri),
            kid,
            now,
        )
        .await
    }

    /// The keys of a trusted issuer: at its `jwks_uri`, or the one its discovery document
    /// names.
    pub async fn issuer_keys(
        &self,
        issuer: &TrustedIssuer,
        kid: Option<&str>,
        now: UnixMillis,
    ) -> Result<Arc<[ClientKey]>, String> {
        let source = match &issuer.jwks_uri {
            Some(uri) => KeySetSource::Jwks(uri),
            None => KeySetSource::Discovery {
                issuer: &issuer.issuer,
            },
        };
        self.keys_of(KeySetOwner::Issuer(issuer.id), source, kid, now)
            .await
    }

    /// The keys of `owner` found at `source`, fetched when the cached set is stale, or lacks
    /// `kid` and was fetched more than `min_refresh` ago. The error says why none could be had.
    async fn keys_of(
        &self,
        owner: KeySetOwner,
        source: KeySetSource<'_>,
        kid: Option<&str>,
        now: UnixMillis,
    ) -> Result<Arc<[ClientKey]>, String> {
        let uri = match source {
            KeySetSource::Jwks(uri) => uri.to_owned(),
            KeySetSource::Discovery { issuer } => discovery_url(issuer),
        };
        let millis = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        if let Some(entry) = self.cache.get(&owner).filter(|e| e.uri == uri) {
            let age = now - entry.fetched_at;
            let has_kid = match (&entry.keys, kid) {
                (Ok(keys), Some(kid)) => keys.iter().any(|k| k.kid == kid),
                (Ok(_), None) => true,
                (Err(_), _) => false,
            };
            if age < millis(self.config.min_refresh) || (age < millis(self.config.ttl) && has_kid) {
                return entry.keys.clone();
            }
        }
        if !self.fetches.take(now) {
            // Not cached: the next second may fetch it.
            tracing::debug!(?owner, "key set fetch deferred: too many this second");
            return Err(FETCH_FAILED.to_owned());
        }
        let fetched = match source {
            KeySetSource::Jwks(uri) => self.fetch_allowed(uri).await,
            KeySetSource::Discovery { issuer } => self.discover(issuer, &uri).await,
        };
        let keys = fetched
            .and_then(|body| {
                ClientKey::from_key_set(owner.client_id(), &body, now)
                    .map_err(|e| format!("the key set {e}"))
            })
            .map(Arc::from)
            .map_err(|reason| {
                tracing::warn!(?owner, uri, reason, "key set fetch failed");
                FETCH_FAILED.to_owned()
            });
        self.cache.insert(
            owner,
            Arc::new(Entry {
                uri,
                fetched_at: now,
                keys: keys.clone(),
            }),
        );
        keys
    }

    /// `uri`'s body, if it is an address outgoing calls may reach.
    async fn fetch_allowed(&self, uri: &str) -> Result<Vec<u8>, String> {
        if crate::outbound::url_allowed(uri, self.allow_private) {
            self.fetch(uri).await
        } else {
            Err("its address is not a public one".to_owned())
        }
    }

    /// The key set the discovery document at `document` names, for `issuer`.
    async fn discover(&self, issuer: &str, document: &str) -> Result<Vec<u8>, String> {
        let body = self.fetch_allowed(document).await?;
        let jwks_uri = discovered_jwks_uri(issuer, &body)?;
        self.fetch_allowed(&jwks_uri).await
    }

    async fn fetch(&self, uri: &str) -> Result<Vec<u8>, String> {
        let accept = "application/json, application/jwk-set+json";
        crate::outbound::fetch_bounded(&self.http, uri, accept, self.config.max_bytes)
            .await
            .map(|fetched| fetched.body)
    }
}

/// The `jwks_uri` an issuer's discovery document names, if the document is the issuer's own
/// (OpenID Connect Discovery §4.3) and, for an https issuer, the keys come over https too (or
/// anyone on the path could swap them).
fn discovered_jwks_uri(issuer: &str, document: &[u8]) -> Result<String, String> {
    let metadata: serde_json::Value = serde_json::from_slice(document)
        .map_err(|_| "its discovery document is not JSON".to_owned())?;
    if metadata["issuer"].as_str() != Some(issuer) {
        return Err("its discovery document names another `issuer`".to_owned());
    }
    let jwks_uri = metadata["jwks_uri"]
        .as_str()
        .ok_or_else(|| "its discovery document has no `jwks_uri`".to_owned())?;
    if issuer.starts_with("https://") && !jwks_uri.starts_with("https://") {
        return Err("its discovery document names a `jwks_uri` that is not https".to_owned());
    }
    Ok(jwks_uri.to_owned())
}

/// OpenID Connect Discovery §4: the document's address for `issuer`.
fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

#[cfg(test)]
mod tests {
    use super::discovered_jwks_uri;

    #[test]
    fn a_discovery_document_must_be_the_issuers_own_and_keep_https() {
        let issuer = "https://k8s.example";
        let doc = |iss: &str, jwks: &str| format!(r#"{{"issuer": "{iss}", "jwks_uri": "{jwks}"}}"#);
        assert_eq!(
            discovered_jwks_uri(issuer, doc(issuer, "https://k8s.example/keys").as_bytes()),
            Ok("https://k8s.example/keys".to_owned())
        );
        for (document, says) in [
            (
                doc("https://other.example", "https://k8s.example/keys"),
                "another `issuer`",
            ),
            (doc(issuer, "http://k8s.example/keys"), "not https"),
            (
                r#"{"issuer": "https://k8s.example"}"#.to_owned(),
                "no `jwks_uri`",
            ),
            ("not json".to_owned(), "not JSON"),
        ] {
            let refused = discovered_jwks_uri(issuer, document.as_bytes()).unwrap_err();
            assert!(refused.contains(says), "{refused}");
        }
        // A loopback issuer over http (tests, closed networks) keeps http.
        let local = "http://127.0.0.1:8081";
        assert!(
            discovered_jwks_uri(local, doc(local, "http://127.0.0.1:8081/keys").as_bytes()).is_ok()
        );
    }
}

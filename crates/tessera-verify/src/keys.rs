//! The issuer's signing keys: found through its discovery document, cached, and fetched again
//! when a token names a key not seen yet — at most once an interval, so that tokens with
//! made-up `kid`s cannot turn into a flood of fetches at the issuer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use tessera_jose::VerifyingKey;

use crate::VerifyError;

/// The keys of one fetch.
#[derive(Default)]
pub(crate) struct KeySet {
    keys: Vec<VerifyingKey>,
}

impl KeySet {
    /// Every key, for a check that names its key by `kid` itself (a SET's).
    pub(crate) fn all(&self) -> &[VerifyingKey] {
        &self.keys
    }

    /// The key with this `kid` (a key set of one key without `kid`s answers any).
    pub(crate) fn by_kid(&self, kid: &str) -> Option<&VerifyingKey> {
        match self.keys.as_slice() {
            [only] if only.kid.is_none() => Some(only),
            keys => keys.iter().find(|k| k.kid.as_deref() == Some(kid)),
        }
    }
}

/// The cache, shared by every request.
pub(crate) struct Keys {
    issuer: String,
    http: reqwest::Client,
    current: ArcSwap<KeySet>,
    /// When the keys were last fetched (`None`: never); held while a fetch runs, so that
    /// requests arriving meanwhile wait for it instead of fetching too.
    fetched: tokio::sync::Mutex<Option<Instant>>,
    refetch_at_most_every: Duration,
}

impl Keys {
    pub(crate) fn new(issuer: String, http: reqwest::Client, every: Duration) -> Keys {
        Keys {
            issuer,
            http,
            current: ArcSwap::from_pointee(KeySet::default()),
            fetched: tokio::sync::Mutex::new(None),
            refetch_at_most_every: every,
        }
    }

    /// The keys in hand.
    pub(crate) fn current(&self) -> Arc<KeySet> {
        self.current.load_full()
    }

    /// Fetches the keys again, unless they were fetched within the interval (or while this
    /// call waited for another's fetch); the keys in hand after it.
    pub(crate) async fn refetch(&self) -> Result<Arc<KeySet>, VerifyError> {
        let mut fetched = self.fetched.lock().await;
        if fetched.is_some_and(|at| at.elapsed() < self.refetch_at_most_every) {
            return Ok(self.current());
        }
        *fetched = Some(Instant::now());
        match self.fetch().await {
            Ok(keys) => {
                self.current.store(Arc::new(keys));
                Ok(self.current())
            }
            Err(why) => {
                tracing::warn!(issuer = %self.issuer, %why, "the issuer's keys could not be fetched");
                Err(VerifyError::KeysUnavailable(why))
            }
        }
    }

    /// Discovery (RFC 8414, falling back to OpenID Connect's document), then its `jwks_uri`.
    async fn fetch(&self) -> Result<KeySet, String> {
        let base = self.issuer.trim_end_matches('/');
        let mut discovery = None;
        for path in [
            "/.well-known/oauth-authorization-server",
            "/.well-known/openid-configuration",
        ] {
            if let Ok(document) = self.json(&format!("{base}{path}")).await {
                discovery = Some(document);
                break;
            }
        }
        let discovery = discovery.ok_or("no discovery document at the issuer")?;
        // RFC 8414 §3.3: the document must name the issuer it was fetched for.
        if discovery["issuer"].as_str() != Some(self.issuer.as_str()) {
            return Err("the discovery document names another issuer".into());
        }
        let jwks_uri = discovery["jwks_uri"]
            .as_str()
            .ok_or("the discovery document has no jwks_uri")?;
        let same_scheme = jwks_uri.starts_with("https://")
            || (self.issuer.starts_with("http://") && jwks_uri.starts_with("http://"));
        if !same_scheme {
            return Err("the jwks_uri is not https".into());
        }
        let jwks = self.json(jwks_uri).await?;
        let keys = VerifyingKey::from_jwks(&jwks);
        if keys.is_empty() {
            return Err("the issuer's key set has no usable key".into());
        }
        Ok(KeySet { keys })
    }

    async fn json(&self, url: &str) -> Result<serde_json::Value, String> {
        let reply = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !reply.status().is_success() {
            return Err(format!("{url} answered {}", reply.status()));
        }
        reply
            .json()
            .await
            .map_err(|e| format!("{url}: not JSON ({e})"))
    }
}

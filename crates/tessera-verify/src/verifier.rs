//! The verifier: one per resource, shared by every request.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tessera_jose::{check_times, verify_access_token, JwsError};

use crate::keys::Keys;
use crate::revocations::Revocations;
use crate::{Claims, Rejection, VerifyError};

/// Checks tokens for one resource against one issuer. Cheap to clone (one shared cache).
#[derive(Clone)]
pub struct Verifier(pub(crate) Arc<Inner>);

pub(crate) struct Inner {
    pub(crate) issuer: String,
    resource: String,
    resource_metadata: String,
    leeway_seconds: i64,
    pub(crate) keys: Keys,
    pub(crate) http: reqwest::Client,
    /// What Tessera said no longer holds (a subscription's events).
    pub(crate) revocations: Revocations,
    /// How long a revocation is remembered, seconds.
    pub(crate) forget_after: i64,
    /// Tokens checked before, with their claims: a client sends the same token until it
    /// expires, and its second check is a lookup, not a signature (bounded, least recently
    /// used out first; the times are checked again on every use).
    seen: Option<quick_cache::sync::Cache<String, Arc<Claims>>>,
    /// DPoP proofs taken within their window (key thumbprint and `jti`), so none is taken
    /// twice (RFC 9449 §11.1); bounded, the oldest going first.
    proofs: quick_cache::sync::Cache<String, ()>,
    /// The scheme and host requests reach this resource at, for a proof's `htu`.
    origin: String,
}

/// How a [`Verifier`] is made: [`Verifier::builder`], the settings, [`VerifierBuilder::build`].
pub struct VerifierBuilder {
    issuer: String,
    resource: String,
    resource_metadata: Option<String>,
    leeway: Duration,
    refetch_at_most_every: Duration,
    http: Option<reqwest::Client>,
    remember: usize,
    forget_after: Duration,
    public_origin: Option<String>,
}

impl VerifierBuilder {
    /// How many checked tokens to remember (default 10,000; 0 remembers none).
    pub fn remember_tokens(mut self, tokens: usize) -> Self {
        self.remember = tokens;
        self
    }

    /// Where the resource's RFC 9728 metadata is served, for the `WWW-Authenticate` pointer.
    /// By default the well-known URL RFC 9728 §3.1 derives from the resource identifier.
    pub fn resource_metadata(mut self, url: impl Into<String>) -> Self {
        self.resource_metadata = Some(url.into());
        self
    }

    /// The clock skew allowed either way on `exp` and `nbf` (default 60 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The least time between two fetches of the issuer's keys (default 30 s): a token naming
    /// an unknown key fetches them again at most this often.
    pub fn refetch_at_most_every(mut self, every: Duration) -> Self {
        self.refetch_at_most_every = every;
        self
    }

    /// How long a revocation heard through a subscription is remembered (default a day: longer
    /// than any token Tessera issues lives).
    pub fn remember_revocations_for(mut self, time: Duration) -> Self {
        self.forget_after = time;
        self
    }

    /// Where clients reach this service (`https://api.example`), for the `htu` of their DPoP
    /// proofs: by default the scheme and host of the resource identifier.
    pub fn public_origin(mut self, origin: impl Into<String>) -> Self {
        self.public_origin = Some(origin.into().trim_end_matches('/').to_owned());
        self
    }

    /// The HTTP client the keys are fetched with (its timeouts, proxy and roots).
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// The verifier. Nothing is fetched until the first token comes.
    pub fn build(self) -> Verifier {
        let http = self.http.unwrap_or_else(|| {
            reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default()
        });
        let resource_metadata = self
            .resource_metadata
            .unwrap_or_else(|| well_known_metadata(&self.resource));
        let origin = self
            .public_origin
            .unwrap_or_else(|| origin_of(&self.resource));
        Verifier(Arc::new(Inner {
            keys: Keys::new(
                self.issuer.clone(),
                http.clone(),
                self.refetch_at_most_every,
            ),
            http,
            revocations: Revocations::default(),
            forget_after: i64::try_from(self.forget_after.as_secs()).unwrap_or(i64::MAX),
            issuer: self.issuer,
            resource: self.resource,
            resource_metadata,
            leeway_seconds: i64::try_from(self.leeway.as_secs()).unwrap_or(i64::MAX),
            seen: (self.remember > 0).then(|| quick_cache::sync::Cache::new(self.remember)),
            proofs: quick_cache::sync::Cache::new(100_000),
            origin,
        }))
    }
}

impl Verifier {
    /// A verifier of the tokens `issuer` (Tessera's issuer URL, as its discovery names it)
    /// issues for `resource` (this resource server's identifier, which `aud` must hold).
    pub fn builder(issuer: impl Into<String>, resource: impl Into<String>) -> VerifierBuilder {
        VerifierBuilder {
            issuer: issuer.into(),
            resource: resource.into(),
            resource_metadata: None,
            leeway: Duration::from_secs(60),
            refetch_at_most_every: Duration::from_secs(30),
            http: None,
            remember: 10_000,
            forget_after: Duration::from_secs(86_400),
            public_origin: None,
        }
    }

    /// The resource identifier.
    pub fn resource(&self) -> &str {
        &self.0.resource
    }

    /// Checks `token` (the bearer token, without `Bearer `) and gives its claims.
    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        let seen = self.0.seen.as_ref().and_then(|seen| seen.get(token));
        if let Some(claims) = seen {
            // Its signature, issuer and audience held when it was first checked.
            self.check_times(&claims, now)?;
            self.check_standing(&claims)?;
            return Ok(Claims::clone(&claims));
        }
        let keys = self.0.keys.current();
        let payload = match verify_access_token(token, |kid| keys.by_kid(kid)) {
            // A key not seen yet (or no keys yet): fetch them, within the rate, and once more.
            Err(JwsError::UnknownKey(_)) => {
                let keys = self.0.keys.refetch().await?;
                verify_access_token(token, |kid| keys.by_kid(kid))?
            }
            checked => checked?,
        };
        let claims: Claims = serde_json::from_slice(&payload)
            .map_err(|_| VerifyError::Invalid(JwsError::BadClaims))?;
        self.check_times(&claims, now)?;
        if !claims.aud.iter().any(|a| a == &self.0.resource) {
            return Err(VerifyError::WrongAudience(self.0.resource.clone()));
        }
        if let Some(seen) = &self.0.seen {
            seen.insert(token.to_owned(), Arc::new(claims.clone()));
        }
        self.check_standing(&claims)?;
        Ok(claims)
    }

    /// Whether a subscription heard that the token no longer holds.
    fn check_standing(&self, claims: &Claims) -> Result<(), VerifyError> {
        match self.0.revocations.refuses(claims) {
            Some(why) => Err(VerifyError::Revoked(why)),
            None => Ok(()),
        }
    }

    /// Checks a request's token as RFC 9449 §7 has a resource server do: `Authorization:
    /// Bearer <token>` for an unbound token; `Authorization: DPoP <token>` with one `DPoP`
    /// proof for this `method` and `path` (`htm`, `htu`, `ath`, `iat` within a minute, a `jti`
    /// not seen before) signed by the key the token names in `cnf.jkt`. A bound token sent as
    /// a bearer token is refused.
    pub async fn verify_request(
        &self,
        method: &str,
        path: &str,
        headers: &http::HeaderMap,
    ) -> Result<Claims, VerifyError> {
        let (dpop, token) = crate::layer::authorization(headers)?;
        let claims = self.verify(token).await?;
        let jkt = claims
            .extra
            .get("cnf")
            .and_then(|c| c.get("jkt"))
            .and_then(|j| j.as_str());
        match (jkt, dpop) {
            (None, false) => Ok(claims),
            (Some(_), false) => Err(VerifyError::Dpop(
                "the token is bound to a DPoP key: send it as `Authorization: DPoP` with a proof"
                    .into(),
            )),
            (None, true) => Err(VerifyError::Dpop(
                "the token is not bound to a DPoP key: send it as a bearer token".into(),
            )),
            (Some(jkt), true) => {
                self.check_proof(method, path, token, jkt, headers)?;
                Ok(claims)
            }
        }
    }

    fn check_proof(
        &self,
        method: &str,
        path: &str,
        token: &str,
        jkt: &str,
        headers: &http::HeaderMap,
    ) -> Result<(), VerifyError> {
        let mut proofs = headers.get_all("dpop").iter();
        let (Some(proof), None) = (proofs.next(), proofs.next()) else {
            return Err(VerifyError::Dpop(
                "a DPoP-bound token needs one `DPoP` proof with each request".into(),
            ));
        };
        let proof = proof
            .to_str()
            .map_err(|_| VerifyError::Dpop("the `DPoP` header is not ASCII".into()))?;
        let uri = format!("{}{path}", self.0.origin);
        let request = tessera_jose::DpopRequest {
            method,
            uri: &uri,
            now: now_seconds(),
            window: 60,
            access_token: Some(token),
            nonce: None,
        };
        let proof = tessera_jose::check_dpop_proof(proof, &request)
            .map_err(|e| VerifyError::Dpop(e.to_string()))?;
        if proof.jkt != jkt {
            return Err(VerifyError::Dpop(
                "the DPoP proof is signed by another key than the token's".into(),
            ));
        }
        match self.0.proofs.get_value_or_guard(
            &format!("{} {}", proof.jkt, proof.jti),
            Some(Duration::ZERO),
        ) {
            quick_cache::sync::GuardResult::Guard(first) => {
                let _ = first.insert(());
                Ok(())
            }
            _ => Err(VerifyError::Dpop(
                "this DPoP proof was used already; make a new one for each request".into(),
            )),
        }
    }

    fn check_times(&self, claims: &Claims, now: i64) -> Result<(), VerifyError> {
        let (issuer, leeway) = (&self.0.issuer, self.0.leeway_seconds);
        Ok(check_times(
            &claims.iss,
            claims.exp,
            claims.nbf,
            issuer,
            now,
            leeway,
        )?)
    }

    /// Checks `token` and that it carries every scope of `scopes`.
    pub async fn verify_scopes(
        &self,
        token: &str,
        scopes: &[String],
    ) -> Result<Claims, VerifyError> {
        let claims = self.verify(token).await?;
        if scopes.iter().all(|s| claims.has_scope(s)) {
            Ok(claims)
        } else {
            Err(VerifyError::InsufficientScope(scopes.to_vec()))
        }
    }

    /// `error` as the answer to send, pointing at this resource's metadata.
    pub fn reject(&self, error: VerifyError) -> Rejection {
        Rejection {
            error,
            resource_metadata: Some(self.0.resource_metadata.clone()),
        }
    }

    /// The resource's RFC 9728 metadata document, for the resource server to serve at
    /// [`VerifierBuilder::resource_metadata`]'s URL: the resource, its authorization server
    /// (this issuer), the scopes it takes, bearer tokens in the header only.
    pub fn protected_resource_metadata(&self, scopes: &[&str]) -> serde_json::Value {
        serde_json::json!({
            "resource": self.0.resource,
            "authorization_servers": [self.0.issuer],
            "scopes_supported": scopes,
            "bearer_methods_supported": ["header"],
        })
    }
}

fn now_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The scheme and host of a URL (`https://api.example/mcp` → `https://api.example`).
fn origin_of(resource: &str) -> String {
    let Some((scheme, rest)) = resource.split_once("://") else {
        return resource.trim_end_matches('/').to_owned();
    };
    let host = rest.split('/').next().unwrap_or(rest);
    format!("{scheme}://{host}")
}

/// RFC 9728 §3.1: `/.well-known/oauth-protected-resource` between the identifier's host and its
/// path (`https://api.example/mcp` → `https://api.example/.well-known/oauth-protected-resource/mcp`).
fn well_known_metadata(resource: &str) -> String {
    const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";
    let Some((scheme, rest)) = resource.split_once("://") else {
        return format!("{resource}{WELL_KNOWN}");
    };
    let (host, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
    let path = path.trim_end_matches('/');
    format!("{scheme}://{host}{WELL_KNOWN}{path}")
}

#[cfg(test)]
mod tests {
    use super::well_known_metadata;

    #[test]
    fn the_metadata_url_puts_the_well_known_part_between_host_and_path() {
        assert_eq!(
            well_known_metadata("https://api.example/mcp"),
            "https://api.example/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(
            well_known_metadata("https://api.example/"),
            "https://api.example/.well-known/oauth-protected-resource"
        );
        assert_eq!(
            well_known_metadata("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080/.well-known/oauth-protected-resource"
        );
    }
}

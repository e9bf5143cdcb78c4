//! What a verified token says, typed for the handler.

use serde::{Deserialize, Deserializer};

/// The claims of a verified Tessera access token (RFC 9068 §2.2, SPEC §3.1). The names Tessera
/// gives its claims are fields; anything else (an integration's custom claims) is in
/// [`Claims::extra`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Claims {
    /// The issuer.
    pub iss: String,
    /// Whom the token is about: the integration's `client_id`, or the person it acts for.
    pub sub: String,
    /// The audiences (one in Tessera's tokens: the resource it was issued for).
    #[serde(deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Not before, Unix seconds.
    #[serde(default)]
    pub nbf: i64,
    /// Issued at, Unix seconds.
    #[serde(default)]
    pub iat: i64,
    /// The token's id, which a revocation names.
    #[serde(default)]
    pub jti: String,
    /// The integration (client) the token was issued to.
    pub client_id: String,
    /// The granted scopes, space-separated ([`Claims::scopes`] splits them).
    #[serde(default)]
    pub scope: String,
    /// The tenant whose data the token reaches (`tenant_id`).
    #[serde(default, rename = "tenant_id")]
    pub tenant: Option<String>,
    /// RFC 8693 §4.1: who acts for `sub`, nested for each further actor.
    #[serde(default)]
    pub act: Option<serde_json::Value>,
    /// Every other claim: the integration's custom claims, `tier`, `name`, ….
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Claims {
    /// The granted scopes, one by one.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split_ascii_whitespace()
    }

    /// Whether `scope` was granted.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().any(|s| s == scope)
    }
}

/// RFC 7519 §4.1.3: `aud` is a string or an array of strings.
fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Aud {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Aud::deserialize(d)? {
        Aud::One(a) => vec![a],
        Aud::Many(a) => a,
    })
}

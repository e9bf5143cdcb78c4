use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The claims of a Tessera access token (RFC 9068 §2.2, SPEC §3.1). The core serializes these
/// because it signs them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
    pub client_id: String,
    pub scope: String,
    pub tenant_id: String,
    pub tier: String,
    pub name: String,
    /// RFC 8693 §4.1: who acts for `sub`, nested for each further actor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Actor>,
    /// RFC 8693: the tokens this one was exchanged from, oldest first. Revoking any of them, or
    /// deleting the integration it was issued to, ends this one too (SPEC §3.4).
    #[serde(
        rename = "tessera_from",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub exchanged_from: Vec<Origin>,
    /// The grant another tenant gave the integration that this token reaches that tenant's
    /// data under (an app authorization, SPEC §8). Revoking the grant ends the token.
    #[serde(
        rename = "tessera_grant",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub grant: Option<String>,
    /// The integration a user consented to act for them (SPEC §3.3), when the token acts for
    /// `sub` under that consent: a JWT bearer token and every token exchanged from one. The
    /// token is accepted only while the user's consents to that integration still allow its
    /// scopes, so withdrawing a consent ends the tokens issued under it.
    #[serde(
        rename = "tessera_consent",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub consent: Option<String>,
    /// The integration's custom claims.
    #[serde(flatten)]
    pub custom: BTreeMap<String, serde_json::Value>,
}

/// A token another was exchanged from: enough to tell whether it is still live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub jti: String,
    pub client_id: String,
}

/// RFC 8693 §4.1 `act` claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Box<Actor>>,
}

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize, Serializer};

use crate::id::{ClientId, FederatedCredentialId, TenantId, UserId};
use crate::scope::ScopeSet;

/// Whom a token is for: the integration it was issued to, or a user it acts for. On the wire
/// it is `sub`: the integration's `client_id`, or the user's id. (A token exchanged by another
/// integration of the tenant from an integration's own token keeps that integration's id as
/// `sub`; like any `sub` that is not the token's `client_id`, it reads as `User`.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenSubject {
    /// An integration acting for itself.
    Integration(ClientId),
    /// A user, for whom an integration acts.
    User(UserId),
}

impl TokenSubject {
    /// The user the token acts for, if any.
    pub fn user(&self) -> Option<UserId> {
        match self {
            TokenSubject::User(id) => Some(*id),
            TokenSubject::Integration(_) => None,
        }
    }
}

impl std::fmt::Display for TokenSubject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenSubject::Integration(id) => id.fmt(f),
            TokenSubject::User(id) => id.fmt(f),
        }
    }
}

impl Serialize for TokenSubject {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The claims of a Tessera access token (RFC 9068 §2.2, SPEC §3.1). The core serializes these
/// because it signs them; they are read back typed (ids, scopes, subject), so nothing
/// downstream parses them again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "WireClaims")]
pub struct AccessTokenClaims {
    /// The issuer.
    pub iss: String,
    /// Whom the token is about.
    pub sub: TokenSubject,
    /// The audience.
    pub aud: String,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Not before, Unix seconds.
    pub nbf: i64,
    /// The token's id, which revocation names.
    pub jti: String,
    /// The integration the token was issued to.
    pub client_id: ClientId,
    /// The scopes granted.
    #[serde(serialize_with = "scope_text")]
    pub scope: ScopeSet,
    /// The tenant whose data the token reaches.
    pub tenant_id: TenantId,
    /// The tenant's tier.
    pub tier: String,
    /// The integration's display name.
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
    pub consent: Option<ClientId>,
    /// The federated credential (SPEC §14) whose platform token authenticated the request
    /// this token answered, or the token it was exchanged from. Removing the credential, or
    /// the trust in its issuer, ends the token.
    #[serde(
        rename = "tessera_federated",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub federated: Option<FederatedCredentialId>,
    /// RFC 9449 §6.1: the key the token is bound to (DPoP), by its RFC 7638 thumbprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
    /// The integration's custom claims.
    #[serde(flatten)]
    pub custom: BTreeMap<String, serde_json::Value>,
}

/// RFC 7800 `cnf`: what the presenter of the token must prove to hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// RFC 9449: the SHA-256 JWK thumbprint of the DPoP key.
    pub jkt: String,
}

fn scope_text<S: Serializer>(scope: &ScopeSet, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(scope)
}

/// The claims as they are on the wire, before the ids, scopes and subject are read.
#[derive(Deserialize)]
struct WireClaims {
    iss: String,
    sub: String,
    aud: String,
    exp: i64,
    iat: i64,
    nbf: i64,
    jti: String,
    client_id: ClientId,
    scope: String,
    tenant_id: TenantId,
    tier: String,
    name: String,
    #[serde(default)]
    act: Option<Actor>,
    #[serde(rename = "tessera_from", default)]
    exchanged_from: Vec<Origin>,
    #[serde(rename = "tessera_grant", default)]
    grant: Option<String>,
    #[serde(rename = "tessera_consent", default)]
    consent: Option<ClientId>,
    #[serde(rename = "tessera_federated", default)]
    federated: Option<FederatedCredentialId>,
    #[serde(default)]
    cnf: Option<Confirmation>,
    #[serde(flatten)]
    custom: BTreeMap<String, serde_json::Value>,
}

impl TryFrom<WireClaims> for AccessTokenClaims {
    type Error = String;

    fn try_from(w: WireClaims) -> Result<Self, String> {
        let sub = if w.sub == w.client_id.to_string() {
            TokenSubject::Integration(w.client_id)
        } else {
            TokenSubject::User(w.sub.parse().map_err(|e| format!("`sub`: {e}"))?)
        };
        Ok(AccessTokenClaims {
            iss: w.iss,
            sub,
            aud: w.aud,
            exp: w.exp,
            iat: w.iat,
            nbf: w.nbf,
            jti: w.jti,
            client_id: w.client_id,
            scope: ScopeSet::parse(&w.scope).map_err(|e| format!("`scope`: {e}"))?,
            tenant_id: w.tenant_id,
            tier: w.tier,
            name: w.name,
            act: w.act,
            exchanged_from: w.exchanged_from,
            grant: w.grant,
            consent: w.consent,
            federated: w.federated,
            cnf: w.cnf,
            custom: w.custom,
        })
    }
}

/// A token another was exchanged from: enough to tell whether it is still live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// The `jti` of the token it was exchanged from.
    pub jti: String,
    /// The integration that token was issued to.
    pub client_id: ClientId,
}

/// RFC 8693 §4.1 `act` claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The actor's subject.
    pub sub: String,
    /// The actor before it, for a chain of exchanges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Box<Actor>>,
}

/// Claims of an integration's own token, for tests.
#[cfg(test)]
pub(crate) fn sample_claims() -> AccessTokenClaims {
    let client = ClientId::from_uuid(uuid::Uuid::from_bytes([1; 16]));
    AccessTokenClaims {
        iss: "http://issuer".into(),
        sub: TokenSubject::Integration(client),
        aud: "http://issuer".into(),
        exp: 2000,
        iat: 1000,
        nbf: 1000,
        jti: "j".into(),
        client_id: client,
        scope: crate::scope::ScopeSet::from_iter([crate::scope::Scope::AssetsRead]),
        tenant_id: TenantId::from_uuid(uuid::Uuid::from_bytes([2; 16])),
        tier: "FREE".into(),
        name: "n".into(),
        act: None,
        exchanged_from: Vec::new(),
        grant: None,
        consent: None,
        federated: None,
        cnf: None,
        custom: BTreeMap::from([("department".into(), "ops".into())]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_read_back_typed_and_refuse_what_does_not_parse() {
        let claims = sample_claims();
        let json = serde_json::to_value(&claims).unwrap();
        assert_eq!(json["sub"], claims.client_id.to_string());
        assert_eq!(json["scope"], "assets:read");
        assert_eq!(json["tenant_id"], claims.tenant_id.to_string());
        let back: AccessTokenClaims = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back, claims);
        // A `sub` other than the client is the user the token acts for.
        let user = UserId::from_uuid(uuid::Uuid::from_bytes([3; 16]));
        let mut for_user = json.clone();
        for_user["sub"] = user.to_string().into();
        let read: AccessTokenClaims = serde_json::from_value(for_user).unwrap();
        assert_eq!(read.sub, TokenSubject::User(user));
        assert_eq!(read.sub.user(), Some(user));
        for (field, value) in [
            ("sub", "not-a-uuid"),
            ("scope", "assets:read root"),
            ("client_id", "c"),
            ("tenant_id", "t"),
        ] {
            let mut bad = json.clone();
            bad[field] = value.into();
            let e = serde_json::from_value::<AccessTokenClaims>(bad).unwrap_err();
            assert!(
                e.to_string().contains(field) || field.ends_with("_id"),
                "{field}: {e}"
            );
        }
    }
}

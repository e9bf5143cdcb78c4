//! Grants: a parsed token request in, a signed access token out. No I/O: the caller hands in the
//! authenticated client, the signing key, the time and the randomness.

mod authorization_code;
mod client_credentials;
#[cfg(test)]
pub(crate) mod fixtures;
mod jwt_bearer;
mod refresh_token;
mod request;
mod tms;
mod token_exchange;

pub use authorization_code::{
    issue as issue_authorization_code, personal_scopes, pkce_matches, read_authorization_request,
    redirect_uri_registered, resolve_resource, AuthorizationRequest, AuthorizeRefusal, CodeGrant,
    KnownResource, CODE_TTL_SECONDS, GRANT_AUTHORIZATION_CODE,
};
pub use client_credentials::{
    issue as issue_client_credentials, issue_for_connection, TenantReach,
};
pub use jwt_bearer::{assertion_client, issue as issue_jwt_bearer, no_such_user, Delegation};
pub use refresh_token::{
    issue as issue_refresh, refresh_token_family, refresh_token_hash, rotate as rotate_refresh,
    start_family as start_refresh_family, RefreshAsk, RefreshRefusal, GRANT_REFRESH_TOKEN,
};
pub use request::{ExchangeRequest, TokenRequest};
pub use tms::{issue as issue_tms, tms_version, TmsRefusal};
pub use token_exchange::{
    exchange_audience, issue as issue_token_exchange, Exchange, MAX_EXCHANGE_DEPTH,
    TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT,
};

use std::collections::BTreeMap;

use crate::client_auth::RegisteredClient;
use crate::error::{OAuthError, OAuthErrorCode};
use crate::id::TenantId;
use crate::ports::Rng;
use crate::scope::ScopeSet;
use crate::token::{AccessTokenClaims, SigningKey, TokenSubject};

/// RFC 6749 §4.4.
pub const GRANT_CLIENT_CREDENTIALS: &str = "client_credentials";
/// RFC 7523 §2.1.
pub const GRANT_JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// RFC 8693.
pub const GRANT_TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// Everything a grant needs besides the request and the client.
pub struct IssueContext<'a> {
    /// The `iss` of the tokens minted.
    pub issuer: &'a str,
    /// The `aud` of the tokens minted.
    pub audience: &'a str,
    /// Now, in seconds since the epoch.
    pub now_seconds: i64,
    /// The key that signs.
    pub key: &'a SigningKey,
    /// Where token ids come from.
    pub rng: &'a dyn Rng,
    /// The federated credential that authenticated the client (SPEC §14), named in the token
    /// so that removing the credential ends it.
    pub federated: Option<crate::id::FederatedCredentialId>,
    /// RFC 9449: the thumbprint of the key of the DPoP proof the request came with; the token
    /// minted is bound to it (`cnf.jkt`).
    pub dpop_jkt: Option<&'a str>,
}

/// A minted token and what the response and the audit log say of it.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The signed JWT.
    pub access_token: String,
    /// Its lifetime in seconds.
    pub expires_in: u32,
    /// The scopes granted.
    pub scope: ScopeSet,
    /// What it says, for the audit log and the response.
    pub claims: AccessTokenClaims,
}

/// RFC 6749 §3.3: the requested scope narrows what is allowed; none requested means all of it.
pub fn narrow_scope(requested: Option<&str>, allowed: ScopeSet) -> Result<ScopeSet, OAuthError> {
    narrow_scope_within(requested, allowed, "this integration may not request")
}

/// [`narrow_scope`], where `refusal` says why a scope beyond `allowed` is refused.
fn narrow_scope_within(
    requested: Option<&str>,
    allowed: ScopeSet,
    refusal: &str,
) -> Result<ScopeSet, OAuthError> {
    let Some(requested) = requested else {
        return Ok(allowed);
    };
    let requested = ScopeSet::parse(requested).map_err(|e| {
        OAuthError::invalid_scope(format!(
            "`scope` contains {e}; known scopes: {}",
            ScopeSet::from_iter(crate::scope::Scope::ALL)
        ))
    })?;
    if requested.is_empty() {
        return Err(OAuthError::invalid_scope(
            "`scope` is empty: leave it out to get every allowed scope, or name at least one",
        ));
    }
    let refused = requested.difference(allowed);
    if !refused.is_empty() {
        return Err(OAuthError::invalid_scope(format!(
            "`scope` contains `{refused}`, which {refusal}; allowed: {allowed}"
        )));
    }
    Ok(requested)
}

/// Whom a token is for: the integration itself, or a user it acts for.
struct Subject {
    sub: TokenSubject,
    tenant_id: TenantId,
    tier: String,
    act: Option<crate::token::Actor>,
    /// The token expires no later than this (an exchanged token outlives no token it came from).
    expires_by: Option<i64>,
    exchanged_from: Vec<crate::token::Origin>,
    /// The other tenant's grant the token reaches its data under.
    grant: Option<String>,
    /// The integration whose consent from the user the token acts under.
    consent: Option<crate::id::ClientId>,
    /// The federated credential the token it was exchanged from was issued through.
    federated: Option<crate::id::FederatedCredentialId>,
    /// The token's id, when the grant decides it (a code's id); random otherwise.
    jti: Option<String>,
    /// The token's `aud`, when the grant names a resource (RFC 8707); the context's otherwise.
    audience: Option<String>,
}

impl Subject {
    /// The integration itself, or a user it acts for: nothing inherited from another token.
    fn direct(
        sub: TokenSubject,
        tenant_id: TenantId,
        tier: crate::model::Tier,
        act: Option<crate::token::Actor>,
    ) -> Self {
        Subject {
            sub,
            tenant_id,
            tier: tier.as_str().to_owned(),
            act,
            expires_by: None,
            exchanged_from: Vec::new(),
            grant: None,
            consent: None,
            federated: None,
            jti: None,
            audience: None,
        }
    }
}

/// Builds and signs the claims that every grant shares.
fn mint(
    ctx: &IssueContext<'_>,
    client: &RegisteredClient,
    subject: Subject,
    scope: ScopeSet,
) -> Result<IssuedToken, OAuthError> {
    let integration = &client.integration;
    // RFC 9449 §5.2: such a client's every token is bound, whichever grant it comes by.
    if integration.dpop_bound_access_tokens && ctx.dpop_jkt.is_none() {
        return Err(OAuthError::new(
            crate::error::OAuthErrorCode::InvalidDpopProof,
            "this integration's tokens must be DPoP-bound (`dpop_bound_access_tokens`): send a `DPoP` proof with the request",
        ));
    }
    let mut exp = ctx.now_seconds + i64::from(integration.token_ttl_seconds);
    if let Some(limit) = subject.expires_by {
        exp = exp.min(limit);
    }
    let claims = AccessTokenClaims {
        iss: ctx.issuer.to_owned(),
        sub: subject.sub,
        aud: subject.audience.unwrap_or_else(|| ctx.audience.to_owned()),
        exp,
        iat: ctx.now_seconds,
        nbf: ctx.now_seconds,
        jti: subject
            .jti
            .unwrap_or_else(|| crate::crypto::random_token(ctx.rng, 16)),
        client_id: integration.client_id,
        scope,
        tenant_id: subject.tenant_id,
        tier: subject.tier,
        name: integration.display_name.clone(),
        act: subject.act,
        exchanged_from: subject.exchanged_from,
        grant: subject.grant,
        consent: subject.consent,
        federated: subject.federated.or(ctx.federated),
        cnf: ctx.dpop_jkt.map(|jkt| crate::token::Confirmation {
            jkt: jkt.to_owned(),
        }),
        custom: integration
            .custom_claims
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect::<BTreeMap<_, _>>(),
    };
    let access_token = ctx.key.mint(&claims).map_err(|e| {
        OAuthError::new(
            OAuthErrorCode::ServerError,
            format!("could not sign the token: {e}"),
        )
    })?;
    Ok(IssuedToken {
        access_token,
        expires_in: u32::try_from(exp - ctx.now_seconds).unwrap_or(0),
        scope,
        claims,
    })
}

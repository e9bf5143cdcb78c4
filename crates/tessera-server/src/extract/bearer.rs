//! Bearer tokens (RFC 6750) on the management and resource APIs.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use tessera_core::id::{ClientId, TenantId};
use tessera_core::policy::{ActorAccess, Principal};
use tessera_core::scope::{Scope, ScopeSet};
use tessera_core::token::AccessTokenClaims;
use tessera_core::token::TokenSubject;

use crate::dpop::{take_proof, ProofFor};
use crate::error::{ApiError, DpopAt, DpopRefusal};
use crate::state::AppState;

/// A valid access token from the `Authorization` header.
pub struct BearerToken(pub Arc<AccessTokenClaims>);

impl FromRequestParts<AppState> for BearerToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let claims = request_claims(parts, state)?;
        crate::access_log::RequestNotes::client(&parts.extensions, claims.client_id);
        Ok(BearerToken(claims))
    }
}

/// How the token came (RFC 6750 `Bearer`, RFC 9449 `DPoP`), and the token.
fn authorization(headers: &axum::http::HeaderMap) -> Result<(bool, &str), ApiError> {
    let value = headers.get(header::AUTHORIZATION).ok_or_else(|| {
        ApiError::InvalidToken("no access token: send `Authorization: Bearer <token>`".into())
    })?;
    let value = value.to_str().unwrap_or("");
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    let token = token.trim();
    let dpop = scheme.eq_ignore_ascii_case("dpop");
    if !(dpop || scheme.eq_ignore_ascii_case("bearer")) || token.is_empty() {
        return Err(ApiError::InvalidToken(
            "the Authorization header is not `Bearer <token>` (or `DPoP <token>` with a proof)"
                .into(),
        ));
    }
    Ok((dpop, token))
}

/// The request's valid token: a bearer token, or a DPoP-bound one with its proof for this
/// very request (`htm`, `htu`, `ath`, signed by the key of `cnf.jkt`, never seen before).
fn request_claims(parts: &Parts, state: &AppState) -> Result<Arc<AccessTokenClaims>, ApiError> {
    let (dpop, token) = authorization(&parts.headers)?;
    let claims = state
        .validate_token(token)
        .map_err(|reason| ApiError::InvalidToken(reason.to_string()))?;
    let refused = |refusal| ApiError::Dpop(refusal, DpopAt::Api);
    match (&claims.cnf, dpop) {
        (None, false) => Ok(claims),
        (Some(_), false) => Err(refused(DpopRefusal::WrongScheme(
            "the token is bound to a DPoP key (`cnf.jkt`): send it as `Authorization: DPoP <token>` with a `DPoP` proof".into(),
        ))),
        (None, true) => Err(refused(DpopRefusal::WrongScheme(
            "the token is not bound to a DPoP key: send it as `Authorization: Bearer <token>`".into(),
        ))),
        (Some(cnf), true) => {
            let made_for = ProofFor {
                method: parts.method.as_str(),
                path: parts.uri.path(),
                access_token: Some(token),
            };
            let proof = take_proof(state, &parts.headers, made_for)
                .map_err(refused)?
                .ok_or_else(|| {
                    refused(DpopRefusal::Invalid(
                        "a DPoP-bound token needs a `DPoP` proof made for each request".into(),
                    ))
                })?;
            if proof.jkt != cnf.jkt {
                return Err(refused(DpopRefusal::Invalid(
                    "the DPoP proof is signed by another key than the one the token is bound to".into(),
                )));
            }
            Ok(claims)
        }
    }
}

/// The claims of the valid bearer token in `Authorization`, for a handler that reads the
/// header itself because a token there is optional (`/oauth2/register`).
pub fn bearer_claims(
    headers: &axum::http::HeaderMap,
    state: &AppState,
) -> Result<Arc<AccessTokenClaims>, ApiError> {
    let (dpop, token) = authorization(headers)?;
    let claims = state
        .validate_token(token)
        .map_err(|reason| ApiError::InvalidToken(reason.to_string()))?;
    if dpop || claims.cnf.is_some() {
        return Err(ApiError::InvalidToken(
            "this endpoint takes a bearer token, not a DPoP-bound one".into(),
        ));
    }
    Ok(claims)
}

/// A caller that administers a tenant: a token with the `admin` scope (SPEC §4), or an admin
/// signed in to the console (`console::shell`).
#[derive(Debug, Clone)]
pub struct TenantAdmin {
    pub tenant: TenantId,
    /// For the audit log: `client:<client_id>`, or `user:<id>` from the console.
    pub actor: String,
}

impl FromRequestParts<AppState> for TenantAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let BearerToken(claims) = BearerToken::from_request_parts(parts, state).await?;
        if !claims.scope.contains(Scope::Admin) {
            return Err(ApiError::InsufficientScope("admin"));
        }
        Ok(TenantAdmin {
            tenant: claims.tenant_id,
            actor: format!("client:{}", claims.client_id),
        })
    }
}

/// A caller that manages tenants (SPEC §4.1): a token with `platform`, issued to an
/// integration of the operator tenant for the operator tenant itself.
pub struct PlatformCaller {
    /// The operator tenant.
    pub tenant: TenantId,
    /// For the audit log: `client:<client_id>`.
    pub actor: String,
}

impl FromRequestParts<AppState> for PlatformCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let BearerToken(claims) = BearerToken::from_request_parts(parts, state).await?;
        if !claims.scope.contains(Scope::Platform) {
            return Err(ApiError::InsufficientScope("platform"));
        }
        let tenant = claims.tenant_id;
        // `platform` is only ever given to the operator's integrations; checked again here so
        // that a token minted before a change of the rules cannot manage tenants.
        if !state.clients.tenant(&tenant).is_some_and(|t| t.operator) {
            return Err(ApiError::InsufficientScope("platform"));
        }
        Ok(PlatformCaller {
            tenant,
            actor: format!("client:{}", claims.client_id),
        })
    }
}

/// A caller of the resource API (SPEC §5): a valid token meant for this audience, from a tenant.
/// What it may see is decided per request by its scopes and the tenant's access policies.
pub struct ResourceCaller {
    pub tenant: TenantId,
    pub scopes: ScopeSet,
    /// Who the policies are evaluated for.
    pub principal: Principal,
    /// For events: `client:<id>` or `user:<id>`.
    pub actor: String,
    /// The token came under another tenant's grant (an app authorization): the tenant gave the
    /// application its data within the granted scopes, so access policies, which name the
    /// tenant's own actors, do not narrow it further.
    pub granted: bool,
}

/// A valid token whose audience is this server's API (not one exchanged for another service).
async fn token_for_this_api(
    parts: &mut Parts,
    state: &AppState,
) -> Result<Arc<AccessTokenClaims>, ApiError> {
    let BearerToken(claims) = BearerToken::from_request_parts(parts, state).await?;
    if claims.aud != state.config.audience {
        return Err(ApiError::InvalidToken(format!(
            "the token's audience is not this API (`{}`)",
            state.config.audience
        )));
    }
    Ok(claims)
}

/// A caller of its own private token store (SPEC §7): a token with `private_tokens`. The store
/// is the integration's the token was issued to, whoever it acts for.
pub struct PrivateTokenCaller {
    pub client: ClientId,
    pub tenant: TenantId,
}

impl FromRequestParts<AppState> for PrivateTokenCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let claims = token_for_this_api(parts, state).await?;
        if !claims.scope.contains(Scope::PrivateTokens) {
            return Err(ApiError::InsufficientScope("private_tokens"));
        }
        Ok(PrivateTokenCaller {
            client: claims.client_id,
            tenant: claims.tenant_id,
        })
    }
}

impl FromRequestParts<AppState> for ResourceCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let claims = token_for_this_api(parts, state).await?;
        let tenant = claims.tenant_id;
        let scopes = claims.scope;
        let (principal, actor) = match claims.sub {
            TokenSubject::Integration(id) => (Principal::Integration(id), format!("client:{id}")),
            // A token for a user (issued by a delegation grant): policies name users by email.
            TokenSubject::User(id) => {
                let user = state
                    .storage
                    .get_user(tenant, id)
                    .await
                    .map_err(|e| match e {
                        tessera_core::ports::StoreError::NotFound => {
                            ApiError::InvalidToken("the token's user no longer exists".into())
                        }
                        other => other.into(),
                    })?;
                (Principal::User(user.email), format!("user:{id}"))
            }
        };
        Ok(ResourceCaller {
            tenant,
            scopes,
            principal,
            actor,
            granted: claims.grant.is_some(),
        })
    }
}

impl ResourceCaller {
    /// 403 `insufficient_scope` unless the token carries `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes.contains(scope) {
            Ok(())
        } else {
            Err(ApiError::InsufficientScope(scope.as_str()))
        }
    }

    /// What the caller may do with the tenant's assets: everything with `admin` (which manages
    /// the tenant and reads all of its data) or under a grant (within its scopes, checked by
    /// `require`), otherwise what the access policies grant.
    pub async fn access(&self, state: &AppState) -> Result<Arc<ActorAccess>, ApiError> {
        static EVERYTHING: std::sync::LazyLock<Arc<ActorAccess>> =
            std::sync::LazyLock::new(|| Arc::new(ActorAccess::everything()));
        if self.scopes.contains(Scope::Admin) || self.granted {
            return Ok(EVERYTHING.clone());
        }
        Ok(state
            .tenant_policies(self.tenant)
            .await?
            .access(&self.principal))
    }
}

/// A Shared Signals receiver (SPEC §16): a token with `security_events`, issued to the
/// integration a resource server runs as. It manages and reads only its own streams.
pub struct StreamReceiver {
    pub tenant: TenantId,
    pub receiver: tessera_core::id::ClientId,
}

impl FromRequestParts<AppState> for StreamReceiver {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let BearerToken(claims) = BearerToken::from_request_parts(parts, state).await?;
        if !claims.scope.contains(Scope::SecurityEvents) {
            return Err(ApiError::InsufficientScope("security_events"));
        }
        Ok(StreamReceiver {
            tenant: claims.tenant_id,
            receiver: claims.client_id,
        })
    }
}

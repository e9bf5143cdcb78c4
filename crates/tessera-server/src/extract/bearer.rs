//! Bearer tokens (RFC 6750) on the management and resource APIs.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use tessera_core::id::TenantId;
use tessera_core::scope::{Scope, ScopeSet};
use tessera_core::token::AccessTokenClaims;

use crate::error::ApiError;
use crate::state::AppState;

/// A valid access token from the `Authorization` header.
pub struct BearerToken(pub Arc<AccessTokenClaims>);

impl FromRequestParts<AppState> for BearerToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let value = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
            ApiError::InvalidToken("no access token: send `Authorization: Bearer <token>`".into())
        })?;
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::InvalidToken("the Authorization header is not `Bearer <token>`".into())
            })?;
        state
            .validate_token(token)
            .map(BearerToken)
            .map_err(ApiError::InvalidToken)
    }
}

/// A caller that administers a tenant: a token with the `admin` scope (SPEC §4).
pub struct TenantAdmin {
    pub tenant: TenantId,
    /// For the audit log: `client:<client_id>`.
    pub actor: String,
    pub claims: Arc<AccessTokenClaims>,
}

impl FromRequestParts<AppState> for TenantAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let BearerToken(claims) = BearerToken::from_request_parts(parts, state).await?;
        let scopes = ScopeSet::parse(&claims.scope).unwrap_or_default();
        if !scopes.contains(Scope::Admin) {
            return Err(ApiError::InsufficientScope("admin"));
        }
        let tenant = claims
            .tenant_id
            .parse()
            .map_err(|_| ApiError::InvalidToken("the token's tenant_id is not a tenant".into()))?;
        Ok(TenantAdmin {
            tenant,
            actor: format!("client:{}", claims.client_id),
            claims,
        })
    }
}

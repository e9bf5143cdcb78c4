use std::collections::BTreeMap;

use serde::Serialize;
use tessera_core::token::AccessTokenClaims;
use utoipa::ToSchema;

/// RFC 6749 §5.1 successful token response.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: u32,
    /// The granted scopes, space-separated.
    pub scope: String,
    /// RFC 8693 §2.2.1: the type of the issued token, for token exchange only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_token_type: Option<&'static str>,
    /// For the authorization code and refresh token grants (SPEC §15): the next refresh token.
    /// Each works once; keep the newest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// RFC 6749 §5.2 / RFC 6750 error body, used by every endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorResponse {
    /// The error code, e.g. `invalid_request`, `invalid_client`, `not_found`.
    pub error: String,
    /// What was wrong and how to fix it.
    pub error_description: String,
    /// The request field the error is about, when it is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// RFC 7662 §2.2 introspection response. Only `active` is present for an inactive token.
#[derive(Debug, Serialize, ToSchema, Default)]
pub struct IntrospectionResponse {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub act: Option<serde_json::Value>,
    /// RFC 9449 §6.2: the key a DPoP-bound token is bound to (`{"jkt": …}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub cnf: Option<serde_json::Value>,
    /// The integration's custom claims.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub custom: BTreeMap<String, serde_json::Value>,
}

impl IntrospectionResponse {
    pub fn inactive() -> Self {
        Self::default()
    }

    pub fn active(claims: &AccessTokenClaims) -> Self {
        IntrospectionResponse {
            active: true,
            scope: Some(claims.scope.to_string()),
            client_id: Some(claims.client_id.to_string()),
            token_type: Some(if claims.cnf.is_some() {
                "DPoP"
            } else {
                "Bearer"
            }),
            exp: Some(claims.exp),
            iat: Some(claims.iat),
            nbf: Some(claims.nbf),
            sub: Some(claims.sub.to_string()),
            aud: Some(claims.aud.clone()),
            iss: Some(claims.iss.clone()),
            jti: Some(claims.jti.clone()),
            tenant_id: Some(claims.tenant_id.to_string()),
            tier: Some(claims.tier.clone()),
            name: Some(claims.name.clone()),
            act: claims
                .act
                .as_ref()
                .and_then(|a| serde_json::to_value(a).ok()),
            cnf: claims
                .cnf
                .as_ref()
                .and_then(|c| serde_json::to_value(c).ok()),
            custom: claims.custom.clone(),
        }
    }
}

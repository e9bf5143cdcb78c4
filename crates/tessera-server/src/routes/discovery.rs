//! What the server publishes about itself: its key set (RFC 7517) and its metadata (OpenID
//! Connect Discovery 1.0, RFC 8414).

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use tessera_core::client_auth::CLIENT_ASSERTION_TYPE_JWT;
use tessera_core::grant::{
    GRANT_AUTHORIZATION_CODE, GRANT_CLIENT_CREDENTIALS, GRANT_JWT_BEARER, GRANT_REFRESH_TOKEN,
    GRANT_TOKEN_EXCHANGE, TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT,
};
use tessera_core::scope::{Scope, ScopeSet};
use tessera_core::token::SigningAlg;

use crate::state::AppState;

/// The JSON Web Key Set that verifies this server's tokens (RFC 7517).
#[utoipa::path(get, path = "/oauth2/jwks", tag = "oauth",
    responses((status = 200, description = "RFC 7517 JSON Web Key Set of every key that can verify a live token")))]
pub async fn jwks(State(state): State<AppState>) -> Response {
    let ring = state.keys.load();
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=60"),
            ),
        ],
        ring.jwks_json().to_owned(),
    )
        .into_response()
}

/// Authorization server metadata (RFC 8414): the same document as OpenID Connect Discovery.
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "oauth",
    responses((status = 200, description = "RFC 8414 authorization server metadata")))]
pub async fn authorization_server_metadata(state: State<AppState>) -> Response {
    discovery(state).await
}

/// Where Tessera's own resource API describes itself (RFC 9728): named in every Bearer
/// challenge, so a client that meets a 401 finds the authorization server from it.
pub const PROTECTED_RESOURCE_PATH: &str = "/.well-known/oauth-protected-resource";

/// Protected resource metadata (RFC 9728 §3) of Tessera's own API (`/v1`, `/v2`): the built-in
/// resource server whose identifier is the tokens' default audience.
#[utoipa::path(get, path = "/.well-known/oauth-protected-resource", tag = "oauth",
    responses((status = 200, description = "RFC 9728 protected resource metadata")))]
pub async fn protected_resource_metadata(State(state): State<AppState>) -> Response {
    let issuer = state.config.issuer.trim_end_matches('/');
    (
        [(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=60"),
        )],
        Json(json!({
            "resource": state.config.audience,
            "authorization_servers": [issuer],
            "scopes_supported": ScopeSet::from_iter(Scope::ALL).to_vec(),
            "bearer_methods_supported": ["header"],
            "resource_signing_alg_values_supported": [state.keys.load().current().alg().as_str()],
            "resource_name": "Tessera API",
            "resource_documentation": format!("{issuer}/openapi.json"),
        })),
    )
        .into_response()
}

/// RFC 9728 §5.1: a Bearer challenge of ours names the metadata; other headers pass as they are.
pub async fn point_to_resource_metadata(
    State(state): State<AppState>,
    mut response: Response,
) -> Response {
    let challenge = response.headers().get(header::WWW_AUTHENTICATE);
    if let Some(bearer) = challenge
        .and_then(|c| c.to_str().ok())
        .filter(|c| c.starts_with("Bearer "))
    {
        let issuer = state.config.issuer.trim_end_matches('/');
        let pointed = format!("{bearer}, resource_metadata=\"{issuer}{PROTECTED_RESOURCE_PATH}\"");
        if let Ok(value) = HeaderValue::from_str(&pointed) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
    }
    response
}

/// OpenID Connect Discovery metadata.
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "oauth",
    responses((status = 200, description = "OpenID Connect Discovery 1.0 / RFC 8414 metadata")))]
pub async fn discovery(State(state): State<AppState>) -> Response {
    let issuer = state.config.issuer.trim_end_matches('/');
    let algs: Vec<&str> = vec![state.keys.load().current().alg().as_str()];
    let auth_methods = [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
    ];
    // What integrations may sign assertions with (RFC 7523), whatever the server signs with.
    let assertion_algs: Vec<&str> = SigningAlg::ALL.iter().map(|a| a.as_str()).collect();
    Json(json!({
        "issuer": state.config.issuer,
        "authorization_endpoint": format!("{issuer}/oauth2/authorize"),
        "token_endpoint": format!("{issuer}/oauth2/token"),
        "jwks_uri": format!("{issuer}/oauth2/jwks"),
        "introspection_endpoint": format!("{issuer}/oauth2/introspect"),
        "revocation_endpoint": format!("{issuer}/oauth2/revoke"),
        "grant_types_supported": [GRANT_CLIENT_CREDENTIALS, GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN, GRANT_JWT_BEARER, GRANT_TOKEN_EXCHANGE],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        // SPEC §15: PKCE with S256 on every code; RFC 9207's `iss` in every answer.
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        // SPEC §15: clients nobody typed in, by RFC 7591 or by their metadata document.
        "registration_endpoint": format!("{issuer}/oauth2/register"),
        "client_id_metadata_document_supported": true,
        "subject_types_supported": ["public"],
        "scopes_supported": ScopeSet::from_iter(Scope::ALL).to_vec(),
        "token_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "introspection_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "revocation_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "id_token_signing_alg_values_supported": algs,
        "access_token_signing_alg_values_supported": algs,
        "dpop_signing_alg_values_supported": assertion_algs,
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope", "tenant_id", "tier", "name", "act", "cnf", "tessera_federated"],
        // Workload identity federation (SPEC §14): a platform's identity token as the client
        // assertion, or as an RFC 8693 subject token of type jwt; no standard metadata names
        // it yet, so it is said here in Tessera's own words.
        "client_assertion_types_supported": [CLIENT_ASSERTION_TYPE_JWT],
        "subject_token_types_supported": [TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT],
        "tessera_workload_identity_federation": {
            "trusted_issuers_endpoint": format!("{issuer}/v1/trusted_issuers"),
            "platform_token_signing_alg_values_supported": assertion_algs,
            "client_assertion": true,
            "token_exchange_subject_token_type": TOKEN_TYPE_JWT,
            "tms_client_assertion": true,
        },
        "service_documentation": format!("{issuer}/openapi.json"),
    }))
    .into_response()
}

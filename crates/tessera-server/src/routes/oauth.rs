//! The OAuth 2.0 endpoints (SPEC §3): token, introspection, revocation, JWKS, discovery.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use tessera_core::error::{OAuthError, OAuthErrorCode};
use tessera_core::grant::{self, IssueContext, TokenRequest, GRANT_CLIENT_CREDENTIALS};
use tessera_core::ports::{AuditRecord, Change, RevokedToken};
use tessera_core::scope::{Scope, ScopeSet};

use crate::error::{ApiError, ApiResult};
use crate::extract::{AuthenticatedClient, OAuthForm};
use crate::metrics::{ErrorLabel, GrantLabel};
use crate::state::AppState;
use crate::wire::{IntrospectionResponse, TokenResponse};

/// What the audit log says of an issued token (never the token itself).
#[derive(serde::Serialize)]
struct IssuedDetail<'a> {
    grant_type: &'static str,
    scope: &'a str,
    sub: &'a str,
    exp: i64,
}

/// RFC 6749 §5.1: token responses MUST NOT be cached.
fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// Parses the grant-specific parameters into a [`TokenRequest`].
fn token_request(form: &OAuthForm) -> Result<TokenRequest, OAuthError> {
    match form.require("grant_type")? {
        GRANT_CLIENT_CREDENTIALS => Ok(TokenRequest::ClientCredentials {
            scope: form.get("scope").map(str::to_owned),
        }),
        other => Err(OAuthError::new(
            OAuthErrorCode::UnsupportedGrantType,
            format!(
                "grant_type `{}` is not supported; supported: {GRANT_CLIENT_CREDENTIALS}",
                other.chars().take(80).collect::<String>()
            ),
        )),
    }
}

#[utoipa::path(post, path = "/oauth2/token", tag = "oauth",
    request_body(content_type = "application/x-www-form-urlencoded", description = "grant_type=client_credentials[&scope=…], with client_secret_basic or client_secret_post"),
    responses((status = 200, body = TokenResponse), (status = 400, body = crate::wire::ErrorResponse), (status = 401, body = crate::wire::ErrorResponse)))]
pub async fn token(
    State(state): State<AppState>,
    caller: AuthenticatedClient,
) -> ApiResult<Response> {
    let result = issue(&state, &caller);
    if let Err(e) = &result {
        state
            .metrics
            .token_errors
            .get_or_create(&ErrorLabel {
                error: e.code.as_str(),
            })
            .inc();
    }
    let issued = result?;
    state
        .metrics
        .tokens_issued
        .get_or_create(&GrantLabel {
            grant: GRANT_CLIENT_CREDENTIALS,
        })
        .inc();
    state.audit(AuditRecord {
        tenant_id: caller.client.integration.tenant_id,
        at: state.clock.now_millis(),
        actor: format!("client:{}", caller.client.integration.client_id),
        action: "token.issued".into(),
        target: issued.claims.jti.clone(),
        detail: serde_json::to_string(&IssuedDetail {
            grant_type: GRANT_CLIENT_CREDENTIALS,
            scope: &issued.claims.scope,
            sub: &issued.claims.sub,
            exp: issued.claims.exp,
        })
        .unwrap_or_default(),
    });
    Ok(no_store(
        Json(TokenResponse {
            access_token: issued.access_token,
            token_type: "Bearer",
            expires_in: issued.expires_in,
            scope: issued.scope.to_string(),
        })
        .into_response(),
    ))
}

fn issue(state: &AppState, caller: &AuthenticatedClient) -> Result<grant::IssuedToken, OAuthError> {
    let request = token_request(&caller.form)?;
    let ring = state.keys.load();
    let ctx = IssueContext {
        issuer: &state.config.issuer,
        audience: &state.config.audience,
        now_seconds: state.clock.now_seconds(),
        key: ring.current(),
        rng: &*state.rng,
    };
    grant::issue(&ctx, &caller.client, &request)
}

/// RFC 6749 §3.2: the token endpoint takes POST only.
pub async fn token_wrong_method() -> ApiError {
    ApiError::MethodNotAllowed(Some("POST"))
}

#[utoipa::path(post, path = "/oauth2/introspect", tag = "oauth",
    request_body(content_type = "application/x-www-form-urlencoded", description = "token=…[&token_type_hint=access_token], with client authentication"),
    responses((status = 200, body = IntrospectionResponse), (status = 401, body = crate::wire::ErrorResponse)))]
pub async fn introspect(
    State(state): State<AppState>,
    caller: AuthenticatedClient,
) -> ApiResult<Response> {
    let token = caller.form.require("token")?;
    state.metrics.introspections.inc();
    // A caller learns only of tokens for its own tenant: others answer as if invalid.
    let tenant = caller.client.integration.tenant_id.to_string();
    let body = match state.validate_token(token) {
        Ok(claims) if claims.tenant_id == tenant => IntrospectionResponse::active(&claims),
        _ => IntrospectionResponse::inactive(),
    };
    Ok(no_store(Json(body).into_response()))
}

#[utoipa::path(post, path = "/oauth2/revoke", tag = "oauth",
    request_body(content_type = "application/x-www-form-urlencoded", description = "token=…[&token_type_hint=access_token], with client authentication"),
    responses((status = 200, description = "Revoked, or the token was not valid anyway (RFC 7009 §2.2)"), (status = 400, body = crate::wire::ErrorResponse), (status = 401, body = crate::wire::ErrorResponse)))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: AuthenticatedClient,
) -> ApiResult<Response> {
    let token = caller.form.require("token")?;
    // RFC 7009 §2.2: an invalid token is no error; the client cannot do anything about it.
    let Ok(claims) = state.keys.load().verify(token) else {
        return Ok(no_store(().into_response()));
    };
    let integration = &caller.client.integration;
    let own = claims.client_id == integration.client_id.to_string();
    let tenant_admin = integration.scopes.contains(Scope::Admin)
        && claims.tenant_id == integration.tenant_id.to_string();
    if !own && !tenant_admin {
        // RFC 7009 §2.1: the token must have been issued to the client that revokes it.
        return Err(OAuthError::new(
            OAuthErrorCode::UnauthorizedClient,
            "this token was not issued to the calling integration; only it or an admin integration of its tenant may revoke it",
        )
        .into());
    }
    if claims.exp > state.clock.now_seconds() - 60 {
        let revoked = RevokedToken {
            jti: claims.jti.clone(),
            expires_at: claims.exp,
        };
        state
            .storage
            .revoke_token(integration.tenant_id, &revoked)
            .await?;
        state.publish(Change::TokenRevoked(revoked)).await?;
        state.metrics.revocations.inc();
        state.audit(AuditRecord {
            tenant_id: integration.tenant_id,
            at: state.clock.now_millis(),
            actor: format!("client:{}", integration.client_id),
            action: "token.revoked".into(),
            target: claims.jti.clone(),
            detail: json!({"client_id": claims.client_id}).to_string(),
        });
    }
    Ok(no_store(().into_response()))
}

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

#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "oauth",
    responses((status = 200, description = "OpenID Connect Discovery 1.0 / RFC 8414 metadata")))]
pub async fn discovery(State(state): State<AppState>) -> Response {
    let issuer = state.config.issuer.trim_end_matches('/');
    let algs: Vec<&str> = vec![state.keys.load().current().alg().as_str()];
    let auth_methods = ["client_secret_basic", "client_secret_post"];
    Json(json!({
        "issuer": state.config.issuer,
        "token_endpoint": format!("{issuer}/oauth2/token"),
        "jwks_uri": format!("{issuer}/oauth2/jwks"),
        "introspection_endpoint": format!("{issuer}/oauth2/introspect"),
        "revocation_endpoint": format!("{issuer}/oauth2/revoke"),
        "grant_types_supported": [GRANT_CLIENT_CREDENTIALS],
        "response_types_supported": [],
        "subject_types_supported": ["public"],
        "scopes_supported": ScopeSet::from_iter(Scope::ALL).to_vec(),
        "token_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "id_token_signing_alg_values_supported": algs,
        "access_token_signing_alg_values_supported": algs,
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope", "tenant_id", "tier", "name", "act"],
        "service_documentation": format!("{issuer}/openapi.json"),
    }))
    .into_response()
}

//! RFC 7662 introspection and RFC 7009 revocation of this server's access tokens.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use tessera_core::error::{OAuthError, OAuthErrorCode};
use tessera_core::ports::RevokedToken;
use tessera_core::scope::Scope;

use super::oauth::no_store;
use crate::error::ApiResult;
use crate::extract::AuthenticatedClient;
use crate::state::AppState;
use crate::wire::IntrospectionResponse;

/// Token introspection (RFC 7662).
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
    let tenant = caller.client.integration.tenant_id;
    let body = match state.validate_token(token) {
        Ok(claims) if claims.tenant_id == tenant => IntrospectionResponse::active(&claims),
        _ => IntrospectionResponse::inactive(),
    };
    Ok(no_store(Json(body).into_response()))
}

/// Token revocation (RFC 7009).
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
    let own = claims.client_id == integration.client_id;
    let tenant_admin =
        integration.scopes.contains(Scope::Admin) && claims.tenant_id == integration.tenant_id;
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
        let actor = format!("client:{}", integration.client_id);
        let detail = json!({"client_id": claims.client_id}).to_string();
        state
            .revoke(integration.tenant_id, revoked, actor, detail)
            .await?;
    }
    Ok(no_store(().into_response()))
}

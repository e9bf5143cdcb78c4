//! RFC 7662 introspection of this server's access tokens, and RFC 7009 revocation of them and
//! of its refresh tokens.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use tessera_core::error::{OAuthError, OAuthErrorCode};
use tessera_core::ports::RevokedToken;
use tessera_core::scope::Scope;

use super::oauth::no_store;
use crate::error::ApiResult;
use crate::extract::{AuthenticatedClient, TokenCaller};
use crate::routes::oauth::end_family;
use crate::state::AppState;
use crate::wire::IntrospectionResponse;
use subtle::ConstantTimeEq;
use tessera_core::grant;
use tessera_core::ports::AuditAction;

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

/// Token revocation (RFC 7009): an access token, or a refresh token and its whole family.
#[utoipa::path(post, path = "/oauth2/revoke", tag = "oauth",
    request_body(content_type = "application/x-www-form-urlencoded", description = "token=…[&token_type_hint=access_token|refresh_token], with client authentication (a public client sends its client_id)"),
    responses((status = 200, description = "Revoked, or the token was not valid anyway (RFC 7009 §2.2)"), (status = 400, body = crate::wire::ErrorResponse), (status = 401, body = crate::wire::ErrorResponse)))]
pub async fn revoke(State(state): State<AppState>, caller: TokenCaller) -> ApiResult<Response> {
    let token = caller.form.require("token")?;
    let client = match (&caller.client, caller.named_client.as_deref()) {
        (Some((client, _)), _) => client.clone(),
        (None, Some(named)) => super::oauth::public_client(&state, named)?,
        (None, None) => {
            return Err(OAuthError::no_client_authentication(
                OAuthError::CLIENT_AUTHENTICATION_METHODS,
            )
            .into())
        }
    };
    let integration = &client.integration;
    if let Some(family_id) = grant::refresh_token_family(token) {
        // RFC 7009 §2.2: a token that does not work (replaced, ended) is no error.
        let Some(family) = state.storage.refresh_family(family_id).await? else {
            return Ok(no_store(().into_response()));
        };
        let presented = grant::refresh_token_hash(token);
        if !bool::from(presented.ct_eq(&family.token_hash)) {
            return Ok(no_store(().into_response()));
        }
        let tenant_admin =
            integration.scopes.contains(Scope::Admin) && family.tenant_id == integration.tenant_id;
        if family.client_id != integration.client_id && !tenant_admin {
            return Err(not_yours().into());
        }
        let why = "revoked by the client (RFC 7009)";
        end_family(&state, &family, AuditAction::RefreshTokenRevoked, why).await?;
        return Ok(no_store(().into_response()));
    }
    // RFC 7009 §2.2: an invalid token is no error; the client cannot do anything about it.
    let Ok(claims) = state.keys.load().verify(token) else {
        return Ok(no_store(().into_response()));
    };
    let own = claims.client_id == integration.client_id;
    let tenant_admin =
        integration.scopes.contains(Scope::Admin) && claims.tenant_id == integration.tenant_id;
    if !own && !tenant_admin {
        return Err(not_yours().into());
    }
    if claims.exp > state.clock.now_seconds() - 60 {
        let revoked = RevokedToken {
            jti: claims.jti.clone(),
            expires_at: claims.exp,
        };
        let actor = format!("client:{}", integration.client_id);
        let detail = json!({"client_id": claims.client_id}).to_string();
        crate::security_events::revoke(&state, integration.tenant_id, revoked, actor, detail)
            .await?;
    }
    Ok(no_store(().into_response()))
}

/// RFC 7009 §2.1: the token must have been issued to the client that revokes it.
fn not_yours() -> OAuthError {
    OAuthError::new(
        OAuthErrorCode::UnauthorizedClient,
        "this token was not issued to the calling integration; only it or an admin integration of its tenant may revoke it",
    )
}

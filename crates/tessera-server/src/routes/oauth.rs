//! The OAuth 2.0 endpoints (SPEC §3): token, introspection, revocation, JWKS, discovery.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use tessera_core::client_auth::{ClientDirectory, RegisteredClient};
use tessera_core::error::{OAuthError, OAuthErrorCode};
use tessera_core::grant::{
    self, Delegation, Exchange, IssueContext, TokenRequest, GRANT_CLIENT_CREDENTIALS,
    GRANT_JWT_BEARER, GRANT_TOKEN_EXCHANGE, TOKEN_TYPE_ACCESS_TOKEN,
};
use tessera_core::id::{ClientId, TenantId, UserId};
use tessera_core::ports::{AuditRecord, Change, RevokedToken};
use tessera_core::scope::{Scope, ScopeSet};
use tessera_core::token::assertion::{self, AssertionError};
use tessera_core::token::{SigningAlg, TokenSubject};

use std::sync::Arc;

use crate::error::{ApiError, ApiResult};
use crate::extract::{AuthenticatedClient, TokenCaller};
use crate::hot::DelegationFacts;
use crate::metrics::{ErrorLabel, GrantLabel};
use crate::state::AppState;
use crate::wire::{IntrospectionResponse, TokenResponse};

/// What the audit log says of an issued token (never the token itself).
#[derive(serde::Serialize)]
struct IssuedDetail<'a> {
    grant_type: &'static str,
    scope: String,
    sub: &'a TokenSubject,
    exp: i64,
}

/// RFC 6749 §5.1: token responses MUST NOT be cached.
pub(crate) fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn unsupported_grant(other: &str) -> OAuthError {
    OAuthError::new(
        OAuthErrorCode::UnsupportedGrantType,
        format!(
            "grant_type `{}` is not supported; supported: {GRANT_CLIENT_CREDENTIALS}, {GRANT_JWT_BEARER}, {GRANT_TOKEN_EXCHANGE}",
            other.chars().take(80).collect::<String>()
        ),
    )
}

#[utoipa::path(post, path = "/oauth2/token", tag = "oauth",
    request_body(content_type = "application/x-www-form-urlencoded", description = "grant_type=client_credentials[&scope=…] with client_secret_basic, client_secret_post or private_key_jwt; or grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>[&scope=…] (RFC 7523 §2.1), client authentication optional; or grant_type=urn:ietf:params:oauth:grant-type:token-exchange&subject_token=…&subject_token_type=…[&actor_token=…&actor_token_type=…][&scope=…][&audience=…][&requested_token_type=…] (RFC 8693), with client authentication"),
    responses((status = 200, body = TokenResponse), (status = 400, body = crate::wire::ErrorResponse), (status = 401, body = crate::wire::ErrorResponse)))]
pub async fn token(State(state): State<AppState>, caller: TokenCaller) -> ApiResult<Response> {
    let result = match caller.form.require("grant_type") {
        Ok(GRANT_CLIENT_CREDENTIALS) => client_credentials(&state, &caller),
        Ok(GRANT_JWT_BEARER) => jwt_bearer(&state, &caller).await,
        Ok(GRANT_TOKEN_EXCHANGE) => token_exchange(&state, &caller),
        Ok(other) => Err(unsupported_grant(other).into()),
        Err(e) => Err(e.into()),
    };
    if let Err(ApiError::OAuth(e)) = &result {
        state
            .metrics
            .token_errors
            .get_or_create(&ErrorLabel {
                error: e.code.as_str(),
            })
            .inc();
    }
    let (issued, grant) = result?;
    refuse_for_disabled_tenant(&state, &issued.claims)?;
    state
        .metrics
        .tokens_issued
        .get_or_create(&GrantLabel { grant })
        .inc();
    // Recorded in the tenant whose data the token reaches.
    state.audit(AuditRecord {
        tenant_id: issued.claims.tenant_id,
        at: state.clock.now_millis(),
        actor: format!("client:{}", issued.claims.client_id),
        action: "token.issued".into(),
        target: issued.claims.jti.clone(),
        detail: serde_json::to_string(&IssuedDetail {
            grant_type: grant,
            scope: issued.claims.scope.to_string(),
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
            issued_token_type: (grant == GRANT_TOKEN_EXCHANGE).then_some(TOKEN_TYPE_ACCESS_TOKEN),
        })
        .into_response(),
    ))
}

type Issued = Result<(grant::IssuedToken, &'static str), ApiError>;

/// Nothing new is issued for a disabled tenant (SPEC §4.1), whichever grant asked: checked once
/// here on what was minted — the data tenant and the integration's own tenant.
fn refuse_for_disabled_tenant(
    state: &AppState,
    claims: &tessera_core::token::AccessTokenClaims,
) -> Result<(), ApiError> {
    let tenant = claims.tenant_id;
    state
        .clients
        .token_standing(&claims.client_id, &tenant, claims.iat)
        .map_err(|_| {
            OAuthError::new(
                OAuthErrorCode::InvalidGrant,
                format!("the tenant `{tenant}` is disabled: nothing is issued for it until an operator enables it"),
            )
            .into()
        })
}

pub(crate) fn issue_context<'a>(
    state: &'a AppState,
    ring: &'a tessera_core::token::KeyRing,
) -> IssueContext<'a> {
    IssueContext {
        issuer: &state.config.issuer,
        audience: &state.config.audience,
        now_seconds: state.clock.now_seconds(),
        key: ring.current(),
        rng: &*state.rng,
    }
}

/// The authenticated client, for grants that need one.
fn require_client(caller: &TokenCaller) -> Result<&RegisteredClient, OAuthError> {
    caller.client.as_ref().map(|(client, _)| &**client).ok_or_else(|| {
        OAuthError::invalid_client(
            "no client authentication: use HTTP Basic, client_id and client_secret in the body, or a client assertion",
        )
    })
}

fn client_credentials(state: &AppState, caller: &TokenCaller) -> Issued {
    let client = require_client(caller)?;
    let ring = state.keys.load();
    let ctx = issue_context(state, &ring);
    let scope = caller.form.get("scope");
    // SPEC §6: `tenant_id` of a tenant that connected to the integration.
    if let Some(tenant_id) = caller
        .form
        .get("tenant_id")
        .filter(|t| *t != client.integration.tenant_id.to_string())
    {
        let no_connection = || {
            OAuthError::new(
                OAuthErrorCode::InvalidGrant,
                "`tenant_id` names no tenant with an active connection to this integration",
            )
        };
        let owner: TenantId = tenant_id.parse().map_err(|_| no_connection())?;
        let tenant = state.clients.tenant(&owner).ok_or_else(no_connection)?;
        if tenant.disabled {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidGrant,
                format!("the tenant `{owner}` is disabled: nothing is issued for it until an operator enables it"),
            )
            .into());
        }
        let issued = match state
            .connections
            .between(client.integration.client_id, owner)
        {
            Some(connection) => {
                grant::issue_for_connection(&ctx, client, &tenant, &connection, scope)?
            }
            // SPEC §4.1: the operator's own integrations may manage any tenant.
            None => grant::issue_for_operator(&ctx, client, &tenant, scope)?,
        };
        return Ok((issued, GRANT_CLIENT_CREDENTIALS));
    }
    let request = TokenRequest::ClientCredentials {
        scope: scope.map(str::to_owned),
    };
    let issued = grant::issue(&ctx, client, &request)?;
    Ok((issued, GRANT_CLIENT_CREDENTIALS))
}

/// RFC 7523 §2.1. The assertion names the integration (`iss`) and the user (`sub`); every
/// problem with it is `invalid_grant` with the reason.
async fn jwt_bearer(state: &AppState, caller: &TokenCaller) -> Issued {
    let invalid_grant =
        |e: AssertionError| OAuthError::new(OAuthErrorCode::InvalidGrant, e.to_string());
    let token = caller.form.require("assertion")?;
    let (decoded, iss) = assertion::assertion_issuer(token).map_err(invalid_grant)?;
    let client = match &caller.client {
        Some((client, _)) => {
            if client.integration.client_id.to_string() != iss {
                return Err(OAuthError::new(
                    OAuthErrorCode::InvalidGrant,
                    "the assertion's `iss` is not the client that authenticated",
                )
                .into());
            }
            client.clone()
        }
        None => iss
            .parse::<ClientId>()
            .ok()
            .and_then(|id| ClientDirectory::client(&state.clients, &id))
            .ok_or_else(|| invalid_grant(AssertionError::UnknownIssuer))?,
    };
    let verified = state
        .verify_assertion(&decoded, &client, "/oauth2/token")
        .await
        .map_err(invalid_grant)?;
    let facts = delegation_facts(state, &client, &verified.sub).await?;
    let user = &facts.user;
    let tenant = match state.clients.tenant(&user.tenant_id) {
        Some(tenant) => tenant,
        None => state.storage.get_tenant(user.tenant_id).await?,
    };
    let foreign = user.tenant_id != client.integration.tenant_id;
    let delegation = Delegation {
        user,
        tenant: &tenant,
        consented: state.consents.scopes(
            user.tenant_id,
            client.integration.client_id,
            user.id,
            foreign,
        ),
    };
    if foreign && delegation.consented.is_none() {
        return Err(no_such_user(&verified.sub).into());
    }
    let ring = state.keys.load();
    let ctx = issue_context(state, &ring);
    // Checked before the jti is spent, so a request refused for consent can be retried as is.
    let issued = grant::issue_jwt_bearer(&ctx, &client, &delegation, caller.form.get("scope"))?;
    if !state
        .storage
        .claim_assertion(&verified.iss, &verified.jti, verified.exp + 120)
        .await?
    {
        return Err(invalid_grant(AssertionError::Replayed).into());
    }
    Ok((issued, GRANT_JWT_BEARER))
}

/// RFC 8693. The caller authenticates; the subject token (and an actor token) must be live
/// access tokens of this server; the audience is this server's resource audience, the issuer,
/// or an integration of the subject's tenant.
fn token_exchange(state: &AppState, caller: &TokenCaller) -> Issued {
    let client = require_client(caller)?;
    let form = &caller.form;
    let live = |parameter: &str| -> Result<_, OAuthError> {
        let token = form.require(parameter)?;
        state.validate_token(token).map_err(|reason| {
            OAuthError::new(
                OAuthErrorCode::InvalidGrant,
                format!("`{parameter}` is not a live access token of this server: {reason}"),
            )
        })
    };
    let subject = live("subject_token")?;
    let subject_token_type = form.require("subject_token_type")?;
    let actor = match form.get("actor_token") {
        Some(_) => Some((live("actor_token")?, form.require("actor_token_type")?)),
        None if form.get("actor_token_type").is_some() => {
            return Err(OAuthError::invalid_request(
                "`actor_token_type` without `actor_token`: send both or neither",
            )
            .into())
        }
        None => None,
    };
    if form.get("resource").is_some() {
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidTarget,
            "`resource` is not supported: name the target with `audience`",
        )
        .into());
    }
    let audience = match form.get("audience") {
        None => state.config.audience.as_str(),
        Some(aud) if aud == state.config.audience || aud == state.config.issuer => aud,
        Some(aud) => {
            let target_in_tenant = aud
                .parse::<ClientId>()
                .ok()
                .and_then(|id| ClientDirectory::client(&state.clients, &id))
                .is_some_and(|target| target.integration.tenant_id == subject.tenant_id);
            if !target_in_tenant {
                return Err(OAuthError::new(
                    OAuthErrorCode::InvalidTarget,
                    format!(
                        "`audience` `{}` is not accepted: use `{}`, or the client_id of an integration of the subject token's tenant",
                        aud.chars().take(100).collect::<String>(),
                        state.config.audience
                    ),
                )
                .into());
            }
            aud
        }
    };
    let exchange = Exchange {
        subject: &subject,
        subject_token_type,
        actor: actor.as_ref().map(|(claims, kind)| (&**claims, *kind)),
        scope: form.get("scope"),
        requested_token_type: form.get("requested_token_type"),
    };
    let ring = state.keys.load();
    let ctx = IssueContext {
        audience,
        ..issue_context(state, &ring)
    };
    let issued = grant::issue_token_exchange(&ctx, client, &exchange)?;
    Ok((issued, GRANT_TOKEN_EXCHANGE))
}

fn no_such_user(sub: &str) -> OAuthError {
    OAuthError::new(
        OAuthErrorCode::InvalidGrant,
        format!(
            "the assertion's `sub` `{}` is not a user of the integration's tenant, nor of a tenant that granted it `impersonation`",
            sub.chars().take(100).collect::<String>()
        ),
    )
}

/// The user `sub` names — a user id (in any tenant; another tenant must have granted the
/// integration `impersonation`, checked by the caller) or an email in the integration's
/// tenant: from memory, or loaded and remembered.
async fn delegation_facts(
    state: &AppState,
    client: &RegisteredClient,
    sub: &str,
) -> Result<Arc<DelegationFacts>, ApiError> {
    let client_id = client.integration.client_id;
    if let Some(facts) = state.delegations.get(client_id, sub) {
        return Ok(facts);
    }
    let generation = state.delegations.generation();
    let found = match sub.parse::<UserId>() {
        Ok(id) => state.storage.find_user(id).await?,
        Err(_) => {
            state
                .storage
                .find_user_by_email(client.integration.tenant_id, &sub.trim().to_lowercase())
                .await?
        }
    };
    let user = found.ok_or_else(|| no_such_user(sub))?;
    let facts = Arc::new(DelegationFacts { user });
    state
        .delegations
        .insert(client_id, sub, facts.clone(), generation);
    Ok(facts)
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
    let tenant = caller.client.integration.tenant_id;
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
    let auth_methods = [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
    ];
    // What integrations may sign assertions with (RFC 7523), whatever the server signs with.
    let assertion_algs: Vec<&str> = SigningAlg::ALL.iter().map(|a| a.as_str()).collect();
    Json(json!({
        "issuer": state.config.issuer,
        "token_endpoint": format!("{issuer}/oauth2/token"),
        "jwks_uri": format!("{issuer}/oauth2/jwks"),
        "introspection_endpoint": format!("{issuer}/oauth2/introspect"),
        "revocation_endpoint": format!("{issuer}/oauth2/revoke"),
        "grant_types_supported": [GRANT_CLIENT_CREDENTIALS, GRANT_JWT_BEARER, GRANT_TOKEN_EXCHANGE],
        "response_types_supported": [],
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
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope", "tenant_id", "tier", "name", "act"],
        "service_documentation": format!("{issuer}/openapi.json"),
    }))
    .into_response()
}

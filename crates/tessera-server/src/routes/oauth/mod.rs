//! The token endpoint (SPEC §3): parses the request once, gathers what its grant needs from
//! memory (a user from the store), and lets the core decide. Introspection and revocation are
//! in `introspection`, the key set and metadata in `discovery`.

mod audited;
mod authorization_code;
mod dpop;
mod exchange;
mod grantor;
mod jwt_bearer;
mod refresh;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use tessera_core::error::{OAuthError, OAuthErrorCode};
use tessera_core::grant::{
    self, IssueContext, TokenRequest, GRANT_AUTHORIZATION_CODE, GRANT_CLIENT_CREDENTIALS,
    GRANT_JWT_BEARER, GRANT_REFRESH_TOKEN, GRANT_TOKEN_EXCHANGE, TOKEN_TYPE_ACCESS_TOKEN,
};

use crate::error::{ApiError, ApiResult};
use crate::extract::TokenCaller;
use crate::metrics::{ErrorLabel, GrantLabel};
use crate::state::AppState;
use crate::wire::TokenResponse;
use authorization_code::{authorization_code, Redemption};
use exchange::{is_platform_token, platform_exchange, token_exchange};
pub(crate) use grantor::public_client;
use jwt_bearer::jwt_bearer;
pub(crate) use refresh::end_family;
use refresh::{refresh, RefreshRequest};

/// RFC 6749 §5.1: token responses MUST NOT be cached.
pub(crate) fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// Issue an access token (client credentials, JWT bearer, token exchange).
#[utoipa::path(post, path = "/oauth2/token", tag = "oauth",
    request_body(content_type = "application/x-www-form-urlencoded", description = "grant_type=client_credentials[&scope=…][&tenant_id=…] with client_secret_basic, client_secret_post or private_key_jwt; or grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>[&scope=…] (RFC 7523 §2.1), client authentication optional; or grant_type=urn:ietf:params:oauth:grant-type:token-exchange&subject_token=…&subject_token_type=…[&actor_token=…&actor_token_type=…][&scope=…][&audience=…][&requested_token_type=…] (RFC 8693), with client authentication"),
    responses((status = 200, body = TokenResponse), (status = 400, body = crate::wire::ErrorResponse), (status = 401, body = crate::wire::ErrorResponse)))]
pub async fn token(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    caller: TokenCaller,
) -> ApiResult<Response> {
    let result = issue(&state, &caller, &headers).await;
    if let Err(ApiError::OAuth(e)) = &result {
        state
            .metrics
            .token_errors
            .get_or_create(&ErrorLabel {
                error: e.code.as_str(),
            })
            .inc();
        state
            .metrics
            .token_request(grant_label(&caller), e.code.as_str());
    }
    let Issued {
        token: issued,
        grant,
        refresh_token,
    } = result?;
    state
        .metrics
        .tokens_issued
        .get_or_create(&GrantLabel { grant })
        .inc();
    state.metrics.token_request(grant_label(&caller), "issued");
    audited::token_issued(&state, &issued, grant);
    Ok(no_store(
        Json(TokenResponse {
            access_token: issued.access_token,
            token_type: if issued.claims.cnf.is_some() {
                "DPoP"
            } else {
                "Bearer"
            },
            expires_in: issued.expires_in,
            scope: issued.scope.to_string(),
            issued_token_type: (grant == GRANT_TOKEN_EXCHANGE).then_some(TOKEN_TYPE_ACCESS_TOKEN),
            refresh_token: refresh_token.map(|t| t.expose().to_owned()),
        })
        .into_response(),
    ))
}

/// Parses the request, gathers from memory (or, for a user, the store) what its grant needs,
/// and lets the core decide.
/// The request's grant as a metrics label: a short name, or `other` for one not supported.
fn grant_label(caller: &TokenCaller) -> &'static str {
    match caller.form.get("grant_type") {
        Some(GRANT_CLIENT_CREDENTIALS) => "client_credentials",
        Some(GRANT_JWT_BEARER) => "jwt_bearer",
        Some(GRANT_TOKEN_EXCHANGE) => "token_exchange",
        Some(GRANT_AUTHORIZATION_CODE) => "authorization_code",
        Some(GRANT_REFRESH_TOKEN) => "refresh_token",
        _ => "other",
    }
}

/// What the token endpoint hands out.
struct Issued {
    token: grant::IssuedToken,
    grant: &'static str,
    /// For a person's grants (SPEC §15): the refresh token, shown this once.
    refresh_token: Option<tessera_core::id::Secret>,
}

async fn issue(
    state: &AppState,
    caller: &TokenCaller,
    headers: &axum::http::HeaderMap,
) -> Result<Issued, ApiError> {
    let request = TokenRequest::parse(|name| caller.form.get(name))?;
    let dpop_jkt = dpop::proof_key(state, headers)?;
    let authenticated = caller.client.as_ref().map(|(client, _)| client);
    // Every grant but the JWT bearer one needs the client to authenticate here: that one's
    // assertion names and proves the client by itself (RFC 7523 §3.1).
    let client = || {
        authenticated.ok_or_else(|| {
            OAuthError::no_client_authentication(OAuthError::CLIENT_AUTHENTICATION_METHODS)
        })
    };
    let ring = state.keys.load();
    let ctx = IssueContext {
        federated: caller.federated,
        dpop_jkt: dpop_jkt.as_deref(),
        ..state.issue_context(&ring)
    };
    let grant = request.grant_type();
    // A public client names itself with `client_id` (RFC 6749 §4.1.3, §6); a confidential one
    // authenticates.
    let person_client = |client_id: &Option<String>| -> Result<_, ApiError> {
        match (
            authenticated,
            caller.named_client.as_deref().or(client_id.as_deref()),
        ) {
            (Some(client), _) => Ok(client.clone()),
            (None, Some(named)) => Ok(public_client(state, named)?),
            (None, None) => Ok(client()?.clone()),
        }
    };
    let mut refresh_token = None;
    let issued = match &request {
        TokenRequest::ClientCredentials { scope, tenant } => grant::issue_client_credentials(
            &ctx,
            client()?,
            scope.as_deref(),
            tenant.as_deref(),
            state,
        )?,
        TokenRequest::JwtBearer { assertion, scope } => {
            jwt_bearer(state, &ctx, authenticated, assertion, scope.as_deref()).await?
        }
        TokenRequest::TokenExchange(exchange) if is_platform_token(state, exchange) => {
            platform_exchange(state, &ctx, caller, exchange).await?
        }
        TokenRequest::TokenExchange(exchange) => token_exchange(state, &ctx, client()?, exchange)?,
        TokenRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
            client_id,
            resource,
        } => {
            let client = person_client(client_id)?;
            let asked = Redemption {
                code,
                redirect_uri: redirect_uri.as_deref(),
                code_verifier,
                resource: resource.as_deref(),
            };
            let (issued, refresh) = authorization_code(state, &ctx, &client, asked).await?;
            refresh_token = Some(refresh);
            issued
        }
        TokenRequest::RefreshToken {
            refresh_token: token,
            scope,
            client_id,
            resource,
        } => {
            let client = person_client(client_id)?;
            let asked = RefreshRequest {
                token,
                scope: scope.as_deref(),
                resource: resource.as_deref(),
            };
            let (issued, refresh) = refresh(state, &ctx, &client, asked).await?;
            refresh_token = Some(refresh);
            issued
        }
    };
    refuse_for_disabled_tenant(state, &issued.claims)?;
    Ok(Issued {
        token: issued,
        grant,
        refresh_token,
    })
}

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

/// RFC 6749 §3.2: the token endpoint takes POST only.
pub async fn token_wrong_method() -> ApiError {
    ApiError::MethodNotAllowed(Some("POST"))
}

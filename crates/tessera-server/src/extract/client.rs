//! Client authentication at the OAuth endpoints: `client_secret_basic`, `client_secret_post`
//! (RFC 6749 §2.3.1) or `private_key_jwt` (RFC 7523 §2.2), rate-limited on failure (SPEC §11).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, Extensions};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use percent_encoding::percent_decode_str;
use tessera_core::client_auth::{
    authenticate, AuthMethod, ClientCredentials, RegisteredClient, CLIENT_ASSERTION_TYPE_JWT,
};
use tessera_core::error::{OAuthError, OAuthErrorCode};
use tessera_core::federation::{FederationError, PlatformToken};
use tessera_core::id::{ClientId, FederatedCredentialId, Secret};
use tessera_core::token::assertion::{self, AssertionError};

use crate::access_log::RequestNotes;
use crate::error::ApiError;
use crate::extract::OAuthForm;
use crate::state::AppState;

/// The address the request came from, when the server knows it (it does when it serves a
/// socket; router tests without one get `None`). Failed authentication is counted against it.
pub struct PeerAddress(pub Option<IpAddr>);

impl PeerAddress {
    /// The client's address: as resolved behind trusted proxies (`forwarded`), else the
    /// connection's peer.
    pub fn of(extensions: &Extensions) -> Self {
        if let Some(crate::forwarded::ClientAddress(ip)) = extensions.get() {
            return PeerAddress(Some(*ip));
        }
        PeerAddress(
            extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip()),
        )
    }
}

impl FromRequestParts<AppState> for PeerAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        Ok(PeerAddress::of(&parts.extensions))
    }
}

/// An OAuth request from an authenticated integration, with its remaining parameters.
pub struct AuthenticatedClient {
    pub client: Arc<RegisteredClient>,
    pub method: AuthMethod,
    pub form: OAuthForm,
}

fn basic_credentials(value: &str) -> Result<(String, String), OAuthError> {
    let bad = || {
        OAuthError::invalid_client(
            "the Authorization header is not HTTP Basic with base64 of `client_id:client_secret`",
        )
    };
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
        .ok_or_else(bad)?;
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    // RFC 6749 §2.3.1: both parts are form-urlencoded before they are joined.
    let decode = |part: &str| {
        percent_decode_str(&part.replace('+', " "))
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|_| bad())
    };
    Ok((decode(id)?, decode(secret)?))
}

impl FromRequest<AppState> for AuthenticatedClient {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let TokenCaller { client, form, .. } = TokenCaller::from_request(req, state).await?;
        let (client, method) = client.ok_or_else(|| {
            OAuthError::no_client_authentication(OAuthError::CLIENT_AUTHENTICATION_METHODS)
        })?;
        Ok(AuthenticatedClient {
            client,
            method,
            form,
        })
    }
}

/// A token request: the client, if it authenticated, and the parameters. The JWT bearer grant
/// may come without client authentication: its assertion names and proves the client.
pub struct TokenCaller {
    pub client: Option<(Arc<RegisteredClient>, AuthMethod)>,
    pub form: OAuthForm,
    /// The federated credential whose platform token authenticated the client (SPEC §14).
    pub federated: Option<FederatedCredentialId>,
    /// A `client_id` sent without credentials: beside a platform token as an RFC 8693
    /// `subject_token`, which proves the caller, or by a public client redeeming a code.
    pub named_client: Option<String>,
}

/// Whether the request exchanges a JWT (RFC 8693 `subject_token_type` `…:jwt`), which may be
/// a platform's identity token.
fn presents_platform_token(form: &OAuthForm) -> bool {
    form.get("grant_type") == Some(tessera_core::grant::GRANT_TOKEN_EXCHANGE)
        && form.get("subject_token_type") == Some(tessera_core::grant::TOKEN_TYPE_JWT)
}

impl FromRequest<AppState> for TokenCaller {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let authorization = req
            .headers()
            .get(header::AUTHORIZATION)
            .map(|v| v.to_str().map(str::to_owned));
        let PeerAddress(peer) = PeerAddress::of(req.extensions());
        let notes = req.extensions().get::<RequestNotes>().cloned();
        let path = req.uri().path().to_owned();
        let mut form = OAuthForm::from_request(req, state).await?;
        if let Some(assertion) = form.take("client_assertion") {
            if authorization.is_some() || form.get("client_secret").is_some() {
                return Err(OAuthError::invalid_request(
                    "the client authenticated twice (a client assertion and a secret); use one method",
                )
                .into());
            }
            let (client, federated) =
                assertion_client(state, &mut form, &assertion, &path, peer).await?;
            if let Some(notes) = &notes {
                notes.set_client(client.integration.client_id);
            }
            let method = if federated.is_some() {
                AuthMethod::FederatedJwt
            } else {
                AuthMethod::PrivateKeyJwt
            };
            return Ok(TokenCaller {
                client: Some((client, method)),
                form,
                federated,
                named_client: None,
            });
        }
        let form_id = form.take("client_id");
        let form_secret = form.take("client_secret");
        let credentials = match (authorization, form_id, form_secret) {
            (Some(_), _, Some(_)) => {
                return Err(OAuthError::invalid_request(
                    "the client authenticated twice (Authorization header and `client_secret`); use one method",
                )
                .into())
            }
            (Some(Err(_)), _, _) => {
                return Err(OAuthError::invalid_client("the Authorization header is not ASCII").into())
            }
            (Some(Ok(value)), form_id, None) => {
                let (client_id, secret) = basic_credentials(&value)?;
                if form_id.as_ref().is_some_and(|id| *id != client_id) {
                    return Err(OAuthError::invalid_request(
                        "`client_id` differs from the one in the Authorization header",
                    )
                    .into());
                }
                ClientCredentials {
                    client_id,
                    secret: Secret::new(secret),
                    method: AuthMethod::ClientSecretBasic,
                }
            }
            (None, Some(client_id), Some(secret)) => ClientCredentials {
                client_id,
                secret: Secret::new(secret),
                method: AuthMethod::ClientSecretPost,
            },
            // RFC 8693 with a platform token as the subject (SPEC §14): the token proves the
            // caller, `client_id` only says which integration it is for.
            (None, Some(client_id), None) if presents_platform_token(&form) => {
                return Ok(TokenCaller {
                    client: None,
                    form,
                    federated: None,
                    named_client: Some(client_id),
                })
            }
            // A public client redeeming a code or a refresh token, or revoking one, names
            // itself; PKCE or the refresh token proves it (SPEC §15). The grant checks that it
            // is public.
            (None, Some(client_id), None) if public_client_may_name_itself(&form, &path) => {
                return Ok(TokenCaller {
                    client: None,
                    form,
                    federated: None,
                    named_client: Some(client_id),
                })
            }
            (None, Some(_), None) => {
                return Err(OAuthError::invalid_client(
                    "`client_secret` is missing: authenticate with HTTP Basic or client_id and client_secret in the body",
                )
                .into())
            }
            (None, None, _) => {
                return Ok(TokenCaller {
                    client: None,
                    form,
                    federated: None,
                    named_client: None,
                })
            }
        };
        let method = credentials.method;
        let client = authenticate_limited(state, &credentials, peer)?;
        if let Some(notes) = &notes {
            notes.set_client(client.integration.client_id);
        }
        Ok(TokenCaller {
            client: Some((client, method)),
            form,
            federated: None,
            named_client: None,
        })
    }
}

/// Where a public client may name itself without credentials (RFC 6749 §4.1.3, §6; RFC 7009
/// §5): redeeming a code, refreshing, revoking.
fn public_client_may_name_itself(form: &OAuthForm, path: &str) -> bool {
    use tessera_core::grant::{GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN};
    match form.get("grant_type") {
        Some(GRANT_AUTHORIZATION_CODE | GRANT_REFRESH_TOKEN) => true,
        None => path == "/oauth2/revoke",
        Some(_) => false,
    }
}

/// Checks a client secret, refusing at once a client or address with too many failures.
fn authenticate_limited(
    state: &AppState,
    credentials: &ClientCredentials,
    peer: Option<std::net::IpAddr>,
) -> Result<Arc<RegisteredClient>, ApiError> {
    let now = state.clock.now_seconds();
    if state
        .auth_limiter
        .is_blocked(&credentials.client_id, peer, now)
    {
        return Err(slow_down());
    }
    authenticate(credentials, &state.clients, state.clock.now_millis()).map_err(|e| {
        state
            .auth_limiter
            .record_failure(&credentials.client_id, peer, now);
        crate::access_log::failed_authentication(&credentials.client_id, peer, &e.description);
        e.into()
    })
}

/// An integration authenticated with HTTP Basic (`client_secret_basic`) on a JSON API such as
/// TMS (SPEC §8), where there is no form to carry other methods.
pub struct BasicClient(pub Arc<RegisteredClient>);

impl FromRequestParts<AppState> for BasicClient {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| {
                OAuthError::no_client_authentication(
                    "send the integration's client_id and client_secret with HTTP Basic",
                )
            })?
            .to_str()
            .map_err(|_| OAuthError::invalid_client("the Authorization header is not ASCII"))?;
        let (client_id, secret) = basic_credentials(value)?;
        let PeerAddress(peer) = PeerAddress::of(&parts.extensions);
        let credentials = ClientCredentials {
            client_id,
            secret: Secret::new(secret),
            method: AuthMethod::ClientSecretBasic,
        };
        let client = authenticate_limited(state, &credentials, peer)?;
        RequestNotes::client(&parts.extensions, client.integration.client_id);
        Ok(BasicClient(client))
    }
}

fn slow_down() -> ApiError {
    OAuthError::new(
        OAuthErrorCode::SlowDown,
        "too many failed client authentications; try again in a minute",
    )
    .into()
}

/// A client assertion (RFC 7523 §2.2): `private_key_jwt` when its `iss` is an integration's
/// `client_id` (proven by a signature of one of its registered keys, its `jti` claimed in shared
/// storage so no instance accepts it twice); otherwise a platform's identity token that a
/// federated credential accepts (SPEC §14), whose credential is returned too.
async fn assertion_client(
    state: &AppState,
    form: &mut OAuthForm,
    token: &str,
    path: &str,
    peer: Option<std::net::IpAddr>,
) -> Result<(Arc<RegisteredClient>, Option<FederatedCredentialId>), ApiError> {
    match form.take("client_assertion_type").as_deref() {
        Some(CLIENT_ASSERTION_TYPE_JWT) => {}
        Some(_) | None => {
            return Err(OAuthError::invalid_request(format!(
                "`client_assertion_type` must be `{CLIENT_ASSERTION_TYPE_JWT}`"
            ))
            .into())
        }
    }
    let platform = match assertion::assertion_issuer(token) {
        Ok((decoded, iss)) if iss.parse::<ClientId>().is_ok() => {
            return private_key_jwt(state, form, decoded, iss, path, peer)
                .await
                .map(|client| (client, None));
        }
        Ok((decoded, _)) => PlatformToken::from_decoded(decoded),
        // A SPIFFE JWT-SVID may come without `iss`.
        Err(AssertionError::MissingClaim("iss")) => PlatformToken::read(token),
        Err(e) => return Err(reject(e)),
    }
    .map_err(refuse_federated)?;
    let client_id = form.take("client_id");
    let (client, credential) =
        platform_client(state, &platform, client_id.as_deref(), peer).await?;
    Ok((client, Some(credential)))
}

/// The integration a platform token authenticates (SPEC §14), rate-limited on failure as any
/// client authentication is.
pub(crate) async fn platform_client(
    state: &AppState,
    platform: &PlatformToken,
    client_id: Option<&str>,
    peer: Option<std::net::IpAddr>,
) -> Result<(Arc<RegisteredClient>, FederatedCredentialId), ApiError> {
    let who = client_id.unwrap_or(&platform.issuer).to_owned();
    let now = state.clock.now_seconds();
    if state.auth_limiter.is_blocked(&who, peer, now) {
        return Err(slow_down());
    }
    let result = state
        .federated_client(platform, client_id)
        .await
        .map_err(refuse_federated);
    if let Err(e) = &result {
        state.auth_limiter.record_failure(&who, peer, now);
        crate::access_log::failed_authentication(&who, peer, &e.refusal().description);
    }
    result
}

/// A platform token that does not authenticate the client: `invalid_client`, saying which
/// check failed.
pub(crate) fn refuse_federated(e: FederationError) -> ApiError {
    OAuthError::invalid_client(e.to_string()).into()
}

/// `private_key_jwt` with the assertion's `iss` (a `client_id`).
async fn private_key_jwt(
    state: &AppState,
    form: &mut OAuthForm,
    decoded: tessera_core::token::DecodedJws,
    iss: String,
    path: &str,
    peer: Option<std::net::IpAddr>,
) -> Result<Arc<RegisteredClient>, ApiError> {
    if form.take("client_id").is_some_and(|id| id != iss) {
        return Err(OAuthError::invalid_request(
            "`client_id` differs from the client assertion's `iss`",
        )
        .into());
    }
    let now = state.clock.now_seconds();
    if state.auth_limiter.is_blocked(&iss, peer, now) {
        return Err(slow_down());
    }
    let result = verify_client_assertion(state, &decoded, &iss, path).await;
    if let Err(e) = &result {
        state.auth_limiter.record_failure(&iss, peer, now);
        crate::access_log::failed_authentication(&iss, peer, &e.refusal().description);
    }
    result
}

async fn verify_client_assertion(
    state: &AppState,
    decoded: &tessera_core::token::DecodedJws,
    iss: &str,
    path: &str,
) -> Result<Arc<RegisteredClient>, ApiError> {
    let client = iss
        .parse::<ClientId>()
        .ok()
        .and_then(|id| tessera_core::client_auth::ClientDirectory::client(&state.clients, &id))
        .ok_or_else(|| reject(AssertionError::UnknownIssuer))?;
    let verified = state
        .verify_assertion(decoded, &client, path)
        .await
        .map_err(reject)?;
    if verified.sub != verified.iss {
        return Err(reject(AssertionError::SubjectNotClient));
    }
    state.claim_assertion(&verified, refuse).await?;
    Ok(client)
}

/// An assertion that does not authenticate the client (RFC 7523 §3.2).
fn refuse(e: AssertionError) -> OAuthError {
    OAuthError::invalid_client(e.to_string())
}

fn reject(e: AssertionError) -> ApiError {
    refuse(e).into()
}

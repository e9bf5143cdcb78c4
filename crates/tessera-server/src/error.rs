//! THE mapping from errors to HTTP: status, `WWW-Authenticate`, `Cache-Control` and the JSON
//! body. Every handler and extractor returns [`ApiError`]; nothing else builds an error response.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tessera_core::error::{DomainError, OAuthError, OAuthErrorCode};
use tessera_core::ports::StoreError;

/// Every way a request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// RFC 6749 §5.2 error at an OAuth endpoint.
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    /// A management request was wrong.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// RFC 6750 §3.1: no usable bearer token.
    #[error("invalid_token: {0}")]
    InvalidToken(String),
    /// RFC 6750 §3.1: the token lacks a scope.
    #[error("insufficient_scope: {0}")]
    InsufficientScope(&'static str),
    /// The caller is known and may see the object, but no access policy lets it do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// RFC 9110 §13.1.1: `If-Match` did not match the stored entry (or there is none).
    #[error("precondition failed")]
    PreconditionFailed,
    /// The body is larger than the endpoint accepts.
    #[error("payload too large: {0}")]
    TooLarge(String),
    /// The request is malformed in a way that is not about one field (bad JSON, bad form).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// A field of a JSON body does not fit; `field` is its path (`filters[0].asset_types`).
    #[error("`{field}` {message}")]
    BadField { field: String, message: String },
    /// The method is not served at this path; `Some` names the one it takes.
    #[error("method not allowed")]
    MethodNotAllowed(Option<&'static str>),
    /// Too much is being received at once; the client retries after a moment.
    #[error("busy: {0}")]
    Busy(String),
    /// RFC 9449: a DPoP proof did not hold (or a nonce is needed), at the token endpoint or
    /// at an API.
    #[error("{0}")]
    Dpop(DpopRefusal, DpopAt),
    /// A failure of ours; the cause is logged, the client gets a request id.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::Domain(DomainError::NotFound("object")),
            StoreError::Conflict(m) => ApiError::Domain(DomainError::Conflict(m)),
            StoreError::PreconditionFailed => ApiError::PreconditionFailed,
            StoreError::Backend(m) => ApiError::Internal(m),
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

fn quoted(s: &str) -> String {
    // RFC 6750 §3: quoted-string without `"` and `\`.
    s.chars()
        .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
        .collect()
}

/// What a refusal says: its status, its code, its description, the field at fault and the
/// `WWW-Authenticate` challenge, if any. The JSON API sends it as the error body; the console
/// shows the same words next to the field or on a page.
pub(crate) struct Refusal<'a> {
    pub status: StatusCode,
    pub code: &'a str,
    pub description: String,
    pub field: Option<&'a str>,
    pub challenge: Option<String>,
}

impl ApiError {
    /// The one mapping of an error to what the client is told. An internal error is logged
    /// here, once, with the request's span (and so its request id).
    pub(crate) fn refusal(&self) -> Refusal<'_> {
        let (status, code, description, field, challenge) = match self {
            ApiError::OAuth(e) => {
                let status = match e.code {
                    OAuthErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
                    OAuthErrorCode::SlowDown => StatusCode::TOO_MANY_REQUESTS,
                    OAuthErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
                    _ => StatusCode::BAD_REQUEST,
                };
                // RFC 6749 §5.2: invalid_client answers 401 with a challenge for the scheme.
                let challenge = (e.code == OAuthErrorCode::InvalidClient).then(|| {
                    format!("Basic realm=\"tessera\", error=\"invalid_client\", error_description=\"{}\"", quoted(&e.description))
                });
                (
                    status,
                    e.code.as_str(),
                    e.description.clone(),
                    None,
                    challenge,
                )
            }
            ApiError::Domain(DomainError::Invalid { field, message }) => (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("`{field}` {message}"),
                Some(*field),
                None,
            ),
            ApiError::Domain(DomainError::NotFound(what)) => (
                StatusCode::NOT_FOUND,
                "not_found",
                format!("{what} not found"),
                None,
                None,
            ),
            ApiError::Domain(DomainError::Conflict(m)) => {
                (StatusCode::CONFLICT, "conflict", m.clone(), None, None)
            }
            ApiError::InvalidToken(m) => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                m.clone(),
                None,
                Some(format!(
                    "Bearer realm=\"tessera\", error=\"invalid_token\", error_description=\"{}\"",
                    quoted(m)
                )),
            ),
            ApiError::InsufficientScope(scope) => (
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                format!("this request needs a token with the `{scope}` scope"),
                None,
                Some(format!(
                    "Bearer realm=\"tessera\", error=\"insufficient_scope\", scope=\"{scope}\""
                )),
            ),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, "forbidden", m.clone(), None, None),
            ApiError::PreconditionFailed => (
                StatusCode::PRECONDITION_FAILED,
                "precondition_failed",
                "`If-Match` does not match the entry's current ETag (it changed, or it does not exist): read it again and retry with its ETag".to_owned(),
                None,
                None,
            ),
            ApiError::TooLarge(m) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request",
                m.clone(),
                None,
                None,
            ),
            ApiError::BadRequest(m) => (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                m.clone(),
                None,
                None,
            ),
            ApiError::Busy(m) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                m.clone(),
                None,
                None,
            ),
            ApiError::BadField { field, message } => (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("`{field}` {message}"),
                Some(field.as_str()),
                None,
            ),
            ApiError::MethodNotAllowed(allow) => (
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_request",
                match allow {
                    Some(allow) => format!("this endpoint accepts {allow} only"),
                    None => "this path does not take that method; see /openapi.json".to_owned(),
                },
                None,
                None,
            ),
            ApiError::Dpop(refusal, at) => {
                let code = match refusal {
                    DpopRefusal::Invalid(_) => "invalid_dpop_proof",
                    DpopRefusal::NonceNeeded(_) => "use_dpop_nonce",
                    DpopRefusal::WrongScheme(_) => "invalid_token",
                };
                let description = refusal.to_string();
                match at {
                    DpopAt::TokenEndpoint => (StatusCode::BAD_REQUEST, code, description, None, None),
                    DpopAt::Api => {
                        let challenge = format!(
                            "DPoP algs=\"ES256 EdDSA RS256\", error=\"{code}\", error_description=\"{}\"",
                            quoted(&description)
                        );
                        (StatusCode::UNAUTHORIZED, code, description, None, Some(challenge))
                    }
                }
            }
            ApiError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "the server failed to handle the request; its log has the cause under this request's x-request-id".to_owned(),
                    None,
                    None,
                )
            }
        };
        Refusal {
            status,
            code,
            description,
            field,
            challenge,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let Refusal {
            status,
            code,
            description,
            field,
            challenge,
        } = self.refusal();
        let body = ErrorBody {
            error: code,
            error_description: description,
            field,
        };
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if let Some(challenge) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        if let ApiError::MethodNotAllowed(Some(allow)) = self {
            headers.insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        if let ApiError::Dpop(DpopRefusal::NonceNeeded(nonce), _) = &self {
            if let Ok(nonce) = HeaderValue::from_str(nonce) {
                headers.insert("dpop-nonce", nonce);
            }
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Why a DPoP request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DpopRefusal {
    /// The proof does not hold; says which check.
    #[error("{0}")]
    Invalid(String),
    /// The server asks for a nonce (RFC 9449 §8): this one, in `DPoP-Nonce`.
    #[error("this server asks for a nonce in DPoP proofs: make the proof again with the `DPoP-Nonce` header's value as `nonce`")]
    NonceNeeded(String),
    /// A DPoP-bound token sent as a bearer token, or a bearer token sent as DPoP.
    #[error("{0}")]
    WrongScheme(String),
}

/// Where a DPoP refusal is answered: the token endpoint (an RFC 6749 error) or an API (401
/// with a `DPoP` challenge, RFC 9449 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DpopAt {
    TokenEndpoint,
    Api,
}

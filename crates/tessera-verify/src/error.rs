//! Why a request was refused, and the RFC 6750 answer that says so.

use http::{header, HeaderValue, Response, StatusCode};
use tessera_jose::JwsError;

/// Why a token was not accepted. The messages are safe to send to the caller: they never
/// hold the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// No bearer token came with the request (RFC 6750 §3.1: answered without an error code).
    #[error("the request has no bearer token")]
    Missing,
    /// The `Authorization` header is not one bearer token.
    #[error("{0}")]
    BadRequest(&'static str),
    /// The token's form, header, signature, issuer or times do not hold.
    #[error("{0}")]
    Invalid(#[from] JwsError),
    /// The token was issued for another resource.
    #[error("the token's audience is not this resource (`aud` must hold {0})")]
    WrongAudience(String),
    /// The token lacks a scope the route needs.
    #[error("the token lacks the scope this request needs: {}", .0.join(" "))]
    InsufficientScope(Vec<String>),
    /// Tessera said (a Shared Signals event) that the token no longer holds; says why.
    #[error("the token is no longer valid: {0}")]
    Revoked(&'static str),
    /// RFC 9449: the request's DPoP proof does not hold, or a bound token came without one.
    #[error("{0}")]
    Dpop(String),
    /// The issuer's keys could not be fetched, so nothing can be checked now.
    #[error("the issuer's keys cannot be fetched now: {0}")]
    KeysUnavailable(String),
}

impl VerifyError {
    /// RFC 6750 §3.1's error code (`None` where the request simply had no token).
    pub fn code(&self) -> Option<&'static str> {
        match self {
            VerifyError::Missing | VerifyError::KeysUnavailable(_) => None,
            VerifyError::BadRequest(_) => Some("invalid_request"),
            VerifyError::Invalid(_) | VerifyError::WrongAudience(_) | VerifyError::Revoked(_) => {
                Some("invalid_token")
            }
            VerifyError::InsufficientScope(_) => Some("insufficient_scope"),
            VerifyError::Dpop(_) => Some("invalid_dpop_proof"),
        }
    }

    /// The HTTP status RFC 6750 §3.1 gives the error.
    pub fn status(&self) -> StatusCode {
        match self {
            VerifyError::Missing
            | VerifyError::Invalid(_)
            | VerifyError::WrongAudience(_)
            | VerifyError::Revoked(_)
            | VerifyError::Dpop(_) => StatusCode::UNAUTHORIZED,
            VerifyError::BadRequest(_) => StatusCode::BAD_REQUEST,
            VerifyError::InsufficientScope(_) => StatusCode::FORBIDDEN,
            VerifyError::KeysUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// A refusal ready to answer: the error, and the resource's RFC 9728 metadata URL that the
/// `WWW-Authenticate` challenge points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Why.
    pub error: VerifyError,
    /// The resource's metadata document (RFC 9728 §5.1), where the layer knows it.
    pub resource_metadata: Option<String>,
}

impl Rejection {
    /// The `WWW-Authenticate` challenge (RFC 6750 §3, RFC 9728 §5.1).
    pub fn challenge(&self) -> String {
        let mut params = Vec::new();
        if let Some(url) = &self.resource_metadata {
            params.push(format!("resource_metadata=\"{}\"", quoted(url)));
        }
        if let Some(code) = self.error.code() {
            params.push(format!("error=\"{code}\""));
            params.push(format!(
                "error_description=\"{}\"",
                quoted(&self.error.to_string())
            ));
        }
        if let VerifyError::InsufficientScope(scopes) = &self.error {
            params.push(format!("scope=\"{}\"", quoted(&scopes.join(" "))));
        }
        // RFC 9449 §7.1: a DPoP refusal is a challenge of that scheme.
        let scheme = if matches!(self.error, VerifyError::Dpop(_)) {
            params.insert(0, "algs=\"ES256 EdDSA RS256\"".to_owned());
            "DPoP"
        } else {
            "Bearer"
        };
        if params.is_empty() {
            scheme.to_owned()
        } else {
            format!("{scheme} {}", params.join(", "))
        }
    }

    /// The answer: the status, the challenge, and a JSON body saying the same for people.
    pub fn into_response<B: From<String>>(self) -> Response<B> {
        let body = serde_json::json!({
            "error": self.error.code().unwrap_or("unauthorized"),
            "error_description": self.error.to_string(),
        });
        let mut response = Response::new(B::from(body.to_string()));
        *response.status_mut() = self.error.status();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if self.error.status() != StatusCode::SERVICE_UNAVAILABLE {
            if let Ok(value) = HeaderValue::from_str(&self.challenge()) {
                headers.insert(header::WWW_AUTHENTICATE, value);
            }
        }
        response
    }
}

/// RFC 7230's quoted-string, in ASCII as header values should be: `"` and `\` escaped, `§`
/// spelled out, anything else outside printable ASCII dropped.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '§' => out.push_str("section "),
            ' '..='~' => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(feature = "axum")]
impl axum::response::IntoResponse for Rejection {
    fn into_response(self) -> axum::response::Response {
        Rejection::into_response::<axum::body::Body>(self)
    }
}

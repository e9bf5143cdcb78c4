//! The core's errors. No HTTP status lives here: the server maps each kind exactly once.

use std::fmt;

/// The error codes of RFC 6749 §5.2, RFC 8693 and OpenID Connect that the token endpoints use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthErrorCode {
    /// RFC 6749 `invalid_request`.
    InvalidRequest,
    /// RFC 6749 `invalid_client`.
    InvalidClient,
    /// RFC 6749 `invalid_grant`.
    InvalidGrant,
    /// RFC 6749 `unauthorized_client`.
    UnauthorizedClient,
    /// RFC 6749 `unsupported_grant_type`.
    UnsupportedGrantType,
    /// RFC 6749 `invalid_scope`.
    InvalidScope,
    /// RFC 6749 §4.1.2.1 `unsupported_response_type`.
    UnsupportedResponseType,
    /// RFC 6749 §4.1.2.1 `access_denied`: the person said no.
    AccessDenied,
    /// RFC 8693 `invalid_target`.
    InvalidTarget,
    /// OpenID Connect `consent_required`.
    ConsentRequired,
    /// RFC 7009 `unsupported_token_type`.
    UnsupportedTokenType,
    /// Too many failed client authentications (SPEC §11); served with 429.
    SlowDown,
    /// RFC 7591 §3.2.2 `invalid_redirect_uri`.
    InvalidRedirectUri,
    /// RFC 7591 §3.2.2 `invalid_client_metadata`.
    InvalidClientMetadata,
    /// RFC 9449 §5 `invalid_dpop_proof`.
    InvalidDpopProof,
    /// RFC 6749 `server_error`.
    ServerError,
}

impl OAuthErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            OAuthErrorCode::InvalidRequest => "invalid_request",
            OAuthErrorCode::InvalidClient => "invalid_client",
            OAuthErrorCode::InvalidGrant => "invalid_grant",
            OAuthErrorCode::UnauthorizedClient => "unauthorized_client",
            OAuthErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            OAuthErrorCode::InvalidScope => "invalid_scope",
            OAuthErrorCode::UnsupportedResponseType => "unsupported_response_type",
            OAuthErrorCode::AccessDenied => "access_denied",
            OAuthErrorCode::InvalidTarget => "invalid_target",
            OAuthErrorCode::ConsentRequired => "consent_required",
            OAuthErrorCode::UnsupportedTokenType => "unsupported_token_type",
            OAuthErrorCode::SlowDown => "slow_down",
            OAuthErrorCode::InvalidRedirectUri => "invalid_redirect_uri",
            OAuthErrorCode::InvalidClientMetadata => "invalid_client_metadata",
            OAuthErrorCode::InvalidDpopProof => "invalid_dpop_proof",
            OAuthErrorCode::ServerError => "server_error",
        }
    }
}

/// An OAuth error: the RFC code and a description that says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {description}", code.as_str())]
pub struct OAuthError {
    /// The RFC error code.
    pub code: OAuthErrorCode,
    /// What went wrong, in words, naming the field.
    pub description: String,
}

impl OAuthError {
    /// An error with this code and description.
    pub fn new(code: OAuthErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
        }
    }
    /// `invalid_request` with this description.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidRequest, description)
    }
    /// `invalid_client` with this description.
    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidClient, description)
    }
    /// `invalid_scope` with this description.
    pub fn invalid_scope(description: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidScope, description)
    }
    /// The client did not authenticate where it must; `how` says how it may.
    pub fn no_client_authentication(how: &str) -> Self {
        Self::invalid_client(format!("no client authentication: {how}"))
    }
    /// How a client authenticates at the OAuth endpoints (RFC 6749 §2.3, RFC 7523 §2.2).
    pub const CLIENT_AUTHENTICATION_METHODS: &'static str =
        "use HTTP Basic, client_id and client_secret in the body, or a client assertion";
}

/// Errors of the management operations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// A field of the request is wrong; the message says how.
    #[error("`{field}` {message}")]
    Invalid {
        /// The field at fault, as the API names it.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The object does not exist in the caller's tenant (or at all: the two look the same).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The object would clash with one that exists.
    #[error("{0}")]
    Conflict(String),
}

impl DomainError {
    /// `Invalid` for `field` with this message.
    pub fn invalid(field: &'static str, message: impl fmt::Display) -> Self {
        DomainError::Invalid {
            field,
            message: message.to_string(),
        }
    }
    /// The field the error is about, if it is about one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            DomainError::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }
}

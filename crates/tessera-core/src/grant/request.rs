//! The token endpoint's request, parsed once (SPEC §3): one variant per grant, every parameter
//! read and checked here, so neither the grants nor the edge read the form again. The form
//! itself (content type, size, no parameter twice) is the edge's; this takes a lookup.

use super::{
    GRANT_AUTHORIZATION_CODE, GRANT_CLIENT_CREDENTIALS, GRANT_JWT_BEARER, GRANT_REFRESH_TOKEN,
    GRANT_TOKEN_EXCHANGE,
};
use crate::error::{OAuthError, OAuthErrorCode};

/// A token request, parsed at the edge (SPEC §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRequest {
    /// RFC 6749 §4.4: the integration asks for a token for itself, or (SPEC §6, §4.1) for a
    /// tenant that connected to it or that its operator manages (`tenant_id`).
    ClientCredentials {
        /// The `scope` parameter, as sent.
        scope: Option<String>,
        /// The `tenant_id` of a connection tenant, when the token is for one.
        tenant: Option<String>,
    },
    /// RFC 7523 §2.1: an assertion names the integration (`iss`) and the user (`sub`).
    JwtBearer {
        /// The RFC 7523 `assertion`.
        assertion: String,
        /// The `scope` parameter, as sent.
        scope: Option<String>,
    },
    /// RFC 8693.
    TokenExchange(ExchangeRequest),
    /// RFC 6749 §4.1.3 with RFC 7636 §4.5: a code from `/oauth2/authorize` and its verifier.
    AuthorizationCode {
        /// The `code` the authorization endpoint gave.
        code: String,
        /// The `redirect_uri`, when the authorization request named one.
        redirect_uri: Option<String>,
        /// The PKCE `code_verifier`.
        code_verifier: String,
        /// The `client_id`: a public client names itself here (RFC 6749 §4.1.3).
        client_id: Option<String>,
        /// The `resource` (RFC 8707), which must be the one the code was given for.
        resource: Option<String>,
    },
    /// RFC 6749 §6: a refresh token for a new access token (and the next refresh token).
    RefreshToken {
        /// The `refresh_token`.
        refresh_token: String,
        /// The `scope` parameter: at most what the person authorized.
        scope: Option<String>,
        /// The `client_id`: a public client names itself here.
        client_id: Option<String>,
        /// The `resource` (RFC 8707), which must be the one the person authorized.
        resource: Option<String>,
    },
}

/// The parameters of an RFC 8693 token exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeRequest {
    /// The RFC 8693 `subject_token`.
    pub subject_token: String,
    /// Its `subject_token_type`.
    pub subject_token_type: String,
    /// `actor_token` with its `actor_token_type`.
    pub actor: Option<(String, String)>,
    /// The `scope` parameter, as sent.
    pub scope: Option<String>,
    /// The `audience` parameter, as sent.
    pub audience: Option<String>,
    /// The `requested_token_type` parameter, as sent.
    pub requested_token_type: Option<String>,
}

fn missing(name: &str) -> OAuthError {
    OAuthError::invalid_request(format!("the `{name}` parameter is missing"))
}

impl TokenRequest {
    /// Reads the request from its parameters (`param` gives a parameter's value; empty values
    /// count as absent, RFC 6749 §3.1).
    pub fn parse<'a>(param: impl Fn(&str) -> Option<&'a str>) -> Result<Self, OAuthError> {
        let required = |name: &str| param(name).map(str::to_owned).ok_or_else(|| missing(name));
        let optional = |name: &str| param(name).map(str::to_owned);
        match param("grant_type") {
            None => Err(missing("grant_type")),
            Some(GRANT_CLIENT_CREDENTIALS) => Ok(TokenRequest::ClientCredentials {
                scope: optional("scope"),
                tenant: optional("tenant_id"),
            }),
            Some(GRANT_AUTHORIZATION_CODE) => Ok(TokenRequest::AuthorizationCode {
                code: required("code")?,
                redirect_uri: optional("redirect_uri"),
                code_verifier: param("code_verifier").map(str::to_owned).ok_or_else(|| {
                    OAuthError::invalid_request(
                        "the `code_verifier` parameter is missing: Tessera requires PKCE (RFC 7636) for every code",
                    )
                })?,
                client_id: optional("client_id"),
                resource: optional("resource"),
            }),
            Some(GRANT_REFRESH_TOKEN) => Ok(TokenRequest::RefreshToken {
                refresh_token: required("refresh_token")?,
                scope: optional("scope"),
                client_id: optional("client_id"),
                resource: optional("resource"),
            }),
            Some(GRANT_JWT_BEARER) => Ok(TokenRequest::JwtBearer {
                assertion: required("assertion")?,
                scope: optional("scope"),
            }),
            Some(GRANT_TOKEN_EXCHANGE) => {
                let subject_token = required("subject_token")?;
                let subject_token_type = required("subject_token_type")?;
                let actor = match (param("actor_token"), param("actor_token_type")) {
                    (Some(token), Some(kind)) => Some((token.to_owned(), kind.to_owned())),
                    (Some(_), None) => return Err(missing("actor_token_type")),
                    (None, Some(_)) => {
                        return Err(OAuthError::invalid_request(
                            "`actor_token_type` without `actor_token`: send both or neither",
                        ))
                    }
                    (None, None) => None,
                };
                if param("resource").is_some() {
                    return Err(OAuthError::new(
                        OAuthErrorCode::InvalidTarget,
                        "`resource` is not supported: name the target with `audience`",
                    ));
                }
                Ok(TokenRequest::TokenExchange(ExchangeRequest {
                    subject_token,
                    subject_token_type,
                    actor,
                    scope: optional("scope"),
                    audience: optional("audience"),
                    requested_token_type: optional("requested_token_type"),
                }))
            }
            Some(other) => Err(OAuthError::new(
                OAuthErrorCode::UnsupportedGrantType,
                format!(
                    "grant_type `{}` is not supported; supported: {GRANT_CLIENT_CREDENTIALS}, {GRANT_AUTHORIZATION_CODE}, {GRANT_REFRESH_TOKEN}, {GRANT_JWT_BEARER}, {GRANT_TOKEN_EXCHANGE}",
                    other.chars().take(80).collect::<String>()
                ),
            )),
        }
    }

    /// The request's `grant_type`.
    pub fn grant_type(&self) -> &'static str {
        match self {
            TokenRequest::ClientCredentials { .. } => GRANT_CLIENT_CREDENTIALS,
            TokenRequest::JwtBearer { .. } => GRANT_JWT_BEARER,
            TokenRequest::TokenExchange(_) => GRANT_TOKEN_EXCHANGE,
            TokenRequest::AuthorizationCode { .. } => GRANT_AUTHORIZATION_CODE,
            TokenRequest::RefreshToken { .. } => GRANT_REFRESH_TOKEN,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn check(form: &[(&str, &str)], expected: Result<TokenRequest, (OAuthErrorCode, &str)>) {
        let form: HashMap<&str, &str> = form.iter().copied().collect();
        let parsed = TokenRequest::parse(|name| form.get(name).copied());
        match (parsed, expected) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{form:?}"),
            (Err(e), Err((code, names))) => {
                assert_eq!(e.code, code, "{form:?}: {e}");
                assert!(e.description.contains(names), "{form:?}: {e}");
            }
            (got, want) => panic!("{form:?}: got {got:?}, want {want:?}"),
        }
    }

    const EXCHANGE: &str = GRANT_TOKEN_EXCHANGE;
    const JWT: &str = GRANT_JWT_BEARER;
    const AT: &str = "urn:ietf:params:oauth:token-type:access_token";

    #[test]
    fn client_credentials_and_the_jwt_bearer_grant_read_their_parameters() {
        use OAuthErrorCode::*;
        check(
            &[("grant_type", "client_credentials")],
            Ok(TokenRequest::ClientCredentials {
                scope: None,
                tenant: None,
            }),
        );
        check(
            &[
                ("grant_type", "client_credentials"),
                ("scope", "assets:read"),
                ("tenant_id", "tenant/x"),
            ],
            Ok(TokenRequest::ClientCredentials {
                scope: Some("assets:read".into()),
                tenant: Some("tenant/x".into()),
            }),
        );
        check(
            &[("grant_type", JWT), ("assertion", "a.b.c")],
            Ok(TokenRequest::JwtBearer {
                assertion: "a.b.c".into(),
                scope: None,
            }),
        );
        check(&[("grant_type", JWT)], Err((InvalidRequest, "`assertion`")));
        check(&[], Err((InvalidRequest, "`grant_type`")));
        check(
            &[("grant_type", "password")],
            Err((UnsupportedGrantType, "`password`")),
        );
    }

    #[test]
    fn the_code_grant_needs_its_code_and_verifier() {
        use OAuthErrorCode::*;
        let code = GRANT_AUTHORIZATION_CODE;
        check(
            &[("grant_type", code), ("code", "c"), ("code_verifier", "v")],
            Ok(TokenRequest::AuthorizationCode {
                code: "c".into(),
                redirect_uri: None,
                code_verifier: "v".into(),
                client_id: None,
                resource: None,
            }),
        );
        check(
            &[("grant_type", code), ("code_verifier", "v")],
            Err((InvalidRequest, "`code`")),
        );
        check(
            &[("grant_type", code), ("code", "c")],
            Err((InvalidRequest, "requires PKCE")),
        );
    }

    #[test]
    fn the_exchange_reads_its_tokens_in_pairs_and_takes_no_resource() {
        use OAuthErrorCode::*;
        check(
            &[
                ("grant_type", EXCHANGE),
                ("subject_token", "s"),
                ("subject_token_type", AT),
                ("actor_token", "a"),
                ("actor_token_type", AT),
                ("audience", "https://api"),
            ],
            Ok(TokenRequest::TokenExchange(ExchangeRequest {
                subject_token: "s".into(),
                subject_token_type: AT.into(),
                actor: Some(("a".into(), AT.into())),
                scope: None,
                audience: Some("https://api".into()),
                requested_token_type: None,
            })),
        );
        check(
            &[("grant_type", EXCHANGE), ("subject_token_type", AT)],
            Err((InvalidRequest, "`subject_token`")),
        );
        check(
            &[("grant_type", EXCHANGE), ("subject_token", "s")],
            Err((InvalidRequest, "`subject_token_type`")),
        );
        check(
            &[
                ("grant_type", EXCHANGE),
                ("subject_token", "s"),
                ("subject_token_type", AT),
                ("actor_token_type", AT),
            ],
            Err((InvalidRequest, "without `actor_token`")),
        );
        check(
            &[
                ("grant_type", EXCHANGE),
                ("subject_token", "s"),
                ("subject_token_type", AT),
                ("actor_token", "a"),
            ],
            Err((InvalidRequest, "`actor_token_type`")),
        );
        check(
            &[
                ("grant_type", EXCHANGE),
                ("subject_token", "s"),
                ("subject_token_type", AT),
                ("resource", "https://x"),
            ],
            Err((InvalidTarget, "`resource`")),
        );
    }
}

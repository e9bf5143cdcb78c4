//! `application/x-www-form-urlencoded` bodies of the OAuth endpoints, parsed strictly: the
//! right content type, at most 64 KiB, UTF-8, and no parameter twice (RFC 6749 §3.2).

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use percent_encoding::percent_decode;
use tessera_core::error::OAuthError;

use crate::error::ApiError;

/// The largest OAuth request body accepted.
pub const MAX_FORM_BYTES: usize = 64 * 1024;

/// The parameters of an OAuth request. Empty values count as absent (RFC 6749 §3.1).
#[derive(Debug, Default)]
pub struct OAuthForm(HashMap<String, String>);

impl OAuthForm {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name).ok_or_else(|| {
            OAuthError::invalid_request(format!("the `{name}` parameter is missing"))
        })
    }

    pub(crate) fn take(&mut self, name: &str) -> Option<String> {
        self.0.remove(name)
    }

    /// Parses a form body.
    pub fn parse(body: &[u8]) -> Result<OAuthForm, OAuthError> {
        let mut params = HashMap::new();
        for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            let mut it = pair.splitn(2, |b| *b == b'=');
            let name = decode(it.next().unwrap_or_default(), None)?;
            let value = decode(it.next().unwrap_or_default(), Some(&name))?;
            if params.contains_key(&name) {
                return Err(OAuthError::invalid_request(format!(
                    "the `{name}` parameter is repeated; send each parameter once (RFC 6749 §3.2)"
                )));
            }
            params.insert(name, value);
        }
        // A repeat is refused even when one of the two is empty, so empties are dropped last.
        params.retain(|_, v| !v.is_empty());
        Ok(OAuthForm(params))
    }
}

fn decode(raw: &[u8], name: Option<&str>) -> Result<String, OAuthError> {
    let plus_as_space: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    percent_decode(&plus_as_space)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| match name {
            Some(name) => OAuthError::invalid_request(format!(
                "the value of `{name}` is not valid UTF-8 once percent-decoded"
            )),
            None => OAuthError::invalid_request(
                "a parameter name is not valid UTF-8 once percent-decoded",
            ),
        })
}

impl<S: Send + Sync> FromRequest<S> for OAuthForm {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(OAuthError::invalid_request(
                "the body must be `application/x-www-form-urlencoded` (set the Content-Type header)",
            )
            .into());
        }
        let body: Body = req.into_body();
        let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
            .await
            .map_err(|_| {
                ApiError::TooLarge(format!(
                    "the request body is larger than {} KiB, the most an OAuth request may be",
                    MAX_FORM_BYTES / 1024
                ))
            })?;
        Ok(OAuthForm::parse(&bytes)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_plus_and_percent_and_drops_empty_values() {
        let form =
            OAuthForm::parse(b"grant_type=client_credentials&scope=assets%3Aread+events%3Aread&x=")
                .unwrap();
        assert_eq!(form.get("scope"), Some("assets:read events:read"));
        assert_eq!(form.get("x"), None);
    }

    #[test]
    fn refuses_repeats_and_bad_utf8_by_name() {
        let err = OAuthForm::parse(b"scope=a&scope=b").unwrap_err();
        assert!(err.description.contains("`scope` parameter is repeated"));
        let err = OAuthForm::parse(b"scope=%FF%FE").unwrap_err();
        assert!(err.description.contains("`scope` is not valid UTF-8"));
    }
}

//! Compact JWS (RFC 7515): the access-token check of RFC 9068 on the hot path, and a decoded,
//! not yet trusted form for assertions and platform tokens. Only the algorithms of
//! [`SigningAlg`] are accepted; `none` never is; the key decides the algorithm, never the token
//! alone (RFC 8725 §3.1).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;

use crate::alg::{PublicKey, SigningAlg};
use crate::jwk::VerifyingKey;

/// RFC 9068 §2.1: access tokens carry `typ: at+jwt`.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// Tokens longer than this are refused before any parsing.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Why a token did not verify. The messages are safe to show to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    /// Not a compact JWS; says what is wrong.
    #[error("the token is not a JWS in compact form ({0})")]
    Malformed(&'static str),
    /// An algorithm other than RS256, ES256 or EdDSA.
    #[error(
        "the token's algorithm `{0}` is not accepted; tokens are signed with RS256, ES256 or EdDSA"
    )]
    UnsupportedAlg(String),
    /// A `typ` other than `at+jwt`: not an access token.
    #[error("the token's `typ` is not `at+jwt`: it is not an access token (RFC 9068 §4)")]
    WrongType,
    /// A SET whose `typ` is not `secevent+jwt`.
    #[error(
        "the token's `typ` is not `secevent+jwt`: it is not a Security Event Token (RFC 8417 §2.3)"
    )]
    NotASecurityEvent,
    /// No key with this `kid`.
    #[error("the token was signed by a key this server does not know (`kid` {0})")]
    UnknownKey(String),
    /// The signature does not verify.
    #[error("the token's signature does not verify")]
    BadSignature,
    /// The claims are not an access token's.
    #[error("the token's claims are not those of an access token")]
    BadClaims,
    /// Past its `exp`.
    #[error("the token has expired")]
    Expired,
    /// Before its `nbf`.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// Issued by someone else.
    #[error("the token was issued by another issuer")]
    WrongIssuer,
}

#[derive(Deserialize)]
struct Header {
    alg: Option<String>,
    typ: Option<String>,
    kid: Option<String>,
}

/// Checks an RFC 9068 access token's form, header (`alg`, `typ` `at+jwt`, `kid`) and signature
/// with the key `key_for(kid)` returns, and gives back its payload's bytes for the caller to
/// read into its own claims type. Issuer, audience, times and revocation are the caller's
/// ([`check_times`] for the times).
pub fn verify_access_token<'k, K, F>(token: &str, key_for: F) -> Result<Vec<u8>, JwsError>
where
    K: PublicKey + ?Sized + 'k,
    F: FnOnce(&str) -> Option<&'k K>,
{
    if token.len() > MAX_TOKEN_LEN {
        return Err(JwsError::Malformed("longer than 16 KiB"));
    }
    let mut parts = token.splitn(4, '.');
    let (Some(header_b64), Some(payload_b64), Some(sig_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwsError::Malformed("expected three dot-separated parts"));
    };
    let header_bytes = URL_SAFE_NO_PAD
        .decode(header_b64)
        .map_err(|_| JwsError::Malformed("the header is not base64url"))?;
    let header: Header = serde_json::from_slice(&header_bytes)
        .map_err(|_| JwsError::Malformed("the header is not a JSON object"))?;
    let alg = header.alg.unwrap_or_default();
    let Some(alg) = SigningAlg::parse(&alg) else {
        return Err(JwsError::UnsupportedAlg(alg.chars().take(20).collect()));
    };
    // RFC 9068 §4: resource servers MUST check typ; "application/at+jwt" is the same type.
    let typ = header.typ.unwrap_or_default().to_ascii_lowercase();
    if typ != ACCESS_TOKEN_TYP && typ != "application/at+jwt" {
        return Err(JwsError::WrongType);
    }
    let kid = header.kid.unwrap_or_default();
    let key = key_for(&kid).ok_or_else(|| JwsError::UnknownKey(kid.chars().take(64).collect()))?;
    if key.alg() != alg {
        return Err(JwsError::UnsupportedAlg(alg.as_str().to_owned()));
    }
    let signature = URL_SAFE_NO_PAD
        .decode(sig_b64)
        .map_err(|_| JwsError::Malformed("the signature is not base64url"))?;
    let signed_len = header_b64.len() + 1 + payload_b64.len();
    if !key.verify(&token.as_bytes()[..signed_len], &signature) {
        return Err(JwsError::BadSignature);
    }
    URL_SAFE_NO_PAD
        .decode(payload_b64)
        .map_err(|_| JwsError::Malformed("the payload is not base64url"))
}

/// Checks the issuer and the validity window (`exp`, `nbf`) at `now`, all in seconds, with
/// `leeway` seconds of clock skew either way.
pub fn check_times(
    iss: &str,
    exp: i64,
    nbf: i64,
    issuer: &str,
    now: i64,
    leeway: i64,
) -> Result<(), JwsError> {
    if iss != issuer {
        return Err(JwsError::WrongIssuer);
    }
    if now >= exp + leeway {
        return Err(JwsError::Expired);
    }
    if now + leeway < nbf {
        return Err(JwsError::NotYetValid);
    }
    Ok(())
}

/// A JWS's header and payload, decoded but not yet trusted.
#[derive(Debug, Clone)]
pub struct DecodedJws {
    /// The JOSE header.
    pub header: serde_json::Value,
    /// The claims.
    pub payload: serde_json::Value,
    signing_input: String,
    signature: Vec<u8>,
}

impl DecodedJws {
    /// Splits and decodes a compact JWS without verifying it.
    pub fn decode(token: &str) -> Result<DecodedJws, JwsError> {
        let token = token.trim();
        let parts: Vec<&str> = token.split('.').collect();
        let [header, payload, signature] = parts.as_slice() else {
            return Err(JwsError::Malformed("expected three dot-separated parts"));
        };
        let json = |part: &str, what| {
            URL_SAFE_NO_PAD
                .decode(part)
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .filter(|v| v.is_object())
                .ok_or(JwsError::Malformed(what))
        };
        Ok(DecodedJws {
            header: json(header, "the header is not base64url JSON")?,
            payload: json(payload, "the payload is not base64url JSON")?,
            signing_input: format!("{header}.{payload}"),
            signature: URL_SAFE_NO_PAD
                .decode(signature)
                .map_err(|_| JwsError::Malformed("the signature is not base64url"))?,
        })
    }

    /// Verifies the signature with the key the header's `kid` names (or the only key of the
    /// right algorithm when there is no `kid`). The key decides the algorithm (RFC 8725 §3.1).
    pub fn verify_with(&self, keys: &[VerifyingKey]) -> Result<(), JwsError> {
        let alg = self
            .header
            .get("alg")
            .and_then(|a| a.as_str())
            .unwrap_or_default();
        let Some(alg) = SigningAlg::parse(alg) else {
            return Err(JwsError::UnsupportedAlg(alg.chars().take(20).collect()));
        };
        let kid = self.header.get("kid").and_then(|k| k.as_str());
        let mut candidates = keys
            .iter()
            .filter(|k| k.alg == alg && (kid.is_none() || k.kid.as_deref() == kid));
        let key = candidates.next().ok_or_else(|| {
            JwsError::UnknownKey(kid.unwrap_or("none").chars().take(64).collect())
        })?;
        if key.verify(self.signing_input.as_bytes(), &self.signature) {
            Ok(())
        } else {
            Err(JwsError::BadSignature)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_validity_window_and_the_issuer_are_checked() {
        let check = |issuer, now| check_times("http://issuer", 2000, 1000, issuer, now, 5);
        assert_eq!(check("http://issuer", 1500), Ok(()));
        assert_eq!(check("http://issuer", 2004), Ok(()));
        assert_eq!(check("http://issuer", 2005), Err(JwsError::Expired));
        assert_eq!(check("http://issuer", 994), Err(JwsError::NotYetValid));
        assert_eq!(check("http://other", 1500), Err(JwsError::WrongIssuer));
    }

    #[test]
    fn a_header_that_is_not_an_access_tokens_is_refused_before_any_key_is_asked_for() {
        let b64 = |s: &str| URL_SAFE_NO_PAD.encode(s);
        let no_key = |_: &str| -> Option<&'static VerifyingKey> { None };
        let token = |header: &str| format!("{}.{}.AAAA", b64(header), b64(r#"{"a":1}"#));
        assert_eq!(
            verify_access_token(&token(r#"{"alg":"none","typ":"at+jwt"}"#), no_key),
            Err(JwsError::UnsupportedAlg("none".into()))
        );
        assert_eq!(
            verify_access_token(&token(r#"{"alg":"ES256","typ":"JWT"}"#), no_key),
            Err(JwsError::WrongType)
        );
        assert_eq!(
            verify_access_token(
                &token(r#"{"alg":"ES256","typ":"at+jwt","kid":"k"}"#),
                no_key
            ),
            Err(JwsError::UnknownKey("k".into()))
        );
        assert!(matches!(
            verify_access_token("a.b", no_key),
            Err(JwsError::Malformed(_))
        ));
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        assert_eq!(
            verify_access_token(&long, no_key),
            Err(JwsError::Malformed("longer than 16 KiB"))
        );
    }
}

//! JWS compact serialization (RFC 7515) for access tokens: mint with the current key, verify
//! against the key ring. Only the algorithms of [`SigningAlg`] are accepted; `none` never is.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;

use super::claims::AccessTokenClaims;
use super::keys::{KeyError, KeyRing, SigningAlg, SigningKey};

/// RFC 9068 §2.1: access tokens carry `typ: at+jwt`.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// Tokens longer than this are refused before any parsing.
const MAX_TOKEN_LEN: usize = 16 * 1024;

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

impl SigningKey {
    /// Signs the claims into a compact JWS.
    pub fn mint(&self, claims: &AccessTokenClaims) -> Result<String, KeyError> {
        let payload = serde_json::to_vec(claims).map_err(|_| KeyError::Signing)?;
        let mut token =
            String::with_capacity(self.header_prefix.len() + payload.len() * 4 / 3 + 400);
        token.push_str(&self.header_prefix);
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        let signature = self.sign(token.as_bytes())?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature, &mut token);
        Ok(token)
    }

    /// Signs any JSON payload as a compact JWS with `typ: JWT` and this key's `kid`: the client
    /// side of RFC 7523 assertions (the CLI, tests, the bench).
    pub fn sign_jwt(&self, payload: &serde_json::Value) -> Result<String, KeyError> {
        self.sign_typed("JWT", payload)
    }

    /// Signs a JSON payload as a compact JWS with the given `typ` (explicit typing, RFC 8725
    /// §3.11, so that one kind of JWT is never taken for another) and this key's `kid`.
    pub fn sign_typed(&self, typ: &str, payload: &serde_json::Value) -> Result<String, KeyError> {
        let header = serde_json::json!({"alg": self.alg().as_str(), "typ": typ, "kid": self.kid()});
        let mut token = URL_SAFE_NO_PAD.encode(header.to_string());
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(payload.to_string(), &mut token);
        let signature = self.sign(token.as_bytes())?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature, &mut token);
        Ok(token)
    }
}

impl KeyRing {
    /// Verifies the signature and `typ` of an access token and returns its claims. Time, issuer
    /// and revocation are checked by [`AccessTokenClaims::check_validity`] and the caller.
    pub fn verify(&self, token: &str) -> Result<AccessTokenClaims, JwsError> {
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
        let key = self
            .get(&kid)
            .ok_or_else(|| JwsError::UnknownKey(kid.chars().take(64).collect()))?;
        // The key decides the algorithm, never the token alone (RFC 8725 §3.1).
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
        let payload = URL_SAFE_NO_PAD
            .decode(payload_b64)
            .map_err(|_| JwsError::Malformed("the payload is not base64url"))?;
        serde_json::from_slice(&payload).map_err(|_| JwsError::BadClaims)
    }
}

impl AccessTokenClaims {
    /// Clock skew tolerated on `nbf` and `exp`.
    pub const LEEWAY_SECONDS: i64 = 5;

    /// Checks issuer and validity window at `now` (seconds).
    pub fn check_validity(&self, issuer: &str, now: i64) -> Result<(), JwsError> {
        if self.iss != issuer {
            return Err(JwsError::WrongIssuer);
        }
        if now >= self.exp + Self::LEEWAY_SECONDS {
            return Err(JwsError::Expired);
        }
        if now + Self::LEEWAY_SECONDS < self.nbf {
            return Err(JwsError::NotYetValid);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::OsRng;

    fn claims() -> AccessTokenClaims {
        super::super::claims::sample_claims()
    }

    fn ring(alg: SigningAlg) -> KeyRing {
        let (key, _) = SigningKey::generate(alg, &OsRng).unwrap();
        KeyRing::new(vec![key]).unwrap()
    }

    #[test]
    fn every_algorithm_mints_tokens_that_verify() {
        for alg in SigningAlg::ALL {
            let ring = ring(alg);
            let token = ring.current().mint(&claims()).unwrap();
            assert_eq!(ring.verify(&token).unwrap(), claims(), "{alg:?}");
        }
    }

    #[test]
    fn tampered_payload_fails_the_signature() {
        let ring = ring(SigningAlg::EdDsa);
        let token = ring.current().mint(&claims()).unwrap();
        let mut evil = claims();
        evil.scope = crate::scope::ScopeSet::from_iter([crate::scope::Scope::Admin]);
        let evil_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&evil).unwrap());
        let parts: Vec<&str> = token.split('.').collect();
        let forged = format!("{}.{}.{}", parts[0], evil_payload, parts[2]);
        assert_eq!(ring.verify(&forged), Err(JwsError::BadSignature));
    }

    #[test]
    fn alg_none_and_foreign_keys_are_refused() {
        let ring = ring(SigningAlg::Es256);
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"at+jwt"}"#);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims()).unwrap());
        assert_eq!(
            ring.verify(&format!("{header}.{payload}.")),
            Err(JwsError::UnsupportedAlg("none".into()))
        );
        let other = self::ring(SigningAlg::Es256);
        let token = other.current().mint(&claims()).unwrap();
        assert!(matches!(ring.verify(&token), Err(JwsError::UnknownKey(_))));
        assert!(matches!(ring.verify("a.b"), Err(JwsError::Malformed(_))));
    }

    #[test]
    fn validity_window_and_issuer_are_checked() {
        let c = claims();
        assert_eq!(c.check_validity("http://issuer", 1500), Ok(()));
        assert_eq!(
            c.check_validity("http://issuer", 2005),
            Err(JwsError::Expired)
        );
        assert_eq!(
            c.check_validity("http://issuer", 990),
            Err(JwsError::NotYetValid)
        );
        assert_eq!(
            c.check_validity("http://other", 1500),
            Err(JwsError::WrongIssuer)
        );
    }
}

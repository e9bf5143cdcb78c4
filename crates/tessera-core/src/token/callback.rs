//! The signature on every call Tessera makes to an application's `authentication_url`
//! (`connection.granted`, `connection.rejected`, `connection.revoked`; SPEC §6).
//!
//! The body goes as it is; the `Tessera-Signature` header carries a JWT signed with the
//! server's current token key, verifiable against `/oauth2/jwks` like the access tokens the
//! application already checks: `typ` `tessera-callback+jwt` (never taken for an access token),
//! `iss` the issuer, `aud` the application's `client_id`, `iat`/`exp` five minutes apart, a
//! fresh `jti`, the `event`, and `body_sha256`, the base64url SHA-256 of the exact body bytes.
//! Why not a shared secret: the first call (`connection.granted`) is the one that hands the
//! webhook secret over, so it cannot be signed with it; a public key needs nothing shown once,
//! stored or rotated per integration, and rotates with the token keys.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::keys::{KeyError, SigningKey};
use tessera_jose::{DecodedJws, VerifyingKey};

/// The `typ` of a callback signature.
pub const CALLBACK_TYP: &str = "tessera-callback+jwt";
/// The HTTP header that carries it.
pub const CALLBACK_SIGNATURE_HEADER: &str = "tessera-signature";
/// How long a signature is good for, in seconds.
pub const CALLBACK_LIFETIME_SECONDS: i64 = 300;

/// What a callback's signature says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackClaims {
    /// The server's issuer.
    pub issuer: String,
    /// The application's `client_id`.
    pub audience: String,
    /// `connection.granted` and the like.
    pub event: String,
    /// Unix seconds.
    pub issued_at: i64,
    /// A fresh id, so that an application can drop a repeat.
    pub jti: String,
}

/// The base64url SHA-256 of a body, as `body_sha256` carries it.
pub fn body_digest(body: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(body))
}

/// Signs a callback whose exact bytes are `body`.
pub fn sign_callback(
    key: &SigningKey,
    claims: &CallbackClaims,
    body: &[u8],
) -> Result<String, KeyError> {
    key.sign_typed(
        CALLBACK_TYP,
        &serde_json::json!({
            "iss": claims.issuer,
            "aud": claims.audience,
            "iat": claims.issued_at,
            "exp": claims.issued_at + CALLBACK_LIFETIME_SECONDS,
            "jti": claims.jti,
            "event": claims.event,
            "body_sha256": body_digest(body),
        }),
    )
}

/// Why a callback's signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackRejection {
    /// Not a JWS, or signed by no key of the set.
    #[error("the signature does not verify: {0}")]
    Signature(String),
    /// A JWT of another kind.
    #[error("the signature's typ is not `tessera-callback+jwt`")]
    WrongType,
    /// Meant for someone else, or from another issuer.
    #[error("the signature names another issuer or audience")]
    WrongParty,
    /// Past its `exp`.
    #[error("the signature has expired")]
    Expired,
    /// The body is not the one signed.
    #[error("the body is not the one that was signed")]
    BodyChanged,
}

/// Checks a callback as an application would (the README shows the same steps in JavaScript):
/// the signature against the key set, `typ`, `iss`, `aud`, `exp` and the body's digest.
/// Returns the signed event.
pub fn verify_callback(
    signature: &str,
    body: &[u8],
    keys: &[VerifyingKey],
    issuer: &str,
    client_id: &str,
    now: i64,
) -> Result<String, CallbackRejection> {
    let jws =
        DecodedJws::decode(signature).map_err(|e| CallbackRejection::Signature(e.to_string()))?;
    jws.verify_with(keys)
        .map_err(|e| CallbackRejection::Signature(e.to_string()))?;
    if jws.header.get("typ").and_then(|t| t.as_str()) != Some(CALLBACK_TYP) {
        return Err(CallbackRejection::WrongType);
    }
    let claim = |name: &str| jws.payload.get(name).and_then(|v| v.as_str());
    if claim("iss") != Some(issuer) || claim("aud") != Some(client_id) {
        return Err(CallbackRejection::WrongParty);
    }
    if jws.payload.get("exp").and_then(|v| v.as_i64()).unwrap_or(0) <= now {
        return Err(CallbackRejection::Expired);
    }
    if claim("body_sha256") != Some(body_digest(body).as_str()) {
        return Err(CallbackRejection::BodyChanged);
    }
    Ok(claim("event").unwrap_or_default().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::OsRng;
    use crate::token::{KeyRing, SigningAlg};

    fn claims() -> CallbackClaims {
        CallbackClaims {
            issuer: "https://tessera.example".into(),
            audience: "app-1".into(),
            event: "connection.granted".into(),
            issued_at: 1_000,
            jti: "j1".into(),
        }
    }

    #[test]
    fn a_signed_callback_verifies_against_the_jwks_and_nothing_altered_does() {
        for alg in SigningAlg::ALL {
            let (key, _) = SigningKey::generate(alg, &OsRng).unwrap();
            let ring = KeyRing::new(vec![key]).unwrap();
            let keys = VerifyingKey::from_jwks(&serde_json::from_str(ring.jwks_json()).unwrap());
            let body = br#"{"event":"connection.granted"}"#;
            let sig = sign_callback(ring.current(), &claims(), body).unwrap();
            let check = |sig: &str, body: &[u8], aud: &str, now: i64| {
                verify_callback(sig, body, &keys, "https://tessera.example", aud, now)
            };
            assert_eq!(
                check(&sig, body, "app-1", 1_001),
                Ok("connection.granted".into())
            );
            assert_eq!(
                check(&sig, br#"{"event":"connection.revoked"}"#, "app-1", 1_001),
                Err(CallbackRejection::BodyChanged)
            );
            assert_eq!(
                check(&sig, body, "app-2", 1_001),
                Err(CallbackRejection::WrongParty)
            );
            assert_eq!(
                check(&sig, body, "app-1", 1_300),
                Err(CallbackRejection::Expired)
            );
            let other = ring
                .current()
                .sign_jwt(&serde_json::json!({"iss": "x"}))
                .unwrap();
            assert_eq!(
                check(&other, body, "app-1", 1_001),
                Err(CallbackRejection::WrongType)
            );
            let (stranger, _) = SigningKey::generate(alg, &OsRng).unwrap();
            let forged = sign_callback(&stranger, &claims(), body).unwrap();
            assert!(matches!(
                check(&forged, body, "app-1", 1_001),
                Err(CallbackRejection::Signature(_))
            ));
        }
    }
}

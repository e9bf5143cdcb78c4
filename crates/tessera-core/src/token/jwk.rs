//! Verification with public keys given as JWKs (RFC 7517): the client side of `token decode
//! --verify`, and later the keys integrations register.

use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;

use super::jws::JwsError;
use super::keys::SigningAlg;

/// A public key that verifies one algorithm.
pub struct VerifyingKey {
    pub kid: Option<String>,
    pub alg: SigningAlg,
    key: KeyMaterial,
}

enum KeyMaterial {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    Parsed(ParsedPublicKey),
}

/// Why a JWK could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unusable JWK: {0}")]
pub struct JwkError(pub String);

#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

fn b64(field: &str, value: Option<&String>) -> Result<Vec<u8>, JwkError> {
    let value = value.ok_or_else(|| JwkError(format!("`{field}` is missing")))?;
    URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|_| JwkError(format!("`{field}` is not base64url")))
}

impl VerifyingKey {
    /// Reads one JWK: RSA (RS256), EC P-256 (ES256) or OKP Ed25519 (EdDSA).
    pub fn from_jwk(jwk: &serde_json::Value) -> Result<VerifyingKey, JwkError> {
        let raw: RawJwk = serde_json::from_value(jwk.clone())
            .map_err(|e| JwkError(format!("not a JWK object: {e}")))?;
        let (alg, key) = match (raw.kty.as_str(), raw.crv.as_deref()) {
            ("RSA", _) => {
                let n = b64("n", raw.n.as_ref())?;
                if n.len() < 256 {
                    return Err(JwkError("RSA keys must have at least 2048 bits".into()));
                }
                (
                    SigningAlg::Rs256,
                    KeyMaterial::Rsa {
                        n,
                        e: b64("e", raw.e.as_ref())?,
                    },
                )
            }
            ("EC", Some("P-256")) => {
                let mut point = vec![4u8];
                point.extend(b64("x", raw.x.as_ref())?);
                point.extend(b64("y", raw.y.as_ref())?);
                let parsed = ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .map_err(|_| JwkError("not a point on P-256".into()))?;
                (SigningAlg::Es256, KeyMaterial::Parsed(parsed))
            }
            ("OKP", Some("Ed25519")) => {
                let parsed = ParsedPublicKey::new(&signature::ED25519, b64("x", raw.x.as_ref())?)
                    .map_err(|_| JwkError("not an Ed25519 public key".into()))?;
                (SigningAlg::EdDsa, KeyMaterial::Parsed(parsed))
            }
            (kty, crv) => {
                return Err(JwkError(format!(
                    "kty `{kty}`{} is not supported; use RSA, EC P-256 or OKP Ed25519",
                    crv.map(|c| format!(" crv `{c}`")).unwrap_or_default()
                )))
            }
        };
        if let Some(declared) = raw.alg.as_deref() {
            if declared != alg.as_str() {
                return Err(JwkError(format!(
                    "`alg` {declared} does not fit the key type"
                )));
            }
        }
        Ok(VerifyingKey {
            kid: raw.kid,
            alg,
            key,
        })
    }

    /// Reads every usable key of a JWKS document, skipping the others.
    pub fn from_jwks(jwks: &serde_json::Value) -> Vec<VerifyingKey> {
        jwks.get("keys")
            .and_then(|k| k.as_array())
            .map(|keys| keys.iter().filter_map(|k| Self::from_jwk(k).ok()).collect())
            .unwrap_or_default()
    }

    fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        match &self.key {
            KeyMaterial::Rsa { n, e } => RsaPublicKeyComponents { n, e }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, sig)
                .is_ok(),
            KeyMaterial::Parsed(key) => key.verify_sig(message, sig).is_ok(),
        }
    }
}

/// A JWS's header and payload, decoded but not yet trusted.
#[derive(Debug, Clone)]
pub struct DecodedJws {
    pub header: serde_json::Value,
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
    use crate::ports::OsRng;
    use crate::token::{KeyRing, SigningKey};

    #[test]
    fn tokens_verify_against_the_published_jwks_for_every_algorithm() {
        for alg in SigningAlg::ALL {
            let (key, _) = SigningKey::generate(alg, &OsRng).unwrap();
            let ring = KeyRing::new(vec![key]).unwrap();
            let claims = serde_json::from_value(serde_json::json!({
                "iss": "i", "sub": "s", "aud": "a", "exp": 2, "iat": 1, "nbf": 1, "jti": "j",
                "client_id": "c", "scope": "", "tenant_id": "t", "tier": "FREE", "name": "n"
            }))
            .unwrap();
            let token = ring.current().mint(&claims).unwrap();
            let jwks: serde_json::Value = serde_json::from_str(ring.jwks_json()).unwrap();
            let keys = VerifyingKey::from_jwks(&jwks);
            let decoded = DecodedJws::decode(&token).unwrap();
            assert_eq!(decoded.verify_with(&keys), Ok(()), "{alg:?}");
            let mut tampered = token.clone();
            tampered.replace_range(tampered.len() - 4.., "AAAA");
            assert!(DecodedJws::decode(&tampered)
                .unwrap()
                .verify_with(&keys)
                .is_err());
        }
    }

    #[test]
    fn unsupported_keys_are_named() {
        let err = VerifyingKey::from_jwk(&serde_json::json!({"kty": "oct", "k": "AA"}))
            .err()
            .unwrap();
        assert!(err.0.contains("kty `oct`"), "{err}");
    }
}

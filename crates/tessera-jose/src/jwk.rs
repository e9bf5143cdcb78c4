//! Public keys given as JWKs (RFC 7517): the keys integrations register, the key sets of
//! trusted platforms, and the client side of `token decode --verify`.

use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;

use crate::alg::PublicKey;
use crate::alg::SigningAlg;

/// A public key that verifies one algorithm.
pub struct VerifyingKey {
    /// The key id, if the JWK has one.
    pub kid: Option<String>,
    /// The algorithm it verifies.
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

    /// Whether `sig` is this key's signature of `message`.
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        match &self.key {
            KeyMaterial::Rsa { n, e } => RsaPublicKeyComponents { n, e }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, sig)
                .is_ok(),
            KeyMaterial::Parsed(key) => key.verify_sig(message, sig).is_ok(),
        }
    }
}

impl PublicKey for VerifyingKey {
    fn alg(&self) -> SigningAlg {
        self.alg
    }
    fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        VerifyingKey::verify(self, message, sig)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_keys_are_named() {
        let err = VerifyingKey::from_jwk(&serde_json::json!({"kty": "oct", "k": "AA"}))
            .err()
            .unwrap();
        assert!(err.0.contains("kty `oct`"), "{err}");
    }
}

/// Published JOSE test vectors: RFC 7520 §4 (the JWS examples of the JOSE cookbook), RFC 7515
/// A.3 and RFC 8037 A.4. The algorithms Tessera accepts verify, and stop verifying when a byte
/// changes; the cookbook's other algorithms are refused by name.
#[cfg(test)]
mod rfc_vectors {
    use super::*;
    use crate::jws::{DecodedJws, JwsError};

    /// RFC 7520 §3.3: the RSA key's public part.
    const RFC7520_RSA: &str = r#"{"kty":"RSA","kid":"bilbo.baggins@hobbiton.example","use":"sig",
        "n":"n4EPtAOCc9AlkeQHPzHStgAbgs7bTZLwUBZdR8_KuKPEHLd4rHVTeT-O-XV2jRojdNhxJWTDvNd7nqQ0VEiZQHz_AJmSCpMaJMRBSFKrKb2wqVwGU_NsYOYL-QtiWN2lbzcEe6XC0dApr5ydQLrHqkHHig3RBordaZ6Aj-oBHqFEHYpPe7Tpe-OfVfHd1E6cS6M1FZcD1NNLYD5lFHpPI9bTwJlsde3uhGqC0ZCuEHg8lhzwOHrtIQbS0FVbb9k3-tVTU4fg_3L_vniUFAKwuCLqKnS2BYwdq_mzSnbLY7h_qixoR7jig3__kRhuaxwUkRz5iaiQkqgc5gHdrNP5zw",
        "e":"AQAB"}"#;
    /// RFC 7520 §4.1.3: the compact serialization of the RSA v1.5 (RS256) example.
    const RFC7520_4_1: &str = concat!(
        "eyJhbGciOiJSUzI1NiIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9",
        ".SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IHlvdXIgZG9vci4gWW91IHN0ZXAgb250byB0aGUgcm9hZCwgYW5kIGlmIHlvdSBkb24ndCBrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlzIG5vIGtub3dpbmcgd2hlcmUgeW91IG1pZ2h0IGJlIHN3ZXB0IG9mZiB0by4",
        ".MRjdkly7_-oTPTS3AXP41iQIGKa80A0ZmTuV5MEaHoxnW2e5CZ5NlKtainoFmKZopdHM1O2U4mwzJdQx996ivp83xuglII7PNDi84wnB-BDkoBwA78185hX-Es4JIwmDLJK3lfWRa-XtL0RnltuYv746iYTh_qHRD68BNt1uSNCrUCTJDt5aAE6x8wW1Kt9eRo4QPocSadnHXFxnt8Is9UzpERV0ePPQdLuW3IS_de3xyIrDaLGdjluPxUAhb6L2aXic1U12podGU0KLUQSE_oI-ZnmKJ3F4uOZDnd6QZWJushZ41Axf_fcIe8u9ipH84ogoree7vjbU5y18kDquDg"
    );
    /// RFC 7520 §3.2 and §3.5: the cookbook's P-521 and symmetric keys (public parts).
    const RFC7520_P521: &str = r#"{"kty":"EC","kid":"bilbo.baggins@hobbiton.example","use":"sig","crv":"P-521",
        "x":"AHKZLLOsCOzz5cY97ewNUajB957y-C-U88c3v13nmGZx6sYl_oJXu9A5RkTKqjqvjyekWF-7ytDyRXYgCF5cj0Kt",
        "y":"AdymlHvOiLxXkEhayXQnNCvDX4h9htZaCJN34kfmC6pV5OhQHiraVySsUdaQkAgDPrwQrJmbnX9cwlGfP-HqHZR1"}"#;
    const RFC7520_OCT: &str = r#"{"kty":"oct","kid":"018c0ae5-4d9b-471b-bfd6-eef314bc7037","use":"sig","alg":"HS256",
        "k":"hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg"}"#;
    /// RFC 7515 A.3: ES256 over the JSON claims of A.1.
    const RFC7515_A3_KEY: &str = r#"{"kty":"EC","crv":"P-256",
        "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;
    const RFC7515_A3: &str = concat!(
        "eyJhbGciOiJFUzI1NiJ9",
        ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ",
        ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"
    );
    /// RFC 8037 A.4: Ed25519.
    const RFC8037_KEY: &str =
        r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
    const RFC8037_A4: &str = concat!(
        "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc",
        ".hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
    );

    fn key(jwk: &str) -> Result<VerifyingKey, JwkError> {
        VerifyingKey::from_jwk(&serde_json::from_str(jwk).unwrap())
    }

    /// Whether `key` verifies the compact JWS `token` (whatever its payload), and whether it
    /// still does with one character of the signing input or of the signature changed.
    fn check(key: &VerifyingKey, token: &str) -> (bool, bool, bool) {
        let (input, sig) = token.rsplit_once('.').unwrap();
        let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        let mut input_changed = input.as_bytes().to_vec();
        let last = input_changed.len() - 1;
        input_changed[last] ^= 1;
        let mut sig_changed = sig.clone();
        sig_changed[10] ^= 0x80;
        (
            key.verify(input.as_bytes(), &sig),
            key.verify(&input_changed, &sig),
            key.verify(input.as_bytes(), &sig_changed),
        )
    }

    #[test]
    fn the_accepted_algorithms_verify_the_published_examples_and_nothing_changed() {
        let cases = [
            (
                "RFC 7520 §4.1 RS256",
                RFC7520_RSA,
                RFC7520_4_1,
                SigningAlg::Rs256,
            ),
            (
                "RFC 7515 A.3 ES256",
                RFC7515_A3_KEY,
                RFC7515_A3,
                SigningAlg::Es256,
            ),
            (
                "RFC 8037 A.4 EdDSA",
                RFC8037_KEY,
                RFC8037_A4,
                SigningAlg::EdDsa,
            ),
        ];
        for (name, jwk, token, alg) in cases {
            let key = key(jwk).unwrap();
            assert_eq!(key.alg, alg, "{name}");
            assert_eq!(check(&key, token), (true, false, false), "{name}");
        }
        // The whole path (decode, pick the key by algorithm, verify) for the JSON example.
        let keys = [key(RFC7515_A3_KEY).unwrap()];
        let decoded = DecodedJws::decode(RFC7515_A3).unwrap();
        assert_eq!(decoded.payload["iss"], "joe");
        assert_eq!(decoded.verify_with(&keys), Ok(()));
        // `"iss":"joe"` made `"iss":"jof"`: still JSON, no longer signed.
        let forged = RFC7515_A3.replacen(".eyJpc3MiOiJqb2Ui", ".eyJpc3MiOiJqb2Yi", 1);
        let forged = DecodedJws::decode(&forged).unwrap();
        assert_eq!(forged.payload["iss"], "jof");
        assert_eq!(forged.verify_with(&keys), Err(JwsError::BadSignature));
        // An RS256 key is never used for the EdDSA example, whatever its header says.
        let wrong = [key(RFC7520_RSA).unwrap()];
        let eddsa = format!(
            "{}.eyJhIjoxfQ.{}",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"EdDSA","kid":"bilbo.baggins@hobbiton.example"}"#),
            RFC8037_A4.rsplit_once('.').unwrap().1
        );
        assert_eq!(
            DecodedJws::decode(&eddsa).unwrap().verify_with(&wrong),
            Err(JwsError::UnknownKey(
                "bilbo.baggins@hobbiton.example".into()
            ))
        );
        // Tessera's assertions and tokens carry JSON claims: the cookbook's text payload is
        // refused as a token even though its signature is good.
        assert_eq!(
            DecodedJws::decode(RFC7520_4_1).unwrap_err(),
            JwsError::Malformed("the payload is not base64url JSON")
        );
    }

    #[test]
    fn the_cookbooks_other_algorithms_are_refused_by_name() {
        // RFC 7520 §4.2 (PS384), §4.3 (ES512) and §4.4 (HS256) headers over a JSON payload.
        for alg in ["PS384", "ES512", "HS256", "none"] {
            let header = format!(r#"{{"alg":"{alg}","kid":"bilbo.baggins@hobbiton.example"}}"#);
            let token = format!("{}.eyJhIjoxfQ.AAAA", URL_SAFE_NO_PAD.encode(header));
            let keys = [key(RFC7520_RSA).unwrap()];
            assert_eq!(
                DecodedJws::decode(&token).unwrap().verify_with(&keys),
                Err(JwsError::UnsupportedAlg(alg.into())),
                "{alg}"
            );
        }
        let p521 = key(RFC7520_P521).err().unwrap();
        assert!(p521.0.contains("crv `P-521` is not supported"), "{p521}");
        let oct = key(RFC7520_OCT).err().unwrap();
        assert!(oct.0.contains("kty `oct` is not supported"), "{oct}");
    }
}

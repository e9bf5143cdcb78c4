use std::collections::HashMap;
use std::sync::Arc;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, ParsedPublicKey, RsaKeyPair,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::json;

pub use tessera_jose::SigningAlg;

use crate::ports::Rng;

/// A key could not be made, read or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// An algorithm Tessera does not know.
    #[error("unknown signing algorithm `{0}`: use RS256, ES256 or EdDSA")]
    UnknownAlg(String),
    /// The key material is not a key of its algorithm.
    #[error("the stored {0} key is not a valid PKCS#8 key")]
    BadKey(&'static str),
    /// A new key could not be made.
    #[error("key generation failed")]
    Generation,
    /// Signing failed.
    #[error("signing failed")]
    Signing,
}

enum Pair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A private key that signs access tokens, with what is precomputed for the hot path: the
/// encoded JWS header and the public JWK.
pub struct SigningKey {
    kid: String,
    alg: SigningAlg,
    pair: Pair,
    /// base64url of `{"alg":…,"typ":"at+jwt","kid":…}` followed by `.`
    pub(crate) header_prefix: String,
    public_jwk: serde_json::Value,
    public: ParsedPublicKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a new key; `kid` is 16 random bytes, base64url.
    pub fn generate(alg: SigningAlg, rng: &dyn Rng) -> Result<(SigningKey, Vec<u8>), KeyError> {
        let pkcs8 = match alg {
            SigningAlg::Rs256 => RsaKeyPair::generate(KeySize::Rsa2048)
                .and_then(|k| k.as_der())
                .map(|d| d.as_ref().to_vec()),
            SigningAlg::Es256 => {
                EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
                    .and_then(|k| k.to_pkcs8v1())
                    .map(|d| d.as_ref().to_vec())
            }
            SigningAlg::EdDsa => Ed25519KeyPair::generate()
                .and_then(|k| k.to_pkcs8v1())
                .map(|d| d.as_ref().to_vec()),
        }
        .map_err(|_| KeyError::Generation)?;
        let kid = crate::crypto::random_token(rng, 16);
        let key = SigningKey::from_pkcs8(kid, alg.as_str(), &pkcs8)?;
        Ok((key, pkcs8))
    }

    /// Reads a stored key.
    pub fn from_pkcs8(kid: String, alg: &str, pkcs8: &[u8]) -> Result<SigningKey, KeyError> {
        let alg = SigningAlg::parse(alg).ok_or_else(|| KeyError::UnknownAlg(alg.to_owned()))?;
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        let (pair, public_jwk, public_bytes) = match alg {
            SigningAlg::Rs256 => {
                let pair = RsaKeyPair::from_pkcs8(pkcs8).map_err(|_| KeyError::BadKey("RSA"))?;
                let public = pair.public_key();
                let jwk = json!({
                    "kty": "RSA",
                    "n": b64(public.modulus().big_endian_without_leading_zero()),
                    "e": b64(public.exponent().big_endian_without_leading_zero()),
                });
                let bytes = public.as_ref().to_vec();
                (Pair::Rsa(pair), jwk, bytes)
            }
            SigningAlg::Es256 => {
                let pair =
                    EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
                        .map_err(|_| KeyError::BadKey("EC"))?;
                let point = pair.public_key().as_ref().to_vec();
                // An uncompressed P-256 point: 0x04 || x (32 bytes) || y (32 bytes).
                if point.len() != 65 {
                    return Err(KeyError::BadKey("EC"));
                }
                let jwk = json!({
                    "kty": "EC",
                    "crv": "P-256",
                    "x": b64(&point[1..33]),
                    "y": b64(&point[33..65]),
                });
                (Pair::Ec(pair), jwk, point)
            }
            SigningAlg::EdDsa => {
                let pair =
                    Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|_| KeyError::BadKey("Ed25519"))?;
                let public = pair.public_key().as_ref().to_vec();
                let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&public)});
                (Pair::Ed(pair), jwk, public)
            }
        };
        let public = ParsedPublicKey::new(alg.verification(), public_bytes)
            .map_err(|_| KeyError::BadKey("public"))?;
        let mut public_jwk = public_jwk;
        if let Some(obj) = public_jwk.as_object_mut() {
            obj.insert("kid".into(), json!(kid));
            obj.insert("alg".into(), json!(alg.as_str()));
            obj.insert("use".into(), json!("sig"));
        }
        let header = json!({"alg": alg.as_str(), "typ": super::ACCESS_TOKEN_TYP, "kid": kid});
        let header_prefix = format!("{}.", b64(header.to_string().as_bytes()));
        Ok(SigningKey {
            kid,
            alg,
            pair,
            header_prefix,
            public_jwk,
            public,
        })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }
    /// The algorithm.
    pub fn alg(&self) -> SigningAlg {
        self.alg
    }
    /// The public key as a JWK, as `/oauth2/jwks` publishes it.
    pub fn public_jwk(&self) -> &serde_json::Value {
        &self.public_jwk
    }

    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        match &self.pair {
            Pair::Rsa(pair) => {
                let mut sig = vec![0u8; pair.public_modulus_len()];
                pair.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &aws_lc_rs::rand::SystemRandom::new(),
                    message,
                    &mut sig,
                )
                .map_err(|_| KeyError::Signing)?;
                Ok(sig)
            }
            Pair::Ec(pair) => pair
                .sign(&aws_lc_rs::rand::SystemRandom::new(), message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| KeyError::Signing),
            Pair::Ed(pair) => Ok(pair.sign(message).as_ref().to_vec()),
        }
    }
}

impl tessera_jose::PublicKey for SigningKey {
    fn alg(&self) -> SigningAlg {
        self.alg
    }
    fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        self.public.verify_sig(message, sig).is_ok()
    }
}

/// The keys of the deployment: the current one signs, all of them verify. Immutable: a rotation
/// builds a new ring and the server swaps it in.
#[derive(Debug)]
pub struct KeyRing {
    current: Arc<SigningKey>,
    by_kid: HashMap<String, Arc<SigningKey>>,
    jwks: String,
}

impl KeyRing {
    /// `keys` newest first; the first one signs, all of them verify. Which keys are still live
    /// is the store's to decide (`SigningKeyStore::live_signing_keys`).
    pub fn new(keys: Vec<SigningKey>) -> Option<KeyRing> {
        let mut keys = keys.into_iter().map(Arc::new);
        let current = keys.next()?;
        let mut by_kid = HashMap::new();
        by_kid.insert(current.kid.clone(), current.clone());
        for key in keys {
            by_kid.insert(key.kid.clone(), key);
        }
        let mut listed: Vec<&Arc<SigningKey>> = vec![&current];
        listed.extend(by_kid.values().filter(|k| k.kid != current.kid));
        let jwks =
            json!({"keys": listed.iter().map(|k| &k.public_jwk).collect::<Vec<_>>()}).to_string();
        Some(KeyRing {
            current,
            by_kid,
            jwks,
        })
    }

    /// The key that signs new tokens.
    pub fn current(&self) -> &SigningKey {
        &self.current
    }
    /// The key with this id, if the ring holds it.
    pub fn get(&self, kid: &str) -> Option<&SigningKey> {
        self.by_kid.get(kid).map(|k| k.as_ref())
    }
    /// The JWKS document (RFC 7517), rendered once.
    pub fn jwks_json(&self) -> &str {
        &self.jwks
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::OsRng;

    #[test]
    fn stored_keys_read_back_only_as_what_they_are() {
        for alg in SigningAlg::ALL {
            let (key, pkcs8) = SigningKey::generate(alg, &OsRng).unwrap();
            let back = SigningKey::from_pkcs8(key.kid().into(), alg.as_str(), &pkcs8).unwrap();
            assert_eq!(back.public_jwk(), key.public_jwk(), "{alg:?}");
            assert_eq!(back.public_jwk()["kid"], key.kid(), "{alg:?}");
            assert_eq!(back.public_jwk()["alg"], alg.as_str(), "{alg:?}");
        }
        let (_, ec) = SigningKey::generate(SigningAlg::Es256, &OsRng).unwrap();
        for (alg, pkcs8, expect) in [
            ("RS256", ec.as_slice(), "RSA"),
            ("EdDSA", ec.as_slice(), "Ed25519"),
            ("ES256", b"not a key".as_slice(), "EC"),
            ("HS256", ec.as_slice(), "HS256"),
            ("none", ec.as_slice(), "none"),
        ] {
            let e = SigningKey::from_pkcs8("k".into(), alg, pkcs8)
                .err()
                .unwrap();
            assert!(e.to_string().contains(expect), "{alg}: {e}");
        }
    }

    #[test]
    fn the_ring_signs_with_the_newest_and_publishes_every_key_once() {
        assert!(KeyRing::new(vec![]).is_none());
        let keys: Vec<SigningKey> = SigningAlg::ALL
            .into_iter()
            .map(|alg| SigningKey::generate(alg, &OsRng).unwrap().0)
            .collect();
        let kids: Vec<String> = keys.iter().map(|k| k.kid().to_owned()).collect();
        let ring = KeyRing::new(keys).unwrap();
        assert_eq!(ring.current().kid(), kids[0]);
        for kid in &kids {
            assert_eq!(ring.get(kid).map(SigningKey::kid), Some(kid.as_str()));
        }
        assert!(ring.get("unknown").is_none());
        let jwks: serde_json::Value = serde_json::from_str(ring.jwks_json()).unwrap();
        let listed: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        assert_eq!(listed.len(), 3);
        assert_eq!(listed[0], kids[0], "the signing key first");
        for kid in &kids {
            assert!(listed.contains(&kid.as_str()));
        }
        assert!(jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k.get("d").is_none()));
    }
}

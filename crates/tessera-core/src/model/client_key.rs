//! Public keys registered on an integration (SPEC §3.3, §4): they verify the JWTs it signs, as
//! `private_key_jwt` client assertions (RFC 7523 §2.2) and JWT bearer grants (§2.1). Given as a
//! JWK or as an X.509 certificate in PEM; stored as a public JWK.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::error::DomainError;
use crate::id::ClientId;
use crate::model::UnixMillis;
use tessera_jose::{SigningAlg, VerifyingKey};

/// The most keys one integration may register.
pub const MAX_KEYS_PER_INTEGRATION: usize = 20;
/// JWK members that belong to a private or symmetric key (RFC 7518 §6).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A key set fetched from a `jwks_uri` may hold at most this many keys.
pub const MAX_REMOTE_KEYS: usize = 50;

/// Why a key set from a `jwks_uri` is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoteKeySetError {
    /// The document is not a JWK Set.
    #[error("is not a JSON Web Key Set (an object with a `keys` array)")]
    NotAKeySet,
    /// The set holds more keys than Tessera accepts.
    #[error("holds {0} keys; at most {MAX_REMOTE_KEYS} are accepted")]
    TooManyKeys(usize),
    /// No key in the set can verify a supported algorithm.
    #[error("holds no signing key Tessera can use (RSA ≥ 2048 bits, EC P-256, Ed25519)")]
    NoUsableKey,
    /// The set holds private key material, which must never be published.
    #[error("publishes a private key; a key set must hold public keys only")]
    PrivateKey,
}

const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const P256: &str = "1.2.840.10045.3.1.7";
const ED25519: &str = "1.3.101.112";

/// A public key an integration signs its assertions with (RFC 7523).
#[derive(Debug, Clone, PartialEq)]
pub struct ClientKey {
    /// The key id assertions name in their header.
    pub kid: String,
    /// The integration it belongs to.
    pub client_id: ClientId,
    /// The algorithm it verifies.
    pub alg: SigningAlg,
    /// The public JWK: only the public members, with `kid`, `alg` and `use`.
    pub jwk: Value,
    /// For a key from a certificate: when the certificate expires. The key stops verifying then.
    pub not_after: Option<UnixMillis>,
    /// When it was registered.
    pub created_at: UnixMillis,
}

impl ClientKey {
    /// A key from a JWK (RSA ≥ 2048 bits, EC P-256 or OKP Ed25519). A JWK holding private
    /// members is refused: only the public half belongs here.
    pub fn from_jwk(
        client_id: ClientId,
        jwk: &Value,
        now: UnixMillis,
    ) -> Result<ClientKey, DomainError> {
        let object = jwk
            .as_object()
            .ok_or_else(|| DomainError::invalid("jwk", "must be a JSON object (RFC 7517)"))?;
        for private in PRIVATE_MEMBERS {
            if object.contains_key(private) {
                return Err(DomainError::invalid(
                    "jwk",
                    format!(
                        "contains the private member `{private}`: register only the public key"
                    ),
                ));
            }
        }
        let kty = object
            .get("kty")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let members: &[&str] = match kty {
            "RSA" => &["e", "kty", "n"],
            "EC" => &["crv", "kty", "x", "y"],
            "OKP" => &["crv", "kty", "x"],
            _ => &["kty"],
        };
        let mut public = Map::new();
        for m in members {
            if let Some(v) = object.get(*m) {
                public.insert((*m).to_owned(), v.clone());
            }
        }
        let key = VerifyingKey::from_jwk(&Value::Object(public.clone()))
            .map_err(|e| DomainError::invalid("jwk", e))?;
        if let Some(declared) = object.get("alg").and_then(Value::as_str) {
            if declared != key.alg.as_str() {
                return Err(DomainError::invalid(
                    "jwk",
                    format!(
                        "`alg` {declared} does not fit the key; it verifies {}",
                        key.alg.as_str()
                    ),
                ));
            }
        }
        let kid = match object.get("kid") {
            Some(Value::String(kid)) if !kid.is_empty() && kid.len() <= 200 => kid.clone(),
            Some(_) => {
                return Err(DomainError::invalid(
                    "jwk",
                    "`kid` must be a string of 1 to 200 characters",
                ))
            }
            None => thumbprint(&public),
        };
        let mut stored = public;
        stored.insert("kid".into(), json!(kid));
        stored.insert("alg".into(), json!(key.alg.as_str()));
        stored.insert("use".into(), json!("sig"));
        Ok(ClientKey {
            kid,
            client_id,
            alg: key.alg,
            jwk: Value::Object(stored),
            not_after: None,
            created_at: now,
        })
    }

    /// A key from an X.509 certificate in PEM. The certificate must be valid now; the key stops
    /// verifying when it expires. Its `kid` is the JWK thumbprint (RFC 7638).
    pub fn from_certificate_pem(
        client_id: ClientId,
        pem: &str,
        now: UnixMillis,
    ) -> Result<ClientKey, DomainError> {
        use x509_cert::der::DecodePem;
        let cert = x509_cert::Certificate::from_pem(pem.trim().as_bytes()).map_err(|e| {
            DomainError::invalid(
                "certificate",
                format!("is not an X.509 certificate in PEM: {e}"),
            )
        })?;
        let tbs = &cert.tbs_certificate;
        let millis = |t: x509_cert::time::Time| t.to_unix_duration().as_millis() as i64;
        let (not_before, not_after) = (
            millis(tbs.validity.not_before),
            millis(tbs.validity.not_after),
        );
        if now > not_after {
            return Err(DomainError::invalid(
                "certificate",
                format!("expired at {} (Unix seconds)", not_after / 1000),
            ));
        }
        // Five minutes of grace for a certificate made just now on a clock slightly ahead.
        if now + 300_000 < not_before {
            return Err(DomainError::invalid(
                "certificate",
                format!("is not valid before {} (Unix seconds)", not_before / 1000),
            ));
        }
        let jwk = spki_to_jwk(&tbs.subject_public_key_info)?;
        let mut key = ClientKey::from_jwk(client_id, &jwk, now).map_err(|e| match e {
            DomainError::Invalid { message, .. } => DomainError::invalid("certificate", message),
            other => other,
        })?;
        key.not_after = Some(not_after);
        Ok(key)
    }

    /// The signing keys of a JWK Set (RFC 7517 §5) published at an integration's `jwks_uri`.
    /// Keys for encryption (`use` ≠ `sig`) and keys of other types are passed over, as a set
    /// may list keys for other parties; one key with private members spoils the whole set.
    pub fn from_key_set(
        client_id: ClientId,
        body: &[u8],
        now: UnixMillis,
    ) -> Result<Vec<ClientKey>, RemoteKeySetError> {
        let set: Value = serde_json::from_slice(body).map_err(|_| RemoteKeySetError::NotAKeySet)?;
        let keys = set
            .get("keys")
            .and_then(Value::as_array)
            .ok_or(RemoteKeySetError::NotAKeySet)?;
        if keys.len() > MAX_REMOTE_KEYS {
            return Err(RemoteKeySetError::TooManyKeys(keys.len()));
        }
        let mut usable = Vec::new();
        for jwk in keys {
            if PRIVATE_MEMBERS.iter().any(|m| jwk.get(m).is_some()) {
                return Err(RemoteKeySetError::PrivateKey);
            }
            if jwk.get("use").is_some_and(|u| u != "sig") {
                continue;
            }
            if let Ok(key) = ClientKey::from_jwk(client_id, jwk, now) {
                usable.push(key);
            }
        }
        if usable.is_empty() {
            return Err(RemoteKeySetError::NoUsableKey);
        }
        Ok(usable)
    }

    /// The key, ready to verify signatures.
    pub fn verifying_key(&self) -> Result<VerifyingKey, tessera_jose::JwkError> {
        VerifyingKey::from_jwk(&self.jwk)
    }

    /// Whether the key may still verify at `now`.
    pub fn is_live(&self, now: UnixMillis) -> bool {
        self.not_after.is_none_or(|at| now <= at)
    }
}

/// RFC 7638: SHA-256 over the required members in lexicographic order, base64url.
fn thumbprint(public: &Map<String, Value>) -> String {
    // serde_json's Map is ordered by key, and `public` holds only the required members.
    let canonical = Value::Object(public.clone()).to_string();
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

fn spki_to_jwk(spki: &x509_cert::spki::SubjectPublicKeyInfoOwned) -> Result<Value, DomainError> {
    let bad = |why: &str| DomainError::invalid("certificate", why.to_owned());
    let bits = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| bad("its public key is not a whole number of bytes"))?;
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    match spki.algorithm.oid.to_string().as_str() {
        RSA_ENCRYPTION => {
            use pkcs1::der::Decode;
            let rsa = pkcs1::RsaPublicKey::from_der(bits)
                .map_err(|_| bad("its RSA public key does not parse"))?;
            Ok(
                json!({"kty": "RSA", "n": b64(rsa.modulus.as_bytes()), "e": b64(rsa.public_exponent.as_bytes())}),
            )
        }
        EC_PUBLIC_KEY => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<x509_cert::der::asn1::ObjectIdentifier>().ok())
                .map(|oid| oid.to_string());
            if curve.as_deref() != Some(P256) || bits.len() != 65 || bits[0] != 4 {
                return Err(bad(
                    "its EC key is not an uncompressed P-256 key; only P-256 (ES256) is supported",
                ));
            }
            Ok(json!({"kty": "EC", "crv": "P-256", "x": b64(&bits[1..33]), "y": b64(&bits[33..])}))
        }
        ED25519 => Ok(json!({"kty": "OKP", "crv": "Ed25519", "x": b64(bits)})),
        other => Err(DomainError::invalid(
            "certificate",
            format!("its key algorithm {other} is not supported; use RSA, EC P-256 or Ed25519"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::SigningKey;
    use crate::world::OsRng;

    fn public_jwk(alg: SigningAlg) -> Value {
        let (key, _) = SigningKey::generate(alg, &OsRng).unwrap();
        key.public_jwk().clone()
    }

    #[test]
    fn jwks_of_each_type_register_with_a_kid() {
        for alg in [SigningAlg::Rs256, SigningAlg::Es256, SigningAlg::EdDsa] {
            let mut jwk = public_jwk(alg);
            jwk.as_object_mut().unwrap().remove("kid");
            let key = ClientKey::from_jwk(ClientId::random(), &jwk, 1).unwrap();
            assert_eq!(key.alg, alg);
            assert_eq!(key.kid.len(), 43, "a SHA-256 thumbprint");
            assert_eq!(key.jwk["use"], "sig");
            key.verifying_key().unwrap();
        }
    }

    #[test]
    fn key_sets_yield_their_signing_keys() {
        let id = ClientId::random();
        let (rsa, ed) = (public_jwk(SigningAlg::Rs256), public_jwk(SigningAlg::EdDsa));
        let mut enc = public_jwk(SigningAlg::Es256);
        enc["use"] = json!("enc");
        let set = json!({"keys": [rsa, ed, enc, {"kty": "oct-unknown"}]}).to_string();
        let keys = ClientKey::from_key_set(id, set.as_bytes(), 1).unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0].alg, SigningAlg::Rs256);
        let too_many = json!({ "keys": vec![public_jwk(SigningAlg::EdDsa); MAX_REMOTE_KEYS + 1] });
        for (body, expect) in [
            (b"<html>".to_vec(), RemoteKeySetError::NotAKeySet),
            (br#"{"keys": 1}"#.to_vec(), RemoteKeySetError::NotAKeySet),
            (br#"{"keys": []}"#.to_vec(), RemoteKeySetError::NoUsableKey),
            (
                too_many.to_string().into_bytes(),
                RemoteKeySetError::TooManyKeys(MAX_REMOTE_KEYS + 1),
            ),
            (
                br#"{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}"#.to_vec(),
                RemoteKeySetError::PrivateKey,
            ),
        ] {
            assert_eq!(ClientKey::from_key_set(id, &body, 1), Err(expect));
        }
    }

    #[test]
    fn private_or_unsupported_jwks_are_refused_by_name() {
        let mut jwk = public_jwk(SigningAlg::Es256);
        jwk["d"] = json!("c2VjcmV0");
        let err = ClientKey::from_jwk(ClientId::random(), &jwk, 1).unwrap_err();
        assert!(err.to_string().contains("`d`"), "{err}");
        let err = ClientKey::from_jwk(ClientId::random(), &json!({"kty": "oct", "k": "x"}), 1)
            .unwrap_err();
        assert_eq!(err.field(), Some("jwk"));
        let err = ClientKey::from_jwk(
            ClientId::random(),
            &json!({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}),
            1,
        )
        .unwrap_err();
        assert!(err.to_string().contains("P-384"), "{err}");
        let mut wrong_alg = public_jwk(SigningAlg::EdDsa);
        wrong_alg["alg"] = json!("RS256");
        assert!(ClientKey::from_jwk(ClientId::random(), &wrong_alg, 1).is_err());
    }

    #[test]
    fn garbage_certificates_name_the_field() {
        let err = ClientKey::from_certificate_pem(
            ClientId::random(),
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
            1,
        )
        .unwrap_err();
        assert_eq!(err.field(), Some("certificate"));
    }
}

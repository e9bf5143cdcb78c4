//! Minting access tokens (JWS compact serialization, RFC 7515) with the current key, and
//! verifying them against the key ring with `tessera-jose`'s RFC 9068 checks, the same ones a
//! resource server runs.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use tessera_jose::{check_times, verify_access_token, JwsError};

use super::claims::AccessTokenClaims;
use super::keys::{KeyError, KeyRing, SigningKey};

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
        self.sign_with_header(&header, payload)
    }

    /// A DPoP proof (RFC 9449 §4.2) of `claims` (`jti`, `htm`, `htu`, `iat`, …) with this key's
    /// public JWK in its header: how a client proves it holds the key its token is bound to.
    pub fn sign_dpop_proof(&self, claims: &serde_json::Value) -> Result<String, KeyError> {
        let header = serde_json::json!({"alg": self.alg().as_str(), "typ": tessera_jose::DPOP_TYP,
                                        "jwk": self.public_jwk()});
        self.sign_with_header(&header, claims)
    }

    fn sign_with_header(
        &self,
        header: &serde_json::Value,
        payload: &serde_json::Value,
    ) -> Result<String, KeyError> {
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
        let payload = verify_access_token(token, |kid| self.get(kid))?;
        serde_json::from_slice(&payload).map_err(|_| JwsError::BadClaims)
    }
}

impl AccessTokenClaims {
    /// Clock skew tolerated on `nbf` and `exp`.
    pub const LEEWAY_SECONDS: i64 = 5;

    /// Checks issuer and validity window at `now` (seconds).
    pub fn check_validity(&self, issuer: &str, now: i64) -> Result<(), JwsError> {
        check_times(
            &self.iss,
            self.exp,
            self.nbf,
            issuer,
            now,
            Self::LEEWAY_SECONDS,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::OsRng;
    use crate::token::SigningAlg;
    use tessera_jose::{DecodedJws, VerifyingKey};

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

    #[test]
    fn tokens_verify_against_the_published_jwks_for_every_algorithm() {
        for alg in SigningAlg::ALL {
            let ring = ring(alg);
            let token = ring.current().mint(&claims()).unwrap();
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
}

//! JWT assertions (RFC 7523) an integration signs with a key it registered: as client
//! authentication (`private_key_jwt`, §2.2, where `sub` = `iss` = the client) and as an
//! authorization grant (§2.1, where `sub` names a user). Every way an assertion can fail has its
//! own description, so the caller learns what to fix. The `jti` replay check needs shared
//! storage and is left to the caller.

use crate::model::{ClientKey, UnixMillis};
use tessera_jose::DecodedJws;
use tessera_jose::JwsError;

/// An assertion may not claim to live longer than this (SPEC §3.3).
pub const MAX_ASSERTION_LIFETIME_SECONDS: i64 = 3600;
/// Allowed clock difference between the client and us.
pub const CLOCK_SKEW_SECONDS: i64 = 60;
/// Assertions longer than this are refused before parsing.
const MAX_ASSERTION_LEN: usize = 16 * 1024;

/// What the assertion must satisfy.
pub struct AssertionRules<'a> {
    /// Accepted `aud` values: the issuer and the endpoint URLs (RFC 7523 §3 item 3).
    pub audiences: &'a [&'a str],
    /// Now, in seconds since the epoch.
    pub now_seconds: i64,
}

/// An assertion whose signature, audience and times hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    /// The `iss` claim.
    pub iss: String,
    /// The `sub` claim.
    pub sub: String,
    /// The `jti` claim, recorded so the assertion is used once.
    pub jti: String,
    /// The `exp` claim; the `jti` is kept until then.
    pub exp: i64,
}

/// Why an assertion was refused. The text is for the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssertionError {
    /// Not a compact JWS with JSON header and claims.
    #[error("the assertion is not a signed JWT: {0}")]
    Malformed(String),
    /// Signed with an algorithm Tessera does not accept.
    #[error("the assertion's `alg` `{0}` is not accepted; sign with RS256, ES256 or EdDSA")]
    AlgorithmNotAllowed(String),
    /// A required claim is missing.
    #[error("the assertion has no `{0}` claim")]
    MissingClaim(&'static str),
    /// `iss` is not a registered integration.
    #[error("the assertion's `iss` is not a registered integration")]
    UnknownIssuer,
    /// No registered key matches the header.
    #[error("the integration has no public key{0}; register one at POST /v1/integrations/{{client_id}}/keys or publish it at the integration's `jwks_uri`")]
    NoKey(String),
    /// The integration's `jwks_uri` could not be read.
    #[error("the integration's `jwks_uri` {0}")]
    KeySetUnavailable(String),
    /// The key that signed it is no longer valid.
    #[error("the key that signed the assertion expired with its certificate")]
    KeyExpired,
    /// The signature does not verify.
    #[error("the assertion's signature does not verify with the integration's registered keys")]
    BadSignature,
    /// `aud` is not Tessera.
    #[error("the assertion's `aud` must be the token endpoint URL or the issuer `{0}`")]
    WrongAudience(String),
    /// Past its `exp`.
    #[error("the assertion has expired (`exp` is in the past)")]
    Expired,
    /// `exp` is too far after `iat`.
    #[error("the assertion's `exp` is more than one hour ahead; make assertions short-lived")]
    LivesTooLong,
    /// Before its `nbf`.
    #[error("the assertion is not valid yet (`nbf` is in the future)")]
    NotYetValid,
    /// `iat` is in the future.
    #[error("the assertion's `iat` is in the future; check the client's clock")]
    IssuedInFuture,
    /// Its `jti` was used before.
    #[error("the assertion's `jti` was used before; every assertion needs a new `jti`")]
    Replayed,
    /// `sub` is not the client that authenticates with it.
    #[error("a client assertion's `sub` must equal its `iss` (the client_id)")]
    SubjectNotClient,
}

fn claim_str<'a>(
    payload: &'a serde_json::Value,
    name: &'static str,
) -> Result<&'a str, AssertionError> {
    payload
        .get(name)
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
        .ok_or(AssertionError::MissingClaim(name))
}

fn claim_time(
    payload: &serde_json::Value,
    name: &'static str,
) -> Result<Option<i64>, AssertionError> {
    match payload.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_f64().map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| {
                AssertionError::Malformed(format!("`{name}` is not a number of seconds"))
            }),
    }
}

/// Decodes an assertion far enough to learn who signed it: its `iss`.
pub fn assertion_issuer(token: &str) -> Result<(DecodedJws, String), AssertionError> {
    if token.len() > MAX_ASSERTION_LEN {
        return Err(AssertionError::Malformed("it is longer than 16 KiB".into()));
    }
    let decoded =
        DecodedJws::decode(token).map_err(|e| AssertionError::Malformed(e.to_string()))?;
    let iss = claim_str(&decoded.payload, "iss")?.to_owned();
    Ok((decoded, iss))
}

/// Checks that one of `keys` (the one the header's `kid` names, if it names one) signed the
/// JWT with an accepted algorithm: the part of an assertion's check that a platform token's
/// (SPEC §14) shares.
pub fn check_signature(
    decoded: &DecodedJws,
    keys: &[ClientKey],
    now_millis: UnixMillis,
) -> Result<(), AssertionError> {
    let alg = decoded
        .header
        .get("alg")
        .and_then(|a| a.as_str())
        .unwrap_or_default();
    if crate::token::SigningAlg::parse(alg).is_none() {
        return Err(AssertionError::AlgorithmNotAllowed(
            alg.chars().take(20).collect(),
        ));
    }
    let kid = decoded.header.get("kid").and_then(|k| k.as_str());
    let named: Vec<&ClientKey> = keys
        .iter()
        .filter(|k| kid.is_none_or(|kid| k.kid == kid))
        .collect();
    if named.is_empty() {
        return Err(AssertionError::NoKey(
            kid.map(|k| format!(" with kid `{}`", k.chars().take(64).collect::<String>()))
                .unwrap_or_default(),
        ));
    }
    let live: Vec<_> = named
        .iter()
        .filter(|k| k.is_live(now_millis))
        .filter_map(|k| {
            k.verifying_key().ok().map(|mut v| {
                // The stored kid identifies the key even where the JWK omitted one.
                v.kid = Some(k.kid.clone());
                v
            })
        })
        .collect();
    if live.is_empty() {
        return Err(AssertionError::KeyExpired);
    }
    match decoded.verify_with(&live) {
        Ok(()) => Ok(()),
        Err(JwsError::UnsupportedAlg(a)) => Err(AssertionError::AlgorithmNotAllowed(a)),
        Err(_) => Err(AssertionError::BadSignature),
    }
}

/// Checks signature, audience and times of an assertion whose issuer's keys are `keys`.
pub fn verify_assertion(
    decoded: &DecodedJws,
    keys: &[ClientKey],
    rules: &AssertionRules<'_>,
) -> Result<VerifiedAssertion, AssertionError> {
    let payload = &decoded.payload;
    let iss = claim_str(payload, "iss")?.to_owned();
    let sub = claim_str(payload, "sub")?.to_owned();
    let jti = claim_str(payload, "jti")?.to_owned();
    let exp = claim_time(payload, "exp")?.ok_or(AssertionError::MissingClaim("exp"))?;
    check_signature(decoded, keys, rules.now_seconds * 1000)?;

    let audience_ok = match payload.get("aud") {
        Some(serde_json::Value::String(a)) => rules.audiences.contains(&a.as_str()),
        Some(serde_json::Value::Array(list)) => list
            .iter()
            .filter_map(|a| a.as_str())
            .any(|a| rules.audiences.contains(&a)),
        _ => return Err(AssertionError::MissingClaim("aud")),
    };
    if !audience_ok {
        return Err(AssertionError::WrongAudience(
            rules
                .audiences
                .first()
                .copied()
                .unwrap_or_default()
                .to_owned(),
        ));
    }
    let now = rules.now_seconds;
    if now > exp + CLOCK_SKEW_SECONDS {
        return Err(AssertionError::Expired);
    }
    if exp > now + MAX_ASSERTION_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS {
        return Err(AssertionError::LivesTooLong);
    }
    if claim_time(payload, "nbf")?.is_some_and(|nbf| nbf > now + CLOCK_SKEW_SECONDS) {
        return Err(AssertionError::NotYetValid);
    }
    if claim_time(payload, "iat")?.is_some_and(|iat| iat > now + CLOCK_SKEW_SECONDS) {
        return Err(AssertionError::IssuedInFuture);
    }
    Ok(VerifiedAssertion { iss, sub, jti, exp })
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::id::ClientId;
    use crate::ports::OsRng;
    use crate::token::{SigningAlg, SigningKey};

    const NOW: i64 = 1_700_000_000;
    const AUD: &str = "https://tessera.test/oauth2/token";

    fn registered(alg: SigningAlg) -> (SigningKey, ClientKey) {
        let (key, _) = SigningKey::generate(alg, &OsRng).unwrap();
        let client_key = ClientKey::from_jwk(ClientId::random(), key.public_jwk(), 0).unwrap();
        (key, client_key)
    }

    fn claims() -> Value {
        json!({"iss": "c", "sub": "u", "aud": AUD, "exp": NOW + 300, "iat": NOW, "jti": "j1"})
    }

    fn check(token: &str, keys: &[ClientKey]) -> Result<VerifiedAssertion, AssertionError> {
        let (decoded, _) = assertion_issuer(token)?;
        let rules = AssertionRules {
            audiences: &[AUD, "https://tessera.test"],
            now_seconds: NOW,
        };
        verify_assertion(&decoded, keys, &rules)
    }

    #[test]
    fn good_assertions_verify_with_every_algorithm() {
        for alg in SigningAlg::ALL {
            let (key, registered) = registered(alg);
            let token = key.sign_jwt(&claims()).unwrap();
            let verified = check(&token, &[registered]).unwrap();
            assert_eq!(
                (
                    verified.iss.as_str(),
                    verified.sub.as_str(),
                    verified.jti.as_str()
                ),
                ("c", "u", "j1")
            );
        }
        // The issuer as audience, in an array, is fine too.
        let (key, registered) = registered(SigningAlg::EdDsa);
        let mut c = claims();
        c["aud"] = json!(["https://elsewhere", "https://tessera.test"]);
        assert!(check(&key.sign_jwt(&c).unwrap(), &[registered]).is_ok());
    }

    #[test]
    fn every_rejection_has_its_own_reason() {
        let (key, good) = registered(SigningAlg::Es256);
        let (other_key, other) = registered(SigningAlg::Es256);
        let with = |f: &dyn Fn(&mut Value)| {
            let mut c = claims();
            f(&mut c);
            key.sign_jwt(&c).unwrap()
        };
        let mut expired_cert = good.clone();
        expired_cert.not_after = Some((NOW - 1) * 1000);
        let b64 = |v: Value| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let unsigned = format!("{}.{}.", b64(json!({"alg": "none"})), b64(claims()));
        let hs256 = format!("{}.{}.c2ln", b64(json!({"alg": "HS256"})), b64(claims()));
        let without = |name: &str| {
            with(&|c| {
                c.as_object_mut().unwrap().remove(name);
            })
        };
        let g = || vec![good.clone()];
        let same_kid_other_key = vec![ClientKey {
            kid: good.kid.clone(),
            ..other.clone()
        }];
        use AssertionError::*;
        let cases: Vec<(String, Vec<ClientKey>, AssertionError)> = vec![
            ("garbage".into(), g(), Malformed(String::new())),
            (unsigned, g(), AlgorithmNotAllowed("none".into())),
            (hs256, g(), AlgorithmNotAllowed("HS256".into())),
            (without("jti"), g(), MissingClaim("jti")),
            (without("sub"), g(), MissingClaim("sub")),
            (without("exp"), g(), MissingClaim("exp")),
            (without("aud"), g(), MissingClaim("aud")),
            (with(&|_| {}), vec![], NoKey(String::new())),
            (with(&|_| {}), vec![expired_cert], KeyExpired),
            (
                other_key.sign_jwt(&claims()).unwrap(),
                g(),
                NoKey(String::new()),
            ),
            (with(&|_| {}), same_kid_other_key, BadSignature),
            (
                with(&|c| c["aud"] = json!("https://evil.example")),
                g(),
                WrongAudience(String::new()),
            ),
            (with(&|c| c["exp"] = json!(NOW - 120)), g(), Expired),
            (with(&|c| c["exp"] = json!(NOW + 7200)), g(), LivesTooLong),
            (with(&|c| c["nbf"] = json!(NOW + 600)), g(), NotYetValid),
            (with(&|c| c["iat"] = json!(NOW + 600)), g(), IssuedInFuture),
        ];
        let mut descriptions = std::collections::HashSet::new();
        for (token, keys, expected) in cases {
            let err = check(&token, &keys).unwrap_err();
            assert_eq!(
                std::mem::discriminant(&err),
                std::mem::discriminant(&expected),
                "{err}"
            );
            descriptions.insert(std::mem::discriminant(&err));
        }
        assert_eq!(descriptions.len(), 11, "distinct reasons");
    }
}

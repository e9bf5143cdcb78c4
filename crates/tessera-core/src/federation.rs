//! Platform tokens in place of client secrets (SPEC §14): a Kubernetes service-account token,
//! a GitHub Actions OIDC token or a SPIFFE JWT-SVID authenticates an integration that has a
//! matching federated credential. I/O-free: the edge finds the trusted issuer, its keys and the
//! integration's credentials in memory and hands them here.
//!
//! Platform tokens are reused until they expire, so `jti` is not single-use (unlike a
//! `private_key_jwt` assertion): the audience pin and the bounded lifetime bound a replay. Each
//! refusal names the check that failed and never repeats the token.

use std::sync::Arc;

use crate::id::FederatedCredentialId;
use crate::model::{ClientKey, FederatedCredential, TrustedIssuer};
use crate::token::assertion::{check_signature, AssertionError, CLOCK_SKEW_SECONDS};
use crate::token::DecodedJws;

/// Platform tokens longer than this are refused before parsing.
const MAX_PLATFORM_TOKEN_LEN: usize = 16 * 1024;

/// Why a platform token was refused; the text is for the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FederationError {
    /// Not a compact JWS with JSON header and claims.
    #[error("the platform token is not a signed JWT: {0}")]
    Malformed(String),
    /// No `sub` to match a credential on.
    #[error("the platform token has no `sub`")]
    NoSubject,
    /// No `iss`, and no SPIFFE ID to take the issuer from.
    #[error("the platform token has no `iss` (and its `sub` is not a SPIFFE ID)")]
    NoIssuer,
    /// The tenant trusts no issuer of that name.
    #[error("the platform token's issuer `{0}` is not a trusted issuer of the integration's tenant (POST /v1/trusted_issuers)")]
    UntrustedIssuer(String),
    /// No credential of any integration names the issuer and subject.
    #[error(
        "no integration has a federated credential for the platform token's issuer and subject"
    )]
    NoIntegration,
    /// Credentials of several integrations do.
    #[error(
        "several integrations accept the platform token's issuer and subject: send `client_id`"
    )]
    Ambiguous,
    /// The issuer's keys could not be had.
    #[error("the issuer's keys {0}")]
    KeySetUnavailable(String),
    /// Signed with an algorithm Tessera does not accept.
    #[error("the platform token's `alg` `{0}` is not accepted (RS256, ES256 or EdDSA)")]
    AlgorithmNotAllowed(String),
    /// No key of the issuer has the header's `kid`.
    #[error("the issuer publishes no key{0}")]
    NoKey(String),
    /// The signature does not verify.
    #[error("the platform token's signature does not verify with the issuer's keys")]
    BadSignature,
    /// `aud` names no registered audience.
    #[error("the platform token's `aud` names none of the audiences registered for its issuer")]
    WrongAudience,
    /// No `exp`: a platform token must expire.
    #[error("the platform token has no `exp`")]
    NoExpiry,
    /// Past its `exp`.
    #[error("the platform token has expired")]
    Expired,
    /// Before its `nbf`.
    #[error("the platform token is not valid yet (`nbf` is in the future)")]
    NotYetValid,
    /// `iat` is in the future.
    #[error("the platform token's `iat` is in the future")]
    IssuedInFuture,
    /// `exp` − `iat` exceeds the issuer's maximum.
    #[error(
        "the platform token lives longer than the {0} seconds its issuer allows (`exp` − `iat`)"
    )]
    LivesTooLong(u32),
    /// No credential names the subject.
    #[error("no federated credential of the integration accepts the platform token's subject")]
    SubjectNotAccepted,
    /// A required claim is missing or differs.
    #[error("the platform token's claim `{0}` is missing or differs from what the federated credential requires")]
    ClaimMismatch(String),
}

/// A platform token read far enough to find its issuer and the integration it is for.
#[derive(Debug, Clone)]
pub struct PlatformToken {
    /// The token, decoded but not verified.
    pub decoded: DecodedJws,
    /// `iss`; for a SPIFFE JWT-SVID without one, `spiffe://<trust domain>` of its `sub`.
    pub issuer: String,
    /// Its `sub`.
    pub subject: String,
}

impl PlatformToken {
    /// Decodes the token without trusting it.
    pub fn read(token: &str) -> Result<PlatformToken, FederationError> {
        if token.len() > MAX_PLATFORM_TOKEN_LEN {
            return Err(FederationError::Malformed(
                "it is longer than 16 KiB".into(),
            ));
        }
        let decoded =
            DecodedJws::decode(token).map_err(|e| FederationError::Malformed(e.to_string()))?;
        Self::from_decoded(decoded)
    }

    /// A token already decoded (as a client assertion whose `iss` is no integration), read as
    /// a platform token.
    pub fn from_decoded(decoded: DecodedJws) -> Result<PlatformToken, FederationError> {
        let text = |name: &str| {
            decoded
                .payload
                .get(name)
                .and_then(|v| v.as_str())
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let subject = text("sub").ok_or(FederationError::NoSubject)?;
        let issuer = match text("iss") {
            Some(iss) => iss,
            None => spiffe_trust_domain(&subject).ok_or(FederationError::NoIssuer)?,
        };
        Ok(PlatformToken {
            decoded,
            issuer,
            subject,
        })
    }

    /// The `kid` its header names, if any.
    pub fn kid(&self) -> Option<&str> {
        self.decoded.header.get("kid").and_then(|k| k.as_str())
    }
}

/// `spiffe://<trust domain>` of a SPIFFE ID.
fn spiffe_trust_domain(subject: &str) -> Option<String> {
    let rest = subject.strip_prefix("spiffe://")?;
    let domain = rest.split('/').next().filter(|d| !d.is_empty())?;
    Some(format!("spiffe://{domain}"))
}

/// Checks `token` against its trusted `issuer` (whose keys are `keys`) and the integration's
/// federated `credentials` for that issuer; the credential that accepts it.
pub fn check(
    token: &PlatformToken,
    issuer: &TrustedIssuer,
    keys: &[ClientKey],
    credentials: &[Arc<FederatedCredential>],
    now_seconds: i64,
) -> Result<FederatedCredentialId, FederationError> {
    check_signature(&token.decoded, keys, now_seconds * 1000).map_err(|e| match e {
        AssertionError::AlgorithmNotAllowed(alg) => FederationError::AlgorithmNotAllowed(alg),
        AssertionError::NoKey(kid) => FederationError::NoKey(kid),
        _ => FederationError::BadSignature,
    })?;
    let payload = &token.decoded.payload;
    let audience_ok = match payload.get("aud") {
        Some(serde_json::Value::String(a)) => issuer.audiences.contains(a),
        Some(serde_json::Value::Array(list)) => list
            .iter()
            .filter_map(|a| a.as_str())
            .any(|a| issuer.audiences.iter().any(|r| r == a)),
        _ => false,
    };
    if !audience_ok {
        return Err(FederationError::WrongAudience);
    }
    let time = |name: &str| payload.get(name).and_then(|v| v.as_i64());
    let now = now_seconds;
    let exp = time("exp").ok_or(FederationError::NoExpiry)?;
    if now > exp + CLOCK_SKEW_SECONDS {
        return Err(FederationError::Expired);
    }
    if time("nbf").is_some_and(|nbf| nbf > now + CLOCK_SKEW_SECONDS) {
        return Err(FederationError::NotYetValid);
    }
    let iat = time("iat");
    if iat.is_some_and(|iat| iat > now + CLOCK_SKEW_SECONDS) {
        return Err(FederationError::IssuedInFuture);
    }
    let max = issuer.max_token_lifetime_seconds;
    if exp - iat.unwrap_or(now) > i64::from(max) + CLOCK_SKEW_SECONDS {
        return Err(FederationError::LivesTooLong(max));
    }
    let mut first_mismatch = None;
    for credential in credentials
        .iter()
        .filter(|c| c.issuer == issuer.issuer && c.subject == token.subject)
    {
        match credential
            .claims
            .iter()
            .find(|(name, wanted)| !claim_holds(payload, name, wanted))
        {
            None => return Ok(credential.id),
            Some((name, _)) => {
                first_mismatch.get_or_insert_with(|| name.clone());
            }
        }
    }
    Err(match first_mismatch {
        Some(name) => FederationError::ClaimMismatch(name),
        None => FederationError::SubjectNotAccepted,
    })
}

/// Whether the claim `name` (a JSON Pointer when it starts with `/`) has the value `wanted`;
/// a number or a boolean is compared as it is written.
fn claim_holds(payload: &serde_json::Value, name: &str, wanted: &str) -> bool {
    let found = if name.starts_with('/') {
        payload.pointer(name)
    } else {
        payload.get(name)
    };
    match found {
        Some(serde_json::Value::String(s)) => s == wanted,
        Some(serde_json::Value::Number(n)) => n.to_string() == wanted,
        Some(serde_json::Value::Bool(b)) => wanted == if *b { "true" } else { "false" },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::{json, Value};

    use super::*;
    use crate::id::{ClientId, TenantId, TrustedIssuerId};
    use crate::ports::OsRng;
    use crate::token::{SigningAlg, SigningKey};

    const NOW: i64 = 1_700_000_000;
    const K8S: &str = "https://kubernetes.default.svc.cluster.local";

    fn issuer(name: &str) -> TrustedIssuer {
        TrustedIssuer {
            id: TrustedIssuerId::random(),
            tenant_id: TenantId::random(),
            issuer: name.into(),
            jwks_uri: None,
            audiences: vec!["tessera".into()],
            max_token_lifetime_seconds: 3600,
            created_at: 0,
        }
    }

    fn credential(iss: &str, subject: &str, claims: &[(&str, &str)]) -> Arc<FederatedCredential> {
        Arc::new(FederatedCredential {
            id: FederatedCredentialId::random(),
            tenant_id: TenantId::random(),
            client_id: ClientId::random(),
            issuer: iss.into(),
            subject: subject.into(),
            claims: claims
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
            created_at: 0,
        })
    }

    fn signer(alg: SigningAlg) -> (SigningKey, ClientKey) {
        let (key, _) = SigningKey::generate(alg, &OsRng).unwrap();
        let public = ClientKey::from_jwk(ClientId::random(), key.public_jwk(), 0).unwrap();
        (key, public)
    }

    fn k8s_claims() -> Value {
        json!({
            "iss": K8S, "sub": "system:serviceaccount:prod:billing", "aud": ["tessera"],
            "exp": NOW + 3600, "iat": NOW, "nbf": NOW,
            "kubernetes.io": {"namespace": "prod", "serviceaccount": {"name": "billing"}}
        })
    }

    fn run(
        key: &SigningKey,
        public: &ClientKey,
        claims: &Value,
        credentials: &[Arc<FederatedCredential>],
    ) -> Result<FederatedCredentialId, FederationError> {
        let token = PlatformToken::read(&key.sign_jwt(claims).unwrap())?;
        let trusted = issuer(&token.issuer);
        check(
            &token,
            &trusted,
            std::slice::from_ref(public),
            credentials,
            NOW,
        )
    }

    #[test]
    fn a_platform_token_with_a_matching_credential_is_accepted_with_rs256_and_es256() {
        for alg in [SigningAlg::Rs256, SigningAlg::Es256] {
            let (key, public) = signer(alg);
            let wanted = credential(
                K8S,
                "system:serviceaccount:prod:billing",
                &[("/kubernetes.io/namespace", "prod")],
            );
            let other = credential(K8S, "system:serviceaccount:prod:other", &[]);
            let found = run(&key, &public, &k8s_claims(), &[other, wanted.clone()]).unwrap();
            assert_eq!(found, wanted.id);
        }
    }

    /// The Kubernetes scene of these tests: the signer, its public key, and the credential that
    /// accepts billing in `prod`.
    fn scene() -> (SigningKey, ClientKey, Vec<Arc<FederatedCredential>>) {
        let (key, public) = signer(SigningAlg::Es256);
        let sub = "system:serviceaccount:prod:billing";
        let pinned = vec![credential(
            K8S,
            sub,
            &[("/kubernetes.io/namespace", "prod")],
        )];
        (key, public, pinned)
    }

    /// `k8s_claims()` with `change` applied.
    fn with(change: &dyn Fn(&mut Value)) -> Value {
        let mut c = k8s_claims();
        change(&mut c);
        c
    }

    /// Each claims set is refused with its error.
    fn refused_each(cases: Vec<(Value, FederationError)>) {
        let (key, public, pinned) = scene();
        for (claims, expected) in cases {
            assert_eq!(
                run(&key, &public, &claims, &pinned),
                Err(expected),
                "{claims}"
            );
        }
    }

    #[test]
    fn the_audience_and_every_time_claim_are_checked() {
        refused_each(vec![
            (
                with(&|c| c["aud"] = json!("someone-else")),
                FederationError::WrongAudience,
            ),
            (
                with(&|c| c["exp"] = json!(NOW - 120)),
                FederationError::Expired,
            ),
            (
                with(&|c| c["nbf"] = json!(NOW + 600)),
                FederationError::NotYetValid,
            ),
            (
                with(&|c| c["iat"] = json!(NOW + 600)),
                FederationError::IssuedInFuture,
            ),
            (
                with(&|c| c["exp"] = json!(NOW + 7200)),
                FederationError::LivesTooLong(3600),
            ),
            (
                with(&|c| {
                    c.as_object_mut().unwrap().remove("exp");
                }),
                FederationError::NoExpiry,
            ),
        ]);
    }

    #[test]
    fn the_subject_and_the_pinned_claims_must_match_a_credential() {
        refused_each(vec![
            (
                with(&|c| c["sub"] = json!("system:serviceaccount:dev:billing")),
                FederationError::SubjectNotAccepted,
            ),
            (
                with(&|c| c["kubernetes.io"]["namespace"] = json!("dev")),
                FederationError::ClaimMismatch("/kubernetes.io/namespace".into()),
            ),
            (
                with(&|c| {
                    c.as_object_mut().unwrap().remove("kubernetes.io");
                }),
                FederationError::ClaimMismatch("/kubernetes.io/namespace".into()),
            ),
        ]);
    }

    #[test]
    fn an_unpublished_key_or_a_changed_token_is_refused_and_never_quoted() {
        let (key, public, pinned) = scene();
        let pinned = || pinned.clone();
        let (stranger, _) = signer(SigningAlg::Es256);
        // Signed by a key the issuer does not publish (rotated away, say): named as such.
        let token = PlatformToken::read(&stranger.sign_jwt(&k8s_claims()).unwrap()).unwrap();
        assert!(matches!(
            check(
                &token,
                &issuer(K8S),
                std::slice::from_ref(&public),
                &pinned(),
                NOW
            ),
            Err(FederationError::NoKey(_))
        ));
        // Claims changed after signing.
        let signed = key.sign_jwt(&k8s_claims()).unwrap();
        let mut parts: Vec<String> = signed.split('.').map(str::to_owned).collect();
        let mut claims = k8s_claims();
        claims["sub"] = json!("system:serviceaccount:prod:admin");
        parts[1] = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            serde_json::to_vec(&claims).unwrap(),
        );
        let forged = PlatformToken::read(&parts.join(".")).unwrap();
        let admin = vec![credential(K8S, "system:serviceaccount:prod:admin", &[])];
        assert_eq!(
            check(
                &forged,
                &issuer(K8S),
                std::slice::from_ref(&public),
                &admin,
                NOW
            ),
            Err(FederationError::BadSignature)
        );
        // The words never hold the token.
        let refusal = FederationError::ClaimMismatch("ref".into()).to_string();
        assert!(!refusal.contains("eyJ"));
    }

    #[test]
    fn a_spiffe_svid_without_iss_is_issued_by_its_trust_domain() {
        let (key, public) = signer(SigningAlg::Es256);
        let svid = json!({"sub": "spiffe://example.org/ns/prod/sa/billing", "aud": "tessera",
                          "exp": NOW + 300, "iat": NOW});
        let token = PlatformToken::read(&key.sign_jwt(&svid).unwrap()).unwrap();
        assert_eq!(token.issuer, "spiffe://example.org");
        let wanted = credential(
            "spiffe://example.org",
            "spiffe://example.org/ns/prod/sa/billing",
            &[],
        );
        assert_eq!(
            run(&key, &public, &svid, std::slice::from_ref(&wanted)),
            Ok(wanted.id)
        );
        let anonymous = json!({"sub": "billing", "aud": "tessera", "exp": NOW + 300});
        assert_eq!(
            PlatformToken::read(&key.sign_jwt(&anonymous).unwrap()).unwrap_err(),
            FederationError::NoIssuer
        );
    }

    #[test]
    fn github_claims_are_compared_as_written_numbers_included() {
        let (key, public) = signer(SigningAlg::Rs256);
        let gh = json!({"iss": "https://token.actions.githubusercontent.com",
            "sub": "repo:acme/app:ref:refs/heads/main", "aud": "tessera",
            "repository_id": "42", "run_attempt": 1, "ref": "refs/heads/main",
            "exp": NOW + 300, "iat": NOW});
        let iss = "https://token.actions.githubusercontent.com";
        let sub = "repo:acme/app:ref:refs/heads/main";
        let ok = credential(iss, sub, &[("repository_id", "42"), ("run_attempt", "1")]);
        assert_eq!(
            run(&key, &public, &gh, std::slice::from_ref(&ok)),
            Ok(ok.id)
        );
        let wrong = credential(iss, sub, &[("repository_id", "43")]);
        assert_eq!(
            run(&key, &public, &gh, &[wrong]),
            Err(FederationError::ClaimMismatch("repository_id".into()))
        );
    }
}

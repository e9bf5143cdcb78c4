//! Workload identity federation (SPEC §14): the platforms a tenant trusts (a Kubernetes
//! cluster, GitHub Actions, a SPIFFE trust domain) and, on an integration, the platform
//! identities it accepts in place of a client secret.

use std::collections::BTreeMap;

use crate::error::DomainError;
use crate::id::{ClientId, FederatedCredentialId, TenantId, TrustedIssuerId};

use super::{validate_web_url, UnixMillis, UrlRules};

/// The longest issuer, subject, audience or required claim value.
pub const MAX_FEDERATION_TEXT: usize = 255;
/// Audiences one trusted issuer may list.
pub const MAX_AUDIENCES: usize = 10;
/// Claims one federated credential may require.
pub const MAX_REQUIRED_CLAIMS: usize = 10;
/// Trusted issuers per tenant.
pub const MAX_TRUSTED_ISSUERS: usize = 50;
/// Federated credentials per integration.
pub const MAX_FEDERATED_CREDENTIALS: usize = 20;
/// The longest lifetime (`exp` − `iat`) of a platform token accepted unless the issuer says
/// otherwise: Kubernetes' default for projected tokens; GitHub's and SPIRE's are shorter.
pub const DEFAULT_MAX_TOKEN_LIFETIME_SECONDS: u32 = 3600;
/// The most an issuer may allow.
pub const MAX_MAX_TOKEN_LIFETIME_SECONDS: u32 = 86_400;

/// A platform whose identity tokens a tenant accepts (SPEC §14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedIssuer {
    /// Its id.
    pub id: TrustedIssuerId,
    /// The tenant that trusts it.
    pub tenant_id: TenantId,
    /// The tokens' `iss`, exactly; for SPIFFE JWT-SVIDs without one, `spiffe://<trust domain>`.
    pub issuer: String,
    /// Where its keys are published; `None`: the `jwks_uri` of its discovery document
    /// (`<issuer>/.well-known/openid-configuration`).
    pub jwks_uri: Option<String>,
    /// The `aud` values accepted: a token must name one of them.
    pub audiences: Vec<String>,
    /// The longest `exp` − `iat` accepted.
    pub max_token_lifetime_seconds: u32,
    /// When it was registered.
    pub created_at: UnixMillis,
}

/// A platform identity that authenticates an integration: tokens of `issuer` whose `sub` is
/// `subject` and whose claims hold the `claims` values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederatedCredential {
    /// Its id, which the tokens issued through it carry.
    pub id: FederatedCredentialId,
    /// The integration's tenant.
    pub tenant_id: TenantId,
    /// The integration it authenticates.
    pub client_id: ClientId,
    /// A trusted issuer of the tenant.
    pub issuer: String,
    /// The tokens' `sub`, exactly.
    pub subject: String,
    /// Required values: a claim's name, or a JSON Pointer (`/kubernetes.io/namespace`) for a
    /// nested one, and the value it must have.
    pub claims: BTreeMap<String, String>,
    /// When it was registered.
    pub created_at: UnixMillis,
}

/// Claims the checks themselves cover; a credential may not pin them.
const CHECKED_CLAIMS: &[&str] = &["iss", "sub", "aud", "exp", "nbf", "iat"];

fn text(field: &'static str, value: &str) -> Result<String, DomainError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(DomainError::invalid(field, "must not be empty"));
    }
    if value.chars().count() > MAX_FEDERATION_TEXT {
        return Err(DomainError::invalid(
            field,
            format!("is longer than {MAX_FEDERATION_TEXT} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            field,
            "must not hold control characters",
        ));
    }
    Ok(value.to_owned())
}

/// Whether tokens of `issuer` can name their keys through a discovery document.
fn discoverable(issuer: &str) -> bool {
    issuer.starts_with("https://") || issuer.starts_with("http://")
}

/// A trusted issuer as an admin asks for it.
#[derive(Debug, Clone, Default)]
pub struct TrustedIssuerRequest {
    /// The tokens' `iss`, or `spiffe://<trust domain>`.
    pub issuer: String,
    /// Where its keys are; else from its discovery document.
    pub jwks_uri: Option<String>,
    /// The audiences accepted.
    pub audiences: Vec<String>,
    /// The longest lifetime accepted [default: 3600].
    pub max_token_lifetime_seconds: Option<u32>,
}

impl TrustedIssuer {
    /// A trusted issuer as an admin registers it, checked.
    pub fn new(
        id: TrustedIssuerId,
        tenant_id: TenantId,
        request: &TrustedIssuerRequest,
        urls: UrlRules,
        now: UnixMillis,
    ) -> Result<TrustedIssuer, DomainError> {
        let TrustedIssuerRequest {
            issuer,
            jwks_uri,
            audiences,
            max_token_lifetime_seconds,
        } = request;
        let issuer = text("issuer", issuer)?;
        if !discoverable(&issuer) && !issuer.starts_with("spiffe://") {
            return Err(DomainError::invalid(
                "issuer",
                "must be the platform's `iss` URL (https://…) or a SPIFFE trust domain (spiffe://…)",
            ));
        }
        let jwks_uri = match jwks_uri.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            Some(uri) => Some(validate_web_url("jwks_uri", uri, urls)?),
            None if discoverable(&issuer) => {
                // Its discovery document is fetched later; the URL must be one we would call.
                validate_web_url("issuer", &issuer, urls)?;
                None
            }
            None => {
                return Err(DomainError::invalid(
                    "jwks_uri",
                    "is needed for a SPIFFE trust domain (its bundle endpoint's JWK Set)",
                ))
            }
        };
        if audiences.is_empty() || audiences.len() > MAX_AUDIENCES {
            return Err(DomainError::invalid(
                "audiences",
                format!(
                    "must list 1 to {MAX_AUDIENCES} audiences the platform's tokens are issued for"
                ),
            ));
        }
        let audiences = audiences
            .iter()
            .map(|a| text("audiences", a))
            .collect::<Result<Vec<_>, _>>()?;
        let max = max_token_lifetime_seconds.unwrap_or(DEFAULT_MAX_TOKEN_LIFETIME_SECONDS);
        if !(60..=MAX_MAX_TOKEN_LIFETIME_SECONDS).contains(&max) {
            return Err(DomainError::invalid(
                "max_token_lifetime_seconds",
                format!("is {max}; it must be between 60 and {MAX_MAX_TOKEN_LIFETIME_SECONDS}"),
            ));
        }
        Ok(TrustedIssuer {
            id,
            tenant_id,
            issuer,
            jwks_uri,
            audiences,
            max_token_lifetime_seconds: max,
            created_at: now,
        })
    }
}

impl FederatedCredential {
    /// A federated credential as an admin registers it, checked.
    pub fn new(
        id: FederatedCredentialId,
        tenant_id: TenantId,
        client_id: ClientId,
        issuer: &str,
        subject: &str,
        claims: &BTreeMap<String, String>,
        now: UnixMillis,
    ) -> Result<FederatedCredential, DomainError> {
        let issuer = text("issuer", issuer)?;
        let subject = text("subject", subject)?;
        if claims.len() > MAX_REQUIRED_CLAIMS {
            return Err(DomainError::invalid(
                "claims",
                format!("may require at most {MAX_REQUIRED_CLAIMS} claims"),
            ));
        }
        let mut checked = BTreeMap::new();
        for (name, value) in claims {
            let name = text("claims", name)?;
            if CHECKED_CLAIMS.contains(&name.as_str()) {
                return Err(DomainError::invalid(
                    "claims",
                    format!("may not require `{name}`: the issuer, `subject` and the times are checked already"),
                ));
            }
            if name.starts_with('/') && name.len() < 2 {
                return Err(DomainError::invalid(
                    "claims",
                    "a JSON Pointer must name a claim (`/kubernetes.io/namespace`)",
                ));
            }
            checked.insert(name, text("claims", value)?);
        }
        Ok(FederatedCredential {
            id,
            tenant_id,
            client_id,
            issuer,
            subject,
            claims: checked,
            created_at: now,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls() -> UrlRules {
        UrlRules {
            plain_http_anywhere: false,
        }
    }

    fn issuer(
        iss: &str,
        jwks: Option<&str>,
        audiences: &[&str],
    ) -> Result<TrustedIssuer, DomainError> {
        let request = TrustedIssuerRequest {
            issuer: iss.into(),
            jwks_uri: jwks.map(str::to_owned),
            audiences: audiences.iter().map(|a| (*a).to_owned()).collect(),
            max_token_lifetime_seconds: None,
        };
        TrustedIssuer::new(
            TrustedIssuerId::random(),
            TenantId::random(),
            &request,
            urls(),
            0,
        )
    }

    #[test]
    fn a_trusted_issuer_needs_a_url_or_a_trust_domain_with_its_keys_and_an_audience() {
        let github = issuer(
            "https://token.actions.githubusercontent.com",
            None,
            &["tessera"],
        )
        .unwrap();
        assert_eq!(github.jwks_uri, None, "from the discovery document");
        assert_eq!(
            github.max_token_lifetime_seconds,
            DEFAULT_MAX_TOKEN_LIFETIME_SECONDS
        );
        issuer(
            "spiffe://example.org",
            Some("https://spire.example.org/keys"),
            &["tessera"],
        )
        .unwrap();
        for (iss, jwks, audiences, field) in [
            ("https://k8s.example", None, &[][..], "audiences"),
            ("spiffe://example.org", None, &["a"][..], "jwks_uri"),
            ("k8s", None, &["a"][..], "issuer"),
            ("", None, &["a"][..], "issuer"),
            ("http://k8s.example", None, &["a"][..], "issuer"),
            (
                "https://k8s.example",
                Some("ftp://keys"),
                &["a"][..],
                "jwks_uri",
            ),
            ("https://k8s.example", None, &[""][..], "audiences"),
        ] {
            let refused = issuer(iss, jwks, audiences).unwrap_err();
            assert_eq!(
                refused.field(),
                Some(field),
                "{iss} {jwks:?} {audiences:?}: {refused}"
            );
        }
    }

    #[test]
    fn a_credential_requires_a_subject_and_may_not_pin_what_is_checked_anyway() {
        let make = |subject: &str, claims: &[(&str, &str)]| {
            FederatedCredential::new(
                FederatedCredentialId::random(),
                TenantId::random(),
                ClientId::random(),
                "https://token.actions.githubusercontent.com",
                subject,
                &claims
                    .iter()
                    .map(|(k, v)| ((*k).into(), (*v).into()))
                    .collect(),
                0,
            )
        };
        let ok = make(
            "repo:acme/app:ref:refs/heads/main",
            &[
                ("repository_id", "42"),
                ("/kubernetes.io/namespace", "prod"),
            ],
        )
        .unwrap();
        assert_eq!(ok.claims.len(), 2);
        assert_eq!(make("", &[]).unwrap_err().field(), Some("subject"));
        assert_eq!(
            make("s", &[("aud", "x")]).unwrap_err().field(),
            Some("claims")
        );
        assert_eq!(
            make("s", &[("/", "x")]).unwrap_err().field(),
            Some("claims")
        );
        assert_eq!(
            make("s", &[("ref", "")]).unwrap_err().field(),
            Some("claims")
        );
    }
}

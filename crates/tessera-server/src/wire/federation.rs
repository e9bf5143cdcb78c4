//! Trusted issuers and federated credentials (SPEC §14).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tessera_core::model::{FederatedCredential, TrustedIssuer};
use utoipa::ToSchema;

use super::rfc3339;

/// A platform whose identity tokens the tenant accepts.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTrustedIssuerRequest {
    /// The platform tokens' `iss` (`https://…`), or a SPIFFE trust domain (`spiffe://…`) for
    /// JWT-SVIDs without one.
    pub issuer: String,
    /// Where its JWK Set is; without it, the `jwks_uri` of
    /// `<issuer>/.well-known/openid-configuration`. Needed for a SPIFFE trust domain.
    pub jwks_uri: Option<String>,
    /// The `aud` values accepted (1 to 10); a platform token must name one of them.
    pub audiences: Vec<String>,
    /// The longest `exp` − `iat` accepted, 60 to 86400 [default: 3600].
    pub max_token_lifetime_seconds: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrustedIssuerView {
    /// `trusted_issuers/<uuid>`
    pub id: String,
    pub tenant_id: String,
    pub issuer: String,
    /// `null`: from the issuer's discovery document.
    pub jwks_uri: Option<String>,
    pub audiences: Vec<String>,
    pub max_token_lifetime_seconds: u32,
    pub created_at: String,
}

impl From<&TrustedIssuer> for TrustedIssuerView {
    fn from(t: &TrustedIssuer) -> Self {
        TrustedIssuerView {
            id: t.id.to_string(),
            tenant_id: t.tenant_id.to_string(),
            issuer: t.issuer.clone(),
            jwks_uri: t.jwks_uri.clone(),
            audiences: t.audiences.clone(),
            max_token_lifetime_seconds: t.max_token_lifetime_seconds,
            created_at: rfc3339(t.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrustedIssuerList {
    pub trusted_issuers: Vec<TrustedIssuerView>,
    pub next_page_token: String,
}

/// A platform identity the integration accepts in place of a secret.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFederatedCredentialRequest {
    /// A trusted issuer of the tenant.
    pub issuer: String,
    /// The platform tokens' `sub`, exactly: `system:serviceaccount:<namespace>:<name>`,
    /// `repo:<owner>/<repo>:ref:refs/heads/main`, `spiffe://<domain>/<path>`.
    pub subject: String,
    /// Claims the token must also carry, with these values: a claim's name, or a JSON
    /// Pointer for a nested one (`/kubernetes.io/namespace`). Up to 10.
    #[serde(default)]
    pub claims: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FederatedCredentialView {
    /// `federated_credentials/<uuid>`; tokens issued through it carry it as
    /// `tessera_federated`.
    pub id: String,
    pub client_id: String,
    pub issuer: String,
    pub subject: String,
    pub claims: BTreeMap<String, String>,
    pub created_at: String,
}

impl From<&FederatedCredential> for FederatedCredentialView {
    fn from(c: &FederatedCredential) -> Self {
        FederatedCredentialView {
            id: c.id.to_string(),
            client_id: c.client_id.to_string(),
            issuer: c.issuer.clone(),
            subject: c.subject.clone(),
            claims: c.claims.clone(),
            created_at: rfc3339(c.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FederatedCredentialList {
    pub federated_credentials: Vec<FederatedCredentialView>,
    pub next_page_token: String,
}

//! Clients nobody typed in (SPEC §15): a tenant's rules for them, and RFC 7591's answer.

use serde::{Deserialize, Serialize};
use tessera_core::model::ClientRegistrationPolicy;
use utoipa::ToSchema;

/// A tenant's rules for clients that register themselves or are named by a metadata document.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientRegistrationView {
    /// Who may register at `/oauth2/register` for this tenant: `off` (nobody), `initial_access_token`
    /// (whoever holds an admin token of the tenant), `open` (anyone, at a bounded rate; the
    /// tenant's people may then authorize such clients).
    pub registration: String,
    /// Whether the tenant's people may authorize a client whose `client_id` is the https URL
    /// of its Client ID Metadata Document.
    pub metadata_documents: bool,
    /// Host names whose metadata documents the tenant vouches for: such a client (a
    /// subdomain counts) is shown as verified; any other as unverified.
    #[serde(default)]
    pub approved_domains: Vec<String>,
}

impl From<&ClientRegistrationPolicy> for ClientRegistrationView {
    fn from(p: &ClientRegistrationPolicy) -> Self {
        ClientRegistrationView {
            registration: p.registration.as_str().to_owned(),
            metadata_documents: p.metadata_documents,
            approved_domains: p.approved_domains.clone(),
        }
    }
}

/// RFC 7591 §3.2.1: the client as registered. It is public: no secret, PKCE alone.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegisteredClientView {
    pub client_id: String,
    /// Seconds since the epoch.
    pub client_id_issued_at: i64,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<&'static str>,
    pub response_types: Vec<&'static str>,
    /// Always `none`: the client proves a code with PKCE, not a secret.
    pub token_endpoint_auth_method: &'static str,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
}

//! Resource servers (SPEC §15).

use serde::{Deserialize, Serialize};
use tessera_core::model::ResourceServer;
use utoipa::ToSchema;

use super::rfc3339;

/// An API of the tenant that tokens may be issued for (RFC 8707).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateResourceServerRequest {
    /// The `resource` clients send and the `aud` of its tokens: an https URL (plain http to
    /// loopback only), no query, no fragment. Kept exactly as given.
    pub identifier: String,
    /// The name the consent page shows [default: the identifier].
    pub display_name: Option<String>,
    /// The scopes its tokens may carry, of `assets:read`, `assets:write`, `events:read`,
    /// `events:write`, `private_tokens` [default: all of them].
    pub scopes: Option<Vec<String>>,
}

/// A change to a resource server: the fields given are replaced.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchResourceServerRequest {
    pub identifier: Option<String>,
    pub display_name: Option<String>,
    pub scopes: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResourceServerView {
    /// `resource_servers/<uuid>`
    pub id: String,
    pub tenant_id: String,
    pub identifier: String,
    pub display_name: String,
    pub scopes: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&ResourceServer> for ResourceServerView {
    fn from(r: &ResourceServer) -> Self {
        ResourceServerView {
            id: r.id.to_string(),
            tenant_id: r.tenant_id.to_string(),
            identifier: r.identifier.clone(),
            display_name: r.display_name.clone(),
            scopes: r.scopes.to_vec(),
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(r.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResourceServerList {
    pub resource_servers: Vec<ResourceServerView>,
    pub next_page_token: String,
}

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

/// A Shared Signals stream of the tenant (SPEC §16) and how its delivery stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventStreamView {
    pub stream_id: String,
    /// The integration that receives it (the SETs' `aud`).
    pub receiver: String,
    /// That integration's name, while it exists.
    pub receiver_name: Option<String>,
    /// `urn:ietf:rfc:8935` (push) or `urn:ietf:rfc:8936` (poll).
    pub delivery_method: &'static str,
    /// Where Tessera pushes; for poll, where the receiver polls.
    pub endpoint_url: String,
    /// `enabled`, `paused` or `disabled`.
    pub status: &'static str,
    pub status_reason: Option<String>,
    /// The event types it is sent.
    pub events_delivered: Vec<&'static str>,
    /// SETs waiting to be pushed or acknowledged.
    pub pending: u64,
    /// When the oldest of them was queued.
    pub oldest_pending_at: Option<String>,
    /// SETs pushed (a 2xx answer) or acknowledged.
    pub delivered: u64,
    /// SETs the receiver refused or that went past the retry horizon.
    pub failed: u64,
    /// Why the newest attempt failed, if it did.
    pub last_error: Option<String>,
    pub created_at: String,
}

/// The tenant's streams.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventStreamList {
    pub event_streams: Vec<EventStreamView>,
}

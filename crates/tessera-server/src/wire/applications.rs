//! App authorizations and the Token Management Service (SPEC §8) on the wire.

use serde::{Deserialize, Serialize};
use tessera_core::model::{AppAuthorization, Connection, WebhookAttempt};
use utoipa::ToSchema;

use super::rfc3339;

/// `POST /v1/app_authorizations`: the caller's tenant lets an application reach its data.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeAppRequest {
    pub app_name: String,
    /// `read_write` (every data scope), `limited` (assets, reading events) or `custom`.
    pub access: String,
    /// The scopes, for `custom` access only.
    pub scopes: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AppAuthorizationView {
    /// `app_authorizations/<uuid>`
    pub id: String,
    pub tenant_id: String,
    pub app_name: String,
    pub access: &'static str,
    pub scopes: Vec<String>,
    pub granted_by: String,
    pub created_at: String,
}

impl From<&AppAuthorization> for AppAuthorizationView {
    fn from(a: &AppAuthorization) -> Self {
        AppAuthorizationView {
            id: a.id.to_string(),
            tenant_id: a.tenant_id.to_string(),
            app_name: a.app_name.clone(),
            access: a.access.as_str(),
            scopes: a.scopes.to_vec(),
            granted_by: a.granted_by.clone(),
            created_at: rfc3339(a.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AppAuthorizationList {
    pub app_authorizations: Vec<AppAuthorizationView>,
    pub next_page_token: String,
}

/// `POST /tms/v1/tokens`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TmsTokensRequest {
    /// 1 to 5 distinct tenant ids (`tenant/<uuid>`).
    pub tenants: Vec<String>,
    /// Without HTTP Basic: `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`, with a
    /// platform token as `client_assertion` (SPEC §14).
    pub client_assertion_type: Option<String>,
    /// A platform's identity token that a federated credential of the integration accepts.
    pub client_assertion: Option<String>,
    /// The integration, when more than one accepts the platform token.
    pub client_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TmsToken {
    pub tenant_id: String,
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u32,
    pub scope: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TmsError {
    pub tenant_id: String,
    pub error: &'static str,
    pub error_description: &'static str,
}

/// A token per tenant that authorized the application, an error entry for every other.
#[derive(Debug, Serialize, ToSchema)]
pub struct TmsTokensResponse {
    pub tokens: Vec<TmsToken>,
    pub errors: Vec<TmsError>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TmsTenant {
    pub tenant_id: String,
    /// The tenant's display name.
    pub display_name: String,
    /// The access level it gave: `read_write`, `limited` or `custom`.
    pub access: &'static str,
    /// The scopes its tokens may carry.
    pub scopes: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TmsTenantList {
    pub tenants: Vec<TmsTenant>,
    /// Pass as `page_token` for the next page; "" on the last page.
    pub next_page_token: String,
}

/// A connection as either side sees it (never its secrets).
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionView {
    pub id: String,
    /// The data owner's tenant.
    pub tenant_id: String,
    pub client_id: String,
    /// The tenant that registered the integration.
    pub client_tenant_id: String,
    pub scopes: Vec<String>,
    pub state: String,
    /// `active` or `revoked`.
    pub status: &'static str,
    pub granted_by: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Connection> for ConnectionView {
    fn from(c: &Connection) -> Self {
        ConnectionView {
            id: c.id.to_string(),
            tenant_id: c.owner_tenant_id.to_string(),
            client_id: c.client_id.to_string(),
            client_tenant_id: c.client_tenant_id.to_string(),
            scopes: c.scopes.to_vec(),
            state: c.state.clone(),
            status: c.status.as_str(),
            granted_by: c.granted_by.clone(),
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionList {
    pub connections: Vec<ConnectionView>,
    pub next_page_token: String,
}

/// One webhook delivery attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    /// The `webhook-id` of the message.
    pub webhook_id: String,
    /// `asset.created`, `asset.updated`, `asset.deleted`, `event.created`.
    #[serde(rename = "type")]
    pub kind: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub at: String,
    /// The application's HTTP status, if it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub duration_ms: u32,
}

impl From<&WebhookAttempt> for DeliveryView {
    fn from(a: &WebhookAttempt) -> Self {
        DeliveryView {
            webhook_id: format!("msg_{}", a.event_seq),
            kind: a.kind.clone(),
            attempt: a.attempt,
            at: rfc3339(a.at),
            status: a.status,
            error: a.error.clone(),
            duration_ms: a.duration_ms,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    pub deliveries: Vec<DeliveryView>,
    pub next_page_token: String,
}

//! Wire shapes of the resource API (SPEC §5) and of access policies (SPEC §4).

use serde::{Deserialize, Serialize};
use tessera_core::model::{Asset, AssetEvent, Attributes};
use tessera_core::policy::{
    AccessPolicy, AssetFilter, EventVisibility, Permission, PolicyActor, PolicyRules,
};
use utoipa::ToSchema;

use super::rfc3339;

/// An asset as a caller sees it: only the attributes its policies let it read.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssetView {
    /// `assets/<uuid>`.
    pub identity: String,
    #[schema(value_type = Object)]
    pub attributes: Attributes,
    /// `tenant/<uuid>`.
    pub tenant_identity: String,
    /// When the asset last changed (RFC 3339).
    pub at_time: String,
}

impl AssetView {
    pub fn new(asset: &Asset, attributes: Attributes) -> AssetView {
        AssetView {
            identity: asset.id.to_string(),
            attributes,
            tenant_identity: asset.tenant_id.to_string(),
            at_time: rfc3339(asset.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AssetList {
    pub assets: Vec<AssetView>,
    /// "" on the last page.
    pub next_page_token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAssetRequest {
    /// `arc_display_type` is the asset's type, which access policies filter on.
    #[schema(value_type = Object)]
    pub attributes: Attributes,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchAssetRequest {
    /// Attributes to set; `null` removes one.
    #[schema(value_type = Object)]
    pub attributes: Attributes,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    /// `assets/<uuid>/events/<uuid>`.
    pub identity: String,
    pub asset_identity: String,
    pub operation: String,
    #[schema(value_type = Object)]
    pub event_attributes: Attributes,
    /// Who recorded it: `client:<id>` or `user:<id>`.
    pub principal: String,
    pub at_time: String,
    pub tenant_identity: String,
}

impl From<&AssetEvent> for EventView {
    fn from(e: &AssetEvent) -> Self {
        EventView {
            identity: format!("{}/events/{}", e.asset_id, e.id),
            asset_identity: e.asset_id.to_string(),
            operation: e.operation.clone(),
            event_attributes: e.attributes.clone(),
            principal: e.principal.clone(),
            at_time: rfc3339(e.at),
            tenant_identity: e.tenant_id.to_string(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventList {
    pub events: Vec<EventView>,
    pub next_page_token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppendEventRequest {
    /// What kind of event; default `Record`.
    pub operation: Option<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub event_attributes: Attributes,
}

/// Assets a policy covers: those whose `arc_display_type` is listed; `*` for all.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssetFilterWire {
    pub asset_types: Vec<String>,
}

/// An integration (`client_id`) or a user (`email`): exactly one of the two.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActorWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PermissionWire {
    pub actors: Vec<ActorWire>,
    /// Attributes the actors may read (and, with `write`, change); `["*"]` for all.
    pub attributes: Vec<String>,
    /// `all` or `none` (default).
    #[serde(default)]
    #[schema(value_type = String)]
    pub event_visibility: EventVisibility,
    /// May create, change and delete covered assets and record events on them; default false.
    #[serde(default)]
    pub write: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccessPolicyRequest {
    pub display_name: String,
    #[serde(default)]
    pub description: String,
    pub filters: Vec<AssetFilterWire>,
    pub permissions: Vec<PermissionWire>,
}

#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct PatchAccessPolicyRequest {
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub filters: Option<Vec<AssetFilterWire>>,
    pub permissions: Option<Vec<PermissionWire>>,
}

pub fn filters_from_wire(filters: Vec<AssetFilterWire>) -> Vec<AssetFilter> {
    filters
        .into_iter()
        .map(|f| AssetFilter {
            asset_types: f.asset_types,
        })
        .collect()
}

pub fn permissions_from_wire(permissions: Vec<PermissionWire>) -> Vec<Permission> {
    permissions
        .into_iter()
        .map(|p| Permission {
            actors: p
                .actors
                .into_iter()
                .map(|a| PolicyActor {
                    client_id: a.client_id,
                    email: a.email,
                })
                .collect(),
            attributes: p.attributes,
            event_visibility: p.event_visibility,
            write: p.write,
        })
        .collect()
}

impl CreateAccessPolicyRequest {
    pub fn rules(self) -> (String, String, PolicyRules) {
        (
            self.display_name,
            self.description,
            PolicyRules {
                filters: filters_from_wire(self.filters),
                permissions: permissions_from_wire(self.permissions),
            },
        )
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccessPolicyView {
    /// `access_policies/<uuid>`.
    pub identity: String,
    pub display_name: String,
    pub description: String,
    pub filters: Vec<AssetFilterWire>,
    pub permissions: Vec<PermissionWire>,
    pub tenant_identity: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&AccessPolicy> for AccessPolicyView {
    fn from(p: &AccessPolicy) -> Self {
        AccessPolicyView {
            identity: p.id.to_string(),
            display_name: p.display_name.clone(),
            description: p.description.clone(),
            filters: p
                .rules
                .filters
                .iter()
                .map(|f| AssetFilterWire {
                    asset_types: f.asset_types.clone(),
                })
                .collect(),
            permissions: p
                .rules
                .permissions
                .iter()
                .map(|perm| PermissionWire {
                    actors: perm
                        .actors
                        .iter()
                        .map(|a| ActorWire {
                            client_id: a.client_id.clone(),
                            email: a.email.clone(),
                        })
                        .collect(),
                    attributes: perm.attributes.clone(),
                    event_visibility: perm.event_visibility,
                    write: perm.write,
                })
                .collect(),
            tenant_identity: p.tenant_id.to_string(),
            created_at: rfc3339(p.created_at),
            updated_at: rfc3339(p.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccessPolicyList {
    pub access_policies: Vec<AccessPolicyView>,
    pub next_page_token: String,
}

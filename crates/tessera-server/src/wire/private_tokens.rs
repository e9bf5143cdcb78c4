//! Application private tokens (SPEC §7) on the wire. Field names follow the seed: `relatedId`.

use serde::{Deserialize, Serialize};
use tessera_core::model::PrivateTokenInfo;
use utoipa::ToSchema;

use super::rfc3339;

/// `PUT /v1/private_tokens/{relatedId}/{key}` as JSON. A body of any other content type is
/// the value itself (UTF-8).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutPrivateTokenRequest {
    pub value: String,
}

/// `POST /v1/private_tokens`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostPrivateTokenRequest {
    #[serde(rename = "relatedId")]
    pub related_id: String,
    pub key: String,
    pub value: String,
}

/// An entry: its value only when read one by one, or listed with `include_values=true`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrivateTokenView {
    #[serde(rename = "relatedId")]
    pub related_id: String,
    pub key: String,
    /// Bytes of the value (UTF-8).
    pub size: u64,
    /// Send it back in `If-Match` to write only over this version.
    pub etag: String,
    pub created_at: String,
    pub updated_at: String,
    /// Last, so that a large value can follow the rest as it is read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl PrivateTokenView {
    pub fn new(info: &PrivateTokenInfo, value: Option<String>) -> Self {
        PrivateTokenView {
            related_id: info.name.related_id.clone(),
            key: info.name.key.clone(),
            value,
            size: info.size,
            etag: info.etag.clone(),
            created_at: rfc3339(info.created_at),
            updated_at: rfc3339(info.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PrivateTokenList {
    pub private_tokens: Vec<PrivateTokenView>,
    /// Pass as `page_token` for the next page; "" on the last page.
    pub next_page_token: String,
}

/// `DELETE /v1/private_tokens/{relatedId}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedPrivateTokens {
    pub deleted: u64,
}

/// The filters and paging of a listing.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PrivateTokenQuery {
    /// Only the entries of this `relatedId`.
    #[serde(rename = "relatedId")]
    #[param(rename = "relatedId")]
    pub related_id: Option<String>,
    /// Only entries whose `relatedId` starts with this.
    #[serde(rename = "relatedId_prefix")]
    #[param(rename = "relatedId_prefix")]
    pub related_id_prefix: Option<String>,
    /// Only entries with this key.
    pub key: Option<String>,
    /// `true` to include values; default `false`.
    pub include_values: Option<String>,
    /// 1 to 1000; default 100.
    pub page_size: Option<String>,
    pub page_token: Option<String>,
}

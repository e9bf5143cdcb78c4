//! The kinds of object apply manages, one row each, and the plan's steps.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::api_cli::{
    Resource, APP_AUTHORIZATION, INTEGRATION, POLICY, RESOURCE_SERVER, TRUSTED_ISSUER, USER,
};

/// One kind of object apply manages.
pub(super) struct Kind {
    pub(super) resource: &'static Resource,
    /// As the plan names it.
    pub(super) label: &'static str,
    /// The field objects are matched on.
    pub(super) name_field: &'static str,
    /// Fields the API sets only when an object is made.
    pub(super) create_only: &'static [&'static str],
    /// No PATCH: a change is a new POST, which replaces the object.
    pub(super) replace: bool,
}

pub(super) const INTEGRATIONS: Kind = Kind {
    resource: &INTEGRATION,
    label: "integration",
    name_field: "display_name",
    create_only: &["multi_tenant", "app_name", "app_version"],
    replace: false,
};
pub(super) const TRUSTED_ISSUERS: Kind = Kind {
    resource: &TRUSTED_ISSUER,
    label: "trusted_issuer",
    name_field: "issuer",
    create_only: &["audiences", "jwks_uri", "max_token_lifetime_seconds"],
    replace: false,
};
pub(super) const RESOURCE_SERVERS: Kind = Kind {
    resource: &RESOURCE_SERVER,
    label: "resource_server",
    name_field: "identifier",
    create_only: &[],
    replace: false,
};
pub(super) const USERS: Kind = Kind {
    resource: &USER,
    label: "user",
    name_field: "email",
    create_only: &[],
    replace: false,
};
pub(super) const POLICIES: Kind = Kind {
    resource: &POLICY,
    label: "access_policy",
    name_field: "display_name",
    create_only: &[],
    replace: false,
};
pub(super) const APP_AUTHORIZATIONS: Kind = Kind {
    resource: &APP_AUTHORIZATION,
    label: "app_authorization",
    name_field: "app_name",
    create_only: &[],
    replace: true,
};

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum Action {
    Create,
    Update,
    Replace,
    Delete,
    /// Named for deletion by `--prune` but kept, with the reason.
    Keep,
}

/// One step of the plan.
#[derive(Debug, Serialize)]
pub(super) struct Change {
    pub(super) action: Action,
    /// `integration`, `key`, `access_policy`, `user` or `app_authorization`.
    pub(super) kind: &'static str,
    pub(super) name: String,
    /// A key's integration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) integration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) id: Option<String>,
    /// Create and replace: the fields sent; update: `{field: {"from", "to"}}`.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub(super) fields: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) reason: Option<String>,
    /// What is sent: fields, a password, a key's body.
    #[serde(skip)]
    pub(super) body: Map<String, Value>,
}

impl Change {
    pub(super) fn new(action: Action, kind: &'static str, name: &str) -> Change {
        Change {
            action,
            kind,
            name: name.to_owned(),
            integration: None,
            id: None,
            fields: Map::new(),
            reason: None,
            body: Map::new(),
        }
    }
}

/// What apply found and decided.
#[derive(Debug, Serialize)]
pub(super) struct Plan {
    pub(super) tenant_id: String,
    pub(super) changes: Vec<Change>,
    /// Objects already as the file says.
    pub(super) unchanged: usize,
    /// Objects the file does not name, left alone without `--prune`.
    pub(super) not_in_file: Vec<Value>,
}

/// One object the file asks for.
pub(super) struct Wanted {
    pub(super) name: String,
    /// The managed fields, in the API's names and shapes.
    pub(super) fields: Map<String, Value>,
    /// Sent when it is made, never compared (a user's first password).
    pub(super) on_create: Map<String, Value>,
}

/// The tenant as read before planning.
pub(super) struct Current {
    pub(super) tenant_id: String,
    /// The integration apply runs as.
    pub(super) caller: String,
    pub(super) integrations: Vec<Value>,
    pub(super) policies: Vec<Value>,
    pub(super) users: Vec<Value>,
    pub(super) app_authorizations: Vec<Value>,
    pub(super) trusted_issuers: Vec<Value>,
    pub(super) resource_servers: Vec<Value>,
    /// kids of the integrations whose keys the file manages, by client_id.
    pub(super) keys: HashMap<String, Vec<String>>,
    /// Federated credentials of the integrations whose credentials the file manages, by
    /// client_id.
    pub(super) credentials: HashMap<String, Vec<Value>>,
}

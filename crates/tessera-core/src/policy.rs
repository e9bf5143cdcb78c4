//! Access policies (SPEC §4, seed 000) and their evaluation: which assets an actor sees, which of
//! their attributes, whether it sees events and whether it may write. Pure functions over plain
//! data; the server caches [`ActorAccess`] per tenant and actor and drops it when a policy changes.
//!
//! Secure by default: an actor that no permission names sees nothing. Permissions add up: an
//! actor named by several sees the union of what they grant.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::id::{AccessPolicyId, ClientId, TenantId};
use crate::model::{
    validate_attribute_name, validate_display_name, validate_email, Attributes, UnixMillis,
};

/// The wildcard in `asset_types` and `attributes`.
pub const ANY: &str = "*";
const MAX_ENTRIES: usize = 256;

/// A tenant's access policy (SPEC §5): which assets it covers and who may do what with them.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessPolicy {
    /// The policy's id.
    pub id: AccessPolicyId,
    /// The tenant it belongs to.
    pub tenant_id: TenantId,
    /// Its position in the tenant's listing.
    pub seq: i64,
    /// Its name, as people see it.
    pub display_name: String,
    /// What it is for, in words.
    pub description: String,
    /// Its filters and permissions.
    pub rules: PolicyRules,
    /// When it was created.
    pub created_at: UnixMillis,
    /// When it was last changed.
    pub updated_at: UnixMillis,
}

/// What a policy says: which assets it covers and who may do what with them. Stored as JSON in
/// exactly this shape, which is also the wire shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PolicyRules {
    /// The policy covers an asset when any filter matches it.
    pub filters: Vec<AssetFilter>,
    /// Who may do what with the covered assets.
    pub permissions: Vec<Permission>,
}

/// Matches assets by type (`arc_display_type`); `*` matches every type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetFilter {
    /// The `arc_display_type`s matched, or `*`.
    pub asset_types: Vec<String>,
}

/// What some actors may do with the assets a policy covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Permission {
    /// Whom it is for.
    pub actors: Vec<PolicyActor>,
    /// Attributes the actors may read (and, with `write`, change); `*` for all.
    pub attributes: Vec<String>,
    /// Whether the actors see the assets' events.
    #[serde(default)]
    pub event_visibility: EventVisibility,
    /// May create assets of the covered types, change the permitted attributes, delete them and
    /// record events on them.
    #[serde(default)]
    pub write: bool,
}

/// Whether a permission's actors see the events of the assets it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EventVisibility {
    /// Every event.
    All,
    /// No event.
    #[default]
    None,
}

/// Who a permission is for: an integration by `client_id` or a user by email.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyActor {
    /// An integration, by its `client_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// A user, by email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl PolicyRules {
    /// Checks the rules and normalizes them (emails lower-cased, `client_id`s canonical).
    pub fn validated(mut self) -> Result<PolicyRules, DomainError> {
        if self.filters.is_empty() {
            return Err(DomainError::invalid(
                "filters",
                "must name at least one filter, e.g. [{\"asset_types\": [\"*\"]}] for all assets",
            ));
        }
        if self.filters.len() > MAX_ENTRIES || self.permissions.len() > MAX_ENTRIES {
            return Err(DomainError::invalid(
                "permissions",
                format!("at most {MAX_ENTRIES} filters and {MAX_ENTRIES} permissions"),
            ));
        }
        for filter in &self.filters {
            if filter.asset_types.is_empty() || filter.asset_types.len() > MAX_ENTRIES {
                return Err(DomainError::invalid(
                    "filters",
                    "each filter's `asset_types` lists 1 to 256 types (`*` for all)",
                ));
            }
            for t in &filter.asset_types {
                if t.is_empty() || t.chars().count() > 128 || t.chars().any(char::is_control) {
                    return Err(DomainError::invalid(
                        "filters",
                        "an asset type is 1 to 128 printable characters",
                    ));
                }
            }
        }
        for permission in &mut self.permissions {
            if permission.actors.is_empty() || permission.actors.len() > MAX_ENTRIES {
                return Err(DomainError::invalid(
                    "permissions",
                    "each permission names 1 to 256 actors",
                ));
            }
            for actor in &mut permission.actors {
                *actor = actor.clone().validated()?;
            }
            if permission.attributes.is_empty() || permission.attributes.len() > MAX_ENTRIES {
                return Err(DomainError::invalid(
                    "permissions",
                    "each permission lists 1 to 256 `attributes` (`*` for all)",
                ));
            }
            for name in &permission.attributes {
                validate_attribute_name("permissions", name)?;
            }
        }
        Ok(self)
    }
}

impl PolicyActor {
    fn validated(self) -> Result<PolicyActor, DomainError> {
        match (self.client_id, self.email) {
            (Some(id), None) => {
                let id: ClientId = id.parse().map_err(|e| DomainError::invalid("actors", e))?;
                Ok(PolicyActor {
                    client_id: Some(id.to_string()),
                    email: None,
                })
            }
            (None, Some(email)) => Ok(PolicyActor {
                client_id: None,
                email: Some(validate_email(&email).map_err(|_| {
                    DomainError::invalid("actors", format!("`{email}` is not an email address"))
                })?),
            }),
            _ => Err(DomainError::invalid(
                "actors",
                "each actor is either {\"client_id\": …} or {\"email\": …}",
            )),
        }
    }
}

/// Checks a policy's name and rules.
pub fn validate_policy(display_name: &str, rules: PolicyRules) -> Result<PolicyRules, DomainError> {
    validate_display_name(display_name)?;
    rules.validated()
}

/// The caller a resource request is evaluated for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Principal {
    /// An integration, by its `client_id`.
    Integration(ClientId),
    /// A user, by lower-cased email.
    User(String),
}

impl Principal {
    fn is_named_by(&self, actor: &PolicyActor) -> bool {
        match self {
            Principal::Integration(id) => actor
                .client_id
                .as_deref()
                .is_some_and(|c| c.parse::<ClientId>().is_ok_and(|c| c == *id)),
            Principal::User(email) => actor.email.as_deref() == Some(email.as_str()),
        }
    }
}

/// Which attributes of an asset an actor may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeAccess {
    /// Every attribute.
    All,
    /// Only these attributes.
    Only(BTreeSet<String>),
}

impl AttributeAccess {
    /// Whether the attribute `name` may be read.
    pub fn allows(&self, name: &str) -> bool {
        match self {
            AttributeAccess::All => true,
            AttributeAccess::Only(names) => names.contains(name),
        }
    }

    fn union(&mut self, other: &AttributeAccess) {
        match (&mut *self, other) {
            (AttributeAccess::All, _) => {}
            (_, AttributeAccess::All) => *self = AttributeAccess::All,
            (AttributeAccess::Only(mine), AttributeAccess::Only(theirs)) => {
                mine.extend(theirs.iter().cloned())
            }
        }
    }
}

/// What an actor may do with assets of one type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// The attributes it may read.
    pub attributes: AttributeAccess,
    /// Whether it may read the assets' events.
    pub events: bool,
    /// The attributes it may write, from permissions with `write`; `None`: it may not write.
    /// Kept apart from `attributes` so a read-everything permission and a write-some one do not
    /// add up to write-everything.
    pub writable: Option<AttributeAccess>,
}

impl Access {
    /// Everything: for callers with the `admin` scope, which reads and manages all tenant data.
    pub fn full() -> Access {
        Access {
            attributes: AttributeAccess::All,
            events: true,
            writable: Some(AttributeAccess::All),
        }
    }

    fn union(&mut self, other: &Access) {
        self.attributes.union(&other.attributes);
        self.events |= other.events;
        match (&mut self.writable, &other.writable) {
            (Some(mine), Some(theirs)) => mine.union(theirs),
            (mine @ None, Some(theirs)) => *mine = Some(theirs.clone()),
            (_, None) => {}
        }
    }

    /// Whether it may write assets of this type at all (create, delete, record events).
    pub fn can_write(&self) -> bool {
        self.writable.is_some()
    }

    /// The attributes the actor may read.
    pub fn project(&self, attributes: &Attributes) -> Attributes {
        match &self.attributes {
            AttributeAccess::All => attributes.clone(),
            AttributeAccess::Only(names) => attributes
                .iter()
                .filter(|(name, _)| names.contains(*name))
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect(),
        }
    }

    /// The first attribute of `names` the actor may not write, if any.
    pub fn first_unwritable<'a>(
        &self,
        mut names: impl Iterator<Item = &'a String>,
    ) -> Option<&'a str> {
        names
            .find(|n| !self.writable.as_ref().is_some_and(|w| w.allows(n)))
            .map(String::as_str)
    }
}

/// The asset types an actor sees, for pushing the type filter down to storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VisibleTypes {
    /// Every type.
    All,
    /// Only these types.
    Only(Vec<String>),
}

/// Everything one actor may do in one tenant, compiled from all the tenant's policies.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ActorAccess {
    /// What `*` policies grant, for every type.
    any_type: Option<Access>,
    /// Per named type: what the `*` policies and those naming the type grant together.
    by_type: BTreeMap<String, Access>,
}

impl ActorAccess {
    /// Compiles the access `who` has under `policies`.
    pub fn compile(policies: &[AccessPolicy], who: &Principal) -> ActorAccess {
        let mut any_type: Option<Access> = None;
        let mut named: BTreeMap<String, Option<Access>> = BTreeMap::new();
        for policy in policies {
            for permission in &policy.rules.permissions {
                if !permission.actors.iter().any(|a| who.is_named_by(a)) {
                    continue;
                }
                let attributes = if permission.attributes.iter().any(|a| a == ANY) {
                    AttributeAccess::All
                } else {
                    AttributeAccess::Only(permission.attributes.iter().cloned().collect())
                };
                let grant = Access {
                    writable: permission.write.then(|| attributes.clone()),
                    attributes,
                    events: permission.event_visibility == EventVisibility::All,
                };
                for filter in &policy.rules.filters {
                    for t in &filter.asset_types {
                        let slot = if t == ANY {
                            &mut any_type
                        } else {
                            named.entry(t.clone()).or_default()
                        };
                        match slot {
                            Some(access) => access.union(&grant),
                            None => *slot = Some(grant.clone()),
                        }
                    }
                }
            }
        }
        let mut by_type: BTreeMap<String, Access> = named
            .into_iter()
            .filter_map(|(t, access)| access.map(|a| (t, a)))
            .collect();
        if let Some(any) = &any_type {
            for access in by_type.values_mut() {
                access.union(any);
            }
        }
        ActorAccess { any_type, by_type }
    }

    /// Full access to every type (the `admin` scope).
    pub fn everything() -> ActorAccess {
        ActorAccess {
            any_type: Some(Access::full()),
            by_type: BTreeMap::new(),
        }
    }

    /// What the actor may do with an asset of `asset_type`; `None`: it may not see it.
    pub fn for_type(&self, asset_type: &str) -> Option<&Access> {
        self.by_type.get(asset_type).or(self.any_type.as_ref())
    }

    /// The types the actor sees; `None` when it sees nothing (the secure default).
    pub fn visible_types(&self) -> Option<VisibleTypes> {
        if self.any_type.is_some() {
            Some(VisibleTypes::All)
        } else if self.by_type.is_empty() {
            None
        } else {
            Some(VisibleTypes::Only(self.by_type.keys().cloned().collect()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(rules: serde_json::Value) -> AccessPolicy {
        AccessPolicy {
            id: AccessPolicyId::random(),
            tenant_id: TenantId::random(),
            seq: 1,
            display_name: "p".into(),
            description: String::new(),
            rules: serde_json::from_value::<PolicyRules>(rules)
                .unwrap()
                .validated()
                .unwrap(),
            created_at: 0,
            updated_at: 0,
        }
    }

    const C1: &str = "1b4e28ba-2fa1-11d2-883f-0016d3cca427";
    const C2: &str = "2b4e28ba-2fa1-11d2-883f-0016d3cca427";

    fn client(id: &str) -> Principal {
        Principal::Integration(id.parse().unwrap())
    }

    #[test]
    fn nobody_named_sees_nothing() {
        let p = policy(json!({"filters": [{"asset_types": ["*"]}], "permissions": [
            {"actors": [{"client_id": C1}], "attributes": ["*"], "event_visibility": "all"}]}));
        let access = ActorAccess::compile(&[p], &client(C2));
        assert_eq!(access.visible_types(), None);
        assert_eq!(access.for_type("Crate"), None);
        assert_eq!(ActorAccess::compile(&[], &client(C1)).visible_types(), None);
    }

    #[test]
    fn wildcard_policy_grants_every_type_with_listed_attributes() {
        let p = policy(json!({"filters": [{"asset_types": ["*"]}], "permissions": [
            {"actors": [{"client_id": C1}], "attributes": ["weight"]}]}));
        let access = ActorAccess::compile(&[p], &client(C1));
        assert_eq!(access.visible_types(), Some(VisibleTypes::All));
        let crate_access = access.for_type("Crate").unwrap();
        assert!(!crate_access.events && !crate_access.can_write());
        let attrs: Attributes =
            serde_json::from_value(json!({"weight": "1t", "secret": "x"})).unwrap();
        assert_eq!(
            crate_access.project(&attrs),
            serde_json::from_value::<Attributes>(json!({"weight": "1t"})).unwrap()
        );
    }

    #[test]
    fn permissions_add_up_across_policies_and_types() {
        let a = policy(
            json!({"filters": [{"asset_types": ["Crate", "Pallet"]}], "permissions": [
            {"actors": [{"client_id": C1}], "attributes": ["weight"], "event_visibility": "all"}]}),
        );
        let b = policy(
            json!({"filters": [{"asset_types": ["Crate"]}], "permissions": [
            {"actors": [{"email": "Ops@Example.com"}, {"client_id": C1}], "attributes": ["colour"], "write": true}]}),
        );
        let access = ActorAccess::compile(&[a.clone(), b.clone()], &client(C1));
        assert_eq!(
            access.visible_types(),
            Some(VisibleTypes::Only(vec!["Crate".into(), "Pallet".into()]))
        );
        let c = access.for_type("Crate").unwrap();
        assert!(c.events && c.can_write());
        assert!(c.attributes.allows("weight") && c.attributes.allows("colour"));
        // Writing is limited to what the write permission lists, not all it may read.
        assert_eq!(
            c.first_unwritable(["colour".to_string(), "weight".to_string()].iter()),
            Some("weight")
        );
        let p = access.for_type("Pallet").unwrap();
        assert!(p.events && !p.can_write() && !p.attributes.allows("colour"));
        assert_eq!(access.for_type("Truck"), None);

        let user = ActorAccess::compile(&[a, b], &Principal::User("ops@example.com".into()));
        assert_eq!(
            user.visible_types(),
            Some(VisibleTypes::Only(vec!["Crate".into()]))
        );
    }

    #[test]
    fn wildcard_and_named_types_merge() {
        let any = policy(json!({"filters": [{"asset_types": ["*"]}], "permissions": [
            {"actors": [{"client_id": C1}], "attributes": ["a"]}]}));
        let named = policy(
            json!({"filters": [{"asset_types": ["Crate"]}], "permissions": [
            {"actors": [{"client_id": C1}], "attributes": ["b"], "write": true}]}),
        );
        let access = ActorAccess::compile(&[any, named], &client(C1));
        let c = access.for_type("Crate").unwrap();
        assert!(c.attributes.allows("a") && c.attributes.allows("b") && c.can_write());
        let other = access.for_type("Truck").unwrap();
        assert!(
            other.attributes.allows("a") && !other.attributes.allows("b") && !other.can_write()
        );
        assert_eq!(
            c.first_unwritable(["b".to_string(), "a".to_string()].iter()),
            Some("a")
        );
    }

    #[test]
    fn bad_rules_name_the_field() {
        let cases = [
            (json!({"filters": [], "permissions": []}), "filters"),
            (
                json!({"filters": [{"asset_types": []}], "permissions": []}),
                "filters",
            ),
            (
                json!({"filters": [{"asset_types": ["*"]}], "permissions": [{"actors": [], "attributes": ["*"]}]}),
                "permissions",
            ),
            (
                json!({"filters": [{"asset_types": ["*"]}], "permissions": [{"actors": [{"client_id": "nope"}], "attributes": ["*"]}]}),
                "actors",
            ),
            (
                json!({"filters": [{"asset_types": ["*"]}], "permissions": [{"actors": [{"client_id": C1, "email": "a@b.c"}], "attributes": ["*"]}]}),
                "actors",
            ),
            (
                json!({"filters": [{"asset_types": ["*"]}], "permissions": [{"actors": [{"email": "not-mail"}], "attributes": ["*"]}]}),
                "actors",
            ),
            (
                json!({"filters": [{"asset_types": ["*"]}], "permissions": [{"actors": [{"client_id": C1}], "attributes": []}]}),
                "permissions",
            ),
        ];
        for (rules, field) in cases {
            let rules: PolicyRules = serde_json::from_value(rules.clone()).unwrap();
            assert_eq!(rules.validated().unwrap_err().field(), Some(field));
        }
    }
}

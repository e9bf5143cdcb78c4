//! Assets and their events: the tenant data that tokens and access policies protect (SPEC §5).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::DomainError;
use crate::id::{AssetId, EventId, TenantId};
use crate::model::UnixMillis;

/// An asset's or event's attributes: name → JSON value (usually a string).
pub type Attributes = BTreeMap<String, Value>;

/// The attribute that holds an asset's type, which access policies filter on (as in DataTrails).
pub const ASSET_TYPE_ATTRIBUTE: &str = "arc_display_type";
/// The most attributes one asset or event carries.
pub const MAX_ATTRIBUTES: usize = 256;
/// The longest attribute name.
pub const MAX_ATTRIBUTE_NAME_CHARS: usize = 128;
/// The largest serialized attribute map.
pub const MAX_ATTRIBUTES_BYTES: usize = 64 * 1024;
/// The longest event operation name.
pub const MAX_OPERATION_CHARS: usize = 64;

/// A thing a tenant tracks (SPEC §5): an id and its attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct Asset {
    /// The asset's id.
    pub id: AssetId,
    /// The tenant that owns it.
    pub tenant_id: TenantId,
    /// The asset's place in its tenant's listing order; pages resume after it.
    pub seq: i64,
    /// Its attributes, including `arc_display_type`.
    pub attributes: Attributes,
    /// When it was created.
    pub created_at: UnixMillis,
    /// When it last changed: the `at_time` clients see.
    pub updated_at: UnixMillis,
}

impl Asset {
    /// A new asset; `seq` is assigned by the store.
    pub fn new(
        id: AssetId,
        tenant_id: TenantId,
        attributes: Attributes,
        now: UnixMillis,
    ) -> Result<Asset, DomainError> {
        validate_attributes("attributes", &attributes)?;
        Ok(Asset {
            id,
            tenant_id,
            seq: 0,
            attributes,
            created_at: now,
            updated_at: now,
        })
    }

    /// The asset type policies filter on: its `arc_display_type`, or "" when it has none.
    pub fn asset_type(&self) -> &str {
        asset_type_of(&self.attributes)
    }

    /// Applies a merge patch: a `null` value removes the attribute, any other sets it.
    pub fn patched(&self, patch: &Attributes, now: UnixMillis) -> Result<Asset, DomainError> {
        let mut attributes = self.attributes.clone();
        for (name, value) in patch {
            if value.is_null() {
                attributes.remove(name);
            } else {
                attributes.insert(name.clone(), value.clone());
            }
        }
        validate_attributes("attributes", &attributes)?;
        Ok(Asset {
            attributes,
            // Strictly later than before: the store uses it to detect a concurrent change.
            updated_at: now.max(self.updated_at + 1),
            ..self.clone()
        })
    }
}

/// The type named by an attribute map (see [`ASSET_TYPE_ATTRIBUTE`]).
pub fn asset_type_of(attributes: &Attributes) -> &str {
    attributes
        .get(ASSET_TYPE_ATTRIBUTE)
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Something that happened to an asset, appended and never changed.
#[derive(Debug, Clone, PartialEq)]
pub struct AssetEvent {
    /// The event's id.
    pub id: EventId,
    /// The asset it belongs to.
    pub asset_id: AssetId,
    /// The tenant that owns the asset.
    pub tenant_id: TenantId,
    /// Its place in the asset's event order; pages resume after it.
    pub seq: i64,
    /// What kind of event, e.g. `Record`.
    pub operation: String,
    /// The attributes the event sets.
    pub attributes: Attributes,
    /// Who recorded it: `client:<id>` or `user:<id>`.
    pub principal: String,
    /// When it was recorded.
    pub at: UnixMillis,
}

impl AssetEvent {
    /// A new event on `asset`, with a fresh id.
    pub fn new(
        id: EventId,
        asset: &Asset,
        operation: Option<String>,
        attributes: Attributes,
        principal: String,
        now: UnixMillis,
    ) -> Result<AssetEvent, DomainError> {
        let operation = operation.unwrap_or_else(|| "Record".to_owned());
        if operation.trim().is_empty()
            || operation.chars().count() > MAX_OPERATION_CHARS
            || operation.chars().any(char::is_control)
        {
            return Err(DomainError::invalid(
                "operation",
                format!("must be 1 to {MAX_OPERATION_CHARS} printable characters"),
            ));
        }
        validate_attributes("event_attributes", &attributes)?;
        Ok(AssetEvent {
            id,
            asset_id: asset.id,
            tenant_id: asset.tenant_id,
            seq: 0,
            operation,
            attributes,
            principal,
            at: now,
        })
    }
}

/// Checks names, count, nulls and size of an attribute map, naming the first offender.
pub fn validate_attributes(
    field: &'static str,
    attributes: &Attributes,
) -> Result<(), DomainError> {
    if attributes.len() > MAX_ATTRIBUTES {
        return Err(DomainError::invalid(
            field,
            format!("has more than {MAX_ATTRIBUTES} attributes"),
        ));
    }
    for (name, value) in attributes {
        validate_attribute_name(field, name)?;
        if value.is_null() {
            return Err(DomainError::invalid(
                field,
                format!("attribute `{name}` is null; leave it out instead"),
            ));
        }
    }
    let size = serde_json::to_string(attributes).map_or(usize::MAX, |s| s.len());
    if size > MAX_ATTRIBUTES_BYTES {
        return Err(DomainError::invalid(
            field,
            format!("is {size} bytes as JSON; at most {MAX_ATTRIBUTES_BYTES} are allowed"),
        ));
    }
    Ok(())
}

/// An attribute name: 1 to 128 printable characters.
pub fn validate_attribute_name(field: &'static str, name: &str) -> Result<(), DomainError> {
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_ATTRIBUTE_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            field,
            format!(
                "attribute name `{}` must be 1 to {MAX_ATTRIBUTE_NAME_CHARS} printable characters",
                name.chars()
                    .take(MAX_ATTRIBUTE_NAME_CHARS)
                    .collect::<String>()
            ),
        ));
    }
    Ok(())
}

/// `attributes.<name>=<value>` filters of a list request: all must match. A string attribute
/// matches its text; any other value matches its JSON form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttributeFilter(pub Vec<(String, String)>);

impl AttributeFilter {
    /// Whether `attributes` pass this filter.
    pub fn matches(&self, attributes: &Attributes) -> bool {
        self.0
            .iter()
            .all(|(name, wanted)| match attributes.get(name) {
                Some(Value::String(s)) => s == wanted,
                Some(other) => other.to_string().as_str() == wanted.as_str(),
                None => false,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs(v: Value) -> Attributes {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn patch_sets_and_removes_and_keeps_the_rest() {
        let a = Asset::new(
            AssetId::random(),
            TenantId::random(),
            attrs(json!({"a": "1", "b": "2"})),
            1,
        )
        .unwrap();
        let p = a.patched(&attrs(json!({"a": null, "c": "3"})), 2).unwrap();
        assert_eq!(p.attributes, attrs(json!({"b": "2", "c": "3"})));
        assert_eq!((p.created_at, p.updated_at), (1, 2));
    }

    #[test]
    fn bad_attributes_name_the_field_and_the_attribute() {
        let err = validate_attributes("attributes", &attrs(json!({"x": null}))).unwrap_err();
        assert_eq!(err.field(), Some("attributes"));
        assert!(err.to_string().contains("`x`"), "{err}");
        let long = "n".repeat(129);
        let err =
            validate_attributes("event_attributes", &attrs(json!({ long: "v" }))).unwrap_err();
        assert_eq!(err.field(), Some("event_attributes"));
        let big = "v".repeat(MAX_ATTRIBUTES_BYTES);
        assert!(validate_attributes("attributes", &attrs(json!({ "k": big }))).is_err());
    }

    #[test]
    fn type_and_filters() {
        let a = attrs(json!({"arc_display_type": "Crate", "n": 3, "colour": "red"}));
        assert_eq!(asset_type_of(&a), "Crate");
        assert_eq!(asset_type_of(&attrs(json!({}))), "");
        let f = AttributeFilter(vec![
            ("colour".into(), "red".into()),
            ("n".into(), "3".into()),
        ]);
        assert!(f.matches(&a));
        assert!(!AttributeFilter(vec![("colour".into(), "blue".into())]).matches(&a));
        assert!(!AttributeFilter(vec![("missing".into(), "".into())]).matches(&a));
    }
}

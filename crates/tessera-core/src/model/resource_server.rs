//! Resource servers (SPEC §15, RFC 8707): the APIs of a tenant — an MCP server, a service of
//! the platform — that tokens may be issued for. A token asked for with `resource` carries the
//! resource server's identifier as its `aud`, and no scope the resource server does not accept.

use crate::error::DomainError;
use crate::id::{ResourceServerId, TenantId};
use crate::scope::{Scope, ScopeSet};

use super::{validate_display_name, validate_web_url, UnixMillis, UrlRules};

/// Resource servers per tenant.
pub const MAX_RESOURCE_SERVERS: usize = 100;

/// Scopes a resource server may accept: what a person or an integration may be given for data,
/// never the tenant's administration, the operator's or the power to act for others.
pub fn resource_scopes() -> ScopeSet {
    ScopeSet::default_for_integration()
}

/// An API tokens may be issued for (RFC 8707 §2: its identifier is the token's `aud`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceServer {
    /// Its id.
    pub id: ResourceServerId,
    /// The tenant whose API it is.
    pub tenant_id: TenantId,
    /// The `resource` clients send and the `aud` its tokens carry, exactly as registered.
    pub identifier: String,
    /// The name the consent page shows.
    pub display_name: String,
    /// The scopes its tokens may carry.
    pub scopes: ScopeSet,
    /// When it was registered.
    pub created_at: UnixMillis,
    /// When it last changed.
    pub updated_at: UnixMillis,
}

/// A resource server as an admin asks for it, or the fields of a change to one.
#[derive(Debug, Clone, Default)]
pub struct ResourceServerRequest {
    /// The identifier: an https URL (plain http to loopback only), no fragment, no query.
    pub identifier: Option<String>,
    /// The name people see.
    pub display_name: Option<String>,
    /// The scopes it accepts, by name.
    pub scopes: Option<Vec<String>>,
}

/// The form two identifiers are compared in: RFC 3986 normalization as the `url` crate does it
/// (scheme and host lower case, default port dropped, an empty path as `/`), so
/// `https://MCP.example.com` and `https://mcp.example.com/` name one resource.
pub fn canonical_resource(identifier: &str) -> Option<String> {
    url::Url::parse(identifier.trim()).ok().map(String::from)
}

fn identifier(value: &str, urls: UrlRules) -> Result<String, DomainError> {
    let value = value.trim();
    validate_web_url("identifier", value, urls)?;
    if value.contains('?') {
        return Err(DomainError::invalid(
            "identifier",
            "must not have a ?query (RFC 8707 §2): name the API by its URL alone",
        ));
    }
    Ok(value.to_owned())
}

fn scopes(names: &[String]) -> Result<ScopeSet, DomainError> {
    let mut set = ScopeSet::EMPTY;
    for name in names {
        let scope = Scope::parse(name.trim())
            .filter(|s| resource_scopes().contains(*s))
            .ok_or_else(|| {
                DomainError::invalid(
                    "scopes",
                    format!(
                        "`{}` is not a scope a resource server may accept; choose from: {}",
                        name.chars().take(60).collect::<String>(),
                        resource_scopes()
                    ),
                )
            })?;
        set = set.union(ScopeSet::from_iter([scope]));
    }
    if set.is_empty() {
        return Err(DomainError::invalid(
            "scopes",
            format!(
                "must name at least one scope the resource server accepts, from: {}",
                resource_scopes()
            ),
        ));
    }
    Ok(set)
}

impl ResourceServer {
    /// A resource server as an admin registers it, checked.
    pub fn new(
        id: ResourceServerId,
        tenant_id: TenantId,
        request: &ResourceServerRequest,
        urls: UrlRules,
        now: UnixMillis,
    ) -> Result<ResourceServer, DomainError> {
        let raw = request.identifier.as_deref().ok_or_else(|| {
            DomainError::invalid("identifier", "is required: the API's https URL")
        })?;
        let identifier = identifier(raw, urls)?;
        let display_name = request
            .display_name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map_or_else(
                || Ok(identifier.clone()),
                |n| validate_display_name(n).map(|()| n.to_owned()),
            )?;
        let scopes = match &request.scopes {
            Some(names) => scopes(names)?,
            None => resource_scopes(),
        };
        Ok(ResourceServer {
            id,
            tenant_id,
            identifier,
            display_name,
            scopes,
            created_at: now,
            updated_at: now,
        })
    }

    /// The resource server with `change` applied, checked as on creation.
    pub fn changed(
        &self,
        change: &ResourceServerRequest,
        urls: UrlRules,
        now: UnixMillis,
    ) -> Result<ResourceServer, DomainError> {
        let mut next = self.clone();
        if let Some(raw) = &change.identifier {
            next.identifier = identifier(raw, urls)?;
        }
        if let Some(name) = &change.display_name {
            let name = name.trim();
            validate_display_name(name)?;
            next.display_name = name.to_owned();
        }
        if let Some(names) = &change.scopes {
            next.scopes = scopes(names)?;
        }
        next.updated_at = now;
        Ok(next)
    }

    /// The identifier in the form lookups compare.
    pub fn canonical(&self) -> String {
        canonical_resource(&self.identifier).unwrap_or_else(|| self.identifier.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(identifier: &str, scopes: Option<&[&str]>) -> ResourceServerRequest {
        ResourceServerRequest {
            identifier: Some(identifier.into()),
            display_name: None,
            scopes: scopes.map(|s| s.iter().map(|x| (*x).to_owned()).collect()),
        }
    }

    fn create(r: &ResourceServerRequest) -> Result<ResourceServer, DomainError> {
        ResourceServer::new(
            ResourceServerId::random(),
            TenantId::random(),
            r,
            UrlRules::default(),
            1,
        )
    }

    fn refusal(r: &ResourceServerRequest) -> String {
        match create(r) {
            Err(DomainError::Invalid { field, message }) => format!("{field}: {message}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn an_identifier_is_kept_as_registered_and_compared_canonically() {
        let rs = create(&request("https://MCP.example.com", Some(&["assets:read"]))).unwrap();
        assert_eq!(rs.identifier, "https://MCP.example.com");
        assert_eq!(rs.display_name, "https://MCP.example.com");
        assert_eq!(rs.canonical(), "https://mcp.example.com/");
        assert_eq!(
            canonical_resource("https://mcp.example.com/").as_deref(),
            Some("https://mcp.example.com/")
        );
        assert_eq!(rs.scopes.to_string(), "assets:read");
        assert_eq!(
            create(&request("http://127.0.0.1:8000/mcp", None))
                .unwrap()
                .scopes,
            resource_scopes()
        );
    }

    #[test]
    fn bad_identifiers_and_scopes_are_refused_by_field() {
        assert!(refusal(&request("http://mcp.example.com", None))
            .starts_with("identifier: must use https"));
        assert!(refusal(&request("https://mcp.example.com/#x", None))
            .starts_with("identifier: must not have a #fragment"));
        assert!(refusal(&request("https://mcp.example.com/?a=1", None))
            .starts_with("identifier: must not have a ?query"));
        assert!(refusal(&request("mcp", None)).starts_with("identifier: is not an absolute URL"));
        assert!(refusal(&request("https://x.example", Some(&["admin"])))
            .starts_with("scopes: `admin` is not a scope"));
        assert!(refusal(&request("https://x.example", Some(&[])))
            .starts_with("scopes: must name at least one"));
        let none = ResourceServerRequest::default();
        assert!(refusal(&none).starts_with("identifier: is required"));
    }

    #[test]
    fn a_change_is_checked_as_a_creation() {
        let rs = create(&request("https://x.example", None)).unwrap();
        let renamed = rs
            .changed(
                &ResourceServerRequest {
                    display_name: Some(" Tools ".into()),
                    ..Default::default()
                },
                UrlRules::default(),
                9,
            )
            .unwrap();
        assert_eq!(
            (
                renamed.display_name.as_str(),
                renamed.updated_at,
                renamed.identifier.as_str()
            ),
            ("Tools", 9, "https://x.example")
        );
        assert!(rs
            .changed(&request("ftp://x", None), UrlRules::default(), 9)
            .is_err());
    }
}

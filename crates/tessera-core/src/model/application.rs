//! Multi-tenant applications and the Token Management Service (SPEC §8, seed 004). An
//! application is a name owned by one tenant; each of its versions is an integration with its
//! own credentials, stage and TMS switch. A tenant that wants the application to reach its data
//! authorizes it by name with an access level; TMS then issues tokens for that tenant.

use crate::error::DomainError;
use crate::id::{AppAuthorizationId, TenantId};
use crate::scope::{Scope, ScopeSet};

use super::UnixMillis;

/// The most tenants one TMS request may name (seed 004: "does not issue more than 5 access
/// tokens per request").
pub const MAX_TMS_TENANTS: usize = 5;
/// The longest `app_name` and `app_version`.
pub const MAX_APP_NAME_LEN: usize = 64;

/// Where a version is in its life: `development` may only reach its own tenant; promotion to
/// `production` gives it new credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Being built: development credentials, no customers yet.
    Development,
    /// Released to customers.
    Production,
}

impl Stage {
    /// The stage as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Development => "development",
            Stage::Production => "production",
        }
    }

    /// The stage named `s`, if it is one.
    pub fn parse(s: &str) -> Option<Stage> {
        [Stage::Development, Stage::Production]
            .into_iter()
            .find(|stage| stage.as_str() == s)
    }
}

/// What makes an integration one version of a multi-tenant application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppVersion {
    /// The application's name, unique across tenants.
    pub app_name: String,
    /// This version's label.
    pub app_version: String,
    /// Where this version is in its life.
    pub stage: Stage,
    /// Whether this version may use the Token Management Service; off for a new version.
    pub tms_enabled: bool,
}

/// Checks an `app_name` or `app_version` (`field`): 1–64 of letters, digits, `.`, `-`, `_`,
/// starting with a letter or digit — names that read the same in a URL, a log and a console.
pub fn validate_app_label(field: &'static str, value: &str) -> Result<(), DomainError> {
    let ok = !value.is_empty()
        && value.len() <= MAX_APP_NAME_LEN
        && value.starts_with(|c: char| c.is_ascii_alphanumeric())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(DomainError::invalid(
            field,
            format!("must be 1 to {MAX_APP_NAME_LEN} letters, digits, `.`, `-` or `_`, starting with a letter or digit"),
        ))
    }
}

/// How much of its data a tenant lets an application reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppAccess {
    /// Every data scope.
    ReadWrite,
    /// Assets (read and write) and reading events; no writing of events.
    Limited,
    /// The scopes the tenant lists.
    Custom,
}

/// The scopes that reach a tenant's data; what an application can be authorized for.
pub const DATA_SCOPES: [Scope; 4] = [
    Scope::AssetsRead,
    Scope::AssetsWrite,
    Scope::EventsRead,
    Scope::EventsWrite,
];

impl AppAccess {
    /// The access level as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            AppAccess::ReadWrite => "read_write",
            AppAccess::Limited => "limited",
            AppAccess::Custom => "custom",
        }
    }

    /// The access level named `s`, if it is one.
    pub fn parse(s: &str) -> Option<AppAccess> {
        [AppAccess::ReadWrite, AppAccess::Limited, AppAccess::Custom]
            .into_iter()
            .find(|a| a.as_str() == s)
    }

    /// The one table from access level to scopes (SPEC §8). `custom` takes `listed`, which
    /// must be data scopes; the other levels take none.
    pub fn scopes(self, listed: Option<ScopeSet>) -> Result<ScopeSet, DomainError> {
        let data = ScopeSet::from_iter(DATA_SCOPES);
        match (self, listed) {
            (AppAccess::ReadWrite, None) => Ok(data),
            (AppAccess::Limited, None) => Ok(ScopeSet::from_iter([
                Scope::AssetsRead,
                Scope::AssetsWrite,
                Scope::EventsRead,
            ])),
            (AppAccess::Custom, Some(listed)) => {
                if listed.is_empty() {
                    return Err(DomainError::invalid(
                        "scopes",
                        "must name at least one scope for `custom` access",
                    ));
                }
                let beyond = listed.difference(data);
                if !beyond.is_empty() {
                    return Err(DomainError::invalid(
                        "scopes",
                        format!("`{beyond}` does not reach a tenant's data; an application may be given: {data}"),
                    ));
                }
                Ok(listed)
            }
            (AppAccess::Custom, None) => Err(DomainError::invalid(
                "scopes",
                "is required for `custom` access: list the scopes to give",
            )),
            (_, Some(_)) => Err(DomainError::invalid(
                "scopes",
                "goes only with `custom` access; `read_write` and `limited` have fixed scopes",
            )),
        }
    }
}

/// A tenant's authorization of an application by name. Replacing it (a new `POST`) makes a new
/// one: tokens issued under the old one stop, like after a delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppAuthorization {
    /// The authorization's id.
    pub id: AppAuthorizationId,
    /// The tenant whose data it opens.
    pub tenant_id: TenantId,
    /// The application authorized.
    pub app_name: String,
    /// How much of the tenant's data it may reach.
    pub access: AppAccess,
    /// The scopes its tokens may carry for this tenant.
    pub scopes: ScopeSet,
    /// Who gave it: `client:<id>` or `user:<id>`.
    pub granted_by: String,
    /// When it was given.
    pub created_at: UnixMillis,
}

/// Reads the `tenants` of a TMS request: 1 to 5 distinct tenant ids.
pub fn parse_tms_tenants(tenants: &[String]) -> Result<Vec<TenantId>, DomainError> {
    if tenants.is_empty() || tenants.len() > MAX_TMS_TENANTS {
        return Err(DomainError::invalid(
            "tenants",
            format!(
                "must name 1 to {MAX_TMS_TENANTS} tenants; it names {}",
                tenants.len()
            ),
        ));
    }
    let mut parsed: Vec<TenantId> = Vec::with_capacity(tenants.len());
    for (n, raw) in tenants.iter().enumerate() {
        let id: TenantId = raw
            .parse()
            .map_err(|e| DomainError::invalid("tenants", format!("entry {n}: {e}")))?;
        if parsed.contains(&id) {
            return Err(DomainError::invalid(
                "tenants",
                format!("entry {n}: `{raw}` is named twice"),
            ));
        }
        parsed.push(id);
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_levels_map_to_scopes_in_one_table() {
        let scopes = |a: AppAccess, l: Option<&str>| {
            a.scopes(l.map(|l| ScopeSet::parse(l).unwrap()))
                .map(|s| s.to_string())
        };
        assert_eq!(
            scopes(AppAccess::ReadWrite, None).unwrap(),
            "assets:read assets:write events:read events:write"
        );
        assert_eq!(
            scopes(AppAccess::Limited, None).unwrap(),
            "assets:read assets:write events:read"
        );
        assert_eq!(
            scopes(AppAccess::Custom, Some("events:read")).unwrap(),
            "events:read"
        );
        for refused in [
            scopes(AppAccess::Custom, None),
            scopes(AppAccess::Custom, Some("admin")),
            scopes(AppAccess::Custom, Some("private_tokens")),
            scopes(AppAccess::Limited, Some("assets:read")),
        ] {
            assert!(refused.unwrap_err().to_string().contains("scopes"));
        }
    }

    #[test]
    fn tms_tenants_are_one_to_five_distinct_ids() {
        let t = || TenantId::random().to_string();
        assert_eq!(parse_tms_tenants(&[t(), t()]).unwrap().len(), 2);
        let five: Vec<String> = (0..5).map(|_| t()).collect();
        assert_eq!(parse_tms_tenants(&five).unwrap().len(), 5);
        let six: Vec<String> = (0..6).map(|_| t()).collect();
        assert!(parse_tms_tenants(&six)
            .unwrap_err()
            .to_string()
            .contains("names 6"));
        assert!(parse_tms_tenants(&[]).is_err());
        let one = t();
        assert!(parse_tms_tenants(&[one.clone(), one])
            .unwrap_err()
            .to_string()
            .contains("twice"));
        assert!(parse_tms_tenants(&["nope".into()])
            .unwrap_err()
            .to_string()
            .contains("entry 0"));
    }

    #[test]
    fn app_labels_are_plain() {
        assert!(validate_app_label("app_name", "kpi-calculator.v2_x").is_ok());
        for bad in ["", "-x", "a b", "ü", &"x".repeat(65)] {
            assert!(validate_app_label("app_name", bad).is_err(), "{bad}");
        }
    }
}

use crate::error::DomainError;
use crate::id::TenantId;

use super::{ClientRegistrationPolicy, UnixMillis};

/// A tenant's commercial tier, carried in tokens as `tier`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// The free tier.
    Free,
    /// The team tier.
    Team,
    /// The enterprise tier.
    Enterprise,
}

impl Tier {
    /// The tier as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Free => "FREE",
            Tier::Team => "TEAM",
            Tier::Enterprise => "ENTERPRISE",
        }
    }
    /// The tier named `s`, if it is one.
    pub fn parse(s: &str) -> Option<Tier> {
        [Tier::Free, Tier::Team, Tier::Enterprise]
            .into_iter()
            .find(|t| t.as_str() == s)
    }

    /// A tier from a request, naming the field and the choices when it is none of them.
    pub fn parse_field(s: &str) -> Result<Tier, DomainError> {
        Tier::parse(s).ok_or_else(|| {
            DomainError::invalid("tier", "must be one of `FREE`, `TEAM`, `ENTERPRISE`")
        })
    }
}

/// An isolation boundary: no data, token or error crosses tenants except through a grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// The tenant's id.
    pub id: TenantId,
    /// Its name, as people see it.
    pub display_name: String,
    /// Its tier, carried in its tokens.
    pub tier: Tier,
    /// When it was created.
    pub created_at: UnixMillis,
    /// The tenant made at first start, whose admins run the deployment (SPEC §4.1). There is
    /// exactly one; it cannot be disabled or deleted.
    pub operator: bool,
    /// A disabled tenant's tokens, grants and sessions stop working, and nothing new is issued
    /// for it.
    pub disabled: bool,
    /// Tokens for this tenant issued at or before this second are refused: set when the tenant
    /// is disabled, so enabling it again does not bring back the tokens that were live.
    pub tokens_not_after: i64,
    /// Its rules for clients nobody typed in (SPEC §15), set by its admins.
    pub client_registration: ClientRegistrationPolicy,
}

impl Tenant {
    /// A new, enabled tenant that is not the operator tenant.
    pub fn new(
        id: TenantId,
        display_name: &str,
        tier: Tier,
        created_at: UnixMillis,
    ) -> Result<Tenant, DomainError> {
        Ok(Tenant {
            id,
            display_name: validate_tenant_name(display_name)?,
            tier,
            created_at,
            operator: false,
            disabled: false,
            tokens_not_after: 0,
            client_registration: ClientRegistrationPolicy::default(),
        })
    }

    /// Whether a token for this tenant issued at `iat` (seconds) may still be honoured.
    pub fn honours(&self, iat: i64) -> bool {
        !self.disabled && iat > self.tokens_not_after
    }

    /// Applies a change of name, tier or state. Disabling ends every token issued so far.
    pub fn apply(&mut self, patch: TenantPatch, now: UnixMillis) -> Result<(), DomainError> {
        if let Some(name) = patch.display_name {
            self.display_name = validate_tenant_name(&name)?;
        }
        if let Some(tier) = patch.tier {
            self.tier = tier;
        }
        if let Some(disabled) = patch.disabled {
            if disabled && self.operator {
                return Err(DomainError::Conflict(
                    "the operator tenant cannot be disabled: it runs the deployment".into(),
                ));
            }
            if disabled && !self.disabled {
                self.tokens_not_after = now.div_euclid(1000);
            }
            self.disabled = disabled;
        }
        Ok(())
    }
}

/// A change to a tenant (`PATCH /v1/tenants/{id}`).
#[derive(Debug, Clone, Default)]
pub struct TenantPatch {
    /// A new name.
    pub display_name: Option<String>,
    /// A new tier.
    pub tier: Option<Tier>,
    /// Disable (`true`) or enable (`false`) the tenant.
    pub disabled: Option<bool>,
}

/// A tenant's display name: 1–200 characters after trimming, no control characters.
pub fn validate_tenant_name(name: &str) -> Result<String, DomainError> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(DomainError::invalid("display_name", "must not be empty"));
    }
    if trimmed.chars().count() > 200 || trimmed.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            "display_name",
            "must be at most 200 characters, without control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabling_ends_earlier_tokens_and_enabling_does_not_bring_them_back() {
        let mut t = Tenant::new(TenantId::random(), " Acme ", Tier::Team, 0).unwrap();
        assert_eq!(t.display_name, "Acme");
        assert!(t.honours(100));
        t.apply(
            TenantPatch {
                disabled: Some(true),
                ..Default::default()
            },
            200_500,
        )
        .unwrap();
        assert!(!t.honours(100) && !t.honours(300));
        t.apply(
            TenantPatch {
                disabled: Some(false),
                ..Default::default()
            },
            300_000,
        )
        .unwrap();
        assert!(
            !t.honours(100),
            "a token from before the disable stays dead"
        );
        assert!(
            !t.honours(200),
            "the second of the disable counts as before"
        );
        assert!(t.honours(301));
    }

    #[test]
    fn the_operator_tenant_cannot_be_disabled() {
        let mut t = Tenant::new(TenantId::random(), "Ops", Tier::Enterprise, 0).unwrap();
        t.operator = true;
        let refused = t.apply(
            TenantPatch {
                disabled: Some(true),
                ..Default::default()
            },
            1,
        );
        assert!(matches!(refused, Err(DomainError::Conflict(m)) if m.contains("operator")));
    }

    #[test]
    fn bad_names_and_tiers_name_the_field() {
        assert_eq!(
            validate_tenant_name("  ").unwrap_err().field(),
            Some("display_name")
        );
        assert_eq!(
            validate_tenant_name("a\u{7}b").unwrap_err().field(),
            Some("display_name")
        );
        assert_eq!(Tier::parse_field("GOLD").unwrap_err().field(), Some("tier"));
    }
}

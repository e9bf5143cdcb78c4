use crate::id::TenantId;

/// A tenant's commercial tier, carried in tokens as `tier`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Free,
    Team,
    Enterprise,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Free => "FREE",
            Tier::Team => "TEAM",
            Tier::Enterprise => "ENTERPRISE",
        }
    }
    pub fn parse(s: &str) -> Option<Tier> {
        [Tier::Free, Tier::Team, Tier::Enterprise]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

/// An isolation boundary: no data, token or error crosses tenants except through a grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub display_name: String,
    pub tier: Tier,
    pub created_at: super::UnixMillis,
}

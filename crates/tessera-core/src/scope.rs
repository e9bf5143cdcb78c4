//! Scopes: the built-in catalogue and sets of them, as a bit set so that subset checks on the
//! token path cost one instruction.

use std::fmt;

/// One scope of the built-in catalogue (SPEC §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// `assets:read`: read assets.
    AssetsRead,
    /// `assets:write`: create, change and delete assets.
    AssetsWrite,
    /// `events:read`: read assets' events.
    EventsRead,
    /// `events:write`: record events.
    EventsWrite,
    /// `private_tokens`: the integration's own key/value store.
    PrivateTokens,
    /// `admin`: the tenant's administration API.
    Admin,
    /// `impersonation`: act for a user (JWT bearer grant).
    Impersonation,
    /// Tenant management (SPEC §4.1); only integrations of the operator tenant may hold it.
    Platform,
    /// `security_events`: manage the tenant's Shared Signals streams and receive their events
    /// (SPEC §16): what a resource server's own integration holds.
    SecurityEvents,
}

impl Scope {
    /// Every scope, in the order they are printed.
    pub const ALL: [Scope; 9] = [
        Scope::AssetsRead,
        Scope::AssetsWrite,
        Scope::EventsRead,
        Scope::EventsWrite,
        Scope::PrivateTokens,
        Scope::Admin,
        Scope::Impersonation,
        Scope::Platform,
        Scope::SecurityEvents,
    ];

    /// The scope as it appears in `scope`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::AssetsRead => "assets:read",
            Scope::AssetsWrite => "assets:write",
            Scope::EventsRead => "events:read",
            Scope::EventsWrite => "events:write",
            Scope::PrivateTokens => "private_tokens",
            Scope::Admin => "admin",
            Scope::Impersonation => "impersonation",
            Scope::Platform => "platform",
            Scope::SecurityEvents => "security_events",
        }
    }

    /// The scope named `s`, if it is one.
    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == s)
    }

    /// What the scope allows, in words, for the consent screen and the docs.
    pub fn description(self) -> &'static str {
        match self {
            Scope::AssetsRead => "read assets",
            Scope::AssetsWrite => "create, change and delete assets",
            Scope::EventsRead => "read events of assets",
            Scope::EventsWrite => "record events on assets",
            Scope::PrivateTokens => "use its private key/value store",
            Scope::Admin => "manage the tenant and read all of its data",
            Scope::Impersonation => "act on behalf of users",
            Scope::Platform => "create, disable and delete tenants",
            Scope::SecurityEvents => "hear when the tenant's tokens are revoked",
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A set of scopes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ScopeSet(u16);

/// A scope string named a scope that is not in the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope `{0}`")]
pub struct UnknownScope(pub String);

impl ScopeSet {
    /// No scope.
    pub const EMPTY: ScopeSet = ScopeSet(0);

    /// What a new integration may request unless told otherwise: every scope but `admin`,
    /// `impersonation` and `platform` (SPEC §1).
    pub fn default_for_integration() -> ScopeSet {
        ScopeSet::from_iter([
            Scope::AssetsRead,
            Scope::AssetsWrite,
            Scope::EventsRead,
            Scope::EventsWrite,
            Scope::PrivateTokens,
        ])
    }

    /// Parses a space-separated scope string (RFC 6749 §3.3). Repeated scopes are harmless.
    pub fn parse(s: &str) -> Result<ScopeSet, UnknownScope> {
        s.split(' ')
            .filter(|part| !part.is_empty())
            .map(|part| Scope::parse(part).ok_or_else(|| UnknownScope(part.to_owned())))
            .collect()
    }

    /// Whether `scope` is in the set.
    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }
    /// Whether every scope of this set is in `other`.
    pub fn is_subset_of(self, other: ScopeSet) -> bool {
        self.0 & !other.0 == 0
    }
    /// Whether the set has no scope.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// The scopes of this set that are not in `other`.
    pub fn difference(self, other: ScopeSet) -> ScopeSet {
        ScopeSet(self.0 & !other.0)
    }
    /// The scopes in either set.
    pub fn union(self, other: ScopeSet) -> ScopeSet {
        ScopeSet(self.0 | other.0)
    }
    /// The scopes in both sets.
    pub fn intersection(self, other: ScopeSet) -> ScopeSet {
        ScopeSet(self.0 & other.0)
    }
    /// Without one scope.
    pub fn without(self, scope: Scope) -> ScopeSet {
        ScopeSet(self.0 & !scope.bit())
    }
    /// The scopes of the set, in a fixed order.
    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }
    /// The scopes' names, in a fixed order.
    pub fn to_vec(self) -> Vec<String> {
        self.iter().map(|s| s.as_str().to_owned()).collect()
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        ScopeSet(iter.into_iter().fold(0, |acc, s| acc | s.bit()))
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for scope in self.iter() {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            f.write_str(scope.as_str())?;
        }
        Ok(())
    }
}

impl fmt::Debug for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ScopeSet({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_in_catalogue_order() {
        let set = ScopeSet::parse("events:read  assets:read assets:read").unwrap();
        assert_eq!(set.to_string(), "assets:read events:read");
    }

    #[test]
    fn unknown_scope_is_named() {
        assert_eq!(
            ScopeSet::parse("assets:read assets:admin"),
            Err(UnknownScope("assets:admin".into()))
        );
    }

    #[test]
    fn subset_and_difference() {
        let all = ScopeSet::default_for_integration();
        let read = ScopeSet::parse("assets:read").unwrap();
        assert!(read.is_subset_of(all));
        assert!(!ScopeSet::parse("admin").unwrap().is_subset_of(all));
        assert_eq!(
            ScopeSet::parse("admin assets:read")
                .unwrap()
                .difference(all)
                .to_string(),
            "admin"
        );
    }
}

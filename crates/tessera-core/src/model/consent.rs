//! Consent for impersonation (SPEC §3.3): a user — or a tenant admin for all its users — lets an
//! integration act for them with given scopes. The JWT bearer grant needs one.

use crate::id::{ClientId, ConsentId, TenantId, UserId};
use crate::model::UnixMillis;
use crate::scope::{Scope, ScopeSet};

/// Whom a consent covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentUser {
    /// Every user of the tenant (given by a tenant admin).
    All,
    /// One user.
    /// One user, by id and email.
    User {
        /// The user's id.
        id: UserId,
        /// The user's email, as the consent screen showed it.
        email: String,
    },
}

/// A user's (or an admin's for all users') consent for an integration to act for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    /// The consent's id.
    pub id: ConsentId,
    /// The tenant whose users it covers (the data owner's).
    pub tenant_id: TenantId,
    /// The integration allowed to act; it may belong to another tenant.
    pub client_id: ClientId,
    /// Whom it covers.
    pub user: ConsentUser,
    /// The most a token issued under it may carry.
    pub scopes: ScopeSet,
    /// Who gave it: `client:<id>` or `user:<id>`.
    pub granted_by: String,
    /// When it was given.
    pub created_at: UnixMillis,
    /// The resource servers it covers besides Tessera's own API, by canonical identifier
    /// (SPEC §15): a token for one of them needs a consent that names it.
    pub resources: Vec<String>,
}

impl Consent {
    /// Whether it covers `user`.
    pub fn covers(&self, user: UserId) -> bool {
        match &self.user {
            ConsentUser::All => true,
            ConsentUser::User { id, .. } => *id == user,
        }
    }

    /// Whether it lets an integration of another tenant act here (SPEC §3.3: only where the
    /// tenant granted `impersonation`).
    pub fn allows_other_tenants(&self) -> bool {
        self.scopes.contains(Scope::Impersonation)
    }
}

/// The scopes the consents covering `user` allow together; `None` when none covers the user.
/// `foreign` is true when the integration belongs to another tenant: then only consents that
/// grant `impersonation` count.
pub fn consented_scopes(consents: &[Consent], user: UserId, foreign: bool) -> Option<ScopeSet> {
    consents
        .iter()
        .filter(|c| c.covers(user) && (!foreign || c.allows_other_tenants()))
        .map(|c| c.scopes)
        .reduce(|a, b| a.union(b))
}

/// Whether the consents covering `user` still allow every scope of a token issued under them.
pub fn consents_allow(consents: &[Consent], user: UserId, foreign: bool, scope: ScopeSet) -> bool {
    consented_scopes(consents, user, foreign).is_some_and(|c| scope.difference(c).is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consent(user: ConsentUser, scopes: &str) -> Consent {
        Consent {
            id: ConsentId::random(),
            tenant_id: TenantId::random(),
            client_id: ClientId::random(),
            user,
            scopes: ScopeSet::parse(scopes).unwrap(),
            granted_by: "client:x".into(),
            created_at: 0,
            resources: Vec::new(),
        }
    }

    /// Alice's own consent to `assets:read`, and one for all users to `events:read`.
    fn alice_reads_assets_all_read_events(alice: UserId) -> Vec<Consent> {
        vec![
            consent(
                ConsentUser::User {
                    id: alice,
                    email: "a@x.test".into(),
                },
                "assets:read",
            ),
            consent(ConsentUser::All, "events:read"),
        ]
    }

    #[test]
    fn consents_for_one_user_and_for_all_add_up() {
        let alice = UserId::random();
        let bob = UserId::random();
        let consents = alice_reads_assets_all_read_events(alice);
        assert_eq!(
            consented_scopes(&consents, alice, false),
            Some(ScopeSet::parse("assets:read events:read").unwrap())
        );
        assert_eq!(
            consented_scopes(&consents, bob, false),
            Some(ScopeSet::parse("events:read").unwrap())
        );
        assert_eq!(consented_scopes(&[], bob, false), None);
    }

    #[test]
    fn a_token_stays_allowed_only_within_what_is_still_consented() {
        let alice = UserId::random();
        let both = ScopeSet::parse("assets:read events:read").unwrap();
        let mut consents = alice_reads_assets_all_read_events(alice);
        assert!(consents_allow(&consents, alice, false, both));
        // The consent for all users withdrawn: the token needed it.
        consents.pop();
        assert!(!consents_allow(&consents, alice, false, both));
        assert!(consents_allow(
            &consents,
            alice,
            false,
            ScopeSet::parse("assets:read").unwrap()
        ));
        assert!(!consents_allow(
            &[],
            alice,
            false,
            ScopeSet::parse("assets:read").unwrap()
        ));
    }

    #[test]
    fn another_tenants_integration_needs_impersonation_granted() {
        let alice = UserId::random();
        let plain = vec![consent(ConsentUser::All, "assets:read")];
        assert_eq!(consented_scopes(&plain, alice, true), None);
        let granted = vec![consent(ConsentUser::All, "assets:read impersonation")];
        assert!(consented_scopes(&granted, alice, true).is_some());
    }
}

//! Every tenant's consents (SPEC §3.3) in memory: the JWT bearer grant reads them without a
//! database call, and a token that acts for a user under their consent (`tessera_consent`) is
//! checked against what the user still consents to on every use. Grant and check read the same
//! snapshot, so an instance never issues a token it would then refuse. Loaded whole at start and per tenant on `Change::People`, so a
//! withdrawal on any instance ends the tokens issued under it within the feed's second. Writes
//! (rare) copy the map; reads are one atomic load.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use tessera_core::id::{ClientId, TenantId, UserId};
use tessera_core::model::{consented_scopes, consents_allow, Consent};
use tessera_core::scope::ScopeSet;

type ByPair = HashMap<(TenantId, ClientId), Arc<Vec<Consent>>>;

#[derive(Default)]
pub struct LiveConsents(ArcSwap<ByPair>);

impl LiveConsents {
    /// What `tenant`'s consents to `client` allow together for `user` (`None`: none covers
    /// them); `foreign` when the integration belongs to another tenant.
    pub fn scopes(
        &self,
        tenant: TenantId,
        client: ClientId,
        user: UserId,
        foreign: bool,
    ) -> Option<ScopeSet> {
        consented_scopes(self.0.load().get(&(tenant, client))?, user, foreign)
    }

    /// Whether `tenant`'s consents to `client` still allow `scope` for `user`.
    pub fn allow(
        &self,
        tenant: TenantId,
        client: ClientId,
        user: UserId,
        foreign: bool,
        scope: ScopeSet,
    ) -> bool {
        self.0
            .load()
            .get(&(tenant, client))
            .is_some_and(|consents| consents_allow(consents, user, foreign, scope))
    }

    /// The resource servers (canonical identifiers) `tenant`'s consents to `client` name for
    /// `user`, besides Tessera's own API.
    pub fn resources(&self, tenant: TenantId, client: ClientId, user: UserId) -> Vec<String> {
        let mut found: Vec<String> = self
            .0
            .load()
            .get(&(tenant, client))
            .map(|consents| {
                consents
                    .iter()
                    .filter(|c| c.covers(user))
                    .flat_map(|c| c.resources.iter().cloned())
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        found.dedup();
        found
    }

    pub fn replace_all(&self, all: Vec<Consent>) {
        let mut by_pair = ByPair::new();
        add(&mut by_pair, all);
        self.0.store(Arc::new(by_pair));
    }

    /// Replaces one tenant's consents with `current`.
    pub fn replace_tenant(&self, tenant: TenantId, current: Vec<Consent>) {
        self.0.rcu(|old| {
            let mut by_pair = ByPair::clone(old);
            by_pair.retain(|(t, _), _| *t != tenant);
            add(&mut by_pair, current.clone());
            by_pair
        });
    }
}

fn add(by_pair: &mut ByPair, consents: Vec<Consent>) {
    let mut grouped: HashMap<(TenantId, ClientId), Vec<Consent>> = HashMap::new();
    for c in consents {
        grouped
            .entry((c.tenant_id, c.client_id))
            .or_default()
            .push(c);
    }
    by_pair.extend(grouped.into_iter().map(|(k, v)| (k, Arc::new(v))));
}

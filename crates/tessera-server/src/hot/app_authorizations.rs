//! Every tenant's app authorizations (SPEC §8) in memory: TMS issues tokens without a database
//! call, and a token issued under an authorization is checked against the live ones on every
//! use. The whole set is loaded at start and per tenant on `Change::AppAuthorizations`, so a
//! revocation reaches every instance within the feed's second. Writes (rare) copy the map;
//! reads are one atomic load.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arc_swap::ArcSwap;
use tessera_core::id::TenantId;
use tessera_core::model::AppAuthorization;

#[derive(Default)]
struct Snapshot {
    /// By the authorizing tenant, then the application's name.
    by_tenant: HashMap<TenantId, HashMap<String, Arc<AppAuthorization>>>,
    /// The ids of every live authorization, as tokens carry them.
    live: HashSet<String>,
}

#[derive(Default)]
pub struct AppAuthorizations(ArcSwap<Snapshot>);

impl AppAuthorizations {
    /// `tenant`'s authorization of `app_name`, if it gave one.
    pub fn find(&self, tenant: TenantId, app_name: &str) -> Option<Arc<AppAuthorization>> {
        self.0.load().by_tenant.get(&tenant)?.get(app_name).cloned()
    }

    /// Whether the authorization a token names still stands.
    pub fn is_live(&self, id: &str) -> bool {
        self.0.load().live.contains(id)
    }

    pub fn replace_all(&self, all: Vec<AppAuthorization>) {
        let mut by_tenant: HashMap<TenantId, HashMap<String, Arc<AppAuthorization>>> =
            HashMap::new();
        for a in all {
            by_tenant
                .entry(a.tenant_id)
                .or_default()
                .insert(a.app_name.clone(), Arc::new(a));
        }
        self.0.store(Arc::new(Self::indexed(by_tenant)));
    }

    /// Replaces one tenant's authorizations with `current`.
    pub fn replace_tenant(&self, tenant: TenantId, current: Vec<AppAuthorization>) {
        self.0.rcu(|old| {
            let mut by_tenant = old.by_tenant.clone();
            let entries: HashMap<String, Arc<AppAuthorization>> = current
                .iter()
                .map(|a| (a.app_name.clone(), Arc::new(a.clone())))
                .collect();
            if entries.is_empty() {
                by_tenant.remove(&tenant);
            } else {
                by_tenant.insert(tenant, entries);
            }
            Self::indexed(by_tenant)
        });
    }

    fn indexed(by_tenant: HashMap<TenantId, HashMap<String, Arc<AppAuthorization>>>) -> Snapshot {
        let live = by_tenant
            .values()
            .flat_map(|apps| apps.values().map(|a| a.id.to_string()))
            .collect();
        Snapshot { by_tenant, live }
    }
}

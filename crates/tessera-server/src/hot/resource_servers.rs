//! Every tenant's resource servers (SPEC §15) in memory, by canonical identifier: the
//! authorization endpoint resolves `resource` (RFC 8707) without a database call. Loaded whole
//! at start and per tenant on `Change::ResourceServers`; reads are one atomic load.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use tessera_core::id::TenantId;
use tessera_core::model::ResourceServer;

type ByTenant = HashMap<TenantId, Arc<HashMap<String, ResourceServer>>>;

#[derive(Default)]
pub struct ResourceServers(ArcSwap<ByTenant>);

impl ResourceServers {
    /// `tenant`'s resource server whose canonical identifier is `canonical`.
    pub fn find(&self, tenant: TenantId, canonical: &str) -> Option<ResourceServer> {
        self.0.load().get(&tenant)?.get(canonical).cloned()
    }

    /// How many resource servers `tenant` has.
    pub fn count(&self, tenant: TenantId) -> usize {
        self.0.load().get(&tenant).map_or(0, |t| t.len())
    }

    pub fn replace_all(&self, all: Vec<ResourceServer>) {
        let mut by_tenant: HashMap<TenantId, HashMap<String, ResourceServer>> = HashMap::new();
        for server in all {
            by_tenant
                .entry(server.tenant_id)
                .or_default()
                .insert(server.canonical(), server);
        }
        self.0.store(Arc::new(
            by_tenant
                .into_iter()
                .map(|(t, s)| (t, Arc::new(s)))
                .collect(),
        ));
    }

    /// Replaces one tenant's resource servers with `current`.
    pub fn replace_tenant(&self, tenant: TenantId, current: Vec<ResourceServer>) {
        let fresh: Arc<HashMap<String, ResourceServer>> =
            Arc::new(current.into_iter().map(|s| (s.canonical(), s)).collect());
        self.0.rcu(|old| {
            let mut by_tenant = ByTenant::clone(old);
            if fresh.is_empty() {
                by_tenant.remove(&tenant);
            } else {
                by_tenant.insert(tenant, fresh.clone());
            }
            by_tenant
        });
    }
}

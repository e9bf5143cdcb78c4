//! Access policies in memory, compiled per actor on first use. A tenant's entry is loaded on its
//! first resource request and dropped when the change feed says its policies changed (on every
//! instance within a second), so no resource request reads policies from the database twice.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;
use tessera_core::id::TenantId;
use tessera_core::policy::{AccessPolicy, ActorAccess, Principal};

/// The most compiled actors kept per tenant; past it the memo starts over.
const MAX_ACTORS_PER_TENANT: usize = 10_000;

/// One tenant's policies and what they compile to for each actor seen so far.
pub struct TenantPolicies {
    policies: Vec<AccessPolicy>,
    compiled: RwLock<HashMap<Principal, Arc<ActorAccess>>>,
}

impl TenantPolicies {
    /// What `who` may do in this tenant.
    pub fn access(&self, who: &Principal) -> Arc<ActorAccess> {
        if let Some(found) = self.compiled.read().get(who) {
            return found.clone();
        }
        let access = Arc::new(ActorAccess::compile(&self.policies, who));
        let mut compiled = self.compiled.write();
        if compiled.len() >= MAX_ACTORS_PER_TENANT {
            compiled.clear();
        }
        compiled.insert(who.clone(), access.clone());
        access
    }
}

#[derive(Default)]
pub struct PolicyCache {
    tenants: RwLock<HashMap<TenantId, Arc<TenantPolicies>>>,
    /// Bumped by every invalidation: a load that started before one must not be kept.
    generation: AtomicU64,
}

impl PolicyCache {
    pub fn get(&self, tenant: &TenantId) -> Option<Arc<TenantPolicies>> {
        self.tenants.read().get(tenant).cloned()
    }

    /// The generation to pass to [`PolicyCache::insert`] after loading from storage.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Keeps what was loaded unless an invalidation happened since `generation` was read.
    pub fn insert(
        &self,
        tenant: TenantId,
        policies: Vec<AccessPolicy>,
        generation: u64,
    ) -> Arc<TenantPolicies> {
        let entry = Arc::new(TenantPolicies {
            policies,
            compiled: RwLock::default(),
        });
        let mut tenants = self.tenants.write();
        if self.generation.load(Ordering::Acquire) == generation {
            tenants.insert(tenant, entry.clone());
        }
        entry
    }

    pub fn invalidate(&self, tenant: &TenantId) {
        let mut tenants = self.tenants.write();
        self.generation.fetch_add(1, Ordering::AcqRel);
        tenants.remove(tenant);
    }

    pub fn clear(&self) {
        let mut tenants = self.tenants.write();
        self.generation.fetch_add(1, Ordering::AcqRel);
        tenants.clear();
    }
}

//! The user a JWT bearer assertion names, kept in memory (the consents come from
//! [`super::LiveConsents`]), so the grant's only database call is the one that spends the
//! `jti`. Any change to a tenant's users or consents (`Change::People`, on every instance
//! through the feed) drops everything: such changes are rare next to token requests, and a
//! blanket drop cannot miss an entry. Misses (no such user) are not remembered.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tessera_core::id::ClientId;
use tessera_core::model::User;

/// The user an integration's assertion names.
#[derive(Debug)]
pub struct DelegationFacts {
    pub user: User,
}

struct Entry {
    generation: u64,
    facts: Arc<DelegationFacts>,
}

pub struct DelegationCache {
    /// By integration and the assertion's `sub` as sent.
    entries: quick_cache::sync::Cache<(ClientId, Box<str>), Arc<Entry>>,
    generation: AtomicU64,
}

impl DelegationCache {
    pub fn new(capacity: usize) -> Self {
        DelegationCache {
            entries: quick_cache::sync::Cache::new(capacity),
            generation: AtomicU64::new(0),
        }
    }

    pub fn get(&self, client: ClientId, sub: &str) -> Option<Arc<DelegationFacts>> {
        let entry = self.entries.get(&(client, sub.into()))?;
        (entry.generation == self.generation()).then(|| entry.facts.clone())
    }

    /// The generation to pass to [`DelegationCache::insert`]; read it before loading.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Keeps what was loaded at `generation`; an entry loaded before an invalidation is never
    /// served, because `get` compares generations.
    pub fn insert(
        &self,
        client: ClientId,
        sub: &str,
        facts: Arc<DelegationFacts>,
        generation: u64,
    ) {
        self.entries
            .insert((client, sub.into()), Arc::new(Entry { generation, facts }));
    }

    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

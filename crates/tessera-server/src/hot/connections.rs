//! Active connections (SPEC §6) in memory: client credentials with `tenant_id` find the
//! connection without a database call, and every token issued under one is checked against
//! the active set on each use. Loaded whole at start; one connection is reloaded on
//! `Change::Connection(id)`, so a revocation on any instance ends its tokens within a second.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use tessera_core::id::{ClientId, ConnectionId, TenantId};
use tessera_core::model::{Connection, ConnectionStatus};

#[derive(Default, Clone)]
struct Snapshot {
    by_id: HashMap<ConnectionId, Arc<Connection>>,
    /// (integration, owner tenant) → the active connection.
    by_pair: HashMap<(ClientId, TenantId), Arc<Connection>>,
}

#[derive(Default)]
pub struct ActiveConnections(ArcSwap<Snapshot>);

impl ActiveConnections {
    /// The active connection from `owner` to `client`.
    pub fn between(&self, client: ClientId, owner: TenantId) -> Option<Arc<Connection>> {
        self.0.load().by_pair.get(&(client, owner)).cloned()
    }

    pub fn get(&self, id: ConnectionId) -> Option<Arc<Connection>> {
        self.0.load().by_id.get(&id).cloned()
    }

    /// The active connections `tenant` is a side of.
    pub fn involving(&self, tenant: TenantId) -> Vec<ConnectionId> {
        self.0
            .load()
            .by_id
            .values()
            .filter(|c| c.involves(tenant))
            .map(|c| c.id)
            .collect()
    }

    /// Whether a token's `tessera_grant` names an active connection.
    pub fn is_active(&self, grant: &str) -> bool {
        grant
            .parse::<ConnectionId>()
            .is_ok_and(|id| self.0.load().by_id.contains_key(&id))
    }

    pub fn replace_all(&self, active: Vec<Connection>) {
        let mut snapshot = Snapshot::default();
        for c in active {
            insert(&mut snapshot, c);
        }
        self.0.store(Arc::new(snapshot));
    }

    /// Applies what the store now says of connection `id` (`None`: gone).
    pub fn update(&self, id: ConnectionId, now: Option<Connection>) {
        self.0.rcu(|old| {
            let mut snapshot = Snapshot::clone(old);
            if let Some(previous) = snapshot.by_id.remove(&id) {
                snapshot
                    .by_pair
                    .remove(&(previous.client_id, previous.owner_tenant_id));
            }
            if let Some(c) = now.clone().filter(|c| c.status == ConnectionStatus::Active) {
                insert(&mut snapshot, c);
            }
            snapshot
        });
    }
}

fn insert(snapshot: &mut Snapshot, c: Connection) {
    let c = Arc::new(c);
    snapshot
        .by_pair
        .insert((c.client_id, c.owner_tenant_id), c.clone());
    snapshot.by_id.insert(c.id, c);
}

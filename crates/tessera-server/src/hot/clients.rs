use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;
use tessera_core::client_auth::{ClientDirectory, RegisteredClient};
use tessera_core::id::{ClientId, TenantId};
use tessera_core::model::Tenant;
use tessera_core::ports::IntegrationWithSecrets;

/// Every integration and tenant, as the token path needs them.
#[derive(Default)]
pub struct ClientSnapshot {
    clients: RwLock<HashMap<ClientId, Arc<RegisteredClient>>>,
    tenants: RwLock<HashMap<TenantId, Tenant>>,
}

impl ClientSnapshot {
    /// Replaces everything (at start, and in the periodic full resync).
    pub fn replace_all(&self, tenants: Vec<Tenant>, clients: Vec<IntegrationWithSecrets>) {
        let tenants: HashMap<TenantId, Tenant> = tenants.into_iter().map(|t| (t.id, t)).collect();
        let clients = clients
            .into_iter()
            .filter_map(|c| Self::registered(&tenants, c))
            .map(|c| (c.integration.client_id, Arc::new(c)))
            .collect();
        *self.tenants.write() = tenants;
        *self.clients.write() = clients;
    }

    fn registered(
        tenants: &HashMap<TenantId, Tenant>,
        c: IntegrationWithSecrets,
    ) -> Option<RegisteredClient> {
        let tier = tenants.get(&c.integration.tenant_id)?.tier;
        Some(RegisteredClient {
            integration: c.integration,
            tier,
            secrets: c.secrets,
            keys: c.keys,
        })
    }

    /// Puts one client in, or takes it out when it no longer exists.
    pub fn upsert_client(&self, id: ClientId, found: Option<IntegrationWithSecrets>) {
        let registered = found.and_then(|c| Self::registered(&self.tenants.read(), c));
        let mut clients = self.clients.write();
        match registered {
            Some(c) => {
                clients.insert(id, Arc::new(c));
            }
            None => {
                clients.remove(&id);
            }
        }
    }

    /// Updates a tenant and the tier its clients carry.
    pub fn upsert_tenant(&self, tenant: Tenant) {
        let mut clients = self.clients.write();
        for client in clients.values_mut() {
            if client.integration.tenant_id == tenant.id && client.tier != tenant.tier {
                let mut changed = (**client).clone();
                changed.tier = tenant.tier;
                *client = Arc::new(changed);
            }
        }
        self.tenants.write().insert(tenant.id, tenant);
    }

    pub fn tenant(&self, id: &TenantId) -> Option<Tenant> {
        self.tenants.read().get(id).cloned()
    }

    pub fn contains(&self, id: &ClientId) -> bool {
        self.clients.read().contains_key(id)
    }
}

impl ClientDirectory for ClientSnapshot {
    fn client(&self, id: &ClientId) -> Option<Arc<RegisteredClient>> {
        self.clients.read().get(id).cloned()
    }
}

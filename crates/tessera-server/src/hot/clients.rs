use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use parking_lot::RwLock;
use tessera_core::client_auth::{ClientDirectory, RegisteredClient};
use tessera_core::id::{ClientId, TenantId};
use tessera_core::model::{Integration, Tenant};
use tessera_core::ports::IntegrationWithSecrets;

/// Every integration and tenant, as the token path needs them. Changes are applied one
/// integration or one tenant at a time: a tenant's integrations are found through `by_tenant`,
/// so a change costs what that tenant holds, not what the deployment holds.
#[derive(Default)]
pub struct ClientSnapshot {
    tables: RwLock<Tables>,
}

#[derive(Default)]
struct Tables {
    clients: HashMap<ClientId, Arc<RegisteredClient>>,
    tenants: HashMap<TenantId, Tenant>,
    by_tenant: HashMap<TenantId, HashSet<ClientId>>,
    /// The versions of each multi-tenant application, by application name: the cockpits and
    /// the catalogue read these, not every integration.
    apps: BTreeMap<String, BTreeSet<ClientId>>,
}

/// Why a token no longer stands as far as its integration and tenants go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantRefusal {
    /// A tenant it depends on is disabled, or was after the token was issued.
    Disabled,
    /// The tenant does not exist (any more).
    Gone,
    /// The integration it was issued to does not exist (any more).
    NoIntegration,
}

impl Tables {
    fn registered(&self, c: IntegrationWithSecrets) -> Option<RegisteredClient> {
        let tier = self.tenants.get(&c.integration.tenant_id)?.tier;
        Some(RegisteredClient {
            integration: c.integration,
            tier,
            secrets: c.secrets,
            keys: c.keys,
        })
    }

    fn insert_client(&mut self, c: RegisteredClient) {
        let (id, tenant) = (c.integration.client_id, c.integration.tenant_id);
        let app = c.integration.app.as_ref().map(|a| a.app_name.clone());
        if let Some(old) = self.clients.insert(id, Arc::new(c)) {
            if old.integration.tenant_id != tenant {
                self.unindex(old.integration.tenant_id, id);
            }
            self.unindex_app(&old, id);
        }
        self.by_tenant.entry(tenant).or_default().insert(id);
        if let Some(name) = app {
            self.apps.entry(name).or_default().insert(id);
        }
    }

    fn remove_client(&mut self, id: ClientId) {
        if let Some(old) = self.clients.remove(&id) {
            self.unindex(old.integration.tenant_id, id);
            self.unindex_app(&old, id);
        }
    }

    fn unindex_app(&mut self, old: &RegisteredClient, id: ClientId) {
        let Some(app) = &old.integration.app else {
            return;
        };
        if let Some(ids) = self.apps.get_mut(&app.app_name) {
            ids.remove(&id);
            if ids.is_empty() {
                self.apps.remove(&app.app_name);
            }
        }
    }

    fn unindex(&mut self, tenant: TenantId, id: ClientId) {
        if let Some(ids) = self.by_tenant.get_mut(&tenant) {
            ids.remove(&id);
            if ids.is_empty() {
                self.by_tenant.remove(&tenant);
            }
        }
    }

    fn standing(&self, tenant: &TenantId, iat: i64) -> Result<(), TenantRefusal> {
        match self.tenants.get(tenant) {
            Some(t) if t.honours(iat) => Ok(()),
            Some(_) => Err(TenantRefusal::Disabled),
            None => Err(TenantRefusal::Gone),
        }
    }
}

impl ClientSnapshot {
    /// Replaces everything (at start, and in the periodic full resync).
    pub fn replace_all(&self, tenants: Vec<Tenant>, clients: Vec<IntegrationWithSecrets>) {
        let mut fresh = Tables {
            tenants: tenants.into_iter().map(|t| (t.id, t)).collect(),
            ..Tables::default()
        };
        for c in clients {
            if let Some(registered) = fresh.registered(c) {
                fresh.insert_client(registered);
            }
        }
        *self.tables.write() = fresh;
    }

    /// Puts one client in, or takes it out when it no longer exists.
    pub fn upsert_client(&self, id: ClientId, found: Option<IntegrationWithSecrets>) {
        let mut tables = self.tables.write();
        match found.and_then(|c| tables.registered(c)) {
            Some(c) => tables.insert_client(c),
            None => tables.remove_client(id),
        }
    }

    /// Updates a tenant and the tier its clients carry.
    pub fn upsert_tenant(&self, tenant: Tenant) {
        let mut tables = self.tables.write();
        let ids: Vec<ClientId> = tables
            .by_tenant
            .get(&tenant.id)
            .map(|ids| ids.iter().copied().collect())
            .unwrap_or_default();
        for id in ids {
            if let Some(client) = tables.clients.get_mut(&id) {
                if client.tier != tenant.tier {
                    let mut changed = (**client).clone();
                    changed.tier = tenant.tier;
                    *client = Arc::new(changed);
                }
            }
        }
        tables.tenants.insert(tenant.id, tenant);
    }

    /// Takes out a deleted tenant and its integrations.
    pub fn remove_tenant(&self, id: TenantId) {
        let mut tables = self.tables.write();
        for client in tables.by_tenant.remove(&id).unwrap_or_default() {
            if let Some(old) = tables.clients.remove(&client) {
                tables.unindex_app(&old, client);
            }
        }
        tables.tenants.remove(&id);
    }

    pub fn tenant(&self, id: &TenantId) -> Option<Tenant> {
        self.tables.read().tenants.get(id).cloned()
    }

    /// The operator tenant (SPEC §4.1).
    pub fn operator_tenant(&self) -> Option<TenantId> {
        self.tables
            .read()
            .tenants
            .values()
            .find(|t| t.operator)
            .map(|t| t.id)
    }

    /// Whether some tenant, enabled, satisfies `test`.
    pub fn any_tenant(&self, test: impl Fn(&Tenant) -> bool) -> bool {
        self.tables
            .read()
            .tenants
            .values()
            .any(|t| !t.disabled && test(t))
    }

    /// The display name of the tenant's integration `id`, for pages that show ids in words.
    pub fn integration_name(&self, tenant: &TenantId, id: &ClientId) -> Option<String> {
        let tables = self.tables.read();
        let client = tables.clients.get(id)?;
        (client.integration.tenant_id == *tenant).then(|| client.integration.display_name.clone())
    }

    /// The display name of any integration, for pages that show ids in words (a consent may
    /// name another tenant's).
    pub fn client_name(&self, id: &ClientId) -> Option<String> {
        let tables = self.tables.read();
        Some(tables.clients.get(id)?.integration.display_name.clone())
    }

    /// The tenant's integrations whose display name is `name`, for a form that names one by
    /// name. Costs what the tenant holds.
    pub fn integrations_named(&self, tenant: &TenantId, name: &str) -> Vec<ClientId> {
        let tables = self.tables.read();
        let mut found: Vec<ClientId> = tables
            .by_tenant
            .get(tenant)
            .into_iter()
            .flatten()
            .filter(|id| {
                tables
                    .clients
                    .get(id)
                    .is_some_and(|c| c.integration.display_name == name)
            })
            .copied()
            .collect();
        found.sort();
        found
    }

    /// The multi-tenant application versions that `keep` keeps, in application and version
    /// order, for the console's cockpits and catalogue. Costs what the deployment's
    /// applications hold (the `apps` index), not what all its integrations do.
    pub fn app_versions(&self, keep: impl Fn(&Integration) -> bool) -> Vec<Arc<RegisteredClient>> {
        let tables = self.tables.read();
        let mut found: Vec<Arc<RegisteredClient>> = tables
            .apps
            .values()
            .flatten()
            .filter_map(|id| tables.clients.get(id))
            .filter(|c| keep(&c.integration))
            .cloned()
            .collect();
        let key = |c: &Arc<RegisteredClient>| {
            c.integration
                .app
                .as_ref()
                .map(|a| (a.app_name.clone(), a.app_version.clone()))
        };
        found.sort_by_key(key);
        found
    }

    /// A tenant that exists and is not disabled.
    pub fn enabled_tenant(&self, id: &TenantId) -> Option<Tenant> {
        self.tenant(id).filter(|t| !t.disabled)
    }

    /// Whether a token issued at `iat` to `client` for the data of `tenant` still stands as far
    /// as the snapshot knows, under one lock: the data tenant and the integration's own tenant
    /// honour it, and the integration exists.
    pub fn token_standing(
        &self,
        client: &ClientId,
        tenant: &TenantId,
        iat: i64,
    ) -> Result<(), TenantRefusal> {
        let tables = self.tables.read();
        tables.standing(tenant, iat)?;
        let registered = tables
            .clients
            .get(client)
            .ok_or(TenantRefusal::NoIntegration)?;
        if registered.integration.tenant_id != *tenant {
            tables.standing(&registered.integration.tenant_id, iat)?;
        }
        Ok(())
    }
}

impl ClientDirectory for ClientSnapshot {
    /// An integration of an enabled tenant: a disabled tenant's integrations authenticate
    /// nowhere.
    fn client(&self, id: &ClientId) -> Option<Arc<RegisteredClient>> {
        let tables = self.tables.read();
        let client = tables.clients.get(id)?;
        match tables.tenants.get(&client.integration.tenant_id) {
            Some(t) if !t.disabled => Some(client.clone()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use tessera_core::model::{AppVersion, Stage, Tier};
    use tessera_core::scope::ScopeSet;

    use super::*;

    fn tenant() -> Tenant {
        Tenant {
            id: TenantId::random(),
            display_name: "t".into(),
            tier: Tier::Team,
            created_at: 0,
            operator: false,
            disabled: false,
            tokens_not_after: 0,
            client_registration: Default::default(),
        }
    }

    fn integration(tenant: TenantId, app: Option<(&str, &str)>) -> IntegrationWithSecrets {
        IntegrationWithSecrets {
            integration: Integration {
                client_id: ClientId::random(),
                tenant_id: tenant,
                display_name: "i".into(),
                scopes: ScopeSet::default(),
                custom_claims: BTreeMap::new(),
                token_ttl_seconds: 600,
                refresh: Default::default(),
                jwks_uri: None,
                redirect_uris: Vec::new(),
                public_client: false,
                dpop_bound_access_tokens: false,
                app: app.map(|(name, version)| AppVersion {
                    app_name: name.into(),
                    app_version: version.into(),
                    stage: Stage::Development,
                    tms_enabled: false,
                }),
                profile: Default::default(),
                origin: Default::default(),
                created_at: 0,
                updated_at: 0,
            },
            secrets: vec![],
            keys: vec![],
        }
    }

    fn versions(snapshot: &ClientSnapshot) -> Vec<String> {
        snapshot
            .app_versions(|_| true)
            .iter()
            .filter_map(|c| c.integration.app.as_ref())
            .map(|a| format!("{} {}", a.app_name, a.app_version))
            .collect()
    }

    #[test]
    fn the_application_index_follows_every_change_of_the_snapshot() {
        let snapshot = ClientSnapshot::default();
        let (a, b) = (tenant(), tenant());
        let v2 = integration(a.id, Some(("kpi", "2.0")));
        let v1 = integration(a.id, Some(("kpi", "1.0")));
        let other = integration(b.id, Some(("atlas", "1")));
        let plain = integration(a.id, None);
        let v2_id = v2.integration.client_id;
        snapshot.replace_all(vec![a.clone(), b.clone()], vec![v2, plain]);
        assert_eq!(versions(&snapshot), ["kpi 2.0"]);
        snapshot.upsert_client(v1.integration.client_id, Some(v1));
        snapshot.upsert_client(other.integration.client_id, Some(other));
        assert_eq!(versions(&snapshot), ["atlas 1", "kpi 1.0", "kpi 2.0"]);
        // Kept by what the caller asks for.
        let only_b = snapshot.app_versions(|i| i.tenant_id == b.id);
        assert_eq!(only_b.len(), 1);
        snapshot.upsert_client(v2_id, None);
        assert_eq!(versions(&snapshot), ["atlas 1", "kpi 1.0"]);
        snapshot.remove_tenant(a.id);
        assert_eq!(versions(&snapshot), ["atlas 1"]);
    }
}

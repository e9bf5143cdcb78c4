//! Every tenant's trusted issuers and federated credentials (SPEC §14) in memory: a platform
//! token finds its integration, issuer and credential without a database call, and every token
//! issued through a credential is checked against the live ones on each use. Loaded whole at
//! start and per tenant on `Change::Federation`, so a revocation reaches every instance within
//! the feed's second. Writes (rare) copy the maps; reads are one atomic load.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arc_swap::ArcSwap;
use tessera_core::id::{ClientId, FederatedCredentialId, TenantId};
use tessera_core::model::{FederatedCredential, TrustedIssuer};

#[derive(Default, Clone)]
struct TenantFederation {
    /// By issuer name.
    issuers: HashMap<String, Arc<TrustedIssuer>>,
    credentials: Vec<Arc<FederatedCredential>>,
}

#[derive(Default)]
struct Snapshot {
    by_tenant: HashMap<TenantId, TenantFederation>,
    /// (issuer, subject) → the credentials that name them, in any tenant.
    by_identity: HashMap<(String, String), Vec<Arc<FederatedCredential>>>,
    /// The ids of every live credential, as tokens carry them.
    live: HashSet<FederatedCredentialId>,
}

#[derive(Default)]
pub struct Federation(ArcSwap<Snapshot>);

impl Federation {
    /// `tenant`'s trusted issuer named `issuer`.
    pub fn issuer(&self, tenant: TenantId, issuer: &str) -> Option<Arc<TrustedIssuer>> {
        self.0
            .load()
            .by_tenant
            .get(&tenant)?
            .issuers
            .get(issuer)
            .cloned()
    }

    /// How many issuers `tenant` trusts.
    pub fn issuer_count(&self, tenant: TenantId) -> usize {
        self.0
            .load()
            .by_tenant
            .get(&tenant)
            .map_or(0, |t| t.issuers.len())
    }

    /// The federated credentials of integration `client` (of `tenant`).
    pub fn credentials_of(
        &self,
        tenant: TenantId,
        client: ClientId,
    ) -> Vec<Arc<FederatedCredential>> {
        self.0
            .load()
            .by_tenant
            .get(&tenant)
            .map(|t| {
                t.credentials
                    .iter()
                    .filter(|c| c.client_id == client)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The integrations with a credential for this issuer and subject, in any tenant.
    pub fn integrations_for(&self, issuer: &str, subject: &str) -> Vec<ClientId> {
        let snapshot = self.0.load();
        let mut found: Vec<ClientId> = snapshot
            .by_identity
            .get(&(issuer.to_owned(), subject.to_owned()))
            .map(|cs| cs.iter().map(|c| c.client_id).collect())
            .unwrap_or_default();
        found.sort();
        found.dedup();
        found
    }

    /// Whether the credential a token names still stands (it, and the trust it relies on).
    pub fn is_live(&self, id: &FederatedCredentialId) -> bool {
        self.0.load().live.contains(id)
    }

    pub fn replace_all(&self, issuers: Vec<TrustedIssuer>, credentials: Vec<FederatedCredential>) {
        let mut by_tenant: HashMap<TenantId, TenantFederation> = HashMap::new();
        for i in issuers {
            by_tenant
                .entry(i.tenant_id)
                .or_default()
                .issuers
                .insert(i.issuer.clone(), Arc::new(i));
        }
        for c in credentials {
            by_tenant
                .entry(c.tenant_id)
                .or_default()
                .credentials
                .push(Arc::new(c));
        }
        self.0.store(Arc::new(Self::indexed(by_tenant)));
    }

    /// Replaces one tenant's issuers and credentials with what the store now holds.
    pub fn replace_tenant(
        &self,
        tenant: TenantId,
        issuers: Vec<TrustedIssuer>,
        credentials: Vec<FederatedCredential>,
    ) {
        let fresh = TenantFederation {
            issuers: issuers
                .into_iter()
                .map(|i| (i.issuer.clone(), Arc::new(i)))
                .collect(),
            credentials: credentials.into_iter().map(Arc::new).collect(),
        };
        self.0.rcu(|old| {
            let mut by_tenant = old.by_tenant.clone();
            if fresh.issuers.is_empty() && fresh.credentials.is_empty() {
                by_tenant.remove(&tenant);
            } else {
                by_tenant.insert(tenant, fresh.clone());
            }
            Self::indexed(by_tenant)
        });
    }

    fn indexed(by_tenant: HashMap<TenantId, TenantFederation>) -> Snapshot {
        let mut by_identity: HashMap<(String, String), Vec<Arc<FederatedCredential>>> =
            HashMap::new();
        let mut live = HashSet::new();
        for tenant in by_tenant.values() {
            // A credential stands while its tenant trusts its issuer.
            for c in tenant
                .credentials
                .iter()
                .filter(|c| tenant.issuers.contains_key(&c.issuer))
            {
                live.insert(c.id);
                by_identity
                    .entry((c.issuer.clone(), c.subject.clone()))
                    .or_default()
                    .push(c.clone());
            }
        }
        Snapshot {
            by_tenant,
            by_identity,
            live,
        }
    }
}

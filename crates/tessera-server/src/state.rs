//! `AppState`: everything a handler needs, cheap to clone, built once by the binary.

use std::sync::Arc;

use arc_swap::ArcSwap;
use tessera_core::client_auth::{ClientDirectory, RegisteredClient};
use tessera_core::crypto::MasterKey;
use tessera_core::error::OAuthError;
use tessera_core::federation::{self, FederationError, PlatformToken};
use tessera_core::grant::{IssueContext, TenantReach};
use tessera_core::id::{ClientId, FederatedCredentialId, TenantId, UserId};
use tessera_core::model::{Connection, Tenant};
use tessera_core::ports::{
    AuditAction, AuditRecord, Change, Clock, RevokedToken, Rng, Storage, StoreError,
};
use tessera_core::token::assertion::{self, AssertionError, AssertionRules, VerifiedAssertion};
use tessera_core::token::{AccessTokenClaims, DecodedJws, KeyRing, SigningAlg};
use tokio::sync::mpsc;

use crate::error::ApiError;
use crate::hot::policies::TenantPolicies;
use crate::hot::{
    keys, ActiveConnections, AppAuthorizations, AuthLimiter, ClientSnapshot, DelegationCache,
    DelegationFacts, Federation, LiveConsents, PolicyCache, ResourceServers, RevocationSet,
    TenantRefusal, VerifiedTokens,
};
use crate::metrics::Metrics;
use crate::remote_keys::{RemoteKeyConfig, RemoteKeySets};

/// The server's settings (the binary turns flags, environment and file into this).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `iss` of every token and the base of every URL in discovery.
    pub issuer: String,
    /// `aud` of tokens unless a request names another.
    pub audience: String,
    pub signing_alg: SigningAlg,
    /// How many verified tokens to remember.
    pub verified_token_cache: usize,
    /// Rotate the signing key when it is this many days old; 0: never on a schedule.
    pub key_rotation_days: u32,
    /// Fetching and caching integrations' `jwks_uri` key sets.
    pub remote_keys: RemoteKeyConfig,
    /// The largest value of an application private token, in bytes (SPEC §7).
    pub max_private_token_bytes: usize,
    /// How long a webhook is retried before it is given up (SPEC §6).
    pub webhook_retry_horizon_seconds: u64,
    /// The first wait after a failed webhook; it doubles on each failure, up to an hour.
    pub webhook_retry_base_ms: u64,
    /// Which URLs integrations may register for Tessera to call.
    pub url_rules: tessera_core::model::UrlRules,
    /// Let outgoing calls (key sets, callbacks, webhooks) reach loopback, private and
    /// link-local addresses: for closed networks and tests (SPEC §11).
    pub allow_private_callbacks: bool,
    /// Ask for the server's nonces in DPoP proofs (RFC 9449 §8): a captured proof is good for
    /// minutes at most, at the price of one more round trip now and then.
    pub dpop_nonces: bool,
    /// Whether anyone may make a tenant at `/console/sign-up` (SPEC §4.1).
    pub allow_sign_up: bool,
    /// The proxies whose `Forwarded` / `X-Forwarded-*` headers say who the client is (SPEC §13).
    pub trusted_proxies: crate::forwarded::TrustedProxies,
    /// Which requests get an access log line (SPEC §13).
    pub access_log: crate::access_log::AccessLog,
    /// How long an invitation link stays usable, in seconds.
    pub invitation_ttl_seconds: i64,
    /// The memory that request bodies being received may hold together, in bytes (SPEC §11):
    /// beyond it a large body is answered 503 with `Retry-After`.
    pub body_budget_bytes: usize,
    /// A console session's absolute lifetime, in seconds.
    pub session_seconds: i64,
    /// How long a console session lasts unused, in seconds.
    pub session_idle_seconds: i64,
    /// Whether `/metrics` is served with the API; `false` when `--admin-listen` serves it on
    /// an address of its own (SPEC §13).
    pub public_metrics: bool,
}

/// Shared state; clones share one `Inner`.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: ServerConfig,
    pub storage: Arc<dyn Storage>,
    pub clock: Arc<dyn Clock>,
    pub rng: Arc<dyn Rng>,
    pub master_key: Arc<MasterKey>,
    pub clients: ClientSnapshot,
    pub keys: ArcSwap<KeyRing>,
    pub revoked: RevocationSet,
    pub verified: VerifiedTokens,
    pub policies: PolicyCache,
    pub delegations: DelegationCache,
    pub app_authorizations: AppAuthorizations,
    pub connections: ActiveConnections,
    pub consents: LiveConsents,
    pub federation: Federation,
    pub resource_servers: ResourceServers,
    /// For calls to applications (connection hand-overs, webhooks): no redirects, bounded.
    pub outbound: reqwest::Client,
    /// Wakes the webhook worker when a change was just written here.
    pub webhooks_due: tokio::sync::Notify,
    /// Wakes the Shared Signals push worker and the polls waiting here when a SET was queued.
    pub security_events_due: tokio::sync::Notify,
    pub auth_limiter: AuthLimiter,
    /// Held for writing while a tenant is deleted and for reading while the audit flusher
    /// writes: a record queued before the deletion is never written after it.
    pub tenant_deletion: tokio::sync::RwLock<()>,
    /// Held while a change is applied or everything is reloaded: each reads the store, then
    /// writes a snapshot, and two of them interleaved could leave the older read in place (the
    /// feed re-applying a change read before a newer write landed over it).
    applying: tokio::sync::Mutex<()>,
    /// KiB of request bodies in flight (see `ServerConfig::body_budget_bytes`).
    pub body_budget: Arc<tokio::sync::Semaphore>,
    pub remote_keys: RemoteKeySets,
    /// Client ID Metadata Documents fetched lately (SPEC §15).
    pub metadata_documents: crate::metadata_documents::MetadataDocuments,
    /// The DPoP proofs (key thumbprint and `jti`) taken within their window, so none is taken
    /// twice here (RFC 9449 §11.1); bounded, the oldest going first.
    pub dpop_proofs: quick_cache::sync::Cache<String, ()>,
    pub metrics: Metrics,
    audit: mpsc::UnboundedSender<AuditRecord>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Why a bearer token is not accepted; the text is shown to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejection {
    /// Not a token of this server: form, signature, type, issuer or validity window.
    #[error("{0}")]
    Unverified(#[from] tessera_core::token::JwsError),
    #[error("the token has been revoked")]
    Revoked,
    #[error("a tenant the token depends on is disabled, or was disabled after it was issued")]
    TenantDisabled,
    #[error("the token's tenant no longer exists")]
    TenantGone,
    #[error("the token's integration no longer exists")]
    IntegrationGone,
    #[error("the tenant has revoked the grant the token was issued under")]
    GrantRevoked,
    #[error("the user no longer consents to the integration acting for them with these scopes")]
    ConsentWithdrawn,
    #[error("the token it was exchanged from has been revoked")]
    OriginRevoked,
    #[error("the integration of the token it was exchanged from no longer exists")]
    OriginIntegrationGone,
    #[error("the federated credential (or the trusted issuer) the token was issued through has been removed")]
    FederationRevoked,
}

impl AppState {
    /// Loads the snapshots from storage. Returns the state and the receiving end of the audit
    /// queue, which `workers::spawn` hands to the audit flusher.
    pub async fn load(
        config: ServerConfig,
        storage: Arc<dyn Storage>,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Rng>,
        master_key: Arc<MasterKey>,
    ) -> Result<(AppState, mpsc::UnboundedReceiver<AuditRecord>), keys::KeySetupError> {
        let ring =
            keys::ensure_current_key(&*storage, &master_key, config.signing_alg, &*clock, &*rng)
                .await?;
        let (audit, audit_rx) = mpsc::unbounded_channel();
        let allow_private = config.allow_private_callbacks;
        let body_budget_bytes = config.body_budget_bytes;
        let state = AppState(Arc::new(Inner {
            verified: VerifiedTokens::new(config.verified_token_cache),
            remote_keys: RemoteKeySets::new(config.remote_keys.clone(), allow_private)
                .map_err(|e| keys::KeySetupError::Outbound(e.to_string()))?,
            metadata_documents: crate::metadata_documents::MetadataDocuments::new(
                config.remote_keys.timeout,
                allow_private,
                config.remote_keys.max_fetches_per_second,
            )
            .map_err(|e| keys::KeySetupError::Outbound(e.to_string()))?,
            config,
            storage,
            clock,
            rng,
            master_key,
            clients: ClientSnapshot::default(),
            keys: ArcSwap::from_pointee(ring),
            revoked: RevocationSet::default(),
            policies: PolicyCache::default(),
            delegations: DelegationCache::new(100_000),
            app_authorizations: AppAuthorizations::default(),
            connections: ActiveConnections::default(),
            consents: LiveConsents::default(),
            federation: Federation::default(),
            resource_servers: ResourceServers::default(),
            webhooks_due: tokio::sync::Notify::new(),
            security_events_due: tokio::sync::Notify::new(),
            outbound: crate::outbound::client(std::time::Duration::from_secs(10), allow_private)
                .map_err(|e| keys::KeySetupError::Outbound(e.to_string()))?,
            auth_limiter: AuthLimiter::default(),
            tenant_deletion: tokio::sync::RwLock::new(()),
            applying: tokio::sync::Mutex::new(()),
            body_budget: Arc::new(tokio::sync::Semaphore::new(
                (body_budget_bytes / 1024).max(1),
            )),
            dpop_proofs: quick_cache::sync::Cache::new(100_000),
            metrics: Metrics::default(),
            audit,
        }));
        state.resync().await?;
        Ok((state, audit_rx))
    }

    /// Reloads every snapshot from storage.
    pub async fn resync(&self) -> Result<(), StoreError> {
        let _one_at_a_time = self.applying.lock().await;
        let now = self.clock.now_millis();
        let tenants = self.storage.list_all_tenants().await?;
        let clients = self.storage.all_clients(now).await?;
        self.clients.replace_all(tenants, clients);
        self.revoked
            .replace_all(self.storage.live_revocations(now / 1000).await?);
        self.policies.clear();
        self.delegations.invalidate();
        self.app_authorizations
            .replace_all(self.storage.app_authorizations_of(None).await?);
        self.connections
            .replace_all(self.storage.active_connections().await?);
        self.consents
            .replace_all(self.storage.consents_of(None).await?);
        let (issuers, credentials) = self.storage.federation_of(None).await?;
        self.federation.replace_all(issuers, credentials);
        self.resource_servers
            .replace_all(self.storage.resource_servers_of(None).await?);
        Ok(())
    }

    /// Queues an audit record; the flusher writes it in a batch, off the request path.
    /// The argon2id hash of a user's password, off the async workers (argon2 is slow on
    /// purpose): for the API and the console alike.
    pub async fn hash_password(&self, password: String) -> Result<String, ApiError> {
        let rng = self.rng.clone();
        tokio::task::spawn_blocking(move || tessera_core::crypto::hash_password(&password, &*rng))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .map_err(|e| ApiError::Internal(format!("password hashing failed: {e}")))
    }

    pub fn audit(&self, record: AuditRecord) {
        // The receiver lives as long as the server; after shutdown there is nothing to tell.
        let _ = self.audit.send(record);
    }

    /// Publishes a change for the other instances and applies it here at once.
    pub async fn publish(&self, change: Change) -> Result<(), ApiError> {
        self.storage
            .publish(self.clock.now_millis(), &change)
            .await?;
        self.apply(&change).await?;
        Ok(())
    }

    /// Applies a change to the snapshots. Idempotent: the feed may deliver it again. One at a
    /// time, so a later read is never overwritten by an earlier one.
    pub async fn apply(&self, change: &Change) -> Result<(), StoreError> {
        let _one_at_a_time = self.applying.lock().await;
        match change {
            Change::Client(id) => {
                let found = self.storage.find_client(*id).await?;
                self.clients.upsert_client(*id, found);
            }
            Change::TokenRevoked(token) => self.revoked.insert(token),
            Change::SigningKeys => {
                let ring =
                    keys::load_key_ring(&*self.storage, &self.master_key, self.clock.now_millis())
                        .await
                        .map_err(|e| StoreError::Backend(e.to_string()))?;
                self.keys.store(Arc::new(ring));
            }
            Change::Tenant(id) => match self.storage.get_tenant(*id).await {
                Ok(tenant) => self.clients.upsert_tenant(tenant),
                Err(StoreError::NotFound) => {
                    // Deleted: nothing of it may stay in memory. Its connections come as
                    // changes of their own.
                    self.clients.remove_tenant(*id);
                    self.consents.replace_tenant(*id, Vec::new());
                    self.app_authorizations.replace_tenant(*id, Vec::new());
                    self.federation.replace_tenant(*id, Vec::new(), Vec::new());
                    self.resource_servers.replace_tenant(*id, Vec::new());
                    self.policies.invalidate(id);
                    self.delegations.invalidate();
                }
                Err(e) => return Err(e),
            },
            Change::AccessPolicies(tenant) => self.policies.invalidate(tenant),
            Change::People(tenant) => {
                self.delegations.invalidate();
                let current = self.storage.consents_of(Some(*tenant)).await?;
                self.consents.replace_tenant(*tenant, current);
            }
            Change::Connection(id) => {
                let now = match self.storage.get_connection(*id).await {
                    Ok(c) => Some(c),
                    Err(StoreError::NotFound) => None,
                    Err(e) => return Err(e),
                };
                self.connections.update(*id, now);
            }
            Change::AppAuthorizations(tenant) => {
                let current = self.storage.app_authorizations_of(Some(*tenant)).await?;
                self.app_authorizations.replace_tenant(*tenant, current);
            }
            Change::Federation(tenant) => {
                let (issuers, credentials) = self.storage.federation_of(Some(*tenant)).await?;
                self.federation
                    .replace_tenant(*tenant, issuers, credentials);
            }
            Change::ResourceServers(tenant) => {
                let current = self.storage.resource_servers_of(Some(*tenant)).await?;
                self.resource_servers.replace_tenant(*tenant, current);
            }
        }
        Ok(())
    }

    /// A tenant's policies: from memory, or loaded once and kept until they change.
    pub async fn tenant_policies(
        &self,
        tenant: TenantId,
    ) -> Result<Arc<TenantPolicies>, StoreError> {
        if let Some(found) = self.policies.get(&tenant) {
            return Ok(found);
        }
        let generation = self.policies.generation();
        let loaded = self.storage.tenant_policies(tenant).await?;
        Ok(self.policies.insert(tenant, loaded, generation))
    }

    /// Checks an assertion the integration `client` signed (RFC 7523): its keys (registered,
    /// and those published at its `jwks_uri`), the accepted audiences (the issuer, the token
    /// endpoint, the endpoint called at `path`) and times.
    pub async fn verify_assertion(
        &self,
        decoded: &DecodedJws,
        client: &RegisteredClient,
        path: &str,
    ) -> Result<VerifiedAssertion, AssertionError> {
        let issuer = self.config.issuer.as_str();
        let token_endpoint = format!("{issuer}/oauth2/token");
        let called = format!("{issuer}{path}");
        let rules = AssertionRules {
            audiences: &[issuer, &token_endpoint, &called],
            now_seconds: self.clock.now_seconds(),
        };
        let registered = &client.keys;
        let Some(uri) = &client.integration.jwks_uri else {
            return assertion::verify_assertion(decoded, registered, &rules);
        };
        let kid = decoded.header.get("kid").and_then(|k| k.as_str());
        // A registered key named by the assertion needs no fetch.
        if kid.is_some_and(|kid| registered.iter().any(|k| k.kid == kid)) {
            return assertion::verify_assertion(decoded, registered, &rules);
        }
        let client_id = client.integration.client_id;
        match self
            .remote_keys
            .keys(client_id, uri, kid, self.clock.now_millis())
            .await
        {
            Ok(published) => {
                let keys: Vec<_> = registered.iter().chain(published.iter()).cloned().collect();
                assertion::verify_assertion(decoded, &keys, &rules)
            }
            Err(_) if !registered.is_empty() => {
                assertion::verify_assertion(decoded, registered, &rules)
            }
            Err(reason) => Err(AssertionError::KeySetUnavailable(reason)),
        }
    }

    /// What every grant needs besides the request and the client, with `ring`'s current key.
    pub fn issue_context<'a>(&'a self, ring: &'a KeyRing) -> IssueContext<'a> {
        IssueContext {
            issuer: &self.config.issuer,
            audience: &self.config.audience,
            now_seconds: self.clock.now_seconds(),
            key: ring.current(),
            rng: &*self.rng,
            federated: None,
            dpop_jkt: None,
        }
    }

    /// The user `sub` names — a user id (in any tenant; another tenant must have granted the
    /// integration `impersonation`, which the core checks) or an email in the integration's
    /// tenant: from memory, or loaded and remembered.
    pub async fn delegation_facts(
        &self,
        client: &RegisteredClient,
        sub: &str,
    ) -> Result<Arc<DelegationFacts>, ApiError> {
        let client_id = client.integration.client_id;
        if let Some(facts) = self.delegations.get(client_id, sub) {
            return Ok(facts);
        }
        let generation = self.delegations.generation();
        let found = match sub.parse::<UserId>() {
            Ok(id) => self.storage.find_user(id).await?,
            Err(_) => {
                self.storage
                    .find_user_by_email(client.integration.tenant_id, &sub.trim().to_lowercase())
                    .await?
            }
        };
        let user = found.ok_or_else(|| tessera_core::grant::no_such_user(sub))?;
        let facts = Arc::new(DelegationFacts { user });
        self.delegations
            .insert(client_id, sub, facts.clone(), generation);
        Ok(facts)
    }

    /// Revokes a token by its `jti` on every instance, counted and audited in `tenant` as done
    /// by `actor` (`client:<id>`), with `detail` (JSON) saying why.
    pub async fn revoke(
        &self,
        tenant: TenantId,
        revoked: RevokedToken,
        actor: String,
        detail: String,
    ) -> Result<(), ApiError> {
        self.storage.revoke_token(tenant, &revoked).await?;
        let target = revoked.jti.clone();
        self.publish(Change::TokenRevoked(revoked)).await?;
        self.metrics.revocations.inc();
        self.audit(AuditRecord {
            tenant_id: tenant,
            at: self.clock.now_millis(),
            actor,
            action: AuditAction::TokenRevoked.into(),
            target,
            detail,
        });
        Ok(())
    }

    /// Records the assertion's `jti` in shared storage; a second use anywhere is refused, in
    /// the words of `refuse` (client authentication and the JWT bearer grant answer with
    /// their own error codes, RFC 7523 §3.1–3.2).
    pub async fn claim_assertion(
        &self,
        verified: &VerifiedAssertion,
        refuse: fn(AssertionError) -> OAuthError,
    ) -> Result<(), ApiError> {
        let first = self
            .storage
            .claim_assertion(&verified.iss, &verified.jti, verified.exp + 120)
            .await?;
        if first {
            Ok(())
        } else {
            Err(refuse(AssertionError::Replayed).into())
        }
    }

    /// The integration a platform token authenticates (SPEC §14): the one `client_id` names,
    /// or the only one with a federated credential for the token's issuer and subject; then its
    /// tenant's trust in the issuer, the issuer's keys (cached), and the checks of the core. All
    /// from memory but the key set, which is fetched when it is not cached.
    pub async fn federated_client(
        &self,
        platform: &PlatformToken,
        client_id: Option<&str>,
    ) -> Result<(Arc<RegisteredClient>, FederatedCredentialId), FederationError> {
        let id = match client_id {
            Some(id) => id.parse::<ClientId>().ok(),
            None => match self
                .federation
                .integrations_for(&platform.issuer, &platform.subject)
                .as_slice()
            {
                [one] => Some(*one),
                [] => None,
                _ => return Err(FederationError::Ambiguous),
            },
        };
        let client = id
            .and_then(|id| ClientDirectory::client(&self.clients, &id))
            .ok_or(FederationError::NoIntegration)?;
        let tenant = client.integration.tenant_id;
        let issuer = self
            .federation
            .issuer(tenant, &platform.issuer)
            .ok_or_else(|| {
                FederationError::UntrustedIssuer(platform.issuer.chars().take(100).collect())
            })?;
        let keys = self
            .remote_keys
            .issuer_keys(&issuer, platform.kid(), self.clock.now_millis())
            .await
            .map_err(FederationError::KeySetUnavailable)?;
        let credentials = self
            .federation
            .credentials_of(tenant, client.integration.client_id);
        let credential = federation::check(
            platform,
            &issuer,
            &keys,
            &credentials,
            self.clock.now_seconds(),
        )?;
        Ok((client, credential))
    }

    /// Checks an access token: signature (once, then cached), `typ`, issuer, validity window,
    /// revocation and that its integration still exists.
    pub fn validate_token(&self, token: &str) -> Result<Arc<AccessTokenClaims>, TokenRejection> {
        let now = self.clock.now_seconds();
        let claims = match self.verified.get(token) {
            Some(claims) => claims,
            None => {
                let claims = self.keys.load().verify(token)?;
                let claims = Arc::new(claims);
                // Only tokens that can still become valid are worth remembering.
                if claims.exp > now {
                    self.verified.insert(token, claims.clone());
                }
                claims
            }
        };
        claims.check_validity(&self.config.issuer, now)?;
        if self.revoked.contains(&claims.jti) {
            return Err(TokenRejection::Revoked);
        }
        match self
            .clients
            .token_standing(&claims.client_id, &claims.tenant_id, claims.iat)
        {
            Ok(()) => {}
            Err(TenantRefusal::Disabled) => return Err(TokenRejection::TenantDisabled),
            Err(TenantRefusal::Gone) => return Err(TokenRejection::TenantGone),
            Err(TenantRefusal::NoIntegration) => return Err(TokenRejection::IntegrationGone),
        }
        if let Some(grant) = &claims.grant {
            if !self.app_authorizations.is_live(grant) && !self.connections.is_active(grant) {
                return Err(TokenRejection::GrantRevoked);
            }
        }
        if let Some(credential) = &claims.federated {
            if !self.federation.is_live(credential) {
                return Err(TokenRejection::FederationRevoked);
            }
        }
        if let Some(consented_to) = &claims.consent {
            if !self.consent_stands(&claims, consented_to) {
                return Err(TokenRejection::ConsentWithdrawn);
            }
        }
        // An exchanged token lives only as long as every token it was exchanged from.
        for origin in &claims.exchanged_from {
            if self.revoked.contains(&origin.jti) {
                return Err(TokenRejection::OriginRevoked);
            }
            if ClientDirectory::client(&self.clients, &origin.client_id).is_none() {
                return Err(TokenRejection::OriginIntegrationGone);
            }
        }
        Ok(claims)
    }

    /// Whether the user (`sub`) still consents to `consented_to` acting for them with every
    /// scope of the token.
    fn consent_stands(&self, claims: &AccessTokenClaims, consented_to: &ClientId) -> bool {
        let Some(user) = claims.sub.user() else {
            return false;
        };
        let Some(registered) = ClientDirectory::client(&self.clients, consented_to) else {
            return false;
        };
        let tenant = claims.tenant_id;
        let foreign = registered.integration.tenant_id != tenant;
        self.consents
            .allow(tenant, *consented_to, user, foreign, claims.scope)
    }
}

/// Other tenants and their connections, as the client credentials grant sees them: from the
/// snapshots.
impl TenantReach for AppState {
    fn tenant(&self, id: &TenantId) -> Option<Tenant> {
        self.clients.tenant(id)
    }
    fn connection(&self, client: ClientId, owner: TenantId) -> Option<Arc<Connection>> {
        self.connections.between(client, owner)
    }
}

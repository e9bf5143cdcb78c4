//! What the core needs from storage. The store crate implements these traits for SQLite and
//! PostgreSQL. Time and randomness are in `world` (re-exported here).
//!
//! Every store method that reads or writes tenant data takes the `TenantId` first, so a query
//! cannot forget the tenant boundary.

use async_trait::async_trait;

use crate::id::{
    AccessPolicyId, AppAuthorizationId, AssetId, ClientId, ConnectionId, ConsentId,
    FederatedCredentialId, ResourceServerId, StreamId, TenantId, TrustedIssuerId, UserId,
};
use crate::model::{
    AppAuthorization, Asset, AssetEvent, ClientKey, ClientSecretRecord, Connection, Consent,
    DataChange, EntryFilter, EntryName, EventStream, FederatedCredential, Integration, LinkRefusal,
    OutboxState, PendingSet, PendingWebhook, PrivateToken, PrivateTokenInfo, PushOutcome,
    RefreshFamily, ResourceServer, StreamBacklog, Tenant, TrustedIssuer, UnixMillis, User,
    UserLink, WebhookAttempt, WebhookOutcome, WriteCondition,
};
use crate::page::{Page, PageRequest};
use crate::policy::AccessPolicy;

pub use crate::world::{Clock, OsRng, Rng, SystemClock};

/// A storage failure. The message is for the logs, never for clients.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such row (in this tenant).
    #[error("not found")]
    NotFound,
    /// A uniqueness rule would be broken; the message says which, for the client.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A conditional write (`If-Match`) found the entry missing or changed.
    #[error("the precondition failed")]
    PreconditionFailed,
    /// The database failed; the message is for the logs.
    #[error("storage failure: {0}")]
    Backend(String),
}

/// What a storage port answers.
pub type StoreResult<T> = Result<T, StoreError>;

/// What deleting a tenant ended: what the snapshots must drop and whom to tell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeletedTenant {
    /// Its integrations.
    pub clients: Vec<ClientId>,
    /// The active connections it was a side of, as they were (their applications are told).
    pub connections: Vec<Connection>,
    /// Other tenants whose app authorizations or consents named its applications or
    /// integrations (those rows went too).
    pub touched_tenants: Vec<TenantId>,
}

/// Tenants (SPEC §4.1).
#[async_trait]
pub trait TenantStore: Send + Sync {
    /// Stores a tenant alone (the operator tenant at first start). `Conflict` if its id is
    /// taken, or if it is an operator tenant and one exists.
    async fn create_tenant(&self, tenant: &Tenant) -> StoreResult<()>;
    /// Stores a new tenant, its first admin and, for an admin without a password yet, the
    /// invitation link, in one transaction.
    async fn create_tenant_with_admin(
        &self,
        tenant: &Tenant,
        admin: &User,
        invitation: Option<&UserLink>,
    ) -> StoreResult<()>;
    /// The tenant with this id.
    async fn get_tenant(&self, id: TenantId) -> StoreResult<Tenant>;
    /// Every tenant, in creation order (for the snapshots).
    async fn list_all_tenants(&self) -> StoreResult<Vec<Tenant>>;
    /// Tenants in creation order, from a keyset cursor.
    async fn list_tenants(&self, page: PageRequest) -> StoreResult<Page<Tenant>>;
    /// Writes name, tier and state.
    async fn update_tenant(&self, tenant: &Tenant) -> StoreResult<()>;
    /// Writes the tenant's rules for clients nobody typed in (SPEC §15), and nothing else.
    async fn set_client_registration(
        &self,
        tenant: TenantId,
        policy: &crate::model::ClientRegistrationPolicy,
    ) -> StoreResult<()>;
    /// Removes the tenant and every row of it, and every grant to or from it, in one
    /// transaction. `NotFound` if there is none; `Conflict` for the operator tenant.
    async fn delete_tenant(&self, id: TenantId) -> StoreResult<DeletedTenant>;
}

/// A console session as the server keeps it (SPEC §9); the cookie holds the id, the store only
/// its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    /// SHA-256 of the session cookie; the cookie itself is never stored.
    pub id_hash: [u8; 32],
    /// The signed-in user.
    pub user_id: UserId,
    /// The user's tenant.
    pub tenant_id: TenantId,
    /// When the user signed in.
    pub created_at: UnixMillis,
    /// When the session was last used (for the idle timeout).
    pub last_seen_at: UnixMillis,
    /// The absolute end; the idle end is `last_seen_at` plus the configured idle time.
    pub expires_at: UnixMillis,
}

/// Console sessions, shared by every instance: signing out on one ends the session on all.
#[async_trait]
pub trait ConsoleSessionStore: Send + Sync {
    /// Stores a new session; expired ones are removed as new ones come.
    async fn create_console_session(&self, session: &ConsoleSession) -> StoreResult<()>;
    /// The session with this cookie hash, if it exists.
    async fn console_session(&self, id_hash: &[u8; 32]) -> StoreResult<Option<ConsoleSession>>;
    /// Records that the session was used at `at`.
    async fn touch_console_session(&self, id_hash: &[u8; 32], at: UnixMillis) -> StoreResult<()>;
    /// Ends the session (sign-out).
    async fn end_console_session(&self, id_hash: &[u8; 32]) -> StoreResult<()>;
}

/// One-time links that set a user's password (SPEC §4.1). Redeeming is one conditional
/// `UPDATE`, so a link is used once whichever instances race for it.
#[async_trait]
pub trait UserLinkStore: Send + Sync {
    /// Stores a new user without a password and its invitation, in one transaction.
    async fn create_invited_user(&self, user: &User, link: &UserLink) -> StoreResult<()>;
    /// Stores a new link for an existing user, replacing the user's unused ones, and ends the
    /// user's console sessions (`sessions_not_before`).
    async fn put_user_link(&self, link: &UserLink, sessions_not_before: i64) -> StoreResult<()>;
    /// The user a link sets the password of, if it can still be used at `now`.
    async fn user_link(
        &self,
        token_hash: &[u8; 32],
        now: UnixMillis,
    ) -> StoreResult<Result<User, LinkRefusal>>;
    /// Uses the link: sets the password and ends earlier sessions, in one transaction.
    async fn redeem_user_link(
        &self,
        token_hash: &[u8; 32],
        password_hash: &str,
        now: UnixMillis,
    ) -> StoreResult<Result<User, LinkRefusal>>;
}

/// An integration with the hashes of its live secrets, as the token path needs it.
#[derive(Debug, Clone)]
pub struct IntegrationWithSecrets {
    /// The integration.
    pub integration: Integration,
    /// Its live secrets, hashed.
    pub secrets: Vec<ClientSecretRecord>,
    /// Its registered public keys.
    pub keys: Vec<ClientKey>,
}

/// Integrations, their secrets and their public keys.
#[async_trait]
pub trait IntegrationStore: Send + Sync {
    /// Stores a new integration and its first secret (none for a secretless one, SPEC §14) in
    /// one transaction.
    async fn create_integration(
        &self,
        integration: &Integration,
        secret: Option<&ClientSecretRecord>,
    ) -> StoreResult<()>;
    /// The tenant's integration with this id.
    async fn get_integration(&self, tenant: TenantId, id: ClientId) -> StoreResult<Integration>;
    /// A page of the tenant's integrations, in creation order.
    async fn list_integrations(
        &self,
        tenant: TenantId,
        page: PageRequest,
    ) -> StoreResult<Page<Integration>>;
    /// Saves a changed integration of its tenant.
    async fn update_integration(&self, integration: &Integration) -> StoreResult<()>;
    /// Removes the integration with its secrets and keys.
    async fn delete_integration(&self, tenant: TenantId, id: ClientId) -> StoreResult<()>;
    /// Removes every secret of the tenant's integration at once (it authenticates with keys
    /// or platform tokens from then on, SPEC §14); how many there were.
    async fn remove_secrets(&self, tenant: TenantId, id: ClientId) -> StoreResult<u64>;
    /// Adds a new secret; the others expire at `old_expire_at` (now, or after a grace period).
    async fn replace_secret(
        &self,
        tenant: TenantId,
        secret: &ClientSecretRecord,
        old_expire_at: UnixMillis,
    ) -> StoreResult<()>;
    /// Moves a multi-tenant integration from `development` to `production` with `secret` as
    /// its only credential: the development secrets stop at once. `Conflict` when it is not in
    /// development.
    async fn promote_integration(
        &self,
        tenant: TenantId,
        secret: &ClientSecretRecord,
    ) -> StoreResult<()>;
    /// Registers a public key on an integration of the tenant; `Conflict` if its `kid` is taken.
    async fn add_client_key(&self, tenant: TenantId, key: &ClientKey) -> StoreResult<()>;
    /// The public keys of the tenant's integration.
    async fn list_client_keys(&self, tenant: TenantId, id: ClientId)
        -> StoreResult<Vec<ClientKey>>;
    /// Removes one public key of the tenant's integration.
    async fn delete_client_key(&self, tenant: TenantId, id: ClientId, kid: &str)
        -> StoreResult<()>;
    /// Any integration by `client_id`, with its secrets: for the token path's snapshot.
    async fn find_client(&self, id: ClientId) -> StoreResult<Option<IntegrationWithSecrets>>;
    /// Every integration with its live secrets: to fill the snapshot at start.
    async fn all_clients(&self, now: UnixMillis) -> StoreResult<Vec<IntegrationWithSecrets>>;
}

/// The users of each tenant.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Stores a new user; an email taken in the tenant is a `Conflict`.
    async fn create_user(&self, user: &User) -> StoreResult<()>;
    /// The tenant's user with this id.
    async fn get_user(&self, tenant: TenantId, id: UserId) -> StoreResult<User>;
    /// The tenant's user with this email, if any.
    async fn find_user_by_email(&self, tenant: TenantId, email: &str) -> StoreResult<Option<User>>;
    /// The users of every tenant with this (lower-case) email, for the console's sign-in; at
    /// most 20.
    async fn users_with_email(&self, email: &str) -> StoreResult<Vec<User>>;
    /// A user by id in any tenant: user ids are unique across tenants.
    async fn find_user(&self, id: UserId) -> StoreResult<Option<User>>;
    /// A page of the tenant's users, in creation order.
    async fn list_users(&self, tenant: TenantId, page: PageRequest) -> StoreResult<Page<User>>;
    /// Saves a changed user of its tenant.
    async fn update_user(&self, user: &User) -> StoreResult<()>;
    /// Removes the tenant's user.
    async fn delete_user(&self, tenant: TenantId, id: UserId) -> StoreResult<()>;
    /// How many admin users and integrations holding `admin` the tenant has: a tenant always
    /// keeps one of each kind it has (SPEC §11).
    async fn admin_counts(&self, tenant: TenantId) -> StoreResult<AdminCounts>;
}

/// A tenant's admins (SPEC §11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AdminCounts {
    /// Admin users of the tenant.
    pub users: u64,
    /// Integrations of the tenant with the `admin` scope.
    pub integrations: u64,
}

/// A signing key as stored: the private key encrypted with the master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSigningKey {
    /// The key id tokens name in their header.
    pub kid: String,
    /// Its algorithm.
    pub alg: String,
    /// The private key (PKCS#8), encrypted under the master key.
    pub encrypted_pkcs8: Vec<u8>,
    /// When it was made.
    pub created_at: UnixMillis,
    /// When another key became current; the key still verifies until `verify_until`.
    pub retired_at: Option<UnixMillis>,
    /// Until when tokens it signed still verify.
    pub verify_until: Option<UnixMillis>,
}

/// The server's signing keys.
#[async_trait]
pub trait SigningKeyStore: Send + Sync {
    /// Retires every current key (keeping it for verification until `verify_until`) and adds
    /// `key` as the current one, in one transaction.
    async fn rotate_signing_key(
        &self,
        key: &StoredSigningKey,
        verify_until: UnixMillis,
    ) -> StoreResult<()>;
    /// The keys that can still verify a live token at `now`, newest first.
    async fn live_signing_keys(&self, now: UnixMillis) -> StoreResult<Vec<StoredSigningKey>>;
}

/// A revoked access token, kept until it would have expired anyway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedToken {
    /// The revoked token's id.
    pub jti: String,
    /// When the token would have expired (Unix seconds); kept until then.
    pub expires_at: i64,
}

/// Revoked token ids.
#[async_trait]
pub trait RevocationStore: Send + Sync {
    /// Records a revocation (repeats are harmless).
    async fn revoke_token(&self, tenant: TenantId, token: &RevokedToken) -> StoreResult<()>;
    /// Revocations of tokens that have not yet expired.
    async fn live_revocations(&self, now_seconds: i64) -> StoreResult<Vec<RevokedToken>>;
}

/// Something that changed and that every instance must learn of within a second.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// An integration was created, changed or deleted, or its secrets changed.
    Client(ClientId),
    /// A token was revoked.
    TokenRevoked(RevokedToken),
    /// The signing keys changed.
    SigningKeys,
    /// A tenant changed.
    Tenant(TenantId),
    /// A tenant's access policies changed.
    AccessPolicies(TenantId),
    /// A tenant's users or consents changed.
    People(TenantId),
    /// A tenant's app authorizations changed.
    AppAuthorizations(TenantId),
    /// A connection was activated or revoked.
    Connection(ConnectionId),
    /// A tenant's trusted issuers or federated credentials changed.
    Federation(TenantId),
    /// A tenant's resource servers changed.
    ResourceServers(TenantId),
}

/// A change with its position in the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRecord {
    /// Its position in the feed.
    pub id: i64,
    /// When it was published.
    pub at: UnixMillis,
    /// What changed.
    pub change: Change,
}

/// The feed through which instances on one database tell each other what changed.
#[async_trait]
pub trait ChangeFeed: Send + Sync {
    /// Publishes a change for every instance.
    async fn publish(&self, at: UnixMillis, change: &Change) -> StoreResult<()>;
    /// Changes recorded at or after `since`, oldest first. Readers look back a few seconds and
    /// skip ids they have applied, so a change committed late is never missed.
    async fn changes_since(&self, since: UnixMillis) -> StoreResult<Vec<ChangeRecord>>;
    /// Removes changes older than `before`; the number removed.
    async fn prune_changes(&self, before: UnixMillis) -> StoreResult<u64>;
}

/// What an audit record says was done; stored as its name (`integration.created`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    /// `token.issued`.
    TokenIssued,
    /// `token.revoked`.
    TokenRevoked,
    /// `connection.granted`.
    ConnectionGranted,
    /// `connection.revoked`.
    ConnectionRevoked,
    /// `tenant.created`.
    TenantCreated,
    /// `tenant.updated`.
    TenantUpdated,
    /// `tenant.enabled`.
    TenantEnabled,
    /// `tenant.disabled`.
    TenantDisabled,
    /// `tenant.deleted`.
    TenantDeleted,
    /// `integration.created`.
    IntegrationCreated,
    /// `integration.updated`.
    IntegrationUpdated,
    /// `integration.deleted`.
    IntegrationDeleted,
    /// `integration.promoted`.
    IntegrationPromoted,
    /// `integration.secret_regenerated`.
    IntegrationSecretRegenerated,
    /// `integration.secret_removed`.
    IntegrationSecretRemoved,
    /// `integration.key_added`.
    IntegrationKeyAdded,
    /// `integration.key_deleted`.
    IntegrationKeyDeleted,
    /// `user.created`.
    UserCreated,
    /// `user.invited`.
    UserInvited,
    /// `user.updated`.
    UserUpdated,
    /// `user.deleted`.
    UserDeleted,
    /// `user.password_reset`.
    UserPasswordReset,
    /// `access_policy.created`.
    AccessPolicyCreated,
    /// `access_policy.updated`.
    AccessPolicyUpdated,
    /// `access_policy.deleted`.
    AccessPolicyDeleted,
    /// `consent.given`.
    ConsentGiven,
    /// `consent.withdrawn`.
    ConsentWithdrawn,
    /// `app.authorized`.
    AppAuthorized,
    /// `app.authorization_revoked`.
    AppAuthorizationRevoked,
    /// `signing_key.rotated`.
    SigningKeyRotated,
    /// `resource_server.created`.
    ResourceServerCreated,
    /// `resource_server.updated`.
    ResourceServerUpdated,
    /// `resource_server.deleted`.
    ResourceServerDeleted,
    /// `refresh_token.revoked`: by `/oauth2/revoke` or a withdrawn consent.
    RefreshTokenRevoked,
    /// `refresh_token.reused`: a replaced refresh token came back and its family ended.
    RefreshTokenReused,
    /// `trusted_issuer.added`.
    TrustedIssuerAdded,
    /// `trusted_issuer.removed`.
    TrustedIssuerRemoved,
    /// `federated_credential.added`.
    FederatedCredentialAdded,
    /// `federated_credential.removed`.
    FederatedCredentialRemoved,
    /// `client.registered`: a client registered itself, or a metadata document's client was
    /// first authorized (SPEC §15).
    ClientRegistered,
    /// `client_registration.changed`: the tenant's rules for such clients.
    ClientRegistrationChanged,
    /// `event_stream.created`: a resource server opened a Shared Signals stream (SPEC §16).
    EventStreamCreated,
    /// `event_stream.updated`: its delivery, events or status changed.
    EventStreamUpdated,
    /// `event_stream.deleted`.
    EventStreamDeleted,
}

impl AuditAction {
    /// Every action, in the order the enum lists them (what an audit filter offers).
    pub const ALL: [AuditAction; 44] = [
        AuditAction::TokenIssued,
        AuditAction::TokenRevoked,
        AuditAction::ConnectionGranted,
        AuditAction::ConnectionRevoked,
        AuditAction::TenantCreated,
        AuditAction::TenantUpdated,
        AuditAction::TenantEnabled,
        AuditAction::TenantDisabled,
        AuditAction::TenantDeleted,
        AuditAction::IntegrationCreated,
        AuditAction::IntegrationUpdated,
        AuditAction::IntegrationDeleted,
        AuditAction::IntegrationPromoted,
        AuditAction::IntegrationSecretRegenerated,
        AuditAction::IntegrationSecretRemoved,
        AuditAction::IntegrationKeyAdded,
        AuditAction::IntegrationKeyDeleted,
        AuditAction::UserCreated,
        AuditAction::UserInvited,
        AuditAction::UserUpdated,
        AuditAction::UserDeleted,
        AuditAction::UserPasswordReset,
        AuditAction::AccessPolicyCreated,
        AuditAction::AccessPolicyUpdated,
        AuditAction::AccessPolicyDeleted,
        AuditAction::ConsentGiven,
        AuditAction::ConsentWithdrawn,
        AuditAction::AppAuthorized,
        AuditAction::AppAuthorizationRevoked,
        AuditAction::SigningKeyRotated,
        AuditAction::ResourceServerCreated,
        AuditAction::ResourceServerUpdated,
        AuditAction::ResourceServerDeleted,
        AuditAction::RefreshTokenRevoked,
        AuditAction::RefreshTokenReused,
        AuditAction::TrustedIssuerAdded,
        AuditAction::TrustedIssuerRemoved,
        AuditAction::FederatedCredentialAdded,
        AuditAction::FederatedCredentialRemoved,
        AuditAction::ClientRegistered,
        AuditAction::ClientRegistrationChanged,
        AuditAction::EventStreamCreated,
        AuditAction::EventStreamUpdated,
        AuditAction::EventStreamDeleted,
    ];

    /// The action's name, as stored and listed.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::TokenIssued => "token.issued",
            AuditAction::TokenRevoked => "token.revoked",
            AuditAction::ConnectionGranted => "connection.granted",
            AuditAction::ConnectionRevoked => "connection.revoked",
            AuditAction::TenantCreated => "tenant.created",
            AuditAction::TenantUpdated => "tenant.updated",
            AuditAction::TenantEnabled => "tenant.enabled",
            AuditAction::TenantDisabled => "tenant.disabled",
            AuditAction::TenantDeleted => "tenant.deleted",
            AuditAction::IntegrationCreated => "integration.created",
            AuditAction::IntegrationUpdated => "integration.updated",
            AuditAction::IntegrationDeleted => "integration.deleted",
            AuditAction::IntegrationPromoted => "integration.promoted",
            AuditAction::IntegrationSecretRegenerated => "integration.secret_regenerated",
            AuditAction::IntegrationSecretRemoved => "integration.secret_removed",
            AuditAction::IntegrationKeyAdded => "integration.key_added",
            AuditAction::IntegrationKeyDeleted => "integration.key_deleted",
            AuditAction::UserCreated => "user.created",
            AuditAction::UserInvited => "user.invited",
            AuditAction::UserUpdated => "user.updated",
            AuditAction::UserDeleted => "user.deleted",
            AuditAction::UserPasswordReset => "user.password_reset",
            AuditAction::AccessPolicyCreated => "access_policy.created",
            AuditAction::AccessPolicyUpdated => "access_policy.updated",
            AuditAction::AccessPolicyDeleted => "access_policy.deleted",
            AuditAction::ConsentGiven => "consent.given",
            AuditAction::ConsentWithdrawn => "consent.withdrawn",
            AuditAction::AppAuthorized => "app.authorized",
            AuditAction::AppAuthorizationRevoked => "app.authorization_revoked",
            AuditAction::SigningKeyRotated => "signing_key.rotated",
            AuditAction::ResourceServerCreated => "resource_server.created",
            AuditAction::ResourceServerUpdated => "resource_server.updated",
            AuditAction::ResourceServerDeleted => "resource_server.deleted",
            AuditAction::RefreshTokenRevoked => "refresh_token.revoked",
            AuditAction::RefreshTokenReused => "refresh_token.reused",
            AuditAction::TrustedIssuerAdded => "trusted_issuer.added",
            AuditAction::TrustedIssuerRemoved => "trusted_issuer.removed",
            AuditAction::FederatedCredentialAdded => "federated_credential.added",
            AuditAction::FederatedCredentialRemoved => "federated_credential.removed",
            AuditAction::ClientRegistered => "client.registered",
            AuditAction::ClientRegistrationChanged => "client_registration.changed",
            AuditAction::EventStreamCreated => "event_stream.created",
            AuditAction::EventStreamUpdated => "event_stream.updated",
            AuditAction::EventStreamDeleted => "event_stream.deleted",
        }
    }
}

impl From<AuditAction> for String {
    fn from(action: AuditAction) -> String {
        action.as_str().to_owned()
    }
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// The tenant whose log it is in.
    pub tenant_id: TenantId,
    /// When it was done.
    pub at: UnixMillis,
    /// Who did it: `client:<id>`, `user:<id>` or `system`.
    pub actor: String,
    /// What: an [`AuditAction`]'s name.
    pub action: String,
    /// To what: an id, or "".
    pub target: String,
    /// Details as a JSON object (never a secret).
    pub detail: String,
}

/// A stored audit record with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Its position in the tenant's log.
    pub seq: i64,
    /// The record.
    pub record: AuditRecord,
}

/// The audit log.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Writes a batch in one transaction.
    async fn append_audit(&self, records: &[AuditRecord]) -> StoreResult<()>;
    /// The records that pass `filter`, newest first; `page.after` = 0 starts at the newest.
    async fn list_audit(
        &self,
        tenant: TenantId,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> StoreResult<Page<AuditEntry>>;
}

/// Which audit records a listing keeps; every field left `None` keeps all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only this actor (`client:<id>`, `user:<id>`, `system`).
    pub actor: Option<String>,
    /// Only this action (an [`AuditAction`]'s name).
    pub action: Option<String>,
    /// Only records at or after this time.
    pub since: Option<UnixMillis>,
    /// Only records before this time.
    pub until: Option<UnixMillis>,
}

/// Consents to impersonation (SPEC §3.3).
#[async_trait]
pub trait ConsentStore: Send + Sync {
    /// Stores a consent, replacing the one for the same integration and user; returns what was
    /// stored (with the earlier id when it replaced one).
    async fn put_consent(&self, consent: &Consent) -> StoreResult<Consent>;
    /// A page of the tenant's consents, in the order they were given.
    async fn list_consents(
        &self,
        tenant: TenantId,
        page: PageRequest,
    ) -> StoreResult<Page<Consent>>;
    /// Withdraws the consent and answers what it was.
    async fn delete_consent(&self, tenant: TenantId, id: ConsentId) -> StoreResult<Consent>;
    /// Every consent, or one tenant's: what the server holds in memory to check delegated
    /// tokens on each use.
    async fn consents_of(&self, tenant: Option<TenantId>) -> StoreResult<Vec<Consent>>;
}

/// Trusted issuers and federated credentials (SPEC §14).
#[async_trait]
pub trait FederationStore: Send + Sync {
    /// Registers a trusted issuer; `Conflict` when the tenant already trusts that issuer.
    async fn create_trusted_issuer(&self, issuer: &TrustedIssuer) -> StoreResult<()>;
    /// A page of the tenant's trusted issuers, in the order they were registered.
    async fn list_trusted_issuers(
        &self,
        tenant: TenantId,
        page: PageRequest,
    ) -> StoreResult<Page<TrustedIssuer>>;
    /// Removes the tenant's trusted issuer and every federated credential that names it;
    /// what it was and how many credentials went with it.
    async fn delete_trusted_issuer(
        &self,
        tenant: TenantId,
        id: TrustedIssuerId,
    ) -> StoreResult<(TrustedIssuer, u64)>;
    /// Registers a federated credential; `Conflict` when the integration has one for that
    /// issuer and subject, `NotFound` when the issuer is not trusted or the integration is
    /// not the tenant's.
    async fn create_federated_credential(
        &self,
        credential: &FederatedCredential,
    ) -> StoreResult<()>;
    /// A page of an integration's federated credentials.
    async fn list_federated_credentials(
        &self,
        tenant: TenantId,
        client: ClientId,
        page: PageRequest,
    ) -> StoreResult<Page<FederatedCredential>>;
    /// Removes one of an integration's federated credentials; what it was.
    async fn delete_federated_credential(
        &self,
        tenant: TenantId,
        client: ClientId,
        id: FederatedCredentialId,
    ) -> StoreResult<FederatedCredential>;
    /// Every trusted issuer and federated credential of one tenant, or of all (the snapshot).
    async fn federation_of(
        &self,
        tenant: Option<TenantId>,
    ) -> StoreResult<(Vec<TrustedIssuer>, Vec<FederatedCredential>)>;
}

/// Resource servers (SPEC §15).
#[async_trait]
pub trait ResourceServerStore: Send + Sync {
    /// Registers a resource server; `Conflict` when the tenant has one of that identifier.
    async fn create_resource_server(&self, server: &ResourceServer) -> StoreResult<()>;
    /// One of the tenant's resource servers.
    async fn get_resource_server(
        &self,
        tenant: TenantId,
        id: ResourceServerId,
    ) -> StoreResult<ResourceServer>;
    /// A page of the tenant's resource servers, in the order they were registered.
    async fn list_resource_servers(
        &self,
        tenant: TenantId,
        page: PageRequest,
    ) -> StoreResult<Page<ResourceServer>>;
    /// Stores a change; `NotFound` when it is gone, `Conflict` on a taken identifier.
    async fn update_resource_server(&self, server: &ResourceServer) -> StoreResult<()>;
    /// Removes one; what it was.
    async fn delete_resource_server(
        &self,
        tenant: TenantId,
        id: ResourceServerId,
    ) -> StoreResult<ResourceServer>;
    /// Every resource server of one tenant, or of all (the snapshot).
    async fn resource_servers_of(
        &self,
        tenant: Option<TenantId>,
    ) -> StoreResult<Vec<ResourceServer>>;
}

/// Shared Signals streams and their outboxes (SPEC §16). A SET is queued once per stream that
/// takes it and stays until pushed (2xx) or acknowledged by a poll: a restart loses none.
#[async_trait]
pub trait EventStreamStore: Send + Sync {
    /// Stores a new stream.
    async fn create_stream(&self, stream: &EventStream) -> StoreResult<()>;
    /// One of the tenant's streams.
    async fn get_stream(&self, tenant: TenantId, id: StreamId) -> StoreResult<EventStream>;
    /// The streams that hear of events about `tenant`: its own and the operator tenant's.
    async fn streams_hearing(&self, tenant: TenantId) -> StoreResult<Vec<EventStream>>;
    /// A stream by its id alone, for the push worker.
    async fn stream_by_id(&self, id: StreamId) -> StoreResult<EventStream>;
    /// The tenant's streams, oldest first.
    async fn streams_of(&self, tenant: TenantId) -> StoreResult<Vec<EventStream>>;
    /// Stores a change; `NotFound` when it is gone.
    async fn update_stream(&self, stream: &EventStream) -> StoreResult<()>;
    /// Removes a stream and its outbox.
    async fn delete_stream(&self, tenant: TenantId, id: StreamId) -> StoreResult<()>;
    /// Queues signed SETs: (stream, `jti`, SET) each, in this order, at `now`.
    async fn queue_sets(
        &self,
        now: UnixMillis,
        sets: &[(StreamId, String, String)],
    ) -> StoreResult<()>;
    /// For each enabled push stream its oldest pending SET, if due and not leased: leased to
    /// the caller until `lease_until`, so a stream's SETs go out one at a time, in order.
    async fn claim_pushes(
        &self,
        now: UnixMillis,
        lease_until: UnixMillis,
        limit: u32,
    ) -> StoreResult<Vec<PendingSet>>;
    /// Records what became of claimed SETs (by `seq`).
    async fn finish_pushes(&self, finished: &[(i64, PushOutcome)]) -> StoreResult<()>;
    /// RFC 8936 §2.4: acknowledges `ack` (by `jti`), then gives the stream's oldest pending
    /// SETs, at most `max`, and whether more wait.
    async fn poll_sets(
        &self,
        stream: StreamId,
        ack: &[String],
        max: u32,
    ) -> StoreResult<(Vec<PendingSet>, bool)>;
    /// How the stream's delivery stands.
    async fn stream_backlog(&self, stream: StreamId) -> StoreResult<StreamBacklog>;
}

/// Refresh token families (SPEC §15): one row each, holding the hash of its newest token.
#[async_trait]
pub trait RefreshTokenStore: Send + Sync {
    /// Stores a new family.
    async fn create_refresh_family(&self, family: &RefreshFamily) -> StoreResult<()>;
    /// Records the code's single use (as [`AssertionStore::claim_assertion`] of `issuer`,
    /// `family.id`, until `expires_at`) and, if it was the first, stores the family it starts,
    /// in one write: true if it was the first use.
    async fn redeem_code(
        &self,
        issuer: &str,
        expires_at: i64,
        family: &RefreshFamily,
    ) -> StoreResult<bool>;
    /// The family of that id, if it is stored.
    async fn refresh_family(&self, id: &str) -> StoreResult<Option<RefreshFamily>>;
    /// Replaces the family with its next generation, if its newest token is still
    /// `current_hash`: false when another use got there first or it is gone.
    async fn rotate_refresh_family(
        &self,
        next: &RefreshFamily,
        current_hash: &[u8; 32],
    ) -> StoreResult<bool>;
    /// Ends a family; what it was.
    async fn delete_refresh_family(&self, id: &str) -> StoreResult<Option<RefreshFamily>>;
    /// Ends the families `tenant`'s person (`user`, or every one) gave `client`; how many.
    async fn delete_refresh_families(
        &self,
        tenant: TenantId,
        client: ClientId,
        user: Option<UserId>,
    ) -> StoreResult<u64>;
    /// The families of one person, newest first (what My account lists).
    async fn refresh_families_of(
        &self,
        tenant: TenantId,
        user: UserId,
    ) -> StoreResult<Vec<RefreshFamily>>;
    /// Removes the families that ended before `now_seconds`; how many.
    async fn sweep_refresh_families(&self, now_seconds: i64) -> StoreResult<u64>;
}

/// Multi-tenant applications and the tenants' authorizations of them (SPEC §8).
#[async_trait]
pub trait AppAuthorizationStore: Send + Sync {
    /// The tenant that owns an application name (registered its first version).
    async fn app_owner(&self, app_name: &str) -> StoreResult<Option<TenantId>>;
    /// Creates the tenant's authorization of `app_name`, replacing one it had.
    async fn put_app_authorization(&self, a: &AppAuthorization) -> StoreResult<()>;
    /// A page of the authorizations the tenant gave, in the order they were given.
    async fn list_app_authorizations(
        &self,
        tenant: TenantId,
        page: PageRequest,
    ) -> StoreResult<Page<AppAuthorization>>;
    /// Revokes the tenant's authorization and answers what it was.
    async fn delete_app_authorization(
        &self,
        tenant: TenantId,
        id: AppAuthorizationId,
    ) -> StoreResult<AppAuthorization>;
    /// Every authorization of one tenant, or of all tenants (for the in-memory snapshot).
    async fn app_authorizations_of(
        &self,
        tenant: Option<TenantId>,
    ) -> StoreResult<Vec<AppAuthorization>>;
    /// The tenants that authorized `app_name`, in id order after `after`: a keyset page, so
    /// concurrent changes never repeat or skip a tenant that stays.
    async fn authorizing_tenants(
        &self,
        app_name: &str,
        after: Option<TenantId>,
        limit: u32,
    ) -> StoreResult<Vec<TenantId>>;
}

/// Connections (SPEC §6). Secrets (the application's bearer token, the webhook signing secret)
/// arrive and leave encrypted with the master key.
#[async_trait]
pub trait ConnectionStore: Send + Sync {
    /// Stores a new connection.
    async fn create_connection(&self, c: &Connection) -> StoreResult<()>;
    /// Stores the application's bearer token and the webhook secret of an active connection;
    /// `NotFound` if it is no longer active.
    async fn store_connection_secrets(
        &self,
        id: ConnectionId,
        bearer_token: &[u8],
        webhook_secret: &[u8],
        at: UnixMillis,
    ) -> StoreResult<()>;
    /// Removes a connection whose hand-over failed.
    async fn discard_connection(&self, id: ConnectionId) -> StoreResult<()>;
    /// Removes the connections made before `before` whose hand-over never finished (the
    /// instance stopped mid-way); returns their ids.
    async fn discard_unfinished_connections(
        &self,
        before: UnixMillis,
    ) -> StoreResult<Vec<ConnectionId>>;
    /// Revokes an active connection that `tenant` is a side of.
    async fn revoke_connection(
        &self,
        tenant: TenantId,
        id: ConnectionId,
        at: UnixMillis,
    ) -> StoreResult<Connection>;
    /// The connection with this id, in whichever tenant.
    async fn get_connection(&self, id: ConnectionId) -> StoreResult<Connection>;
    /// The connections `tenant` is a side of, newest last.
    async fn list_connections(
        &self,
        tenant: TenantId,
        page: PageRequest,
    ) -> StoreResult<Page<Connection>>;
    /// Every active connection (for the in-memory snapshot).
    async fn active_connections(&self) -> StoreResult<Vec<Connection>>;
    /// The application's bearer token and the webhook secret of a connection, encrypted.
    async fn connection_secrets(&self, id: ConnectionId)
        -> StoreResult<Option<(Vec<u8>, Vec<u8>)>>;
}

/// The webhook outbox (SPEC §6): entries are written with the changes they tell of (by the
/// stores of assets and events); the deliverer leases, records and lists them here.
#[async_trait]
pub trait WebhookOutbox: Send + Sync {
    /// Leases up to `limit` due outbox entries until `lease_until`: for each connection only its
    /// oldest pending entry, so deliveries keep their order; an entry leased by another
    /// instance is skipped until its lease runs out. Oldest first.
    async fn claim_webhooks(
        &self,
        now: UnixMillis,
        lease_until: UnixMillis,
        limit: u32,
    ) -> StoreResult<Vec<PendingWebhook>>;
    /// Records attempts and what became of their entries (`attempt.event_seq`), all in one
    /// transaction: a round of deliveries costs one write.
    async fn finish_webhooks(
        &self,
        finished: &[(WebhookAttempt, WebhookOutcome)],
    ) -> StoreResult<()>;
    /// A connection's delivery attempts, oldest first.
    async fn webhook_attempts(
        &self,
        connection: ConnectionId,
        page: PageRequest,
    ) -> StoreResult<Page<WebhookAttempt>>;
    /// How many outbox entries are still pending (for tests).
    async fn pending_webhooks(&self) -> StoreResult<u64> {
        Ok(self.outbox_state().await?.pending)
    }
    /// Pending and failing entries and the oldest one's age (for the metrics).
    async fn outbox_state(&self) -> StoreResult<OutboxState>;
}

/// What a private token write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredEntry {
    /// `false`: an entry was replaced.
    pub created: bool,
    /// When the entry was first created (kept across replacements).
    pub created_at: UnixMillis,
}

/// Application private tokens (SPEC §7): each integration's key/value store. Every call names
/// the integration; no call reaches another integration's entries.
#[async_trait]
pub trait PrivateTokenStore: Send + Sync {
    /// Creates or replaces the entry if `condition` holds (`PreconditionFailed` when not).
    /// Takes the entry by value, so a value moves into the driver without a copy. A value
    /// [in parts](PrivateTokenInfo::in_parts) comes empty: its parts were written before with
    /// [`put_private_token_part`](Self::put_private_token_part) under the entry's ETag. The
    /// replaced value's parts go in the same transaction.
    async fn put_private_token(
        &self,
        tenant: TenantId,
        token: PrivateToken,
        condition: &WriteCondition,
    ) -> StoreResult<StoredEntry>;
    /// The entry with its value, if it exists.
    async fn get_private_token(
        &self,
        client: ClientId,
        name: &EntryName,
    ) -> StoreResult<PrivateToken>;
    /// Up to `limit` entries after `after`, in (`relatedId`, `key`) order. With a
    /// `value_budget`, values come with the entries that start within that many bytes of the
    /// page (the values before them sum to less); later entries come without.
    async fn list_private_tokens(
        &self,
        client: ClientId,
        filter: &EntryFilter,
        after: Option<&EntryName>,
        limit: u32,
        value_budget: Option<u64>,
    ) -> StoreResult<Vec<(PrivateTokenInfo, Option<String>)>>;
    /// Up to `limit` entries whose values are still plain (written before values were
    /// sealed), oldest first, each with its value (empty when it is in parts).
    async fn unsealed_private_tokens(&self, limit: u32) -> StoreResult<Vec<PrivateToken>>;
    /// Replaces the plain value of `info`'s version by its sealed form: `whole` for the value
    /// kept with the entry (empty when in parts), `parts` in order for one in parts. `false`
    /// when that version is gone or sealed already (another instance got there first).
    async fn seal_private_token(
        &self,
        info: &PrivateTokenInfo,
        whole: String,
        parts: Vec<String>,
    ) -> StoreResult<bool>;
    /// Writes part `part` (0, 1, …) of a value to come under `etag`.
    async fn put_private_token_part(
        &self,
        client: ClientId,
        etag: &str,
        part: u32,
        text: String,
        at: UnixMillis,
    ) -> StoreResult<()>;
    /// Part `part` of the value stored under `etag`; `None` past the last part, or when a
    /// write replaced that value meanwhile.
    async fn private_token_part(
        &self,
        client: ClientId,
        etag: &str,
        part: u32,
    ) -> StoreResult<Option<String>>;
    /// Removes the parts of a value whose write did not finish.
    async fn discard_private_token_parts(&self, client: ClientId, etag: &str) -> StoreResult<()>;
    /// Removes parts written before `before` that no entry refers to (writes cut short by a
    /// stop); returns how many.
    async fn sweep_private_token_parts(&self, before: UnixMillis) -> StoreResult<u64>;
    /// Deletes one entry if `condition` holds (`Always`: `NotFound` when there is none).
    async fn delete_private_token(
        &self,
        client: ClientId,
        name: &EntryName,
        condition: &WriteCondition,
    ) -> StoreResult<()>;
    /// Deletes every entry of one `relatedId`; returns how many there were.
    async fn delete_related_private_tokens(
        &self,
        client: ClientId,
        related_id: &str,
    ) -> StoreResult<u64>;
}

/// The ids of JWT assertions already used (RFC 7523 §3 "jti"), shared by every instance.
#[async_trait]
pub trait AssertionStore: Send + Sync {
    /// Records that `issuer` used `jti`; `false` if it was used before. Kept until `expires_at`
    /// (seconds), after which the assertion is refused as expired anyway.
    async fn claim_assertion(&self, issuer: &str, jti: &str, expires_at: i64) -> StoreResult<bool>;
    /// Forgets assertion ids that expired before `before_seconds`; the number removed.
    async fn prune_assertions(&self, before_seconds: i64) -> StoreResult<u64>;
}

/// Assets and their events (SPEC §5). Lists run in `seq` order, so a page token (the last `seq`
/// seen) neither skips nor repeats an asset while others write.
#[async_trait]
pub trait AssetStore: Send + Sync {
    /// Stores a new asset and returns it with its `seq`.
    /// Writes the asset and, in the same transaction, `change` into the webhook outbox of every
    /// connection that hears of it (as do the other writes here).
    async fn create_asset(&self, asset: &Asset, change: Option<&DataChange>) -> StoreResult<Asset>;
    /// The tenant's asset with this id.
    async fn get_asset(&self, tenant: TenantId, id: AssetId) -> StoreResult<Asset>;
    /// The asset types (`arc_display_type`) the tenant's assets have, in order, at most
    /// `limit` of them: what a policy form suggests. One index seek per type.
    async fn asset_types(&self, tenant: TenantId, limit: u32) -> StoreResult<Vec<String>>;
    /// Assets after `page.after` whose type is one of `types` (`None`: any type).
    async fn list_assets(
        &self,
        tenant: TenantId,
        types: Option<&[String]>,
        page: PageRequest,
    ) -> StoreResult<Page<Asset>>;
    /// Writes `asset` if it has not changed since `expected_updated_at`; `Conflict` otherwise,
    /// so two concurrent patches cannot silently undo each other.
    async fn update_asset(
        &self,
        asset: &Asset,
        expected_updated_at: UnixMillis,
        change: Option<&DataChange>,
    ) -> StoreResult<()>;
    /// Deletes the asset and its events.
    async fn delete_asset(
        &self,
        tenant: TenantId,
        id: AssetId,
        change: Option<&DataChange>,
    ) -> StoreResult<()>;
    /// Appends an event (the asset must exist in the tenant) and returns it with its `seq`.
    async fn append_event(
        &self,
        event: &AssetEvent,
        change: Option<&DataChange>,
    ) -> StoreResult<AssetEvent>;
    /// A page of the events of the tenant's asset, oldest first.
    async fn list_events(
        &self,
        tenant: TenantId,
        asset: AssetId,
        page: PageRequest,
    ) -> StoreResult<Page<AssetEvent>>;
}

/// Access policies.
#[async_trait]
pub trait AccessPolicyStore: Send + Sync {
    /// Stores a new policy and returns it with its `seq`.
    async fn create_policy(&self, policy: &AccessPolicy) -> StoreResult<AccessPolicy>;
    /// The tenant's policy with this id.
    async fn get_policy(&self, tenant: TenantId, id: AccessPolicyId) -> StoreResult<AccessPolicy>;
    /// A page of the tenant's policies, in creation order.
    async fn list_policies(
        &self,
        tenant: TenantId,
        page: PageRequest,
    ) -> StoreResult<Page<AccessPolicy>>;
    /// Saves a changed policy of its tenant.
    async fn update_policy(&self, policy: &AccessPolicy) -> StoreResult<()>;
    /// Removes the tenant's policy.
    async fn delete_policy(&self, tenant: TenantId, id: AccessPolicyId) -> StoreResult<()>;
    /// Every policy of the tenant, for evaluation.
    async fn tenant_policies(&self, tenant: TenantId) -> StoreResult<Vec<AccessPolicy>>;
}

/// Everything the server needs from storage, in one object.
#[async_trait]
pub trait Storage:
    TenantStore
    + IntegrationStore
    + UserStore
    + UserLinkStore
    + ConsoleSessionStore
    + SigningKeyStore
    + RevocationStore
    + ChangeFeed
    + AuditStore
    + AssetStore
    + AccessPolicyStore
    + AssertionStore
    + PrivateTokenStore
    + AppAuthorizationStore
    + ConnectionStore
    + WebhookOutbox
    + ConsentStore
    + FederationStore
    + ResourceServerStore
    + RefreshTokenStore
    + EventStreamStore
{
    /// `sqlite` or `postgres`.
    fn backend_name(&self) -> &'static str;
    /// A cheap check that the database answers.
    async fn ping(&self) -> StoreResult<()>;
}

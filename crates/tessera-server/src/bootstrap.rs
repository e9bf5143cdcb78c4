//! The operator tenant (SPEC §1, §4.1): made once, at first start, with an admin user and an
//! admin integration that holds `admin` and `platform`. The binary decides where the
//! credentials come from; this is the one place that makes the tenant, so tests make theirs the
//! same way.

use tessera_core::crypto::hash_password;
use tessera_core::id::{ClientId, Secret, TenantId, UserId};
use tessera_core::model::UnixMillis;
use tessera_core::model::{
    ClientSecretRecord, Integration, Role, Tenant, Tier, User, DEFAULT_TOKEN_TTL_SECONDS,
};
use tessera_core::ports::{Change, Storage, StoreError};
use tessera_core::scope::{Scope, ScopeSet};

/// What the operator tenant starts with.
pub struct OperatorSeed {
    pub tenant_id: TenantId,
    pub client_id: ClientId,
    pub client_secret: Secret,
    /// Lower-case, already checked.
    pub email: String,
    pub password: Secret,
}

/// Why the operator tenant could not be made.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("password hashing failed: {0}")]
    Password(String),
}

/// Makes the operator tenant, its admin user and admin integration. `Ok(false)` when an
/// operator tenant exists already (another instance on the same database won the race).
pub async fn create_operator_tenant(
    storage: &dyn Storage,
    now: UnixMillis,
    seed: &OperatorSeed,
    rng: &dyn tessera_core::ports::Rng,
) -> Result<bool, BootstrapError> {
    let tenant = Tenant {
        operator: true,
        ..Tenant::new(seed.tenant_id, "Operator", Tier::Enterprise, now)
            .map_err(|e| BootstrapError::Store(StoreError::Backend(e.to_string())))?
    };
    match storage.create_tenant(&tenant).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => return Ok(false),
        Err(e) => return Err(e.into()),
    }
    let password_hash = hash_password(seed.password.expose(), rng)
        .map_err(|e| BootstrapError::Password(e.to_string()))?;
    storage
        .create_user(&User {
            id: UserId::generate(rng),
            tenant_id: tenant.id,
            email: seed.email.clone(),
            display_name: "Administrator".into(),
            role: Role::Admin,
            password_hash,
            created_at: now,
            updated_at: now,
            sessions_not_before: 0,
        })
        .await?;
    let integration = Integration {
        client_id: seed.client_id,
        tenant_id: tenant.id,
        display_name: "Administrator".into(),
        scopes: ScopeSet::from_iter(Scope::ALL),
        custom_claims: Default::default(),
        token_ttl_seconds: DEFAULT_TOKEN_TTL_SECONDS,
        refresh: Default::default(),
        jwks_uri: None,
        redirect_uris: Vec::new(),
        public_client: false,
        dpop_bound_access_tokens: false,
        app: None,
        profile: Default::default(),
        origin: Default::default(),
        created_at: now,
        updated_at: now,
    };
    let record = ClientSecretRecord::for_secret(seed.client_id, &seed.client_secret, now);
    storage
        .create_integration(&integration, Some(&record))
        .await?;
    // Instances that lost the race have loaded their snapshots already: tell them.
    storage.publish(now, &Change::Tenant(tenant.id)).await?;
    storage
        .publish(now, &Change::Client(seed.client_id))
        .await?;
    Ok(true)
}

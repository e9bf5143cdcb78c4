//! What the grants' unit tests share: an integration, tenants, a user, a key and a context.

use std::collections::BTreeMap;

use super::IssueContext;
use crate::client_auth::RegisteredClient;
use crate::id::{ClientId, TenantId, UserId};
use crate::model::{Integration, Role, Tenant, Tier, User};
use crate::ports::OsRng;
use crate::scope::ScopeSet;
use crate::token::{KeyRing, SigningAlg, SigningKey};

/// "2026-01-01T00:00:00Z", in seconds.
pub const NOW: i64 = 1_767_225_600;

/// An integration of `tenant` that may have `scopes`; its tokens live 600 s.
pub fn client(tenant: TenantId, scopes: &str) -> RegisteredClient {
    RegisteredClient {
        integration: Integration {
            client_id: ClientId::random(),
            tenant_id: tenant,
            display_name: "reader".into(),
            scopes: ScopeSet::parse(scopes).unwrap(),
            custom_claims: BTreeMap::from([("department".into(), "ops".into())]),
            token_ttl_seconds: 600,
            refresh: Default::default(),
            jwks_uri: None,
            redirect_uris: Vec::new(),
            public_client: false,
            dpop_bound_access_tokens: false,
            app: None,
            profile: Default::default(),
            origin: Default::default(),
            created_at: 0,
            updated_at: 0,
        },
        tier: Tier::Team,
        secrets: vec![],
        keys: vec![],
    }
}

pub fn tenant(disabled: bool) -> Tenant {
    Tenant {
        id: TenantId::random(),
        display_name: "t".into(),
        tier: Tier::Enterprise,
        created_at: 0,
        operator: false,
        disabled,
        tokens_not_after: 0,
        client_registration: Default::default(),
    }
}

pub fn user(tenant: TenantId) -> User {
    User {
        id: UserId::random(),
        tenant_id: tenant,
        email: "ada@example.com".into(),
        display_name: "Ada".into(),
        role: Role::Member,
        password_hash: String::new(),
        created_at: 0,
        updated_at: 0,
        sessions_not_before: 0,
    }
}

pub fn ring() -> KeyRing {
    let (key, _) = SigningKey::generate(SigningAlg::EdDsa, &OsRng).unwrap();
    KeyRing::new(vec![key]).unwrap()
}

pub fn ctx(ring: &KeyRing) -> IssueContext<'_> {
    IssueContext {
        issuer: "http://127.0.0.1:8080",
        audience: "http://127.0.0.1:8080",
        now_seconds: NOW,
        key: ring.current(),
        rng: &OsRng,
        federated: None,
        dpop_jkt: None,
    }
}

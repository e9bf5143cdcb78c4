//! Row structs and their conversion into the domain model. A row that does not convert is
//! reported as a backend failure: the database holds something Tessera did not write.

use std::collections::BTreeMap;

use tessera_core::id::{AccessPolicyId, AssetId, ClientId, TenantId, UserId};
use tessera_core::model::{
    AppAccess, AppAuthorization, AppProfile, AppVersion, Asset, AssetEvent, ClientKey,
    ClientOrigin, ClientRegistrationPolicy, ClientSecretRecord, Connection, ConnectionStatus,
    Consent, ConsentUser, FederatedCredential, Integration, RegistrationMode, ResourceServer, Role,
    Stage, Tenant, Tier, TrustedIssuer, User, WebhookAttempt,
};
use tessera_core::policy::AccessPolicy;
use tessera_core::ports::{
    AuditEntry, AuditRecord, Change, ChangeRecord, RevokedToken, StoreError, StoredSigningKey,
};
use tessera_core::scope::ScopeSet;

fn corrupt(what: &str) -> StoreError {
    StoreError::Backend(format!("stored {what} does not parse"))
}

#[derive(sqlx::FromRow)]
pub(crate) struct TenantRow {
    pub seq: i64,
    pub id: String,
    pub display_name: String,
    pub tier: String,
    pub created_at: i64,
    pub operator: i64,
    pub disabled: i64,
    pub tokens_not_after: i64,
    pub client_registration: String,
    pub client_metadata_documents: i64,
    pub approved_client_domains: String,
}

/// The columns `TenantRow` reads.
pub(crate) const TENANT_COLUMNS: &str =
    "seq, id, display_name, tier, created_at, operator, disabled, tokens_not_after, \
     client_registration, client_metadata_documents, approved_client_domains";

impl TryFrom<TenantRow> for Tenant {
    type Error = StoreError;
    fn try_from(r: TenantRow) -> Result<Self, StoreError> {
        Ok(Tenant {
            id: r.id.parse().map_err(|_| corrupt("tenant id"))?,
            display_name: r.display_name,
            tier: Tier::parse(&r.tier).ok_or_else(|| corrupt("tier"))?,
            created_at: r.created_at,
            operator: r.operator != 0,
            disabled: r.disabled != 0,
            tokens_not_after: r.tokens_not_after,
            client_registration: ClientRegistrationPolicy {
                registration: RegistrationMode::parse(&r.client_registration)
                    .map_err(|_| corrupt("client_registration"))?,
                metadata_documents: r.client_metadata_documents != 0,
                approved_domains: serde_json::from_str(&r.approved_client_domains)
                    .map_err(|_| corrupt("approved_client_domains"))?,
            },
        })
    }
}

pub(crate) const INTEGRATION_COLUMNS: &str = "seq, client_id, tenant_id, display_name, scopes, \
     custom_claims, token_ttl_seconds, jwks_uri, app_name, app_version, stage, tms_enabled, \
     authentication_url, webhook_url, description, homepage_url, created_at, updated_at, \
     redirect_uris, public_client, refresh_idle_seconds, refresh_absolute_seconds, origin, \
     metadata_document_url, dpop_bound_access_tokens";

#[derive(sqlx::FromRow)]
pub(crate) struct IntegrationRow {
    pub seq: i64,
    pub client_id: String,
    pub tenant_id: String,
    pub display_name: String,
    pub scopes: String,
    pub custom_claims: String,
    pub token_ttl_seconds: i64,
    pub jwks_uri: Option<String>,
    pub app_name: Option<String>,
    pub app_version: Option<String>,
    pub stage: Option<String>,
    pub tms_enabled: i64,
    pub authentication_url: Option<String>,
    pub webhook_url: Option<String>,
    pub description: Option<String>,
    pub homepage_url: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub redirect_uris: String,
    pub public_client: i64,
    pub refresh_idle_seconds: i64,
    pub refresh_absolute_seconds: i64,
    pub origin: String,
    pub metadata_document_url: Option<String>,
    pub dpop_bound_access_tokens: i64,
}

impl TryFrom<IntegrationRow> for Integration {
    type Error = StoreError;
    fn try_from(r: IntegrationRow) -> Result<Self, StoreError> {
        let custom_claims: BTreeMap<String, String> =
            serde_json::from_str(&r.custom_claims).map_err(|_| corrupt("custom claims"))?;
        Ok(Integration {
            client_id: r.client_id.parse().map_err(|_| corrupt("client_id"))?,
            tenant_id: r.tenant_id.parse().map_err(|_| corrupt("tenant id"))?,
            display_name: r.display_name,
            scopes: ScopeSet::parse(&r.scopes).map_err(|_| corrupt("scopes"))?,
            custom_claims,
            token_ttl_seconds: u32::try_from(r.token_ttl_seconds).map_err(|_| corrupt("ttl"))?,
            jwks_uri: r.jwks_uri,
            redirect_uris: serde_json::from_str(&r.redirect_uris)
                .map_err(|_| corrupt("redirect_uris"))?,
            public_client: r.public_client != 0,
            dpop_bound_access_tokens: r.dpop_bound_access_tokens != 0,
            refresh: tessera_core::model::RefreshLifetimes {
                idle_seconds: u32::try_from(r.refresh_idle_seconds)
                    .map_err(|_| corrupt("refresh_idle_seconds"))?,
                absolute_seconds: u32::try_from(r.refresh_absolute_seconds)
                    .map_err(|_| corrupt("refresh_absolute_seconds"))?,
            },
            app: match (r.app_name, r.app_version, r.stage) {
                (Some(app_name), Some(app_version), Some(stage)) => Some(AppVersion {
                    app_name,
                    app_version,
                    stage: Stage::parse(&stage).ok_or_else(|| corrupt("stage"))?,
                    tms_enabled: r.tms_enabled != 0,
                }),
                _ => None,
            },
            profile: AppProfile {
                authentication_url: r.authentication_url,
                webhook_url: r.webhook_url,
                description: r.description,
                homepage_url: r.homepage_url,
            },
            origin: ClientOrigin::from_stored(&r.origin, r.metadata_document_url)
                .ok_or_else(|| corrupt("origin"))?,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SecretRow {
    pub client_id: String,
    pub hash: Vec<u8>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
}

impl TryFrom<SecretRow> for ClientSecretRecord {
    type Error = StoreError;
    fn try_from(r: SecretRow) -> Result<Self, StoreError> {
        Ok(ClientSecretRecord {
            client_id: r.client_id.parse().map_err(|_| corrupt("client_id"))?,
            hash: r.hash.try_into().map_err(|_| corrupt("secret hash"))?,
            created_at: r.created_at,
            expires_at: r.expires_at,
        })
    }
}

pub(crate) const USER_COLUMNS: &str = "seq, id, tenant_id, email, display_name, role, \
     password_hash, created_at, updated_at, sessions_not_before";

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    pub seq: i64,
    pub id: String,
    pub tenant_id: String,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub password_hash: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub sessions_not_before: i64,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(r: UserRow) -> Result<Self, StoreError> {
        Ok(User {
            id: r.id.parse::<UserId>().map_err(|_| corrupt("user id"))?,
            tenant_id: r
                .tenant_id
                .parse::<TenantId>()
                .map_err(|_| corrupt("tenant id"))?,
            email: r.email,
            display_name: r.display_name,
            role: Role::parse(&r.role).ok_or_else(|| corrupt("role"))?,
            password_hash: r.password_hash,
            created_at: r.created_at,
            updated_at: r.updated_at,
            sessions_not_before: r.sessions_not_before,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SigningKeyRow {
    pub kid: String,
    pub alg: String,
    pub encrypted_pkcs8: Vec<u8>,
    pub created_at: i64,
    pub retired_at: Option<i64>,
    pub verify_until: Option<i64>,
}

impl From<SigningKeyRow> for StoredSigningKey {
    fn from(r: SigningKeyRow) -> Self {
        StoredSigningKey {
            kid: r.kid,
            alg: r.alg,
            encrypted_pkcs8: r.encrypted_pkcs8,
            created_at: r.created_at,
            retired_at: r.retired_at,
            verify_until: r.verify_until,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RevokedRow {
    pub jti: String,
    pub expires_at: i64,
}

impl From<RevokedRow> for RevokedToken {
    fn from(r: RevokedRow) -> Self {
        RevokedToken {
            jti: r.jti,
            expires_at: r.expires_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ChangeRow {
    pub id: i64,
    pub at: i64,
    pub kind: String,
    pub subject: String,
    pub extra: Option<i64>,
}

/// How a change is written: kind, subject, extra.
pub(crate) fn change_columns(change: &Change) -> (&'static str, String, Option<i64>) {
    match change {
        Change::Client(id) => ("client", id.to_string(), None),
        Change::TokenRevoked(t) => ("revoke", t.jti.clone(), Some(t.expires_at)),
        Change::SigningKeys => ("keys", String::new(), None),
        Change::Tenant(id) => ("tenant", id.to_string(), None),
        Change::AccessPolicies(id) => ("policies", id.to_string(), None),
        Change::People(id) => ("people", id.to_string(), None),
        Change::AppAuthorizations(id) => ("app_authorizations", id.to_string(), None),
        Change::Connection(id) => ("connection", id.to_string(), None),
        Change::Federation(id) => ("federation", id.to_string(), None),
        Change::ResourceServers(id) => ("resource_servers", id.to_string(), None),
    }
}

impl TryFrom<ChangeRow> for ChangeRecord {
    type Error = StoreError;
    fn try_from(r: ChangeRow) -> Result<Self, StoreError> {
        let change = match r.kind.as_str() {
            "client" => Change::Client(
                r.subject
                    .parse::<ClientId>()
                    .map_err(|_| corrupt("change subject"))?,
            ),
            "revoke" => Change::TokenRevoked(RevokedToken {
                jti: r.subject,
                expires_at: r.extra.unwrap_or_default(),
            }),
            "keys" => Change::SigningKeys,
            "tenant" => Change::Tenant(r.subject.parse().map_err(|_| corrupt("change subject"))?),
            "policies" => {
                Change::AccessPolicies(r.subject.parse().map_err(|_| corrupt("change subject"))?)
            }
            "app_authorizations" => {
                Change::AppAuthorizations(r.subject.parse().map_err(|_| corrupt("change subject"))?)
            }
            "people" => Change::People(r.subject.parse().map_err(|_| corrupt("change subject"))?),
            "connection" => {
                Change::Connection(r.subject.parse().map_err(|_| corrupt("change subject"))?)
            }
            "federation" => {
                Change::Federation(r.subject.parse().map_err(|_| corrupt("change subject"))?)
            }
            "resource_servers" => {
                Change::ResourceServers(r.subject.parse().map_err(|_| corrupt("change subject"))?)
            }
            _ => return Err(corrupt("change kind")),
        };
        Ok(ChangeRecord {
            id: r.id,
            at: r.at,
            change,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AuditRow {
    pub seq: i64,
    pub tenant_id: String,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = StoreError;
    fn try_from(r: AuditRow) -> Result<Self, StoreError> {
        Ok(AuditEntry {
            seq: r.seq,
            record: AuditRecord {
                tenant_id: r.tenant_id.parse().map_err(|_| corrupt("tenant id"))?,
                at: r.at,
                actor: r.actor,
                action: r.action,
                target: r.target,
                detail: r.detail,
            },
        })
    }
}

/// Converts a page of rows fetched with `LIMIT size + 1`: the extra row says there is a next
/// page, which starts after the last row kept.
#[derive(sqlx::FromRow)]
pub(crate) struct AssetRow {
    pub seq: i64,
    pub id: String,
    pub tenant_id: String,
    pub attributes: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl TryFrom<AssetRow> for Asset {
    type Error = StoreError;
    fn try_from(r: AssetRow) -> Result<Self, StoreError> {
        Ok(Asset {
            id: AssetId::from_uuid(r.id.parse().map_err(|_| corrupt("asset id"))?),
            tenant_id: r.tenant_id.parse().map_err(|_| corrupt("tenant id"))?,
            seq: r.seq,
            attributes: serde_json::from_str(&r.attributes).map_err(|_| corrupt("attributes"))?,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct EventRow {
    pub seq: i64,
    pub id: String,
    pub asset_id: String,
    pub tenant_id: String,
    pub operation: String,
    pub attributes: String,
    pub principal: String,
    pub at: i64,
}

impl TryFrom<EventRow> for AssetEvent {
    type Error = StoreError;
    fn try_from(r: EventRow) -> Result<Self, StoreError> {
        Ok(AssetEvent {
            id: r.id.parse().map_err(|_| corrupt("event id"))?,
            asset_id: AssetId::from_uuid(r.asset_id.parse().map_err(|_| corrupt("asset id"))?),
            tenant_id: r.tenant_id.parse().map_err(|_| corrupt("tenant id"))?,
            seq: r.seq,
            operation: r.operation,
            attributes: serde_json::from_str(&r.attributes).map_err(|_| corrupt("attributes"))?,
            principal: r.principal,
            at: r.at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct PolicyRow {
    pub seq: i64,
    pub id: String,
    pub tenant_id: String,
    pub display_name: String,
    pub description: String,
    pub rules: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl TryFrom<PolicyRow> for AccessPolicy {
    type Error = StoreError;
    fn try_from(r: PolicyRow) -> Result<Self, StoreError> {
        Ok(AccessPolicy {
            id: AccessPolicyId::from_uuid(r.id.parse().map_err(|_| corrupt("policy id"))?),
            tenant_id: r.tenant_id.parse().map_err(|_| corrupt("tenant id"))?,
            seq: r.seq,
            display_name: r.display_name,
            description: r.description,
            rules: serde_json::from_str(&r.rules).map_err(|_| corrupt("policy rules"))?,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ClientKeyRow {
    pub client_id: String,
    pub kid: String,
    pub alg: String,
    pub jwk: String,
    pub not_after: Option<i64>,
    pub created_at: i64,
}

impl TryFrom<ClientKeyRow> for ClientKey {
    type Error = StoreError;
    fn try_from(r: ClientKeyRow) -> Result<Self, StoreError> {
        Ok(ClientKey {
            kid: r.kid,
            client_id: r.client_id.parse().map_err(|_| corrupt("client_id"))?,
            alg: tessera_core::token::SigningAlg::parse(&r.alg)
                .ok_or_else(|| corrupt("key alg"))?,
            jwk: serde_json::from_str(&r.jwk).map_err(|_| corrupt("jwk"))?,
            not_after: r.not_after,
            created_at: r.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ConsentRow {
    pub seq: i64,
    pub id: String,
    pub tenant_id: String,
    pub client_id: String,
    pub user_key: String,
    pub user_email: String,
    pub scopes: String,
    pub granted_by: String,
    pub created_at: i64,
    pub resources: String,
}

impl TryFrom<ConsentRow> for Consent {
    type Error = StoreError;
    fn try_from(r: ConsentRow) -> Result<Self, StoreError> {
        let user = if r.user_key == "*" {
            ConsentUser::All
        } else {
            ConsentUser::User {
                id: r.user_key.parse().map_err(|_| corrupt("consent user"))?,
                email: r.user_email,
            }
        };
        Ok(Consent {
            id: r.id.parse().map_err(|_| corrupt("consent id"))?,
            tenant_id: r.tenant_id.parse().map_err(|_| corrupt("tenant id"))?,
            client_id: r.client_id.parse().map_err(|_| corrupt("client_id"))?,
            user,
            scopes: ScopeSet::parse(&r.scopes).map_err(|_| corrupt("scopes"))?,
            granted_by: r.granted_by,
            created_at: r.created_at,
            resources: serde_json::from_str(&r.resources)
                .map_err(|_| corrupt("consent resources"))?,
        })
    }
}

/// How a consent's user is stored: (user_key, user_email).
pub(crate) fn consent_user_columns(user: &ConsentUser) -> (String, String) {
    match user {
        ConsentUser::All => ("*".into(), String::new()),
        ConsentUser::User { id, email } => (id.to_string(), email.clone()),
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AppAuthorizationRow {
    pub seq: i64,
    pub id: String,
    pub tenant_id: String,
    pub app_name: String,
    pub access: String,
    pub scopes: String,
    pub granted_by: String,
    pub created_at: i64,
}

impl TryFrom<AppAuthorizationRow> for AppAuthorization {
    type Error = StoreError;
    fn try_from(r: AppAuthorizationRow) -> Result<Self, StoreError> {
        Ok(AppAuthorization {
            id: r.id.parse().map_err(|_| corrupt("app authorization id"))?,
            tenant_id: r.tenant_id.parse().map_err(|_| corrupt("tenant id"))?,
            app_name: r.app_name,
            access: AppAccess::parse(&r.access).ok_or_else(|| corrupt("access"))?,
            scopes: ScopeSet::parse(&r.scopes).map_err(|_| corrupt("scopes"))?,
            granted_by: r.granted_by,
            created_at: r.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ResourceServerRow {
    pub seq: i64,
    pub id: String,
    pub tenant_id: String,
    pub identifier: String,
    pub display_name: String,
    pub scopes: String,
    pub created_at: i64,
    pub updated_at: i64,
}

pub(crate) const REFRESH_FAMILY_COLUMNS: &str = "id, tenant_id, client_id, user_id, scope, \
     resource, token_hash, generation, created_at, last_used_at, idle_expires_at, \
     absolute_expires_at, dpop_jkt";

#[derive(sqlx::FromRow)]
pub(crate) struct RefreshFamilyRow {
    pub id: String,
    pub tenant_id: String,
    pub client_id: String,
    pub user_id: String,
    pub scope: String,
    pub resource: String,
    pub token_hash: Vec<u8>,
    pub generation: i64,
    pub created_at: i64,
    pub last_used_at: i64,
    pub idle_expires_at: i64,
    pub absolute_expires_at: i64,
    pub dpop_jkt: Option<String>,
}

impl TryFrom<RefreshFamilyRow> for tessera_core::model::RefreshFamily {
    type Error = StoreError;
    fn try_from(r: RefreshFamilyRow) -> Result<Self, StoreError> {
        Ok(tessera_core::model::RefreshFamily {
            id: r.id,
            tenant_id: r.tenant_id.parse().map_err(|_| corrupt("tenant id"))?,
            client_id: r.client_id.parse().map_err(|_| corrupt("client_id"))?,
            user_id: r.user_id.parse().map_err(|_| corrupt("user id"))?,
            scope: ScopeSet::parse(&r.scope).map_err(|_| corrupt("refresh scope"))?,
            resource: r.resource,
            token_hash: r
                .token_hash
                .try_into()
                .map_err(|_| corrupt("refresh token hash"))?,
            generation: u32::try_from(r.generation).map_err(|_| corrupt("generation"))?,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            idle_expires_at: r.idle_expires_at,
            absolute_expires_at: r.absolute_expires_at,
            dpop_jkt: r.dpop_jkt,
        })
    }
}

impl TryFrom<ResourceServerRow> for ResourceServer {
    type Error = StoreError;
    fn try_from(r: ResourceServerRow) -> Result<Self, StoreError> {
        Ok(ResourceServer {
            id: r.id.parse().map_err(|_| corrupt("resource server id"))?,
            tenant_id: r.tenant_id.parse().map_err(|_| corrupt("tenant id"))?,
            identifier: r.identifier,
            display_name: r.display_name,
            scopes: ScopeSet::parse(&r.scopes).map_err(|_| corrupt("resource server scopes"))?,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

pub(crate) const TRUSTED_ISSUER_COLUMNS: &str =
    "seq, id, tenant_id, issuer, jwks_uri, audiences, max_token_lifetime_seconds, created_at";
pub(crate) const FEDERATED_CREDENTIAL_COLUMNS: &str =
    "seq, id, tenant_id, client_id, issuer, subject, claims, created_at";

#[derive(sqlx::FromRow)]
pub(crate) struct TrustedIssuerRow {
    pub seq: i64,
    pub id: String,
    pub tenant_id: String,
    pub issuer: String,
    pub jwks_uri: Option<String>,
    pub audiences: String,
    pub max_token_lifetime_seconds: i64,
    pub created_at: i64,
}

impl TryFrom<TrustedIssuerRow> for TrustedIssuer {
    type Error = StoreError;
    fn try_from(r: TrustedIssuerRow) -> Result<Self, StoreError> {
        Ok(TrustedIssuer {
            id: r.id.parse().map_err(|_| corrupt("trusted issuer id"))?,
            tenant_id: r.tenant_id.parse().map_err(|_| corrupt("tenant id"))?,
            issuer: r.issuer,
            jwks_uri: r.jwks_uri,
            audiences: serde_json::from_str(&r.audiences).map_err(|_| corrupt("audiences"))?,
            max_token_lifetime_seconds: u32::try_from(r.max_token_lifetime_seconds)
                .map_err(|_| corrupt("max_token_lifetime_seconds"))?,
            created_at: r.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct FederatedCredentialRow {
    pub seq: i64,
    pub id: String,
    pub tenant_id: String,
    pub client_id: String,
    pub issuer: String,
    pub subject: String,
    pub claims: String,
    pub created_at: i64,
}

impl TryFrom<FederatedCredentialRow> for FederatedCredential {
    type Error = StoreError;
    fn try_from(r: FederatedCredentialRow) -> Result<Self, StoreError> {
        Ok(FederatedCredential {
            id: r
                .id
                .parse()
                .map_err(|_| corrupt("federated credential id"))?,
            tenant_id: r.tenant_id.parse().map_err(|_| corrupt("tenant id"))?,
            client_id: r.client_id.parse().map_err(|_| corrupt("client id"))?,
            issuer: r.issuer,
            subject: r.subject,
            claims: serde_json::from_str(&r.claims).map_err(|_| corrupt("claims"))?,
            created_at: r.created_at,
        })
    }
}

/// The columns `ConnectionRow` reads.
pub(crate) const CONNECTION_COLUMNS: &str = "seq, id, owner_tenant_id, client_id, \
     client_tenant_id, scopes, state, status, granted_by, created_at, updated_at";

#[derive(sqlx::FromRow)]
pub(crate) struct ConnectionRow {
    pub seq: i64,
    pub id: String,
    pub owner_tenant_id: String,
    pub client_id: String,
    pub client_tenant_id: String,
    pub scopes: String,
    pub state: String,
    pub status: String,
    pub granted_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl TryFrom<ConnectionRow> for Connection {
    type Error = StoreError;
    fn try_from(r: ConnectionRow) -> Result<Self, StoreError> {
        Ok(Connection {
            id: r.id.parse().map_err(|_| corrupt("connection id"))?,
            owner_tenant_id: r
                .owner_tenant_id
                .parse()
                .map_err(|_| corrupt("tenant id"))?,
            client_id: r.client_id.parse().map_err(|_| corrupt("client_id"))?,
            client_tenant_id: r
                .client_tenant_id
                .parse()
                .map_err(|_| corrupt("tenant id"))?,
            scopes: ScopeSet::parse(&r.scopes).map_err(|_| corrupt("scopes"))?,
            state: r.state,
            status: ConnectionStatus::parse(&r.status).ok_or_else(|| corrupt("status"))?,
            granted_by: r.granted_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct WebhookAttemptRow {
    pub seq: i64,
    pub connection_id: String,
    pub event_seq: i64,
    pub kind: String,
    pub attempt: i64,
    pub at: i64,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

impl TryFrom<WebhookAttemptRow> for WebhookAttempt {
    type Error = StoreError;
    fn try_from(r: WebhookAttemptRow) -> Result<Self, StoreError> {
        Ok(WebhookAttempt {
            seq: r.seq,
            connection_id: r
                .connection_id
                .parse()
                .map_err(|_| corrupt("connection id"))?,
            event_seq: r.event_seq,
            kind: r.kind,
            attempt: u32::try_from(r.attempt).unwrap_or_default(),
            at: r.at,
            status: r.status_code.and_then(|s| u16::try_from(s).ok()),
            error: r.error,
            duration_ms: u32::try_from(r.duration_ms).unwrap_or_default(),
        })
    }
}

pub(crate) fn into_page<R, T>(
    mut rows: Vec<R>,
    size: u32,
    seq: impl Fn(&R) -> i64,
) -> Result<tessera_core::page::Page<T>, StoreError>
where
    T: TryFrom<R, Error = StoreError>,
{
    let more = rows.len() > size as usize;
    rows.truncate(size as usize);
    let next_after = if more { rows.last().map(&seq) } else { None };
    let items = rows
        .into_iter()
        .map(T::try_from)
        .collect::<Result<_, _>>()?;
    Ok(tessera_core::page::Page { items, next_after })
}

pub(crate) const POLICY_COLUMNS: &str =
    "seq, id, tenant_id, display_name, description, rules, created_at, updated_at";
pub(crate) const CONSENT_COLUMNS: &str =
    "seq, id, tenant_id, client_id, user_key, user_email, scopes, granted_by, created_at, resources";
pub(crate) const RESOURCE_SERVER_COLUMNS: &str =
    "seq, id, tenant_id, identifier, display_name, scopes, created_at, updated_at";
pub(crate) const APP_AUTHORIZATION_COLUMNS: &str =
    "seq, id, tenant_id, app_name, access, scopes, granted_by, created_at";
pub(crate) const ASSET_COLUMNS: &str = "seq, id, tenant_id, attributes, created_at, updated_at";

/// A table of rows that belong to a tenant: its name, its columns in the row's order and the
/// column that names one row within the tenant. The keyset listing and the reads and deletes
/// by key below are written once for all of them.
pub(crate) trait TenantTable {
    const TABLE: &'static str;
    const COLUMNS: &'static str;
    const KEY: &'static str;
    /// The row's keyset position.
    fn seq(&self) -> i64;
}

macro_rules! tenant_table {
    ($row:ty, $table:literal, $columns:expr, $key:literal) => {
        impl TenantTable for $row {
            const TABLE: &'static str = $table;
            const COLUMNS: &'static str = $columns;
            const KEY: &'static str = $key;
            fn seq(&self) -> i64 {
                self.seq
            }
        }
    };
}

tenant_table!(
    IntegrationRow,
    "integrations",
    INTEGRATION_COLUMNS,
    "client_id"
);
tenant_table!(UserRow, "users", USER_COLUMNS, "id");
tenant_table!(PolicyRow, "access_policies", POLICY_COLUMNS, "id");
tenant_table!(ConsentRow, "consents", CONSENT_COLUMNS, "id");
tenant_table!(
    ResourceServerRow,
    "resource_servers",
    RESOURCE_SERVER_COLUMNS,
    "id"
);
tenant_table!(
    AppAuthorizationRow,
    "app_authorizations",
    APP_AUTHORIZATION_COLUMNS,
    "id"
);
tenant_table!(AssetRow, "assets", ASSET_COLUMNS, "id");
tenant_table!(
    TrustedIssuerRow,
    "trusted_issuers",
    TRUSTED_ISSUER_COLUMNS,
    "id"
);
tenant_table!(
    FederatedCredentialRow,
    "federated_credentials",
    FEDERATED_CREDENTIAL_COLUMNS,
    "id"
);

/// Every row of one tenant's, or of all tenants' (`None`, for the snapshots), in `seq` order.
pub(crate) async fn tenant_rows<DB, R, T>(
    pool: &sqlx::Pool<DB>,
    tenant: Option<tessera_core::id::TenantId>,
) -> Result<Vec<T>, StoreError>
where
    DB: sqlx::Database,
    R: TenantTable + for<'r> sqlx::FromRow<'r, DB::Row> + Send + Unpin,
    T: TryFrom<R, Error = StoreError>,
    for<'q> Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
{
    let sql = format!(
        "SELECT {} FROM {} WHERE ($1 IS NULL OR tenant_id = $1) ORDER BY seq",
        R::COLUMNS,
        R::TABLE
    );
    let rows = sqlx::query_as::<DB, R>(&sql)
        .bind(tenant.map(|t| t.to_string()))
        .fetch_all(pool)
        .await
        .map_err(crate::backend_error)?;
    convert(rows)
}

/// A page of a tenant's rows, in `seq` order after `page.after`.
pub(crate) async fn tenant_page<DB, R, T>(
    pool: &sqlx::Pool<DB>,
    tenant: tessera_core::id::TenantId,
    page: tessera_core::page::PageRequest,
) -> Result<tessera_core::page::Page<T>, StoreError>
where
    DB: sqlx::Database,
    R: TenantTable + for<'r> sqlx::FromRow<'r, DB::Row> + Send + Unpin,
    T: TryFrom<R, Error = StoreError>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
{
    let sql = format!(
        "SELECT {} FROM {} WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        R::COLUMNS,
        R::TABLE
    );
    let query = sqlx::query_as::<DB, R>(&sql).bind(tenant.to_string());
    fetch_page(query, pool, page, R::seq).await
}

/// Runs a keyset `query` whose last two parameters are the position to start after and the
/// `LIMIT`: binds them (one more than the page, to learn whether another page follows) and
/// makes the page.
pub(crate) async fn fetch_page<'q, DB, R, T>(
    query: sqlx::query::QueryAs<'q, DB, R, <DB as sqlx::Database>::Arguments<'q>>,
    pool: &sqlx::Pool<DB>,
    page: tessera_core::page::PageRequest,
    seq: impl Fn(&R) -> i64,
) -> Result<tessera_core::page::Page<T>, StoreError>
where
    DB: sqlx::Database,
    R: for<'r> sqlx::FromRow<'r, DB::Row> + Send + Unpin,
    T: TryFrom<R, Error = StoreError>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
{
    let rows = query
        .bind(page.after)
        .bind(i64::from(page.size) + 1)
        .fetch_all(pool)
        .await
        .map_err(crate::backend_error)?;
    into_page(rows, page.size, seq)
}

/// The tenant's row named `key`, or `NotFound`; with `delete`, removed as it is read.
pub(crate) async fn tenant_row<DB, R, T>(
    pool: &sqlx::Pool<DB>,
    tenant: tessera_core::id::TenantId,
    key: String,
    delete: bool,
) -> Result<T, StoreError>
where
    DB: sqlx::Database,
    R: TenantTable + for<'r> sqlx::FromRow<'r, DB::Row> + Send + Unpin,
    T: TryFrom<R, Error = StoreError>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
{
    let (table, column, columns) = (R::TABLE, R::KEY, R::COLUMNS);
    let sql = if delete {
        format!("DELETE FROM {table} WHERE tenant_id = $1 AND {column} = $2 RETURNING {columns}")
    } else {
        format!("SELECT {columns} FROM {table} WHERE tenant_id = $1 AND {column} = $2")
    };
    sqlx::query_as::<DB, R>(&sql)
        .bind(tenant.to_string())
        .bind(key)
        .fetch_optional(pool)
        .await
        .map_err(crate::backend_error)?
        .ok_or(StoreError::NotFound)?
        .try_into()
}

/// Every row converted into the model.
pub(crate) fn convert<R, T: TryFrom<R, Error = StoreError>>(
    rows: Vec<R>,
) -> Result<Vec<T>, StoreError> {
    rows.into_iter().map(T::try_from).collect()
}

pub(crate) const EVENT_STREAM_COLUMNS: &str = "id, tenant_id, receiver, delivery_method, \
     endpoint_url, authorization_header, events_requested, description, status, status_reason, \
     created_at, updated_at";

#[derive(sqlx::FromRow)]
pub(crate) struct EventStreamRow {
    pub id: String,
    pub tenant_id: String,
    pub receiver: String,
    pub delivery_method: String,
    pub endpoint_url: Option<String>,
    pub authorization_header: Option<String>,
    pub events_requested: String,
    pub description: Option<String>,
    pub status: String,
    pub status_reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl TryFrom<EventStreamRow> for tessera_core::model::EventStream {
    type Error = StoreError;
    fn try_from(r: EventStreamRow) -> Result<Self, StoreError> {
        use tessera_core::model::{Delivery, StreamStatus, POLL_DELIVERY, PUSH_DELIVERY};
        let delivery = match (r.delivery_method.as_str(), r.endpoint_url) {
            (PUSH_DELIVERY, Some(endpoint_url)) => Delivery::Push {
                endpoint_url,
                sealed_authorization: r.authorization_header,
            },
            (POLL_DELIVERY, _) => Delivery::Poll,
            _ => return Err(corrupt("stream delivery")),
        };
        Ok(tessera_core::model::EventStream {
            id: r.id.parse().map_err(|_| corrupt("stream id"))?,
            tenant_id: r.tenant_id.parse().map_err(|_| corrupt("tenant id"))?,
            receiver: r.receiver.parse().map_err(|_| corrupt("stream receiver"))?,
            delivery,
            events_requested: r
                .events_requested
                .split(' ')
                .filter(|e| !e.is_empty())
                .map(str::to_owned)
                .collect(),
            description: r.description,
            status: StreamStatus::parse(&r.status).ok_or_else(|| corrupt("stream status"))?,
            status_reason: r.status_reason,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// The columns of a stream that a change may set, in `$3…$9` order after tenant and id.
pub(crate) fn event_stream_columns(
    s: &tessera_core::model::EventStream,
) -> (&'static str, Option<String>, Option<String>, String) {
    use tessera_core::model::Delivery;
    let (endpoint, header) = match &s.delivery {
        Delivery::Push {
            endpoint_url,
            sealed_authorization,
        } => (Some(endpoint_url.clone()), sealed_authorization.clone()),
        Delivery::Poll => (None, None),
    };
    (
        s.delivery.method(),
        endpoint,
        header,
        s.events_requested.join(" "),
    )
}

#[derive(sqlx::FromRow)]
pub(crate) struct PendingSetRow {
    pub seq: i64,
    pub stream_id: String,
    pub jti: String,
    pub set_jwt: String,
    pub attempts: i64,
    pub created_at: i64,
}

impl TryFrom<PendingSetRow> for tessera_core::model::PendingSet {
    type Error = StoreError;
    fn try_from(r: PendingSetRow) -> Result<Self, StoreError> {
        Ok(tessera_core::model::PendingSet {
            seq: r.seq,
            stream_id: r.stream_id.parse().map_err(|_| corrupt("stream id"))?,
            jti: r.jti,
            set: r.set_jwt,
            attempts: u32::try_from(r.attempts).unwrap_or(u32::MAX),
            created_at: r.created_at,
        })
    }
}

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tessera_core::error::DomainError;
use tessera_core::model::{Integration, User};
use tessera_core::ports::AuditEntry;
use tessera_core::scope::{Scope, ScopeSet};
use utoipa::ToSchema;

use super::rfc3339;

/// Parses a list of scope names, naming the field and the unknown scope.
pub fn parse_scope_list(field: &'static str, names: &[String]) -> Result<ScopeSet, DomainError> {
    names
        .iter()
        .map(|n| {
            Scope::parse(n).ok_or_else(|| {
                DomainError::invalid(
                    field,
                    format!(
                        "contains the unknown scope `{}`; known scopes: {}",
                        n.chars().take(64).collect::<String>(),
                        ScopeSet::from_iter(Scope::ALL)
                    ),
                )
            })
        })
        .collect()
}

#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct CreateIntegrationRequest {
    pub display_name: String,
    /// String claims added to every token of the integration.
    #[serde(default)]
    pub custom_claims: BTreeMap<String, String>,
    /// Scopes the integration may request; default: every scope but `admin` and `impersonation`.
    pub scopes: Option<Vec<String>>,
    /// Token lifetime, 60 to 86400 seconds; default 3600.
    pub token_ttl_seconds: Option<u32>,
    /// A refresh token family unused this long ends (300 to 31536000 seconds); default 14 days.
    pub refresh_token_idle_seconds: Option<u32>,
    /// A refresh token family ends this long after the person authorized, however often it is
    /// used (300 to 31536000 seconds, at least the idle lifetime); default 90 days.
    pub refresh_token_absolute_seconds: Option<u32>,
    /// Where the integration publishes its public keys (a JWK Set): https, or http to loopback.
    pub jwks_uri: Option<String>,
    /// Where `/oauth2/authorize` may send a person back with a code (SPEC §15): https URLs,
    /// or http to loopback (any port matches there, RFC 8252 §7.3); at most 20.
    pub redirect_uris: Option<Vec<String>>,
    /// `none` makes a public client (RFC 6749 §2.1, SPEC §15): no secret, PKCE alone at the
    /// token endpoint, no client_credentials. Default `client_secret_basic` (a confidential
    /// client, which may also authenticate with `client_secret_post` or `private_key_jwt`).
    pub token_endpoint_auth_method: Option<String>,
    /// A version of an application that reaches other tenants' data (SPEC §8); needs
    /// `app_name` and `app_version`. Starts in stage `development`.
    #[serde(default)]
    pub multi_tenant: bool,
    pub app_name: Option<String>,
    pub app_version: Option<String>,
    /// Whether this version may use the Token Management Service; default false.
    pub tms_enabled: Option<bool>,
    /// Where Tessera POSTs grants, rejections and revocations of connections (SPEC §6).
    pub authentication_url: Option<String>,
    /// Where Tessera POSTs data changes of the tenants connected to it.
    pub webhook_url: Option<String>,
    /// Shown to data owners on the consent screen; at most 1,000 characters.
    pub description: Option<String>,
    pub homepage_url: Option<String>,
    /// Make it with no secret at all: it authenticates with platform tokens (federated
    /// credentials, SPEC §14) or its keys (`private_key_jwt`). Default false.
    #[serde(default)]
    pub secretless: bool,
    /// RFC 9449 §5.2: every token it gets must be bound to a DPoP key (a token request
    /// without a `DPoP` proof is refused). Default false.
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
}

impl CreateIntegrationRequest {
    /// Whether `token_endpoint_auth_method` makes a public client (RFC 6749 §2.1).
    pub fn public_client(&self) -> Result<bool, tessera_core::error::DomainError> {
        use tessera_core::error::DomainError;
        match self.token_endpoint_auth_method.as_deref() {
            None | Some("client_secret_basic" | "client_secret_post" | "private_key_jwt") => Ok(false),
            Some("none") => Ok(true),
            Some(other) => Err(DomainError::invalid(
                "token_endpoint_auth_method",
                format!(
                    "`{}` is not one Tessera knows: `none` (a public client), `client_secret_basic`, `client_secret_post` or `private_key_jwt`",
                    other.chars().take(40).collect::<String>()
                ),
            )),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct PatchIntegrationRequest {
    pub display_name: Option<String>,
    pub custom_claims: Option<BTreeMap<String, String>>,
    pub scopes: Option<Vec<String>>,
    pub token_ttl_seconds: Option<u32>,
    pub refresh_token_idle_seconds: Option<u32>,
    pub refresh_token_absolute_seconds: Option<u32>,
    /// A URL sets it, `null` removes it, absent leaves it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub jwks_uri: Option<Option<String>>,
    /// Replaces every redirect URI (`[]` removes them all).
    pub redirect_uris: Option<Vec<String>>,
    /// Switches the Token Management Service on or off for this version.
    pub tms_enabled: Option<bool>,
    /// Requires DPoP-bound tokens (RFC 9449 §5.2), or no longer.
    pub dpop_bound_access_tokens: Option<bool>,
    /// For these four: a value sets it, `null` removes it, absent leaves it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub authentication_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub webhook_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub homepage_url: Option<Option<String>>,
}

/// For PATCH fields where `null` means "remove": a field that is there, even as `null`, is
/// `Some`; a missing one stays `None` through `#[serde(default)]`.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RegenerateSecretRequest {
    /// Keep the previous secret working this many seconds (at most 30 days); default 0.
    pub grace_seconds: Option<u32>,
}

/// An integration as the API shows it: never its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationView {
    pub client_id: String,
    pub tenant_id: String,
    pub display_name: String,
    pub scopes: Vec<String>,
    pub custom_claims: BTreeMap<String, String>,
    pub token_ttl_seconds: u32,
    pub refresh_token_idle_seconds: u32,
    pub refresh_token_absolute_seconds: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    pub redirect_uris: Vec<String>,
    /// `none` for a public client, else `client_secret_basic`.
    pub token_endpoint_auth_method: &'static str,
    /// Whether its tokens must be DPoP-bound (RFC 9449 §5.2).
    pub dpop_bound_access_tokens: bool,
    pub multi_tenant: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_version: Option<String>,
    /// `development` or `production` (multi-tenant integrations only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tms_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authentication_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub homepage_url: Option<String>,
    /// `configured` (an admin made it), `registered` (it registered itself with an initial
    /// access token, RFC 7591), `registered_openly` (without one) or `metadata_document` (named
    /// by the URL of its Client ID Metadata Document).
    pub origin: &'static str,
    /// For `metadata_document`: the URL, which is its `client_id` on the wire.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata_document_url: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Integration> for IntegrationView {
    fn from(i: &Integration) -> Self {
        IntegrationView {
            client_id: i.client_id.to_string(),
            tenant_id: i.tenant_id.to_string(),
            display_name: i.display_name.clone(),
            scopes: i.scopes.to_vec(),
            custom_claims: i.custom_claims.clone(),
            token_ttl_seconds: i.token_ttl_seconds,
            refresh_token_idle_seconds: i.refresh.idle_seconds,
            refresh_token_absolute_seconds: i.refresh.absolute_seconds,
            jwks_uri: i.jwks_uri.clone(),
            redirect_uris: i.redirect_uris.clone(),
            token_endpoint_auth_method: if i.public_client {
                "none"
            } else {
                "client_secret_basic"
            },
            dpop_bound_access_tokens: i.dpop_bound_access_tokens,
            multi_tenant: i.app.is_some(),
            app_name: i.app.as_ref().map(|a| a.app_name.clone()),
            app_version: i.app.as_ref().map(|a| a.app_version.clone()),
            stage: i.app.as_ref().map(|a| a.stage.as_str()),
            tms_enabled: i.app.as_ref().map(|a| a.tms_enabled),
            authentication_url: i.profile.authentication_url.clone(),
            webhook_url: i.profile.webhook_url.clone(),
            description: i.profile.description.clone(),
            homepage_url: i.profile.homepage_url.clone(),
            origin: i.origin.kind(),
            metadata_document_url: i.origin.document_url().map(str::to_owned),
            created_at: rfc3339(i.created_at),
            updated_at: rfc3339(i.updated_at),
        }
    }
}

/// `POST /v1/integrations/{client_id}/connection_url`.
#[derive(Debug, Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct ConnectionUrlRequest {
    /// What the application asks the data owner for; within the integration's scopes.
    pub scopes: Vec<String>,
    /// The application's own value (1–512 characters), handed back with the owner's answer.
    pub state: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionUrl {
    /// Send it to the data owner. Signed: any change to it is refused.
    pub url: String,
    pub expires_at: String,
}

/// The answer to promoting a version to production: its new secret, shown once. The
/// development secret no longer works.
#[derive(Debug, Serialize, ToSchema)]
pub struct PromotedIntegration {
    #[serde(flatten)]
    pub integration: IntegrationView,
    pub client_secret: String,
}

/// The answer to creating an integration: the only time its secret is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedIntegration {
    #[serde(flatten)]
    pub integration: IntegrationView,
    /// Shown this once; absent for a `secretless` integration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationList {
    pub integrations: Vec<IntegrationView>,
    /// Pass as `page_token` for the next page; "" on the last page.
    pub next_page_token: String,
}

/// A new secret, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegeneratedSecret {
    pub client_id: String,
    pub client_secret: String,
    /// When the previous secret stops working (now, unless `grace_seconds` was given).
    pub previous_secret_expires_at: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    pub email: String,
    pub display_name: String,
    /// `admin` or `member` (default).
    pub role: Option<String>,
    /// At least 12 characters. Leave it out to invite the user: the answer then carries a
    /// one-time `invitation_url` where they set it themselves.
    pub password: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct PatchUserRequest {
    pub display_name: Option<String>,
    pub role: Option<String>,
    pub password: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub tenant_id: String,
    pub email: String,
    pub display_name: String,
    pub role: String,
    /// `false` while an invited user has not set a password yet.
    pub password_set: bool,
    pub created_at: String,
    pub updated_at: String,
    /// Only in the answer to a create without `password`: shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invitation_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invitation_expires_at: Option<String>,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        UserView {
            id: u.id.to_string(),
            tenant_id: u.tenant_id.to_string(),
            email: u.email.clone(),
            display_name: u.display_name.clone(),
            role: u.role.as_str().to_owned(),
            password_set: u.has_password(),
            created_at: rfc3339(u.created_at),
            updated_at: rfc3339(u.updated_at),
            invitation_url: None,
            invitation_expires_at: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    pub users: Vec<UserView>,
    pub next_page_token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    pub at: String,
    /// `client:<client_id>`, `user:<id>` or `system`.
    pub actor: String,
    /// e.g. `integration.created`, `token.issued`, `token.revoked`.
    pub action: String,
    pub target: String,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

impl From<&AuditEntry> for AuditView {
    fn from(e: &AuditEntry) -> Self {
        AuditView {
            at: rfc3339(e.record.at),
            actor: e.record.actor.clone(),
            action: e.record.action.clone(),
            target: e.record.target.clone(),
            detail: serde_json::from_str(&e.record.detail).unwrap_or(serde_json::Value::Null),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditList {
    pub entries: Vec<AuditView>,
    pub next_page_token: String,
}

/// What `GET /v1/audit` keeps, and its page.
#[derive(Debug, Deserialize, utoipa::IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only this actor: `client:<client_id>`, `user:<id>` or `system`.
    pub actor: Option<String>,
    /// Only this action, e.g. `integration.created`.
    pub action: Option<String>,
    /// Only records at or after this time (RFC 3339).
    pub since: Option<String>,
    /// Only records before this time (RFC 3339).
    pub until: Option<String>,
    /// 1 to 1000; default 100.
    pub page_size: Option<String>,
    /// The `next_page_token` of the previous page.
    pub page_token: Option<String>,
}

/// `page_size` and `page_token` of a list request.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1 to 1000; default 100.
    pub page_size: Option<String>,
    /// The `next_page_token` of the previous page.
    pub page_token: Option<String>,
}

/// A public key for an integration: exactly one of `jwk` and `certificate`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddClientKeyRequest {
    /// A public JWK: RSA (≥ 2048 bits, RS256), EC P-256 (ES256) or OKP Ed25519 (EdDSA).
    #[schema(value_type = Option<Object>)]
    pub jwk: Option<serde_json::Value>,
    /// An X.509 certificate in PEM; the key stops verifying when the certificate expires.
    pub certificate: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClientKeyView {
    pub kid: String,
    pub alg: String,
    /// The public JWK as stored.
    #[schema(value_type = Object)]
    pub jwk: serde_json::Value,
    /// A certificate's expiry (RFC 3339), if the key came from one.
    pub not_after: Option<String>,
    pub created_at: String,
}

impl From<&tessera_core::model::ClientKey> for ClientKeyView {
    fn from(k: &tessera_core::model::ClientKey) -> Self {
        ClientKeyView {
            kid: k.kid.clone(),
            alg: k.alg.as_str().to_owned(),
            jwk: k.jwk.clone(),
            not_after: k.not_after.map(rfc3339),
            created_at: rfc3339(k.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClientKeyList {
    pub keys: Vec<ClientKeyView>,
}

/// A consent to impersonation (SPEC §3.3).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GiveConsentRequest {
    /// The integration that may act; it may belong to another tenant.
    pub client_id: String,
    /// A user's email, or `*` for every user of the tenant.
    pub user: String,
    /// The most a token issued under the consent may carry. Include `impersonation` to let an
    /// integration of another tenant act here.
    pub scopes: Vec<String>,
    /// Resource servers of the tenant (their identifiers) the consent also covers besides
    /// Tessera's own API (SPEC §15) [default: none].
    #[serde(default)]
    pub resources: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentView {
    pub id: String,
    pub client_id: String,
    /// The user's email, or `*`.
    pub user: String,
    pub user_id: Option<String>,
    pub scopes: Vec<String>,
    /// The resource servers it covers besides Tessera's own API (canonical identifiers).
    pub resources: Vec<String>,
    pub granted_by: String,
    pub created_at: String,
}

impl From<&tessera_core::model::Consent> for ConsentView {
    fn from(c: &tessera_core::model::Consent) -> Self {
        use tessera_core::model::ConsentUser;
        let (user, user_id) = match &c.user {
            ConsentUser::All => ("*".to_owned(), None),
            ConsentUser::User { id, email } => (email.clone(), Some(id.to_string())),
        };
        ConsentView {
            id: c.id.to_string(),
            client_id: c.client_id.to_string(),
            user,
            user_id,
            scopes: c.scopes.to_vec(),
            resources: c.resources.clone(),
            granted_by: c.granted_by.clone(),
            created_at: rfc3339(c.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentList {
    pub consents: Vec<ConsentView>,
    pub next_page_token: String,
}

/// A signing key of the deployment, without its private part.
#[derive(Debug, Serialize, ToSchema)]
pub struct SigningKeyView {
    pub kid: String,
    /// `RS256`, `ES256` or `EdDSA`.
    pub alg: String,
    /// Whether new tokens are signed with it.
    pub current: bool,
    pub created_at: String,
    /// When a newer key replaced it.
    pub retired_at: Option<String>,
    /// Until when tokens it signed still verify (it stays in the JWKS until then).
    pub verify_until: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SigningKeyList {
    /// Newest first.
    pub keys: Vec<SigningKeyView>,
}

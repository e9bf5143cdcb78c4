//! The file's format: serde types that parse it and make its JSON Schema (`apply --schema`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The only version of the file format so far.
pub(super) const FORMAT_VERSION: u32 = 1;

/// A tenant as `tessera apply` makes it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "tessera apply",
    description = "A tenant's trusted issuers, resource servers, integrations, access policies, users and app authorizations, as `tessera apply -f` makes them (docs/cli.md)."
)]
pub struct TenantFile {
    /// The file format's version: 1.
    #[schemars(range(min = 1, max = 1))]
    pub version: u32,
    /// `tenant/<uuid>`: when given, apply refuses to change any other tenant.
    #[serde(default)]
    pub tenant: Option<String>,
    /// Where the secrets made by this apply (new integrations' client secrets, invited users'
    /// one-time links) are written, as JSON, mode 0600, relative to this file. Without it they
    /// are printed once.
    #[serde(default)]
    pub secrets_file: Option<PathBuf>,
    /// Platforms whose identity tokens stand in for secrets (SPEC §14).
    #[serde(default)]
    pub trusted_issuers: Vec<TrustedIssuerSpec>,
    /// The APIs tokens may be issued for (SPEC §15, RFC 8707 `resource`).
    #[serde(default)]
    pub resource_servers: Vec<ResourceServerSpec>,
    #[serde(default)]
    pub integrations: Vec<IntegrationSpec>,
    #[serde(default)]
    pub access_policies: Vec<PolicySpec>,
    #[serde(default)]
    pub users: Vec<UserSpec>,
    #[serde(default)]
    pub app_authorizations: Vec<AppAuthorizationSpec>,
}

/// An integration (OAuth client). Fields left out are not managed.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrationSpec {
    /// The name apply matches on: unique in the file and in the tenant.
    pub display_name: String,
    pub scopes: Option<Vec<String>>,
    /// Claims added to every token of the integration.
    pub custom_claims: Option<BTreeMap<String, String>>,
    #[schemars(range(min = 60, max = 86400))]
    pub token_ttl_seconds: Option<u32>,
    /// A refresh token family unused this long ends (SPEC §15).
    #[schemars(range(min = 300, max = 31536000))]
    pub refresh_token_idle_seconds: Option<u32>,
    /// A refresh token family ends this long after the person authorized.
    #[schemars(range(min = 300, max = 31536000))]
    pub refresh_token_absolute_seconds: Option<u32>,
    pub description: Option<String>,
    pub homepage_url: Option<String>,
    pub authentication_url: Option<String>,
    pub webhook_url: Option<String>,
    pub jwks_uri: Option<String>,
    /// Where `/oauth2/authorize` may send a person back with a code (SPEC §15).
    pub redirect_uris: Option<Vec<String>>,
    pub tms_enabled: Option<bool>,
    /// Set when the integration is made; a different value later is refused.
    pub multi_tenant: Option<bool>,
    /// Set when the integration is made; a different value later is refused.
    pub app_name: Option<String>,
    /// Set when the integration is made; a different value later is refused.
    pub app_version: Option<String>,
    /// Public keys for `private_key_jwt` and the JWT bearer grant, matched by `kid`. When
    /// given, `--prune` also removes the integration's keys not listed.
    #[serde(skip_serializing)]
    pub keys: Option<Vec<KeySpec>>,
    /// Platform identities that authenticate it in place of a secret (SPEC §14), matched by
    /// issuer and subject. When given, `--prune` also removes the integration's others.
    #[serde(skip_serializing)]
    pub federated_credentials: Option<Vec<FederatedCredentialSpec>>,
    /// Made with no secret at all (it authenticates with platform tokens or keys). Used when
    /// the integration is made.
    #[serde(skip_serializing)]
    pub secretless: Option<bool>,
}

/// A platform identity an integration accepts (`POST
/// /v1/integrations/{client_id}/federated_credentials`).
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FederatedCredentialSpec {
    /// A trusted issuer of the tenant (in this file or already trusted).
    pub issuer: String,
    /// The platform tokens' `sub`, exactly.
    pub subject: String,
    /// Claims the tokens must also carry with these values (a name, or a JSON Pointer).
    #[serde(default)]
    pub claims: BTreeMap<String, String>,
}

/// A platform whose identity tokens the tenant trusts (`POST /v1/trusted_issuers`), matched by
/// `issuer`. The API changes none of its fields in place: a different value is refused (remove
/// it, which removes its credentials, and apply again).
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrustedIssuerSpec {
    /// The tokens' `iss` (`https://…`), or a SPIFFE trust domain (`spiffe://…`).
    pub issuer: String,
    /// The `aud` values accepted.
    pub audiences: Vec<String>,
    /// Where its keys are; without it, from its discovery document.
    pub jwks_uri: Option<String>,
    /// The longest `exp` − `iat` accepted [default: 3600].
    pub max_token_lifetime_seconds: Option<u32>,
}

/// An API of the tenant tokens may be issued for (`POST /v1/resource_servers`), matched by
/// `identifier`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceServerSpec {
    /// The `resource` clients send and the tokens' `aud`: an https URL.
    pub identifier: String,
    /// The name the consent page shows [default: the identifier].
    pub display_name: Option<String>,
    /// The scopes its tokens may carry [default: every data scope].
    pub scopes: Option<Vec<String>>,
}

/// One public key: exactly one of the three.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
pub struct KeySpec {
    /// A file holding an X.509 certificate in PEM, relative to this file.
    pub certificate_file: Option<PathBuf>,
    /// An X.509 certificate in PEM.
    pub certificate: Option<String>,
    /// A public JWK (RFC 7517).
    pub jwk: Option<Value>,
}

/// An access policy (SPEC §4).
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    /// The name apply matches on: unique in the file and in the tenant.
    pub display_name: String,
    pub description: Option<String>,
    pub filters: Vec<FilterSpec>,
    pub permissions: Vec<PermissionSpec>,
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FilterSpec {
    /// Asset types (`arc_display_type`) covered; `*` for all.
    pub asset_types: Vec<String>,
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PermissionSpec {
    pub actors: Vec<ActorSpec>,
    /// Attributes the actors may read (and, with `write`, change); `["*"]` for all.
    pub attributes: Vec<String>,
    #[serde(default)]
    pub event_visibility: EventVisibility,
    #[serde(default)]
    pub write: bool,
}

#[derive(Debug, Default, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EventVisibility {
    All,
    #[default]
    None,
}

/// Who a permission is for: exactly one of the three. `integration` names an integration of
/// this file (or of the tenant) by its `display_name`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
pub struct ActorSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// A user of the tenant, matched by `email`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    pub email: String,
    pub display_name: String,
    /// `admin` or `member`.
    pub role: Option<Role>,
    /// A file holding the first password; used when the user is made, never compared.
    #[serde(skip_serializing)]
    pub password_file: Option<PathBuf>,
    /// An environment variable holding the first password (as `password_file`). With neither,
    /// the user gets a one-time invitation link.
    #[serde(skip_serializing)]
    pub password_env: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Member,
}

/// A multi-tenant application's access to this tenant (SPEC §8), matched by `app_name`. A
/// change authorizes it anew, which replaces the old authorization (and ends its tokens).
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppAuthorizationSpec {
    pub app_name: String,
    pub access: Access,
    /// With `custom`: the scopes granted.
    pub scopes: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    ReadWrite,
    Limited,
    Custom,
}

/// The file's JSON Schema, as `tessera apply --schema` prints it and `docs/` publishes it.
pub fn schema() -> Value {
    serde_json::to_value(schemars::schema_for!(TenantFile)).unwrap_or(Value::Null)
}

use std::collections::BTreeMap;

use crate::error::DomainError;
use crate::id::{ClientId, TenantId};
use crate::scope::ScopeSet;

use super::{
    validate_app_label, validate_web_url, AppVersion, ClientOrigin, Stage, UnixMillis, UrlRules,
};

/// Lifetime of an access token unless the integration says otherwise (SPEC §3.1).
pub const DEFAULT_TOKEN_TTL_SECONDS: u32 = 3600;
/// The longest lifetime an integration may ask for: one day.
pub const MAX_TOKEN_TTL_SECONDS: u32 = 86_400;

/// How long a refresh token family lives unused unless the integration says otherwise (SPEC §15).
pub const DEFAULT_REFRESH_IDLE_SECONDS: u32 = 14 * 86_400;
/// How long a refresh token family lives at most unless the integration says otherwise.
pub const DEFAULT_REFRESH_ABSOLUTE_SECONDS: u32 = 90 * 86_400;
/// The longest either refresh lifetime may be: a year.
pub const MAX_REFRESH_SECONDS: u32 = 365 * 86_400;
/// The shortest either refresh lifetime may be: five minutes.
pub const MIN_REFRESH_SECONDS: u32 = 300;

/// How long the refresh tokens an integration gets live (RFC 9700 §4.14): a family ends when
/// it was not used for `idle_seconds`, and `absolute_seconds` after the person authorized,
/// whichever comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshLifetimes {
    /// Unused for this long, a family ends.
    pub idle_seconds: u32,
    /// This long after the authorization, a family ends however often it is used.
    pub absolute_seconds: u32,
}

impl Default for RefreshLifetimes {
    fn default() -> Self {
        RefreshLifetimes {
            idle_seconds: DEFAULT_REFRESH_IDLE_SECONDS,
            absolute_seconds: DEFAULT_REFRESH_ABSOLUTE_SECONDS,
        }
    }
}

impl RefreshLifetimes {
    /// These lifetimes with each given one replaced, checked: each within bounds, the idle one no
    /// longer than the absolute one.
    pub fn with(self, idle: Option<u32>, absolute: Option<u32>) -> Result<Self, DomainError> {
        let bounded = |field: &'static str, value: u32| {
            if (MIN_REFRESH_SECONDS..=MAX_REFRESH_SECONDS).contains(&value) {
                Ok(value)
            } else {
                Err(DomainError::invalid(
                    field,
                    format!("is {value}; it must be between {MIN_REFRESH_SECONDS} and {MAX_REFRESH_SECONDS} (a year)"),
                ))
            }
        };
        let next = RefreshLifetimes {
            idle_seconds: bounded(
                "refresh_token_idle_seconds",
                idle.unwrap_or(self.idle_seconds),
            )?,
            absolute_seconds: bounded(
                "refresh_token_absolute_seconds",
                absolute.unwrap_or(self.absolute_seconds),
            )?,
        };
        if next.idle_seconds > next.absolute_seconds {
            let field = if idle.is_some() {
                "refresh_token_idle_seconds"
            } else {
                "refresh_token_absolute_seconds"
            };
            return Err(DomainError::invalid(
                field,
                format!(
                    "makes the idle lifetime ({}) longer than the absolute one ({}); the idle one must be at most the absolute one",
                    next.idle_seconds, next.absolute_seconds
                ),
            ));
        }
        Ok(next)
    }
}

/// An OAuth client registered in one tenant (seed 000's Custom Integration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Integration {
    /// The integration's id, its OAuth `client_id`.
    pub client_id: ClientId,
    /// The tenant it belongs to.
    pub tenant_id: TenantId,
    /// Its name, as people see it.
    pub display_name: String,
    /// What tokens of this integration may carry at most.
    pub scopes: ScopeSet,
    /// Claims added to every token it gets.
    pub custom_claims: BTreeMap<String, String>,
    /// How long its tokens live.
    pub token_ttl_seconds: u32,
    /// How long the refresh tokens it gets for a person live (SPEC §15).
    pub refresh: RefreshLifetimes,
    /// Where the integration publishes its public keys (RFC 7517), as an alternative or an
    /// addition to keys registered one by one.
    pub jwks_uri: Option<String>,
    /// Where `/oauth2/authorize` may send a person back with a code (SPEC §15): matched
    /// exactly, but for the port of a loopback address (RFC 8252 §7.3).
    pub redirect_uris: Vec<String>,
    /// A public client (RFC 6749 §2.1, `token_endpoint_auth_method: none`): it has no secret,
    /// names itself with `client_id`, proves a code with PKCE alone and gets no
    /// `client_credentials` token. Set when it is made.
    pub public_client: bool,
    /// RFC 9449 §5.2 `dpop_bound_access_tokens`: every token it gets must be bound to a DPoP
    /// key; a token request without a proof is refused.
    pub dpop_bound_access_tokens: bool,
    /// Set for a multi-tenant integration: the application version it is (SPEC §8).
    pub app: Option<AppVersion>,
    /// What data owners see and where Tessera calls the application (SPEC §6).
    pub profile: AppProfile,
    /// Whether an admin made it or the client registered itself (SPEC §15).
    pub origin: ClientOrigin,
    /// When it was created.
    pub created_at: UnixMillis,
    /// When it was last changed.
    pub updated_at: UnixMillis,
}

/// An integration as an application that connects to data owners (SPEC §6, seed 001): shown on
/// the consent screen, and called back on grants, rejections and data changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppProfile {
    /// Where Tessera POSTs `connection.granted`, `connection.rejected`, `connection.revoked`.
    pub authentication_url: Option<String>,
    /// Where Tessera POSTs the granting tenant's data changes.
    pub webhook_url: Option<String>,
    /// What the application does, in the developer's words (at most 1,000 characters).
    pub description: Option<String>,
    /// The application's home page.
    pub homepage_url: Option<String>,
}

/// The longest `description`.
pub const MAX_DESCRIPTION_CHARS: usize = 1000;

/// An [`AppProfile`] change: each field `None` to keep, `Some(None)` to remove.
#[derive(Debug, Clone, Default)]
pub struct AppProfilePatch {
    /// A new `authentication_url` (`Some(None)` removes it).
    pub authentication_url: Option<Option<String>>,
    /// A new `webhook_url` (`Some(None)` removes it).
    pub webhook_url: Option<Option<String>>,
    /// A new `description` (`Some(None)` removes it).
    pub description: Option<Option<String>>,
    /// A new `homepage_url` (`Some(None)` removes it).
    pub homepage_url: Option<Option<String>>,
}

impl AppProfile {
    /// Checks every field: the URLs as URLs Tessera calls, the description's length.
    pub fn validate(self, rules: UrlRules) -> Result<AppProfile, DomainError> {
        let url = |field: &'static str, v: Option<String>| {
            v.map(|u| validate_web_url(field, &u, rules)).transpose()
        };
        let description = self.description.map(|d| d.trim().to_owned());
        if description
            .as_ref()
            .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_CHARS)
        {
            return Err(DomainError::invalid(
                "description",
                format!("is longer than {MAX_DESCRIPTION_CHARS} characters"),
            ));
        }
        Ok(AppProfile {
            authentication_url: url("authentication_url", self.authentication_url)?,
            webhook_url: url("webhook_url", self.webhook_url)?,
            description,
            homepage_url: url("homepage_url", self.homepage_url)?,
        })
    }
}

impl AppProfilePatch {
    /// The profile with the patch applied, checked.
    pub fn applied_to(
        self,
        profile: &AppProfile,
        rules: UrlRules,
    ) -> Result<AppProfile, DomainError> {
        let pick = |new: Option<Option<String>>, old: &Option<String>| new.unwrap_or(old.clone());
        AppProfile {
            authentication_url: pick(self.authentication_url, &profile.authentication_url),
            webhook_url: pick(self.webhook_url, &profile.webhook_url),
            description: pick(self.description, &profile.description),
            homepage_url: pick(self.homepage_url, &profile.homepage_url),
        }
        .validate(rules)
    }
}

/// What it takes to register an integration; validated by [`NewIntegration::validate`].
#[derive(Debug, Clone)]
pub struct NewIntegration {
    /// Its name, as people see it.
    pub display_name: String,
    /// The scopes it may ask for; the default set when absent.
    pub scopes: Option<ScopeSet>,
    /// Claims added to every token it gets.
    pub custom_claims: BTreeMap<String, String>,
    /// How long its tokens live; the default when absent.
    pub token_ttl_seconds: Option<u32>,
    /// How long an unused refresh token family lives; the default when absent.
    pub refresh_token_idle_seconds: Option<u32>,
    /// How long a refresh token family lives at most; the default when absent.
    pub refresh_token_absolute_seconds: Option<u32>,
    /// Where its public keys are published, if it signs assertions.
    pub jwks_uri: Option<String>,
    /// Where the authorization endpoint may redirect to.
    pub redirect_uris: Vec<String>,
    /// Whether it is a public client (no secret; PKCE alone).
    pub public_client: bool,
    /// Whether its tokens must be DPoP-bound.
    pub dpop_bound_access_tokens: bool,
    /// For a multi-tenant integration: its application, version and TMS switch. A new version
    /// starts in `development`.
    pub app: Option<NewAppVersion>,
    /// What the consent screen and the developer portal show of it.
    pub profile: AppProfile,
    /// Which URLs the deployment accepts.
    pub urls: UrlRules,
}

/// The application part of [`NewIntegration`].
#[derive(Debug, Clone)]
pub struct NewAppVersion {
    /// The application's name, unique across tenants.
    pub app_name: String,
    /// This version's label.
    pub app_version: String,
    /// Whether it may use the token management service.
    pub tms_enabled: bool,
}

impl NewAppVersion {
    /// The application part of a new integration from the request's fields: all of it with
    /// `multi_tenant: true`, none of it otherwise; each field out of place named.
    pub fn from_request(
        multi_tenant: bool,
        app_name: Option<String>,
        app_version: Option<String>,
        tms_enabled: Option<bool>,
    ) -> Result<Option<NewAppVersion>, DomainError> {
        if !multi_tenant {
            let given = [
                ("app_name", app_name.is_some()),
                ("app_version", app_version.is_some()),
                ("tms_enabled", tms_enabled.is_some()),
            ];
            if let Some((field, _)) = given.into_iter().find(|(_, given)| *given) {
                return Err(DomainError::invalid(
                    field,
                    "applies only to a multi-tenant integration: add `\"multi_tenant\": true`",
                ));
            }
            return Ok(None);
        }
        let required = |field: &'static str, value: Option<String>| {
            value.ok_or_else(|| {
                DomainError::invalid(field, "is required for a multi-tenant integration")
            })
        };
        Ok(Some(NewAppVersion {
            app_name: required("app_name", app_name)?,
            app_version: required("app_version", app_version)?,
            tms_enabled: tms_enabled.unwrap_or(false),
        }))
    }
}

impl NewIntegration {
    /// The redirect URIs checked as for any integration (RFC 7591 registrations use it too).
    pub fn check_redirect_uris(
        uris: Vec<String>,
        rules: UrlRules,
    ) -> Result<Vec<String>, DomainError> {
        validate_redirect_uris(uris, rules)
    }

    /// Checks every field and builds the integration.
    pub fn validate(
        self,
        client_id: ClientId,
        tenant_id: TenantId,
        now: UnixMillis,
    ) -> Result<Integration, DomainError> {
        validate_display_name(&self.display_name)?;
        validate_custom_claims(&self.custom_claims)?;
        let token_ttl_seconds = validate_ttl(self.token_ttl_seconds)?;
        let refresh = RefreshLifetimes::default().with(
            self.refresh_token_idle_seconds,
            self.refresh_token_absolute_seconds,
        )?;
        let jwks_uri = self
            .jwks_uri
            .map(|uri| validate_web_url("jwks_uri", &uri, self.urls))
            .transpose()?;
        let redirect_uris = validate_redirect_uris(self.redirect_uris, self.urls)?;
        let app = match self.app {
            Some(app) => {
                validate_app_label("app_name", &app.app_name)?;
                validate_app_label("app_version", &app.app_version)?;
                Some(AppVersion {
                    app_name: app.app_name,
                    app_version: app.app_version,
                    stage: Stage::Development,
                    tms_enabled: app.tms_enabled,
                })
            }
            None => None,
        };
        let profile = self.profile.validate(self.urls)?;
        Ok(Integration {
            client_id,
            tenant_id,
            display_name: self.display_name.trim().to_owned(),
            scopes: self
                .scopes
                .unwrap_or_else(ScopeSet::default_for_integration),
            custom_claims: self.custom_claims,
            token_ttl_seconds,
            refresh,
            jwks_uri,
            redirect_uris,
            public_client: self.public_client,
            dpop_bound_access_tokens: self.dpop_bound_access_tokens,
            app,
            profile,
            origin: ClientOrigin::Configured,
            created_at: now,
            updated_at: now,
        })
    }
}

/// A partial update: `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct IntegrationPatch {
    /// A new name.
    pub display_name: Option<String>,
    /// New scopes.
    pub scopes: Option<ScopeSet>,
    /// New custom claims, replacing all of them.
    pub custom_claims: Option<BTreeMap<String, String>>,
    /// A new token lifetime.
    pub token_ttl_seconds: Option<u32>,
    /// A new idle lifetime for refresh tokens.
    pub refresh_token_idle_seconds: Option<u32>,
    /// A new absolute lifetime for refresh tokens.
    pub refresh_token_absolute_seconds: Option<u32>,
    /// `Some(None)` removes it.
    pub jwks_uri: Option<Option<String>>,
    /// New redirect URIs, replacing all of them.
    pub redirect_uris: Option<Vec<String>>,
    /// Switches TMS on or off for this version (multi-tenant integrations only).
    pub tms_enabled: Option<bool>,
    /// Requires DPoP-bound tokens, or no longer.
    pub dpop_bound_access_tokens: Option<bool>,
    /// Changes to what the consent screen and the portal show.
    pub profile: AppProfilePatch,
    /// Which URLs the deployment accepts.
    pub urls: UrlRules,
}

impl IntegrationPatch {
    /// Applies the patch after checking it; the integration is untouched on error.
    pub fn apply(self, integration: &mut Integration, now: UnixMillis) -> Result<(), DomainError> {
        if let Some(name) = &self.display_name {
            validate_display_name(name)?;
        }
        if let Some(claims) = &self.custom_claims {
            validate_custom_claims(claims)?;
        }
        if self.token_ttl_seconds.is_some() {
            validate_ttl(self.token_ttl_seconds)?;
        }
        let refresh = integration.refresh.with(
            self.refresh_token_idle_seconds,
            self.refresh_token_absolute_seconds,
        )?;
        let jwks_uri = match self.jwks_uri {
            Some(Some(uri)) => Some(Some(validate_web_url("jwks_uri", &uri, self.urls)?)),
            other => other,
        };
        let redirect_uris = self
            .redirect_uris
            .map(|uris| validate_redirect_uris(uris, self.urls))
            .transpose()?;
        let profile = self.profile.applied_to(&integration.profile, self.urls)?;
        if self.tms_enabled.is_some() && integration.app.is_none() {
            return Err(DomainError::invalid(
                "tms_enabled",
                "applies only to a multi-tenant integration (created with `multi_tenant: true`)",
            ));
        }
        if let Some(name) = self.display_name {
            integration.display_name = name.trim().to_owned();
        }
        if let Some(scopes) = self.scopes {
            integration.scopes = scopes;
        }
        if let Some(claims) = self.custom_claims {
            integration.custom_claims = claims;
        }
        if let Some(ttl) = self.token_ttl_seconds {
            integration.token_ttl_seconds = ttl;
        }
        integration.refresh = refresh;
        if let Some(uri) = jwks_uri {
            integration.jwks_uri = uri;
        }
        if let Some(uris) = redirect_uris {
            integration.redirect_uris = uris;
        }
        if let Some(bound) = self.dpop_bound_access_tokens {
            integration.dpop_bound_access_tokens = bound;
        }
        if let (Some(on), Some(app)) = (self.tms_enabled, integration.app.as_mut()) {
            app.tms_enabled = on;
        }
        integration.profile = profile;
        integration.updated_at = now;
        Ok(())
    }
}

/// The most redirect URIs an integration registers.
pub const MAX_REDIRECT_URIS: usize = 20;

/// Each redirect URI an absolute https URL (plain http to loopback only, RFC 8252 §7.3), with no
/// fragment (RFC 6749 §3.1.2) and no repeat; kept as written, since they are matched exactly.
fn validate_redirect_uris(uris: Vec<String>, rules: UrlRules) -> Result<Vec<String>, DomainError> {
    if uris.len() > MAX_REDIRECT_URIS {
        return Err(DomainError::invalid(
            "redirect_uris",
            format!("has {} entries; at most {MAX_REDIRECT_URIS}", uris.len()),
        ));
    }
    let mut kept: Vec<String> = Vec::with_capacity(uris.len());
    for uri in uris {
        let uri = uri.trim().to_owned();
        validate_web_url("redirect_uris", &uri, rules).map_err(|e| match e {
            DomainError::Invalid { message, .. } => {
                DomainError::invalid("redirect_uris", format!("entry `{uri}` {message}"))
            }
            other => other,
        })?;
        if kept.contains(&uri) {
            return Err(DomainError::invalid(
                "redirect_uris",
                format!("names `{uri}` twice"),
            ));
        }
        kept.push(uri);
    }
    Ok(kept)
}

/// One client secret of an integration, as stored: only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSecretRecord {
    /// The integration it belongs to.
    pub client_id: ClientId,
    /// SHA-256 of the secret (secrets are 256 random bits, so a fast hash is safe).
    pub hash: [u8; 32],
    /// When it was made.
    pub created_at: UnixMillis,
    /// Set when the secret was replaced with a grace period: it works until then.
    pub expires_at: Option<UnixMillis>,
}

impl ClientSecretRecord {
    /// A new secret for `client_id` and its stored form; the secret is shown to its owner once.
    pub fn generate(
        client_id: ClientId,
        rng: &dyn crate::world::Rng,
        now: UnixMillis,
    ) -> (crate::id::Secret, ClientSecretRecord) {
        let secret = crate::crypto::generate_client_secret(rng);
        let record = ClientSecretRecord::for_secret(client_id, &secret, now);
        (secret, record)
    }

    /// The stored form of a given secret (for secrets supplied at first start).
    pub fn for_secret(client_id: ClientId, secret: &crate::id::Secret, now: UnixMillis) -> Self {
        ClientSecretRecord {
            client_id,
            hash: crate::crypto::hash_client_secret(secret.expose()),
            created_at: now,
            expires_at: None,
        }
    }
}

/// A display name is 1 to 200 characters after trimming.
pub fn validate_display_name(name: &str) -> Result<(), DomainError> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(DomainError::invalid("display_name", "must not be empty"));
    }
    if trimmed.chars().count() > 200 {
        return Err(DomainError::invalid(
            "display_name",
            "must be at most 200 characters",
        ));
    }
    Ok(())
}

fn validate_ttl(ttl: Option<u32>) -> Result<u32, DomainError> {
    match ttl {
        None => Ok(DEFAULT_TOKEN_TTL_SECONDS),
        Some(t) if (60..=MAX_TOKEN_TTL_SECONDS).contains(&t) => Ok(t),
        Some(t) => Err(DomainError::invalid(
            "token_ttl_seconds",
            format!("is {t}; it must be between 60 and {MAX_TOKEN_TTL_SECONDS}"),
        )),
    }
}

/// Claim names a custom claim may not take: RFC 7519, RFC 9068 and RFC 8693 registered claims
/// and Tessera's platform claims (SPEC §3.1).
const RESERVED_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "client_id",
    "scope",
    "act",
    "may_act",
    "cnf",
    "auth_time",
    "acr",
    "amr",
    "tenant_id",
    "tier",
    "name",
];
const RESERVED_PREFIX: &str = "tessera_";

/// Custom claims: at most 32, names 1–64 characters of `[A-Za-z0-9_.-]`, string values up to
/// 1024 characters, none reserved.
pub fn validate_custom_claims(claims: &BTreeMap<String, String>) -> Result<(), DomainError> {
    if claims.len() > 32 {
        return Err(DomainError::invalid(
            "custom_claims",
            "at most 32 custom claims are allowed",
        ));
    }
    for (name, value) in claims {
        if RESERVED_CLAIMS.contains(&name.as_str()) {
            return Err(DomainError::invalid(
                "custom_claims",
                format!("`{name}` is a reserved claim name and cannot be set as a custom claim"),
            ));
        }
        if name.starts_with(RESERVED_PREFIX) {
            return Err(DomainError::invalid(
                "custom_claims",
                format!("`{name}` starts with the reserved prefix `{RESERVED_PREFIX}`"),
            ));
        }
        let valid_name = (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !valid_name {
            return Err(DomainError::invalid(
                "custom_claims",
                format!(
                    "`{}` is not a valid claim name: use 1 to 64 letters, digits, `_`, `-` or `.`",
                    name.chars().take(80).collect::<String>()
                ),
            ));
        }
        if value.chars().count() > 1024 {
            return Err(DomainError::invalid(
                "custom_claims",
                format!("the value of `{name}` is longer than 1024 characters"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn check(pairs: &[(&str, &str)], expect_in_error: Option<&str>) {
        let result = validate_custom_claims(&claims(pairs));
        match (result, expect_in_error) {
            (Ok(()), None) => {}
            (Err(e), Some(text)) => assert!(e.to_string().contains(text), "{e}"),
            (r, e) => panic!("{pairs:?}: got {r:?}, expected error containing {e:?}"),
        }
    }

    #[test]
    fn custom_claims_refuse_reserved_names_by_name() {
        check(&[("department", "ops")], None);
        check(&[("sub", "x")], Some("`sub` is a reserved claim name"));
        check(&[("tenant_id", "x")], Some("`tenant_id` is a reserved"));
        check(&[("may_act", "x")], Some("`may_act`"));
        check(&[("tessera_role", "x")], Some("reserved prefix `tessera_`"));
        check(&[("bad name", "x")], Some("not a valid claim name"));
    }

    #[test]
    fn ttl_outside_bounds_names_the_field() {
        let err = validate_ttl(Some(10)).unwrap_err();
        assert_eq!(err.field(), Some("token_ttl_seconds"));
        assert_eq!(validate_ttl(None), Ok(DEFAULT_TOKEN_TTL_SECONDS));
    }
}

//! Clients nobody typed in (SPEC §15): a client that registered itself (RFC 7591) or whose
//! `client_id` is the https URL of its Client ID Metadata Document. Both become an ordinary
//! public integration, so every grant, consent and revocation treats them as any other; what
//! is here is what such a client may say about itself, and the tenant's rules for them.

use std::collections::BTreeMap;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::integration::{AppProfile, NewIntegration};
use super::web_url::{validate_web_url, UrlRules, MAX_URL_LEN};
use crate::error::{DomainError, OAuthError, OAuthErrorCode};
use crate::id::ClientId;
use crate::scope::ScopeSet;

/// The largest metadata document or registration request Tessera reads.
pub const MAX_CLIENT_METADATA_BYTES: usize = 5 * 1024;

/// Where an integration came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ClientOrigin {
    /// An admin made it (API, console, CLI, `apply`).
    #[default]
    Configured,
    /// It registered itself at `/oauth2/register` (RFC 7591) with a tenant's initial access
    /// token: that tenant vouches for it.
    Registered,
    /// It registered itself at `/oauth2/register` with no token: nobody vouches for it.
    RegisteredOpenly,
    /// Its `client_id` is this URL, whose metadata document Tessera reads.
    MetadataDocument(String),
}

impl ClientOrigin {
    /// The name stored and shown: `configured`, `registered`, `registered_openly` or
    /// `metadata_document`.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientOrigin::Configured => "configured",
            ClientOrigin::Registered => "registered",
            ClientOrigin::RegisteredOpenly => "registered_openly",
            ClientOrigin::MetadataDocument(_) => "metadata_document",
        }
    }
    /// The metadata document's URL, for a client that has one.
    pub fn document_url(&self) -> Option<&str> {
        match self {
            ClientOrigin::MetadataDocument(url) => Some(url),
            _ => None,
        }
    }
    /// Read back from the stored kind and URL.
    pub fn from_stored(kind: &str, url: Option<String>) -> Option<ClientOrigin> {
        match (kind, url) {
            ("configured", _) => Some(ClientOrigin::Configured),
            ("registered", _) => Some(ClientOrigin::Registered),
            ("registered_openly", _) => Some(ClientOrigin::RegisteredOpenly),
            ("metadata_document", Some(url)) => Some(ClientOrigin::MetadataDocument(url)),
            _ => None,
        }
    }
}

/// Who may register clients at `/oauth2/register` for a tenant's people.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RegistrationMode {
    /// Nobody (the default).
    #[default]
    Off,
    /// Whoever holds an initial access token: an admin token of the tenant (RFC 7591 §3).
    InitialAccessToken,
    /// Anyone, at a bounded rate; the tenant's people may then authorize such clients.
    Open,
}

impl RegistrationMode {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            RegistrationMode::Off => "off",
            RegistrationMode::InitialAccessToken => "initial_access_token",
            RegistrationMode::Open => "open",
        }
    }
    /// Parses the wire name.
    pub fn parse(raw: &str) -> Result<RegistrationMode, DomainError> {
        match raw {
            "off" => Ok(RegistrationMode::Off),
            "initial_access_token" => Ok(RegistrationMode::InitialAccessToken),
            "open" => Ok(RegistrationMode::Open),
            other => Err(DomainError::invalid(
                "registration",
                format!("is `{other}`; it is one of `off`, `initial_access_token`, `open`"),
            )),
        }
    }
}

/// The most approved domains a tenant keeps.
pub const MAX_APPROVED_DOMAINS: usize = 50;

/// A tenant's rules for clients nobody typed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRegistrationPolicy {
    /// Who may register clients at `/oauth2/register`.
    pub registration: RegistrationMode,
    /// Whether the tenant's people may authorize a client named by its metadata document.
    pub metadata_documents: bool,
    /// Host names whose metadata documents an admin vouched for: a client there is shown as
    /// verified (a subdomain counts), any other as unverified.
    pub approved_domains: Vec<String>,
}

impl Default for ClientRegistrationPolicy {
    fn default() -> Self {
        ClientRegistrationPolicy {
            registration: RegistrationMode::Off,
            metadata_documents: true,
            approved_domains: Vec::new(),
        }
    }
}

impl ClientRegistrationPolicy {
    /// Checks and normalizes the approved domains (lower case, no scheme, no port).
    pub fn new(
        registration: RegistrationMode,
        metadata_documents: bool,
        approved_domains: Vec<String>,
    ) -> Result<Self, DomainError> {
        if approved_domains.len() > MAX_APPROVED_DOMAINS {
            return Err(DomainError::invalid(
                "approved_domains",
                format!(
                    "has {} entries; at most {MAX_APPROVED_DOMAINS}",
                    approved_domains.len()
                ),
            ));
        }
        let mut kept: Vec<String> = Vec::new();
        for raw in approved_domains {
            let domain = raw.trim().trim_end_matches('.').to_ascii_lowercase();
            let host_like = !domain.is_empty()
                && domain.len() <= 253
                && domain.contains('.')
                && domain.split('.').all(|label| {
                    !label.is_empty()
                        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                });
            if !host_like {
                return Err(DomainError::invalid(
                    "approved_domains",
                    format!("entry `{raw}` is not a host name such as `agents.example.com`"),
                ));
            }
            if !kept.contains(&domain) {
                kept.push(domain);
            }
        }
        Ok(ClientRegistrationPolicy {
            registration,
            metadata_documents,
            approved_domains: kept,
        })
    }

    /// Whether a client whose metadata document is at `url` is one an admin vouched for.
    pub fn approves(&self, url: &str) -> bool {
        let Some(host) = url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        else {
            return false;
        };
        self.approved_domains
            .iter()
            .any(|d| host == *d || host.ends_with(&format!(".{d}")))
    }
}

/// The URL a `client_id` names, if it is one of a metadata document: https (plain http only
/// where the deployment allows it everywhere), a path beyond `/`, no fragment, no credentials,
/// no dot segments (draft-ietf-oauth-client-id-metadata-document §3).
pub fn metadata_document_url(client_id: &str, rules: UrlRules) -> Option<String> {
    if client_id.len() > MAX_URL_LEN
        || !(client_id.starts_with("https://")
            || rules.plain_http_anywhere && client_id.starts_with("http://"))
    {
        return None;
    }
    let url = url::Url::parse(client_id).ok()?;
    let plain = url.path() == "/" || client_id.contains("/./") || client_id.contains("/../");
    if plain
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
        || url.host().is_none()
    {
        return None;
    }
    // The client_id is compared as a string: only the form it arrived in is accepted.
    (url.as_str() == client_id).then(|| client_id.to_owned())
}

/// The integration id Tessera keeps for a metadata document's client: derived from the URL, so
/// every instance finds the same one without a lookup.
pub fn client_id_for_document(url: &str) -> ClientId {
    let digest = Sha256::digest(format!("tessera client id metadata document v1\0{url}"));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    // RFC 9562 version 8 (custom), variant 10.
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    ClientId::from_uuid(uuid::Uuid::from_bytes(bytes))
}

/// What a client says about itself, checked: the part of RFC 7591 §2 Tessera acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientMetadata {
    /// `client_name`, or the host of its URL.
    pub client_name: String,
    /// `redirect_uris`.
    pub redirect_uris: Vec<String>,
    /// `client_uri`: its home page.
    pub client_uri: Option<String>,
    /// `scope`: what it means to ask for, if it said.
    pub scope: Option<ScopeSet>,
}

fn bad_metadata(text: impl Into<String>) -> OAuthError {
    OAuthError::new(OAuthErrorCode::InvalidClientMetadata, text)
}

impl ClientMetadata {
    /// A registration request's body (RFC 7591 §2, §3.2.2): only a public client using the
    /// authorization code with PKCE, with refresh tokens, is registered.
    pub fn from_registration(body: &[u8], rules: UrlRules) -> Result<ClientMetadata, OAuthError> {
        if body.len() > MAX_CLIENT_METADATA_BYTES {
            return Err(bad_metadata(format!(
                "the registration request is {} bytes; at most {MAX_CLIENT_METADATA_BYTES}",
                body.len()
            )));
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| bad_metadata(format!("the body is not a JSON object: {e}")))?;
        Self::read(&value, "the registration request", None, rules)
    }

    /// A metadata document fetched from `url`: its `client_id` must be `url` itself.
    pub fn from_document(
        body: &[u8],
        url: &str,
        rules: UrlRules,
    ) -> Result<ClientMetadata, OAuthError> {
        if body.len() > MAX_CLIENT_METADATA_BYTES {
            return Err(bad_metadata(format!(
                "it is larger than {} KiB",
                MAX_CLIENT_METADATA_BYTES / 1024
            )));
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| bad_metadata(format!("it is not JSON: {e}")))?;
        match value.get("client_id").and_then(Value::as_str) {
            Some(id) if id == url => {}
            Some(id) => {
                return Err(bad_metadata(format!(
                    "it names `client_id` `{}`; it must name its own URL",
                    id.chars().take(200).collect::<String>()
                )))
            }
            None => {
                return Err(bad_metadata(
                    "it has no `client_id`; it must name its own URL",
                ))
            }
        }
        Self::read(&value, "the document", Some(url), rules)
    }

    fn read(
        value: &Value,
        what: &str,
        document: Option<&str>,
        rules: UrlRules,
    ) -> Result<ClientMetadata, OAuthError> {
        let Some(fields) = value.as_object() else {
            return Err(bad_metadata(format!("{what} is not a JSON object")));
        };
        let text = |name: &str| -> Result<Option<String>, OAuthError> {
            match fields.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(bad_metadata(format!("`{name}` in {what} must be a string"))),
            }
        };
        let list = |name: &str| -> Result<Option<Vec<String>>, OAuthError> {
            match fields.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|i| {
                        i.as_str().map(str::to_owned).ok_or_else(|| {
                            bad_metadata(format!("`{name}` in {what} must be an array of strings"))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some),
                Some(_) => Err(bad_metadata(format!(
                    "`{name}` in {what} must be an array of strings"
                ))),
            }
        };
        match text("token_endpoint_auth_method")?.as_deref() {
            // RFC 7591 §2's default is `client_secret_basic`; such a client is registered as
            // public and told so in the answer (§3.2.1 lets the server replace a value).
            None | Some("none" | "client_secret_basic" | "client_secret_post") => {}
            Some(other) => {
                return Err(bad_metadata(format!(
                    "`token_endpoint_auth_method` is `{other}`; a client registered here is public: `none`"
                )))
            }
        }
        for grant in list("grant_types")?.unwrap_or_default() {
            match grant.as_str() {
                "authorization_code" | "refresh_token" => {}
                "client_credentials" => {
                    return Err(bad_metadata(
                        "`grant_types` names `client_credentials`: a public client acts for a person only (authorization_code, refresh_token)",
                    ))
                }
                other => {
                    return Err(bad_metadata(format!(
                        "`grant_types` names `{other}`; supported are `authorization_code` and `refresh_token`"
                    )))
                }
            }
        }
        for response in list("response_types")?.unwrap_or_default() {
            if response != "code" {
                return Err(bad_metadata(format!(
                    "`response_types` names `{response}`; supported is `code`"
                )));
            }
        }
        let redirect_uris = list("redirect_uris")?.unwrap_or_default();
        if redirect_uris.is_empty() {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidRedirectUri,
                format!(
                    "{what} has no `redirect_uris`: the authorization code flow needs at least one"
                ),
            ));
        }
        let redirect_uris = NewIntegration::check_redirect_uris(redirect_uris, rules)
            .map_err(|e| OAuthError::new(OAuthErrorCode::InvalidRedirectUri, e.to_string()))?;
        let web = |name: &'static str| -> Result<Option<String>, OAuthError> {
            text(name)?
                .map(|u| validate_web_url(name, &u, rules))
                .transpose()
                .map_err(|e| bad_metadata(e.to_string()))
        };
        let client_uri = web("client_uri")?;
        // Checked as RFC 7591 §2 asks, though no page shows a logo yet.
        web("logo_uri")?;
        let scope = text("scope")?
            .map(|s| ScopeSet::parse(&s))
            .transpose()
            .map_err(|e| {
                bad_metadata(format!(
                    "`scope` names `{}`, which Tessera does not know",
                    e.0
                ))
            })?;
        let named = text("client_name")?
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty());
        let client_name = match named {
            Some(name) if name.chars().count() <= 100 && !name.chars().any(char::is_control) => {
                name
            }
            Some(_) => {
                return Err(bad_metadata(
                    "`client_name` must be at most 100 characters, with no control characters",
                ))
            }
            None => document
                .or(redirect_uris.first().map(String::as_str))
                .and_then(|u| url::Url::parse(u).ok())
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_else(|| "Unnamed application".to_owned()),
        };
        Ok(ClientMetadata {
            client_name,
            redirect_uris,
            client_uri,
            scope,
        })
    }

    /// The public integration it becomes: it may ask a person for what an integration may by
    /// default, within what it said it means to ask for.
    pub fn new_integration(&self, rules: UrlRules) -> NewIntegration {
        let scopes = ScopeSet::default_for_integration();
        NewIntegration {
            display_name: self.client_name.clone(),
            scopes: Some(self.scope.map_or(scopes, |s| s.intersection(scopes))),
            custom_claims: BTreeMap::new(),
            token_ttl_seconds: None,
            refresh_token_idle_seconds: None,
            refresh_token_absolute_seconds: None,
            jwks_uri: None,
            redirect_uris: self.redirect_uris.clone(),
            public_client: true,
            dpop_bound_access_tokens: false,
            app: None,
            profile: AppProfile {
                homepage_url: self.client_uri.clone(),
                ..AppProfile::default()
            },
            urls: rules,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://agent.example.com/oauth/client.json";

    fn document(extra: &str) -> Vec<u8> {
        format!(
            r#"{{"client_id":"{URL}","client_name":"Example Agent","redirect_uris":["http://127.0.0.1/callback"]{extra}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn a_document_must_name_its_own_url() {
        let read = ClientMetadata::from_document(&document(""), URL, UrlRules::default()).unwrap();
        assert_eq!(read.client_name, "Example Agent");
        assert_eq!(read.redirect_uris, ["http://127.0.0.1/callback"]);
        let e = ClientMetadata::from_document(
            &document(""),
            "https://other.example/c.json",
            UrlRules::default(),
        )
        .unwrap_err();
        assert_eq!(e.code, OAuthErrorCode::InvalidClientMetadata);
        assert!(e.description.contains("must name its own URL"), "{e}");
    }

    #[test]
    fn registrations_are_public_code_clients_only() {
        let rules = UrlRules::default();
        let ok = br#"{"redirect_uris":["http://localhost:3000/cb"],"grant_types":["authorization_code","refresh_token"],"token_endpoint_auth_method":"client_secret_post"}"#;
        let read = ClientMetadata::from_registration(ok, rules).unwrap();
        assert_eq!(read.client_name, "localhost");
        let integration = read.new_integration(rules);
        assert!(integration.public_client);
        for (body, says) in [
            (&br#"{"redirect_uris":["http://localhost/cb"],"grant_types":["client_credentials"]}"#[..], "client_credentials"),
            (br#"{"redirect_uris":[]}"#, "redirect_uris"),
            (br#"{"redirect_uris":["http://evil.example/cb"]}"#, "redirect_uris"),
            (br#"{"redirect_uris":["http://localhost/cb"],"response_types":["token"]}"#, "response_types"),
            (br#"{"redirect_uris":["http://localhost/cb"],"token_endpoint_auth_method":"private_key_jwt"}"#, "token_endpoint_auth_method"),
            (br#"{"redirect_uris":["http://localhost/cb"],"scope":"root"}"#, "scope"),
            (br#"[1]"#, "JSON object"),
        ] {
            let e = ClientMetadata::from_registration(body, rules).unwrap_err();
            assert!(e.description.contains(says), "{says}: {e}");
        }
        let big = vec![b' '; MAX_CLIENT_METADATA_BYTES + 1];
        assert!(ClientMetadata::from_registration(&big, rules).is_err());
    }

    #[test]
    fn document_urls_are_https_with_a_path() {
        let rules = UrlRules::default();
        assert_eq!(metadata_document_url(URL, rules).as_deref(), Some(URL));
        for bad in [
            "http://agent.example.com/c.json",
            "https://agent.example.com/",
            "https://agent.example.com",
            "https://agent.example.com/a/../c.json",
            "https://user@agent.example.com/c.json",
            "https://agent.example.com/c.json#x",
            "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
        ] {
            assert_eq!(metadata_document_url(bad, rules), None, "{bad}");
        }
        let plain = UrlRules {
            plain_http_anywhere: true,
        };
        assert!(metadata_document_url("http://127.0.0.1:9/c.json", plain).is_some());
        assert_eq!(client_id_for_document(URL), client_id_for_document(URL));
        assert_ne!(
            client_id_for_document(URL),
            client_id_for_document("https://b.example/c")
        );
    }

    #[test]
    fn approved_domains_cover_their_subdomains() {
        let policy = ClientRegistrationPolicy::new(
            RegistrationMode::Open,
            true,
            vec!["Example.com".into(), "example.com".into()],
        )
        .unwrap();
        assert_eq!(policy.approved_domains, ["example.com"]);
        assert!(policy.approves(URL));
        assert!(!policy.approves("https://example.com.evil.test/c.json"));
        assert!(ClientRegistrationPolicy::new(
            RegistrationMode::Off,
            true,
            vec!["https://x".into()]
        )
        .is_err());
        assert!(RegistrationMode::parse("sometimes").is_err());
    }
}

//! The authorization code grant (RFC 6749 §4.1) with PKCE (RFC 7636, `S256` only) under the
//! OAuth 2.1 rules of RFC 9700 (SPEC §15). I/O-free: the edge hands in the query's lookup, the
//! clients, the signed-in user and the time.
//!
//! The code is the grant itself, sealed with the master key (AES-256-GCM, its own purpose), so
//! no instance stores it and any instance redeems it; single use is the edge's: it records the
//! code's id in the same replay store as assertion `jti`s, and the token minted for a code
//! carries that id as its `jti`, so a second use revokes the token the first one got.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::{mint, narrow_scope_within, IssueContext, IssuedToken, Subject};
use crate::client_auth::RegisteredClient;
use crate::crypto::MasterKey;
use crate::error::{OAuthError, OAuthErrorCode};
use crate::id::{ClientId, UserId};
use crate::model::{Tenant, User};
use crate::ports::Rng;
use crate::scope::{Scope, ScopeSet};
use crate::token::{Actor, TokenSubject};

/// RFC 6749 §4.1.3.
pub const GRANT_AUTHORIZATION_CODE: &str = "authorization_code";
/// How long a code may wait for its redemption (RFC 6749 §4.1.2 recommends at most ten
/// minutes; a client redeems at once).
pub const CODE_TTL_SECONDS: i64 = 60;
/// What the master key seals codes for: a code opens as nothing else, nothing else as a code.
const CODE_PURPOSE: &str = "tessera authorization code v1";

/// Why the authorization endpoint refuses (RFC 6749 §4.1.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeRefusal {
    /// The client or its redirect URI is not known-good: the person is told on a page and
    /// never sent anywhere (no open redirector).
    Page(String),
    /// Everything else goes back to the client's redirect URI.
    Redirect {
        /// The registered URI the answer goes to.
        redirect_uri: String,
        /// The RFC 6749 error.
        error: OAuthError,
        /// The client's `state`, returned as sent.
        state: Option<String>,
    },
}

/// An authorization request that passed every check: what the consent page shows and the code
/// binds.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    /// The client asking.
    pub client: Arc<RegisteredClient>,
    /// Where the answer goes: one of the client's registered URIs.
    pub redirect_uri: String,
    /// Whether the request named `redirect_uri` (then the token request must name it too).
    pub redirect_uri_given: bool,
    /// The scopes asked for (all the client may ask a person for, when none were named).
    pub scope: ScopeSet,
    /// The client's `state`.
    pub state: Option<String>,
    /// The PKCE `S256` challenge.
    pub code_challenge: String,
    /// The resource the token is for (RFC 8707): its `aud`.
    pub resource: String,
    /// Its name, for the consent page.
    pub resource_name: String,
    /// Whether it is a registered resource server (not Tessera's own API), which a remembered
    /// consent must name.
    pub resource_registered: bool,
}

/// A resource a token may be for (RFC 8707): Tessera's own API, or a tenant's resource server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownResource {
    /// The tokens' `aud`, as registered.
    pub identifier: String,
    /// The name people see.
    pub display_name: String,
    /// The scopes its tokens may carry.
    pub scopes: ScopeSet,
    /// A tenant's resource server, not Tessera's own API.
    pub registered: bool,
}

impl KnownResource {
    /// Tessera's own `/v2` API: every scope a person may give.
    pub fn own_api(audience: &str) -> Self {
        KnownResource {
            identifier: audience.to_owned(),
            display_name: "the Tessera API".to_owned(),
            scopes: crate::model::resource_scopes(),
            registered: false,
        }
    }

    /// A tenant's resource server.
    pub fn registered(server: &crate::model::ResourceServer) -> Self {
        KnownResource {
            identifier: server.identifier.clone(),
            display_name: server.display_name.clone(),
            scopes: server.scopes,
            registered: true,
        }
    }
}

/// The resource a request's `resource` names (RFC 8707 §2): Tessera's own API when it names
/// none or that one, else what `find` knows by canonical identifier; `invalid_target` otherwise.
pub fn resolve_resource(
    asked: Option<&str>,
    own: &KnownResource,
    find: &dyn Fn(&str) -> Option<KnownResource>,
) -> Result<KnownResource, OAuthError> {
    let Some(asked) = asked else {
        return Ok(own.clone());
    };
    let unknown = || {
        OAuthError::new(
            OAuthErrorCode::InvalidTarget,
            format!(
                "`resource` `{}` is not a resource server registered with Tessera",
                asked.chars().take(200).collect::<String>()
            ),
        )
    };
    let canonical = crate::model::canonical_resource(asked).ok_or_else(unknown)?;
    if crate::model::canonical_resource(&own.identifier).as_deref() == Some(canonical.as_str()) {
        return Ok(own.clone());
    }
    find(&canonical).ok_or_else(unknown)
}

/// Scopes a person may give an application: never the tenant's administration, the platform
/// operator's or the power to act for others.
pub fn personal_scopes(client: &RegisteredClient) -> ScopeSet {
    client
        .integration
        .scopes
        .without(Scope::Admin)
        .without(Scope::Platform)
        .without(Scope::Impersonation)
}

/// Whether `given` is one of `registered`: the same string, or — for a loopback address
/// (RFC 8252 §7.3) — the same but for the port, which a native app picks when it starts.
pub fn redirect_uri_registered(registered: &[String], given: &str) -> bool {
    registered.iter().any(|r| r == given) || {
        let Ok(given) = url::Url::parse(given) else {
            return false;
        };
        is_loopback(&given)
            && registered.iter().any(|r| {
                url::Url::parse(r).is_ok_and(|mut r| {
                    is_loopback(&r) && {
                        // Both parsed the same way; only the port may differ.
                        let _ = r.set_port(given.port());
                        r == given
                    }
                })
            })
    }
}

fn is_loopback(url: &url::Url) -> bool {
    url.scheme() == "http"
        && match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => false,
        }
}

/// RFC 7636 §4.1: 43 to 128 characters of `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"`;
/// the challenge of `S256` is of the same alphabet (base64url of 32 bytes: 43 characters).
fn pkce_form(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Reads an authorization request (`param` gives a query parameter; the edge refused repeats):
/// the client and redirect URI first, whose faults are a page; then the rest, whose faults go
/// back to the client. `own` is Tessera's own API, the default resource; `find` looks up a
/// canonical identifier among the resource servers of the person's tenant (RFC 8707); `client`
/// finds the client a `client_id` names (a registered id, or a metadata document's URL).
pub fn read_authorization_request<'a>(
    param: impl Fn(&str) -> Option<&'a str>,
    client: &dyn Fn(&str) -> Option<Arc<RegisteredClient>>,
    own: &KnownResource,
    find: &dyn Fn(&str) -> Option<KnownResource>,
) -> Result<AuthorizationRequest, AuthorizeRefusal> {
    let Some(client_id) = param("client_id") else {
        return Err(AuthorizeRefusal::Page(
            "The link names no application: its `client_id` parameter is missing.".into(),
        ));
    };
    let Some(client) = client(client_id) else {
        return Err(AuthorizeRefusal::Page(format!(
            "No application is registered as `{}`: ask whoever sent you here for a working link.",
            client_id.chars().take(80).collect::<String>()
        )));
    };
    let registered = &client.integration.redirect_uris;
    let name = &client.integration.display_name;
    let (redirect_uri, redirect_uri_given) = match param("redirect_uri") {
        Some(uri) if redirect_uri_registered(registered, uri) => (uri.to_owned(), true),
        Some(uri) => {
            return Err(AuthorizeRefusal::Page(format!(
                "{name} asked to send you back to `{}`, which is not one of the addresses it registered; nothing was sent there. Its developer must register that redirect URI.",
                uri.chars().take(200).collect::<String>()
            )))
        }
        // RFC 6749 §3.1.2.3: with one registered URI, it may be left out.
        None if registered.len() == 1 => (registered[0].clone(), false),
        None if registered.is_empty() => {
            return Err(AuthorizeRefusal::Page(format!(
                "{name} has registered no redirect URI, so Tessera cannot send you back to it. Its developer must register one (`redirect_uris`)."
            )))
        }
        None => {
            return Err(AuthorizeRefusal::Page(format!(
                "{name} registered several redirect URIs and the link names none (`redirect_uri`): Tessera cannot tell where to send you back."
            )))
        }
    };
    let state = param("state").map(str::to_owned);
    let refuse = |code: OAuthErrorCode, text: String| AuthorizeRefusal::Redirect {
        redirect_uri: redirect_uri.clone(),
        error: OAuthError::new(code, text),
        state: state.clone(),
    };
    match param("response_type") {
        Some("code") => {}
        None => {
            return Err(refuse(
                OAuthErrorCode::InvalidRequest,
                "the `response_type` parameter is missing; Tessera supports `code`".into(),
            ))
        }
        Some(other) => {
            return Err(refuse(
                OAuthErrorCode::UnsupportedResponseType,
                format!(
                    "response_type `{}` is not supported; Tessera supports `code` only",
                    other.chars().take(40).collect::<String>()
                ),
            ))
        }
    }
    let Some(code_challenge) = param("code_challenge") else {
        return Err(refuse(
            OAuthErrorCode::InvalidRequest,
            "the `code_challenge` parameter is missing: Tessera requires PKCE (RFC 7636) with `code_challenge_method=S256`".into(),
        ));
    };
    match param("code_challenge_method") {
        Some("S256") => {}
        Some("plain") | None => {
            return Err(refuse(
                OAuthErrorCode::InvalidRequest,
                "`code_challenge_method` must be `S256`: `plain` (the default when it is left out) is not accepted".into(),
            ))
        }
        Some(other) => {
            return Err(refuse(
                OAuthErrorCode::InvalidRequest,
                format!(
                    "code_challenge_method `{}` is not supported; use `S256`",
                    other.chars().take(40).collect::<String>()
                ),
            ))
        }
    }
    if !pkce_form(code_challenge) {
        return Err(refuse(
            OAuthErrorCode::InvalidRequest,
            "`code_challenge` must be 43 to 128 characters of A-Z, a-z, 0-9, `-`, `.`, `_`, `~` (the base64url SHA-256 of the verifier)".into(),
        ));
    }
    let back = |error: OAuthError| AuthorizeRefusal::Redirect {
        redirect_uri: redirect_uri.clone(),
        error,
        state: state.clone(),
    };
    let resource = resolve_resource(param("resource"), own, find).map_err(back)?;
    let offered = personal_scopes(&client);
    let mut scope = narrow_scope_within(
        param("scope"),
        offered,
        "a person cannot give this application",
    )
    .map_err(back)?;
    let outside = scope.difference(resource.scopes);
    if param("scope").is_some() && !outside.is_empty() {
        return Err(refuse(
            OAuthErrorCode::InvalidScope,
            format!(
                "`scope` contains `{outside}`, which {} does not accept; it accepts: {}",
                resource.display_name, resource.scopes
            ),
        ));
    }
    scope = scope.intersection(resource.scopes);
    if scope.is_empty() {
        return Err(refuse(
            OAuthErrorCode::InvalidScope,
            format!(
                "{name} may ask a person for no scope {} accepts: give the integration one of `{}`",
                resource.display_name, resource.scopes
            ),
        ));
    }
    Ok(AuthorizationRequest {
        redirect_uri: redirect_uri.clone(),
        redirect_uri_given,
        scope,
        state: state.clone(),
        code_challenge: code_challenge.to_owned(),
        resource: resource.identifier,
        resource_name: resource.display_name,
        resource_registered: resource.registered,
        client,
    })
}

/// What a code holds, sealed: everything its redemption checks and the token needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeGrant {
    /// Random; the replay store's key and the `jti` of the token it is redeemed for.
    pub id: String,
    /// The client it was issued to.
    pub client_id: ClientId,
    /// The person who authorized.
    pub user_id: UserId,
    /// Where it was sent.
    pub redirect_uri: String,
    /// Whether the request named the redirect URI.
    pub redirect_uri_given: bool,
    /// The PKCE `S256` challenge.
    pub code_challenge: String,
    /// The scopes authorized, as `scope` writes them.
    pub scope: String,
    /// The token's audience.
    pub resource: String,
    /// Until when it may be redeemed (Unix seconds).
    pub exp: i64,
}

impl CodeGrant {
    /// The grant of `request` for `user`, good for [`CODE_TTL_SECONDS`].
    pub fn new(
        request: &AuthorizationRequest,
        user: UserId,
        now_seconds: i64,
        rng: &dyn Rng,
    ) -> Self {
        CodeGrant {
            id: crate::crypto::random_token(rng, 16),
            client_id: request.client.integration.client_id,
            user_id: user,
            redirect_uri: request.redirect_uri.clone(),
            redirect_uri_given: request.redirect_uri_given,
            code_challenge: request.code_challenge.clone(),
            scope: request.scope.to_string(),
            resource: request.resource.clone(),
            exp: now_seconds + CODE_TTL_SECONDS,
        }
    }

    /// The code: the grant sealed with the master key, base64url.
    pub fn seal(&self, key: &MasterKey, rng: &dyn Rng) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(key.encrypt(rng, CODE_PURPOSE, &json))
    }

    /// The grant a code holds, once every RFC 6749 §4.1.3 and RFC 7636 §4.6 check passed; not
    /// yet its single use, which is the edge's.
    pub fn redeem(
        key: &MasterKey,
        code: &str,
        client_id: ClientId,
        redirect_uri: Option<&str>,
        code_verifier: &str,
        resource: Option<&str>,
        now_seconds: i64,
    ) -> Result<CodeGrant, OAuthError> {
        let invalid = |text: &str| OAuthError::new(OAuthErrorCode::InvalidGrant, text);
        let grant: CodeGrant = URL_SAFE_NO_PAD
            .decode(code)
            .ok()
            .and_then(|sealed| key.decrypt_owned(CODE_PURPOSE, sealed).ok())
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or_else(|| invalid("`code` is not a code Tessera issued"))?;
        if grant.client_id != client_id {
            return Err(invalid("`code` was issued to another client"));
        }
        if now_seconds > grant.exp {
            return Err(invalid(&format!(
                "`code` expired: a code must be redeemed within {CODE_TTL_SECONDS} seconds; send the person through /oauth2/authorize again"
            )));
        }
        match redirect_uri {
            Some(uri) if uri == grant.redirect_uri => {}
            Some(_) => {
                return Err(invalid(
                    "`redirect_uri` is not the one the code was sent to",
                ))
            }
            None if grant.redirect_uri_given => {
                return Err(OAuthError::invalid_request(
                    "the `redirect_uri` parameter is missing: the authorization request named one, so the token request must name it too (RFC 6749 §4.1.3)",
                ))
            }
            None => {}
        }
        let canonical =
            |r: &str| crate::model::canonical_resource(r).unwrap_or_else(|| r.to_owned());
        if resource.is_some_and(|r| canonical(r) != canonical(&grant.resource)) {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidTarget,
                "`resource` is not the one the person authorized",
            ));
        }
        if !pkce_form(code_verifier) {
            return Err(OAuthError::invalid_request(
                "`code_verifier` must be 43 to 128 characters of A-Z, a-z, 0-9, `-`, `.`, `_`, `~` (RFC 7636 §4.1)",
            ));
        }
        if !pkce_matches(code_verifier, &grant.code_challenge) {
            return Err(invalid(
                "`code_verifier` does not match the `code_challenge` of the authorization request",
            ));
        }
        Ok(grant)
    }
}

/// RFC 7636 §4.6: `BASE64URL(SHA256(verifier)) == challenge`, compared in constant time.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    let computed = URL_SAFE_NO_PAD.encode(digest.as_ref());
    subtle::ConstantTimeEq::ct_eq(computed.as_bytes(), challenge.as_bytes()).into()
}

/// Mints the token a redeemed code gives: the person's, with the client as actor, no more than
/// they still consent to (a consent withdrawn since the code was given refuses it).
pub fn issue(
    ctx: &IssueContext<'_>,
    client: &RegisteredClient,
    grant: &CodeGrant,
    user: &User,
    tenant: &Tenant,
    consented: Option<ScopeSet>,
) -> Result<IssuedToken, OAuthError> {
    let scope = ScopeSet::parse(&grant.scope).map_err(|_| {
        OAuthError::new(OAuthErrorCode::InvalidGrant, "`code` names unknown scopes")
    })?;
    let person = PersonToken {
        user,
        tenant,
        consented,
        scope,
        resource: &grant.resource,
        jti: grant.id.clone(),
    };
    issue_for_person(ctx, client, person)
}

/// What a token a person authorized is made of (a redeemed code's or a refresh's).
pub(super) struct PersonToken<'a> {
    pub user: &'a User,
    pub tenant: &'a Tenant,
    /// What the person's consents allow now (`None`: no consent covers them).
    pub consented: Option<ScopeSet>,
    pub scope: ScopeSet,
    pub resource: &'a str,
    pub jti: String,
}

/// The person's token, with the client as actor, no more than they still consent to.
pub(super) fn issue_for_person(
    ctx: &IssueContext<'_>,
    client: &RegisteredClient,
    person: PersonToken<'_>,
) -> Result<IssuedToken, OAuthError> {
    let PersonToken {
        user,
        tenant,
        consented,
        scope,
        resource,
        jti,
    } = person;
    let allowed = consented
        .unwrap_or_default()
        .intersection(personal_scopes(client));
    if !scope.difference(allowed).is_empty() {
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidGrant,
            format!(
                "{} no longer consents to `{}` for this application",
                user.email,
                scope.difference(allowed)
            ),
        ));
    }
    let mut subject = Subject::direct(
        TokenSubject::User(user.id),
        tenant.id,
        tenant.tier,
        Some(Actor {
            sub: client.integration.client_id.to_string(),
            act: None,
        }),
    );
    subject.consent = Some(client.integration.client_id);
    subject.jti = Some(jti);
    subject.audience = Some(resource.to_owned());
    mint(ctx, client, subject, scope)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::client_auth::ClientDirectory;
    use crate::grant::fixtures;
    use crate::id::TenantId;

    struct One(Arc<RegisteredClient>);

    impl ClientDirectory for One {
        fn client(&self, id: &ClientId) -> Option<Arc<RegisteredClient>> {
            (*id == self.0.integration.client_id).then(|| self.0.clone())
        }
    }

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    /// RFC 7636 Appendix B.
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn client(uris: &[&str]) -> One {
        let mut client = fixtures::client(TenantId::random(), "assets:read events:read admin");
        client.integration.redirect_uris = uris.iter().map(|u| u.to_string()).collect();
        One(Arc::new(client))
    }

    fn read(
        directory: &One,
        extra: &[(&str, &str)],
    ) -> Result<AuthorizationRequest, AuthorizeRefusal> {
        let id = directory.0.integration.client_id.to_string();
        let mut q: HashMap<&str, &str> = [
            ("client_id", id.as_str()),
            ("response_type", "code"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("state", "xyz"),
        ]
        .into_iter()
        .collect();
        for (k, v) in extra {
            if v.is_empty() {
                q.remove(k);
            } else {
                q.insert(k, v);
            }
        }
        let owned: HashMap<String, String> = q
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let tools = KnownResource {
            identifier: "https://Tools.example.com".into(),
            display_name: "Tools".into(),
            scopes: ScopeSet::parse("events:read").unwrap(),
            registered: true,
        };
        read_authorization_request(
            |name| owned.get(name).map(String::as_str),
            &|id| {
                id.parse::<ClientId>()
                    .ok()
                    .and_then(|id| directory.client(&id))
            },
            &KnownResource::own_api("https://api.example.com"),
            &|canonical| (canonical == "https://tools.example.com/").then(|| tools.clone()),
        )
    }

    #[test]
    fn pkce_s256_matches_the_rfc_7636_example() {
        assert!(pkce_matches(VERIFIER, CHALLENGE));
        assert!(!pkce_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj",
            CHALLENGE
        ));
    }

    #[test]
    fn loopback_redirect_uris_match_on_any_port_and_others_only_exactly() {
        let registered = vec![
            "http://127.0.0.1/callback".to_owned(),
            "https://app.example.com/cb".to_owned(),
        ];
        assert!(redirect_uri_registered(
            &registered,
            "http://127.0.0.1:53127/callback"
        ));
        assert!(redirect_uri_registered(
            &registered,
            "http://127.0.0.1/callback"
        ));
        assert!(redirect_uri_registered(
            &registered,
            "https://app.example.com/cb"
        ));
        for refused in [
            "http://127.0.0.1:53127/other",
            "https://app.example.com/cb/",
            "https://app.example.com:8443/cb",
            "https://app.example.com/cb?x=1",
            "http://localhost:53127/callback",
            "https://evil.example/cb",
            "not a url",
        ] {
            assert!(!redirect_uri_registered(&registered, refused), "{refused}");
        }
    }

    #[test]
    fn the_client_and_redirect_uri_are_checked_first_and_shown_never_redirected() {
        let c = client(&[
            "https://app.example.com/cb",
            "https://app.example.com/other",
        ]);
        let page = |extra: &[(&str, &str)], words: &str| match read(&c, extra) {
            Err(AuthorizeRefusal::Page(text)) => assert!(text.contains(words), "{text}"),
            other => panic!("{extra:?}: {other:?}"),
        };
        page(&[("client_id", "")], "`client_id` parameter is missing");
        page(
            &[("client_id", "nope")],
            "No application is registered as `nope`",
        );
        page(&[], "names none");
        page(
            &[("redirect_uri", "https://evil.example/cb")],
            "not one of the addresses",
        );
        // Even with every other parameter wrong, a bad redirect URI is a page.
        page(
            &[
                ("redirect_uri", "https://evil.example/cb"),
                ("response_type", "token"),
            ],
            "not one",
        );
        let none = client(&[]);
        match read(&none, &[]) {
            Err(AuthorizeRefusal::Page(text)) => {
                assert!(text.contains("no redirect URI"), "{text}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_other_fault_goes_back_to_the_client_with_its_state() {
        let c = client(&["https://app.example.com/cb"]);
        let back = |extra: &[(&str, &str)], code: OAuthErrorCode, words: &str| match read(&c, extra)
        {
            Err(AuthorizeRefusal::Redirect {
                redirect_uri,
                error,
                state,
            }) => {
                assert_eq!(redirect_uri, "https://app.example.com/cb");
                assert_eq!(state.as_deref(), Some("xyz"));
                assert_eq!(error.code, code, "{extra:?}: {error}");
                assert!(error.description.contains(words), "{error}");
            }
            other => panic!("{extra:?}: {other:?}"),
        };
        use OAuthErrorCode::*;
        back(&[("response_type", "")], InvalidRequest, "`response_type`");
        back(
            &[("response_type", "token")],
            UnsupportedResponseType,
            "`token`",
        );
        back(&[("code_challenge", "")], InvalidRequest, "requires PKCE");
        back(&[("code_challenge_method", "")], InvalidRequest, "`plain`");
        back(
            &[("code_challenge_method", "plain")],
            InvalidRequest,
            "`plain`",
        );
        back(
            &[("code_challenge_method", "S512")],
            InvalidRequest,
            "`S512`",
        );
        back(&[("code_challenge", "short")], InvalidRequest, "43 to 128");
        back(&[("scope", "admin")], InvalidScope, "admin");
        back(&[("scope", "nonsense")], InvalidScope, "nonsense");
        back(
            &[("resource", "https://other.example")],
            InvalidTarget,
            "not a resource server",
        );
    }

    #[test]
    fn a_good_request_asks_for_what_a_person_may_give() {
        let c = client(&["https://app.example.com/cb"]);
        let asked = read(&c, &[]).unwrap();
        assert_eq!(
            asked.scope.to_string(),
            "assets:read events:read",
            "never admin"
        );
        assert!(!asked.redirect_uri_given);
        assert_eq!(asked.resource, "https://api.example.com");
        let narrowed = read(
            &c,
            &[
                ("scope", "events:read"),
                ("redirect_uri", "https://app.example.com/cb"),
            ],
        )
        .unwrap();
        assert_eq!(narrowed.scope.to_string(), "events:read");
        assert!(narrowed.redirect_uri_given);
    }

    #[test]
    fn a_resource_server_sets_the_audience_and_bounds_the_scopes() {
        let c = client(&["https://app.example.com/cb"]);
        let tools = read(&c, &[("resource", "https://tools.example.com")]).unwrap();
        assert_eq!(
            (
                tools.resource.as_str(),
                tools.resource_name.as_str(),
                tools.resource_registered
            ),
            ("https://Tools.example.com", "Tools", true),
            "the aud is the identifier as registered"
        );
        assert_eq!(
            tools.scope.to_string(),
            "events:read",
            "only what Tools accepts"
        );
        let own = read(&c, &[("resource", "https://api.example.com/")]).unwrap();
        assert_eq!(
            (own.resource.as_str(), own.resource_registered),
            ("https://api.example.com", false)
        );
        match read(
            &c,
            &[
                ("resource", "https://tools.example.com"),
                ("scope", "assets:read"),
            ],
        ) {
            Err(AuthorizeRefusal::Redirect { error, .. }) => {
                assert_eq!(error.code, OAuthErrorCode::InvalidScope);
                assert!(
                    error.description.contains("Tools does not accept"),
                    "{error}"
                );
            }
            other => panic!("{other:?}"),
        }
        match read(&c, &[("resource", "not a uri")]) {
            Err(AuthorizeRefusal::Redirect { error, .. }) => {
                assert_eq!(error.code, OAuthErrorCode::InvalidTarget)
            }
            other => panic!("{other:?}"),
        }
    }

    /// One redemption's arguments, so each case below changes only what it is about.
    #[derive(Clone, Copy)]
    struct Try<'a> {
        key: &'a MasterKey,
        code: &'a str,
        client: ClientId,
        uri: Option<&'a str>,
        verifier: &'a str,
        resource: Option<&'a str>,
        now: i64,
    }

    impl Try<'_> {
        fn redeem(self) -> Result<CodeGrant, OAuthError> {
            let Try {
                key,
                code,
                client,
                uri,
                verifier,
                resource,
                now,
            } = self;
            CodeGrant::redeem(key, code, client, uri, verifier, resource, now)
        }
    }

    /// A sealed code of `user` for [`read`]'s request with a redirect URI, the key that sealed
    /// it, and the redemption that succeeds at its last second.
    fn sealed(user: UserId) -> (MasterKey, String, ClientId) {
        let c = client(&["https://app.example.com/cb"]);
        let asked = read(&c, &[("redirect_uri", "https://app.example.com/cb")]).unwrap();
        let rng = crate::ports::OsRng;
        let (key, _) = MasterKey::generate(&rng);
        let code = CodeGrant::new(&asked, user, 1000, &rng).seal(&key, &rng);
        (key, code, c.0.integration.client_id)
    }

    fn good<'a>(key: &'a MasterKey, code: &'a str, client: ClientId) -> Try<'a> {
        Try {
            key,
            code,
            client,
            uri: Some("https://app.example.com/cb"),
            verifier: VERIFIER,
            resource: None,
            now: 1060,
        }
    }

    fn refused(t: Try<'_>, code: OAuthErrorCode, words: &str) {
        let e = t.redeem().unwrap_err();
        assert_eq!(e.code, code, "{e}");
        assert!(e.description.contains(words), "{e}");
    }

    #[test]
    fn a_code_redeems_within_its_minute_for_its_client_and_redirect_uri_only() {
        let user = UserId::random();
        let (key, code, id) = sealed(user);
        let good = good(&key, &code, id);
        let ok = good.redeem().unwrap();
        assert_eq!(
            (ok.user_id, ok.scope.as_str()),
            (user, "assets:read events:read")
        );
        use OAuthErrorCode::*;
        refused(Try { now: 1061, ..good }, InvalidGrant, "expired");
        refused(
            Try {
                client: ClientId::random(),
                ..good
            },
            InvalidGrant,
            "another client",
        );
        let elsewhere = Some("https://app.example.com/x");
        refused(
            Try {
                uri: elsewhere,
                ..good
            },
            InvalidGrant,
            "`redirect_uri`",
        );
        refused(
            Try { uri: None, ..good },
            InvalidRequest,
            "`redirect_uri` parameter is missing",
        );
    }

    #[test]
    fn a_code_redeems_only_with_its_verifier_resource_and_key_and_unchanged() {
        let (key, code, id) = sealed(UserId::random());
        let good = good(&key, &code, id);
        use OAuthErrorCode::*;
        refused(
            Try {
                verifier: "x",
                ..good
            },
            InvalidRequest,
            "43 to 128",
        );
        let wrong = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj";
        refused(
            Try {
                verifier: wrong,
                ..good
            },
            InvalidGrant,
            "does not match",
        );
        let other = Some("https://x.example");
        refused(
            Try {
                resource: other,
                ..good
            },
            InvalidTarget,
            "`resource`",
        );
        let mut changed = code.clone().into_bytes();
        changed[20] = if changed[20] == b'A' { b'B' } else { b'A' };
        let changed = String::from_utf8(changed).unwrap();
        refused(
            Try {
                code: &changed,
                ..good
            },
            InvalidGrant,
            "not a code Tessera issued",
        );
        let (other_key, _) = MasterKey::generate(&crate::ports::OsRng);
        refused(
            Try {
                key: &other_key,
                ..good
            },
            InvalidGrant,
            "not a code Tessera issued",
        );
    }

    #[test]
    fn the_token_is_the_persons_within_what_they_still_consent_to() {
        let c = client(&["https://app.example.com/cb"]);
        let asked = read(&c, &[]).unwrap();
        let rng = crate::ports::OsRng;
        let tenant = fixtures::tenant(false);
        let user = fixtures::user(tenant.id);
        let grant = CodeGrant::new(&asked, user.id, 1000, &rng);
        let ring = fixtures::ring();
        let ctx = fixtures::ctx(&ring);
        let all = ScopeSet::parse("assets:read events:read").ok();
        let token = issue(&ctx, &c.0, &grant, &user, &tenant, all).unwrap();
        let claims = ring.verify(&token.access_token).unwrap();
        assert_eq!(claims.sub, TokenSubject::User(user.id));
        assert_eq!(
            claims.jti, grant.id,
            "a second use of the code revokes this token by its id"
        );
        assert_eq!(claims.aud, "https://api.example.com");
        assert_eq!(claims.consent, Some(c.0.integration.client_id));
        let less = ScopeSet::parse("assets:read").ok();
        let e = issue(&ctx, &c.0, &grant, &user, &tenant, less).unwrap_err();
        assert!(
            e.description
                .contains("no longer consents to `events:read`"),
            "{e}"
        );
        assert!(issue(&ctx, &c.0, &grant, &user, &tenant, None).is_err());
    }
}

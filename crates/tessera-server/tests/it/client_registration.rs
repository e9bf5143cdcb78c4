//! Clients nobody typed in (SPEC §15, issue 29 point 4) through the real router: a client
//! named by its Client ID Metadata Document, fetched from a real HTTP server on loopback
//! (allowed, consented, redeemed and refreshed by its URL; refused when its document is too
//! large, too slow, at a private address or names another `client_id`), and RFC 7591
//! registration (off by default, with an initial access token, open with a rate limit).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, Method, Request, StatusCode};
use serde_json::{json, Value};

use crate::authorize::{
    allowed_code, authorize_path, enc, location, signed_out, CALLBACK, VERIFIER,
};
use crate::console::ConsoleSession;
use crate::harness::*;

/// Serves metadata documents on loopback: `good.json` (names itself), `other.json` (names
/// another client_id), `big.json` (over 5 KiB), `slow.json` (answers after 3 s).
struct DocumentServer {
    base: String,
    hits: Arc<AtomicUsize>,
}

impl DocumentServer {
    async fn start() -> DocumentServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let (counted, own) = (hits.clone(), base.clone());
        let app = axum::Router::new().route(
            "/{name}",
            axum::routing::get(move |axum::extract::Path(name): axum::extract::Path<String>| {
                let (counted, own) = (counted.clone(), own.clone());
                async move {
                    counted.fetch_add(1, Ordering::SeqCst);
                    let document = |client_id: String| {
                        json!({"client_id": client_id, "client_name": "Fleet agent",
                               "client_uri": "https://agent.example",
                               "redirect_uris": [CALLBACK]})
                        .to_string()
                    };
                    match name.as_str() {
                        "good.json" => document(format!("{own}/good.json")),
                        "other.json" => document("https://elsewhere.example/c.json".into()),
                        "big.json" => format!("{{\"pad\": \"{}\"}}", "x".repeat(6000)),
                        _ => {
                            tokio::time::sleep(Duration::from_secs(3)).await;
                            document(format!("{own}/slow.json"))
                        }
                    }
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        DocumentServer { base, hits }
    }

    fn url(&self, name: &str) -> String {
        format!("{}/{name}", self.base)
    }
}

/// Documents at plain http on loopback stand in for https ones (`--allow-plain-http-callbacks`);
/// a fetch gives up after one second.
fn documents_allowed(c: &mut tessera_server::state::ServerConfig) {
    c.url_rules.plain_http_anywhere = true;
    c.remote_keys.timeout = Duration::from_secs(1);
}

/// A public client's code redemption, naming itself by `client_id`.
async fn redeemed(h: &Harness, code: &str, client_id: &str) -> Reply {
    let (code, callback, client_id) = (enc(code), enc(CALLBACK), enc(client_id));
    let body = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={callback}\
         &code_verifier={VERIFIER}&client_id={client_id}"
    );
    h.form("/oauth2/token", body, None).await
}

/// A public client's refresh, naming itself by `client_id`.
async fn refreshed(h: &Harness, refresh_token: &str, client_id: &str) -> Reply {
    let (refresh_token, client_id) = (enc(refresh_token), enc(client_id));
    let body =
        format!("grant_type=refresh_token&refresh_token={refresh_token}&client_id={client_id}");
    h.form("/oauth2/token", body, None).await
}

/// How many of the tenant's audit entries are `action`, once one is written.
async fn audited(h: &Harness, admin: &str, action: &str) -> usize {
    h.audit_actions(admin, action).await.iter().filter(|e| e["action"] == action).count()
}

async fn set_rules(h: &Harness, admin: &str, rules: Value) -> Reply {
    h.api(Method::PUT, "/v1/client_registration", admin, Some(rules)).await
}

#[tokio::test]
async fn a_metadata_documents_client_is_consented_redeemed_and_refreshed_by_its_url() {
    let docs = DocumentServer::start().await;
    let url = docs.url("good.json");
    for h in Harness::on_both_backends_configured(documents_allowed).await {
        let path = authorize_path(&url, &[("scope", Some("assets:read"))]);
        // Signed out, the document is read (a bad one is told at once), then sign-in.
        let first = signed_out(&h, &path).await;
        assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.text);
        assert!(first.header("location").starts_with("/console/sign-in"));

        let pia = ConsoleSession::start(&h, &h.a, "pia@a.example", "member").await;
        let page = pia.get(&h, &path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        for words in ["Fleet agent asks for access", "published by <strong>127.0.0.1", "Unverified"]
        {
            assert!(page.text.contains(words), "{words}: {}", page.text);
        }
        let code = allowed_code(&h, &pia, &path).await;
        let issued = redeemed(&h, &code, &url).await;
        assert_eq!(issued.status, StatusCode::OK, "{}", issued.text);
        let claims =
            h.state.keys.load().verify(issued.body["access_token"].as_str().unwrap()).unwrap();
        assert_eq!(claims.sub.to_string(), pia.user_id);
        let again = refreshed(&h, issued.body["refresh_token"].as_str().unwrap(), &url).await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.text);
        // Another client's URL, or the derived id in its place, is not this client.
        let refresh = again.body["refresh_token"].as_str().unwrap();
        let stranger = refreshed(&h, refresh, &claims.client_id.to_string()).await;
        assert_eq!(stranger.status, StatusCode::UNAUTHORIZED, "{}", stranger.text);

        // The operator tenant holds it, by its URL; the first consent was audited.
        let admin = h.admin_token(&h.a).await;
        let listed = h.api(Method::GET, "/v1/integrations", &admin, None).await;
        let all = listed.body["integrations"].as_array().unwrap();
        let held: Vec<&Value> = all.iter().filter(|i| i["origin"] == "metadata_document").collect();
        assert_eq!(held.len(), 1, "{}", listed.text);
        assert_eq!(held[0]["metadata_document_url"], url.as_str());
        assert_eq!(held[0]["token_endpoint_auth_method"], "none");
        assert_eq!(audited(&h, &admin, "client.registered").await, 1);

        // The consent is remembered: straight back with a code. A redirect URI the document
        // does not list is a page, never a redirect.
        let again = pia.get(&h, &path).await;
        assert!(location(&again).1.contains_key("code"));
        let elsewhere = pia
            .get(&h, &authorize_path(&url, &[("redirect_uri", Some("https://evil.example/cb"))]))
            .await;
        elsewhere.refused(&"an unlisted redirect_uri", "not one of the addresses it registered");

        // An approved domain is no longer unverified; a tenant that refuses documents says so.
        let approved = set_rules(&h, &admin, json!({"registration": "off", "metadata_documents": true, "approved_domains": ["127.0.0.1"]})).await;
        assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
        let page = pia.get(&h, &authorize_path(&url, &[("scope", Some("events:read"))])).await;
        assert!(
            page.text.contains("Fleet agent asks for access") && !page.text.contains("Unverified"),
            "{}",
            page.text
        );
        set_rules(&h, &admin, json!({"registration": "off", "metadata_documents": false})).await;
        let refused = pia.get(&h, &path).await;
        let (_, params) = location(&refused);
        assert_eq!(params["error"], "access_denied");
        assert!(params["error_description"].contains("metadata document"), "{params:?}");
        assert_eq!(audited(&h, &admin, "client_registration.changed").await, 2);
    }
}

#[tokio::test]
async fn a_metadata_document_too_big_too_slow_or_naming_another_client_is_refused() {
    let docs = DocumentServer::start().await;
    for h in Harness::on_both_backends_configured(documents_allowed).await {
        for (name, says) in [
            ("big.json", "is larger than 5 KiB"),
            ("slow.json", "could not be fetched"),
            (
                "other.json",
                "names `client_id` `https://elsewhere.example/c.json`; it must name its own URL.",
            ),
        ] {
            let page = signed_out(&h, &authorize_path(&docs.url(name), &[])).await;
            page.refused(&name, says);
            assert!(page.text.contains("This sign-in link does not work"), "{}", page.text);
        }
        // A URL that is not a document's (no path) is just an unknown client.
        let bare = signed_out(&h, &authorize_path(&docs.base, &[])).await;
        bare.refused(&"a URL without a path", "No application is registered");
    }
}

#[tokio::test]
async fn a_metadata_document_at_a_private_address_is_never_fetched() {
    let docs = DocumentServer::start().await;
    let h = Harness::configured(|c| {
        documents_allowed(c);
        c.allow_private_callbacks = false;
    })
    .await;
    let before = docs.hits.load(Ordering::SeqCst);
    let page = signed_out(&h, &authorize_path(&docs.url("good.json"), &[])).await;
    page.refused(&"a loopback document", "could not be fetched");
    assert_eq!(docs.hits.load(Ordering::SeqCst), before, "nothing was asked of the address");
}

fn registration(body: Value, token: Option<&str>, peer: &str) -> Request<axum::body::Body> {
    let mut request =
        Request::post("/oauth2/register").header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    with_peer(request.body(axum::body::Body::from(body.to_string())).unwrap(), peer)
}

fn agent() -> Value {
    json!({"client_name": "CLI agent", "redirect_uris": [CALLBACK],
           "grant_types": ["authorization_code", "refresh_token"],
           "token_endpoint_auth_method": "client_secret_post"})
}

#[tokio::test]
async fn registration_is_off_until_a_tenant_turns_it_on_with_an_initial_access_token() {
    for h in Harness::on_both_backends().await {
        let admin = h.admin_token(&h.a).await;
        let rules = h.api(Method::GET, "/v1/client_registration", &admin, None).await;
        assert_eq!(
            rules.body,
            json!({"registration": "off", "metadata_documents": true, "approved_domains": []})
        );
        // A token that is none, or one without `admin`, is no initial access token.
        let reader = h.token(&h.a.client_id, &h.a.secret, Some("assets:read")).await;
        let reader = reader.body["access_token"].as_str().unwrap().to_owned();
        for (token, says) in
            [("not-a-token", "invalid_token"), (reader.as_str(), "insufficient_scope")]
        {
            let refused = h.send(registration(agent(), Some(token), "192.0.2.1")).await;
            assert!(
                refused.status == StatusCode::UNAUTHORIZED
                    || refused.status == StatusCode::FORBIDDEN,
                "{}",
                refused.text
            );
            assert_eq!(refused.error(), says, "{}", refused.text);
        }
        let open = h.send(registration(agent(), None, "192.0.2.1")).await;
        assert_eq!(open.status, StatusCode::UNAUTHORIZED);
        assert!(open.description().contains("no tenant takes open registrations"), "{}", open.text);
        let with_token = h.send(registration(agent(), Some(&admin), "192.0.2.1")).await;
        assert_eq!(with_token.status, StatusCode::FORBIDDEN);
        assert!(
            with_token.text.contains("does not take client registrations"),
            "{}",
            with_token.text
        );
        let bad =
            set_rules(&h, &admin, json!({"registration": "sometimes", "metadata_documents": true}))
                .await;
        bad.refused(&"an unknown mode", "registration");
        let bad = set_rules(&h, &admin, json!({"registration": "open", "metadata_documents": true, "approved_domains": ["https://x"]})).await;
        bad.refused(&"a URL as a domain", "approved_domains");
    }
}

/// Tenant a takes registrations with an initial access token: its admin's.
async fn registration_on(h: &Harness) -> String {
    let admin = h.admin_token(&h.a).await;
    let rules = json!({"registration": "initial_access_token", "metadata_documents": true});
    let on = set_rules(h, &admin, rules).await;
    assert_eq!(on.status, StatusCode::OK, "{}", on.text);
    admin
}

#[tokio::test]
async fn a_client_registered_with_an_initial_access_token_is_public_and_the_tenants_own() {
    for h in Harness::on_both_backends().await {
        let admin = registration_on(&h).await;
        let made = h.send(registration(agent(), Some(&admin), "192.0.2.1")).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
        assert_eq!(made.header("cache-control"), "no-store");
        assert_eq!(made.body["token_endpoint_auth_method"], "none");
        assert_eq!(made.body["redirect_uris"], json!([CALLBACK]));
        assert!(made.body.get("client_secret").is_none());
        let id = made.body["client_id"].as_str().unwrap().to_owned();
        let seen = h.api(Method::GET, &format!("/v1/integrations/{id}"), &admin, None).await;
        assert_eq!(seen.body["origin"], "registered", "{}", seen.text);
        // Public: no client_credentials, ever.
        let cc = h
            .form("/oauth2/token", format!("grant_type=client_credentials&client_id={id}"), None)
            .await;
        assert_eq!(cc.error(), "invalid_client", "{}", cc.text);

        // The person of this tenant authorizes it as any of the tenant's own clients.
        let pia = ConsoleSession::start(&h, &h.a, "pia@a.example", "member").await;
        let page = pia.get(&h, &authorize_path(&id, &[])).await;
        assert!(
            page.text.contains("CLI agent asks for access") && !page.text.contains("Unverified"),
            "{}",
            page.text
        );

        for (body, error, says) in [
            (json!({"client_name": "x"}), "invalid_redirect_uri", "redirect_uris"),
            (
                json!({"redirect_uris": ["http://evil.example/cb"]}),
                "invalid_redirect_uri",
                "redirect_uris",
            ),
            (
                json!({"redirect_uris": [CALLBACK], "grant_types": ["client_credentials"]}),
                "invalid_client_metadata",
                "client_credentials",
            ),
            (
                json!({"redirect_uris": [CALLBACK], "client_name": 7}),
                "invalid_client_metadata",
                "client_name",
            ),
        ] {
            let refused = h.send(registration(body, Some(&admin), "192.0.2.1")).await;
            assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
            assert_eq!(refused.error(), error, "{}", refused.text);
            assert!(refused.description().contains(says), "{says}: {}", refused.text);
        }
        assert_eq!(audited(&h, &admin, "client.registered").await, 1);
    }
}

#[tokio::test]
async fn open_registration_is_rate_limited_and_authorized_only_where_a_tenant_allows_it() {
    for h in Harness::on_both_backends().await {
        let b = h.add_tenant().await;
        let c = h.add_tenant().await;
        let b_admin = h.admin_token(&b).await;
        let on =
            set_rules(&h, &b_admin, json!({"registration": "open", "metadata_documents": true}))
                .await;
        assert_eq!(on.status, StatusCode::OK, "{}", on.text);
        let made = h.send(registration(agent(), None, "192.0.2.7")).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
        let id = made.body["client_id"].as_str().unwrap().to_owned();
        let operator = h.admin_token(&h.a).await;
        let held = h.api(Method::GET, &format!("/v1/integrations/{id}"), &operator, None).await;
        assert_eq!(held.body["origin"], "registered_openly", "{}", held.text);

        // B's people see it as unverified and may allow it; C's may not.
        let ben = ConsoleSession::start(&h, &b, "ben@b.example", "member").await;
        let page = ben.get(&h, &authorize_path(&id, &[])).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        assert!(page.text.contains("registered itself"), "{}", page.text);
        let code = allowed_code(&h, &ben, &authorize_path(&id, &[])).await;
        let issued = redeemed(&h, &code, &id).await;
        assert_eq!(issued.status, StatusCode::OK, "{}", issued.text);
        let cleo = ConsoleSession::start(&h, &c, "cleo@c.example", "member").await;
        let (_, params) = location(&cleo.get(&h, &authorize_path(&id, &[])).await);
        assert_eq!(params["error"], "access_denied");
        assert!(params["error_description"].contains("registered themselves"), "{params:?}");

        // One address registers a bounded number a minute; another is not held up.
        let mut limited = None;
        for n in 0..20 {
            let reply = h.send(registration(agent(), None, "192.0.2.8")).await;
            if reply.status != StatusCode::CREATED {
                limited = Some((n, reply));
                break;
            }
        }
        let (n, reply) = limited.expect("the address is limited");
        assert_eq!(n, 10);
        assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS, "{}", reply.text);
        assert_eq!(
            h.send(registration(agent(), None, "192.0.2.9")).await.status,
            StatusCode::CREATED
        );
        h.clock.advance_seconds(61);
        assert_eq!(
            h.send(registration(agent(), None, "192.0.2.8")).await.status,
            StatusCode::CREATED
        );
    }
}

#[tokio::test]
async fn discovery_names_the_registration_endpoint_and_metadata_documents() {
    let h = Harness::new().await;
    let found = signed_out(&h, "/.well-known/oauth-authorization-server").await;
    assert_eq!(found.body["registration_endpoint"], format!("{ISSUER}/oauth2/register"));
    assert_eq!(found.body["client_id_metadata_document_supported"], true);
}

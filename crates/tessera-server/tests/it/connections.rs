//! Connections (SPEC §6): the application's profile and the signed connection URL, through the
//! real router on SQLite and PostgreSQL.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{json, Value};

use crate::harness::*;
use tessera_core::token::callback::{verify_callback, CallbackRejection};
use tessera_core::token::VerifyingKey;
use tessera_core::world::Clock;

/// An integration that can ask data owners for access.
pub(crate) async fn application(h: &Harness, admin: &str) -> String {
    let (id, _, view) = h
        .create_integration(
            admin,
            json!({"display_name": "Fleet Planner", "scopes": ["assets:read", "events:read", "assets:write"],
                   "authentication_url": "http://127.0.0.1:9/tessera/auth",
                   "webhook_url": "https://planner.example.com/hooks",
                   "description": "Plans your fleet's routes.",
                   "homepage_url": "https://planner.example.com"}),
        )
        .await;
    assert_eq!(view["authentication_url"], "http://127.0.0.1:9/tessera/auth");
    assert_eq!(view["description"], "Plans your fleet's routes.");
    id
}

/// A connection URL for assets and events, as a path on the server.
pub(crate) async fn connection_link(
    h: &Harness,
    developer: &str,
    app_id: &str,
    state: &str,
) -> String {
    let made = h
        .api(
            Method::POST,
            &format!("/v1/integrations/{app_id}/connection_url"),
            developer,
            Some(json!({"scopes": ["assets:read", "events:read"], "state": state})),
        )
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text);
    made.body["url"].as_str().unwrap().trim_start_matches(ISSUER).to_owned()
}

pub(crate) async fn get_page(h: &Harness, uri: &str) -> Reply {
    h.send(Request::builder().uri(uri).body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn an_application_profile_is_validated_and_patched() {
    for h in Harness::on_both_backends().await {
        let admin = h.admin_token(&h.a).await;
        let id = application(&h, &admin).await;
        let refused = [
            (
                json!({"display_name": "x", "authentication_url": "http://planner.example.com/a"}),
                "authentication_url",
            ),
            (
                json!({"display_name": "x", "webhook_url": "ftp://planner.example.com"}),
                "webhook_url",
            ),
            (json!({"display_name": "x", "homepage_url": "not a url"}), "homepage_url"),
            (json!({"display_name": "x", "description": "d".repeat(1001)}), "description"),
        ];
        for (body, field) in refused {
            let reply = h.api(Method::POST, "/v1/integrations", &admin, Some(body.clone())).await;
            reply.refused(&body, &format!("`{field}`"));
        }
        let path = format!("/v1/integrations/{id}");
        let patched = h
            .api(
                Method::PATCH,
                &path,
                &admin,
                Some(json!({"webhook_url": null, "description": "New words."})),
            )
            .await;
        assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
        assert!(patched.body.get("webhook_url").is_none());
        assert_eq!(patched.body["description"], "New words.");
        assert_eq!(patched.body["homepage_url"], "https://planner.example.com/");
        let bad = h
            .api(Method::PATCH, &path, &admin, Some(json!({"homepage_url": "http://example.com"})))
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        let kept = h.api(Method::GET, &path, &admin, None).await;
        assert_eq!(kept.body["homepage_url"], "https://planner.example.com/");
    }
}

#[tokio::test]
async fn a_connection_url_is_signed_and_any_change_to_it_is_an_error_page() {
    for h in Harness::on_both_backends().await {
        let admin = h.admin_token(&h.a).await;
        let id = application(&h, &admin).await;
        let path = format!("/v1/integrations/{id}/connection_url");
        let made = h
            .api(
                Method::POST,
                &path,
                &admin,
                Some(json!({"scopes": ["assets:read", "events:read"], "state": "account-42"})),
            )
            .await;
        assert_eq!(made.status, StatusCode::OK, "{}", made.text);
        let url = made.body["url"].as_str().unwrap().to_owned();
        assert!(url.starts_with(&format!("{ISSUER}/connect?")), "{url}");
        assert!(made.body["expires_at"].as_str().is_some());

        let refused = [
            (json!({"scopes": [], "state": "s"}), "scopes"),
            (json!({"scopes": ["admin"], "state": "s"}), "scopes"),
            (json!({"scopes": ["nope"], "state": "s"}), "scopes"),
            (json!({"scopes": ["assets:read"], "state": ""}), "state"),
            (json!({"scopes": ["assets:read"], "state": "a\nb"}), "state"),
        ];
        for (body, field) in refused {
            let reply = h.api(Method::POST, &path, &admin, Some(body.clone())).await;
            reply.refused(&body, &format!("`{field}`"));
        }
        let (plain, _, _) = h.create_integration(&admin, reader()).await;
        let no_callback = h
            .api(
                Method::POST,
                &format!("/v1/integrations/{plain}/connection_url"),
                &admin,
                Some(json!({"scopes": ["assets:read"], "state": "s"})),
            )
            .await;
        assert_eq!(no_callback.status, StatusCode::BAD_REQUEST);
        assert!(no_callback.text.contains("`authentication_url`"), "{}", no_callback.text);
        let other = h.add_tenant().await;
        let other_admin = h.admin_token(&other).await;
        let foreign = h
            .api(
                Method::POST,
                &path,
                &other_admin,
                Some(json!({"scopes": ["assets:read"], "state": "s"})),
            )
            .await;
        assert_eq!(foreign.status, StatusCode::NOT_FOUND);

        // The URL opens (to the sign-in, with no session yet); any change is an error page.
        let local = url.trim_start_matches(ISSUER).to_owned();
        let opened = get_page(&h, &local).await;
        assert_eq!(opened.status, StatusCode::SEE_OTHER, "{}", opened.text);
        assert!(opened.header("location").starts_with("/console/sign-in?next="));
        for altered in [
            local.replace("events%3Aread", "events%3Awrite"),
            local.replace("account-42", "account-43"),
            format!("{local}&scope=admin"),
        ] {
            let page = get_page(&h, &altered).await;
            assert_eq!(page.status, StatusCode::BAD_REQUEST, "{altered}");
            assert!(page.header("content-type").starts_with("text/html"));
            assert!(page.text.contains("altered"), "{}", page.text);
        }
        let cut = get_page(&h, local.split("&sig=").next().unwrap()).await;
        assert_eq!(cut.status, StatusCode::BAD_REQUEST);
        assert!(cut.text.contains("incomplete"), "{}", cut.text);
        // A week later it has expired.
        h.clock.advance_seconds(8 * 86_400);
        let late = get_page(&h, &local).await;
        assert_eq!(late.status, StatusCode::BAD_REQUEST);
        assert!(late.text.contains("expired"), "{}", late.text);
    }
}

/// The value of a `Set-Cookie` named `name` in a reply.
pub(crate) fn set_cookie(reply: &Reply, name: &str) -> Option<String> {
    reply
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
}

/// The value of the hidden input `name` in a page.
pub(crate) fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).unwrap_or_else(|| panic!("no {name} in {page}")) + marker.len();
    let escaped = page[start..].split('"').next().unwrap();
    // What a browser would send back: the HTML entities undone.
    [
        ("&#38;", "&"),
        ("&amp;", "&"),
        ("&#34;", "\""),
        ("&quot;", "\""),
        ("&#39;", "'"),
        ("&#60;", "<"),
        ("&lt;", "<"),
        ("&#62;", ">"),
        ("&gt;", ">"),
    ]
    .iter()
    .fold(escaped.to_owned(), |text, (entity, c)| text.replace(entity, c))
}

pub(crate) async fn form_post(
    h: &Harness,
    uri: &str,
    cookies: &str,
    body: &[(&str, &str)],
) -> Reply {
    form_post_from(h, None, uri, cookies, body).await
}

/// [`form_post`] as a connection from `peer` (an IP address) would carry it.
async fn form_post_from(
    h: &Harness,
    peer: Option<&str>,
    uri: &str,
    cookies: &str,
    body: &[(&str, &str)],
) -> Reply {
    let body: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(body).finish();
    let request = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", cookies)
        .body(Body::from(body))
        .unwrap();
    h.send(match peer {
        Some(peer) => with_peer(request, peer),
        None => request,
    })
    .await
}

/// Signs `email` in through the form; returns the session cookie.
pub(crate) async fn sign_in(h: &Harness, email: &str, password: &str, next: &str) -> Reply {
    sign_in_from(h, None, email, password, next).await
}

/// [`sign_in`] from `peer` (an IP address).
async fn sign_in_from(
    h: &Harness,
    peer: Option<&str>,
    email: &str,
    password: &str,
    next: &str,
) -> Reply {
    let page = get_page(
        h,
        &format!(
            "/console/sign-in?next={}",
            form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
        ),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = hidden(&page.text, "csrf");
    let cookie = set_cookie(&page, "tessera_sign_in").expect("the sign-in cookie");
    form_post_from(
        h,
        peer,
        "/console/sign-in",
        &format!("tessera_sign_in={cookie}"),
        &[
            ("email", email),
            ("password", password),
            ("csrf", &csrf),
            ("next", &hidden(&page.text, "next")),
        ],
    )
    .await
}

pub(crate) async fn with_cookie(h: &Harness, uri: &str, cookie: &str) -> Reply {
    h.send(Request::builder().uri(uri).header("cookie", cookie).body(Body::empty()).unwrap()).await
}

/// Tenant a's application, a connection link of it, and another tenant with a user
/// owner@example.com: the link, that tenant's admin token and the user's id.
async fn owner_and_link(h: &Harness) -> (String, String, String) {
    let developer = h.admin_token(&h.a).await;
    let id = application(h, &developer).await;
    let link = connection_link(h, &developer, &id, "s-1").await;
    let owner = h.add_tenant().await;
    let owner_admin = h.admin_token(&owner).await;
    let olive = json!({"email": "Owner@Example.com", "display_name": "Olive Owner",
                       "password": "correct horse battery staple"});
    let created = h.api(Method::POST, "/v1/users", &owner_admin, Some(olive)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    (link, owner_admin, created.body["id"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_sign_in_refuses_a_wrong_password_a_forged_form_and_a_foreign_next() {
    for h in Harness::on_both_backends().await {
        let (link, ..) = owner_and_link(&h).await;
        // Wrong password, a form without its sign-in cookie, a foreign `next`.
        let wrong = sign_in(&h, "owner@example.com", "wrong password!!", &link).await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert!(wrong.text.contains("not right"), "{}", wrong.text);
        assert!(set_cookie(&wrong, "tessera_session").is_none());
        let forged = form_post(
            &h,
            "/console/sign-in",
            "",
            &[
                ("email", "owner@example.com"),
                ("password", "correct horse battery staple"),
                ("csrf", "x"),
                ("next", "/console"),
            ],
        )
        .await;
        assert_eq!(forged.status, StatusCode::BAD_REQUEST);
        assert!(set_cookie(&forged, "tessera_session").is_none());
        let away = sign_in(
            &h,
            "owner@example.com",
            "correct horse battery staple",
            "//evil.example.com/x",
        )
        .await;
        assert_eq!(away.status, StatusCode::SEE_OTHER);
        assert_eq!(away.header("location"), "/console");
        // Browsers drop tabs from a `Location` and read `\` as `/`: both would leave the site.
        for next in ["/\t/evil.example.com/x", "/\\evil.example.com/x"] {
            let away = sign_in(&h, "owner@example.com", "correct horse battery staple", next).await;
            assert_eq!(away.status, StatusCode::SEE_OTHER);
            assert_eq!(away.header("location"), "/console", "{next:?}");
        }
    }
}

#[tokio::test]
async fn a_data_owner_signs_in_and_sees_the_consent_screen() {
    for h in Harness::on_both_backends().await {
        let (link, owner_admin, user_id) = owner_and_link(&h).await;
        let signed = sign_in(&h, "OWNER@example.com", "correct horse battery staple", &link).await;
        assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.text);
        assert_eq!(signed.header("location"), link);
        let raw = signed
            .headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(raw.contains("HttpOnly") && raw.contains("SameSite=Lax"), "{raw}");
        let session =
            format!("tessera_session={}", set_cookie(&signed, "tessera_session").unwrap());

        let consent = with_cookie(&h, &link, &session).await;
        assert_eq!(consent.status, StatusCode::OK, "{}", consent.text);
        assert!(consent.header("content-type").starts_with("text/html"));
        for shown in [
            "Fleet Planner",
            "Plans your fleet",
            "Read assets",
            "owner@example.com",
            "name=\"decision\" value=\"accept\"",
            "value=\"reject\"",
        ] {
            assert!(
                consent.text.to_lowercase().contains(&shown.to_lowercase()),
                "{shown} not in {}",
                consent.text
            );
        }
        assert!(!consent.text.contains("create, change and delete assets"), "only what was asked");
        assert!(!hidden(&consent.text, "csrf").is_empty());
        let home = with_cookie(&h, "/console", &session).await;
        assert!(home.text.contains("owner@example.com"));
        // A tampered session cookie is no session.
        let tampered = with_cookie(&h, &link, &format!("{session}x")).await;
        assert_eq!(tampered.status, StatusCode::SEE_OTHER);
        // Deleting the user ends the session.
        h.api(Method::DELETE, &format!("/v1/users/{user_id}"), &owner_admin, None).await;
        let after = with_cookie(&h, &link, &session).await;
        assert_eq!(after.status, StatusCode::SEE_OTHER);
    }
}

#[tokio::test]
async fn failed_sign_ins_are_limited_per_account() {
    for h in Harness::on_both_backends().await {
        let admin = h.admin_token(&h.a).await;
        for email in ["kim@example.com", "lee@example.com"] {
            let created = h
                .api(Method::POST, "/v1/users", &admin, Some(json!({"email": email, "display_name": email, "password": "correct horse battery staple"})))
                .await;
            assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        }
        // An email with no account is told the same as a wrong password.
        let nobody =
            sign_in(&h, "nobody@example.com", "correct horse battery staple", "/console").await;
        assert_eq!(nobody.status, StatusCode::UNAUTHORIZED);
        assert!(nobody.text.contains("not right"), "{}", nobody.text);
        for _ in 0..20 {
            let wrong = sign_in(&h, "kim@example.com", "wrong password!!", "/console").await;
            assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        }
        // Then even the right password waits out the minute.
        let blocked =
            sign_in(&h, "kim@example.com", "correct horse battery staple", "/console").await;
        assert_eq!(blocked.status, StatusCode::TOO_MANY_REQUESTS, "{}", blocked.text);
        assert!(blocked.text.contains("wait a minute"), "{}", blocked.text);
        assert!(set_cookie(&blocked, "tessera_session").is_none());
        // The owner, at an address that has not failed, signs in at once (SPEC §11: wrong
        // passwords slow the address that sent them, never the account everywhere).
        let elsewhere = sign_in_from(
            &h,
            Some("198.51.100.7"),
            "kim@example.com",
            "correct horse battery staple",
            "/console",
        )
        .await;
        assert_eq!(elsewhere.status, StatusCode::SEE_OTHER, "{}", elsewhere.text);
        // Another account is not held up by it.
        let other =
            sign_in(&h, "lee@example.com", "correct horse battery staple", "/console").await;
        assert_eq!(other.status, StatusCode::SEE_OTHER, "{}", other.text);
        h.clock.advance_seconds(61);
        let later =
            sign_in(&h, "kim@example.com", "correct horse battery staple", "/console").await;
        assert_eq!(later.status, StatusCode::SEE_OTHER, "{}", later.text);
    }
}

/// How many webhooks the fake applications answer with 500 before they take them.
static HOOK_FAILURES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// What the application received: the `Authorization` header and the JSON body of each POST.
type Received = std::sync::Arc<std::sync::Mutex<Vec<(Option<String>, serde_json::Value)>>>;
/// Each call to `/auth` as it came: its `Tessera-Signature` header and exact body.
type Signed = std::sync::Arc<std::sync::Mutex<Vec<(String, Vec<u8>)>>>;

/// A real application on loopback: records every POST (its `Authorization` and JSON body) and
/// answers `connection.granted` as `answer` says.
#[derive(Clone)]
pub(crate) struct FakeApp {
    pub(crate) url: String,
    seen: Received,
    /// Each call to `/auth` as it came: its `Tessera-Signature` header and exact body.
    signed: Signed,
    /// Lets a `WhenReleased` application answer the hand-over.
    release: std::sync::Arc<tokio::sync::Notify>,
}

#[derive(Clone, Copy)]
pub(crate) enum Answer {
    Bearer,
    Fails,
    NoBearer,
    /// The bearer token, once the test releases the application.
    WhenReleased,
}

impl FakeApp {
    pub(crate) async fn start(answer: Answer) -> FakeApp {
        use axum::routing::post;
        let seen: Received = Default::default();
        let record = seen.clone();
        let signed: Signed = Default::default();
        let record_signed = signed.clone();
        let release = std::sync::Arc::new(tokio::sync::Notify::new());
        let held = release.clone();
        let app = axum::Router::new().route(
            "/auth",
            post(move |headers: axum::http::HeaderMap, raw: axum::body::Bytes| {
                let record = record.clone();
                let record_signed = record_signed.clone();
                let held = held.clone();
                async move {
                    let body: Value = serde_json::from_slice(&raw).unwrap();
                    let signature = headers
                        .get("tessera-signature")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    record_signed.lock().unwrap().push((signature.to_owned(), raw.to_vec()));
                    let auth = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    let granted = body["event"] == "connection.granted";
                    record.lock().unwrap().push((auth, body));
                    if granted && matches!(answer, Answer::WhenReleased) {
                        held.notified().await;
                    }
                    match (granted, answer) {
                        (true, Answer::Fails) => {
                            (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({})))
                        }
                        (true, Answer::NoBearer) => {
                            (StatusCode::OK, axum::Json(json!({"ok": true})))
                        }
                        _ => (StatusCode::OK, axum::Json(json!({"bearer_token": "app-token-1"}))),
                    }
                }
            }),
        );
        let hooks = seen.clone();
        let failures = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let app = app.route(
            "/hooks",
            post(move |headers: axum::http::HeaderMap, body: String| {
                let hooks = hooks.clone();
                let failures = failures.clone();
                async move {
                    let header = |n: &str| {
                        headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
                    };
                    let fail = failures.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                        < HOOK_FAILURES.load(std::sync::atomic::Ordering::SeqCst);
                    let record = json!({
                        "webhook": true, "failed": fail, "body": body,
                        "id": header("webhook-id"), "timestamp": header("webhook-timestamp"),
                        "signature": header("webhook-signature"),
                    });
                    hooks.lock().unwrap().push((Some(header("authorization")), record));
                    if fail {
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::NO_CONTENT
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/auth", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeApp { url, seen, signed, release }
    }

    pub(crate) fn events(&self) -> Vec<(Option<String>, serde_json::Value)> {
        self.seen.lock().unwrap().clone()
    }

    /// Checks every call to `/auth` the way the README tells an application to: the
    /// `Tessera-Signature` against the server's `/oauth2/jwks`, for `client_id`, over the exact
    /// body. Returns the signed events in order.
    pub(crate) async fn verified_events(&self, h: &Harness, client_id: &str) -> Vec<String> {
        let jwks =
            h.send(Request::get("/oauth2/jwks").body(axum::body::Body::empty()).unwrap()).await;
        let keys = VerifyingKey::from_jwks(&jwks.body);
        let now = h.clock.now_millis() / 1000;
        let calls = self.signed.lock().unwrap().clone();
        calls
            .iter()
            .map(|(signature, body)| {
                let event = verify_callback(signature, body, &keys, ISSUER, client_id, now)
                    .unwrap_or_else(|e| panic!("a callback that does not verify: {e}"));
                // Any change to the body is caught.
                let mut altered = body.clone();
                altered.push(b' ');
                assert_eq!(
                    verify_callback(signature, &altered, &keys, ISSUER, client_id, now),
                    Err(CallbackRejection::BodyChanged)
                );
                event
            })
            .collect()
    }
}

/// An application pointing at `auth_url`, a data owner user signed in, and the consent page's
/// form for a fresh connection URL: (app client_id, secret, owner admin, session, csrf, request).
pub(crate) struct Scene {
    pub(crate) app_id: String,
    pub(crate) app_secret: String,
    pub(crate) developer: String,
    pub(crate) owner: TenantAdmin,
    pub(crate) owner_admin: String,
    pub(crate) session: String,
    pub(crate) csrf: String,
    pub(crate) request: String,
}

pub(crate) async fn scene(h: &Harness, auth_url: &str) -> Scene {
    let developer = h.admin_token(&h.a).await;
    let (app_id, app_secret, _) = h
        .create_integration(
            &developer,
            json!({"display_name": "Fleet Planner", "scopes": ["assets:read", "events:read", "assets:write"],
                   "authentication_url": auth_url}),
        )
        .await;
    let link = connection_link(h, &developer, &app_id, "acct-7").await;
    let owner = h.add_tenant().await;
    let owner_admin = h.admin_token(&owner).await;
    // One account per email here: an email in several tenants gets a choice at sign-in.
    let email = format!("olive-{}@example.com", owner.client_id);
    h.api(Method::POST, "/v1/users", &owner_admin, Some(json!({"email": email, "display_name": "Olive", "password": "correct horse battery staple"})))
        .await;
    let signed = sign_in(h, &email, "correct horse battery staple", &link).await;
    let session = format!("tessera_session={}", set_cookie(&signed, "tessera_session").unwrap());
    let consent = with_cookie(h, &link, &session).await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.text);
    Scene {
        app_id,
        app_secret,
        developer,
        owner,
        owner_admin,
        csrf: hidden(&consent.text, "csrf"),
        request: hidden(&consent.text, "request"),
        session,
    }
}

/// Points the scene's application's `webhook_url` at the fake application's `/hooks`.
pub(crate) async fn webhooks_to(h: &Harness, s: &Scene, app: &FakeApp) {
    let patched = h
        .api(
            Method::PATCH,
            &format!("/v1/integrations/{}", s.app_id),
            &s.developer,
            Some(json!({"webhook_url": app.url.replace("/auth", "/hooks")})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
}

pub(crate) async fn decide(h: &Harness, s: &Scene, decision: &str) -> Reply {
    form_post(
        h,
        "/connect",
        &s.session,
        &[("csrf", &s.csrf), ("request", &s.request), ("decision", decision)],
    )
    .await
}

/// Accepts the scene's connection request; the `connection.granted` callback's body.
pub(crate) async fn accepted(h: &Harness, s: &Scene, app: &FakeApp) -> Value {
    let done = decide(h, s, "accept").await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert!(done.text.contains("Connected"), "{}", done.text);
    let events = app.events();
    assert_eq!(events.len(), 1);
    events[0].1.clone()
}

/// A token for a connection: client credentials of the scene's application with the owner's
/// `tenant_id` (and a `scope`, form-encoded, if given).
async fn connection_token(
    h: &Harness,
    s: &Scene,
    tenant: impl std::fmt::Display,
    scope: Option<&str>,
) -> Reply {
    let scope = scope.map(|s| format!("&scope={s}")).unwrap_or_default();
    h.form(
        "/oauth2/token",
        format!("grant_type=client_credentials&tenant_id={tenant}{scope}"),
        Some((&s.app_id, &s.app_secret)),
    )
    .await
}

#[tokio::test]
async fn accepting_tells_the_application_and_a_forged_answer_reaches_nobody() {
    for h in Harness::on_both_backends().await {
        let app = FakeApp::start(Answer::Bearer).await;
        let s = scene(&h, &app.url).await;
        let forged = form_post(
            &h,
            "/connect",
            &s.session,
            &[("csrf", "nope"), ("request", &s.request), ("decision", "accept")],
        )
        .await;
        assert_eq!(forged.status, StatusCode::BAD_REQUEST);
        assert!(app.events().is_empty(), "a forged answer reaches nobody");

        let granted = accepted(&h, &s, &app).await;
        assert_eq!(granted["event"], "connection.granted");
        assert_eq!(granted["tenant_id"], s.owner.tenant.to_string());
        assert_eq!(granted["scope"], "assets:read events:read");
        assert_eq!(granted["state"], "acct-7");
        assert_eq!(granted["token_type"], "Bearer");
        assert!(granted["connection_id"].is_string(), "{granted}");
        assert_eq!(
            app.verified_events(&h, &s.app_id).await,
            ["connection.granted"],
            "the callback is signed for this application"
        );
        let other = VerifyingKey::from_jwks(
            &h.send(Request::get("/oauth2/jwks").body(Body::empty()).unwrap()).await.body,
        );
        let (signature, body) = app.signed.lock().unwrap()[0].clone();
        let now = h.clock.now_millis() / 1000;
        assert_eq!(
            verify_callback(&signature, &body, &other, ISSUER, "someone-else", now),
            Err(CallbackRejection::WrongParty),
            "another application cannot replay it as its own"
        );
    }
}

#[tokio::test]
async fn connection_tokens_reach_only_the_owners_data_within_the_granted_scopes() {
    for h in Harness::on_both_backends().await {
        let app = FakeApp::start(Answer::Bearer).await;
        let s = scene(&h, &app.url).await;
        let granted = accepted(&h, &s, &app).await;
        // The token handed over reaches the owner's data, within the granted scopes only.
        let handed = granted["access_token"].as_str().unwrap();
        let seen = h.api(Method::GET, "/v2/assets", handed, None).await;
        assert_eq!(seen.status, StatusCode::OK, "{}", seen.text);
        let write = h
            .api(Method::POST, "/v2/assets", handed, Some(json!({"attributes": {"name": "x"}})))
            .await;
        assert_eq!(write.status, StatusCode::FORBIDDEN);
        // Fresh tokens with client credentials and tenant_id; narrowing works, widening not.
        let owner = s.owner.tenant.to_string();
        let fresh = connection_token(&h, &s, &owner, Some("assets%3Aread")).await;
        assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.text);
        assert_eq!(fresh.body["scope"], "assets:read");
        let wider = connection_token(&h, &s, &owner, Some("assets%3Awrite")).await;
        assert_eq!(wider.error(), "invalid_scope", "{}", wider.text);
        let stranger = h.add_tenant().await;
        let none = connection_token(&h, &s, stranger.tenant, None).await;
        assert_eq!(none.error(), "invalid_grant", "{}", none.text);
        // Only the owner's data: the developer's own assets are not there.
        h.api(
            Method::POST,
            "/v2/assets",
            &s.developer,
            Some(json!({"attributes": {"arc_display_type": "own"}})),
        )
        .await;
        let fresh_token = fresh.body["access_token"].as_str().unwrap();
        let listed = h.api(Method::GET, "/v2/assets", fresh_token, None).await;
        assert_eq!(listed.body["assets"], json!([]), "{}", listed.text);
    }
}

#[tokio::test]
async fn both_sides_list_a_connection_and_a_third_tenant_can_neither_see_nor_revoke_it() {
    for h in Harness::on_both_backends().await {
        let app = FakeApp::start(Answer::Bearer).await;
        let s = scene(&h, &app.url).await;
        let granted = accepted(&h, &s, &app).await;
        let connection_id = granted["connection_id"].as_str().unwrap();
        for side in [&s.owner_admin, &s.developer] {
            let list = h.api(Method::GET, "/v1/connections", side, None).await;
            let all = list.body["connections"].as_array().unwrap();
            assert_eq!(all.len(), 1, "{}", list.text);
            assert_eq!(all[0]["id"], connection_id);
            assert_eq!(all[0]["status"], "active");
            assert!(all[0].get("bearer_token").is_none());
        }
        let stranger = h.add_tenant().await;
        let stranger_admin = h.admin_token(&stranger).await;
        let path = format!("/v1/connections/{connection_id}");
        for method in [Method::GET, Method::DELETE] {
            let reply = h.api(method.clone(), &path, &stranger_admin, None).await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method}");
        }
        let still = h.api(Method::GET, &path, &s.owner_admin, None).await;
        assert_eq!(still.body["status"], "active");
    }
}

#[tokio::test]
async fn revoking_a_connection_stops_its_tokens_and_tells_the_application_with_its_bearer_token() {
    for h in Harness::on_both_backends().await {
        let app = FakeApp::start(Answer::Bearer).await;
        let s = scene(&h, &app.url).await;
        let granted = accepted(&h, &s, &app).await;
        let connection_id = granted["connection_id"].as_str().unwrap();
        let handed = granted["access_token"].as_str().unwrap();
        let owner = s.owner.tenant.to_string();
        let fresh = connection_token(&h, &s, &owner, None).await;
        let fresh_token = fresh.body["access_token"].as_str().unwrap();

        let path = format!("/v1/connections/{connection_id}");
        let revoked = h.api(Method::DELETE, &path, &s.owner_admin, None).await;
        assert_eq!(revoked.status, StatusCode::NO_CONTENT);
        for token in [fresh_token, handed] {
            let status = h.api(Method::GET, "/v2/assets", token, None).await.status;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        let again = connection_token(&h, &s, &owner, None).await;
        assert_eq!(again.error(), "invalid_grant");
        let mut told = None;
        for _ in 0..100 {
            told = app.events().into_iter().find(|(_, b)| b["event"] == "connection.revoked");
            if told.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let (auth, body) = told.expect("the application is told of the revocation");
        assert_eq!(auth.as_deref(), Some("Bearer app-token-1"));
        assert_eq!(body["connection_id"], connection_id);
        assert_eq!(
            app.verified_events(&h, &s.app_id).await,
            ["connection.granted", "connection.revoked"]
        );
        let shown = h.api(Method::GET, &path, &s.developer, None).await;
        assert_eq!(shown.body["status"], "revoked");
        let twice = h.api(Method::DELETE, &path, &s.developer, None).await;
        assert_eq!(twice.status, StatusCode::NOT_FOUND);
        let audit = h.audit_actions(&s.owner_admin, "connection.revoked").await;
        assert!(audit.iter().any(|e| e["action"] == "connection.granted"));
    }
}

#[tokio::test]
async fn rejecting_tells_the_application_and_connects_nothing() {
    for h in Harness::on_both_backends().await {
        let app = FakeApp::start(Answer::Bearer).await;
        let s = scene(&h, &app.url).await;
        let done = decide(&h, &s, "reject").await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.text);
        assert!(done.text.contains("declined"), "{}", done.text);
        let events = app.events();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].1, json!({"event": "connection.rejected", "state": "acct-7"}));
        assert_eq!(app.verified_events(&h, &s.app_id).await, ["connection.rejected"]);
        let list = h.api(Method::GET, "/v1/connections", &s.owner_admin, None).await;
        assert_eq!(list.body["connections"], json!([]));
        let odd = decide(&h, &s, "maybe").await;
        assert_eq!(odd.status, StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn an_application_that_does_not_take_the_hand_over_leaves_nothing_behind() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/auth", listener.local_addr().unwrap())
    };
    for h in Harness::on_both_backends().await {
        let failing = FakeApp::start(Answer::Fails).await;
        let silent = FakeApp::start(Answer::NoBearer).await;
        for (url, says) in [
            (failing.url.as_str(), "HTTP 500"),
            (silent.url.as_str(), "bearer token"),
            (closed.as_str(), "did not answer"),
        ] {
            let s = scene(&h, url).await;
            let done = decide(&h, &s, "accept").await;
            assert_eq!(done.status, StatusCode::BAD_GATEWAY, "{}", done.text);
            assert!(
                done.text.contains("Nothing was shared") && done.text.contains(says),
                "{}",
                done.text
            );
            let list = h.api(Method::GET, "/v1/connections", &s.owner_admin, None).await;
            assert_eq!(list.body["connections"], json!([]), "{}", list.text);
            let token = h
                .form(
                    "/oauth2/token",
                    format!("grant_type=client_credentials&tenant_id={}", s.owner.tenant),
                    Some((&s.app_id, &s.app_secret)),
                )
                .await;
            assert_eq!(token.error(), "invalid_grant");
        }
        // The token the failing application was handed does not work.
        let handed = failing.events()[0].1["access_token"].as_str().unwrap().to_owned();
        let refused = h.api(Method::GET, "/v2/assets", &handed, None).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    }
}

/// The webhooks received, in arrival order: (authorization, record).
fn hooks(app: &FakeApp) -> Vec<(Option<String>, serde_json::Value)> {
    app.events().into_iter().filter(|(_, r)| r["webhook"] == true).collect()
}

/// Waits up to thirty seconds (a loaded CI machine) for `n` delivered webhooks, moving the
/// harness's clock on a second each round so that retries come due.
pub(crate) async fn delivered(h: &Harness, app: &FakeApp, n: usize) -> Vec<serde_json::Value> {
    for _ in 0..1500 {
        h.clock.advance_seconds(1);
        let ok: Vec<_> =
            hooks(app).into_iter().filter(|(_, r)| r["failed"] == false).map(|(_, r)| r).collect();
        if ok.len() >= n {
            return ok;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Say what became of them, for whoever reads the failure.
    let mut attempts = Vec::new();
    for c in h.storage.active_connections().await.unwrap_or_default() {
        let page = tessera_core::page::PageRequest { after: 0, size: 100 };
        if let Ok(found) = h.storage.webhook_attempts(c.id, page).await {
            attempts.extend(found.items.into_iter().map(|a| format!("{a:?}")));
        }
    }
    panic!(
        "{n} webhooks were not delivered: {:?}; pending {:?}; attempts {attempts:?}",
        hooks(app),
        h.storage.pending_webhooks().await
    );
}

fn verify(secret: &str, record: &serde_json::Value) -> bool {
    use base64::Engine;
    use hmac::Mac;
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(
        format!(
            "{}.{}.{}",
            record["id"].as_str().unwrap(),
            record["timestamp"].as_str().unwrap(),
            record["body"].as_str().unwrap()
        )
        .as_bytes(),
    );
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    record["signature"].as_str() == Some(expected.as_str())
}

/// Five changes in the owner's tenant (asset `a` created, updated and given an event; asset
/// `b` created and deleted), one in the developer's that nobody hears of; `a`'s identity.
async fn five_changes(h: &Harness, s: &Scene) -> String {
    let post = |path: String, token: &str, body: Value| {
        let token = token.to_owned();
        async move { h.api(Method::POST, &path, &token, Some(body)).await }
    };
    let asset = json!({"attributes": {"arc_display_type": "pump", "name": "p1"}});
    let a = post("/v2/assets".into(), &s.owner_admin, asset).await;
    let a_id = a.body["identity"].as_str().unwrap().to_owned();
    let renamed = Some(json!({"attributes": {"name": "p1b"}}));
    h.api(Method::PATCH, &format!("/v2/{a_id}"), &s.owner_admin, renamed).await;
    let reading = json!({"event_attributes": {"reading": "7"}});
    post(format!("/v2/{a_id}/events"), &s.owner_admin, reading).await;
    let b = post("/v2/assets".into(), &s.owner_admin, json!({"attributes": {"name": "b"}})).await;
    let b_id = b.body["identity"].as_str().unwrap().to_owned();
    h.api(Method::DELETE, &format!("/v2/{b_id}"), &s.owner_admin, None).await;
    post("/v2/assets".into(), &s.developer, json!({"attributes": {"name": "elsewhere"}})).await;
    a_id
}

/// A delivered webhook's body, parsed.
fn body_of(record: &Value) -> Value {
    serde_json::from_str(record["body"].as_str().unwrap()).unwrap()
}

/// The connection's delivery attempts as `token` sees them, once there are `n` of them (or what
/// there is after two seconds; a refusal at once).
async fn deliveries_listed(h: &Harness, connection: &str, token: &str, n: usize) -> Reply {
    let path = format!("/v1/connections/{connection}/deliveries");
    let mut listed = h.api(Method::GET, &path, token, None).await;
    for _ in 0..100 {
        let all_in = listed.body["deliveries"].as_array().is_some_and(|d| d.len() == n);
        if all_in || listed.status != StatusCode::OK {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        listed = h.api(Method::GET, &path, token, None).await;
    }
    listed
}

#[tokio::test]
async fn webhooks_are_signed_delivered_in_order_and_retried() {
    for h in Harness::on_both_backends_configured(|c| c.webhook_retry_base_ms = 50).await {
        // The application answers the first two webhooks with 500.
        HOOK_FAILURES.store(2, std::sync::atomic::Ordering::SeqCst);
        let app = FakeApp::start(Answer::Bearer).await;
        let s = scene(&h, &app.url).await;
        webhooks_to(&h, &s, &app).await;
        let done = decide(&h, &s, "accept").await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.text);
        let granted = app.events()[0].1.clone();
        let secret = granted["webhook_secret"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("whsec_"));
        let connection = granted["connection_id"].as_str().unwrap().to_owned();

        let a_id = five_changes(&h, &s).await;
        let ok = delivered(&h, &app, 5).await;
        let kinds: Vec<Value> = ok.iter().map(|r| body_of(r)["type"].clone()).collect();
        assert_eq!(
            kinds,
            ["asset.created", "asset.updated", "event.created", "asset.created", "asset.deleted"]
        );
        for record in &ok {
            assert!(verify(&secret, record), "bad signature: {record}");
            let body = body_of(record);
            assert_eq!(body["connection_id"], connection.as_str());
            assert_eq!(body["tenant_id"], s.owner.tenant.to_string());
        }
        let first = body_of(&ok[0]);
        assert_eq!(first["data"]["identity"], a_id.as_str());
        assert_eq!(first["data"]["attributes"]["name"], "p1");
        let all = hooks(&app);
        assert!(all.iter().all(|(auth, _)| auth.as_deref() == Some("Bearer app-token-1")));
        // The first message failed twice and came again with the same id: 7 attempts in all.
        assert_eq!(all.len(), 7, "{all:?}");
        assert_eq!(all[0].1["id"], all[2].1["id"]);
        let ids: Vec<&str> = ok.iter().map(|r| r["id"].as_str().unwrap()).collect();
        let mut sorted = ids.clone();
        sorted.sort_by_key(|id| id.trim_start_matches("msg_").parse::<i64>().unwrap());
        assert_eq!(ids, sorted, "in order");

        // Each attempt is listed for both sides, and for nobody else.
        let listed = deliveries_listed(&h, &connection, &s.owner_admin, 7).await.body;
        let deliveries = listed["deliveries"].as_array().unwrap();
        assert_eq!(deliveries.len(), 7, "{listed}");
        let tried: Vec<_> =
            deliveries[..3].iter().map(|d| (d["status"].as_u64(), d["attempt"].as_u64())).collect();
        assert_eq!(tried, [(Some(500), Some(1)), (Some(500), Some(2)), (Some(204), Some(3))]);
        assert_eq!(deliveries[0]["type"], "asset.created");
        let dev_view = deliveries_listed(&h, &connection, &s.developer, 7).await;
        assert_eq!(dev_view.body["deliveries"].as_array().unwrap().len(), 7);
        let stranger = h.add_tenant().await;
        let stranger_admin = h.admin_token(&stranger).await;
        let hidden_from = deliveries_listed(&h, &connection, &stranger_admin, 0).await;
        assert_eq!(hidden_from.status, StatusCode::NOT_FOUND);
        assert_eq!(h.storage.pending_webhooks().await.unwrap(), 0);
        HOOK_FAILURES.store(0, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_change_during_the_hand_over_waits_for_the_applications_answer() {
    for h in Harness::on_both_backends_configured(|c| c.webhook_retry_base_ms = 50).await {
        let app = FakeApp::start(Answer::WhenReleased).await;
        let s = scene(&h, &app.url).await;
        webhooks_to(&h, &s, &app).await;
        let meanwhile = async {
            // The application has the hand-over and holds its answer; the owner changes data.
            let mut granted = None;
            for _ in 0..250 {
                granted = app
                    .events()
                    .into_iter()
                    .map(|(_, b)| b)
                    .find(|b| b["event"] == "connection.granted");
                if granted.is_some() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            let granted = granted.expect("the hand-over reached the application");
            let id: tessera_core::id::ConnectionId =
                granted["connection_id"].as_str().unwrap().parse().unwrap();
            let created = h
                .api(
                    Method::POST,
                    "/v2/assets",
                    &s.owner_admin,
                    Some(json!({"attributes": {"name": "early"}})),
                )
                .await;
            assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
            // The worker tries, finds no webhook secret yet, and keeps the entry for later.
            let mut waited = None;
            for _ in 0..250 {
                let attempts = h
                    .storage
                    .webhook_attempts(id, tessera_core::page::PageRequest { after: 0, size: 10 })
                    .await
                    .unwrap();
                waited = attempts
                    .items
                    .into_iter()
                    .find(|a| a.error.as_deref().is_some_and(|e| e.contains("hand-over")));
                if waited.is_some() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            assert!(waited.is_some(), "an attempt that waits for the hand-over");
            assert_eq!(h.storage.pending_webhooks().await.unwrap(), 1);
            app.release.notify_one();
            granted
        };
        let (done, granted) = tokio::join!(decide(&h, &s, "accept"), meanwhile);
        assert_eq!(done.status, StatusCode::OK, "{}", done.text);
        let ok = delivered(&h, &app, 1).await;
        let body: serde_json::Value =
            serde_json::from_str(ok[0]["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["type"], "asset.created");
        assert_eq!(body["data"]["attributes"]["name"], "early", "{body}");
        assert!(verify(granted["webhook_secret"].as_str().unwrap(), &ok[0]));
    }
}

#[tokio::test]
async fn revoking_a_connection_drops_its_pending_webhooks() {
    for h in Harness::on_both_backends_configured(|c| c.webhook_retry_base_ms = 3_600_000).await {
        let app = FakeApp::start(Answer::Bearer).await;
        let s = scene(&h, &app.url).await;
        // Webhooks go to a port where nothing listens: they stay pending, retried in an hour.
        let closed = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}/hooks", listener.local_addr().unwrap())
        };
        h.api(
            Method::PATCH,
            &format!("/v1/integrations/{}", s.app_id),
            &s.developer,
            Some(json!({"webhook_url": closed})),
        )
        .await;
        decide(&h, &s, "accept").await;
        let connection = app.events()[0].1["connection_id"].as_str().unwrap().to_owned();
        for n in 0..3 {
            h.api(
                Method::POST,
                "/v2/assets",
                &s.owner_admin,
                Some(json!({"attributes": {"n": n.to_string()}})),
            )
            .await;
        }
        assert_eq!(h.storage.pending_webhooks().await.unwrap(), 3);
        // The metrics see them: three pending, the first failing once the worker has tried
        // it, and the oldest's age as the clock moves on.
        h.clock.advance_seconds(90);
        let mut metrics = String::new();
        for _ in 0..250 {
            metrics = h.send(Request::get("/metrics").body(Body::empty()).unwrap()).await.text;
            if metrics.contains("tessera_webhooks_failing 1") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        for wanted in [
            "tessera_webhooks_pending 3",
            "tessera_webhooks_failing 1",
            "tessera_webhooks_oldest_pending_age_seconds 90.0",
        ] {
            assert!(metrics.contains(wanted), "{wanted} in {metrics}");
        }
        let revoked = h
            .api(Method::DELETE, &format!("/v1/connections/{connection}"), &s.owner_admin, None)
            .await;
        assert_eq!(revoked.status, StatusCode::NO_CONTENT);
        assert_eq!(h.storage.pending_webhooks().await.unwrap(), 0);
        // And a change after the revocation is heard by nobody.
        h.api(
            Method::POST,
            "/v2/assets",
            &s.owner_admin,
            Some(json!({"attributes": {"n": "late"}})),
        )
        .await;
        assert_eq!(h.storage.pending_webhooks().await.unwrap(), 0);
    }
}

#[tokio::test]
async fn deleting_or_disabling_the_owners_tenant_ends_the_connection_and_tells_the_application() {
    for h in Harness::on_both_backends().await {
        let app = FakeApp::start(Answer::Bearer).await;
        let s = scene(&h, &app.url).await;
        decide(&h, &s, "accept").await;
        let granted = app.events()[0].1.clone();
        let connection = granted["connection_id"].as_str().unwrap().to_owned();
        let handed = granted["access_token"].as_str().unwrap().to_owned();
        let platform = h.admin_token(&h.a).await;
        let fresh = |h| connection_token(h, &s, s.owner.tenant, None);
        assert_eq!(fresh(&h).await.status, StatusCode::OK);

        // Disabled: the connection's tokens stop and none are issued; enabled: it works again.
        let path = format!("/v1/tenants/{}", s.owner.tenant);
        h.api(Method::PATCH, &path, &platform, Some(json!({"disabled": true}))).await;
        let seen = h.api(Method::GET, "/v2/assets", &handed, None).await;
        assert_eq!(seen.status, StatusCode::UNAUTHORIZED, "{}", seen.text);
        let refused = fresh(&h).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert!(refused.description().contains("disabled"), "{}", refused.text);
        h.api(Method::PATCH, &path, &platform, Some(json!({"disabled": false}))).await;
        h.clock.advance_seconds(1);
        let again = fresh(&h).await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.text);
        let again = again.body["access_token"].as_str().unwrap().to_owned();
        assert_eq!(h.api(Method::GET, "/v2/assets", &again, None).await.status, StatusCode::OK);

        // Deleted: the application is told, with its own bearer token, and the connection is
        // gone for its side too.
        let gone = h.api(Method::DELETE, &path, &platform, None).await;
        assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.text);
        let mut told = None;
        for _ in 0..100 {
            told = app.events().into_iter().find(|(_, e)| e["event"] == "connection.revoked");
            if told.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let (auth, revoked) = told.expect("the application is told");
        assert_eq!(revoked["connection_id"], connection.as_str());
        assert_eq!(revoked["tenant_id"], s.owner.tenant.to_string());
        assert_eq!(auth.as_deref(), Some("Bearer app-token-1"));
        assert_eq!(
            h.api(Method::GET, "/v2/assets", &again, None).await.status,
            StatusCode::UNAUTHORIZED
        );
        let listed = h.api(Method::GET, "/v1/connections", &s.developer, None).await;
        assert_eq!(listed.body["connections"], json!([]), "{}", listed.text);
    }
}

#[tokio::test]
async fn a_hand_over_cut_short_by_a_stop_is_swept_away() {
    use tessera_core::model::{Connection, ConnectionStatus};
    for h in Harness::on_both_backends().await {
        let developer = h.admin_token(&h.a).await;
        let (app_id, _, _) = h.create_integration(&developer, reader()).await;
        let owner = h.add_tenant().await;
        let now = tessera_core::ports::Clock::now_millis(&*h.clock);
        let make = |created_at: i64| Connection {
            id: tessera_core::id::ConnectionId::random(),
            owner_tenant_id: owner.tenant,
            client_id: app_id.parse().unwrap(),
            client_tenant_id: h.a.tenant,
            scopes: tessera_core::scope::ScopeSet::parse("assets:read").unwrap(),
            state: "s".into(),
            status: ConnectionStatus::Active,
            granted_by: "user:x".into(),
            created_at,
            updated_at: created_at,
        };
        // Stored and announced, but the instance stopped before the application answered.
        let stale = make(now - 11 * 60_000);
        let fresh = make(now);
        for c in [&stale, &fresh] {
            h.storage.create_connection(c).await.unwrap();
        }
        tessera_server::workers::sweep::sweep_connections(&h.state).await;
        assert!(h.storage.get_connection(stale.id).await.is_err(), "swept");
        assert!(h.storage.get_connection(fresh.id).await.is_ok(), "still being handed over");
    }
}

#[tokio::test]
async fn plain_http_callbacks_elsewhere_than_loopback_need_the_deployment_to_allow_them() {
    let body = json!({"display_name": "x", "webhook_url": "http://10.1.2.3/hooks"});
    let strict = Harness::new().await;
    let admin = strict.admin_token(&strict.a).await;
    let refused = strict.api(Method::POST, "/v1/integrations", &admin, Some(body.clone())).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.text.contains("`webhook_url`"), "{}", refused.text);
    let open = Harness::configured(|c| c.url_rules.plain_http_anywhere = true).await;
    let admin = open.admin_token(&open.a).await;
    let taken = open.api(Method::POST, "/v1/integrations", &admin, Some(body)).await;
    assert_eq!(taken.status, StatusCode::CREATED, "{}", taken.text);
    assert_eq!(taken.body["webhook_url"], "http://10.1.2.3/hooks");
}

/// Answers the sign-in's "Choose the organization" (`asked`) with `tenant`, for the email whose
/// password is the tests' usual one, going on to `next`.
pub(crate) async fn choose_organization(
    h: &Harness,
    asked: &Reply,
    email: &str,
    next: &str,
    tenant: &str,
) -> Reply {
    let cookie = set_cookie(asked, "tessera_sign_in").unwrap();
    form_post(
        h,
        "/console/sign-in",
        &format!("tessera_sign_in={cookie}"),
        &[
            ("email", email),
            ("password", "correct horse battery staple"),
            ("csrf", &hidden(&asked.text, "csrf")),
            ("next", next),
            ("tenant", tenant),
        ],
    )
    .await
}

#[tokio::test]
async fn an_email_in_two_tenants_chooses_one_at_sign_in_and_signs_out() {
    let h = Harness::new().await;
    let mut tenants = Vec::new();
    for _ in 0..2 {
        let t = h.add_tenant().await;
        let admin = h.admin_token(&t).await;
        let made = h
            .api(Method::POST, "/v1/users", &admin, Some(json!({"email": "sam@example.com", "display_name": "Sam", "password": "correct horse battery staple"})))
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
        tenants.push(t.tenant.to_string());
    }
    // The same password in both: the form asks which organization.
    let first = sign_in(&h, "sam@example.com", "correct horse battery staple", "/console").await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert!(first.text.contains("Choose the organization"), "{}", first.text);
    assert!(set_cookie(&first, "tessera_session").is_none());
    for t in &tenants {
        assert!(first.text.contains(t.as_str()), "{t} offered");
    }
    let chosen = choose_organization(&h, &first, "sam@example.com", "/console", &tenants[1]).await;
    assert_eq!(chosen.status, StatusCode::SEE_OTHER, "{}", chosen.text);
    let session = format!("tessera_session={}", set_cookie(&chosen, "tessera_session").unwrap());
    let home = with_cookie(&h, "/console", &session).await;
    assert!(home.text.contains("sam@example.com"), "{}", home.text);
    // Signing out takes the form of the console's page: another site's form cannot do it.
    let forged = form_post(&h, "/console/sign-out", &session, &[("csrf", "x")]).await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST);
    assert!(set_cookie(&forged, "tessera_session").is_none());
    let csrf = hidden(&home.text, "csrf");
    let out = form_post(&h, "/console/sign-out", &session, &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::OK);
    let cleared = out
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.starts_with("tessera_session=;") && v.contains("Max-Age=0"));
    assert!(cleared, "{:?}", out.headers);
    // Without a session the console sends to the sign-in.
    let anonymous = get_page(&h, "/console").await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn by_default_the_hand_over_never_reaches_a_private_address() {
    let h = Harness::configured(|c| c.allow_private_callbacks = false).await;
    let app = FakeApp::start(Answer::Bearer).await;
    // By address and by a name that resolves to loopback: neither is called, and the owner
    // reads the same words as for an application that does not answer.
    let by_name = app.url.replace("127.0.0.1", "localhost");
    for url in [app.url.as_str(), by_name.as_str()] {
        let s = scene(&h, url).await;
        let done = decide(&h, &s, "accept").await;
        assert_eq!(done.status, StatusCode::BAD_GATEWAY, "{}", done.text);
        assert!(done.text.contains("did not answer"), "{}", done.text);
        let list = h.api(Method::GET, "/v1/connections", &s.owner_admin, None).await;
        assert_eq!(list.body["connections"], json!([]), "{}", list.text);
    }
    assert!(app.events().is_empty(), "{:?}", app.events());
}

#[tokio::test]
async fn an_application_makes_its_own_connection_urls_with_its_own_token_and_no_one_elses() {
    for h in Harness::on_both_backends().await {
        let developer = h.admin_token(&h.a).await;
        let (id, secret, _) = h
            .create_integration(
                &developer,
                json!({"display_name": "Self-serve", "scopes": ["assets:read", "events:read"],
                       "authentication_url": "http://127.0.0.1:9/tessera/auth"}),
            )
            .await;
        let other = application(&h, &developer).await;
        let own = h.token(&id, &secret, None).await;
        assert_eq!(own.status, StatusCode::OK, "{}", own.text);
        let own = own.body["access_token"].as_str().unwrap().to_owned();
        assert!(!own.is_empty());

        // For itself, within its scopes: a URL that opens the consent flow.
        let made = connection_link(&h, &own, &id, "customer-42").await;
        assert!(made.starts_with("/connect?"), "{made}");
        let page = get_page(&h, &made).await;
        assert!(page.status.is_redirection(), "sign in first: {}", page.status);

        let ask = |path: String, scopes: Value| {
            let (h, own) = (&h, &own);
            async move {
                h.api(Method::POST, &path, own, Some(json!({"scopes": scopes, "state": "s"}))).await
            }
        };
        // Not for another integration, even of its own tenant.
        let theirs =
            ask(format!("/v1/integrations/{other}/connection_url"), json!(["assets:read"])).await;
        assert_eq!(theirs.status, StatusCode::FORBIDDEN, "{}", theirs.text);
        assert!(theirs.description().contains("its own integration only"), "{}", theirs.text);
        // Not beyond its own scopes.
        let wider = ask(
            format!("/v1/integrations/{id}/connection_url"),
            json!(["assets:read", "assets:write"]),
        )
        .await;
        assert_eq!(wider.status, StatusCode::BAD_REQUEST);
        assert_eq!(wider.body["field"], "scopes", "{}", wider.text);
        // The tenant admin still makes them for any integration of the tenant.
        let by_admin = connection_link(&h, &developer, &other, "from-admin").await;
        assert!(by_admin.starts_with("/connect?"));
        // An unknown integration is not found.
        let unknown = ask(
            format!("/v1/integrations/{}/connection_url", uuid::Uuid::new_v4()),
            json!(["assets:read"]),
        )
        .await;
        assert_eq!(unknown.status, StatusCode::FORBIDDEN, "not its own: {}", unknown.text);
    }
}

#[tokio::test]
async fn an_owner_is_told_before_accepting_that_the_application_is_their_organizations_own() {
    let h = Harness::new().await;
    let developer = h.admin_token(&h.a).await;
    let id = application(&h, &developer).await;
    let link = connection_link(&h, &developer, &id, "same-tenant").await;
    let ada = crate::console::ConsoleSession::start(&h, &h.a, "ada@example.com", "admin").await;
    let page = ada.get(&h, &link).await;
    assert_eq!(page.status, StatusCode::CONFLICT, "{}", page.text);
    assert!(page.text.contains("Nothing to connect"), "{}", page.text);
    assert!(page.text.contains("your own organization"), "{}", page.text);
    assert!(!page.text.contains("value=\"accept\""), "no Accept button: {}", page.text);
    // Posting an answer anyway connects nothing.
    let query = link.trim_start_matches("/connect?");
    let forced = ada.post(&h, "/connect", &[("request", query), ("decision", "accept")]).await;
    assert_eq!(forced.status, StatusCode::CONFLICT, "{}", forced.text);
    let listed = h.api(Method::GET, "/v1/connections", &developer, None).await;
    assert_eq!(listed.body["connections"], json!([]));
}

/// Runs `driver` (an ES module) with Node.js beside the README's ```js block (as
/// `verify.mjs`) and `files`; its standard output. `None` where Node.js is not installed (never
/// in CI).
fn run_readme_js(driver: &str, files: &[(&str, &[u8])]) -> Option<String> {
    let Ok(node) = which_node() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the README's JavaScript: Node.js is not installed"
        );
        eprintln!("skipped: Node.js is not installed");
        return None;
    };
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let sample = readme
        .split("```js\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the README has a ```js block");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("verify.mjs"), sample).unwrap();
    std::fs::write(dir.path().join("check.mjs"), driver).unwrap();
    for (name, bytes) in files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let out = std::process::Command::new(&node)
        .arg("check.mjs")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The README's JavaScript, run by Node.js on a real `connection.granted`: it takes the call as
/// it came and refuses it once its body is changed (so the README's sample cannot rot).
#[tokio::test]
async fn the_readmes_javascript_verifies_a_real_callback() {
    // Each algorithm: the sample's ES256 needs `dsaEncoding`, EdDSA no hash.
    for alg in tessera_core::token::SigningAlg::ALL {
        let h = Harness::with_alg(alg).await;
        let app = FakeApp::start(Answer::Bearer).await;
        let s = scene(&h, &app.url).await;
        accepted(&h, &s, &app).await;
        let (signature, body) = app.signed.lock().unwrap()[0].clone();
        let jwks = h.send(Request::get("/oauth2/jwks").body(Body::empty()).unwrap()).await.body;
        let driver = format!(
            r#"import {{ readFileSync }} from "node:fs";
import {{ verifyTesseraCall }} from "./verify.mjs";
const options = {{ issuer: {issuer:?}, clientId: {client:?}, jwks: JSON.parse(readFileSync("jwks.json")), now: {now} }};
const body = readFileSync("body.json");
console.log(verifyTesseraCall(body, {signature:?}, options).event);
for (const [what, b, o] of [["altered", Buffer.concat([body, Buffer.from(" ")]), options],
                            ["other app", body, {{ ...options, clientId: "other" }}]]) {{
  try {{ verifyTesseraCall(b, {signature:?}, o); console.log(what + ": accepted"); }}
  catch (e) {{ console.log(what + ": " + e.message); }}
}}
"#,
            issuer = ISSUER,
            client = s.app_id,
            now = h.clock.now_millis() / 1000,
        );
        let jwks = jwks.to_string();
        let files: [(&str, &[u8]); 2] = [("body.json", &body), ("jwks.json", jwks.as_bytes())];
        let Some(out) = run_readme_js(&driver, &files) else {
            return;
        };
        assert_eq!(
            out,
            "connection.granted\naltered: body changed\nother app: not meant for this application\n",
            "{alg:?}"
        );
    }
}

/// The README's JavaScript on a real webhook, with the secret the hand-over gave.
#[tokio::test]
async fn the_readmes_javascript_verifies_a_real_webhook() {
    let h = Harness::configured(|c| c.webhook_retry_base_ms = 50).await;
    let app = FakeApp::start(Answer::Bearer).await;
    let s = scene(&h, &app.url).await;
    webhooks_to(&h, &s, &app).await;
    let granted = accepted(&h, &s, &app).await;
    h.api(
        Method::POST,
        "/v2/assets",
        &s.owner_admin,
        Some(json!({"attributes": {"arc_display_type": "pump"}})),
    )
    .await;
    let hook = delivered(&h, &app, 1).await[0].clone();
    let headers = json!({"webhook-id": hook["id"], "webhook-timestamp": hook["timestamp"],
                         "webhook-signature": hook["signature"]});
    let driver = format!(
        r#"import {{ readFileSync }} from "node:fs";
import {{ verifyTesseraWebhook }} from "./verify.mjs";
const headers = {headers};
const secret = {secret};
const now = Number(headers["webhook-timestamp"]);
const body = readFileSync("body.json", "utf8");
console.log(verifyTesseraWebhook(body, headers, secret, now).type);
for (const [what, b, h, n] of [["altered", body + " ", headers, now],
                               ["late", body, headers, now + 301],
                               ["other secret", body, headers, now]]) {{
  try {{ verifyTesseraWebhook(b, h, what === "other secret" ? "whsec_" + Buffer.alloc(32).toString("base64") : secret, n); console.log(what + ": accepted"); }}
  catch (e) {{ console.log(what + ": " + e.message); }}
}}
"#,
        secret = granted["webhook_secret"],
    );
    let body = hook["body"].as_str().unwrap().as_bytes();
    let Some(out) = run_readme_js(&driver, &[("body.json", body)]) else {
        return;
    };
    assert_eq!(
        out,
        "asset.created\naltered: bad signature\nlate: too old or too new\nother secret: bad signature\n"
    );
}

fn which_node() -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("node"))
        .find(|p| p.is_file())
        .ok_or(())
}

//! The console across tenants in a real browser (SPEC §9, seeds 001, 002 and 004), with every
//! organization made through the tenants API: an application connects to a data owner and is
//! revoked; a connector's user consents and the CLI gets their token; a version is promoted,
//! authorized from the catalogue and revoked. axe-core runs on each new page; screenshots go to
//! `target/console/`.

use crate::Answer;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fantoccini::Client;
use fantoccini::Locator::{self, Css, Id, XPath};
use serde_json::{json, Value};
use tessera_core::token::callback::verify_callback;
use tessera_core::token::VerifyingKey;

use crate::browser::{browser, stage, Browsed, Walk};
use crate::{access_token, assets_status, made_tenant, post_json, token};

const PASSWORD: &str = "correct horse battery staple";

/// An organization made through the tenants API, with an admin token and an admin user
/// (`email`, [`PASSWORD`]) who signs in to the console.
struct Organization {
    tenant: String,
    admin: String,
}

async fn organization(server: &str, name: &str, email: &str, role: &str) -> Organization {
    let (tenant, id, secret) = made_tenant(server, name, &format!("first-{email}")).await;
    // The new admin integration reaches every part of the server within a moment.
    let mut admin = String::new();
    for _ in 0..100 {
        if token(server, &id, &secret, None).await.status() == 200 {
            admin = access_token(server, &id, &secret).await;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!admin.is_empty(), "the new tenant's admin integration gets tokens");
    let user = post_json(
        format!("{server}/v1/users"),
        &admin,
        json!({"email": email, "display_name": name, "role": role, "password": PASSWORD}),
    )
    .await;
    assert!(user["id"].is_string(), "{user}");
    Organization { tenant, admin }
}

/// The server's issuer and key set, as an application reads them.
async fn issuer_and_keys(server: &str) -> (String, Vec<VerifyingKey>) {
    let http = reqwest::Client::new();
    let discovery: Value =
        http.get(format!("{server}/.well-known/openid-configuration")).answer().await;
    let jwks: Value = http.get(discovery["jwks_uri"].as_str().unwrap()).answer().await;
    (discovery["issuer"].as_str().unwrap().to_owned(), VerifyingKey::from_jwks(&jwks))
}

/// What the application received: each call to `/auth` (its `Tessera-Signature` and exact
/// body) and each webhook body.
/// Each call to `/auth`: its `Tessera-Signature` and exact body.
type Calls = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

#[derive(Clone, Default)]
struct Received {
    calls: Calls,
    hooks: Arc<Mutex<Vec<Value>>>,
}

impl Received {
    /// Waits up to thirty seconds for `n` calls to `/auth`.
    async fn calls(&self, n: usize) -> Vec<(String, Vec<u8>)> {
        for _ in 0..600 {
            let calls = self.calls.lock().unwrap().clone();
            if calls.len() >= n {
                return calls;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{n} calls did not arrive: {:?}", self.calls.lock().unwrap());
    }

    async fn hook(&self) -> Value {
        for _ in 0..600 {
            if let Some(hook) = self.hooks.lock().unwrap().first() {
                return hook.clone();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no webhook arrived");
    }
}

/// An application on loopback: `/auth` takes the hand-over (answers a bearer token), `/hooks`
/// takes webhooks. Returns its base URL.
async fn application() -> (String, Received) {
    use axum::routing::post;
    let received = Received::default();
    let (calls, hooks) = (received.calls.clone(), received.hooks.clone());
    let app = axum::Router::new()
        .route(
            "/auth",
            post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let calls = calls.clone();
                async move {
                    let signature = headers
                        .get("tessera-signature")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    calls.lock().unwrap().push((signature, body.to_vec()));
                    axum::Json(json!({"bearer_token": "browser-app-token"}))
                }
            }),
        )
        .route(
            "/hooks",
            post(move |body: axum::body::Bytes| {
                let hooks = hooks.clone();
                async move {
                    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    hooks.lock().unwrap().push(value);
                    axum::http::StatusCode::NO_CONTENT
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, received)
}

/// Checks a call as the README tells an application to (the Rust twin of its JavaScript:
/// signature against the JWKS, `typ`, `iss`, `aud`, `exp`, the body's digest); its JSON.
async fn verified(server: &str, client_id: &str, call: &(String, Vec<u8>)) -> Value {
    let (issuer, keys) = issuer_and_keys(server).await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
        as i64;
    let event = verify_callback(&call.0, &call.1, &keys, &issuer, client_id, now)
        .unwrap_or_else(|e| panic!("the call does not verify: {e}"));
    let body: Value = serde_json::from_slice(&call.1).unwrap();
    assert_eq!(body["event"], event);
    body
}

/// Opens `link` signed out: the sign-in form first, as `email`, then back to the link, which
/// shows `then`.
async fn follow_signed_out(
    browser: &Client,
    link: &str,
    email: &str,
    then: Locator<'_>,
) -> Browsed {
    browser.goto(link).await?;
    browser.fill("email", email).await?;
    browser.fill("password", PASSWORD).await?;
    browser.click_and_wait(Css("button[type=submit]"), then).await
}

/// Checks that the page shows each of `words`, and saves it as `shot` for review.
async fn shows(browser: &Client, words: &[&str], shot: &str) -> Browsed {
    let page = browser.source().await?;
    for w in words {
        assert!(page.contains(w), "{shot} lacks {w:?}: {page}");
    }
    browser.shot(shot).await
}

/// Signs out by forgetting the session (a second person at the same browser).
async fn next_person(browser: &Client, server: &str, email: &str) -> Browsed {
    browser.delete_all_cookies().await?;
    browser.sign_in(server, email, PASSWORD).await
}

/// Seed 001's two organizations and their application Route Planner (its `/auth` and
/// `/hooks` at `base`), and the connection URL the application made with its own token.
struct RoutePlanner {
    owner: Organization,
    client_id: String,
    link: String,
}

async fn route_planner(url: &str, base: &str) -> RoutePlanner {
    let developer = organization(url, "Route Co", "dev@route.example", "admin").await;
    let owner = organization(url, "Fleet Owner", "olga@owner.example", "admin").await;
    let created = post_json(
        format!("{url}/v1/integrations"),
        &developer.admin,
        json!({"display_name": "Route Planner", "scopes": ["assets:read", "events:read"],
               "authentication_url": format!("{base}/auth"), "webhook_url": format!("{base}/hooks"),
               "description": "Plans routes from your fleet's positions."}),
    )
    .await;
    let client_id = created["client_id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    // The application's own token, not an admin's, makes the URL (one per customer).
    let own = access_token(url, &client_id, &secret).await;
    let made = post_json(
        format!("{url}/v1/integrations/{client_id}/connection_url"),
        &own,
        json!({"scopes": ["assets:read", "events:read"], "state": "customer-42"}),
    )
    .await;
    let link = made["url"].as_str().unwrap_or_else(|| panic!("{made}")).to_owned();
    RoutePlanner { owner, client_id, link }
}

/// The owner opens the link signed out, signs in, reads the consent page and accepts; the
/// application gets a signed `connection.granted` (returned) whose token works, and a change
/// in the owner's data reaches it as a webhook.
async fn owner_accepts(
    browser: &Client,
    url: &str,
    planner: &RoutePlanner,
    received: &Received,
) -> Result<Value, fantoccini::error::CmdError> {
    let accept = Css("button[value=accept]");
    follow_signed_out(browser, &planner.link, "olga@owner.example", accept).await?;
    let page = browser.source().await?;
    assert!(page.contains("Route Planner") && page.contains("Route Co"), "{page}");
    assert!(page.contains("read events of assets"), "{page}");
    browser.shot("consent-page.png").await?;
    browser.axe("consent").await?;
    let connected = XPath("//h1[contains(., 'Connected')]");
    browser.visit(Css("button[value=accept]"), connected, "connected").await?;
    let granted = verified(url, &planner.client_id, &received.calls(1).await[0]).await;
    assert_eq!(granted["event"], "connection.granted");
    assert_eq!(granted["tenant_id"], planner.owner.tenant);
    assert_eq!(granted["state"], "customer-42");
    let handed = granted["access_token"].as_str().unwrap();
    assert_eq!(assets_status(url, handed).await, 200, "the token handed over works");
    let truck = json!({"attributes": {"arc_display_type": "truck"}});
    let asset = post_json(format!("{url}/v2/assets"), &planner.owner.admin, truck).await;
    assert!(asset["identity"].is_string(), "{asset}");
    assert_eq!(received.hook().await["type"], "asset.created");
    Ok(granted)
}

/// Seed 001: the application makes a connection URL with its own token; the owner signs in,
/// accepts; the application gets a signed `connection.granted` and a webhook; the owner revokes
/// on the Connections page; the application gets a signed `connection.revoked` and its token
/// stops.
#[tokio::test]
async fn seed_001_an_application_connects_to_a_data_owner_who_revokes_it_on_the_connections_page() {
    let Some((_stage, port, server)) = stage() else {
        return;
    };
    let (base, received) = application().await;
    let url = server.url.clone();
    let planner = route_planner(&url, &base).await;
    let browser = browser(port).await;
    let result = async {
        let granted = owner_accepts(&browser, &url, &planner, &received).await?;
        let handed = granted["access_token"].as_str().unwrap().to_owned();
        // The owner's Connections page, and the revocation after a confirmation.
        browser.goto(&format!("{url}/console")).await?;
        browser
            .follow(
                "Connections",
                XPath("//h2[contains(., 'Applications connected to')]"),
                "connections (owner)",
            )
            .await?;
        shows(&browser, &["Route Planner", "read assets"], "console-connections-owner.png").await?;
        browser
            .visit(
                Css("a[aria-label='Revoke Route Planner']"),
                XPath("//button[. = 'Revoke']"),
                "revoke a connection",
            )
            .await?;
        browser.shot("console-connection-revoke.png").await?;
        browser
            .press("Revoke", XPath("//p[contains(., 'Revoked: Route Planner')]"), "revoked")
            .await?;
        let calls = received.calls(2).await;
        let revoked = verified(&url, &planner.client_id, &calls[1]).await;
        assert_eq!(revoked["event"], "connection.revoked");
        assert_eq!(revoked["connection_id"], granted["connection_id"]);
        let mut status = 0;
        for _ in 0..40 {
            status = assets_status(&url, &handed).await;
            if status == 401 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(status, 401, "the connection's token stops working");
        Browsed::Ok(())
    }
    .await;
    let _ = browser.close().await;
    result.expect("the browser walks through seed 001");
}

/// Seed 001 from the developer's side: the connected organization, the deliveries of its
/// webhooks, and a connection URL made in the console.
#[tokio::test]
async fn seed_001_the_developer_sees_a_connection_its_deliveries_and_makes_a_url_in_the_console() {
    let Some((_stage, port, server)) = stage() else {
        return;
    };
    let (base, received) = application().await;
    let url = server.url.clone();
    let planner = route_planner(&url, &base).await;
    let client_id = &planner.client_id;
    let browser = browser(port).await;
    let result = async {
        owner_accepts(&browser, &url, &planner, &received).await?;
        next_person(&browser, &url, "dev@route.example").await?;
        browser
            .follow(
                "Connections",
                XPath("//caption[contains(., \"Our applications' connections\")]"),
                "connections (developer)",
            )
            .await?;
        browser.shot("console-connections-developer.png").await?;
        browser
            .follow(
                "Fleet Owner",
                XPath("//caption[contains(., 'Delivery attempts')]"),
                "a connection's deliveries",
            )
            .await?;
        shows(&browser, &["asset.created", "HTTP 204"], "console-connection-deliveries.png")
            .await?;
        browser.goto(&format!("{url}/console/integrations/{client_id}")).await?;
        browser.follow("Make a connection URL", Id("state"), "connection-URL maker").await?;
        browser.fill("state", "customer-43").await?;
        browser.press("Make URL", Id("url"), "a connection URL made").await?;
        assert!(browser.value_of("url").await?.contains("state=customer-43"));
        browser.shot("console-connection-url.png").await?;
        Browsed::Ok(())
    }
    .await;
    let _ = browser.close().await;
    result.expect("the browser walks through seed 001 as the developer");
}

/// Seed 002's connector of Sheets Co, which signs with the key made in `keys`, and its user
/// uma@sheets.example: the connector's client_id and the user.
async fn spreadsheet_connector(url: &str, keys: &std::path::Path) -> (String, Value) {
    let org = organization(url, "Sheets Co", "ines@sheets.example", "admin").await;
    let created = post_json(
        format!("{url}/v1/integrations"),
        &org.admin,
        json!({"display_name": "Spreadsheet connector", "scopes": ["assets:read", "impersonation"],
               "description": "Pulls your assets into a spreadsheet."}),
    )
    .await;
    let client_id = created["client_id"].as_str().unwrap().to_owned();
    std::fs::create_dir_all(keys).unwrap();
    crate::cli::self_signed(keys);
    let cert = std::fs::read_to_string(keys.join("cert.pem")).unwrap();
    let added = post_json(
        format!("{url}/v1/integrations/{client_id}/keys"),
        &org.admin,
        json!({ "certificate": cert }),
    )
    .await;
    assert!(added["kid"].is_string(), "{added}");
    let user = post_json(
        format!("{url}/v1/users"),
        &org.admin,
        json!({"email": "uma@sheets.example", "display_name": "Uma", "password": PASSWORD}),
    )
    .await;
    assert!(user["id"].is_string(), "{user}");
    (client_id, user)
}

/// Seed 002: the connector's user is sent to `/console/consent` by `consent_required`, consents
/// there, and `tessera token jwt-bearer` then gets their token.
#[tokio::test]
async fn seed_002_a_connectors_user_consents_in_the_console_and_the_cli_gets_their_token() {
    let Some((stage, port, server)) = stage() else {
        return;
    };
    let url = server.url.clone();
    let keys = stage.dir.with_extension("keys");
    let (client_id, user) = spreadsheet_connector(&url, &keys).await;
    let jwt_bearer = || {
        crate::tessera()
            .args(["token", "jwt-bearer", "--issuer", &client_id])
            .args(["--subject", "uma@sheets.example", "--scope", "assets:read"])
            .arg("--key-store")
            .arg(keys.join("key.pem"))
            .args(["--token-url", &format!("{url}/oauth2/token")])
            .output()
            .unwrap()
    };
    let refused = jwt_bearer();
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert!(said.contains("consent_required"), "{said}");
    let consent_url = format!("{url}/console/consent?client_id={client_id}&scope=assets:read");
    assert!(said.contains(&consent_url), "the error names the page: {said}");

    let browser = browser(port).await;
    let result = async {
        // The user follows the link: sign in first, then the consent page.
        follow_signed_out(
            &browser,
            &consent_url,
            "uma@sheets.example",
            XPath("//button[. = 'Consent']"),
        )
        .await?;
        let page = browser.source().await?;
        assert!(page.contains("Spreadsheet connector asks to act for you"), "{page}");
        assert!(page.contains("read assets"), "{page}");
        browser.axe("user consent").await?;
        browser.shot("console-user-consent.png").await?;
        browser.press("Consent", XPath("//h1[. = 'Consent given']"), "consent given").await?;
        browser
            .follow(
                "Go to My account",
                XPath("//td[contains(., 'Spreadsheet connector')]"),
                "my account with a consent",
            )
            .await?;
        browser.shot("console-account-consents.png").await?;
        Browsed::Ok(())
    }
    .await;
    let _ = browser.close().await;
    result.expect("the browser walks through seed 002's consent");

    let given = jwt_bearer();
    assert!(given.status.success(), "{}", String::from_utf8_lossy(&given.stderr));
    let user_token = String::from_utf8(given.stdout).unwrap().trim().to_owned();
    let decoded = tessera_core::token::DecodedJws::decode(&user_token).unwrap();
    assert_eq!(decoded.payload["sub"], user["id"]);
    assert_eq!(decoded.payload["act"]["sub"], client_id);
    assert_eq!(assets_status(&url, &user_token).await, 200);
}

/// `POST /tms/v1/tokens` for `tenants`, authenticated as the version.
async fn tms(server: &str, id: &str, secret: &str, tenants: &[&str]) -> Value {
    reqwest::Client::new()
        .post(format!("{server}/tms/v1/tokens"))
        .basic_auth(id, Some(secret))
        .json(&json!({ "tenants": tenants }))
        .answer()
        .await
}

/// Seed 004: the developer promotes a version and sees its new credentials once; a customer
/// authorizes it with `limited` from the catalogue; TMS issues a token for the customer; the
/// customer revokes; the next TMS call lists the tenant in `errors`.
/// Seed 004's vendor Metrics Co with its application kpi 1.0 in development (TMS on), and a
/// customer Acme Plants: the vendor, the customer, the version's client_id and its
/// development secret.
async fn kpi_in_development(url: &str) -> (Organization, Organization, String, String) {
    let vendor = organization(url, "Metrics Co", "vic@metrics.example", "admin").await;
    let customer = organization(url, "Acme Plants", "cora@acme.example", "admin").await;
    let created = post_json(
        format!("{url}/v1/integrations"),
        &vendor.admin,
        json!({"display_name": "KPI 1.0", "multi_tenant": true, "app_name": "kpi",
               "app_version": "1.0", "tms_enabled": true,
               "description": "Key figures for every plant."}),
    )
    .await;
    let id = created["client_id"].as_str().unwrap().to_owned();
    let dev_secret = created["client_secret"].as_str().unwrap().to_owned();
    (vendor, customer, id, dev_secret)
}

/// Seed 004, the developer's side: a version promoted in the cockpit, its production
/// credentials shown once, the development SECRET stops.
#[tokio::test]
async fn seed_004_a_version_is_promoted_in_the_developer_cockpit() {
    let Some((_stage, port, server)) = stage() else {
        return;
    };
    let url = server.url.clone();
    let (_, customer, id, dev_secret) = kpi_in_development(&url).await;
    let browser = browser(port).await;
    let result = async {
        browser.sign_in(&url, "vic@metrics.example", PASSWORD).await?;
        browser
            .follow(
                "Applications",
                XPath("//caption[contains(., \"Our applications' versions\")]"),
                "applications (developer)",
            )
            .await?;
        let promote = Css("a[aria-label='Promote version 1.0 to production']");
        browser.follow("kpi", promote, "an application's versions").await?;
        browser.shot("console-application-versions.png").await?;
        browser.visit(promote, XPath("//button[. = 'Promote']"), "promote").await?;
        browser.press("Promote", Id("client_secret"), "the promoted version's credentials").await?;
        let secret = browser.value_of("client_secret").await?;
        browser.shot("console-promoted-secret.png").await?;
        Ok::<_, fantoccini::error::CmdError>(secret)
    }
    .await;
    let _ = browser.close().await;
    let secret = result.expect("the browser walks through promoting");
    assert!(!secret.is_empty() && secret != dev_secret);
    let dev = token(&url, &id, &dev_secret, None).await;
    assert_ne!(dev.status(), 200, "the development SECRET stops");
    let issued = tms(&url, &id, &secret, &[&customer.tenant]).await;
    assert_eq!(issued["errors"][0]["tenant_id"], customer.tenant, "not authorized yet: {issued}");
}

/// Seed 004, the customer's side: the catalogue, an application authorized with `limited`,
/// its TMS tokens, and the authorization revoked.
#[tokio::test]
async fn seed_004_a_customer_authorizes_and_revokes_an_application_from_the_catalogue() {
    let Some((_stage, port, server)) = stage() else {
        return;
    };
    let url = server.url.clone();
    let (vendor, customer, id, _) = kpi_in_development(&url).await;
    let promote = format!("{url}/v1/integrations/{id}/promote");
    let promoted = post_json(promote, &vendor.admin, json!({})).await;
    let secret = promoted["client_secret"].as_str().unwrap_or_else(|| panic!("{promoted}"));
    let browser = browser(port).await;
    let result = async {
        browser.sign_in(&url, "cora@acme.example", PASSWORD).await?;
        browser
            .follow(
                "Applications",
                XPath("//caption[contains(., 'Applications in production')]"),
                "the catalogue",
            )
            .await?;
        shows(&browser, &["Metrics Co", "Key figures for every plant."], "console-catalogue.png")
            .await?;
        let authorize = Css("a[aria-label='Authorize kpi']");
        browser.visit(authorize, Id("access-limited"), "authorize an application").await?;
        browser.find(Id("access-limited")).await?.click().await?;
        browser.shot("console-authorize.png").await?;
        browser
            .press("Authorize", XPath("//p[contains(., 'kpi is authorized')]"), "authorized")
            .await?;
        Browsed::Ok(())
    }
    .await;
    if let Err(e) = result {
        let _ = browser.close().await;
        panic!("the browser walks through authorizing: {e}");
    }
    let issued = tms(&url, &id, secret, &[&customer.tenant]).await;
    let tokens = issued["tokens"].as_array().unwrap_or_else(|| panic!("{issued}"));
    assert_eq!(tokens.len(), 1, "{issued}");
    assert_eq!(tokens[0]["scope"], "assets:read assets:write events:read");

    let result = browser.press("Revoke", XPath("//p[contains(., 'Revoked: kpi')]"), "revoked");
    let result = result.await;
    let _ = browser.close().await;
    result.expect("the customer revokes in the browser");
    let mut after = Value::Null;
    for _ in 0..40 {
        after = tms(&url, &id, secret, &[&customer.tenant]).await;
        if after["errors"].as_array().is_some_and(|e| !e.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(after["errors"][0]["tenant_id"], customer.tenant, "{after}");
    assert_eq!(after["tokens"], json!([]), "{after}");
}

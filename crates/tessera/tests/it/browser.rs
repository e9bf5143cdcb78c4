//! The consent flow in a real browser (headless Chromium through chromedriver, SPEC §6): sign
//! in, open a connection URL, accept; the application receives its token. A screenshot of the
//! consent page is saved as `target/consent-page.png` for review. Skipped where chromedriver is
//! not installed, except in CI (`.ci/run` installs it).

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};

use crate::{access_token, customer_tenant, data_dir, post_json, serve, BOOT_ID, BOOT_SECRET};

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn chromedriver() -> Option<(Driver, u16)> {
    let binary = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let Some(binary) = binary else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the browser test: install chromium and chromium-driver"
        );
        eprintln!("skipped: chromedriver is not installed");
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .ok()?;
    let child = Command::new(binary)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    Some((Driver(child), port))
}

/// A headless Chromium session through the chromedriver on `port`.
async fn browser(port: u16) -> fantoccini::Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({"args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                                     "--disable-gpu", "--window-size=1024,900"]}),
    );
    // Both of rustls' crypto providers are in the build: name one (whichever test got here
    // first installed it already).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    ClientBuilder::rustls()
        .expect("a TLS setup")
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("chromedriver answers")
}

/// Saves what the browser shows as `target/<name>`, for review.
async fn screenshot(
    browser: &fantoccini::Client,
    name: &str,
) -> Result<(), fantoccini::error::CmdError> {
    let shot = browser.screenshot().await?;
    let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
    std::fs::create_dir_all(&target).ok();
    std::fs::write(target.join(name), shot).ok();
    Ok(())
}

/// Types into the field with id `id`.
async fn fill(
    browser: &fantoccini::Client,
    id: &str,
    text: &str,
) -> Result<(), fantoccini::error::CmdError> {
    browser.find(Locator::Id(id)).await?.send_keys(text).await
}

/// Clicks what `locator` finds and waits for `then` on the page that loads.
async fn click_and_wait(
    browser: &fantoccini::Client,
    locator: Locator<'_>,
    then: Locator<'_>,
) -> Result<(), fantoccini::error::CmdError> {
    browser.find(locator).await?.click().await?;
    browser
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(then)
        .await?;
    Ok(())
}

#[tokio::test]
async fn the_operator_creates_a_tenant_whose_admin_sets_a_password_and_signs_in() {
    let Some((_driver, port)) = chromedriver() else {
        return;
    };
    let (_guard, dir) = data_dir();
    let server = serve(&dir, &[], true);
    let browser = browser(port).await;
    let result = async {
        browser
            .goto(&format!("{}/console/sign-in", server.url))
            .await?;
        fill(&browser, "email", "ops@example.com").await?;
        fill(&browser, "password", "correct horse battery staple").await?;
        click_and_wait(
            &browser,
            Locator::Css("button[type=submit]"),
            Locator::LinkText("Tenants"),
        )
        .await?;
        click_and_wait(
            &browser,
            Locator::LinkText("Tenants"),
            Locator::Id("admin_email"),
        )
        .await?;
        fill(&browser, "display_name", "Northwind").await?;
        fill(&browser, "admin_email", "nora@northwind.example").await?;
        click_and_wait(
            &browser,
            Locator::XPath("//button[. = 'Create tenant']"),
            Locator::Id("invitation-url"),
        )
        .await?;
        screenshot(&browser, "tenants-page.png").await?;
        let page = browser.source().await?;
        assert!(page.contains("Northwind"), "{page}");
        let link = browser
            .find(Locator::Id("invitation-url"))
            .await?
            .prop("value")
            .await?
            .unwrap_or_default();
        assert!(link.contains("/console/set-password?token="), "{link}");

        // The new admin opens the link, sets a password, and signs in with it.
        browser.goto(&link).await?;
        assert!(browser.source().await?.contains("nora@northwind.example"));
        fill(&browser, "password", "northwind is windy").await?;
        fill(&browser, "confirm", "northwind is windy").await?;
        screenshot(&browser, "set-password-page.png").await?;
        click_and_wait(
            &browser,
            Locator::Css("button[type=submit]"),
            Locator::LinkText("Sign in"),
        )
        .await?;
        click_and_wait(&browser, Locator::LinkText("Sign in"), Locator::Id("email")).await?;
        fill(&browser, "email", "nora@northwind.example").await?;
        fill(&browser, "password", "northwind is windy").await?;
        click_and_wait(
            &browser,
            Locator::Css("button[type=submit]"),
            Locator::XPath("//p[contains(., 'Signed in as nora@northwind.example')]"),
        )
        .await?;
        // Used once: the link now says so.
        browser.goto(&link).await?;
        let used = browser.source().await?;
        assert!(used.contains("used already"), "{used}");
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    let _ = browser.close().await;
    result.expect("the browser walks through making a tenant and its first sign-in");
}

#[tokio::test]
async fn a_data_owner_accepts_a_connection_in_a_real_browser() {
    let Some((_driver, port)) = chromedriver() else {
        return;
    };
    // The application: takes the hand-over and keeps what it was given.
    let received: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let keep = received.clone();
    let app = axum::Router::new().route(
        "/auth",
        axum::routing::post(move |axum::Json(body): axum::Json<serde_json::Value>| {
            let keep = keep.clone();
            async move {
                keep.lock().unwrap().push(body);
                axum::Json(serde_json::json!({"bearer_token": "browser-app-token"}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let auth_url = format!("http://{}/auth", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let (_guard, dir) = data_dir();
    let server = serve(&dir, &[], true);
    let developer = access_token(&server.url, BOOT_ID, BOOT_SECRET).await;
    let created = post_json(
        format!("{}/v1/integrations", server.url),
        &developer,
        serde_json::json!({"display_name": "Route Planner", "scopes": ["assets:read", "events:read"],
                           "authentication_url": auth_url,
                           "description": "Plans routes from your fleet's positions."}),
    )
    .await;
    let client_id = created["client_id"].as_str().unwrap().to_owned();
    let link = post_json(
        format!("{}/v1/integrations/{client_id}/connection_url", server.url),
        &developer,
        serde_json::json!({"scopes": ["assets:read"], "state": "browser-7"}),
    )
    .await["url"]
        .as_str()
        .unwrap()
        .to_owned();

    // The data owner: another tenant with a user who signs in.
    let (owner, admin_id, admin_secret) = customer_tenant(&server.url).await;
    let mut owner_admin = String::new();
    for _ in 0..50 {
        if crate::token(&server.url, &admin_id, &admin_secret, None)
            .await
            .status()
            == 200
        {
            owner_admin = access_token(&server.url, &admin_id, &admin_secret).await;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let user = post_json(
        format!("{}/v1/users", server.url),
        &owner_admin,
        serde_json::json!({"email": "dora@example.com", "display_name": "Dora",
                           "password": "correct horse battery staple"}),
    )
    .await;
    assert!(user["id"].is_string(), "{user}");

    let browser = browser(port).await;
    let result = async {
        browser.goto(&link).await?;
        // Not signed in: the sign-in form first, then back to the link.
        browser
            .find(Locator::Id("email"))
            .await?
            .send_keys("dora@example.com")
            .await?;
        browser
            .find(Locator::Id("password"))
            .await?
            .send_keys("correct horse battery staple")
            .await?;
        browser
            .find(Locator::Css("button[type=submit]"))
            .await?
            .click()
            .await?;
        // The click returns before the answer has loaded: wait for the consent screen's button.
        browser
            .wait()
            .at_most(std::time::Duration::from_secs(30))
            .for_element(Locator::Css("button[value=accept]"))
            .await?;
        let page = browser.source().await?;
        assert!(page.contains("Route Planner"), "{page}");
        assert!(page.contains("read assets"), "{page}");
        screenshot(&browser, "consent-page.png").await?;
        browser
            .find(Locator::Css("button[value=accept]"))
            .await?
            .click()
            .await?;
        browser
            .wait()
            .at_most(std::time::Duration::from_secs(30))
            .for_element(Locator::XPath("//h1[contains(., 'Connected')]"))
            .await?;
        let done = browser.source().await?;
        assert!(done.contains("Connected"), "{done}");
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    let _ = browser.close().await;
    result.expect("the browser walks through the consent");

    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0]["event"], "connection.granted");
    assert_eq!(received[0]["tenant_id"], owner);
    assert_eq!(received[0]["state"], "browser-7");
    let token = received[0]["access_token"].as_str().unwrap();
    assert_eq!(
        crate::assets_status(&server.url, token).await,
        200,
        "the token handed over works"
    );
}

//! The console in a real browser (headless Chromium through chromedriver, SPEC §9): the
//! operator's tenants, seed 000's integration story, and the consent flow (SPEC §6). axe-core
//! checks every page visited for serious and critical accessibility violations. Screenshots are
//! saved under `target/` for review. Skipped where chromedriver is not installed, except in CI
//! (`.ci/run` installs it and axe-core).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};

use crate::{access_token, data_dir, post_json, serve, BOOT_ID, BOOT_SECRET};

pub(crate) struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn chromedriver() -> Option<(Driver, u16)> {
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
pub(crate) async fn browser(port: u16) -> fantoccini::Client {
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

/// Saves what the browser shows as `target/console/<name>`, for review (the copies in
/// `docs/console/` are refreshed from there when the pages change).
pub(crate) async fn screenshot(
    browser: &fantoccini::Client,
    name: &str,
) -> Result<(), fantoccini::error::CmdError> {
    let shot = browser.screenshot().await?;
    let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/console");
    std::fs::create_dir_all(&target).ok();
    std::fs::write(target.join(name), shot).ok();
    Ok(())
}

/// axe-core's source: `AXE_CORE_JS`, or `target/axe-core/axe.min.js` where `.ci/run` puts it.
fn axe_source() -> Option<String> {
    let path = std::env::var_os("AXE_CORE_JS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/axe-core/axe.min.js")
        });
    match std::fs::read_to_string(&path) {
        Ok(source) => Some(source),
        Err(_) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must run axe-core: {} is missing (.ci/run fetches it)",
                path.display()
            );
            eprintln!("axe-core skipped: {} is missing", path.display());
            None
        }
    }
}

/// Runs axe-core on the page the browser shows and fails on any serious or critical violation,
/// naming the rule and the elements.
pub(crate) async fn axe(
    browser: &fantoccini::Client,
    page: &str,
) -> Result<(), fantoccini::error::CmdError> {
    let Some(source) = axe_source() else {
        return Ok(());
    };
    browser.execute(&source, Vec::new()).await?;
    let found = browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations
               .filter(v => v.impact === 'serious' || v.impact === 'critical')
               .map(v => v.id + ' (' + v.impact + '): ' + v.help + ' at '
                 + v.nodes.map(n => n.target.join(' ')).join(', '))));",
            Vec::new(),
        )
        .await?;
    let violations: Vec<String> = serde_json::from_value(found).unwrap_or_default();
    assert!(violations.is_empty(), "axe-core on {page}: {violations:#?}");
    Ok(())
}

/// Types into the field with id `id`.
pub(crate) async fn fill(
    browser: &fantoccini::Client,
    id: &str,
    text: &str,
) -> Result<(), fantoccini::error::CmdError> {
    browser.find(Locator::Id(id)).await?.send_keys(text).await
}

/// Clicks what `locator` finds and waits for `then` on the page that loads.
pub(crate) async fn click_and_wait(
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
        visit(
            &browser,
            Locator::XPath("//button[. = 'Create tenant']"),
            Locator::Id("invitation-url"),
            "tenants",
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

        visit(
            &browser,
            Locator::Css("a[aria-label='Delete Northwind']"),
            Locator::Id("confirm"),
            "delete a tenant",
        )
        .await?;
        // The new admin opens the link, sets a password, and signs in with it.
        browser.goto(&link).await?;
        axe(&browser, "set password").await?;
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
            Locator::XPath("//p[contains(., 'nora@northwind.example')]"),
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

/// Follows a link or presses a button (`click`), waits for `then` on the page that loads, and
/// runs axe-core on it (named `page` in a failure).
pub(crate) async fn visit(
    browser: &fantoccini::Client,
    click: Locator<'_>,
    then: Locator<'_>,
    page: &str,
) -> Result<(), fantoccini::error::CmdError> {
    click_and_wait(browser, click, then).await?;
    axe(browser, page).await
}

/// Signs in at `url`'s console and waits for the home page.
pub(crate) async fn sign_in(
    browser: &fantoccini::Client,
    url: &str,
    email: &str,
    password: &str,
) -> Result<(), fantoccini::error::CmdError> {
    browser.goto(&format!("{url}/console/sign-in")).await?;
    axe(browser, "sign-in").await?;
    fill(browser, "email", email).await?;
    fill(browser, "password", password).await?;
    click_and_wait(
        browser,
        Locator::Css("button[type=submit]"),
        Locator::XPath(&format!("//p[contains(., '{email}')]")),
    )
    .await
}

/// Seed 000 in the browser: sign in, Integrations, create one with a custom claim, record the
/// CLIENT_ID and SECRET shown once, create the seed's access policy for it; its token carries
/// the claim and sees the tenant's assets.
#[tokio::test]
async fn an_admin_creates_an_integration_with_a_custom_claim_in_the_console() {
    let Some((_driver, port)) = chromedriver() else {
        return;
    };
    let (_guard, dir) = data_dir();
    let server = serve(&dir, &[], true);
    let browser = browser(port).await;
    let result = async {
        sign_in(&browser, &server.url, "ops@example.com", "correct horse battery staple").await?;
        screenshot(&browser, "console-home.png").await?;
        axe(&browser, "home").await?;
        visit(
            &browser,
            Locator::LinkText("Integrations"),
            Locator::LinkText("Create an integration"),
            "integrations",
        )
        .await?;
        visit(
            &browser,
            Locator::LinkText("Create an integration"),
            Locator::Id("display_name"),
            "new integration",
        )
        .await?;
        fill(&browser, "display_name", "Custom integration").await?;
        fill(&browser, "claim-name-0", "site").await?;
        fill(&browser, "claim-value-0", "north").await?;
        // "Add a claim row" keeps what was typed and offers one more row.
        click_and_wait(
            &browser,
            Locator::XPath("//button[. = 'Add a claim row']"),
            Locator::Id("claim-name-2"),
        )
        .await?;
        fill(&browser, "claim-name-2", "team").await?;
        fill(&browser, "claim-value-2", "blue").await?;
        screenshot(&browser, "console-new-integration.png").await?;
        visit(
            &browser,
            Locator::XPath("//button[. = 'Confirm']"),
            Locator::Id("client_secret"),
            "secret shown once",
        )
        .await?;
        screenshot(&browser, "console-secret-once.png").await?;
        let value = |id: &'static str| {
            let browser = &browser;
            async move {
                browser
                    .find(Locator::Id(id))
                    .await?
                    .prop("value")
                    .await
                    .map(Option::unwrap_or_default)
            }
        };
        let client_id = value("client_id").await?;
        let secret = value("client_secret").await?;
        // The copy button works (copy.js runs under the page's CSP).
        browser
            .find(Locator::Css("button[data-copy=client_secret]"))
            .await?
            .click()
            .await?;
        browser
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::XPath("//button[@data-copy='client_secret' and . = 'Copied']"))
            .await?;
        visit(
            &browser,
            Locator::LinkText("Continue to Custom integration"),
            Locator::XPath("//h2[. = 'Public keys']"),
            "integration",
        )
        .await?;
        screenshot(&browser, "console-integration.png").await?;
        assert!(!browser.source().await?.contains(&secret), "shown once");
        // Grant it access (seed 000's "Grant Permissions"): CREATE POLICY, asset types `*`,
        // the CLIENT_ID pasted as the actor, all attributes, all events.
        visit(
            &browser,
            Locator::LinkText("Access policies"),
            Locator::LinkText("Create policy"),
            "access policies",
        )
        .await?;
        visit(
            &browser,
            Locator::LinkText("Create policy"),
            Locator::Id("actors_0"),
            "new access policy",
        )
        .await?;
        fill(&browser, "display_name", "Custom integration sees all").await?;
        fill(&browser, "actors_0", &client_id).await?;
        screenshot(&browser, "console-new-policy.png").await?;
        visit(
            &browser,
            Locator::XPath("//button[. = 'Create policy']"),
            Locator::XPath("//h2[. = 'What it allows']"),
            "access policy",
        )
        .await?;
        screenshot(&browser, "console-policy.png").await?;
        let said = browser.source().await?;
        assert!(
            said.contains("The integration Custom integration may read every attribute of all assets, and sees all their events."),
            "{said}"
        );
        // The edit and delete pages of the policy and of the integration, and a form that
        // names a problem next to its field.
        let policy = browser.current_url().await?;
        let policy = policy.path().to_owned();
        for (path, then, page) in [
            (format!("{policy}/edit"), "actors_0", "edit access policy"),
            (format!("{policy}/delete"), "main", "delete access policy"),
            (format!("/console/integrations/{client_id}/edit"), "display_name", "edit integration"),
            (format!("/console/integrations/{client_id}/delete"), "main", "delete integration"),
            ("/console/integrations/new".to_owned(), "display_name", "new integration"),
        ] {
            browser.goto(&format!("{}{path}", server.url)).await?;
            let wait = if then == "main" {
                Locator::Css("main")
            } else {
                Locator::Id(then)
            };
            browser.wait().at_most(Duration::from_secs(30)).for_element(wait).await?;
            axe(&browser, page).await?;
        }
        fill(&browser, "display_name", "Refused").await?;
        fill(&browser, "claim-name-0", "iss").await?;
        fill(&browser, "claim-value-0", "me").await?;
        visit(
            &browser,
            Locator::XPath("//button[. = 'Confirm']"),
            Locator::Id("claims-problem"),
            "a refused form",
        )
        .await?;
        screenshot(&browser, "console-refused-form.png").await?;
        // The other pages of the bar, each checked by axe-core.
        for (link, then, page) in [
            ("Users", "//h2[. = 'Invite a user']", "users"),
            ("Audit", "//caption[contains(., 'Audit records')]", "audit"),
            ("Signing keys", "//button[. = 'Rotate now']", "signing keys"),
            ("My account", "//h2[. = 'Change my password']", "my account"),
            ("Tenants", "//h2[. = 'Create a tenant']", "tenants"),
        ] {
            visit(&browser, Locator::LinkText(link), Locator::XPath(then), page).await?;
            screenshot(&browser, &format!("console-{}.png", page.replace(' ', "-"))).await?;
        }
        // The Tenants page has its own frame: back to the bar by address.
        browser.goto(&format!("{}/console/users", server.url)).await?;
        visit(
            &browser,
            Locator::LinkText("Administrator"),
            Locator::XPath("//h2[. = 'Role']"),
            "a user",
        )
        .await?;
        screenshot(&browser, "console-user.png").await?;
        browser
            .goto(&format!("{}/console/no-such-page", server.url))
            .await?;
        axe(&browser, "not found").await?;
        Ok::<_, fantoccini::error::CmdError>((client_id, secret))
    }
    .await;
    let _ = browser.close().await;
    let (client_id, secret) = result.expect("the browser walks through seed 000's integration");

    // The secret recorded from the page gets a token, which carries the custom claims.
    let token = access_token(&server.url, &client_id, &secret).await;
    let claims = crate::claims(&token);
    assert_eq!(claims["site"], "north", "{claims}");
    assert_eq!(claims["team"], "blue", "{claims}");
    // The policy made in the browser lets it see the tenant's assets.
    let admin = access_token(&server.url, BOOT_ID, BOOT_SECRET).await;
    post_json(
        format!("{}/v2/assets", server.url),
        &admin,
        serde_json::json!({"attributes": {"arc_display_type": "Crate"}}),
    )
    .await;
    let assets = crate::get_json(format!("{}/v2/assets", server.url), &token).await;
    assert_eq!(
        assets["assets"].as_array().map(Vec::len),
        Some(1),
        "{assets}"
    );
}

/// Seed 003 in the browser: an integration keeps entries in its private store through the API;
/// its owner finds them in the console's Application Tokens view, filters, opens one and
/// deletes a whole relatedId.
#[tokio::test]
async fn the_owner_finds_opens_and_deletes_an_integrations_private_tokens_in_the_console() {
    let Some((_driver, port)) = chromedriver() else {
        return;
    };
    let (_guard, dir) = data_dir();
    let server = serve(&dir, &[], true);
    let admin = access_token(&server.url, BOOT_ID, BOOT_SECRET).await;
    let created = post_json(
        format!("{}/v1/integrations", server.url),
        &admin,
        serde_json::json!({"display_name": "Project tracker", "scopes": ["private_tokens"]}),
    )
    .await;
    let client_id = created["client_id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    let mut app = String::new();
    for _ in 0..50 {
        if crate::token(&server.url, &client_id, &secret, None)
            .await
            .status()
            == 200
        {
            app = access_token(&server.url, &client_id, &secret).await;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for (related, key, value) in [
        ("project1", "name", "Apollo"),
        ("project1", "keywords", "[\"moon\", \"rocket\"]"),
        ("employee1", "email", "ada@example.com"),
    ] {
        let put = reqwest::Client::new()
            .put(format!("{}/v1/private_tokens/{related}/{key}", server.url))
            .bearer_auth(&app)
            .json(&serde_json::json!({"value": value}))
            .send()
            .await
            .unwrap();
        assert!(put.status().is_success(), "{}", put.text().await.unwrap());
    }

    let browser = browser(port).await;
    let result = async {
        sign_in(
            &browser,
            &server.url,
            "ops@example.com",
            "correct horse battery staple",
        )
        .await?;
        visit(
            &browser,
            Locator::LinkText("Integrations"),
            Locator::LinkText("Project tracker"),
            "integrations",
        )
        .await?;
        visit(
            &browser,
            Locator::LinkText("Project tracker"),
            Locator::LinkText("Private tokens"),
            "integration",
        )
        .await?;
        visit(
            &browser,
            Locator::LinkText("Private tokens"),
            Locator::Id("prefix"),
            "private tokens",
        )
        .await?;
        fill(&browser, "prefix", "project").await?;
        visit(
            &browser,
            Locator::XPath("//button[. = 'Filter']"),
            Locator::XPath("//caption"),
            "private tokens, filtered",
        )
        .await?;
        screenshot(&browser, "console-private-tokens.png").await?;
        let page = browser.source().await?;
        assert!(
            page.contains("keywords") && !page.contains("employee1"),
            "{page}"
        );
        visit(
            &browser,
            Locator::Css("a[aria-label='Open project1 keywords']"),
            Locator::Id("value"),
            "private token",
        )
        .await?;
        screenshot(&browser, "console-private-token.png").await?;
        let value = browser
            .find(Locator::Id("value"))
            .await?
            .prop("value")
            .await?
            .unwrap_or_default();
        assert_eq!(value, "[\"moon\", \"rocket\"]");
        browser.back().await?;
        visit(
            &browser,
            Locator::Css("button[aria-label='Delete every entry of project1']"),
            Locator::XPath("//p[contains(., '2 entries were deleted.')]"),
            "private tokens after a deletion",
        )
        .await?;
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    let _ = browser.close().await;
    result.expect("the browser walks through seed 003's Application Tokens view");
    let left = crate::get_json(format!("{}/v1/private_tokens", server.url), &app).await;
    let left: Vec<&str> = left["private_tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["relatedId"].as_str().unwrap())
        .collect();
    assert_eq!(left, ["employee1"]);
}

/// SPEC §14 in the browser: the admin trusts a platform's issuer (a refused form first), accepts
/// one of its workloads on an integration's page; that workload gets tokens with no secret;
/// removing the identity in the console ends them.
#[tokio::test]
async fn an_admin_lets_a_workload_in_without_a_secret_and_removes_it_in_the_console() {
    let Some((_driver, port)) = chromedriver() else {
        return;
    };
    let (_guard, dir) = data_dir();
    let server = serve(&dir, &[], true);
    let (cluster, key) = crate::platform().await;
    let admin = access_token(&server.url, BOOT_ID, BOOT_SECRET).await;
    let made = post_json(
        format!("{}/v1/integrations", server.url),
        &admin,
        serde_json::json!({"display_name": "Billing job", "scopes": ["assets:read"]}),
    )
    .await;
    let client_id = made["client_id"].as_str().unwrap().to_owned();
    let browser = browser(port).await;
    let platform_token = crate::k8s_token(&key, &cluster, "billing");
    let result = async {
        sign_in(
            &browser,
            &server.url,
            "ops@example.com",
            "correct horse battery staple",
        )
        .await?;
        visit(
            &browser,
            Locator::LinkText("Trusted issuers"),
            Locator::XPath("//h2[. = 'Trust an issuer']"),
            "trusted issuers",
        )
        .await?;
        // A SPIFFE trust domain needs its key set URL: said next to the field.
        fill(&browser, "issuer", "spiffe://example.org").await?;
        fill(&browser, "audiences", "tessera").await?;
        visit(
            &browser,
            Locator::XPath("//button[. = 'Trust this issuer']"),
            Locator::Id("jwks_uri-error"),
            "a refused issuer",
        )
        .await?;
        screenshot(&browser, "console-trusted-issuer-refused.png").await?;
        browser.find(Locator::Id("issuer")).await?.clear().await?;
        browser
            .find(Locator::Id("audiences"))
            .await?
            .clear()
            .await?;
        fill(&browser, "issuer", &cluster).await?;
        fill(&browser, "audiences", "tessera, other").await?;
        visit(
            &browser,
            Locator::XPath("//button[. = 'Trust this issuer']"),
            Locator::XPath("//p[contains(., 'is trusted now')]"),
            "an issuer trusted",
        )
        .await?;
        screenshot(&browser, "console-trusted-issuers.png").await?;
        browser
            .goto(&format!("{}/console/integrations/{client_id}", server.url))
            .await?;
        browser
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::XPath(
                "//h2[. = 'Platform identities (no secret)']",
            ))
            .await?;
        axe(&browser, "integration with identities").await?;
        fill(&browser, "fc_subject", "system:serviceaccount:prod:billing").await?;
        fill(&browser, "fc_claims", "/kubernetes.io/namespace=prod").await?;
        visit(
            &browser,
            Locator::XPath("//button[. = 'Accept this identity']"),
            Locator::XPath("//p[contains(., 'accepted now')]"),
            "an identity accepted",
        )
        .await?;
        browser
            .execute(
                "document.evaluate(\"//h2[. = 'Platform identities (no secret)']\", document, \
                 null, 9, null).singleNodeValue.scrollIntoView()",
                Vec::new(),
            )
            .await?;
        screenshot(&browser, "console-platform-identities.png").await?;
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    if let Err(e) = result {
        let _ = browser.close().await;
        panic!("the browser sets up a platform identity: {e}");
    }

    // The workload's platform token gets a token, which reads the tenant's resources.
    let reply = crate::federated_token(&server.url, &client_id, &platform_token).await;
    assert_eq!(reply.status(), 200);
    let body: serde_json::Value = reply.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(crate::assets_status(&server.url, &token).await, 200);

    let removed = async {
        visit(
            &browser,
            Locator::Css("button[aria-label^='Remove the identity']"),
            Locator::XPath("//p[contains(., 'its tokens stopped working')]"),
            "an identity removed",
        )
        .await?;
        browser
            .goto(&format!("{}/console/trusted-issuers", server.url))
            .await?;
        visit(
            &browser,
            Locator::Css("button[aria-label^='Stop trusting']"),
            Locator::XPath("//p[contains(., 'is no longer trusted')]"),
            "an issuer no longer trusted",
        )
        .await
    }
    .await;
    let _ = browser.close().await;
    removed.expect("the browser removes the identity and the trust");
    assert_eq!(crate::assets_status(&server.url, &token).await, 401);
    let refused = crate::federated_token(&server.url, &client_id, &platform_token).await;
    assert_eq!(refused.status(), 401);
}

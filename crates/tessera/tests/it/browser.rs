//! The console in a real browser (headless Chromium through chromedriver, SPEC §9): the
//! operator's tenants, seed 000's integration story, and the consent flow (SPEC §6). axe-core
//! checks every page visited for serious and critical accessibility violations. Screenshots are
//! saved under `target/` for review. Skipped where chromedriver is not installed, except in CI
//! (`.ci/run` installs it and axe-core).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::ClientBuilder;
use fantoccini::Locator::{self, Css, Id, LinkText, XPath};

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

/// What a browser test runs on, kept while it lives: chromedriver and the server's data
/// directory `dir`.
pub(crate) struct Stage {
    _driver: Driver,
    _guard: tempfile::TempDir,
    pub dir: std::path::PathBuf,
}

/// chromedriver and a server with its operator (`None`, the test skipped, where chromedriver
/// is missing): the stage, chromedriver's port, the server.
pub(crate) fn stage() -> Option<(Stage, u16, crate::Server)> {
    let (driver, port) = chromedriver()?;
    let (guard, dir) = data_dir();
    let server = serve(&dir, &[], true);
    Some((Stage { _driver: driver, _guard: guard, dir }, port, server))
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

/// axe-core's source: `AXE_CORE_JS`, or `target/axe-core/axe.min.js` where `.ci/run` puts it.
fn axe_source() -> Option<String> {
    let path = std::env::var_os("AXE_CORE_JS").map(std::path::PathBuf::from).unwrap_or_else(|| {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/axe-core/axe.min.js")
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

/// What a step in the browser gives back.
pub(crate) type Browsed = Result<(), fantoccini::error::CmdError>;

/// The verbs the browser tests speak in, on the WebDriver session itself.
pub(crate) trait Walk {
    /// Types into the field with id `id`.
    async fn fill(&self, id: &str, text: &str) -> Browsed;
    /// Clicks what `click` finds and waits for `then` on the page that loads.
    async fn click_and_wait(&self, click: Locator<'_>, then: Locator<'_>) -> Browsed;
    /// Clicks, waits for `then`, and runs axe-core on the page (named `page` in a failure).
    async fn visit(&self, click: Locator<'_>, then: Locator<'_>, page: &str) -> Browsed;
    /// [`Walk::visit`] through the link that reads `link`.
    async fn follow(&self, link: &str, then: Locator<'_>, page: &str) -> Browsed {
        self.visit(LinkText(link), then, page).await
    }
    /// [`Walk::visit`] through the button that reads `button`.
    async fn press(&self, button: &str, then: Locator<'_>, page: &str) -> Browsed {
        self.visit(XPath(&format!("//button[. = '{button}']")), then, page).await
    }
    /// Runs axe-core on the page shown and fails on any serious or critical violation, naming
    /// the rule and the elements.
    async fn axe(&self, page: &str) -> Browsed;
    /// Saves what the browser shows as `target/console/<name>`, for review (the copies in
    /// `docs/console/` are refreshed from there when the pages change).
    async fn shot(&self, name: &str) -> Browsed;
    /// Signs in at `url`'s console and waits for the home page.
    async fn sign_in(&self, url: &str, email: &str, password: &str) -> Browsed {
        self.goto_console(url, "sign-in").await?;
        self.axe("sign-in").await?;
        self.fill("email", email).await?;
        self.fill("password", password).await?;
        let home = format!("//p[contains(., '{email}')]");
        self.click_and_wait(Css("button[type=submit]"), XPath(&home)).await
    }
    /// Opens `url`'s console page `path`.
    async fn goto_console(&self, url: &str, path: &str) -> Browsed;
    /// Waits (up to 30 s) for `then` on the page shown.
    async fn wait_for_element(&self, then: Locator<'_>) -> Browsed;
    /// Opens `url`, waits for `then`, and runs axe-core on the page (named `page`).
    async fn open(&self, url: &str, then: Locator<'_>, page: &str) -> Browsed {
        self.load(url).await?;
        self.wait_for_element(then).await?;
        self.axe(page).await
    }
    /// Opens `url` (the whole address).
    async fn load(&self, url: &str) -> Browsed;
    /// The `value` of the field with id `id`.
    async fn value_of(&self, id: &str) -> Result<String, fantoccini::error::CmdError>;
}

impl Walk for fantoccini::Client {
    async fn fill(&self, id: &str, text: &str) -> Browsed {
        self.find(Id(id)).await?.send_keys(text).await
    }

    async fn click_and_wait(&self, click: Locator<'_>, then: Locator<'_>) -> Browsed {
        // `then` is looked for only once the page that is left has gone: a locator that the
        // old page matches too would otherwise be found there, and the next step (axe-core's
        // script) aborted by the navigation still under way.
        let leaving = self.find(Css("html")).await?;
        self.find(click).await?.click().await?;
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            match leaving.tag_name().await {
                Err(e) if e.is_stale_element_reference() => break,
                _ if std::time::Instant::now() > deadline => break,
                _ => tokio::time::sleep(Duration::from_millis(25)).await,
            }
        }
        self.wait_for_element(then).await
    }

    async fn visit(&self, click: Locator<'_>, then: Locator<'_>, page: &str) -> Browsed {
        self.click_and_wait(click, then).await?;
        self.axe(page).await
    }

    async fn axe(&self, page: &str) -> Browsed {
        let Some(source) = axe_source() else {
            return Ok(());
        };
        self.execute(&source, Vec::new()).await?;
        let found = self
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

    async fn shot(&self, name: &str) -> Browsed {
        let shot = self.screenshot().await?;
        let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/console");
        std::fs::create_dir_all(&target).ok();
        std::fs::write(target.join(name), shot).ok();
        Ok(())
    }

    async fn goto_console(&self, url: &str, path: &str) -> Browsed {
        self.goto(&format!("{url}/console/{path}")).await
    }

    async fn wait_for_element(&self, then: Locator<'_>) -> Browsed {
        self.wait().at_most(Duration::from_secs(30)).for_element(then).await.map(drop)
    }

    async fn load(&self, url: &str) -> Browsed {
        self.goto(url).await
    }

    async fn value_of(&self, id: &str) -> Result<String, fantoccini::error::CmdError> {
        Ok(self.find(Id(id)).await?.prop("value").await?.unwrap_or_default())
    }
}

#[tokio::test]
async fn the_operator_creates_a_tenant_whose_admin_sets_a_password_and_signs_in() {
    let Some((_stage, port, server)) = stage() else {
        return;
    };
    let browser = browser(port).await;
    let result = async {
        browser.goto(&format!("{}/console/sign-in", server.url)).await?;
        browser.fill("email", "ops@example.com").await?;
        browser.fill("password", "correct horse battery staple").await?;
        browser.click_and_wait(Css("button[type=submit]"), LinkText("Tenants")).await?;
        browser.click_and_wait(LinkText("Tenants"), Id("admin_email")).await?;
        browser.fill("display_name", "Northwind").await?;
        browser.fill("admin_email", "nora@northwind.example").await?;
        browser.press("Create tenant", Id("invitation-url"), "tenants").await?;
        browser.shot("tenants-page.png").await?;
        let page = browser.source().await?;
        assert!(page.contains("Northwind"), "{page}");
        let link =
            browser.find(Id("invitation-url")).await?.prop("value").await?.unwrap_or_default();
        assert!(link.contains("/console/set-password?token="), "{link}");

        browser
            .visit(Css("a[aria-label='Delete Northwind']"), Id("confirm"), "delete a tenant")
            .await?;
        // The new admin opens the link, sets a password, and signs in with it.
        browser.goto(&link).await?;
        browser.axe("set password").await?;
        assert!(browser.source().await?.contains("nora@northwind.example"));
        browser.fill("password", "northwind is windy").await?;
        browser.fill("confirm", "northwind is windy").await?;
        browser.shot("set-password-page.png").await?;
        browser.click_and_wait(Css("button[type=submit]"), LinkText("Sign in")).await?;
        browser.click_and_wait(LinkText("Sign in"), Id("email")).await?;
        browser.fill("email", "nora@northwind.example").await?;
        browser.fill("password", "northwind is windy").await?;
        browser
            .click_and_wait(
                Css("button[type=submit]"),
                XPath("//p[contains(., 'nora@northwind.example')]"),
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

/// Seed 000 in the browser: sign in, Integrations, create one with a custom claim, record the
/// CLIENT_ID and SECRET shown once, create the seed's access policy for it; its token carries
/// the claim and sees the tenant's assets.
#[tokio::test]
async fn an_admin_creates_an_integration_with_a_custom_claim_in_the_console() {
    let Some((_stage, port, server)) = stage() else {
        return;
    };
    let browser = browser(port).await;
    let result = async {
        browser.sign_in(&server.url, "ops@example.com", "correct horse battery staple").await?;
        browser.shot("console-home.png").await?;
        browser.axe("home").await?;
        browser.follow("Integrations", LinkText("Create an integration"), "integrations").await?;
        browser.follow("Create an integration", Id("display_name"), "new integration").await?;
        browser.fill("display_name", "Custom integration").await?;
        browser.fill("claim-name-0", "site").await?;
        browser.fill("claim-value-0", "north").await?;
        // "Add a claim row" keeps what was typed and offers one more row.
        browser
            .click_and_wait(XPath("//button[. = 'Add a claim row']"), Id("claim-name-2"))
            .await?;
        browser.fill("claim-name-2", "team").await?;
        browser.fill("claim-value-2", "blue").await?;
        browser.shot("console-new-integration.png").await?;
        browser.press("Confirm", Id("client_secret"), "secret shown once").await?;
        browser.shot("console-secret-once.png").await?;
        let client_id = browser.value_of("client_id").await?;
        let secret = browser.value_of("client_secret").await?;
        // The copy button works (copy.js runs under the page's CSP).
        browser.find(Css("button[data-copy=client_secret]")).await?.click().await?;
        browser
            .wait_for_element(XPath("//button[@data-copy='client_secret' and . = 'Copied']"))
            .await?;
        let keys = XPath("//h2[. = 'Public keys']");
        browser.follow("Continue to Custom integration", keys, "integration").await?;
        browser.shot("console-integration.png").await?;
        assert!(!browser.source().await?.contains(&secret), "shown once");
        // Grant it access (seed 000's "Grant Permissions"): CREATE POLICY, asset types `*`,
        // the CLIENT_ID pasted as the actor, all attributes, all events.
        browser.follow("Access policies", LinkText("Create policy"), "access policies").await?;
        browser.follow("Create policy", Id("actors_0"), "new access policy").await?;
        browser.fill("display_name", "Custom integration sees all").await?;
        browser.fill("actors_0", &client_id).await?;
        browser.shot("console-new-policy.png").await?;
        browser
            .press("Create policy", XPath("//h2[. = 'What it allows']"), "access policy")
            .await?;
        browser.shot("console-policy.png").await?;
        let said = browser.source().await?;
        assert!(
            said.contains(
                "The integration Custom integration may read every attribute of all assets, \
                 and sees all their events."
            ),
            "{said}"
        );
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
    assert_eq!(assets["assets"].as_array().map(Vec::len), Some(1), "{assets}");
}

/// Every page an admin reaches from the console's bar, and the edit and delete pages of an
/// integration and a policy (made through the API), checked by axe-core; a refused form
/// names the problem next to its field.
#[tokio::test]
async fn every_page_of_the_admin_console_passes_axe_core() {
    let Some((_stage, port, server)) = stage() else {
        return;
    };
    let admin = access_token(&server.url, BOOT_ID, BOOT_SECRET).await;
    let made = post_json(
        format!("{}/v1/integrations", server.url),
        &admin,
        serde_json::json!({"display_name": "Custom integration"}),
    )
    .await;
    let client_id = made["client_id"].as_str().expect("an integration").to_owned();
    let made = post_json(
        format!("{}/v1/access_policies", server.url),
        &admin,
        serde_json::json!({"display_name": "Custom integration sees all", "filters": [{"asset_types": ["*"]}],
            "permissions": [{"actors": [{"client_id": client_id}], "attributes": ["*"]}]}),
    )
    .await;
    let identity = made["identity"].as_str().expect("a policy");
    let policy =
        format!("/console/access-policies/{}", identity.trim_start_matches("access_policies/"));
    let browser = browser(port).await;
    let result = async {
        browser.sign_in(&server.url, "ops@example.com", "correct horse battery staple").await?;
        // The edit and delete pages of the policy and of the integration, and a form that
        // names a problem next to its field.
        for (path, then, page) in [
            (format!("{policy}/edit"), "actors_0", "edit access policy"),
            (format!("{policy}/delete"), "main", "delete access policy"),
            (format!("/console/integrations/{client_id}/edit"), "display_name", "edit integration"),
            (format!("/console/integrations/{client_id}/delete"), "main", "delete integration"),
            ("/console/integrations/new".to_owned(), "display_name", "new integration"),
        ] {
            let wait = if then == "main" { Css("main") } else { Id(then) };
            browser.open(&format!("{}{path}", server.url), wait, page).await?;
        }
        browser.fill("display_name", "Refused").await?;
        browser.fill("claim-name-0", "iss").await?;
        browser.fill("claim-value-0", "me").await?;
        browser.press("Confirm", Id("claims-problem"), "a refused form").await?;
        browser.shot("console-refused-form.png").await?;
        // The other pages of the bar, each checked by axe-core.
        for (link, then, page) in [
            ("Users", "//h2[. = 'Invite a user']", "users"),
            ("Audit", "//caption[contains(., 'Audit records')]", "audit"),
            ("Signing keys", "//button[. = 'Rotate now']", "signing keys"),
            ("My account", "//h2[. = 'Change my password']", "my account"),
            ("Tenants", "//h2[. = 'Create a tenant']", "tenants"),
        ] {
            browser.follow(link, XPath(then), page).await?;
            browser.shot(&format!("console-{}.png", page.replace(' ', "-"))).await?;
        }
        // The Tenants page has its own frame: back to the bar by address.
        browser.goto(&format!("{}/console/users", server.url)).await?;
        browser.follow("Administrator", XPath("//h2[. = 'Role']"), "a user").await?;
        browser.shot("console-user.png").await?;
        browser.goto(&format!("{}/console/no-such-page", server.url)).await?;
        browser.axe("not found").await?;
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    let _ = browser.close().await;
    result.expect("the browser walks through every page of the admin console");
}

/// Seed 003 in the browser: an integration keeps entries in its private store through the API;
/// its owner finds them in the console's Application Tokens view, filters, opens one and
/// deletes a whole relatedId.
#[tokio::test]
async fn the_owner_finds_opens_and_deletes_an_integrations_private_tokens_in_the_console() {
    let Some((_stage, port, server)) = stage() else {
        return;
    };
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
        if crate::token(&server.url, &client_id, &secret, None).await.status() == 200 {
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
        browser.sign_in(&server.url, "ops@example.com", "correct horse battery staple").await?;
        browser.follow("Integrations", LinkText("Project tracker"), "integrations").await?;
        browser.follow("Project tracker", LinkText("Private tokens"), "integration").await?;
        browser.follow("Private tokens", Id("prefix"), "private tokens").await?;
        browser.fill("prefix", "project").await?;
        browser.press("Filter", XPath("//caption"), "private tokens, filtered").await?;
        browser.shot("console-private-tokens.png").await?;
        let page = browser.source().await?;
        assert!(page.contains("keywords") && !page.contains("employee1"), "{page}");
        browser
            .visit(Css("a[aria-label='Open project1 keywords']"), Id("value"), "private token")
            .await?;
        browser.shot("console-private-token.png").await?;
        let value = browser.find(Id("value")).await?.prop("value").await?.unwrap_or_default();
        assert_eq!(value, "[\"moon\", \"rocket\"]");
        browser.back().await?;
        browser
            .visit(
                Css("button[aria-label='Delete every entry of project1']"),
                XPath("//p[contains(., '2 entries were deleted.')]"),
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
    let Some((_stage, port, server)) = stage() else {
        return;
    };
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
        browser.sign_in(&server.url, "ops@example.com", "correct horse battery staple").await?;
        browser
            .follow("Trusted issuers", XPath("//h2[. = 'Trust an issuer']"), "trusted issuers")
            .await?;
        // A SPIFFE trust domain needs its key set URL: said next to the field.
        browser.fill("issuer", "spiffe://example.org").await?;
        browser.fill("audiences", "tessera").await?;
        browser.press("Trust this issuer", Id("jwks_uri-error"), "a refused issuer").await?;
        browser.shot("console-trusted-issuer-refused.png").await?;
        browser.find(Id("issuer")).await?.clear().await?;
        browser.find(Id("audiences")).await?.clear().await?;
        browser.fill("issuer", &cluster).await?;
        browser.fill("audiences", "tessera, other").await?;
        browser
            .press(
                "Trust this issuer",
                XPath("//p[contains(., 'is trusted now')]"),
                "an issuer trusted",
            )
            .await?;
        browser.shot("console-trusted-issuers.png").await?;
        let identities = XPath("//h2[. = 'Platform identities (no secret)']");
        let integration = format!("{}/console/integrations/{client_id}", server.url);
        browser.open(&integration, identities, "integration with identities").await?;
        browser.fill("fc_subject", "system:serviceaccount:prod:billing").await?;
        browser.fill("fc_claims", "/kubernetes.io/namespace=prod").await?;
        browser
            .press(
                "Accept this identity",
                XPath("//p[contains(., 'accepted now')]"),
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
        browser.shot("console-platform-identities.png").await?;
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

    let _ = browser.close().await;
}

#[tokio::test]
async fn an_admin_removes_a_workloads_identity_and_the_trust_in_its_issuer_in_the_console() {
    let Some((_stage, port, server)) = stage() else {
        return;
    };
    let (cluster, key) = crate::platform().await;
    let admin = access_token(&server.url, BOOT_ID, BOOT_SECRET).await;
    let api = |path: String, body: serde_json::Value| {
        post_json(format!("{}{path}", server.url), &admin, body)
    };
    let made = api(
        "/v1/integrations".into(),
        serde_json::json!({"display_name": "Billing job", "scopes": ["assets:read"]}),
    )
    .await;
    let client_id = made["client_id"].as_str().unwrap().to_owned();
    api(
        "/v1/trusted_issuers".into(),
        serde_json::json!({"issuer": cluster, "audiences": ["tessera"]}),
    )
    .await;
    let subject = "system:serviceaccount:prod:billing";
    let identity = serde_json::json!({"issuer": cluster, "subject": subject});
    api(format!("/v1/integrations/{client_id}/federated_credentials"), identity).await;
    let platform_token = crate::k8s_token(&key, &cluster, "billing");
    let reply = crate::federated_token(&server.url, &client_id, &platform_token).await;
    assert_eq!(reply.status(), 200);
    let body: serde_json::Value = reply.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap().to_owned();

    let browser = browser(port).await;
    let removed = async {
        browser.sign_in(&server.url, "ops@example.com", "correct horse battery staple").await?;
        browser.goto(&format!("{}/console/integrations/{client_id}", server.url)).await?;
        browser
            .visit(
                Css("button[aria-label^='Remove the identity']"),
                XPath("//p[contains(., 'its tokens stopped working')]"),
                "an identity removed",
            )
            .await?;
        browser.goto(&format!("{}/console/trusted-issuers", server.url)).await?;
        browser
            .visit(
                Css("button[aria-label^='Stop trusting']"),
                XPath("//p[contains(., 'is no longer trusted')]"),
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

/// SPEC §15 in the browser: an admin registers a resource server (a refused identifier is said
/// next to its field), narrows the scopes it accepts and removes it; what the page shows is
/// what the API lists.
#[tokio::test]
async fn an_admin_registers_changes_and_removes_a_resource_server_in_the_console() {
    let Some((_stage, port, server)) = stage() else {
        return;
    };
    let admin = access_token(&server.url, BOOT_ID, BOOT_SECRET).await;
    let url = format!("{}/v1/resource_servers", server.url);
    let listed =
        || async { crate::get_json(url.clone(), &admin).await["resource_servers"].clone() };
    let browser = browser(port).await;
    let result = async {
        browser.sign_in(&server.url, "ops@example.com", "correct horse battery staple").await?;
        browser
            .follow(
                "Resource servers",
                XPath("//h2[. = 'Register a resource server']"),
                "resource servers",
            )
            .await?;
        browser.fill("identifier", "http://mcp.example.com/mcp").await?;
        browser.press("Register", Id("identifier-error"), "a refused resource server").await?;
        browser.find(Id("identifier")).await?.clear().await?;
        browser.fill("identifier", "https://mcp.example.com/mcp").await?;
        browser.fill("display_name", "Fleet tools").await?;
        browser.find(Id("new-assets:write")).await?.click().await?;
        browser
            .press(
                "Register",
                XPath("//p[contains(., 'is registered')]"),
                "a resource server registered",
            )
            .await?;
        browser.shot("console-resource-servers.png").await?;
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    if let Err(e) = result {
        let _ = browser.close().await;
        panic!("the browser registers a resource server: {e}");
    }
    let made = listed().await;
    assert_eq!(made[0]["identifier"], "https://mcp.example.com/mcp");
    assert_eq!(
        made[0]["scopes"],
        serde_json::json!(["assets:read", "events:read", "events:write", "private_tokens"])
    );
    let uuid = made[0]["id"].as_str().unwrap().trim_start_matches("resource_servers/").to_owned();
    let changed = async {
        for scope in ["events:write", "private_tokens"] {
            browser.find(Id(&format!("{uuid}-{scope}"))).await?.click().await?;
        }
        browser
            .visit(
                Css("button[aria-label^='Save the scopes']"),
                XPath("//p[contains(., 'was changed')]"),
                "scopes changed",
            )
            .await?;
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    if let Err(e) = changed {
        let _ = browser.close().await;
        panic!("the browser changes the scopes: {e}");
    }
    assert_eq!(listed().await[0]["scopes"], serde_json::json!(["assets:read", "events:read"]));
    let removed = browser
        .visit(
            Css("button[aria-label='Remove Fleet tools']"),
            XPath("//p[contains(., 'was removed')]"),
            "removed",
        )
        .await;
    let _ = browser.close().await;
    removed.expect("the browser removes the resource server");
    assert_eq!(listed().await, serde_json::json!([]));
}

/// SPEC §15 in the browser: an admin opens registration to anyone and vouches for a domain on
/// the Client registration page (a domain that is not one is said next to its field); what the
/// page saved is what the API reads.
#[tokio::test]
async fn an_admin_sets_the_rules_for_clients_nobody_typed_in_in_the_console() {
    let Some((_stage, port, server)) = stage() else {
        return;
    };
    let admin = access_token(&server.url, BOOT_ID, BOOT_SECRET).await;
    let browser = browser(port).await;
    let result = async {
        browser.sign_in(&server.url, "ops@example.com", "correct horse battery staple").await?;
        browser
            .follow(
                "Client registration",
                XPath("//legend[contains(., 'Who may register')]"),
                "client registration",
            )
            .await?;
        browser.find(Css("input[name=registration][value=open]")).await?.click().await?;
        browser.fill("approved_domains", "https://agents.example.com").await?;
        browser.press("Save", Id("domains-error"), "a refused domain").await?;
        browser.find(Id("approved_domains")).await?.clear().await?;
        browser.fill("approved_domains", "agents.example.com").await?;
        browser
            .press("Save", XPath("//p[contains(., 'The rules are saved')]"), "rules saved")
            .await?;
        browser.shot("console-client-registration.png").await?;
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    let _ = browser.close().await;
    result.expect("the browser saves the client registration rules");
    let rules: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/v1/client_registration", server.url))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        rules,
        serde_json::json!({"registration": "open", "metadata_documents": true,
                           "approved_domains": ["agents.example.com"]})
    );
}

/// SPEC §15 in the browser: an application sends a person to `/oauth2/authorize`; they sign in,
/// see who asks for what on which resource, allow; the application gets a code at its loopback
/// redirect URI (any port, RFC 8252) and redeems it with its PKCE verifier; My account lists the
/// application as one with access.
#[tokio::test]
async fn a_person_allows_an_application_on_the_consent_page_and_it_redeems_the_code() {
    let Some((_stage, port, server)) = stage() else {
        return;
    };
    let (id, secret) = crate::made_integration(
        &server.url,
        serde_json::json!({"display_name": "Research agent", "scopes": ["assets:read", "events:read"],
                           "redirect_uris": ["http://127.0.0.1/callback"],
                           "description": "Answers questions about your fleet."}),
    )
    .await;
    // RFC 7636 Appendix B; port 9 answers nothing, so the browser stays on the address.
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let link = format!(
        "{}/oauth2/authorize?response_type=code&client_id={id}&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback\
         &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&state=s-42&scope=assets%3Aread",
        server.url
    );
    let browser = browser(port).await;
    let result = async {
        browser.goto(&link).await?;
        browser.fill("email", "ops@example.com").await?;
        browser.fill("password", "correct horse battery staple").await?;
        browser
            .visit(
                Css("button[type=submit]"),
                XPath("//h1[. = 'Research agent asks for access']"),
                "authorize",
            )
            .await?;
        let page = browser.source().await?;
        for words in
            ["read assets", "Answers questions about your fleet.", "127.0.0.1", "My account"]
        {
            assert!(page.contains(words), "{words}: {page}");
        }
        browser.shot("authorize-consent.png").await?;
        browser.find(XPath("//button[. = 'Allow']")).await?.click().await?;
        let landed = landed_at(&browser, "http://127.0.0.1:9/callback").await?;
        let url = reqwest::Url::parse(&landed).expect("a URL");
        let params: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(
            (params["state"].as_str(), params["iss"].as_str()),
            ("s-42", server.url.as_str()),
            "{landed}"
        );
        let code = params["code"].clone();
        browser.goto_console(&server.url, "account").await?;
        browser.axe("my account").await?;
        let account = browser.source().await?;
        assert!(
            account.contains("Apps and agents with access") && account.contains("Research agent")
        );
        // The code is not redeemed yet: the app has not used its access.
        assert!(account.contains("Last used") && account.contains("Not yet"), "{account}");
        // The list is below the password form: show it in the screenshot.
        browser.execute("document.querySelector('table').scrollIntoView()", Vec::new()).await?;
        browser.shot("account-apps-with-access.png").await?;
        Ok::<_, fantoccini::error::CmdError>(code)
    }
    .await;
    let _ = browser.close().await;
    let code = result.expect("the browser walks through the consent page");
    let form = [
        ("code", code.as_str()),
        ("redirect_uri", "http://127.0.0.1:9/callback"),
        ("code_verifier", verifier),
    ];
    let body = redeem(&server.url, (&id, &secret), &form).await;
    assert_eq!(body["scope"], "assets:read");
    assert_eq!(crate::claims(body["access_token"].as_str().unwrap())["aud"], server.url.as_str());
}

/// `grant_type=authorization_code` with `form` at `url`, as the client `(id, secret)`: the token
/// response, which must be a 200.
async fn redeem(url: &str, (id, secret): (&str, &str), form: &[(&str, &str)]) -> serde_json::Value {
    let mut fields = vec![("grant_type", "authorization_code")];
    fields.extend_from_slice(form);
    let issued = reqwest::Client::new()
        .post(format!("{url}/oauth2/token"))
        .basic_auth(id, Some(secret))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(issued.status(), 200);
    issued.json().await.unwrap()
}

/// Where the browser is once its address starts with `prefix` (a page that may not load, such
/// as an application's redirect URI), or after ten seconds.
pub(crate) async fn landed_at(
    browser: &fantoccini::Client,
    prefix: &str,
) -> Result<String, fantoccini::error::CmdError> {
    let mut landed = String::new();
    for _ in 0..100 {
        landed = browser.current_url().await?.to_string();
        if landed.starts_with(prefix) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(landed)
}

/// SPEC §16 in the browser: a resource server's stream, opened through the SSF API, shows on
/// the Event streams page with what waits for it.
#[tokio::test]
async fn an_admin_sees_a_resource_servers_event_stream_and_what_waits_on_it() {
    let Some((_stage, port, server)) = stage() else {
        return;
    };
    let (id, secret) = crate::made_integration(
        &server.url,
        serde_json::json!({"display_name": "Audit trail API", "scopes": ["security_events"]}),
    )
    .await;
    let receiver = access_token(&server.url, &id, &secret).await;
    let body = serde_json::json!({"delivery": {"method": "urn:ietf:rfc:8936"},
                                  "events_requested": ["urn:tessera:secevent:token-revoked"]});
    let made = post_json(format!("{}/ssf/streams", server.url), &receiver, body).await;
    let stream = made["stream_id"].as_str().expect("a stream").to_owned();
    let doomed = access_token(&server.url, BOOT_ID, BOOT_SECRET).await;
    let revoked = reqwest::Client::new()
        .post(format!("{}/oauth2/revoke", server.url))
        .basic_auth(BOOT_ID, Some(BOOT_SECRET))
        .form(&[("token", doomed.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let browser = browser(port).await;
    let result = async {
        browser.sign_in(&server.url, "ops@example.com", "correct horse battery staple").await?;
        let row = format!("//tr[contains(., 'Audit trail API') and contains(., '{stream}')]");
        browser.follow("Event streams", XPath(&row), "event streams").await?;
        let cells = browser.find(XPath(&format!("{row}/td[4]"))).await?.text().await?;
        browser.shot("console-event-streams.png").await?;
        Ok::<_, fantoccini::error::CmdError>(cells)
    }
    .await;
    let _ = browser.close().await;
    let waiting = result.expect("the browser shows the event stream");
    assert!(waiting.starts_with("1 (oldest "), "one SET waits: {waiting}");
}

//! Several instances on one PostgreSQL database behave as one service (SPEC §2): what one issues,
//! revokes, regenerates or rotates, the others honour within a second.

use crate::Answer;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::Run;
use crate::{
    access_token, assets_status, customer_tenant, data_dir, get_json, post_json, postgres_or_skip,
    serve, tessera, token, Server, BOOT_ID, BOOT_SECRET, MASTER_KEY,
};

async fn introspect(url: &str, token: &str) -> serde_json::Value {
    reqwest::Client::new()
        .post(format!("{url}/oauth2/introspect"))
        .basic_auth(BOOT_ID, Some(BOOT_SECRET))
        .form(&[("token", token)])
        .answer()
        .await
}

/// Polls `check` until it holds, and returns how long that took.
async fn within_a_second<F, Fut>(what: &str, check: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    within(Duration::from_millis(1000), what, check).await
}

/// Polls `check` until it holds within `limit`, and returns how long that took.
async fn within<F, Fut>(limit: Duration, what: &str, check: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < limit {
        if check().await {
            return start.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what} was not honoured within {limit:?}");
}

/// The scene of the tests below: two instances on one fresh PostgreSQL database with the same
/// issuer, as behind one load balancer, and an admin token from the first.
struct TwoInstances {
    a: Server,
    b: Server,
    database: String,
    dir_a: PathBuf,
    admin: String,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

const ISSUER: &str = "https://tokens.example.test";

impl TwoInstances {
    /// `None` when PostgreSQL is not installed (outside CI).
    async fn start() -> Option<Self> {
        let database = postgres_or_skip()?;
        let (g1, dir_a) = data_dir();
        let (g2, dir_b) = data_dir();
        let shared = ["--database", database.as_str(), "--issuer", ISSUER];
        let a = serve(&dir_a, &shared, true);
        let b = serve(&dir_b, &shared, true);
        let admin = access_token(&a.url, BOOT_ID, BOOT_SECRET).await;
        Some(TwoInstances { a, b, database, dir_a, admin, _dirs: (g1, g2) })
    }

    /// A new integration made on A, once B lets it in: its id and secret.
    async fn integration_known_to_both(&self) -> (String, String) {
        let created = post_json(
            format!("{}/v1/integrations", self.a.url),
            &self.admin,
            serde_json::json!({"display_name": "shared"}),
        )
        .await;
        let id = created["client_id"].as_str().unwrap().to_owned();
        let secret = created["client_secret"].as_str().unwrap().to_owned();
        within_a_second("a new integration", || async {
            token(&self.b.url, &id, &secret, None).await.status() == 200
        })
        .await;
        (id, secret)
    }

    /// Registers a certificate for the bootstrap integration on A and waits until B accepts
    /// assertions signed with its key; the key (PEM).
    async fn key_known_to_both(&self) -> Vec<u8> {
        std::fs::create_dir_all(&self.dir_a).unwrap();
        let (cert, key) = crate::interop::openssl_ec_certificate(&self.dir_a);
        post_json(
            format!("{}/v1/integrations/{BOOT_ID}/keys", self.a.url),
            &self.admin,
            serde_json::json!({ "certificate": cert }),
        )
        .await;
        within_a_second("a registered key", || async {
            let fresh = crate::interop::third_party_assertion(&key, BOOT_ID, BOOT_ID, ISSUER);
            with_assertion(&self.b.url, fresh).await.status() == 200
        })
        .await;
        key
    }

    /// The JWT bearer grant on `url` for Dora, asserted with `key`.
    async fn bearer_grant(&self, url: &str, key: &[u8]) -> serde_json::Value {
        let assertion =
            crate::interop::third_party_assertion(key, BOOT_ID, "dora@example.com", ISSUER);
        reqwest::Client::new()
            .post(format!("{url}/oauth2/token"))
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ])
            .answer()
            .await
    }

    /// Dora, a user of the tenant, and a consent for the bootstrap integration to act for any
    /// user, made on A; once B grants on it, the consent's id.
    async fn consent_known_to_both(&self, key: &[u8]) -> String {
        post_json(
            format!("{}/v1/users", self.a.url),
            &self.admin,
            serde_json::json!({"email": "dora@example.com", "display_name": "Dora",
                "password": "correct horse battery"}),
        )
        .await;
        let consent = post_json(
            format!("{}/v1/consents", self.a.url),
            &self.admin,
            serde_json::json!({"client_id": BOOT_ID, "user": "*", "scopes": ["assets:read"]}),
        )
        .await;
        within_a_second("a consent", || async {
            self.bearer_grant(&self.b.url, key).await["access_token"].is_string()
        })
        .await;
        consent["id"].as_str().unwrap().to_owned()
    }
}

/// Client credentials at `url`, authenticated with a private-key JWT.
async fn with_assertion(url: &str, assertion: String) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{url}/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", assertion.as_str()),
        ])
        .send()
        .await
        .unwrap()
}

/// RFC 7009 revocation at `url`, authenticated as `id`.
async fn revoke(url: &str, id: &str, secret: &str, token: &str) {
    let revoked = reqwest::Client::new()
        .post(format!("{url}/oauth2/revoke"))
        .basic_auth(id, Some(secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
}

#[tokio::test]
async fn on_postgres_a_token_from_one_instance_is_active_on_the_other_until_revoked() {
    let _serial = crate::TIMING.lock().await;
    let Some(two) = TwoInstances::start().await else {
        return;
    };
    let t = access_token(&two.a.url, BOOT_ID, BOOT_SECRET).await;
    assert_eq!(introspect(&two.b.url, &t).await["active"], true);

    revoke(&two.a.url, BOOT_ID, BOOT_SECRET, &t).await;
    let took = within_a_second("revocation", || async {
        introspect(&two.b.url, &t).await["active"] == false
    })
    .await;
    eprintln!("revocation reached the other instance in {took:?}");
}

#[tokio::test]
async fn on_postgres_a_secret_regenerated_on_one_instance_stops_on_the_other() {
    let _serial = crate::TIMING.lock().await;
    let Some(two) = TwoInstances::start().await else {
        return;
    };
    let (id, old) = two.integration_known_to_both().await;
    let regenerated: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/v1/integrations/{id}/secret", two.a.url))
        .bearer_auth(&two.admin)
        .answer()
        .await;
    let new = regenerated["client_secret"].as_str().unwrap().to_owned();
    within_a_second("secret regeneration", || async {
        token(&two.b.url, &id, &old, None).await.status() == 401
            && token(&two.b.url, &id, &new, None).await.status() == 200
    })
    .await;
}

#[tokio::test]
async fn on_postgres_policies_and_revocations_made_on_one_instance_govern_the_others_resources() {
    let _serial = crate::TIMING.lock().await;
    let Some(two) = TwoInstances::start().await else {
        return;
    };
    let (id, secret) = two.integration_known_to_both().await;
    let reader = access_token(&two.b.url, &id, &secret).await;
    post_json(
        format!("{}/v2/assets", two.a.url),
        &two.admin,
        serde_json::json!({"attributes": {"arc_display_type": "Crate"}}),
    )
    .await;
    let sees_asset = || async {
        let listed = get_json(format!("{}/v2/assets", two.b.url), &reader).await;
        listed["assets"].as_array().is_some_and(|a| a.len() == 1)
    };
    assert!(!sees_asset().await, "no policy yet: nothing shared");

    // An access policy created, then deleted, on A governs what the integration sees on B.
    let policy = post_json(
        format!("{}/v1/access_policies", two.a.url),
        &two.admin,
        serde_json::json!({"display_name": "crates", "filters": [{"asset_types": ["Crate"]}],
            "permissions": [{"actors": [{"client_id": id}], "attributes": ["*"]}]}),
    )
    .await;
    within_a_second("a new access policy", sees_asset).await;
    let policy_id = policy["identity"].as_str().unwrap().rsplit('/').next().unwrap();
    let deleted = reqwest::Client::new()
        .delete(format!("{}/v1/access_policies/{policy_id}", two.a.url))
        .bearer_auth(&two.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    within_a_second("a deleted access policy", || async { !sees_asset().await }).await;

    // The resource API on B refuses a token revoked on A.
    assert_eq!(assets_status(&two.b.url, &reader).await, 200);
    revoke(&two.a.url, &id, &secret, &reader).await;
    within_a_second("a revoked token on the resource API", || async {
        assets_status(&two.b.url, &reader).await == 401
    })
    .await;
}

#[tokio::test]
async fn on_postgres_a_key_registered_on_one_instance_works_on_the_other_and_an_assertion_only_once(
) {
    let _serial = crate::TIMING.lock().await;
    let Some(two) = TwoInstances::start().await else {
        return;
    };
    let key = two.key_known_to_both().await;
    let once = crate::interop::third_party_assertion(&key, BOOT_ID, BOOT_ID, ISSUER);
    assert_eq!(with_assertion(&two.b.url, once.clone()).await.status(), 200);
    let replayed = with_assertion(&two.a.url, once).await;
    assert_eq!(replayed.status(), 401);
    let body: serde_json::Value = replayed.json().await.unwrap();
    assert!(body["error_description"].as_str().unwrap().contains("used before"), "{body}");
}

#[tokio::test]
async fn on_postgres_an_exchanged_token_dies_when_the_other_instance_revokes_its_subject() {
    let _serial = crate::TIMING.lock().await;
    let Some(two) = TwoInstances::start().await else {
        return;
    };
    let key = two.key_known_to_both().await;
    two.consent_known_to_both(&key).await;
    let doras =
        two.bearer_grant(&two.b.url, &key).await["access_token"].as_str().unwrap().to_owned();
    let exchanged = reqwest::Client::new()
        .post(format!("{}/oauth2/token", two.a.url))
        .basic_auth(BOOT_ID, Some(BOOT_SECRET))
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"),
            ("subject_token", doras.as_str()),
            ("subject_token_type", "urn:ietf:params:oauth:token-type:access_token"),
        ])
        .answer::<serde_json::Value>()
        .await;
    let exchanged = exchanged["access_token"].as_str().unwrap().to_owned();
    assert_eq!(introspect(&two.a.url, &exchanged).await["active"], true);
    revoke(&two.b.url, BOOT_ID, BOOT_SECRET, &doras).await;
    within_a_second("revoking the subject of an exchange", || async {
        introspect(&two.a.url, &exchanged).await["active"] == false
    })
    .await;
}

#[tokio::test]
async fn on_postgres_a_consent_withdrawn_on_one_instance_ends_grants_and_tokens_on_the_other() {
    let _serial = crate::TIMING.lock().await;
    let Some(two) = TwoInstances::start().await else {
        return;
    };
    let key = two.key_known_to_both().await;
    let consent = two.consent_known_to_both(&key).await;
    let live =
        two.bearer_grant(&two.b.url, &key).await["access_token"].as_str().unwrap().to_owned();
    assert_eq!(introspect(&two.b.url, &live).await["active"], true);
    let withdrawn = reqwest::Client::new()
        .delete(format!("{}/v1/consents/{consent}", two.a.url))
        .bearer_auth(&two.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(withdrawn.status(), 204);
    within_a_second("a withdrawn consent", || async {
        two.bearer_grant(&two.b.url, &key).await["error"] == "consent_required"
            && introspect(&two.b.url, &live).await["active"] == false
    })
    .await;
}

#[tokio::test]
async fn on_postgres_a_key_rotation_is_honoured_by_both_instances() {
    let _serial = crate::TIMING.lock().await;
    let Some(two) = TwoInstances::start().await else {
        return;
    };
    let before = jsonwebtoken::decode_header(&access_token(&two.b.url, BOOT_ID, BOOT_SECRET).await)
        .unwrap()
        .kid;
    tessera()
        .args(["keys", "rotate", "--database", &two.database])
        .env("TESSERA_MASTER_KEY", MASTER_KEY)
        .succeeds();
    // B signs with the new key and A verifies it.
    within_a_second("key rotation", || async {
        let fresh = access_token(&two.b.url, BOOT_ID, BOOT_SECRET).await;
        let kid = jsonwebtoken::decode_header(&fresh).unwrap().kid;
        kid != before && introspect(&two.a.url, &fresh).await["active"] == true
    })
    .await;
}

#[tokio::test]
async fn instances_started_together_on_an_empty_database_bootstrap_once() {
    let _serial = crate::TIMING.lock().await;
    let Some(url) = postgres_or_skip() else {
        return;
    };
    let shared = ["--database", url.as_str(), "--issuer", "https://tokens.example.test"];
    let dirs: Vec<_> = (0..3).map(|_| data_dir()).collect();
    let starts: Vec<_> = dirs
        .iter()
        .map(|(_, dir)| {
            let dir = dir.clone();
            let args: Vec<String> = shared.iter().map(|s| s.to_string()).collect();
            std::thread::spawn(move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                serve(&dir, &args, true)
            })
        })
        .collect();
    let servers: Vec<_> =
        starts.into_iter().map(|t| t.join().expect("every instance starts")).collect();
    for server in &servers {
        within_a_second("the admin integration", || async {
            token(&server.url, BOOT_ID, BOOT_SECRET, None).await.status() == 200
        })
        .await;
    }
    let admin = access_token(&servers[0].url, BOOT_ID, BOOT_SECRET).await;
    let listed = get_json(format!("{}/v1/integrations", servers[0].url), &admin).await;
    assert_eq!(listed["integrations"].as_array().unwrap().len(), 1, "one admin integration");
}

#[tokio::test]
async fn an_app_authorization_revoked_on_one_instance_ends_its_tokens_on_the_other() {
    let _serial = crate::TIMING.lock().await;
    let Some(url) = postgres_or_skip() else {
        return;
    };
    let (_g1, dir_a) = data_dir();
    let (_g2, dir_b) = data_dir();
    let shared = ["--database", url.as_str()];
    let a = serve(&dir_a, &shared, true);
    let b = serve(&dir_b, &shared, true);
    let vendor = access_token(&a.url, BOOT_ID, BOOT_SECRET).await;
    let app = post_json(
        format!("{}/v1/integrations", a.url),
        &vendor,
        serde_json::json!({"display_name": "KPI", "multi_tenant": true, "app_name": "kpi",
                           "app_version": "1.0", "tms_enabled": true}),
    )
    .await;
    let app_id = app["client_id"].as_str().unwrap().to_owned();
    let promoted = post_json(
        format!("{}/v1/integrations/{app_id}/promote", a.url),
        &vendor,
        serde_json::json!({}),
    )
    .await;
    let app_secret = promoted["client_secret"].as_str().unwrap().to_owned();

    let (customer, admin_id, admin_secret) = customer_tenant(&a.url).await;
    let mut admin = String::new();
    within_a_second("a new tenant", || async {
        token(&a.url, &admin_id, &admin_secret, None).await.status() == 200
    })
    .await;
    admin.push_str(&access_token(&a.url, &admin_id, &admin_secret).await);
    let given = post_json(
        format!("{}/v1/app_authorizations", a.url),
        &admin,
        serde_json::json!({"app_name": "kpi", "access": "read_write"}),
    )
    .await;
    let auth_id = given["id"].as_str().unwrap().to_owned();

    // B issues under the authorization given on A, and its resource API takes the token.
    let tms = || async {
        reqwest::Client::new()
            .post(format!("{}/tms/v1/tokens", b.url))
            .basic_auth(&app_id, Some(&app_secret))
            .json(&serde_json::json!({"tenants": [customer]}))
            .answer::<serde_json::Value>()
            .await
    };
    within_a_second("an app authorization", || async {
        tms().await["tokens"].as_array().is_some_and(|t| t.len() == 1)
    })
    .await;
    let issued = tms().await;
    let technical = issued["tokens"][0]["access_token"].as_str().unwrap().to_owned();
    let assets = || assets_status(&b.url, &technical);
    assert_eq!(assets().await, 200);

    // Revoked on A: B refuses the token within a second, and issues no more.
    let revoked = reqwest::Client::new()
        .delete(format!(
            "{}/v1/app_authorizations/{}",
            a.url,
            auth_id.trim_start_matches("app_authorizations/")
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    let took =
        within_a_second("a revoked app authorization", || async { assets().await == 401 }).await;
    eprintln!("the revocation reached the other instance in {took:?}");
    assert_eq!(tms().await["errors"][0]["error"], "access_denied");
}

/// The `n` webhooks `hooks` took (waited for, then a little longer: a second delivery of any
/// would show), each asserted taken exactly once; the `n` attribute of each, as taken.
async fn delivered_once_each(hooks: &crate::webhooks::Receiver, n: usize) -> Vec<String> {
    for _ in 0..600 {
        if hooks.taken.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let taken = hooks.taken.lock().unwrap().clone();
    let ids: Vec<&str> = taken.iter().map(|(id, _)| id.as_str()).collect();
    let distinct: std::collections::BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!((ids.len(), distinct.len()), (n, n), "each exactly once: {ids:?}");
    taken
        .iter()
        .map(|(_, body)| {
            let body: serde_json::Value = serde_json::from_str(body).unwrap();
            body["data"]["attributes"]["n"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// The application `app`'s token under its connection to `owner`, from `server`.
async fn connection_token(server: &str, app: &serde_json::Value, owner: &str) -> String {
    let (app_id, app_secret) = (app["client_id"].as_str().unwrap(), app["client_secret"].as_str());
    let answer = reqwest::Client::new()
        .post(format!("{server}/oauth2/token"))
        .basic_auth(app_id, app_secret)
        .form(&[("grant_type", "client_credentials"), ("tenant_id", owner)])
        .answer::<serde_json::Value>()
        .await;
    let token = answer["access_token"].as_str();
    token.unwrap_or_else(|| panic!("a token under the connection: {answer}")).to_owned()
}

#[tokio::test]
async fn with_two_instances_each_webhook_is_delivered_once_and_in_order() {
    let _serial = crate::TIMING.lock().await;
    let Some(url) = postgres_or_skip() else {
        return;
    };
    let hooks = crate::webhooks::receiver().await;
    hooks.accept.store(true, std::sync::atomic::Ordering::SeqCst);
    let (_g1, dir_a) = data_dir();
    let (_g2, dir_b) = data_dir();
    let shared = ["--database", url.as_str()];
    let a = serve(&dir_a, &shared, true);
    let b = serve(&dir_b, &shared, true);
    let vendor = access_token(&a.url, BOOT_ID, BOOT_SECRET).await;
    let app = post_json(
        format!("{}/v1/integrations", a.url),
        &vendor,
        serde_json::json!({"display_name": "Receiver", "scopes": ["assets:read"],
                           "authentication_url": hooks.url, "webhook_url": hooks.url}),
    )
    .await;
    let (owner, owner_id, owner_secret) = customer_tenant(&a.url).await;
    let connection = crate::connect_owner(
        &url,
        app["client_id"].as_str().unwrap().parse().unwrap(),
        app["tenant_id"].as_str().unwrap().parse().unwrap(),
        owner.parse().unwrap(),
    )
    .await;
    let mut tokens = Vec::new();
    for server in [&a, &b] {
        within_a_second("the owner's admin", || async {
            token(&server.url, &owner_id, &owner_secret, None).await.status() == 200
        })
        .await;
        tokens.push(access_token(&server.url, &owner_id, &owner_secret).await);
    }
    // Thirty changes, written alternately through both instances; both deliver.
    for n in 0..30 {
        let (server, token) = if n % 2 == 0 { (&a, &tokens[0]) } else { (&b, &tokens[1]) };
        let made = post_json(
            format!("{}/v2/assets", server.url),
            token,
            serde_json::json!({"attributes": {"n": n.to_string()}}),
        )
        .await;
        assert!(made["identity"].is_string(), "{made}");
    }
    let numbers = delivered_once_each(&hooks, 30).await;
    assert_eq!(numbers, (0..30).map(|n| n.to_string()).collect::<Vec<_>>(), "in order");

    // The application's token for the connection, from B; the owner revokes on A; B refuses
    // the token within a second.
    let connection_token = connection_token(&b.url, &app, &owner).await;
    let reads = || assets_status(&b.url, &connection_token);
    assert_eq!(reads().await, 200);
    let revoked = reqwest::Client::new()
        .delete(format!("{}/v1/connections/{connection}", a.url))
        .bearer_auth(&tokens[0])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    let took = within_a_second("a revoked connection", || async { reads().await == 401 }).await;
    eprintln!("the connection's revocation reached the other instance in {took:?}");
}

/// `PATCH` of a JSON body with a bearer token; returns the status.
async fn patch_status(url: String, token: &str, body: serde_json::Value) -> u16 {
    reqwest::Client::new()
        .patch(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The password form of a one-time link sent to `server`, as a browser would.
async fn set_password(server: &str, token: &str) -> (u16, String) {
    let reply = reqwest::Client::new()
        .post(format!("{server}/console/set-password"))
        .form(&[
            ("token", token),
            ("password", "a password of some length"),
            ("confirm", "a password of some length"),
        ])
        .send()
        .await
        .unwrap();
    let status = reply.status().as_u16();
    (status, reply.text().await.unwrap())
}

#[tokio::test]
async fn a_tenant_disabled_on_one_instance_is_refused_by_the_other_and_links_work_once() {
    let _serial = crate::TIMING.lock().await;
    let Some(url) = postgres_or_skip() else {
        return;
    };
    let (_g1, dir_a) = data_dir();
    let (_g2, dir_b) = data_dir();
    let shared = ["--database", url.as_str(), "--issuer", "https://tokens.example.test"];
    let a = serve(&dir_a, &shared, true);
    let b = serve(&dir_b, &shared, true);
    let platform = access_token(&a.url, BOOT_ID, BOOT_SECRET).await;

    let (customer, admin_id, admin_secret) = customer_tenant(&a.url).await;
    within_a_second("a new tenant", || async {
        token(&b.url, &admin_id, &admin_secret, None).await.status() == 200
    })
    .await;
    let live = access_token(&b.url, &admin_id, &admin_secret).await;
    assert_eq!(assets_status(&b.url, &live).await, 200);

    // Disabled through A: B refuses the token within a second, and issues nothing new.
    let uuid = customer.trim_start_matches("tenant/");
    let disable = patch_status(
        format!("{}/v1/tenants/{uuid}", a.url),
        &platform,
        serde_json::json!({"disabled": true}),
    )
    .await;
    assert_eq!(disable, 200);
    let took = within_a_second("a disabled tenant", || async {
        assets_status(&b.url, &live).await == 401
    })
    .await;
    eprintln!("disabling reached the other instance in {took:?}");
    assert_eq!(token(&b.url, &admin_id, &admin_secret, None).await.status(), 401);

    // Enabled again: new tokens work on B, the old one stays refused.
    let enable = patch_status(
        format!("{}/v1/tenants/{uuid}", a.url),
        &platform,
        serde_json::json!({"disabled": false}),
    )
    .await;
    assert_eq!(enable, 200);
    // Tokens are dated in whole seconds (`iat`): one minted in the very second of the disable
    // cannot be told from one minted before it, so issuing resumes from the next second.
    // Polled slowly: each refusal counts as a failed authentication, and twenty a minute
    // would lock the client out for the rest of the minute.
    within(Duration::from_millis(2500), "an enabled tenant", || async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        token(&b.url, &admin_id, &admin_secret, None).await.status() == 200
    })
    .await;
    assert_eq!(assets_status(&b.url, &live).await, 401);

    a_link_raced_by_both_sets_the_password_once(&a.url, &b.url, &platform).await;
}

/// A one-time link sent to both instances `a` and `b` at once sets the password exactly once.
async fn a_link_raced_by_both_sets_the_password_once(a: &str, b: &str, platform: &str) {
    let made = post_json(
        format!("{a}/v1/tenants"),
        platform,
        serde_json::json!({"display_name": "Twice", "admin_email": "twice@example.com"}),
    )
    .await;
    let link = made["admin"]["invitation_url"].as_str().unwrap();
    let link_token = link.split("token=").nth(1).unwrap().to_owned();
    for _ in 0..5 {
        // Five fresh links, each raced by both instances.
        let fresh = reqwest::Client::new()
            .post(format!(
                "{a}/v1/users/{}/password_reset",
                made["admin"]["user_id"].as_str().unwrap()
            ))
            .bearer_auth(&crate::operator_token(a, made["tenant_id"].as_str().unwrap()).await)
            .answer::<serde_json::Value>()
            .await;
        let url_of = |v: &serde_json::Value, key: &str| {
            v[key].as_str().map(|u| u.split("token=").nth(1).unwrap().to_owned())
        };
        let raced = url_of(&fresh, "password_reset_url").unwrap_or_else(|| link_token.clone());
        let (one, two) = tokio::join!(set_password(a, &raced), set_password(b, &raced));
        let mut statuses = [one.0, two.0];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 410], "{one:?} {two:?}");
        let refused = if one.0 == 410 { &one.1 } else { &two.1 };
        assert!(refused.contains("used already"), "{refused}");
    }
}

/// ARCHITECTURE.md: issuing a token with a client secret and introspecting one never wait for
/// the database. The database is cut off (no new connections, the server's ones terminated),
/// and both still answer at once from the snapshots; `/readyz` shows the cut is real.
#[tokio::test]
async fn on_postgres_tokens_are_issued_and_introspected_while_the_database_is_cut_off() {
    let _serial = crate::TIMING.lock().await;
    let Some(url) = postgres_or_skip() else {
        return;
    };
    let (_guard, dir) = data_dir();
    let server = serve(&dir, &["--database", url.as_str()], true);
    let before = access_token(&server.url, BOOT_ID, BOOT_SECRET).await;
    let database = url.rsplit('/').next().unwrap().to_owned();
    let admin = tessera_store::testing::postgres_admin;
    admin(&format!("ALTER DATABASE {database} ALLOW_CONNECTIONS false")).unwrap();
    admin(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'"
    ))
    .unwrap();
    let ready = || async { reqwest::get(format!("{}/readyz", server.url)).await.unwrap().status() };
    assert_eq!(ready().await, 503, "the database is out of reach");

    for _ in 0..20 {
        let start = Instant::now();
        let fresh = access_token(&server.url, BOOT_ID, BOOT_SECRET).await;
        assert_eq!(introspect(&server.url, &fresh).await["active"], true);
        assert_eq!(introspect(&server.url, &before).await["active"], true);
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "a token and two introspections took {:?}: something waited for the database",
            start.elapsed()
        );
    }

    admin(&format!("ALTER DATABASE {database} ALLOW_CONNECTIONS true")).unwrap();
    within(Duration::from_secs(15), "the database coming back", || async { ready().await == 200 })
        .await;
    // The audit records of the tokens issued meanwhile were kept and are written now.
    let admin_token = access_token(&server.url, BOOT_ID, BOOT_SECRET).await;
    within(Duration::from_secs(15), "the queued audit records", || async {
        let log = get_json(format!("{}/v1/audit?page_size=100", server.url), &admin_token).await;
        let issued = log["entries"]
            .as_array()
            .map_or(0, |entries| entries.iter().filter(|e| e["action"] == "token.issued").count());
        issued >= 22
    })
    .await;
}

#[tokio::test]
async fn on_postgres_a_federated_credential_or_issuer_removed_on_one_instance_ends_tokens_on_the_other(
) {
    let _serial = crate::TIMING.lock().await;
    let Some(both) = TwoInstances::start().await else {
        return;
    };
    let (a, b, admin) = (&both.a, &both.b, &both.admin);
    let (cluster, key) = crate::platform().await;
    let issuer = post_json(
        format!("{}/v1/trusted_issuers", a.url),
        admin,
        serde_json::json!({"issuer": cluster, "audiences": ["tessera"]}),
    )
    .await;
    let issuer_id = issuer["id"].as_str().unwrap().replace('/', "%2F");
    let app = post_json(
        format!("{}/v1/integrations", a.url),
        admin,
        serde_json::json!({"display_name": "billing", "scopes": ["assets:read"]}),
    )
    .await;
    let client_id = app["client_id"].as_str().unwrap().to_owned();
    let credentials = format!("/v1/integrations/{client_id}/federated_credentials");
    let subject =
        serde_json::json!({"issuer": cluster, "subject": "system:serviceaccount:prod:billing"});
    let credential = post_json(format!("{}{credentials}", a.url), admin, subject.clone()).await;
    let platform_token = crate::k8s_token(&key, &cluster, "billing");

    // Registered on A, accepted on B within a second; B's token works on A.
    within_a_second("a credential made on the other instance", || async {
        crate::federated_token(&b.url, &client_id, &platform_token).await.status() == 200
    })
    .await;
    let reply: serde_json::Value =
        crate::federated_token(&b.url, &client_id, &platform_token).await.json().await.unwrap();
    let first = reply["access_token"].as_str().unwrap().to_owned();
    assert_eq!(assets_status(&a.url, &first).await, 200);

    // The credential removed on A: B refuses its token and the platform token within a second.
    let removed = reqwest::Client::new()
        .delete(format!(
            "{}{credentials}/{}",
            a.url,
            credential["id"].as_str().unwrap().replace('/', "%2F")
        ))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 204);
    let took = within_a_second("a removed federated credential", || async {
        assets_status(&b.url, &first).await == 401
    })
    .await;
    eprintln!("the removal reached the other instance in {took:?}");
    assert_eq!(crate::federated_token(&b.url, &client_id, &platform_token).await.status(), 401);

    // Again; then the trust in the issuer removed on B ends A's token.
    post_json(format!("{}{credentials}", a.url), admin, subject).await;
    let second: serde_json::Value =
        crate::federated_token(&a.url, &client_id, &platform_token).await.json().await.unwrap();
    let second = second["access_token"].as_str().unwrap().to_owned();
    assert_eq!(assets_status(&a.url, &second).await, 200);
    let gone = reqwest::Client::new()
        .delete(format!("{}/v1/trusted_issuers/{issuer_id}", b.url))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 204);
    within_a_second("a removed trusted issuer", || async {
        assets_status(&a.url, &second).await == 401
    })
    .await;
}

/// `grant_type=authorization_code` for the bootstrap-made `(id, secret)` at `url`.
async fn redeem_code(url: &str, (id, secret): (&str, &str), code: &str) -> serde_json::Value {
    reqwest::Client::new()
        .post(format!("{url}/oauth2/token"))
        .basic_auth(id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", "http://127.0.0.1:7/cb"),
            ("code_verifier", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
        ])
        .answer()
        .await
}

/// SPEC §15 on two instances: a code given on A is redeemed on B once — a second use on A is
/// refused and ends B's token —, and a consent withdrawn on B ends the token A issued.
#[tokio::test]
async fn on_postgres_a_code_works_once_across_instances_and_withdrawing_the_consent_ends_its_tokens(
) {
    let _serial = crate::TIMING.lock().await;
    let Some(two) = TwoInstances::start().await else {
        return;
    };
    let made = post_json(
        format!("{}/v1/integrations", two.a.url),
        &two.admin,
        serde_json::json!({"display_name": "Agent", "scopes": ["assets:read"], "redirect_uris": ["http://127.0.0.1/cb"]}),
    )
    .await;
    let client = (
        made["client_id"].as_str().unwrap().to_owned(),
        made["client_secret"].as_str().unwrap().to_owned(),
    );
    let client = (client.0.as_str(), client.1.as_str());
    let path = format!(
        "/oauth2/authorize?response_type=code&client_id={}&redirect_uri=http%3A%2F%2F127.0.0.1%3A7%2Fcb\
         &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&state=s",
        client.0
    );
    let http = oauth2::reqwest::ClientBuilder::new()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let code_on = |url: String| {
        let (http, path) = (&http, &path);
        async move {
            let back = crate::interop::allow_over_http(http, &url, &format!("{url}{path}")).await;
            back.query_pairs()
                .find(|(k, _)| k == "code")
                .map(|(_, v)| v.into_owned())
                .expect("a code")
        }
    };
    within_a_second("a new integration", || async {
        token(&two.b.url, client.0, client.1, None).await.status() == 200
    })
    .await;

    let code = code_on(two.a.url.clone()).await;
    let on_b = redeem_code(&two.b.url, client, &code).await;
    let live = on_b["access_token"].as_str().expect("a token from B").to_owned();
    let again = redeem_code(&two.a.url, client, &code).await;
    assert_eq!(again["error"], "invalid_grant", "{again}");
    within_a_second("the token of a code used twice", || async {
        introspect(&two.b.url, &live).await["active"] == false
    })
    .await;

    // Remembered on B; the token from A; the consent withdrawn on B ends it on A.
    let code = code_on(two.b.url.clone()).await;
    let issued = redeem_code(&two.a.url, client, &code).await;
    let from_a = issued["access_token"].as_str().unwrap().to_owned();
    let refresh_token = issued["refresh_token"].as_str().expect("a refresh token").to_owned();
    assert_eq!(introspect(&two.a.url, &from_a).await["active"], true);
    let consents = get_json(format!("{}/v1/consents", two.b.url), &two.admin).await;
    let id = consents["consents"][0]["id"].as_str().unwrap().to_owned();
    let withdrawn = reqwest::Client::new()
        .delete(format!("{}/v1/consents/{id}", two.b.url))
        .bearer_auth(&two.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(withdrawn.status(), 204);
    let took = within_a_second("a withdrawn consent", || async {
        introspect(&two.a.url, &from_a).await["active"] == false
    })
    .await;
    eprintln!("withdrawing reached the other instance in {took:?}");
    // And the refresh token A gave no longer works there.
    let refreshed: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/oauth2/token", two.a.url))
        .basic_auth(client.0, Some(client.1))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token.as_str())])
        .answer()
        .await;
    assert_eq!(refreshed["error"], "invalid_grant", "{refreshed}");
}

//! End-to-end tests: they spawn the `tessera` binary on `--listen 127.0.0.1:0` and talk to it
//! over HTTP, as a user would.

#![allow(clippy::unwrap_used)]

mod admin_cli;
mod apply;
mod architecture;
mod browser;
mod browser_across;
mod cli;
mod clients;
mod hardening;
mod instances;
mod interop;
mod mcp;
mod production;
mod readme;
mod scripts;
mod verify;
mod webhooks;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Held by the tests that measure time across instances and by the tests that load the machine
/// on purpose (thousands of connections): the two never run side by side, so a deadline of the
/// first is never spent waiting for the CPU the second takes.
pub static TIMING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub const BOOT_ID: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";
pub const BOOT_SECRET: &str = "bootstrap-secret-0123456789abcdef0123456789";
pub const MASTER_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// A running server process, killed on drop.
pub struct Server {
    pub child: Child,
    pub url: String,
    pub stdout: Vec<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn tessera() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera"));
    for (key, _) in std::env::vars() {
        if key.starts_with("TESSERA_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// Starts `tessera serve` and waits until it listens. With `bootstrap`, the first start takes
/// its admin credentials and the master key from the environment; without, it makes its own.
// The child is waited for by `Server::drop`; only a test that already failed leaves it early.
#[allow(clippy::zombie_processes)]
pub fn serve(data_dir: &Path, extra: &[&str], bootstrap: bool) -> Server {
    serve_logging(data_dir, extra, bootstrap, "warn", None)
}

/// [`serve`] with the log filter `log` (`TESSERA_LOG`), its stderr lines sent to `stderr`
/// when given (else shown with the test's).
#[allow(clippy::zombie_processes)]
pub fn serve_logging(
    data_dir: &Path,
    extra: &[&str],
    bootstrap: bool,
    log: &str,
    stderr: Option<mpsc::Sender<String>>,
) -> Server {
    let mut cmd = tessera();
    cmd.arg("serve").arg("--data-dir").arg(data_dir);
    // A free port unless the test names its own (to be found at the same issuer after a restart).
    if !extra.contains(&"--listen") {
        cmd.args(["--listen", "127.0.0.1:0"]);
    }
    cmd.args(extra);
    cmd.env("TESSERA_LOG", log);
    if bootstrap {
        // The tests' applications and key sets listen on loopback.
        cmd.env("TESSERA_ALLOW_PRIVATE_CALLBACKS", "true");
        cmd.env("TESSERA_MASTER_KEY", MASTER_KEY);
        cmd.env("TESSERA_BOOTSTRAP_ADMIN_CLIENT_ID", BOOT_ID)
            .env("TESSERA_BOOTSTRAP_ADMIN_CLIENT_SECRET", BOOT_SECRET)
            .env("TESSERA_BOOTSTRAP_ADMIN_EMAIL", "ops@example.com")
            .env("TESSERA_BOOTSTRAP_ADMIN_PASSWORD", "correct horse battery staple");
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(if stderr.is_some() { Stdio::piped() } else { Stdio::inherit() })
        .spawn()
        .expect("tessera starts");
    if let (Some(tx), Some(err)) = (stderr, child.stderr.take()) {
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    loop {
        let line = rx.recv_timeout(Duration::from_secs(60)).expect("tessera prints its address");
        lines.push(line.clone());
        if let Some(addr) = line.strip_prefix("tessera listening on ") {
            return Server { child, url: addr.to_owned(), stdout: lines };
        }
    }
}

pub fn data_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("data");
    (dir, path)
}

/// A client-credentials token from `url`.
pub async fn token(url: &str, id: &str, secret: &str, scope: Option<&str>) -> reqwest::Response {
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    reqwest::Client::new()
        .post(format!("{url}/oauth2/token"))
        .basic_auth(id, Some(secret))
        .form(&form)
        .send()
        .await
        .expect("token request")
}

/// A JWT's payload, unverified.
pub fn claims(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .expect("base64url"),
    )
    .expect("a JSON payload")
}

pub async fn access_token(url: &str, id: &str, secret: &str) -> String {
    let reply = token(url, id, secret, None).await;
    assert_eq!(reply.status(), 200);
    let body: serde_json::Value = reply.json().await.expect("json");
    body["access_token"].as_str().expect("access_token").to_owned()
}

/// A fresh PostgreSQL database, or `None` (with a notice) where the server binaries are missing.
/// CI installs them, so there a missing cluster fails the test instead.
pub fn postgres_or_skip() -> Option<String> {
    match tessera_store::testing::postgres_url() {
        Ok(url) => Some(url),
        Err(why) => {
            assert!(std::env::var_os("CI").is_none(), "CI must run this test: {why}");
            eprintln!("skipped: {why}");
            None
        }
    }
}

/// What the suites ask of a command they spawn.
pub trait Run {
    /// Runs it and asserts that it succeeded, showing its standard error if not.
    fn succeeds(&mut self) -> std::process::Output;
    /// Runs it: its exit status (-1 if killed), standard output and standard error.
    fn run(&mut self) -> (i32, String, String);
}

impl Run for Command {
    fn succeeds(&mut self) -> std::process::Output {
        let out = self.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        out
    }

    fn run(&mut self) -> (i32, String, String) {
        let out = self.output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

/// A request sent and its answer read as JSON (or any type), as every suite here asks of one.
pub trait Answer {
    fn answer<T: serde::de::DeserializeOwned>(self) -> impl std::future::Future<Output = T>;
}

impl Answer for reqwest::RequestBuilder {
    async fn answer<T: serde::de::DeserializeOwned>(self) -> T {
        self.send().await.unwrap().json().await.unwrap()
    }
}

/// `GET` with a bearer token, answered with JSON.
pub async fn get_json(url: String, token: &str) -> serde_json::Value {
    reqwest::Client::new().get(url).bearer_auth(token).answer().await
}

/// The status of `GET /v2/assets` with `token`: whether the server takes the token.
pub async fn assets_status(url: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{url}/v2/assets"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// `POST` of a JSON body with a bearer token, answered with JSON.
pub async fn post_json(url: String, token: &str, body: serde_json::Value) -> serde_json::Value {
    reqwest::Client::new().post(url).bearer_auth(token).json(&body).answer().await
}

/// An integration made at `server` by the bootstrap integration from `body` (which may name
/// redirect URIs for the code flow): its client id and secret.
pub async fn made_integration(server: &str, body: serde_json::Value) -> (String, String) {
    let admin = access_token(server, BOOT_ID, BOOT_SECRET).await;
    let made = post_json(format!("{server}/v1/integrations"), &admin, body).await;
    let text = |field: &str| {
        made[field].as_str().unwrap_or_else(|| panic!("no {field} in {made}")).to_owned()
    };
    (text("client_id"), text("client_secret"))
}

/// A second tenant with an admin integration, made through the API as an operator would:
/// `POST /v1/tenants` with the bootstrap integration's `platform` token, then an `admin` token
/// for the new tenant (client credentials with `tenant_id`) that registers its admin
/// integration. Returns (tenant id, client_id, secret).
pub async fn customer_tenant(server: &str) -> (String, String, String) {
    made_tenant(server, "Customer", "owner@customer.example").await
}

/// [`customer_tenant`] with a name and an invited first admin of the caller's choice.
pub async fn made_tenant(server: &str, name: &str, admin_email: &str) -> (String, String, String) {
    let platform = access_token(server, BOOT_ID, BOOT_SECRET).await;
    let created = post_json(
        format!("{server}/v1/tenants"),
        &platform,
        serde_json::json!({"display_name": name, "admin_email": admin_email}),
    )
    .await;
    let tenant = created["tenant_id"].as_str().expect("tenant_id").to_owned();
    let operator = operator_token(server, &tenant).await;
    let admin = post_json(
        format!("{server}/v1/integrations"),
        &operator,
        serde_json::json!({"display_name": "customer admin", "scopes": [
            "assets:read", "assets:write", "events:read", "events:write", "private_tokens",
            "admin", "impersonation"]}),
    )
    .await;
    (
        tenant,
        admin["client_id"].as_str().expect("client_id").to_owned(),
        admin["client_secret"].as_str().expect("secret").to_owned(),
    )
}

/// An `admin` token for `tenant` from the bootstrap (operator) integration (SPEC §4.1).
pub async fn operator_token(server: &str, tenant: &str) -> String {
    let reply = reqwest::Client::new()
        .post(format!("{server}/oauth2/token"))
        .basic_auth(BOOT_ID, Some(BOOT_SECRET))
        .form(&[("grant_type", "client_credentials"), ("tenant_id", tenant), ("scope", "admin")])
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200, "an operator token for {tenant}");
    let body: serde_json::Value = reply.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// A connection from `owner` to the integration `client_id`, with `assets:read`, written into
/// the database as an accepted consent would leave it, and announced on the change feed.
pub async fn connect_owner(
    database: &str,
    client_id: tessera_core::id::ClientId,
    vendor: tessera_core::id::TenantId,
    owner: tessera_core::id::TenantId,
) -> tessera_core::id::ConnectionId {
    use tessera_core::crypto::MasterKey;
    use tessera_core::model::{Connection, ConnectionStatus};
    use tessera_core::ports::{Change, OsRng};
    use tessera_core::scope::ScopeSet;

    let store = tessera_store::connect(database).await.unwrap();
    let key = MasterKey::parse(MASTER_KEY).unwrap();
    // The feed is read by time: a change must carry the real one to reach running instances.
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()
            as i64;
    let connection = Connection {
        id: tessera_core::id::ConnectionId::random(),
        owner_tenant_id: owner,
        client_id,
        client_tenant_id: vendor,
        scopes: ScopeSet::parse("assets:read").unwrap(),
        state: "s".into(),
        status: ConnectionStatus::Active,
        granted_by: "user:test".into(),
        created_at: now,
        updated_at: now,
    };
    store.create_connection(&connection).await.unwrap();
    store
        .store_connection_secrets(
            connection.id,
            &key.encrypt(&OsRng, "connection bearer token", b"receiver-token"),
            &key.encrypt(
                &OsRng,
                "connection webhook secret",
                b"whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            ),
            now,
        )
        .await
        .unwrap();
    store.publish(now, &Change::Connection(connection.id)).await.unwrap();
    connection.id
}

/// A platform's token service on loopback (SPEC §14): discovery and one key; its URL and key.
pub async fn platform() -> (String, tessera_core::token::SigningKey) {
    use tessera_core::token::{SigningAlg, SigningKey};
    let (key, _) = SigningKey::generate(SigningAlg::Es256, &tessera_core::ports::OsRng).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (issuer, keys) = (url.clone(), serde_json::json!({"keys": [key.public_jwk()]}));
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            axum::routing::get(move || {
                let issuer = issuer.clone();
                async move {
                    axum::Json(
                        serde_json::json!({"issuer": issuer, "jwks_uri": format!("{issuer}/keys")}),
                    )
                }
            }),
        )
        .route(
            "/keys",
            axum::routing::get(move || {
                let keys = keys.clone();
                async move { axum::Json(keys) }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, key)
}

/// Client credentials with a platform token as the client assertion.
pub async fn federated_token(
    url: &str,
    client_id: &str,
    platform_token: &str,
) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{url}/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", platform_token),
        ])
        .send()
        .await
        .unwrap()
}

/// A Kubernetes-shaped service-account token of `iss` for `system:serviceaccount:prod:<account>`
/// with the audience `tessera`, valid ten minutes from now.
pub fn k8s_token(key: &tessera_core::token::SigningKey, iss: &str, account: &str) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
        as i64;
    key.sign_jwt(&serde_json::json!({"iss": iss,
        "sub": format!("system:serviceaccount:prod:{account}"), "aud": ["tessera"],
        "iat": now, "exp": now + 600, "kubernetes.io": {"namespace": "prod"}}))
        .unwrap()
}

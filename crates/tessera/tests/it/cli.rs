//! The command line: first start, token get/decode, integration and key commands, durability.

use std::os::unix::fs::PermissionsExt;

use crate::Run;
use crate::{
    access_token, data_dir, get_json, post_json, serve, tessera, token, BOOT_ID, BOOT_SECRET,
    MASTER_KEY,
};

#[tokio::test]
async fn first_start_prints_a_working_curl_line_once() {
    let (_guard, dir) = data_dir();
    let first = serve(&dir, &[], false);
    let curl = first
        .stdout
        .iter()
        .find(|l| l.trim_start().starts_with("curl "))
        .expect("a curl line")
        .clone();
    let secret_line =
        first.stdout.iter().find(|l| l.contains("admin secret:")).expect("the secret").clone();
    let secret = secret_line.split_whitespace().last().unwrap().to_owned();
    assert!(curl.contains(&secret) && curl.contains(&first.url));
    // The console is named too, at this server's address: a page a person can open.
    let console = first
        .stdout
        .iter()
        .find(|l| l.contains("sign in to the console"))
        .expect("the console's address")
        .clone();
    let console_url = console.split_whitespace().last().unwrap().to_owned();
    assert_eq!(console_url, format!("{}/console", first.url));
    let page = reqwest::get(&console_url).await.unwrap();
    assert_eq!(page.status(), 200, "the sign-in page, after the redirect");
    assert!(page.text().await.unwrap().contains("id=\"password\""));
    let output = std::process::Command::new("sh").args(["-c", &curl]).output().expect("curl runs");
    let body: serde_json::Value = serde_json::from_slice(&output.stdout).expect("curl got JSON");
    assert_eq!(body["token_type"], "Bearer", "{body}");
    let mode = std::fs::metadata(dir.join("master.key")).unwrap().permissions().mode();
    drop(first);
    // A second start creates nothing and prints no secret.
    let second = serve(&dir, &[], false);
    assert!(!second.stdout.iter().any(|l| l.contains(&secret)));
    assert_eq!(mode & 0o777, 0o600);
    // The data folder and the database files are this user's only (SPEC §13).
    let mode_of = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode_of(&dir), 0o700);
    for file in ["tessera.db", "tessera.db-wal", "tessera.db-shm"] {
        let path = dir.join(file);
        if path.exists() {
            assert_eq!(mode_of(&path), 0o600, "{file}");
        }
    }
    assert!(dir.join("tessera.db").exists());
}

#[tokio::test]
async fn bootstrap_from_the_environment_prints_no_secret() {
    let (_guard, dir) = data_dir();
    let server = serve(&dir, &[], true);
    let printed = server.stdout.join("\n");
    assert!(!printed.contains(BOOT_SECRET) && !printed.contains("correct horse"));
    assert_eq!(token(&server.url, BOOT_ID, BOOT_SECRET, None).await.status(), 200);
}

#[tokio::test]
async fn token_get_writes_a_private_bearer_file_and_decode_verifies_it() {
    let (guard, dir) = data_dir();
    let server = serve(&dir, &["--signing-alg", "ES256"], true);
    let bearer = guard.path().join("dot-tessera").join("bearer-token.txt");
    let url = format!("{}/oauth2/token", server.url);
    let out = tessera()
        .args([
            "token",
            "get",
            "--client-id",
            BOOT_ID,
            "--token-url",
            &url,
            "--scope",
            "assets:read admin",
            "--bearer-file",
        ])
        .arg(&bearer)
        .env("TESSERA_CLIENT_SECRET", BOOT_SECRET)
        .succeeds();
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let file = std::fs::read_to_string(&bearer).unwrap();
    assert_eq!(file, format!("Authorization: Bearer {token}\n"));
    assert_eq!(
        std::fs::metadata(bearer.parent().unwrap()).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert_eq!(std::fs::metadata(&bearer).unwrap().permissions().mode() & 0o777, 0o600);

    // curl -H @file works with the file as written.
    let listed = std::process::Command::new("curl")
        .args(["-s", "-H"])
        .arg(format!("@{}", bearer.display()))
        .arg(format!("{}/v1/integrations", server.url))
        .output()
        .unwrap();
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed["integrations"][0]["client_id"], BOOT_ID);

    let decoded = tessera()
        .args(["token", "decode", &token, "--verify", "--server", &server.url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&decoded.stdout);
    assert!(decoded.status.success(), "{text}{}", String::from_utf8_lossy(&decoded.stderr));
    assert!(text.contains("\"typ\": \"at+jwt\"") && text.contains("\"alg\": \"ES256\""), "{text}");
    assert!(
        text.contains("exp  ") && text.contains("(in 59 minutes)") || text.contains("(in 1 hour)"),
        "{text}"
    );
    assert!(text.contains("Signature: valid"), "{text}");

    let mut tampered = token.clone();
    tampered.replace_range(tampered.len() - 5.., "AAAAA");
    let refused = tessera()
        .args(["token", "decode", &tampered, "--verify", "--server", &server.url])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("NOT valid"));

    let wrong = tessera()
        .args(["token", "get", "--client-id", BOOT_ID, "--token-url", &url])
        .env("TESSERA_CLIENT_SECRET", "wrong")
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("invalid_client"));
}

#[tokio::test]
async fn integration_and_key_commands_change_the_running_server_within_a_second() {
    let (_guard, dir) = data_dir();
    let server = serve(&dir, &[], true);
    let storage = ["--data-dir", dir.to_str().unwrap()];
    let created = tessera()
        .args([
            "admin",
            "offline",
            "integration",
            "create",
            "--name",
            "cli-made",
            "--scopes",
            "assets:read",
        ])
        .args(storage)
        .env("TESSERA_MASTER_KEY", MASTER_KEY)
        .succeeds();
    let text = String::from_utf8(created.stdout).unwrap();
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .unwrap()
            .split_whitespace()
            .last()
            .unwrap()
            .to_owned()
    };
    let (id, secret) = (field("client_id:"), field("client_secret:"));
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    assert_eq!(token(&server.url, &id, &secret, None).await.status(), 200);

    let listed =
        tessera().args(["admin", "offline", "integration", "list"]).args(storage).output().unwrap();
    assert!(String::from_utf8_lossy(&listed.stdout).contains("cli-made"));

    let jwks = |url: String| async move {
        reqwest::get(url).await.unwrap().json::<serde_json::Value>().await.unwrap()
    };
    let before =
        jwks(format!("{}/oauth2/jwks", server.url)).await["keys"].as_array().unwrap().len();
    tessera()
        .args(["keys", "rotate"])
        .args(storage)
        .env("TESSERA_MASTER_KEY", MASTER_KEY)
        .succeeds();
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    assert_eq!(
        jwks(format!("{}/oauth2/jwks", server.url)).await["keys"].as_array().unwrap().len(),
        before + 1
    );

    let deleted = tessera()
        .args(["admin", "offline", "integration", "delete", &id, "--yes"])
        .args(storage)
        .output()
        .unwrap();
    assert!(deleted.status.success());
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    assert_eq!(token(&server.url, &id, &secret, None).await.status(), 401);

    let migrated = tessera().arg("migrate").args(storage).output().unwrap();
    assert!(String::from_utf8_lossy(&migrated.stdout).contains("up to date"));
}

#[tokio::test]
async fn print_config_redacts_secrets() {
    let out = tessera()
        .args([
            "serve",
            "--print-config",
            "--database",
            "postgres://tessera:hunter2@db:5432/t",
            "--signing-alg",
            "EdDSA",
        ])
        .env("TESSERA_MASTER_KEY", MASTER_KEY)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(!text.contains("hunter2") && !text.contains(MASTER_KEY), "{text}");
    assert!(text.contains("signing_alg = \"EdDSA\""));
    let bad =
        tessera().args(["serve", "--signing-alg", "HS256", "--print-config"]).output().unwrap();
    assert!(String::from_utf8_lossy(&bad.stderr).contains("HS256"));
    let zero = tessera()
        .args(["serve", "--private-token-max-bytes", "0", "--print-config"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&zero.stderr).contains("private_token_max_bytes"));
    // Trusted proxies: shown as parsed; a range that does not parse is named, and nothing runs.
    let proxies = tessera()
        .args(["serve", "--trusted-proxies", "10.0.0.0/8, 127.0.0.1", "--print-config"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&proxies.stdout)
        .contains("trusted_proxies = \"10.0.0.0/8,127.0.0.1/32\""));
    let wrong = tessera()
        .args(["serve", "--trusted-proxies", "10.0.0.0/33", "--print-config"])
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    let said = String::from_utf8_lossy(&wrong.stderr);
    assert!(said.contains("--trusted-proxies") && said.contains("`10.0.0.0/33`"), "{said}");
    let level =
        tessera().args(["serve", "--access-log", "some", "--print-config"]).output().unwrap();
    assert!(!level.status.success());
    let said = String::from_utf8_lossy(&level.stderr);
    assert!(said.contains("access_log must be all, errors or off (got `some`)"), "{said}");
}

#[tokio::test]
async fn the_private_token_limit_is_configurable() {
    let (_guard, dir) = data_dir();
    let server = serve(&dir, &["--private-token-max-bytes", "1024"], true);
    let admin = access_token(&server.url, BOOT_ID, BOOT_SECRET).await;
    let put = |size: usize| {
        reqwest::Client::new()
            .put(format!("{}/v1/private_tokens/r/k", server.url))
            .bearer_auth(&admin)
            .header("content-type", "text/plain")
            .body("x".repeat(size))
            .send()
    };
    assert_eq!(put(1024).await.unwrap().status(), 201);
    let over = put(1025).await.unwrap();
    assert_eq!(over.status(), 413);
    let body: serde_json::Value = over.json().await.unwrap();
    assert!(body["error_description"].as_str().unwrap().contains("1024 bytes"), "{body}");
}

#[tokio::test]
async fn a_killed_server_loses_no_committed_change() {
    let (_guard, dir) = data_dir();
    let mut server = serve(&dir, &[], true);
    let admin = access_token(&server.url, BOOT_ID, BOOT_SECRET).await;
    let created = post_json(
        format!("{}/v1/integrations", server.url),
        &admin,
        serde_json::json!({"display_name": "survivor"}),
    )
    .await;
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    let again = serve(&dir, &[], true);
    let id = created["client_id"].as_str().unwrap();
    let secret = created["client_secret"].as_str().unwrap();
    assert_eq!(token(&again.url, id, secret, None).await.status(), 200);
}

#[tokio::test]
async fn sigterm_stops_gracefully_and_writes_the_queued_audit_records() {
    let (_guard, dir) = data_dir();
    let mut server = serve(&dir, &[], true);
    let token = access_token(&server.url, BOOT_ID, BOOT_SECRET).await;
    let jti = tessera_core::token::DecodedJws::decode(&token).unwrap().payload["jti"]
        .as_str()
        .unwrap()
        .to_owned();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = server.child.wait().unwrap();
    assert!(exit.success(), "a graceful stop exits 0, got {exit:?}");

    let again = serve(&dir, &[], true);
    let admin = access_token(&again.url, BOOT_ID, BOOT_SECRET).await;
    let audit = get_json(format!("{}/v1/audit?page_size=100", again.url), &admin).await;
    let entries = audit["entries"].as_array().unwrap();
    assert!(
        entries.iter().any(|e| e["action"] == "token.issued" && e["target"] == jti.as_str()),
        "the token issued just before the stop is in the audit log"
    );
}

/// `key.pem` and a self-signed `cert.pem` (RSA, two days) in `dir`, made by openssl.
pub(crate) fn self_signed(dir: &std::path::Path) {
    openssl_words(
        dir,
        "req -x509 -nodes -days 2 -subj /CN=connector -newkey rsa:2048 \
         -keyout key.pem -out cert.pem",
    );
}

/// Runs `openssl` with `args` in `dir`; panics with its stderr if it fails.
pub(crate) fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the openssl command runs");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// [`openssl`] with its arguments written as one line (none of them holds a space).
fn openssl_words(dir: &std::path::Path, words: &str) {
    openssl(dir, &words.split_whitespace().collect::<Vec<_>>());
}

/// A server whose operator integration may act for its users with the key in `keys/`:
/// `key.pem`, `store.p12` (alias `connector`, password `s3cret`) and `old.p12`, the same key
/// with a certificate that expired in 2020. The server, the key directory, the token URL.
async fn key_stores(dir: &std::path::Path) -> (crate::Server, std::path::PathBuf, String) {
    let server = crate::serve(dir, &[], true);
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    self_signed(&keys);
    let export = "pkcs12 -export -inkey key.pem -name connector -passout pass:s3cret";
    openssl_words(&keys, &format!("{export} -in cert.pem -out store.p12"));
    // The expired certificate, issued by `openssl ca` with explicit dates.
    std::fs::write(keys.join("index.txt"), "").unwrap();
    std::fs::write(keys.join("serial"), "01\n").unwrap();
    std::fs::write(
        keys.join("ca.cnf"),
        "[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\n\
         default_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n",
    )
    .unwrap();
    openssl_words(&keys, "req -new -key key.pem -subj /CN=old -out csr.pem");
    openssl_words(
        &keys,
        "ca -batch -config ca.cnf -selfsign -keyfile key.pem -in csr.pem -out old.pem \
         -startdate 20200101000000Z -enddate 20200102000000Z",
    );
    openssl_words(&keys, &format!("{export} -in old.pem -out old.p12"));

    let admin = crate::access_token(&server.url, crate::BOOT_ID, crate::BOOT_SECRET).await;
    let cert = std::fs::read_to_string(keys.join("cert.pem")).unwrap();
    crate::post_json(
        format!("{}/v1/integrations/{}/keys", server.url, crate::BOOT_ID),
        &admin,
        serde_json::json!({ "certificate": cert }),
    )
    .await;
    crate::post_json(
        format!("{}/v1/consents", server.url),
        &admin,
        serde_json::json!({"client_id": crate::BOOT_ID, "user": "*",
                           "scopes": ["assets:read", "events:read"]}),
    )
    .await;
    let token_url = format!("{}/oauth2/token", server.url);
    (server, keys, token_url)
}

/// `tessera token jwt-bearer` for ops@example.com with `keys/<store>`, the bearer header
/// written to `keys/out/bearer.txt`. `file:<password>`: the password from a file; otherwise
/// from the environment.
fn jwt_bearer(
    keys: &std::path::Path,
    token_url: &str,
    store: &str,
    password: &str,
    alias: Option<&str>,
) -> std::process::Output {
    let mut cmd = crate::tessera();
    cmd.args(["token", "jwt-bearer", "--issuer", crate::BOOT_ID, "--subject", "ops@example.com"])
        .arg("--key-store")
        .arg(keys.join(store))
        .args(["--token-url", token_url, "--scope", "assets:read"])
        .arg("--bearer-file")
        .arg(keys.join("out").join("bearer.txt"));
    if let Some(alias) = alias {
        cmd.args(["--key-alias", alias]);
    }
    match password.strip_prefix("file:") {
        Some(password) => {
            let file = keys.join("password.txt");
            std::fs::write(&file, format!("{password}\n")).unwrap();
            cmd.arg("--key-store-password-file").arg(file);
        }
        None => {
            cmd.env("TESSERA_KEY_STORE_PASSWORD", password);
        }
    }
    cmd.output().unwrap()
}

#[tokio::test]
async fn token_jwt_bearer_signs_with_a_pkcs12_key_store_made_by_openssl() {
    let (_guard, dir) = crate::data_dir();
    let (_server, keys, token_url) = key_stores(&dir).await;
    let run =
        |store: &str, password: &str, alias| jwt_bearer(&keys, &token_url, store, password, alias);
    let ok = run("store.p12", "s3cret", Some("connector"));
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let token = String::from_utf8(ok.stdout).unwrap();
    let decoded = tessera_core::token::DecodedJws::decode(token.trim()).unwrap();
    assert_eq!(decoded.payload["act"]["sub"], crate::BOOT_ID);
    assert_eq!(decoded.payload["scope"], "assets:read");
    let bearer = std::fs::read_to_string(keys.join("out").join("bearer.txt")).unwrap();
    assert_eq!(bearer.trim(), format!("Authorization: Bearer {}", token.trim()));
    let from_file = run("store.p12", "file:s3cret", Some("connector"));
    assert!(from_file.status.success(), "{}", String::from_utf8_lossy(&from_file.stderr));
    // PEM works too, without a password.
    let pem = run("key.pem", "", None);
    assert!(pem.status.success(), "{}", String::from_utf8_lossy(&pem.stderr));
}

#[tokio::test]
async fn token_jwt_bearer_says_a_password_is_wrong_an_alias_missing_or_a_certificate_expired() {
    let (_guard, dir) = crate::data_dir();
    let (_server, keys, token_url) = key_stores(&dir).await;
    let run =
        |store: &str, password: &str, alias| jwt_bearer(&keys, &token_url, store, password, alias);
    let wrong = run("store.p12", "wrong", Some("connector"));
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("wrong password"));
    let missing = run("store.p12", "s3cret", Some("nobody"));
    let message = String::from_utf8_lossy(&missing.stderr).into_owned();
    assert!(
        message.contains("no private key with alias `nobody`") && message.contains("connector"),
        "{message}"
    );
    let expired = run("old.p12", "s3cret", Some("connector"));
    assert!(!expired.status.success());
    let message = String::from_utf8_lossy(&expired.stderr).into_owned();
    assert!(message.contains("expired on 2020-01-02"), "{message}");
}

/// Runs `tessera tenant …` against `server` as the bootstrap (operator) integration, with the
/// secret in the environment; returns (success, stdout, stderr).
fn tenant_cli(server: &str, args: &[&str]) -> (bool, String, String) {
    let output = tessera()
        .arg("tenant")
        .args(args)
        .args(["--server", server, "--client-id", BOOT_ID])
        .env("TESSERA_CLIENT_SECRET", BOOT_SECRET)
        .output()
        .expect("tessera runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn tenant_commands_manage_tenants_through_the_api() {
    let (_guard, dir) = data_dir();
    let server = serve(&dir, &[], true);
    let url = server.url.as_str();
    let (ok, out, err) = tenant_cli(
        url,
        &[
            "create",
            "--set",
            "display_name=Acme",
            "--set",
            "tier=ENTERPRISE",
            "--set",
            "admin_email=ada@acme.example",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("Acme") && out.contains("ENTERPRISE"), "{out}");
    assert!(out.contains("/console/set-password?token="), "{out}");
    let (ok, out, err) = tenant_cli(url, &["list", "--output", "json"]);
    assert!(ok, "{err}");
    let listed: serde_json::Value = serde_json::from_str(&out).unwrap();
    let tenants = listed["tenants"].as_array().unwrap();
    assert_eq!(tenants.len(), 2, "{out}");
    let id = tenants[1]["tenant_id"].as_str().unwrap().to_owned();
    let (ok, out, _) = tenant_cli(url, &["list"]);
    assert!(ok && out.starts_with("TENANT_ID") && out.contains("operator"), "{out}");

    let (ok, out, err) = tenant_cli(url, &["disable", &id, "--output", "json"]);
    assert!(ok, "{err}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&out).unwrap()["disabled"], true);
    let bare = id.trim_start_matches("tenant/");
    let (ok, out, _) = tenant_cli(url, &["enable", bare, "--output", "json"]);
    assert!(ok);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&out).unwrap()["disabled"], false);
    let (ok, out, _) = tenant_cli(url, &["show", &id]);
    assert!(ok && out.contains("active"), "{out}");

    let (ok, _, err) = tenant_cli(url, &["delete", &id]);
    assert!(!ok && err.contains("--yes"), "{err}");
    let (ok, _, err) = tenant_cli(url, &["delete", &id, "--yes"]);
    assert!(ok, "{err}");
    let (ok, _, err) = tenant_cli(url, &["show", &id]);
    assert!(!ok && err.contains("404") && err.contains("tenant not found"), "{err}");
    let (ok, _, err) = tenant_cli(
        url,
        &[
            "create",
            "--set",
            "display_name=X",
            "--set",
            "tier=GOLD",
            "--set",
            "admin_email=x@x.example",
        ],
    );
    assert!(!ok && err.contains("tier"), "{err}");
    let (ok, _, err) = tenant_cli(url, &["disable", &format!("/v1/tenants/{}", BOOT_ID)]);
    assert!(!ok && err.contains("400"), "{err}");

    // No secret, no call; the secret never needs the command line.
    let output = tessera()
        .args(["tenant", "list", "--server", url, "--client-id", BOOT_ID])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("TESSERA_CLIENT_SECRET"));
}

/// `tessera backup` copies the database while the server runs; the copy is a working database
/// with what was there, private (0600); an existing file is never replaced and nothing
/// half-written stays; PostgreSQL is refused with the reason.
#[tokio::test]
async fn backup_copies_a_live_database_and_never_replaces_a_file() {
    use std::os::unix::fs::PermissionsExt;
    let (guard, dir) = crate::data_dir();
    let server = crate::serve(&dir, &[], true);
    let admin = crate::access_token(&server.url, crate::BOOT_ID, crate::BOOT_SECRET).await;
    let made = crate::post_json(
        format!("{}/v1/integrations", server.url),
        &admin,
        serde_json::json!({"display_name": "kept in the backup"}),
    )
    .await;
    assert!(made["client_id"].is_string(), "{made}");
    let to = guard.path().join("copy.db");
    let backup = {
        let (dir, to) = (dir.clone(), to.clone());
        move || {
            tessera()
                .args(["backup", "--data-dir"])
                .arg(&dir)
                .arg("--to")
                .arg(&to)
                .output()
                .unwrap()
        }
    };
    // Writes go on while the copy is taken.
    let writing = tokio::spawn({
        let (url, admin) = (server.url.clone(), admin.clone());
        async move {
            let mut made = 0;
            for n in 0..40 {
                let reply = crate::post_json(
                    format!("{url}/v1/integrations"),
                    &admin,
                    serde_json::json!({"display_name": format!("written meanwhile {n}")}),
                )
                .await;
                if reply["client_id"].is_string() {
                    made += 1;
                }
            }
            made
        }
    });
    let done = tokio::task::spawn_blocking(backup.clone()).await.unwrap();
    assert_eq!(writing.await.unwrap(), 40, "every write during the backup succeeded");
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    assert!(String::from_utf8_lossy(&done.stdout).contains("integrity checked"));
    // A server started on the copy (with the same master key) serves what it holds.
    let restored = guard.path().join("restored");
    std::fs::create_dir_all(&restored).unwrap();
    std::fs::copy(&to, restored.join("tessera.db")).unwrap();
    let on_copy = crate::serve(&restored, &[], true);
    let (id, secret) = (made["client_id"].as_str(), made["client_secret"].as_str());
    let token = crate::token(&on_copy.url, id.unwrap(), secret.unwrap(), None).await;
    assert_eq!(token.status(), 200);
    drop(on_copy);
    let mode = std::fs::metadata(&to).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let (_, listed, stderr) = tessera()
        .args(["admin", "offline", "integration", "list", "--database"])
        .arg(format!("sqlite://{}", to.display()))
        .run();
    assert!(listed.contains("kept in the backup"), "{listed}{stderr}");
    // Again to the same name: refused, the first copy untouched, nothing left beside it.
    let before = std::fs::read(&to).unwrap();
    let again = backup();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
    assert_eq!(std::fs::read(&to).unwrap(), before);
    let leftovers: Vec<_> = std::fs::read_dir(guard.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn backup_refuses_postgres_and_a_database_that_is_not_there() {
    let guard = tempfile::tempdir().unwrap();
    let pg = tessera()
        .args(["backup", "--database", "postgres://db/tessera", "--to"])
        .arg(guard.path().join("pg.db"))
        .output()
        .unwrap();
    assert!(!pg.status.success());
    assert!(String::from_utf8_lossy(&pg.stderr).contains("pg_dump"));
    let missing = tessera()
        .args(["backup", "--database"])
        .arg(format!("sqlite://{}", guard.path().join("none.db").display()))
        .arg("--to")
        .arg(guard.path().join("none-copy.db"))
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot open the database"));
    assert!(!guard.path().join("none-copy.db").exists());
}

/// Collects the server's stderr lines that arrive within `wait`.
fn lines_within(rx: &std::sync::mpsc::Receiver<String>, wait: std::time::Duration) -> Vec<String> {
    let until = std::time::Instant::now() + wait;
    let mut lines = Vec::new();
    while let Some(left) = until.checked_duration_since(std::time::Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) => lines.push(line),
            Err(_) => break,
        }
    }
    lines
}

/// At the default level every request has an access line (route template, status, the
/// integration, the address, the request id) and a failed authentication a `warn` line
/// without the secret; `--access-log errors` keeps only 4xx and 5xx.
#[tokio::test]
async fn requests_are_logged_with_their_route_and_client_and_failures_warned() {
    for (level, expect_ok_line) in [("all", true), ("errors", false)] {
        let (_guard, dir) = crate::data_dir();
        let (tx, rx) = std::sync::mpsc::channel();
        let server = crate::serve_logging(&dir, &["--access-log", level], true, "info", Some(tx));
        // A request id of the client's choosing is quoted and escaped, never a line of its own.
        let odd = reqwest::Client::new()
            .get(format!("{}/healthz", server.url))
            .header("x-request-id", "a\"b c")
            .send()
            .await
            .unwrap();
        assert_eq!(odd.status(), 200);
        let ok = token(&server.url, crate::BOOT_ID, crate::BOOT_SECRET, None).await;
        assert_eq!(ok.status(), 200);
        let wrong = token(&server.url, crate::BOOT_ID, "not-the-secret-xyz", None).await;
        assert_eq!(wrong.status(), 401);
        let lines = lines_within(&rx, std::time::Duration::from_millis(1500));
        let access: Vec<&String> = lines.iter().filter(|l| l.contains("tessera::access")).collect();
        let ok_line =
            access.iter().find(|l| l.contains("status=200") && l.contains("/oauth2/token"));
        assert_eq!(ok_line.is_some(), expect_ok_line, "{level}: {lines:#?}");
        if let Some(line) = ok_line {
            for part in [
                "method=\"POST\"",
                "route=\"/oauth2/token\"",
                "client_id=0f8fad5b",
                "peer=127.0.0.1",
                "request_id=",
                "micros=",
            ] {
                assert!(line.contains(part), "{part} in {line}");
            }
            assert!(
                access
                    .iter()
                    .any(|l| l.contains("route=\"/healthz\"")
                        && l.contains(r#"request_id="a\"b c""#)),
                "{access:#?}"
            );
        }
        assert!(access.iter().any(|l| l.contains("status=401")), "{level}: {lines:#?}");
        let warned = lines
            .iter()
            .find(|l| l.contains("WARN") && l.contains("authentication failed"))
            .unwrap_or_else(|| panic!("{lines:#?}"));
        assert!(warned.contains(crate::BOOT_ID) && warned.contains("peer=127.0.0.1"), "{warned}");
        assert!(lines
            .iter()
            .all(|l| !l.contains("not-the-secret-xyz") && !l.contains(crate::BOOT_SECRET)));
        drop(server);
    }

    // As JSON with --log-format json: one object a line, the fields by name.
    let (_guard, dir) = crate::data_dir();
    let (tx, rx) = std::sync::mpsc::channel();
    let server = crate::serve_logging(&dir, &["--log-format", "json"], true, "info", Some(tx));
    let ok = token(&server.url, crate::BOOT_ID, crate::BOOT_SECRET, None).await;
    assert_eq!(ok.status(), 200);
    let lines = lines_within(&rx, std::time::Duration::from_millis(1500));
    let access: serde_json::Value = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["target"] == "tessera::access")
        .unwrap_or_else(|| panic!("{lines:#?}"));
    assert_eq!(access["level"], "INFO");
    let fields = &access["fields"];
    assert_eq!(fields["method"], "POST");
    assert_eq!(fields["route"], "/oauth2/token");
    assert_eq!(fields["status"], 200);
    assert_eq!(fields["client_id"], crate::BOOT_ID);
    assert_eq!(fields["peer"], "127.0.0.1");
    assert!(fields["micros"].is_u64() && fields["request_id"].is_string(), "{access}");
}

#[tokio::test]
async fn token_get_with_a_dpop_key_binds_the_token_following_the_servers_nonce() {
    let (guard, dir) = data_dir();
    let server = serve(&dir, &["--dpop-nonces"], true);
    let keys = guard.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    openssl_words(&keys, "genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out dpop.pem");
    let url = format!("{}/oauth2/token", server.url);
    let get = |extra: &[&str]| {
        tessera()
            .args(["token", "get", "--client-id", BOOT_ID, "--token-url", &url, "--dpop-key"])
            .arg(keys.join("dpop.pem"))
            .args(extra)
            .env("TESSERA_CLIENT_SECRET", BOOT_SECRET)
            .output()
            .unwrap()
    };
    let out = get(&[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let jkt = crate::claims(&token)["cnf"]["jkt"].as_str().map(str::to_owned);
    assert!(jkt.is_some_and(|j| j.len() == 43), "{}", crate::claims(&token));
    let with_file = get(&["--bearer-file", "/tmp/never-written"]);
    assert_eq!(with_file.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&with_file.stderr)
        .contains("--bearer-file cannot go with --dpop-key"));
    std::fs::write(keys.join("not.pem"), "hello").unwrap();
    let refused = tessera()
        .args(["token", "get", "--client-id", BOOT_ID, "--token-url", &url, "--dpop-key"])
        .arg(keys.join("not.pem"))
        .env("TESSERA_CLIENT_SECRET", BOOT_SECRET)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("PKCS#8"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

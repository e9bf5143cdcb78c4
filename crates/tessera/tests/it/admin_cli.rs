//! The admin command line over the API (SPEC §10): `login`/`logout` with profiles, and the
//! `list|get|create|update|delete` commands, against a spawned server, their JSON parsed.

use crate::Run;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The command line with its profiles kept under `config`, run with `env` (a server and an
/// integration's credentials, as scripts give them; none to use a saved profile).
struct Cli {
    config: PathBuf,
    env: Vec<(&'static str, String)>,
}

impl Cli {
    /// The saved profiles under `config` (none yet, or those `tessera login` keeps there).
    fn profiles(config: &Path) -> Cli {
        Cli { config: config.to_owned(), env: Vec::new() }
    }

    /// `server` reached as the integration `id` from the environment, no profile.
    fn as_integration(config: &Path, server: &str, id: &str, secret: &str) -> Cli {
        let env = vec![
            ("TESSERA_SERVER", server.to_owned()),
            ("TESSERA_CLIENT_ID", id.to_owned()),
            ("TESSERA_CLIENT_SECRET", secret.to_owned()),
        ];
        Cli { config: config.to_owned(), env }
    }

    /// `tessera <args>`: status code, stdout, stderr.
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let env = self.env.iter().map(|(k, v)| (*k, v.as_str()));
        crate::tessera().args(args).env("XDG_CONFIG_HOME", &self.config).envs(env).run()
    }

    /// Runs `args`, which must succeed: its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let (code, stdout, stderr) = self.run(args);
        assert_eq!(code, 0, "{args:?}: {stderr}{stdout}");
        stdout
    }

    /// [`Cli::ok`] with `--output json`, parsed.
    fn json(&self, args: &[&str]) -> Value {
        json(&self.ok(&[args, &["--output", "json"]].concat()))
    }

    /// Runs `args`, which must exit with `code` and say `says` on stderr.
    fn exits(&self, args: &[&str], code: i32, says: &str) {
        let (got, _, stderr) = self.run(args);
        assert_eq!(got, code, "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {says} not in {stderr}");
    }

    /// `tessera login` to `server` as `id`, the secret from `secret_file`, saved as `profile`.
    fn login(
        &self,
        server: &str,
        id: &str,
        secret_file: &Path,
        profile: &str,
    ) -> (i32, String, String) {
        let secret_file = secret_file.to_str().unwrap();
        self.run(&[
            "login",
            "--profile",
            profile,
            "--server",
            server,
            "--client-id",
            id,
            "--client-secret-file",
            secret_file,
        ])
    }
}

fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A server whose operator integration is logged in as the `default` profile; the directory
/// (kept while the guard lives) holds `config` and the secret's file `secret`.
fn logged_in() -> (tempfile::TempDir, crate::Server, Cli) {
    let (guard, dir) = crate::data_dir();
    let server = crate::serve(&dir, &[], true);
    let cli = Cli::profiles(&guard.path().join("config"));
    let secret_file = guard.path().join("secret");
    std::fs::write(&secret_file, format!("{}\n", crate::BOOT_SECRET)).unwrap();
    let (code, _, stderr) = cli.login(&server.url, crate::BOOT_ID, &secret_file, "default");
    assert_eq!(code, 0, "{stderr}");
    (guard, server, cli)
}

#[tokio::test]
async fn login_keeps_a_private_profile_and_logout_forgets_it() {
    let (guard, dir) = crate::data_dir();
    let server = crate::serve(&dir, &[], true);
    let config = guard.path().join("config");
    let cli = Cli::profiles(&config);
    let secret_file = guard.path().join("secret");
    std::fs::write(&secret_file, format!("{}\n", crate::BOOT_SECRET)).unwrap();

    // Not logged in yet: said so, with what to do.
    cli.exits(&["integration", "list"], 1, "not logged in");
    cli.exits(&["integration", "list"], 1, "tessera login");
    // A wrong secret saves nothing.
    let wrong = guard.path().join("wrong");
    std::fs::write(&wrong, "not-the-secret").unwrap();
    let (code, _, stderr) = cli.login(&server.url, crate::BOOT_ID, &wrong, "default");
    assert_ne!(code, 0);
    assert!(stderr.contains("cannot get a token"), "{stderr}");
    assert!(!config.join("tessera/profiles.toml").exists());

    let (code, stdout, stderr) = cli.login(&server.url, crate::BOOT_ID, &secret_file, "default");
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("logged in to") && stdout.contains("admin"), "{stdout}");
    let profiles = config.join("tessera/profiles.toml");
    assert_eq!(mode(&profiles), 0o600);
    assert_eq!(mode(&config.join("tessera")), 0o700);

    // A second profile; and the environment instead of a profile, for scripts.
    let (code, _, _) = cli.login(&server.url, crate::BOOT_ID, &secret_file, "other");
    assert_eq!(code, 0);
    cli.ok(&["integration", "list", "--profile", "other"]);
    cli.ok(&["logout"]);
    cli.exits(&["logout"], 1, "there is no profile `default`");
    cli.exits(&["integration", "list"], 1, "not logged in");
    cli.ok(&["integration", "list", "--profile", "other"]);
    let scripted = Cli::as_integration(&config, &server.url, crate::BOOT_ID, crate::BOOT_SECRET);
    scripted.json(&["integration", "list"]);
    let text = std::fs::read_to_string(&profiles).unwrap();
    assert!(!text.contains("[profiles.default]"), "{text}");
}

#[tokio::test]
async fn the_admin_commands_manage_integrations_over_the_api() {
    let (guard, server, cli) = logged_in();
    // Create from --set pairs (JSON values where they parse); the secret printed this once.
    let made = cli.json(&[
        "integration",
        "create",
        "--set",
        "display_name=Billing export",
        "--set",
        r#"scopes=["assets:read"]"#,
    ]);
    let id = made["client_id"].as_str().unwrap().to_owned();
    let secret = made["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(made["scopes"], serde_json::json!(["assets:read"]));
    assert_eq!(crate::token(&server.url, &id, &secret, None).await.status(), 200);

    // Listing follows every page (two a page here), as JSON with the API's field names.
    for n in 0..3 {
        cli.ok(&["integration", "create", "--set", &format!("display_name=extra {n}")]);
    }
    let listed = cli.json(&["integration", "list", "--page-size", "2"]);
    let listed = listed["integrations"].as_array().unwrap();
    let names: Vec<&str> = listed.iter().map(|i| i["display_name"].as_str().unwrap()).collect();
    for wanted in ["Billing export", "extra 0", "extra 1", "extra 2"] {
        assert!(names.contains(&wanted), "{wanted} in {names:?}");
    }
    assert!(listed.len() >= 5, "{names:?}");
    // As a table for people.
    let table = cli.ok(&["integration", "list"]);
    assert!(table.starts_with("CLIENT_ID"), "{table}");
    let row =
        |l: &str| l.contains(&id) && l.contains("Billing export") && l.contains("assets:read");
    assert!(table.lines().any(row), "{table}");

    // Get, update, delete; the server's refusal is exit status 3 with its words.
    let got = cli.json(&["integration", "get", &id]);
    assert_eq!(got["display_name"], "Billing export");
    assert!(got.get("client_secret").is_none(), "never shown again");
    let body = guard.path().join("patch.json");
    std::fs::write(&body, r#"{"display_name": "Billing", "token_ttl_seconds": 600}"#).unwrap();
    let updated = cli.json(&["integration", "update", &id, "--file", body.to_str().unwrap()]);
    assert_eq!(
        (&updated["display_name"], &updated["token_ttl_seconds"]),
        (&"Billing".into(), &600.into())
    );
    let bad_scope = ["integration", "update", &id, "--set", r#"scopes=["no-such-scope"]"#];
    cli.exits(&bad_scope, 3, "400");
    cli.exits(&bad_scope, 3, "no-such-scope");
    // Deleting asks first: with no terminal to ask on, it needs --yes and changes nothing.
    cli.exits(&["integration", "delete", &id], 2, "add --yes");
    cli.ok(&["integration", "get", &id]);
    cli.ok(&["integration", "delete", &id, "--yes"]);
    cli.exits(&["integration", "get", &id], 3, "404");

    // Usage errors are exit status 2, as clap's own.
    cli.exits(&["integration", "create"], 2, "nothing to send");
    cli.exits(&["integration", "create", "--set", "display_name"], 2, "field=value");
    cli.exits(&["integration", "frobnicate"], 2, "");
    cli.exits(&["audit", "get", "x"], 2, "not something the API offers");
    // The audit log, as JSON.
    let audit = cli.json(&["audit", "list"]);
    assert!(!audit["entries"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn policies_and_users_are_managed_with_the_same_commands() {
    let (guard, dir) = crate::data_dir();
    let server = crate::serve(&dir, &[], true);
    let cli = Cli::as_integration(
        &guard.path().join("config"),
        &server.url,
        crate::BOOT_ID,
        crate::BOOT_SECRET,
    );
    let policy = guard.path().join("policy.json");
    std::fs::write(
        &policy,
        serde_json::json!({
            "display_name": "Read crates",
            "description": "crates only",
            "filters": [{"asset_types": ["Crate"]}],
            "permissions": [{"actors": [{"client_id": crate::BOOT_ID}], "attributes": ["*"]}]
        })
        .to_string(),
    )
    .unwrap();
    let made = cli.json(&["policy", "create", "--file", policy.to_str().unwrap()]);
    let identity = made["identity"].as_str().unwrap().to_owned();
    assert_eq!(cli.json(&["policy", "get", &identity])["display_name"], "Read crates");
    let table = cli.ok(&["policy", "list"]);
    assert!(table.contains(&identity) && table.contains("Read crates"), "{table}");
    cli.ok(&["policy", "delete", &identity, "--yes"]);

    let stdout = cli.ok(&[
        "user",
        "create",
        "--set",
        "email=ana@example.com",
        "--set",
        "display_name=Ana",
        "--set",
        "role=member",
    ]);
    assert!(stdout.contains("ana@example.com") && stdout.contains("one-time link"), "{stdout}");
    // Any other call with `tessera api`; --field for shell variables.
    let next = cli.ok(&["api", "GET", "/v1/users?page_size=1", "--field", "next_page_token"]);
    assert!(!next.trim().is_empty(), "two users: a next page");
    cli.exits(&["api", "FETCH", "/v1/users"], 2, "");
    cli.exits(&["api", "GET", "v1/users"], 2, "must start with /");
    cli.exits(&["api", "GET", "/v1/nothing-here"], 3, "404");
    let users = cli.json(&["user", "list"]);
    let ana = |u: &Value| u["email"] == "ana@example.com" && u["role"] == "member";
    assert!(users["users"].as_array().unwrap().iter().any(ana), "{users}");
}

#[tokio::test]
async fn token_commands_introspect_and_revoke_as_the_logged_in_integration() {
    let (guard, server, cli) = logged_in();
    // token get: the secret from the environment, never argv.
    let token_url = format!("{}/oauth2/token", server.url);
    let with_secret = Cli {
        config: cli.config.clone(),
        env: vec![("TESSERA_CLIENT_SECRET", crate::BOOT_SECRET.to_owned())],
    };
    let token =
        with_secret.ok(&["token", "get", "--client-id", crate::BOOT_ID, "--token-url", &token_url]);
    let token_file = guard.path().join("token");
    std::fs::write(&token_file, token.trim()).unwrap();
    let token_arg = token_file.to_str().unwrap();
    let stdout = cli.ok(&["token", "introspect", "--token-file", token_arg]);
    assert!(stdout.starts_with("active: true") && stdout.contains(crate::BOOT_ID), "{stdout}");
    // From standard input, as JSON.
    let piped = crate::tessera()
        .args(["token", "introspect", "--output", "json"])
        .env("XDG_CONFIG_HOME", &cli.config)
        .stdin(std::fs::File::open(&token_file).unwrap())
        .output()
        .unwrap();
    let answer = json(&String::from_utf8_lossy(&piped.stdout));
    assert_eq!((&answer["active"], &answer["client_id"]), (&true.into(), &crate::BOOT_ID.into()));
    cli.ok(&["token", "revoke", "--token-file", token_arg]);
    let stdout = cli.ok(&["token", "introspect", "--token-file", token_arg]);
    assert_eq!(stdout.trim(), "active: false");
    let empty = guard.path().join("empty");
    std::fs::write(&empty, "").unwrap();
    cli.exits(&["token", "introspect", "--token-file", empty.to_str().unwrap()], 2, "");
}

#[tokio::test]
async fn a_customer_authorizes_an_application_and_token_tms_gets_its_token() {
    let (guard, server, cli) = logged_in();
    // TMS: an application of the operator's organization, promoted; a customer authorizes it
    // with the CLI; the application gets the customer's token with the CLI.
    let admin = crate::access_token(&server.url, crate::BOOT_ID, crate::BOOT_SECRET).await;
    let app = crate::post_json(
        format!("{}/v1/integrations", server.url),
        &admin,
        serde_json::json!({"display_name": "KPI", "multi_tenant": true, "app_name": "kpi",
                           "app_version": "1.0", "tms_enabled": true,
                           "scopes": ["assets:read"]}),
    )
    .await;
    let app_id = app["client_id"].as_str().unwrap().to_owned();
    let promote = format!("{}/v1/integrations/{app_id}/promote", server.url);
    let promoted = crate::post_json(promote, &admin, serde_json::json!({})).await;
    let app_secret = guard.path().join("app-secret");
    std::fs::write(&app_secret, promoted["client_secret"].as_str().unwrap()).unwrap();
    let (customer, customer_id, customer_secret) =
        crate::made_tenant(&server.url, "Customer", "owner@customer.example").await;
    let as_customer = Cli::as_integration(&cli.config, &server.url, &customer_id, &customer_secret);
    let authorized = as_customer.json(&[
        "app-authorization",
        "create",
        "--set",
        "app_name=kpi",
        "--set",
        "access=read_write",
    ]);
    assert_eq!(authorized["app_name"], "kpi");
    let (code, _, stderr) = cli.login(&server.url, &app_id, &app_secret, "kpi");
    assert_eq!(code, 0, "{stderr}");
    let answer = cli.json(&["token", "tms", "--profile", "kpi", "--tenant", &customer]);
    assert_eq!(answer["tokens"][0]["tenant_id"], customer.as_str(), "{answer}");
    assert!(answer["tokens"][0]["access_token"].is_string());
    let six: Vec<&str> = (0..6).flat_map(|_| ["--tenant", customer.as_str()]).collect();
    cli.exits(&[&["token", "tms", "--profile", "kpi"][..], &six].concat(), 2, "at most 5");
}

/// An integration `Vault` (of its own tenant) and a second one of that tenant, `other`, each
/// reached from the environment.
async fn vault(server: &crate::Server, config: &Path) -> (Cli, Cli, String) {
    let (_, app_id, app_secret) =
        crate::made_tenant(&server.url, "Vault", "val@vault.example").await;
    let other = crate::post_json(
        format!("{}/v1/integrations", server.url),
        &crate::access_token(&server.url, &app_id, &app_secret).await,
        serde_json::json!({"display_name": "other", "scopes": ["private_tokens"]}),
    )
    .await;
    let other_id = other["client_id"].as_str().unwrap();
    let other_secret = other["client_secret"].as_str().unwrap();
    let as_app = Cli::as_integration(config, &server.url, &app_id, &app_secret);
    let as_other = Cli::as_integration(config, &server.url, other_id, other_secret);
    (as_app, as_other, other_id.to_owned())
}

#[tokio::test]
async fn private_tokens_are_kept_read_listed_and_deleted_from_the_command_line() {
    let (guard, dir) = crate::data_dir();
    let server = crate::serve(&dir, &[], true);
    let (as_app, as_other, other_id) = vault(&server, &guard.path().join("config")).await;
    // The value from a file, as it is (a trailing newline kept), never from argv; a key with a
    // slash and a relatedId with dots are one path segment each.
    let value_file = guard.path().join("erp-password");
    std::fs::write(&value_file, "s3cr3t: with spaces\n").unwrap();
    let value_arg = value_file.to_str().unwrap();
    let put =
        ["private-token", "put", "crm.customer-42", "erp/password", "--value-file", value_arg];
    let stored = as_app.json(&put);
    assert_eq!(
        (&stored["relatedId"], &stored["key"]),
        (&"crm.customer-42".into(), &"erp/password".into())
    );
    assert!(!stored.to_string().contains("s3cr3t"), "a put does not echo the value: {stored}");
    // From standard input, through the `create` alias.
    let env = as_app.env.iter().map(|(k, v)| (*k, v.as_str()));
    crate::tessera()
        .args(["private-token", "create", "crm.customer-43", "api-key"])
        .env("XDG_CONFIG_HOME", &as_app.config)
        .envs(env)
        .stdin(std::fs::File::open(&value_file).unwrap())
        .succeeds();
    let get = ["private-token", "get", "crm.customer-42", "erp/password"];
    assert_eq!(as_app.ok(&get), "s3cr3t: with spaces\n", "the value alone, as stored");

    // Listing: every page, filtered by prefix; values only when asked for.
    let listed =
        as_app.json(&["private-token", "list", "--related-id-prefix", "crm.", "--page-size", "1"]);
    let listed = listed["private_tokens"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|e| e.get("value").is_none()), "{listed:?}");
    let listed = as_app.json(&["private-token", "list", "--key", "api-key", "--include-values"]);
    assert_eq!(listed["private_tokens"].as_array().map(Vec::len), Some(1));
    assert_eq!(listed["private_tokens"][0]["value"], "s3cr3t: with spaces\n");
    let table = as_app.ok(&["private-token", "list"]);
    assert!(table.starts_with("RELATED_ID") && table.contains("erp/password"), "{table}");

    // Another integration's own store does not have them: 404, exit 3; a tenant admin sees
    // another integration's entries with --integration.
    as_other.exits(&get, 3, "404");
    std::fs::write(&value_file, "theirs").unwrap();
    as_other.ok(&["private-token", "put", "mine", "k", "--value-file", value_arg]);
    let theirs = as_app.ok(&["private-token", "get", "mine", "k", "--integration", &other_id]);
    assert_eq!(theirs, "theirs");

    // Delete one key, then a whole relatedId; a missing file is a local failure (exit 1).
    as_app.ok(&["private-token", "delete", "crm.customer-42", "erp/password", "--yes"]);
    as_app.exits(&get, 3, "");
    let delete_related = ["private-token", "delete", "crm.customer-43", "--yes"];
    let (code, _, stderr) = as_app.run(&delete_related);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("deleted 1 entries of crm.customer-43"), "{stderr}");
    assert_eq!(as_app.json(&["private-token", "list"])["private_tokens"], serde_json::json!([]));
    let missing = ["private-token", "put", "a", "b", "--value-file", "/nonexistent/value"];
    as_app.exits(&missing, 1, "cannot read the value from /nonexistent/value");
}

#[tokio::test]
async fn tenants_use_the_saved_profile_and_token_get_takes_a_connection_token() {
    let (guard, dir) = crate::data_dir();
    let server = crate::serve(&dir, &[], true);
    let cli = Cli::profiles(&guard.path().join("config"));
    let secret_file = guard.path().join("secret");
    std::fs::write(&secret_file, crate::BOOT_SECRET).unwrap();
    let (code, _, stderr) = cli.login(&server.url, crate::BOOT_ID, &secret_file, "ops");
    assert_eq!(code, 0, "{stderr}");

    // `tessera tenant` with the profile alone: no --server, --client-id or secret.
    let stdout = cli.ok(&[
        "tenant",
        "create",
        "--profile",
        "ops",
        "--set",
        "display_name=Northwind",
        "--set",
        "admin_email=nora@northwind.example",
        "--field",
        "tenant_id",
    ]);
    let northwind = stdout.trim().to_owned();
    assert!(northwind.starts_with("tenant/"), "{stdout}");
    let tenants = cli.json(&["tenant", "list", "--profile", "ops"]);
    let listed = |t: &Value| t["tenant_id"] == northwind.as_str();
    assert!(tenants["tenants"].as_array().unwrap().iter().any(listed), "{tenants}");
    // Without a profile of that name, it says so.
    cli.exits(&["tenant", "list", "--profile", "nobody"], 1, "no profile `nobody`");

    // token get --tenant-id: an application's token for a tenant that connected to it.
    let admin = crate::access_token(&server.url, crate::BOOT_ID, crate::BOOT_SECRET).await;
    let app = crate::post_json(
        format!("{}/v1/integrations", server.url),
        &admin,
        serde_json::json!({"display_name": "Receiver", "scopes": ["assets:read"]}),
    )
    .await;
    let app_id = app["client_id"].as_str().unwrap().to_owned();
    let database = format!("sqlite://{}/tessera.db", dir.display());
    let developer = app["tenant_id"].as_str().unwrap().parse().unwrap();
    crate::connect_owner(&database, app_id.parse().unwrap(), developer, northwind.parse().unwrap())
        .await;
    let as_app = Cli {
        config: cli.config.clone(),
        env: vec![("TESSERA_CLIENT_SECRET", app["client_secret"].as_str().unwrap().to_owned())],
    };
    let token_url = format!("{}/oauth2/token", server.url);
    let get = |tenant: &str| {
        as_app.run(&[
            "token",
            "get",
            "--client-id",
            &app_id,
            "--token-url",
            &token_url,
            "--tenant-id",
            tenant,
        ])
    };
    // The connection is on the change feed; the server learns of it within a second.
    let mut answer = get(&northwind);
    for _ in 0..30 {
        if answer.0 == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        answer = get(&northwind);
    }
    let (code, token, stderr) = answer;
    assert_eq!(code, 0, "{stderr}");
    let claims = crate::claims(token.trim());
    assert_eq!(claims["tenant_id"], northwind.as_str(), "{claims}");
    assert_eq!(claims["scope"], "assets:read", "{claims}");
    // A tenant that never connected: the server's refusal, exit 3.
    let (code, _, stderr) = get(&format!("tenant/{}", uuid::Uuid::new_v4()));
    assert_eq!(code, 3, "{stderr}");
    let says = ["400: invalid_grant", "no tenant with an active connection"];
    assert!(says.iter().all(|s| stderr.contains(s)), "{stderr}");
}

#[tokio::test]
async fn trusted_issuers_and_federated_credentials_are_managed_from_the_command_line() {
    let (guard, dir) = crate::data_dir();
    let server = crate::serve(&dir, &[], true);
    let (_, id, secret) = crate::made_tenant(&server.url, "Fed", "fay@fed.example").await;
    let cli = Cli::as_integration(&guard.path().join("config"), &server.url, &id, &secret);
    let github = "https://token.actions.githubusercontent.com";
    let issuer = format!("issuer={github}");
    let audiences = r#"audiences=["https://github.com/acme"]"#;
    let stdout = cli.ok(&[
        "trusted-issuer",
        "create",
        "--set",
        &issuer,
        "--set",
        audiences,
        "--field",
        "id",
    ]);
    let issuer_id = stdout.trim().to_owned();
    assert!(issuer_id.starts_with("trusted_issuers/"), "{stdout}");
    let stdout = cli.ok(&["trusted-issuer", "list"]);
    assert!(stdout.starts_with("ID") && stdout.contains(github), "{stdout}");

    // Credentials belong to an integration: --integration before or after the operation.
    cli.exits(&["federated-credential", "list"], 2, "--integration");
    let made = cli.json(&[
        "federated-credential",
        "create",
        "--integration",
        &id,
        "--set",
        &issuer,
        "--set",
        "subject=repo:acme/app:ref:refs/heads/main",
        "--set",
        r#"claims={"repository_id": "42"}"#,
    ]);
    assert_eq!(made["claims"]["repository_id"], "42");
    let listed = cli.json(&["federated-credential", "--integration", &id, "list"]);
    assert_eq!(listed["federated_credentials"][0]["id"], made["id"]);
    // The server's refusal: an issuer the tenant does not trust.
    let untrusted = [
        "federated-credential",
        "create",
        "--integration",
        &id,
        "--set",
        "issuer=https://gitlab.example",
        "--set",
        "subject=x",
    ];
    cli.exits(&untrusted, 3, "register it first");
    let credential = made["id"].as_str().unwrap();
    cli.ok(&["federated-credential", "delete", credential, "--yes", "--integration", &id]);
    cli.ok(&["trusted-issuer", "delete", &issuer_id, "--yes"]);
    let left = cli.json(&["trusted-issuer", "list"]);
    assert_eq!(left["trusted_issuers"], serde_json::json!([]));
}

/// The subcommands a `--help` lists under "Commands:" (without `help`).
fn subcommands(help: &str) -> Vec<String> {
    let Some(start) = help.find("Commands:\n") else {
        return Vec::new();
    };
    help[start + "Commands:\n".len()..]
        .lines()
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_command_says_what_it_does_with_an_example() {
    let mut pending = vec![Vec::<String>::new()];
    let mut leaves = 0;
    while let Some(path) = pending.pop() {
        let out = crate::tessera().args(&path).arg("--help").output().unwrap();
        let help = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{path:?}: {help}");
        let children = subcommands(&help);
        if children.is_empty() {
            leaves += 1;
            assert!(
                help.contains("Example: tessera "),
                "`tessera {} --help` has no example:\n{help}",
                path.join(" ")
            );
        }
        for child in children {
            let mut next = path.clone();
            next.push(child);
            pending.push(next);
        }
    }
    assert!(leaves > 40, "{leaves} commands");
}

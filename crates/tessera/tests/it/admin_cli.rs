//! The admin command line over the API (SPEC §10): `login`/`logout` with profiles, and the
//! `list|get|create|update|delete` commands, against a spawned server, their JSON parsed.

use crate::Run;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::Value;

/// `tessera <args>` with the profiles kept under `config`; status code, stdout, stderr.
fn cli(config: &Path, args: &[&str]) -> (i32, String, String) {
    cli_env(config, args, &[])
}

fn cli_env(config: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    crate::tessera().args(args).env("XDG_CONFIG_HOME", config).envs(env.iter().copied()).run()
}

/// `tessera login` to `server` as the operator's integration, the secret from `secret_file`.
fn login(config: &Path, server: &str, secret_file: &str, profile: &str) -> (i32, String, String) {
    cli(
        config,
        &[
            "login",
            "--profile",
            profile,
            "--server",
            server,
            "--client-id",
            crate::BOOT_ID,
            "--client-secret-file",
            secret_file,
        ],
    )
}

fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn login_keeps_a_private_profile_and_the_admin_commands_manage_integrations_over_the_api() {
    let (guard, dir) = crate::data_dir();
    let server = crate::serve(&dir, &[], true);
    let config = guard.path().join("config");
    let secret_file = guard.path().join("secret");
    std::fs::write(&secret_file, format!("{}\n", crate::BOOT_SECRET)).unwrap();
    let secret_arg = secret_file.to_str().unwrap();

    // Not logged in yet: said so, with what to do.
    let (code, _, stderr) = cli(&config, &["integration", "list"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("not logged in") && stderr.contains("tessera login"), "{stderr}");
    // A wrong secret saves nothing.
    std::fs::write(guard.path().join("wrong"), "not-the-secret").unwrap();
    let wrong = guard.path().join("wrong");
    let (code, _, stderr) = login(&config, &server.url, wrong.to_str().unwrap(), "default");
    assert_ne!(code, 0);
    assert!(stderr.contains("cannot get a token"), "{stderr}");
    assert!(!config.join("tessera/profiles.toml").exists());

    let (code, stdout, stderr) = login(&config, &server.url, secret_arg, "default");
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("logged in to") && stdout.contains("admin"), "{stdout}");
    let profiles = config.join("tessera/profiles.toml");
    assert_eq!(mode(&profiles), 0o600);
    assert_eq!(mode(&config.join("tessera")), 0o700);

    // Create from --set pairs (JSON values where they parse); the secret printed this once.
    let (code, stdout, stderr) = cli(
        &config,
        &[
            "integration",
            "create",
            "--set",
            "display_name=Billing export",
            "--set",
            r#"scopes=["assets:read"]"#,
            "--output",
            "json",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let made = json(&stdout);
    let id = made["client_id"].as_str().unwrap().to_owned();
    let secret = made["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(made["scopes"], serde_json::json!(["assets:read"]));
    assert_eq!(crate::token(&server.url, &id, &secret, None).await.status(), 200);

    // Listing follows every page (two a page here), as JSON with the API's field names.
    for n in 0..3 {
        let (code, _, stderr) =
            cli(&config, &["integration", "create", "--set", &format!("display_name=extra {n}")]);
        assert_eq!(code, 0, "{stderr}");
    }
    let (code, stdout, _) =
        cli(&config, &["integration", "list", "--page-size", "2", "--output", "json"]);
    assert_eq!(code, 0);
    let listed = json(&stdout);
    let names: Vec<&str> = listed["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["display_name"].as_str().unwrap())
        .collect();
    for wanted in ["Billing export", "extra 0", "extra 1", "extra 2"] {
        assert!(names.contains(&wanted), "{wanted} in {names:?}");
    }
    assert!(listed["integrations"].as_array().unwrap().len() >= 5, "{names:?}");
    // As a table for people.
    let (_, table, _) = cli(&config, &["integration", "list"]);
    assert!(table.starts_with("CLIENT_ID"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.contains(&id) && l.contains("Billing export") && l.contains("assets:read")),
        "{table}"
    );

    // Get, update, delete; the server's refusal is exit status 3 with its words.
    let (code, stdout, _) = cli(&config, &["integration", "get", &id, "--output", "json"]);
    assert_eq!(code, 0);
    assert_eq!(json(&stdout)["display_name"], "Billing export");
    assert!(json(&stdout).get("client_secret").is_none(), "never shown again");
    let body = guard.path().join("patch.json");
    std::fs::write(&body, r#"{"display_name": "Billing", "token_ttl_seconds": 600}"#).unwrap();
    let (code, stdout, stderr) = cli(
        &config,
        &["integration", "update", &id, "--file", body.to_str().unwrap(), "--output", "json"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(json(&stdout)["display_name"], "Billing");
    assert_eq!(json(&stdout)["token_ttl_seconds"], 600);
    let (code, _, stderr) =
        cli(&config, &["integration", "update", &id, "--set", r#"scopes=["no-such-scope"]"#]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("400") && stderr.contains("no-such-scope"), "{stderr}");
    // Deleting asks first: with no terminal to ask on, it needs --yes and changes nothing.
    let (code, _, stderr) = cli(&config, &["integration", "delete", &id]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("add --yes"), "{stderr}");
    let (code, _, stderr) = cli(&config, &["integration", "get", &id]);
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = cli(&config, &["integration", "delete", &id, "--yes"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = cli(&config, &["integration", "get", &id]);
    assert_eq!(code, 3);
    assert!(stderr.contains("404"), "{stderr}");

    // Usage errors are exit status 2, as clap's own.
    let (code, _, stderr) = cli(&config, &["integration", "create"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("nothing to send"), "{stderr}");
    let (code, _, stderr) = cli(&config, &["integration", "create", "--set", "display_name"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("field=value"), "{stderr}");
    let (code, _, _) = cli(&config, &["integration", "frobnicate"]);
    assert_eq!(code, 2);
    let (code, _, stderr) = cli(&config, &["audit", "get", "x"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("not something the API offers"), "{stderr}");

    // The audit log, as JSON.
    let (code, stdout, stderr) = cli(&config, &["audit", "list", "--output", "json"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!json(&stdout)["entries"].as_array().unwrap().is_empty());

    // A second profile; and the environment instead of a profile, for scripts.
    let (code, _, _) = login(&config, &server.url, secret_arg, "other");
    assert_eq!(code, 0);
    let (code, _, _) = cli(&config, &["integration", "list", "--profile", "other"]);
    assert_eq!(code, 0);
    let (code, _, stderr) = cli(&config, &["logout"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = cli(&config, &["logout"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("there is no profile `default`"), "{stderr}");
    let (code, _, stderr) = cli(&config, &["integration", "list"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("not logged in"), "{stderr}");
    let (code, _, _) = cli(&config, &["integration", "list", "--profile", "other"]);
    assert_eq!(code, 0, "the other profile stays");
    let (code, _, stderr) = cli_env(
        &config,
        &["integration", "list", "--output", "json"],
        &[
            ("TESSERA_SERVER", &server.url),
            ("TESSERA_CLIENT_ID", crate::BOOT_ID),
            ("TESSERA_CLIENT_SECRET", crate::BOOT_SECRET),
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let text = std::fs::read_to_string(&profiles).unwrap();
    assert!(!text.contains("[profiles.default]"), "{text}");
}

#[tokio::test]
async fn policies_and_users_are_managed_with_the_same_commands() {
    let (guard, dir) = crate::data_dir();
    let server = crate::serve(&dir, &[], true);
    let config = guard.path().join("config");
    let env = [
        ("TESSERA_SERVER", server.url.as_str()),
        ("TESSERA_CLIENT_ID", crate::BOOT_ID),
        ("TESSERA_CLIENT_SECRET", crate::BOOT_SECRET),
    ];
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
    let (code, stdout, stderr) = cli_env(
        &config,
        &["policy", "create", "--file", policy.to_str().unwrap(), "--output", "json"],
        &env,
    );
    assert_eq!(code, 0, "{stderr}{stdout}");
    let made = json(&stdout);
    let identity = made["identity"].as_str().unwrap().to_owned();
    let (code, stdout, stderr) =
        cli_env(&config, &["policy", "get", &identity, "--output", "json"], &env);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(json(&stdout)["display_name"], "Read crates");
    let (code, table, _) = cli_env(&config, &["policy", "list"], &env);
    assert_eq!(code, 0);
    assert!(table.contains(&identity) && table.contains("Read crates"), "{table}");
    let (code, _, stderr) = cli_env(&config, &["policy", "delete", &identity, "--yes"], &env);
    assert_eq!(code, 0, "{stderr}");

    let (code, stdout, stderr) = cli_env(
        &config,
        &[
            "user",
            "create",
            "--set",
            "email=ana@example.com",
            "--set",
            "display_name=Ana",
            "--set",
            "role=member",
        ],
        &env,
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("ana@example.com") && stdout.contains("one-time link"), "{stdout}");
    // Any other call with `tessera api`; --field for shell variables.
    let (code, stdout, stderr) = cli_env(
        &config,
        &["api", "GET", "/v1/users?page_size=1", "--field", "next_page_token"],
        &env,
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(!stdout.trim().is_empty(), "two users: a next page");
    let (code, _, stderr) = cli_env(&config, &["api", "FETCH", "/v1/users"], &env);
    assert_eq!(code, 2, "{stderr}");
    let (code, _, stderr) = cli_env(&config, &["api", "GET", "v1/users"], &env);
    assert_eq!(code, 2);
    assert!(stderr.contains("must start with /"), "{stderr}");
    let (code, _, stderr) = cli_env(&config, &["api", "GET", "/v1/nothing-here"], &env);
    assert_eq!(code, 3);
    assert!(stderr.contains("404"), "{stderr}");
    let (code, stdout, _) = cli_env(&config, &["user", "list", "--output", "json"], &env);
    assert_eq!(code, 0);
    assert!(json(&stdout)["users"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["email"] == "ana@example.com" && u["role"] == "member"));
}

#[tokio::test]
async fn token_commands_introspect_revoke_and_get_tms_tokens_as_the_logged_in_integration() {
    let (guard, dir) = crate::data_dir();
    let server = crate::serve(&dir, &[], true);
    let config = guard.path().join("config");
    let secret_file = guard.path().join("secret");
    std::fs::write(&secret_file, crate::BOOT_SECRET).unwrap();
    let (code, _, stderr) = login(&config, &server.url, secret_file.to_str().unwrap(), "default");
    assert_eq!(code, 0, "{stderr}");

    // token get: the secret from the environment, never argv.
    let (code, token, stderr) = cli_env(
        &config,
        &[
            "token",
            "get",
            "--client-id",
            crate::BOOT_ID,
            "--token-url",
            &format!("{}/oauth2/token", server.url),
        ],
        &[("TESSERA_CLIENT_SECRET", crate::BOOT_SECRET)],
    );
    assert_eq!(code, 0, "{stderr}");
    let token_file = guard.path().join("token");
    std::fs::write(&token_file, token.trim()).unwrap();
    let token_arg = token_file.to_str().unwrap();
    let (code, stdout, stderr) = cli(&config, &["token", "introspect", "--token-file", token_arg]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("active: true") && stdout.contains(crate::BOOT_ID), "{stdout}");
    // From standard input, as JSON.
    let piped = crate::tessera()
        .args(["token", "introspect", "--output", "json"])
        .env("XDG_CONFIG_HOME", &config)
        .stdin(std::fs::File::open(&token_file).unwrap())
        .output()
        .unwrap();
    let answer = json(&String::from_utf8_lossy(&piped.stdout));
    assert_eq!(answer["active"], true);
    assert_eq!(answer["client_id"], crate::BOOT_ID);
    let (code, _, stderr) = cli(&config, &["token", "revoke", "--token-file", token_arg]);
    assert_eq!(code, 0, "{stderr}");
    let (_, stdout, _) = cli(&config, &["token", "introspect", "--token-file", token_arg]);
    assert_eq!(stdout.trim(), "active: false");
    let empty = guard.path().join("empty");
    std::fs::write(&empty, "").unwrap();
    let (code, _, stderr) =
        cli(&config, &["token", "introspect", "--token-file", empty.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");

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
    let promoted = crate::post_json(
        format!("{}/v1/integrations/{app_id}/promote", server.url),
        &admin,
        serde_json::json!({}),
    )
    .await;
    let app_secret = guard.path().join("app-secret");
    std::fs::write(&app_secret, promoted["client_secret"].as_str().unwrap()).unwrap();
    let (customer, customer_id, customer_secret) =
        crate::made_tenant(&server.url, "Customer", "owner@customer.example").await;
    let as_customer = [
        ("TESSERA_SERVER", server.url.as_str()),
        ("TESSERA_CLIENT_ID", customer_id.as_str()),
        ("TESSERA_CLIENT_SECRET", customer_secret.as_str()),
    ];
    let (code, stdout, stderr) = cli_env(
        &config,
        &[
            "app-authorization",
            "create",
            "--set",
            "app_name=kpi",
            "--set",
            "access=read_write",
            "--output",
            "json",
        ],
        &as_customer,
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(json(&stdout)["app_name"], "kpi");
    let (code, _, stderr) = cli(
        &config,
        &[
            "login",
            "--profile",
            "kpi",
            "--server",
            &server.url,
            "--client-id",
            &app_id,
            "--client-secret-file",
            app_secret.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = cli(
        &config,
        &["token", "tms", "--profile", "kpi", "--tenant", &customer, "--output", "json"],
    );
    assert_eq!(code, 0, "{stderr}");
    let answer = json(&stdout);
    assert_eq!(answer["tokens"][0]["tenant_id"], customer.as_str(), "{answer}");
    assert!(answer["tokens"][0]["access_token"].is_string());
    let six: Vec<&str> = (0..6).flat_map(|_| ["--tenant", customer.as_str()]).collect();
    let mut args = vec!["token", "tms", "--profile", "kpi"];
    args.extend(six);
    let (code, _, stderr) = cli(&config, &args);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("at most 5"), "{stderr}");
}

#[tokio::test]
async fn private_tokens_are_kept_read_listed_and_deleted_from_the_command_line() {
    let (guard, dir) = crate::data_dir();
    let server = crate::serve(&dir, &[], true);
    let config = guard.path().join("config");
    let (_, app_id, app_secret) =
        crate::made_tenant(&server.url, "Vault", "val@vault.example").await;
    let as_app = [
        ("TESSERA_SERVER", server.url.as_str()),
        ("TESSERA_CLIENT_ID", app_id.as_str()),
        ("TESSERA_CLIENT_SECRET", app_secret.as_str()),
    ];
    // The value from a file, as it is (a trailing newline kept), never from argv; a key with a
    // slash and a relatedId with dots are one path segment each.
    let value_file = guard.path().join("erp-password");
    std::fs::write(&value_file, "s3cr3t: with spaces\n").unwrap();
    let (code, stdout, stderr) = cli_env(
        &config,
        &[
            "private-token",
            "put",
            "crm.customer-42",
            "erp/password",
            "--value-file",
            value_file.to_str().unwrap(),
            "--output",
            "json",
        ],
        &as_app,
    );
    assert_eq!(code, 0, "{stderr}");
    let stored = json(&stdout);
    assert_eq!(stored["relatedId"], "crm.customer-42");
    assert_eq!(stored["key"], "erp/password");
    assert!(!stdout.contains("s3cr3t"), "a put does not echo the value: {stdout}");
    // From standard input, through the `create` alias.
    crate::tessera()
        .args(["private-token", "create", "crm.customer-43", "api-key"])
        .env("XDG_CONFIG_HOME", &config)
        .envs(as_app)
        .stdin(std::fs::File::open(&value_file).unwrap())
        .succeeds();
    let (code, stdout, stderr) =
        cli_env(&config, &["private-token", "get", "crm.customer-42", "erp/password"], &as_app);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "s3cr3t: with spaces\n", "the value alone, as stored");

    // Listing: every page, filtered by prefix; values only when asked for.
    let (code, stdout, stderr) = cli_env(
        &config,
        &[
            "private-token",
            "list",
            "--related-id-prefix",
            "crm.",
            "--page-size",
            "1",
            "--output",
            "json",
        ],
        &as_app,
    );
    assert_eq!(code, 0, "{stderr}");
    let listed = json(&stdout)["private_tokens"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|e| e.get("value").is_none()), "{listed:?}");
    let (_, stdout, _) = cli_env(
        &config,
        &["private-token", "list", "--key", "api-key", "--include-values", "--output", "json"],
        &as_app,
    );
    let listed = json(&stdout)["private_tokens"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["value"], "s3cr3t: with spaces\n");
    let (_, table, _) = cli_env(&config, &["private-token", "list"], &as_app);
    assert!(table.starts_with("RELATED_ID") && table.contains("erp/password"), "{table}");

    // A tenant admin sees another integration's entries with --integration.
    let other = crate::post_json(
        format!("{}/v1/integrations", server.url),
        &crate::access_token(&server.url, &app_id, &app_secret).await,
        serde_json::json!({"display_name": "other", "scopes": ["private_tokens"]}),
    )
    .await;
    let as_other = [
        ("TESSERA_SERVER", server.url.as_str()),
        ("TESSERA_CLIENT_ID", other["client_id"].as_str().unwrap()),
        ("TESSERA_CLIENT_SECRET", other["client_secret"].as_str().unwrap()),
    ];
    // ...while another integration's own store does not have them: 404, exit 3.
    let (code, _, stderr) =
        cli_env(&config, &["private-token", "get", "crm.customer-42", "erp/password"], &as_other);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("404"), "{stderr}");
    std::fs::write(&value_file, "theirs").unwrap();
    let (code, _, stderr) = cli_env(
        &config,
        &["private-token", "put", "mine", "k", "--value-file", value_file.to_str().unwrap()],
        &as_other,
    );
    assert_eq!(code, 0, "{stderr}");
    let other_id = other["client_id"].as_str().unwrap();
    let (code, stdout, stderr) = cli_env(
        &config,
        &["private-token", "get", "mine", "k", "--integration", other_id],
        &as_app,
    );
    assert_eq!((code, stdout.as_str()), (0, "theirs"), "{stderr}");

    // Delete one key, then a whole relatedId; a missing file is a local failure (exit 1).
    let (code, _, stderr) = cli_env(
        &config,
        &["private-token", "delete", "crm.customer-42", "erp/password", "--yes"],
        &as_app,
    );
    assert_eq!(code, 0, "{stderr}");
    let (code, _, _) =
        cli_env(&config, &["private-token", "get", "crm.customer-42", "erp/password"], &as_app);
    assert_eq!(code, 3);
    let (code, _, stderr) =
        cli_env(&config, &["private-token", "delete", "crm.customer-43", "--yes"], &as_app);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("deleted 1 entries of crm.customer-43"), "{stderr}");
    let (_, stdout, _) = cli_env(&config, &["private-token", "list", "--output", "json"], &as_app);
    assert_eq!(json(&stdout)["private_tokens"], serde_json::json!([]));
    let (code, _, stderr) = cli_env(
        &config,
        &["private-token", "put", "a", "b", "--value-file", "/nonexistent/value"],
        &as_app,
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("cannot read the value from /nonexistent/value"), "{stderr}");
}

#[tokio::test]
async fn tenants_use_the_saved_profile_and_token_get_takes_a_connection_token() {
    let (guard, dir) = crate::data_dir();
    let server = crate::serve(&dir, &[], true);
    let config = guard.path().join("config");
    let secret_file = guard.path().join("secret");
    std::fs::write(&secret_file, crate::BOOT_SECRET).unwrap();
    let (code, _, stderr) = login(&config, &server.url, secret_file.to_str().unwrap(), "ops");
    assert_eq!(code, 0, "{stderr}");

    // `tessera tenant` with the profile alone: no --server, --client-id or secret.
    let (code, stdout, stderr) = cli(
        &config,
        &[
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
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let northwind = stdout.trim().to_owned();
    assert!(northwind.starts_with("tenant/"), "{stdout}");
    let (code, stdout, stderr) =
        cli(&config, &["tenant", "list", "--profile", "ops", "--output", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let tenants = json(&stdout)["tenants"].as_array().unwrap().clone();
    assert!(tenants.iter().any(|t| t["tenant_id"] == northwind.as_str()), "{stdout}");
    // Without a profile of that name, it says so.
    let (code, _, stderr) = cli(&config, &["tenant", "list", "--profile", "nobody"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("no profile `nobody`"), "{stderr}");

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
    crate::connect_owner(
        &database,
        app_id.parse().unwrap(),
        app["tenant_id"].as_str().unwrap().parse().unwrap(),
        northwind.parse().unwrap(),
    )
    .await;
    let get = |tenant: &str| {
        cli_env(
            &config,
            &[
                "token",
                "get",
                "--client-id",
                &app_id,
                "--token-url",
                &format!("{}/oauth2/token", server.url),
                "--tenant-id",
                tenant,
            ],
            &[("TESSERA_CLIENT_SECRET", app["client_secret"].as_str().unwrap())],
        )
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
    assert!(
        stderr.contains("400: invalid_grant")
            && stderr.contains("no tenant with an active connection"),
        "{stderr}"
    );
}

#[tokio::test]
async fn trusted_issuers_and_federated_credentials_are_managed_from_the_command_line() {
    let (guard, dir) = crate::data_dir();
    let server = crate::serve(&dir, &[], true);
    let config = guard.path().join("config");
    let (_, id, secret) = crate::made_tenant(&server.url, "Fed", "fay@fed.example").await;
    let env = [
        ("TESSERA_SERVER", server.url.as_str()),
        ("TESSERA_CLIENT_ID", id.as_str()),
        ("TESSERA_CLIENT_SECRET", secret.as_str()),
    ];
    let github = "https://token.actions.githubusercontent.com";
    let (code, stdout, stderr) = cli_env(
        &config,
        &[
            "trusted-issuer",
            "create",
            "--set",
            &format!("issuer={github}"),
            "--set",
            r#"audiences=["https://github.com/acme"]"#,
            "--field",
            "id",
        ],
        &env,
    );
    assert_eq!(code, 0, "{stderr}");
    let issuer_id = stdout.trim().to_owned();
    assert!(issuer_id.starts_with("trusted_issuers/"), "{stdout}");
    let (code, stdout, _) = cli_env(&config, &["trusted-issuer", "list"], &env);
    assert_eq!(code, 0);
    assert!(stdout.starts_with("ID") && stdout.contains(github), "{stdout}");

    // Credentials belong to an integration: --integration before or after the operation.
    let (code, _, stderr) = cli_env(&config, &["federated-credential", "list"], &env);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--integration"), "{stderr}");
    let (code, stdout, stderr) = cli_env(
        &config,
        &[
            "federated-credential",
            "create",
            "--integration",
            &id,
            "--set",
            &format!("issuer={github}"),
            "--set",
            "subject=repo:acme/app:ref:refs/heads/main",
            "--set",
            r#"claims={"repository_id": "42"}"#,
            "--output",
            "json",
        ],
        &env,
    );
    assert_eq!(code, 0, "{stderr}");
    let made = json(&stdout);
    assert_eq!(made["claims"]["repository_id"], "42");
    let (code, stdout, _) = cli_env(
        &config,
        &["federated-credential", "--integration", &id, "list", "--output", "json"],
        &env,
    );
    assert_eq!(code, 0);
    assert_eq!(json(&stdout)["federated_credentials"][0]["id"], made["id"]);
    // The server's refusal: an issuer the tenant does not trust.
    let (code, _, stderr) = cli_env(
        &config,
        &[
            "federated-credential",
            "create",
            "--integration",
            &id,
            "--set",
            "issuer=https://gitlab.example",
            "--set",
            "subject=x",
        ],
        &env,
    );
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("register it first"), "{stderr}");
    let (code, _, stderr) = cli_env(
        &config,
        &[
            "federated-credential",
            "delete",
            made["id"].as_str().unwrap(),
            "--yes",
            "--integration",
            &id,
        ],
        &env,
    );
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) =
        cli_env(&config, &["trusted-issuer", "delete", &issuer_id, "--yes"], &env);
    assert_eq!(code, 0, "{stderr}");
    let (_, stdout, _) = cli_env(&config, &["trusted-issuer", "list", "--output", "json"], &env);
    assert_eq!(json(&stdout)["trusted_issuers"], serde_json::json!([]));
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

//! `tessera apply -f tessera.yaml` (SPEC §10, issue 20 point 4) against a spawned server: the
//! plan of a dry run, creation with secrets to a 0600 file, a second apply that changes nothing,
//! updates, replacement, pruning that spares the last admins, the refusals; and the published
//! JSON Schema, checked against the parser and the docs' example.

use crate::Run;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::{json, Value};

/// `tessera <args>` as the tenant's admin integration (the environment stands in for a
/// profile); status code, stdout, stderr.
fn as_admin(admin: &(String, String, String), dir: &Path, args: &[&str]) -> (i32, String, String) {
    as_admin_with(admin, dir, args, &[])
}

fn as_admin_with(
    admin: &(String, String, String),
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (i32, String, String) {
    crate::tessera()
        .args(args)
        .current_dir(dir)
        .env("TESSERA_SERVER", &admin.0)
        .env("TESSERA_CLIENT_ID", &admin.1)
        .env("TESSERA_CLIENT_SECRET", &admin.2)
        .envs(env.iter().copied())
        .run()
}

fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// `apply … --output json` that must succeed; its report.
fn apply_json(admin: &(String, String, String), dir: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["apply", "-f", "tessera.yaml", "--output", "json", "--yes"];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = as_admin(admin, dir, &args);
    assert_eq!(code, 0, "{stderr}");
    json(&stdout)
}

/// The plan's steps as `action kind name`, in order.
fn steps(report: &Value) -> Vec<String> {
    report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} {} {}",
                c["action"].as_str().unwrap(),
                c["kind"].as_str().unwrap(),
                c["name"].as_str().unwrap()
            )
        })
        .collect()
}

fn list(admin: &(String, String, String), dir: &Path, noun: &str, key: &str) -> Vec<Value> {
    let (code, stdout, stderr) = as_admin(admin, dir, &[noun, "list", "--output", "json"]);
    assert_eq!(code, 0, "{stderr}");
    json(&stdout)[key].as_array().unwrap().clone()
}

const FIRST: &str = r#"
version: 1
secrets_file: out/secrets.json
integrations:
  - display_name: Billing
    scopes: [assets:read]
    custom_claims: {team: billing}
    token_ttl_seconds: 600
    redirect_uris: [https://billing.example/callback]
    keys:
      - certificate_file: billing.pem
  - display_name: KPI app
    multi_tenant: true
    app_name: kpi
    app_version: "1"
    scopes: [assets:read]
access_policies:
  - display_name: Shared crates
    filters: [{asset_types: [crate]}]
    permissions:
      - actors: [{integration: Billing}, {email: ana@example.com}]
        attributes: [weight]
        event_visibility: all
users:
  - email: ana@example.com
    display_name: Ana
    role: member
    password_file: ana-password
app_authorizations:
  - app_name: kpi
    access: limited
"#;

/// A tenant "Applied" on a fresh server, and a repository holding [`FIRST`] as `tessera.yaml`
/// with the certificate and password file it names.
struct Repo {
    server: crate::Server,
    tenant: String,
    admin: (String, String, String),
    dir: std::path::PathBuf,
    _guard: tempfile::TempDir,
}

/// A tenant `name` (its admin `email`) on a fresh server, and an empty repository.
async fn empty_repo(name: &str, email: &str) -> Repo {
    let (guard, data) = crate::data_dir();
    let server = crate::serve(&data, &[], true);
    let (tenant, id, secret) = crate::made_tenant(&server.url, name, email).await;
    let admin = (server.url.clone(), id, secret);
    let dir = guard.path().join("repo");
    std::fs::create_dir_all(&dir).unwrap();
    Repo { server, tenant, admin, dir, _guard: guard }
}

async fn repo() -> Repo {
    let repo = empty_repo("Applied", "nora@applied.example").await;
    let dir = &repo.dir;
    crate::cli::openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "billing.key",
            "-out",
            "billing.pem",
            "-days",
            "30",
            "-subj",
            "/CN=billing",
        ],
    );
    std::fs::write(dir.join("ana-password"), "correct horse battery staple\n").unwrap();
    std::fs::write(dir.join("tessera.yaml"), FIRST).unwrap();
    repo
}

/// [`repo`] with [`FIRST`] applied: the repository and Billing's client_id.
async fn applied() -> (Repo, String) {
    let repo = repo().await;
    let done = apply_json(&repo.admin, &repo.dir, &[]);
    assert_eq!(done["applied"], true, "{done}");
    let secrets = json(&std::fs::read_to_string(repo.dir.join("out/secrets.json")).unwrap());
    let billing_id = secrets["integrations"]["Billing"]["client_id"].as_str().unwrap().to_owned();
    (repo, billing_id)
}

/// The second version of the file: a ttl, an attribute and an authorization's access changed.
fn second() -> String {
    FIRST
        .replace("token_ttl_seconds: 600", "token_ttl_seconds: 900")
        .replace("attributes: [weight]", "attributes: [weight, colour]")
        .replace("access: limited", "access: read_write")
}

#[tokio::test]
async fn a_dry_run_plans_in_dependency_order_and_makes_nothing() {
    let repo = repo().await;
    let Repo { tenant, admin, dir, .. } = &repo;
    // A dry run: the plan, in dependency order, and nothing made.
    let plan = apply_json(admin, dir, &["--dry-run"]);
    assert_eq!(plan["tenant_id"], tenant.as_str());
    assert_eq!((plan["dry_run"].clone(), plan["applied"].clone()), (json!(true), json!(false)));
    let key_step = steps(&plan)[2].clone();
    assert!(key_step.starts_with("create key "), "{key_step}");
    assert_eq!(
        steps(&plan),
        [
            "create integration Billing".to_owned(),
            "create integration KPI app".into(),
            key_step.clone(),
            "create user ana@example.com".into(),
            "create access_policy Shared crates".into(),
            "create app_authorization kpi".into(),
        ]
    );
    // The tenant's own admin integration and invited admin are not in the file: left alone.
    assert_eq!(plan["not_in_file"].as_array().unwrap().len(), 2, "{plan}");
    assert_eq!(list(admin, dir, "integration", "integrations").len(), 1);
    assert!(!dir.join("out/secrets.json").exists());
}

#[tokio::test]
async fn apply_makes_what_the_file_says_and_the_same_file_again_changes_nothing() {
    let repo = repo().await;
    let Repo { server, tenant, admin, dir, .. } = &repo;
    // Applied: made as the file says; the new secret written 0600, not printed.
    let (code, stdout, stderr) = as_admin(admin, dir, &["apply", "-f", "tessera.yaml"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("Plan: 6 to create, 0 to change, 0 to delete"), "{stdout}");
    assert!(stdout.contains("Applied."), "{stdout}");
    let secrets_path = dir.join("out/secrets.json");
    assert_eq!(std::fs::metadata(&secrets_path).unwrap().permissions().mode() & 0o777, 0o600);
    let secrets = json(&std::fs::read_to_string(&secrets_path).unwrap());
    let billing = secrets["integrations"]["Billing"].clone();
    let billing_id = billing["client_id"].as_str().unwrap().to_owned();
    assert!(!stdout.contains(billing["client_secret"].as_str().unwrap()));
    assert!(secrets["integrations"]["KPI app"]["client_secret"].is_string());
    let token =
        crate::access_token(&server.url, &billing_id, billing["client_secret"].as_str().unwrap())
            .await;
    let claims = crate::claims(&token);
    assert_eq!(claims["team"], "billing");
    let integrations = list(admin, dir, "integration", "integrations");
    let made = integrations.iter().find(|i| i["display_name"] == "Billing").unwrap();
    assert_eq!(made["redirect_uris"], json!(["https://billing.example/callback"]));
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 600);
    let policies = list(admin, dir, "policy", "access_policies");
    assert_eq!(
        policies[0]["permissions"][0]["actors"],
        json!([{"client_id": billing_id}, {"email": "ana@example.com"}])
    );
    let (_, keys, _) =
        as_admin(admin, dir, &["api", "GET", &format!("/v1/integrations/{billing_id}/keys")]);
    assert_eq!(json(&keys)["keys"].as_array().unwrap().len(), 1);
    let users = list(admin, dir, "user", "users");
    let ana = users.iter().find(|u| u["email"] == "ana@example.com").unwrap();
    assert_eq!((ana["role"].as_str(), ana["password_set"].as_bool()), (Some("member"), Some(true)));
    let auths = list(admin, dir, "app-authorization", "app_authorizations");
    assert_eq!(auths[0]["access"], "limited");

    // The same file again: nothing to change, and it says so.
    let again = apply_json(admin, dir, &[]);
    assert_eq!(steps(&again), Vec::<String>::new());
    assert_eq!((again["unchanged"].as_u64(), again["applied"].as_bool()), (Some(6), Some(false)));
    let (code, stdout, _) = as_admin(admin, dir, &["apply", "-f", "tessera.yaml"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains(&format!("Nothing to change: {tenant} matches tessera.yaml")),
        "{stdout}"
    );
}

#[tokio::test]
async fn apply_updates_changed_fields_in_place_and_replaces_an_authorization() {
    let (repo, billing_id) = applied().await;
    let Repo { server, admin, dir, .. } = &repo;
    let second = second();
    // Changed fields are updated in place (only those), an authorization replaced.
    std::fs::write(dir.join("tessera.yaml"), &second).unwrap();
    let plan = apply_json(admin, dir, &["--dry-run"]);
    assert_eq!(
        steps(&plan),
        [
            "update integration Billing",
            "update access_policy Shared crates",
            "replace app_authorization kpi",
        ]
    );
    assert_eq!(
        plan["changes"][0]["fields"],
        json!({"token_ttl_seconds": {"from": 600, "to": 900}})
    );
    let done = apply_json(admin, dir, &[]);
    assert_eq!(done["applied"], true);
    let billing_now = crate::get_json(
        format!("{}/v1/integrations/{billing_id}", server.url),
        &crate::access_token(&server.url, &admin.1, &admin.2).await,
    )
    .await;
    assert_eq!(billing_now["token_ttl_seconds"], 900);
    assert_eq!(billing_now["client_id"], billing_id.as_str(), "updated, not made anew");
    assert_eq!(
        list(admin, dir, "app-authorization", "app_authorizations")[0]["access"],
        "read_write"
    );
    assert_eq!(steps(&apply_json(admin, dir, &[])), Vec::<String>::new());
}

#[tokio::test]
async fn prune_deletes_what_the_file_leaves_out_but_never_the_runner_or_the_last_admin() {
    let (repo, billing_id) = applied().await;
    let Repo { admin, dir, .. } = &repo;
    let second = second();
    std::fs::write(dir.join("tessera.yaml"), &second).unwrap();
    assert_eq!(apply_json(admin, dir, &[])["applied"], true);
    // Prune: what the file leaves out goes, but never the integration apply runs as nor the
    // tenant's last admin user (nora, invited with the tenant).
    let third = second
        .replace("    keys:\n      - certificate_file: billing.pem\n", "    keys: []\n")
        .replace("app_authorizations:\n  - app_name: kpi\n    access: read_write\n", "")
        .replace(
            "  - email: ana@example.com\n    display_name: Ana\n    role: member\n    password_file: ana-password\n",
            "",
        )
        .replace("users:\n", "");
    std::fs::write(dir.join("tessera.yaml"), &third).unwrap();
    let without_prune = apply_json(admin, dir, &["--dry-run"]);
    assert_eq!(steps(&without_prune), Vec::<String>::new(), "nothing deleted without --prune");
    assert_eq!(without_prune["not_in_file"].as_array().unwrap().len(), 5);
    let plan = apply_json(admin, dir, &["--dry-run", "--prune"]);
    let planned = steps(&plan);
    for expected in [
        "delete app_authorization kpi",
        "delete user ana@example.com",
        "keep user nora@applied.example",
        "keep integration customer admin",
    ] {
        assert!(planned.contains(&expected.to_owned()), "{planned:?}");
    }
    assert!(planned.iter().any(|s| s.starts_with("delete key ")), "{planned:?}");
    assert_eq!(list(admin, dir, "user", "users").len(), 2, "a dry run deletes nothing");
    // Deletions are asked about: with no terminal to ask on, they need --yes.
    let (code, _, stderr) = as_admin(admin, dir, &["apply", "-f", "tessera.yaml", "--prune"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("add --yes"), "{stderr}");
    assert_eq!(list(admin, dir, "user", "users").len(), 2, "nothing deleted unasked");
    let (code, stdout, stderr) =
        as_admin(admin, dir, &["apply", "-f", "tessera.yaml", "--prune", "--yes"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("kept: the tenant's last admin user"), "{stdout}");
    let users = list(admin, dir, "user", "users");
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["email"], "nora@applied.example");
    assert!(list(admin, dir, "app-authorization", "app_authorizations").is_empty());
    let (_, keys, _) =
        as_admin(admin, dir, &["api", "GET", &format!("/v1/integrations/{billing_id}/keys")]);
    assert!(json(&keys)["keys"].as_array().unwrap().is_empty());
    assert_eq!(list(admin, dir, "integration", "integrations").len(), 3);
    let settled = apply_json(admin, dir, &["--prune"]);
    assert_eq!(
        steps(&settled),
        ["keep user nora@applied.example", "keep integration customer admin"]
    );
    assert_eq!(settled["applied"], false);
}

#[tokio::test]
async fn apply_refuses_what_it_cannot_do_and_says_why() {
    let repo = empty_repo("Refusals", "rita@refusals.example").await;
    let (admin, dir) = (&repo.admin, &repo.dir);
    let try_file = |text: &str| {
        std::fs::write(dir.join("tessera.yaml"), text).unwrap();
        as_admin(admin, dir, &["apply", "-f", "tessera.yaml"])
    };

    // The file itself: exit 2, the problem named.
    for (text, says) in [
        ("version: 1\nintegrations:\n  - display_name: A\n    scope: [x]\n", "unknown field `scope`"),
        ("version: 2\n", "version 2"),
        (
            "version: 1\nintegrations:\n  - display_name: A\n  - display_name: A\n",
            "`A` is named twice",
        ),
        (
            "version: 1\naccess_policies:\n  - display_name: P\n    filters: []\n    permissions:\n      - actors: [{integration: Nowhere}]\n        attributes: ['*']\n",
            "no integration `Nowhere`",
        ),
        (
            "version: 1\naccess_policies:\n  - display_name: P\n    filters: []\n    permissions:\n      - actors: [{email: a@b.example, client_id: x}]\n        attributes: ['*']\n",
            "exactly one of integration, client_id and email",
        ),
        (
            "version: 1\nintegrations:\n  - display_name: A\n    keys:\n      - certificate: not a certificate\n",
            "not an X.509 certificate",
        ),
    ] {
        let (code, _, stderr) = try_file(text);
        assert_eq!(code, 2, "{text}: {stderr}");
        assert!(stderr.contains(says), "{text}: {stderr}");
    }

    let (code, _, stderr) = try_file(
        "version: 1\nusers:\n  - email: a@b.example\n    display_name: A\n    password_file: p\n    password_env: P\n",
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("not both"), "{stderr}");
    // A first password from an environment variable that is not set: said, nothing made.
    let (code, _, stderr) = try_file(
        "version: 1\nusers:\n  - email: a@b.example\n    display_name: A\n    password_env: TESSERA_TEST_NO_SUCH_VARIABLE\n",
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("TESSERA_TEST_NO_SUCH_VARIABLE (password_env) is not set"), "{stderr}");

    // Another tenant's file is refused before anything is made.
    let (code, _, stderr) = try_file(&format!(
        "version: 1\ntenant: tenant/{}\nintegrations:\n  - display_name: A\n",
        uuid::Uuid::new_v4()
    ));
    assert_eq!(code, 1);
    assert!(stderr.contains("log in to the right tenant"), "{stderr}");
}

#[tokio::test]
async fn apply_that_stops_part_way_keeps_every_secret_it_made() {
    let repo = empty_repo("Stops", "sam@stops.example").await;
    let (admin, dir) = (&repo.admin, &repo.dir);
    let try_file = |text: &str| {
        std::fs::write(dir.join("tessera.yaml"), text).unwrap();
        as_admin(admin, dir, &["apply", "-f", "tessera.yaml"])
    };
    // Without secrets_file, a new secret is printed once (here, in the JSON report).
    std::fs::write(
        dir.join("tessera.yaml"),
        "version: 1\nintegrations:\n  - display_name: App\n    multi_tenant: true\n    app_name: app\n    app_version: '1'\n",
    )
    .unwrap();
    let report = apply_json(admin, dir, &[]);
    assert!(report["secrets"]["integrations"]["App"]["client_secret"].is_string(), "{report}");

    // A secrets_file that cannot be written: the secret made is printed rather than lost.
    std::fs::write(dir.join("not-a-folder"), "").unwrap();
    let (code, _, stderr) = try_file(
        "version: 1\nsecrets_file: not-a-folder/secrets.json\nintegrations:\n  - display_name: Stranded\n",
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("`Stranded` was made, but its secret could not be saved"), "{stderr}");
    assert!(stderr.contains("Stranded") && stderr.contains("client_secret"), "{stderr}");

    // A field the API sets only at creation: refused with what to do, nothing changed.
    let (code, _, stderr) = try_file(
        "version: 1\nintegrations:\n  - display_name: App\n    multi_tenant: true\n    app_name: app\n    app_version: '2'\n",
    );
    assert_eq!(code, 1);
    assert!(stderr.contains("app_version is set when it is made"), "{stderr}");

    // The server's refusal: exit 3, its words, and what was made before it kept.
    let (code, stdout, stderr) = try_file(
        "version: 1\nintegrations:\n  - display_name: Early\n  - display_name: Late\n    scopes: [no-such-scope]\n",
    );
    assert_eq!(code, 3, "{stdout}{stderr}");
    assert!(stderr.contains("could not create integration `Late`"), "{stderr}");
    assert!(stderr.contains("no-such-scope"), "{stderr}");
    assert!(stderr.contains("Early"), "the secret made before the failure is not lost: {stderr}");
}

#[test]
fn the_published_schema_is_the_one_apply_reads_and_the_docs_example_fits_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = crate::tessera().args(["apply", "--schema"]).output().unwrap();
    assert!(out.status.success());
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let published: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("docs/tessera-apply.schema.json")).unwrap(),
    )
    .unwrap();
    assert!(
        printed == published,
        "docs/tessera-apply.schema.json is stale: tessera apply --schema > docs/tessera-apply.schema.json"
    );
    let validator = jsonschema::validator_for(&published).unwrap();
    let example: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(root.join("docs/examples/tessera.yaml")).unwrap(),
    )
    .unwrap();
    let errors: Vec<String> = validator.iter_errors(&example).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    // What the parser refuses, the schema refuses too.
    for bad in [
        json!({"version": 1, "integrations": [{"display_name": "A", "scope": ["x"]}]}),
        json!({"version": 2}),
        json!({"integrations": []}),
        json!({"version": 1, "app_authorizations": [{"app_name": "a", "access": "everything"}]}),
        json!({"version": 1, "access_policies": [{"display_name": "P", "filters": [],
            "permissions": [{"actors": [{"email": "a@b", "client_id": "x"}], "attributes": []}]}]}),
        json!({"version": 1, "users": [{"email": "a@b", "display_name": "A", "role": "owner"}]}),
    ] {
        assert!(!validator.is_valid(&bad), "the schema lets through {bad}");
    }
}

#[tokio::test]
async fn the_docs_example_applies_to_a_new_tenant() {
    let repo = empty_repo("Example", "eve@example.example").await;
    let (admin, dir) = (&repo.admin, &repo.dir);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::copy(root.join("docs/examples/tessera.yaml"), dir.join("tessera.yaml")).unwrap();
    let made = apply_json(admin, dir, &[]);
    assert_eq!(made["applied"], true, "{made}");
    assert_eq!(steps(&made).len(), 9, "{made}");
    assert!(dir.join("tessera-secrets.json").exists());
    assert_eq!(steps(&apply_json(admin, dir, &[])), Vec::<String>::new());
}

#[tokio::test]
async fn apply_manages_trusted_issuers_and_platform_identities() {
    let repo = empty_repo("Federated", "fed@fed.example").await;
    let (admin, dir) = (&repo.admin, &repo.dir);
    let github = "https://token.actions.githubusercontent.com";
    let file = |repository_id: &str, audience: &str| {
        format!(
            "version: 1\nsecrets_file: secrets.json\ntrusted_issuers:\n  - issuer: {github}\n    audiences: [\"{audience}\"]\nintegrations:\n  - display_name: deployer\n    secretless: true\n    scopes: [assets:read]\n    federated_credentials:\n      - issuer: {github}\n        subject: repo:acme/app:ref:refs/heads/main\n        claims: {{repository_id: \"{repository_id}\"}}\n"
        )
    };
    std::fs::write(dir.join("tessera.yaml"), file("42", "https://github.com/acme")).unwrap();
    let plan = apply_json(admin, dir, &["--dry-run"]);
    assert_eq!(
        steps(&plan),
        [
            format!("create trusted_issuer {github}"),
            "create integration deployer".into(),
            "create federated_credential repo:acme/app:ref:refs/heads/main".into(),
        ]
    );
    let made = apply_json(admin, dir, &[]);
    assert_eq!(made["applied"], true, "{made}");
    // Secretless: no secret was made, so none is written.
    assert!(!dir.join("secrets.json").exists());
    let integrations = list(admin, dir, "integration", "integrations");
    let deployer = integrations.iter().find(|i| i["display_name"] == "deployer").unwrap();
    let deployer_id = deployer["client_id"].as_str().unwrap().to_owned();
    let credentials = || {
        let (_, out, _) = as_admin(
            admin,
            dir,
            &["federated-credential", "list", "--integration", &deployer_id, "--output", "json"],
        );
        json(&out)["federated_credentials"].as_array().unwrap().clone()
    };
    assert_eq!(credentials()[0]["claims"]["repository_id"], "42");
    assert_eq!(steps(&apply_json(admin, dir, &[])), Vec::<String>::new());

    // A required claim changed: the identity is replaced.
    std::fs::write(dir.join("tessera.yaml"), file("43", "https://github.com/acme")).unwrap();
    let replaced = apply_json(admin, dir, &[]);
    assert_eq!(
        steps(&replaced),
        ["replace federated_credential repo:acme/app:ref:refs/heads/main"]
    );
    assert_eq!(credentials().len(), 1);
    assert_eq!(credentials()[0]["claims"]["repository_id"], "43");

    // A trusted issuer's audiences cannot change in place: said, and nothing done.
    std::fs::write(dir.join("tessera.yaml"), file("43", "https://github.com/other")).unwrap();
    let (code, _, stderr) = as_admin(admin, dir, &["apply", "-f", "tessera.yaml"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("trusted_issuer") && stderr.contains("audiences"), "{stderr}");

    // Pruning the issuer while an identity still names it is refused; without both, both go.
    std::fs::write(
        dir.join("tessera.yaml"),
        format!("version: 1\nintegrations:\n  - display_name: deployer\n    federated_credentials:\n      - issuer: {github}\n        subject: repo:acme/app:ref:refs/heads/main\n        claims: {{repository_id: \"43\"}}\n"),
    )
    .unwrap();
    let (code, _, stderr) =
        as_admin(admin, dir, &["apply", "-f", "tessera.yaml", "--prune", "--dry-run"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("list it under trusted_issuers"), "{stderr}");
    std::fs::write(
        dir.join("tessera.yaml"),
        "version: 1\nintegrations:\n  - display_name: deployer\n    federated_credentials: []\n",
    )
    .unwrap();
    let pruned = apply_json(admin, dir, &["--prune"]);
    let done = steps(&pruned);
    let position = |step: &str| done.iter().position(|s| s.starts_with(step)).unwrap();
    assert!(
        position("delete federated_credential") < position("delete trusted_issuer"),
        "{done:?}"
    );
    assert!(credentials().is_empty());
    let (_, out, _) = as_admin(admin, dir, &["trusted-issuer", "list", "--output", "json"]);
    assert_eq!(json(&out)["trusted_issuers"], json!([]));
}

#[tokio::test]
async fn apply_and_the_cli_manage_resource_servers() {
    let repo = empty_repo("Agents", "ops@agents.example").await;
    let (admin, dir) = (&repo.admin, &repo.dir);
    let file = |scopes: &str| {
        format!("version: 1\nresource_servers:\n  - identifier: https://mcp.agents.example/mcp\n    display_name: Fleet tools\n    scopes: [{scopes}]\n")
    };
    std::fs::write(dir.join("tessera.yaml"), file("assets:read")).unwrap();
    assert_eq!(
        steps(&apply_json(admin, dir, &[])),
        ["create resource_server https://mcp.agents.example/mcp"]
    );
    assert_eq!(steps(&apply_json(admin, dir, &[])), Vec::<String>::new());
    std::fs::write(dir.join("tessera.yaml"), file("assets:read, events:read")).unwrap();
    assert_eq!(
        steps(&apply_json(admin, dir, &[])),
        ["update resource_server https://mcp.agents.example/mcp"]
    );
    let listed = list(admin, dir, "resource-server", "resource_servers");
    assert_eq!(listed[0]["scopes"], json!(["assets:read", "events:read"]));

    // The CLI's one shape: --set field=value, and a delete that asks.
    let (code, out, stderr) = as_admin(
        admin,
        dir,
        &[
            "resource-server",
            "create",
            "--set",
            "identifier=https://reports.agents.example",
            "--set",
            r#"scopes=["events:read"]"#,
            "--output",
            "json",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let made = json(&out);
    let rs = made["id"].as_str().unwrap().to_owned();
    let (code, _, stderr) =
        as_admin(admin, dir, &["resource-server", "update", &rs, "--set", "display_name=Reports"]);
    assert_eq!(code, 0, "{stderr}");
    let (_, out, _) = as_admin(admin, dir, &["resource-server", "get", &rs, "--output", "json"]);
    assert_eq!(json(&out)["display_name"], "Reports");
    let (code, _, stderr) = as_admin(
        admin,
        dir,
        &["resource-server", "create", "--set", "identifier=http://reports.agents.example"],
    );
    assert_eq!(code, 3, "the server refused: {stderr}");
    assert!(stderr.contains("`identifier` must use https"), "{stderr}");
    let (code, _, _) = as_admin(admin, dir, &["resource-server", "delete", &rs]);
    assert_eq!(code, 2, "no terminal and no --yes: nothing deleted");
    let (code, _, stderr) = as_admin(admin, dir, &["resource-server", "delete", &rs, "--yes"]);
    assert_eq!(code, 0, "{stderr}");

    std::fs::write(dir.join("tessera.yaml"), "version: 1\n").unwrap();
    let pruned = apply_json(admin, dir, &["--prune"]);
    assert_eq!(steps(&pruned)[0], "delete resource_server https://mcp.agents.example/mcp");
    assert!(list(admin, dir, "resource-server", "resource_servers").is_empty());
}

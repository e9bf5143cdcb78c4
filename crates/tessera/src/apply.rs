//! `tessera apply -f tessera.yaml` (SPEC §10): makes a tenant's integrations (with their keys),
//! access policies, users and app authorizations match a file, over the same API as every other
//! admin command — GitOps in the manner of `kubectl apply` and Terraform.
//!
//! Objects are matched by stable names (an integration's or a policy's `display_name`, a user's
//! `email`, an authorization's `app_name`), never by generated ids, so one file serves every
//! environment. Only the fields a file gives are managed; the others are left as they are. The
//! plan is made from one read of the tenant, then carried out in dependency order (integrations
//! before the policies naming them, deletions last, in reverse); applying a file twice plans
//! nothing the second time.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::api_cli::{Resource, APP_AUTHORIZATION, INTEGRATION, POLICY, TRUSTED_ISSUER, USER};
use crate::remote::{Output, Session, SessionArgs, Usage};

/// The only version of the file format so far.
const FORMAT_VERSION: u32 = 1;

/// A tenant as `tessera apply` makes it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "tessera apply",
    description = "A tenant's trusted issuers, integrations, access policies, users and app authorizations, as `tessera apply -f` makes them (docs/cli.md)."
)]
pub struct TenantFile {
    /// The file format's version: 1.
    #[schemars(range(min = 1, max = 1))]
    pub version: u32,
    /// `tenant/<uuid>`: when given, apply refuses to change any other tenant.
    #[serde(default)]
    pub tenant: Option<String>,
    /// Where the secrets made by this apply (new integrations' client secrets, invited users'
    /// one-time links) are written, as JSON, mode 0600, relative to this file. Without it they
    /// are printed once.
    #[serde(default)]
    pub secrets_file: Option<PathBuf>,
    /// Platforms whose identity tokens stand in for secrets (SPEC §14).
    #[serde(default)]
    pub trusted_issuers: Vec<TrustedIssuerSpec>,
    #[serde(default)]
    pub integrations: Vec<IntegrationSpec>,
    #[serde(default)]
    pub access_policies: Vec<PolicySpec>,
    #[serde(default)]
    pub users: Vec<UserSpec>,
    #[serde(default)]
    pub app_authorizations: Vec<AppAuthorizationSpec>,
}

/// An integration (OAuth client). Fields left out are not managed.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrationSpec {
    /// The name apply matches on: unique in the file and in the tenant.
    pub display_name: String,
    pub scopes: Option<Vec<String>>,
    /// Claims added to every token of the integration.
    pub custom_claims: Option<BTreeMap<String, String>>,
    #[schemars(range(min = 60, max = 86400))]
    pub token_ttl_seconds: Option<u32>,
    pub description: Option<String>,
    pub homepage_url: Option<String>,
    pub authentication_url: Option<String>,
    pub webhook_url: Option<String>,
    pub jwks_uri: Option<String>,
    pub tms_enabled: Option<bool>,
    /// Set when the integration is made; a different value later is refused.
    pub multi_tenant: Option<bool>,
    /// Set when the integration is made; a different value later is refused.
    pub app_name: Option<String>,
    /// Set when the integration is made; a different value later is refused.
    pub app_version: Option<String>,
    /// Public keys for `private_key_jwt` and the JWT bearer grant, matched by `kid`. When
    /// given, `--prune` also removes the integration's keys not listed.
    #[serde(skip_serializing)]
    pub keys: Option<Vec<KeySpec>>,
    /// Platform identities that authenticate it in place of a secret (SPEC §14), matched by
    /// issuer and subject. When given, `--prune` also removes the integration's others.
    #[serde(skip_serializing)]
    pub federated_credentials: Option<Vec<FederatedCredentialSpec>>,
    /// Made with no secret at all (it authenticates with platform tokens or keys). Used when
    /// the integration is made.
    #[serde(skip_serializing)]
    pub secretless: Option<bool>,
}

/// A platform identity an integration accepts (`POST
/// /v1/integrations/{client_id}/federated_credentials`).
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FederatedCredentialSpec {
    /// A trusted issuer of the tenant (in this file or already trusted).
    pub issuer: String,
    /// The platform tokens' `sub`, exactly.
    pub subject: String,
    /// Claims the tokens must also carry with these values (a name, or a JSON Pointer).
    #[serde(default)]
    pub claims: BTreeMap<String, String>,
}

/// A platform whose identity tokens the tenant trusts (`POST /v1/trusted_issuers`), matched by
/// `issuer`. The API changes none of its fields in place: a different value is refused (remove
/// it, which removes its credentials, and apply again).
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrustedIssuerSpec {
    /// The tokens' `iss` (`https://…`), or a SPIFFE trust domain (`spiffe://…`).
    pub issuer: String,
    /// The `aud` values accepted.
    pub audiences: Vec<String>,
    /// Where its keys are; without it, from its discovery document.
    pub jwks_uri: Option<String>,
    /// The longest `exp` − `iat` accepted [default: 3600].
    pub max_token_lifetime_seconds: Option<u32>,
}

/// One public key: exactly one of the three.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
pub struct KeySpec {
    /// A file holding an X.509 certificate in PEM, relative to this file.
    pub certificate_file: Option<PathBuf>,
    /// An X.509 certificate in PEM.
    pub certificate: Option<String>,
    /// A public JWK (RFC 7517).
    pub jwk: Option<Value>,
}

/// An access policy (SPEC §4).
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    /// The name apply matches on: unique in the file and in the tenant.
    pub display_name: String,
    pub description: Option<String>,
    pub filters: Vec<FilterSpec>,
    pub permissions: Vec<PermissionSpec>,
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FilterSpec {
    /// Asset types (`arc_display_type`) covered; `*` for all.
    pub asset_types: Vec<String>,
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PermissionSpec {
    pub actors: Vec<ActorSpec>,
    /// Attributes the actors may read (and, with `write`, change); `["*"]` for all.
    pub attributes: Vec<String>,
    #[serde(default)]
    pub event_visibility: EventVisibility,
    #[serde(default)]
    pub write: bool,
}

#[derive(Debug, Default, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EventVisibility {
    All,
    #[default]
    None,
}

/// Who a permission is for: exactly one of the three. `integration` names an integration of
/// this file (or of the tenant) by its `display_name`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
pub struct ActorSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// A user of the tenant, matched by `email`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    pub email: String,
    pub display_name: String,
    /// `admin` or `member`.
    pub role: Option<Role>,
    /// A file holding the first password; used when the user is made, never compared.
    #[serde(skip_serializing)]
    pub password_file: Option<PathBuf>,
    /// An environment variable holding the first password (as `password_file`). With neither,
    /// the user gets a one-time invitation link.
    #[serde(skip_serializing)]
    pub password_env: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Member,
}

/// A multi-tenant application's access to this tenant (SPEC §8), matched by `app_name`. A
/// change authorizes it anew, which replaces the old authorization (and ends its tokens).
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppAuthorizationSpec {
    pub app_name: String,
    pub access: Access,
    /// With `custom`: the scopes granted.
    pub scopes: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    ReadWrite,
    Limited,
    Custom,
}

/// The file's JSON Schema, as `tessera apply --schema` prints it and `docs/` publishes it.
pub fn schema() -> Value {
    serde_json::to_value(schemars::schema_for!(TenantFile)).unwrap_or(Value::Null)
}

#[derive(clap::Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    session: SessionArgs,
    /// The file (YAML, or JSON); `-` reads standard input.
    #[arg(long, short = 'f', required_unless_present = "schema")]
    file: Option<PathBuf>,
    /// Print the plan and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Also delete what the file does not name (never the integration apply runs as, nor the
    /// tenant's last admin user).
    #[arg(long)]
    prune: bool,
    /// Carry out deletions and replacements without asking (what a script passes); without it
    /// they are asked about on a terminal.
    #[arg(long)]
    yes: bool,
    /// Print the file format's JSON Schema and exit.
    #[arg(long, conflicts_with_all = ["file", "dry_run", "prune"])]
    schema: bool,
}

/// One kind of object apply manages.
struct Kind {
    resource: &'static Resource,
    /// As the plan names it.
    label: &'static str,
    /// The field objects are matched on.
    name_field: &'static str,
    /// Fields the API sets only when an object is made.
    create_only: &'static [&'static str],
    /// No PATCH: a change is a new POST, which replaces the object.
    replace: bool,
}

const INTEGRATIONS: Kind = Kind {
    resource: &INTEGRATION,
    label: "integration",
    name_field: "display_name",
    create_only: &["multi_tenant", "app_name", "app_version"],
    replace: false,
};
const TRUSTED_ISSUERS: Kind = Kind {
    resource: &TRUSTED_ISSUER,
    label: "trusted_issuer",
    name_field: "issuer",
    create_only: &["audiences", "jwks_uri", "max_token_lifetime_seconds"],
    replace: false,
};
const USERS: Kind = Kind {
    resource: &USER,
    label: "user",
    name_field: "email",
    create_only: &[],
    replace: false,
};
const POLICIES: Kind = Kind {
    resource: &POLICY,
    label: "access_policy",
    name_field: "display_name",
    create_only: &[],
    replace: false,
};
const APP_AUTHORIZATIONS: Kind = Kind {
    resource: &APP_AUTHORIZATION,
    label: "app_authorization",
    name_field: "app_name",
    create_only: &[],
    replace: true,
};

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Action {
    Create,
    Update,
    Replace,
    Delete,
    /// Named for deletion by `--prune` but kept, with the reason.
    Keep,
}

/// One step of the plan.
#[derive(Debug, Serialize)]
struct Change {
    action: Action,
    /// `integration`, `key`, `access_policy`, `user` or `app_authorization`.
    kind: &'static str,
    name: String,
    /// A key's integration.
    #[serde(skip_serializing_if = "Option::is_none")]
    integration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    /// Create and replace: the fields sent; update: `{field: {"from", "to"}}`.
    #[serde(skip_serializing_if = "Map::is_empty")]
    fields: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// What is sent: fields, a password, a key's body.
    #[serde(skip)]
    body: Map<String, Value>,
}

impl Change {
    fn new(action: Action, kind: &'static str, name: &str) -> Change {
        Change {
            action,
            kind,
            name: name.to_owned(),
            integration: None,
            id: None,
            fields: Map::new(),
            reason: None,
            body: Map::new(),
        }
    }
}

/// What apply found and decided.
#[derive(Debug, Serialize)]
struct Plan {
    tenant_id: String,
    changes: Vec<Change>,
    /// Objects already as the file says.
    unchanged: usize,
    /// Objects the file does not name, left alone without `--prune`.
    not_in_file: Vec<Value>,
}

/// One object the file asks for.
struct Wanted {
    name: String,
    /// The managed fields, in the API's names and shapes.
    fields: Map<String, Value>,
    /// Sent when it is made, never compared (a user's first password).
    on_create: Map<String, Value>,
}

/// The tenant as read before planning.
struct Current {
    tenant_id: String,
    /// The integration apply runs as.
    caller: String,
    integrations: Vec<Value>,
    policies: Vec<Value>,
    users: Vec<Value>,
    app_authorizations: Vec<Value>,
    trusted_issuers: Vec<Value>,
    /// kids of the integrations whose keys the file manages, by client_id.
    keys: HashMap<String, Vec<String>>,
    /// Federated credentials of the integrations whose credentials the file manages, by
    /// client_id.
    credentials: HashMap<String, Vec<Value>>,
}

pub async fn run(args: ApplyArgs) -> anyhow::Result<()> {
    if args.schema {
        println!(
            "{}",
            serde_json::to_string_pretty(&schema()).unwrap_or_default()
        );
        return Ok(());
    }
    let path = args
        .file
        .clone()
        .ok_or_else(|| Usage("give the file with -f".into()))?;
    let (file, base) = read_file(&path)?;
    let secrets_file = file.secrets_file.as_ref().map(|p| base.join(p));
    let wanted = Desired::from_file(&file, &base)?;
    let session = Session::open(&args.session).await?;
    let current = read_tenant(&session, &wanted).await?;
    if let Some(tenant) = &file.tenant {
        if tenant.trim_start_matches("tenant/") != current.tenant_id.trim_start_matches("tenant/") {
            bail!(
                "{} is for {tenant}, but the integration logged in belongs to {}: log in to the right tenant (tessera login --profile …)",
                path.display(),
                current.tenant_id
            );
        }
    }
    let plan = make_plan(&wanted, &current, args.prune)?;
    let json_out = args.session.output == Output::Json;
    let file_name = path.display().to_string();
    if !json_out {
        print_plan(&plan, &file_name);
    }
    let mut made = Secrets::new(secrets_file);
    let applied = if args.dry_run || plan.pending() == 0 {
        false
    } else {
        let destroyed = plan.destructive();
        if destroyed > 0 {
            crate::remote::confirm(
                &format!(
                    "apply deletes or replaces {destroyed} object(s) of {}",
                    plan.tenant_id
                ),
                args.yes,
            )?;
        }
        let result = carry_out(&session, &plan, &current, &mut made).await;
        if let Err(e) = result {
            made.rescue();
            return Err(e);
        }
        true
    };
    if json_out {
        let mut out = serde_json::to_value(&plan)?;
        out["dry_run"] = json!(args.dry_run);
        out["applied"] = json!(applied);
        if made.file.is_none() && !made.made.is_empty() {
            out["secrets"] = Value::Object(made.made.clone());
        }
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else if plan.pending() == 0 {
        println!(
            "Nothing to change: {} matches {file_name}.",
            current.tenant_id
        );
    } else if args.dry_run {
        println!("Dry run: nothing was changed.");
    } else {
        made.print_once();
        println!("Applied.");
    }
    Ok(())
}

/// The file parsed (YAML is a superset of JSON), and the folder its relative paths start from.
fn read_file(path: &Path) -> anyhow::Result<(TenantFile, PathBuf)> {
    let text = crate::remote::read_input(Some(path), "the file")?;
    // Relative paths in the file start from its folder (from here for standard input).
    let base = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let file: TenantFile = serde_yaml_ng::from_str(&text).map_err(|e| {
        Usage(format!(
            "{}: {e} (the format: tessera apply --schema)",
            path.display()
        ))
    })?;
    if file.version != FORMAT_VERSION {
        return Err(Usage(format!(
            "{}: version {} is not one this tessera reads (it reads {FORMAT_VERSION})",
            path.display(),
            file.version
        ))
        .into());
    }
    Ok((file, base))
}

/// Every object the file asks for, as the API spells it.
struct Desired {
    trusted_issuers: Vec<Wanted>,
    integrations: Vec<Wanted>,
    /// Platform identities by integration name, for the integrations that list them.
    credentials: BTreeMap<String, Vec<Wanted>>,
    /// Keys by integration name, for the integrations that list them: (kid, body to send).
    keys: BTreeMap<String, Vec<WantedKey>>,
    policies: Vec<Wanted>,
    users: Vec<Wanted>,
    app_authorizations: Vec<Wanted>,
}

fn fields_of(spec: &impl Serialize) -> anyhow::Result<Map<String, Value>> {
    let Value::Object(mut map) = serde_json::to_value(spec)? else {
        bail!("not an object");
    };
    map.retain(|_, v| !v.is_null());
    Ok(map)
}

impl Desired {
    fn from_file(file: &TenantFile, base: &Path) -> anyhow::Result<Desired> {
        let mut desired = Desired {
            trusted_issuers: Vec::new(),
            integrations: Vec::new(),
            credentials: BTreeMap::new(),
            keys: BTreeMap::new(),
            policies: Vec::new(),
            users: Vec::new(),
            app_authorizations: Vec::new(),
        };
        for spec in &file.trusted_issuers {
            desired.trusted_issuers.push(Wanted {
                name: spec.issuer.clone(),
                fields: fields_of(spec)?,
                on_create: Map::new(),
            });
        }
        for spec in &file.integrations {
            let mut on_create = Map::new();
            if spec.secretless == Some(true) {
                on_create.insert("secretless".into(), json!(true));
            }
            desired.integrations.push(Wanted {
                name: spec.display_name.clone(),
                fields: fields_of(spec)?,
                on_create,
            });
            if let Some(credentials) = &spec.federated_credentials {
                let wanted = credentials
                    .iter()
                    .map(|c| {
                        Ok(Wanted {
                            name: c.subject.clone(),
                            fields: fields_of(c)?,
                            on_create: Map::new(),
                        })
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                desired
                    .credentials
                    .insert(spec.display_name.clone(), wanted);
            }
            if let Some(keys) = &spec.keys {
                let keys = keys
                    .iter()
                    .map(|k| key_body(k, base, &spec.display_name))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                desired.keys.insert(spec.display_name.clone(), keys);
            }
        }
        for spec in &file.access_policies {
            for actor in spec.permissions.iter().flat_map(|p| &p.actors) {
                let given = [&actor.integration, &actor.client_id, &actor.email]
                    .iter()
                    .filter(|a| a.is_some())
                    .count();
                if given != 1 {
                    return Err(Usage(format!(
                        "access policy `{}`: each actor is exactly one of integration, client_id and email",
                        spec.display_name
                    ))
                    .into());
                }
            }
            desired.policies.push(Wanted {
                name: spec.display_name.clone(),
                fields: fields_of(spec)?,
                on_create: Map::new(),
            });
        }
        for spec in &file.users {
            let mut on_create = Map::new();
            if let Some(password) = first_password(spec, base)? {
                on_create.insert("password".into(), json!(password));
            }
            desired.users.push(Wanted {
                name: spec.email.clone(),
                fields: fields_of(spec)?,
                on_create,
            });
        }
        for spec in &file.app_authorizations {
            desired.app_authorizations.push(Wanted {
                name: spec.app_name.clone(),
                fields: fields_of(spec)?,
                on_create: Map::new(),
            });
        }
        for (integration, credentials) in &desired.credentials {
            let mut seen = std::collections::HashSet::new();
            for c in credentials {
                if !seen.insert((c.fields["issuer"].to_string(), c.name.clone())) {
                    return Err(Usage(format!(
                        "integration `{integration}`: the platform identity `{}` is listed twice for one issuer",
                        c.name
                    ))
                    .into());
                }
            }
        }
        for (label, list) in [
            ("trusted_issuers", &desired.trusted_issuers),
            ("integrations", &desired.integrations),
            ("access_policies", &desired.policies),
            ("users", &desired.users),
            ("app_authorizations", &desired.app_authorizations),
        ] {
            let mut seen = std::collections::HashSet::new();
            for w in list {
                if !seen.insert(w.name.as_str()) {
                    return Err(Usage(format!(
                        "{label}: `{}` is named twice; names are what apply matches on",
                        w.name
                    ))
                    .into());
                }
            }
        }
        Ok(desired)
    }
}

/// A key's `kid` as the server will compute it, and the body that registers it.
type WantedKey = (String, Map<String, Value>);

/// The [`WantedKey`] of a key in the file.
fn key_body(spec: &KeySpec, base: &Path, integration: &str) -> anyhow::Result<WantedKey> {
    use tessera_core::model::ClientKey;
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let placeholder = tessera_core::id::ClientId::from_uuid(uuid::Uuid::nil());
    let in_words = |e: tessera_core::error::DomainError| {
        Usage(format!("integration `{integration}`, a key: {e}"))
    };
    let (key, (field, value)) = match (&spec.certificate_file, &spec.certificate, &spec.jwk) {
        (Some(file), None, None) => {
            let path = base.join(file);
            let pem = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let key = ClientKey::from_certificate_pem(placeholder, &pem, now).map_err(in_words)?;
            (key, ("certificate", json!(pem)))
        }
        (None, Some(pem), None) => {
            let key = ClientKey::from_certificate_pem(placeholder, pem, now).map_err(in_words)?;
            (key, ("certificate", json!(pem)))
        }
        (None, None, Some(jwk)) => {
            let key = ClientKey::from_jwk(placeholder, jwk, now).map_err(in_words)?;
            (key, ("jwk", jwk.clone()))
        }
        _ => {
            return Err(Usage(format!(
                "integration `{integration}`: a key is exactly one of certificate_file, certificate and jwk"
            ))
            .into())
        }
    };
    let mut body = Map::new();
    body.insert(field.to_owned(), value);
    Ok((key.kid, body))
}

fn first_password(spec: &UserSpec, base: &Path) -> anyhow::Result<Option<String>> {
    match (&spec.password_file, &spec.password_env) {
        (Some(_), Some(_)) => Err(Usage(format!(
            "user {}: give password_file or password_env, not both",
            spec.email
        ))
        .into()),
        (Some(file), None) => {
            let path = base.join(file);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            Ok(Some(text.trim_end_matches(['\r', '\n']).to_owned()))
        }
        (None, Some(var)) => std::env::var(var).map(Some).map_err(|_| {
            anyhow::anyhow!(
                "user {}: the environment variable {var} (password_env) is not set",
                spec.email
            )
        }),
        (None, None) => Ok(None),
    }
}

/// One read of everything the plan compares against.
async fn read_tenant(session: &Session, desired: &Desired) -> anyhow::Result<Current> {
    let me = session
        .call(
            reqwest::Method::GET,
            &format!("/v1/integrations/{}", session.client_id()),
            None,
        )
        .await
        .context("cannot read the integration apply runs as (it needs the `admin` scope)")?;
    let list = |r: &'static Resource| session.list_all(r.path, r.list_key, 200);
    let mut current = Current {
        tenant_id: me["tenant_id"].as_str().unwrap_or_default().to_owned(),
        caller: session.client_id().to_owned(),
        integrations: list(&INTEGRATION).await?,
        policies: list(&POLICY).await?,
        users: list(&USER).await?,
        app_authorizations: list(&APP_AUTHORIZATION).await?,
        trusted_issuers: list(&TRUSTED_ISSUER).await?,
        keys: HashMap::new(),
        credentials: HashMap::new(),
    };
    for name in desired.credentials.keys() {
        if let Some(id) = current
            .integrations
            .iter()
            .find(|i| i["display_name"] == name.as_str())
            .and_then(|i| i["client_id"].as_str())
        {
            let path = format!("/v1/integrations/{id}/federated_credentials");
            let found = session
                .list_all(&path, "federated_credentials", 100)
                .await?;
            current.credentials.insert(id.to_owned(), found);
        }
    }
    for name in desired.keys.keys() {
        if let Some(found) = current
            .integrations
            .iter()
            .find(|i| i["display_name"] == name.as_str())
        {
            let id = found["client_id"].as_str().unwrap_or_default().to_owned();
            let keys = session
                .call(
                    reqwest::Method::GET,
                    &format!("/v1/integrations/{id}/keys"),
                    None,
                )
                .await?;
            let kids = keys["keys"]
                .as_array()
                .map(|ks| {
                    ks.iter()
                        .filter_map(|k| k["kid"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            current.keys.insert(id, kids);
        }
    }
    Ok(current)
}

/// Whether the server's `have` is what the file `want`s: scopes as a set, the rest exactly.
fn same(field: &str, want: &Value, have: &Value) -> bool {
    if field == "scopes" {
        let set = |v: &Value| -> Vec<String> {
            let mut s: Vec<String> = v
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            s.sort();
            s.dedup();
            s
        };
        return set(want) == set(have);
    }
    want == have
}

/// Policies' `{integration: NAME}` actors as `{client_id}`, for the names known in `ids`.
fn resolve_actors(fields: &mut Map<String, Value>, ids: &HashMap<String, String>) {
    let Some(Value::Array(permissions)) = fields.get_mut("permissions") else {
        return;
    };
    for permission in permissions {
        let Some(Value::Array(actors)) = permission.get_mut("actors") else {
            continue;
        };
        for actor in actors {
            if let Some(id) = actor["integration"].as_str().and_then(|n| ids.get(n)) {
                *actor = json!({"client_id": id});
            }
        }
    }
}

impl Action {
    fn verb(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
            Action::Keep => "keep",
        }
    }
}

impl Plan {
    /// Steps that change something (a kept object changes nothing).
    /// How many changes delete an object (a replacement deletes it and makes it anew).
    fn destructive(&self) -> usize {
        self.changes
            .iter()
            .filter(|c| matches!(c.action, Action::Delete | Action::Replace))
            .count()
    }

    fn pending(&self) -> usize {
        self.changes
            .iter()
            .filter(|c| c.action != Action::Keep)
            .count()
    }
}

/// Compares one kind: creates, updates (or replacements) and, with `prune`, deletions.
fn plan_kind(
    kind: &Kind,
    wanted: &[Wanted],
    have: &[Value],
    ids: &HashMap<String, String>,
    plan: &mut Plan,
    deletions: &mut Vec<Change>,
    prune: bool,
) -> anyhow::Result<()> {
    let id_field = kind.resource.id_field;
    for want in wanted {
        let mut fields = want.fields.clone();
        resolve_actors(&mut fields, ids);
        let matches: Vec<&Value> = have
            .iter()
            .filter(|h| h[kind.name_field] == want.name.as_str())
            .collect();
        let found = match matches.as_slice() {
            [] => None,
            [one] => Some(*one),
            _ => bail!(
                "the tenant has {} {}s named `{}`; rename or delete all but one, since names are what apply matches on",
                matches.len(),
                kind.label,
                want.name
            ),
        };
        let Some(found) = found else {
            let mut change = Change::new(Action::Create, kind.label, &want.name);
            change.fields = fields.clone();
            change.body = fields;
            change.body.extend(want.on_create.clone());
            plan.changes.push(change);
            continue;
        };
        let mut differ = Map::new();
        for (field, value) in &fields {
            if field != kind.name_field && !same(field, value, &found[field]) {
                differ.insert(field.clone(), json!({"from": found[field], "to": value}));
            }
        }
        if differ.is_empty() {
            plan.unchanged += 1;
            continue;
        }
        if let Some(fixed) = kind.create_only.iter().find(|f| differ.contains_key(**f)) {
            bail!(
                "{} `{}`: {fixed} is set when it is made ({} on the server, {} in the file); delete it (or give it another name) to make it anew",
                kind.label,
                want.name,
                found[*fixed],
                fields[*fixed]
            );
        }
        let action = if kind.replace {
            Action::Replace
        } else {
            Action::Update
        };
        let mut change = Change::new(action, kind.label, &want.name);
        change.id = found[id_field].as_str().map(str::to_owned);
        change.body = if kind.replace {
            fields
        } else {
            differ
                .keys()
                .map(|k| (k.clone(), fields[k].clone()))
                .collect()
        };
        change.fields = differ;
        plan.changes.push(change);
    }
    for extra in have {
        let name = extra[kind.name_field].as_str().unwrap_or_default();
        if wanted.iter().any(|w| w.name == name) {
            continue;
        }
        let id = extra[id_field].as_str().unwrap_or_default().to_owned();
        if !prune {
            plan.not_in_file
                .push(json!({"kind": kind.label, "name": name, "id": id}));
            continue;
        }
        let mut change = Change::new(Action::Delete, kind.label, name);
        change.id = Some(id);
        deletions.push(change);
    }
    Ok(())
}

/// Keeps, of the deletions, the caller's integration and the tenant's last admin user.
fn spare_the_last_admins(
    deletions: &mut [Change],
    current: &Current,
    users: &[Wanted],
    updates: &[Change],
) {
    for change in deletions.iter_mut() {
        if change.kind == "integration" && change.id.as_deref() == Some(current.caller.as_str()) {
            change.action = Action::Keep;
            change.reason = Some("the integration apply runs as".into());
        }
    }
    let role_after = |user: &Value| -> Option<String> {
        let email = user["email"].as_str().unwrap_or_default();
        let updated = updates
            .iter()
            .find(|c| c.kind == "user" && c.name == email)
            .and_then(|c| c.body.get("role"))
            .and_then(Value::as_str);
        updated.or(user["role"].as_str()).map(str::to_owned)
    };
    let staying_admins = current
        .users
        .iter()
        .filter(|u| {
            let email = u["email"].as_str().unwrap_or_default();
            let deleted = deletions
                .iter()
                .any(|c| c.kind == "user" && c.action == Action::Delete && c.name == email);
            !deleted && role_after(u).as_deref() == Some("admin")
        })
        .count()
        + users
            .iter()
            .filter(|w| {
                w.fields.get("role") == Some(&json!("admin"))
                    && !current.users.iter().any(|u| u["email"] == w.name.as_str())
            })
            .count();
    if staying_admins == 0 {
        if let Some(last) = deletions.iter_mut().find(|c| {
            c.kind == "user"
                && current
                    .users
                    .iter()
                    .any(|u| u["email"] == c.name.as_str() && u["role"] == "admin")
        }) {
            last.action = Action::Keep;
            last.reason = Some("the tenant's last admin user".into());
        }
    }
}

/// The platform identities of the integrations whose list the file gives, matched by issuer
/// and subject: made, replaced when their required claims differ (the API changes none in
/// place), and with `prune` removed when the file does not list them.
fn plan_credentials(
    desired: &Desired,
    current: &Current,
    ids: &HashMap<String, String>,
    plan: &mut Plan,
    deletions: &mut Vec<Change>,
    prune: bool,
) {
    for (integration, wanted) in &desired.credentials {
        let have = ids
            .get(integration)
            .and_then(|id| current.credentials.get(id))
            .cloned()
            .unwrap_or_default();
        let same_identity = |a: &Map<String, Value>, b: &Value| {
            a["issuer"] == b["issuer"] && a["subject"] == b["subject"]
        };
        for want in wanted {
            let found = have.iter().find(|h| same_identity(&want.fields, h));
            let mut change = match found {
                None => Change::new(Action::Create, "federated_credential", &want.name),
                Some(h) if h["claims"] == want.fields["claims"] => {
                    plan.unchanged += 1;
                    continue;
                }
                Some(h) => {
                    let mut change =
                        Change::new(Action::Replace, "federated_credential", &want.name);
                    change.id = h["id"].as_str().map(str::to_owned);
                    change.fields.insert(
                        "claims".into(),
                        json!({"from": h["claims"], "to": want.fields["claims"]}),
                    );
                    change
                }
            };
            change.integration = Some(integration.clone());
            change.body = want.fields.clone();
            plan.changes.push(change);
        }
        for extra in have
            .iter()
            .filter(|h| !wanted.iter().any(|w| same_identity(&w.fields, h)))
        {
            let subject = extra["subject"].as_str().unwrap_or_default();
            if prune {
                let mut change = Change::new(Action::Delete, "federated_credential", subject);
                change.integration = Some(integration.clone());
                change.id = extra["id"].as_str().map(str::to_owned);
                deletions.push(change);
            } else {
                plan.not_in_file.push(json!({"kind": "federated_credential",
                    "name": subject, "integration": integration}));
            }
        }
    }
}

fn make_plan(desired: &Desired, current: &Current, prune: bool) -> anyhow::Result<Plan> {
    let mut plan = Plan {
        tenant_id: current.tenant_id.clone(),
        changes: Vec::new(),
        unchanged: 0,
        not_in_file: Vec::new(),
    };
    let mut deletions = Vec::new();
    plan_kind(
        &TRUSTED_ISSUERS,
        &desired.trusted_issuers,
        &current.trusted_issuers,
        &HashMap::new(),
        &mut plan,
        &mut deletions,
        prune,
    )?;
    plan_kind(
        &INTEGRATIONS,
        &desired.integrations,
        &current.integrations,
        &HashMap::new(),
        &mut plan,
        &mut deletions,
        prune,
    )?;
    let ids = integration_ids(&current.integrations);
    for (integration, keys) in &desired.keys {
        let have = ids
            .get(integration)
            .and_then(|id| current.keys.get(id))
            .cloned()
            .unwrap_or_default();
        for (kid, body) in keys {
            if have.contains(kid) {
                plan.unchanged += 1;
                continue;
            }
            let mut change = Change::new(Action::Create, "key", kid);
            change.integration = Some(integration.clone());
            change.body = body.clone();
            plan.changes.push(change);
        }
        for kid in have.iter().filter(|k| !keys.iter().any(|(w, _)| w == *k)) {
            if prune {
                let mut change = Change::new(Action::Delete, "key", kid);
                change.integration = Some(integration.clone());
                change.id = ids.get(integration).cloned();
                deletions.push(change);
            } else {
                plan.not_in_file
                    .push(json!({"kind": "key", "name": kid, "integration": integration}));
            }
        }
    }
    plan_credentials(desired, current, &ids, &mut plan, &mut deletions, prune);
    plan_kind(
        &USERS,
        &desired.users,
        &current.users,
        &ids,
        &mut plan,
        &mut deletions,
        prune,
    )?;
    for policy in &desired.policies {
        let mut fields = policy.fields.clone();
        resolve_actors(&mut fields, &ids);
        let named = |a: &Value| a["integration"].as_str().map(str::to_owned);
        let unknown = fields["permissions"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|p| p["actors"].as_array().cloned().unwrap_or_default())
            .filter_map(|a| named(&a))
            .find(|n| !desired.integrations.iter().any(|w| &w.name == n));
        if let Some(unknown) = unknown {
            return Err(Usage(format!(
                "access policy `{}`: no integration `{unknown}` in the file or the tenant",
                policy.name
            ))
            .into());
        }
    }
    plan_kind(
        &POLICIES,
        &desired.policies,
        &current.policies,
        &ids,
        &mut plan,
        &mut deletions,
        prune,
    )?;
    plan_kind(
        &APP_AUTHORIZATIONS,
        &desired.app_authorizations,
        &current.app_authorizations,
        &ids,
        &mut plan,
        &mut deletions,
        prune,
    )?;
    spare_the_last_admins(&mut deletions, current, &desired.users, &plan.changes);
    // A trusted issuer --prune removes takes its credentials with it: none the file lists may
    // name it.
    for gone in deletions.iter().filter(|c| c.kind == "trusted_issuer") {
        let named = desired
            .credentials
            .values()
            .flatten()
            .find(|c| c.fields["issuer"] == gone.name.as_str());
        if let Some(c) = named {
            return Err(Usage(format!(
                "the platform identity `{}` names the issuer `{}`, which --prune would stop trusting: list it under trusted_issuers",
                c.name, gone.name
            ))
            .into());
        }
    }
    // Deletions last, the dependents first: policies and authorizations, keys and
    // credentials, users, integrations, then trusted issuers.
    let order = |c: &Change| match c.kind {
        "access_policy" | "app_authorization" => 0,
        "key" | "federated_credential" => 1,
        "user" => 2,
        "integration" => 3,
        // Last: removing a trusted issuer removes the credentials that name it.
        _ => 4,
    };
    deletions.sort_by_key(order);
    plan.changes.extend(deletions);
    Ok(plan)
}

fn print_plan(plan: &Plan, file_name: &str) {
    println!("{} — {file_name}", plan.tenant_id);
    for change in &plan.changes {
        let sign = match change.action {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "±",
            Action::Delete => "-",
            Action::Keep => "=",
        };
        let of = change
            .integration
            .as_ref()
            .map(|i| format!(" of integration `{i}`"))
            .unwrap_or_default();
        let mut line = format!(
            "  {sign} {} {} `{}`{of}",
            change.action.verb(),
            change.kind,
            change.name
        );
        if let Some(reason) = &change.reason {
            line.push_str(&format!(" — kept: {reason}"));
        }
        println!("{line}");
        if change.action == Action::Update {
            for (field, diff) in &change.fields {
                println!("      {field}: {} → {}", diff["from"], diff["to"]);
            }
        }
    }
    if !plan.not_in_file.is_empty() {
        println!(
            "  ({} in the tenant but not in the file, left alone; --prune deletes them)",
            plan.not_in_file.len()
        );
    }
    let count = |a: Action| plan.changes.iter().filter(|c| c.action == a).count();
    if plan.pending() > 0 {
        println!(
            "Plan: {} to create, {} to change, {} to delete; {} unchanged.",
            count(Action::Create),
            count(Action::Update) + count(Action::Replace),
            count(Action::Delete),
            plan.unchanged
        );
    }
}

/// Carries the plan out in its order; integrations made on the way are named in later steps.
async fn carry_out(
    session: &Session,
    plan: &Plan,
    current: &Current,
    made: &mut Secrets,
) -> anyhow::Result<()> {
    let mut ids = integration_ids(&current.integrations);
    for change in &plan.changes {
        let answer = step(session, change, &ids).await.with_context(|| {
            format!(
                "could not {} {} `{}` (the steps before it were made; apply again once it is fixed)",
                change.action.verb(),
                change.kind,
                change.name
            )
        })?;
        // A new integration's id, for the steps that name it (a secretless one too).
        if let (true, Some(id)) = (change.kind == "integration", answer["client_id"].as_str()) {
            ids.insert(change.name.clone(), id.to_owned());
        }
        match change.kind {
            "integration" if answer["client_secret"].is_string() => {
                let id = answer["client_id"].as_str().unwrap_or_default().to_owned();
                made.record(
                    "integrations",
                    &change.name,
                    json!({"client_id": id, "client_secret": answer["client_secret"]}),
                )
                .with_context(|| {
                    format!(
                        "integration `{}` was made, but its secret could not be saved",
                        change.name
                    )
                })?;
            }
            "user" if answer["invitation_url"].is_string() => made.record(
                "users",
                &change.name,
                json!({"invitation_url": answer["invitation_url"],
                       "invitation_expires_at": answer["invitation_expires_at"]}),
            )?,
            _ => {}
        }
    }
    Ok(())
}

/// The client ids of integrations by name.
fn integration_ids(integrations: &[Value]) -> HashMap<String, String> {
    integrations
        .iter()
        .filter_map(|i| {
            Some((
                i["display_name"].as_str()?.to_owned(),
                i["client_id"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// One step over the API; the answer of a create (`null` otherwise).
async fn step(
    session: &Session,
    change: &Change,
    ids: &HashMap<String, String>,
) -> anyhow::Result<Value> {
    let mut body = change.body.clone();
    resolve_actors(&mut body, ids);
    let body = Value::Object(body);
    if change.kind == "key" {
        let integration = change.integration.as_deref().unwrap_or_default();
        let id = ids
            .get(integration)
            .with_context(|| format!("integration `{integration}` was not made"))?;
        let keys = format!("/v1/integrations/{id}/keys");
        return match change.action {
            Action::Create => {
                session
                    .call(reqwest::Method::POST, &keys, Some(&body))
                    .await
            }
            Action::Delete => {
                let kid = percent_encoding::utf8_percent_encode(
                    &change.name,
                    percent_encoding::NON_ALPHANUMERIC,
                );
                session
                    .call(reqwest::Method::DELETE, &format!("{keys}/{kid}"), None)
                    .await
                    .map(|_| Value::Null)
            }
            _ => Ok(Value::Null),
        };
    }
    if change.kind == "federated_credential" {
        let integration = change.integration.as_deref().unwrap_or_default();
        let id = ids
            .get(integration)
            .with_context(|| format!("integration `{integration}` was not made"))?;
        let base = format!("/v1/integrations/{id}/federated_credentials");
        if matches!(change.action, Action::Delete | Action::Replace) {
            let credential = change.id.as_deref().unwrap_or_default().replace('/', "%2F");
            session
                .call(
                    reqwest::Method::DELETE,
                    &format!("{base}/{credential}"),
                    None,
                )
                .await?;
        }
        return match change.action {
            Action::Create | Action::Replace => {
                session
                    .call(reqwest::Method::POST, &base, Some(&body))
                    .await
            }
            _ => Ok(Value::Null),
        };
    }
    let resource = match change.kind {
        "trusted_issuer" => TRUSTED_ISSUERS.resource,
        "integration" => INTEGRATIONS.resource,
        "user" => USERS.resource,
        "access_policy" => POLICIES.resource,
        _ => APP_AUTHORIZATIONS.resource,
    };
    let item = format!(
        "{}/{}",
        resource.path,
        change.id.as_deref().unwrap_or_default().replace('/', "%2F")
    );
    // A replacement is a create: the API replaces the authorization of the same app_name in one
    // statement, under a new id (so the tokens of the old one end).
    if change.action == Action::Delete {
        session.call(reqwest::Method::DELETE, &item, None).await?;
    }
    match change.action {
        Action::Create | Action::Replace => {
            session
                .call(reqwest::Method::POST, resource.path, Some(&body))
                .await
        }
        Action::Update => session
            .call(reqwest::Method::PATCH, &item, Some(&body))
            .await
            .map(|_| Value::Null),
        Action::Delete | Action::Keep => Ok(Value::Null),
    }
}

/// Secrets made by this apply: written to the file the YAML names as soon as each is made
/// (so a later failure loses none), or printed once at the end.
struct Secrets {
    file: Option<PathBuf>,
    made: Map<String, Value>,
    /// A write to `file` failed: what was made is printed rather than lost.
    unsaved: bool,
}

impl Secrets {
    fn new(file: Option<PathBuf>) -> Secrets {
        Secrets {
            file,
            made: Map::new(),
            unsaved: false,
        }
    }

    /// Records one secret under `section` (`integrations` or `users`) and `name`.
    fn record(&mut self, section: &str, name: &str, value: Value) -> anyhow::Result<()> {
        let entry = self.made.entry(section).or_insert_with(|| json!({}));
        entry[name] = value.clone();
        let Some(path) = &self.file else {
            return Ok(());
        };
        // Until the file holds it, the secret exists only here.
        self.unsaved = true;
        let mut all: Value = match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text)
                .with_context(|| format!("{} (secrets_file) is not JSON", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => json!({}),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        if !all[section].is_object() {
            all[section] = json!({});
        }
        all[section][name] = value;
        write_private(path, &serde_json::to_vec_pretty(&all)?)?;
        self.unsaved = false;
        Ok(())
    }

    fn print_once(&self) {
        if self.made.is_empty() {
            return;
        }
        match &self.file {
            Some(path) => println!("Secrets written to {} (mode 0600).", path.display()),
            None => {
                println!("Made now and not shown again — save them:");
                println!(
                    "{}",
                    serde_json::to_string_pretty(&self.made).unwrap_or_default()
                );
            }
        }
    }

    /// After a failed step: secrets already made are not lost with the error.
    fn rescue(&self) {
        if (self.file.is_none() || self.unsaved) && !self.made.is_empty() {
            eprintln!(
                "made before the failure, not shown again — save them:\n{}",
                serde_json::to_string_pretty(&self.made).unwrap_or_default()
            );
        }
    }
}

/// Writes `bytes` to `path` readable by its owner only, through a temporary file renamed over it.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot make {}", dir.display()))?;
    let temporary = path.with_extension("tmp");
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    out.write_all(bytes)?;
    out.sync_all()?;
    std::fs::rename(&temporary, path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

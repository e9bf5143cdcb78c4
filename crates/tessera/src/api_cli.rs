//! The admin commands over the HTTP API (SPEC §10), one shape for every kind of object:
//! `tessera <noun> list|get|create|update|delete`, in the manner of `kcadm.sh`. A body is given
//! as JSON in a file (`--file`, `-` for standard input) and/or as `--set field=value` pairs (the
//! value read as JSON when it parses, else as text) — the API's own field names, so what
//! `get --output json` prints can be edited and sent back.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Subcommand;
use serde_json::{Map, Value};

use crate::remote::{confirm, Output, Session, SessionArgs, Usage};

/// One kind of object the API manages.
pub struct Resource {
    /// As the command line says it.
    pub noun: &'static str,
    pub path: &'static str,
    /// The array of a listing's page.
    pub list_key: &'static str,
    /// The field that names one object in its path.
    pub id_field: &'static str,
    /// The table's columns: heading, field.
    pub columns: &'static [(&'static str, &'static str)],
    pub create: bool,
    pub update: bool,
    pub get: bool,
    /// What a row shows beyond the API's fields (a tenant's state in a word), if anything.
    pub decorate: Option<fn(&mut Value)>,
}

pub const INTEGRATION: Resource = Resource {
    noun: "integration",
    path: "/v1/integrations",
    list_key: "integrations",
    id_field: "client_id",
    columns: &[
        ("CLIENT_ID", "client_id"),
        ("NAME", "display_name"),
        ("SCOPES", "scopes"),
        ("TTL", "token_ttl_seconds"),
    ],
    create: true,
    update: true,
    get: true,
    decorate: None,
};

pub const POLICY: Resource = Resource {
    noun: "policy",
    path: "/v1/access_policies",
    list_key: "access_policies",
    id_field: "identity",
    columns: &[
        ("ID", "identity"),
        ("NAME", "display_name"),
        ("DESCRIPTION", "description"),
    ],
    create: true,
    update: true,
    get: true,
    decorate: None,
};

pub const USER: Resource = Resource {
    noun: "user",
    path: "/v1/users",
    list_key: "users",
    id_field: "id",
    columns: &[
        ("ID", "id"),
        ("EMAIL", "email"),
        ("NAME", "display_name"),
        ("ROLE", "role"),
    ],
    create: true,
    update: true,
    get: true,
    decorate: None,
};

pub const CONSENT: Resource = Resource {
    noun: "consent",
    path: "/v1/consents",
    list_key: "consents",
    id_field: "id",
    columns: &[
        ("ID", "id"),
        ("CLIENT_ID", "client_id"),
        ("USER", "user"),
        ("SCOPES", "scopes"),
    ],
    create: true,
    update: false,
    get: false,
    decorate: None,
};

pub const CONNECTION: Resource = Resource {
    noun: "connection",
    path: "/v1/connections",
    list_key: "connections",
    id_field: "id",
    columns: &[
        ("ID", "id"),
        ("TENANT_ID", "tenant_id"),
        ("CLIENT_ID", "client_id"),
        ("SCOPES", "scopes"),
        ("STATUS", "status"),
    ],
    create: false,
    update: false,
    get: true,
    decorate: None,
};

pub const APP_AUTHORIZATION: Resource = Resource {
    noun: "app-authorization",
    path: "/v1/app_authorizations",
    list_key: "app_authorizations",
    id_field: "id",
    columns: &[
        ("ID", "id"),
        ("APP", "app_name"),
        ("ACCESS", "access"),
        ("SCOPES", "scopes"),
    ],
    create: true,
    update: false,
    get: false,
    decorate: None,
};

pub const TRUSTED_ISSUER: Resource = Resource {
    noun: "trusted-issuer",
    path: "/v1/trusted_issuers",
    list_key: "trusted_issuers",
    id_field: "id",
    columns: &[
        ("ID", "id"),
        ("ISSUER", "issuer"),
        ("AUDIENCES", "audiences"),
        ("JWKS_URI", "jwks_uri"),
    ],
    create: true,
    update: false,
    get: false,
    decorate: None,
};

pub const RESOURCE_SERVER: Resource = Resource {
    noun: "resource-server",
    path: "/v1/resource_servers",
    list_key: "resource_servers",
    id_field: "id",
    columns: &[
        ("ID", "id"),
        ("IDENTIFIER", "identifier"),
        ("NAME", "display_name"),
        ("SCOPES", "scopes"),
    ],
    create: true,
    update: true,
    get: true,
    decorate: None,
};

/// Under `/v1/integrations/{client_id}`: [`run_under`] gives the path.
pub const FEDERATED_CREDENTIAL: Resource = Resource {
    noun: "federated-credential",
    path: "federated_credentials",
    list_key: "federated_credentials",
    id_field: "id",
    columns: &[
        ("ID", "id"),
        ("ISSUER", "issuer"),
        ("SUBJECT", "subject"),
        ("CLAIMS", "claims"),
    ],
    create: true,
    update: false,
    get: false,
    decorate: None,
};

pub const AUDIT: Resource = Resource {
    noun: "audit",
    path: "/v1/audit",
    list_key: "entries",
    id_field: "",
    columns: &[
        ("AT", "at"),
        ("ACTOR", "actor"),
        ("ACTION", "action"),
        ("TARGET", "target"),
    ],
    create: false,
    update: false,
    get: false,
    decorate: None,
};

/// Tenants (SPEC §4.1): the operator's, with a `platform` token; `disable` and `enable` are
/// `tenant_cli`'s.
pub const TENANT: Resource = Resource {
    noun: "tenant",
    path: "/v1/tenants",
    list_key: "tenants",
    id_field: "tenant_id",
    columns: &[
        ("TENANT_ID", "tenant_id"),
        ("NAME", "display_name"),
        ("TIER", "tier"),
        ("STATE", "state"),
        ("CREATED", "created_at"),
    ],
    create: true,
    update: true,
    get: true,
    decorate: Some(tenant_state),
};

/// A tenant's state in a word, for the table.
fn tenant_state(tenant: &mut Value) {
    let state = if tenant["operator"] == true {
        "operator"
    } else if tenant["disabled"] == true {
        "disabled"
    } else {
        "active"
    };
    tenant["state"] = Value::String(state.into());
}

#[derive(Subcommand)]
pub enum ApiCommand {
    /// Every object, all pages followed.
    ///
    /// Example: tessera integration list --output json | jq -r '.integrations[].client_id'
    List {
        #[command(flatten)]
        session: SessionArgs,
        /// Objects asked for per page (every page is followed).
        #[arg(long, default_value_t = 200)]
        page_size: u32,
    },
    /// One object.
    ///
    /// Example: tessera policy get access_policies/<uuid> --output json
    #[command(alias = "show")]
    Get {
        #[command(flatten)]
        session: SessionArgs,
        id: String,
    },
    /// Make one from JSON (`--file`) and/or `--set field=value`; secrets made by the server
    /// (an integration's) are printed this once.
    ///
    /// Example: tessera user create --set email=ana@example.com --set role=member
    Create {
        #[command(flatten)]
        session: SessionArgs,
        #[command(flatten)]
        body: BodyArgs,
    },
    /// Change the fields given (a JSON merge of `--file` and `--set`).
    ///
    /// Example: tessera integration update <client_id> --set token_ttl_seconds=600
    Update {
        #[command(flatten)]
        session: SessionArgs,
        id: String,
        #[command(flatten)]
        body: BodyArgs,
    },
    /// Delete one: asks on a terminal, or give `--yes`.
    ///
    /// Example: tessera consent delete <id> --yes
    Delete {
        #[command(flatten)]
        session: SessionArgs,
        id: String,
        /// Delete without asking (what a script passes).
        #[arg(long)]
        yes: bool,
    },
}

#[derive(clap::Args, Debug)]
pub struct BodyArgs {
    /// A JSON object with the API's field names; `-` reads standard input.
    #[arg(long, short = 'f')]
    file: Option<PathBuf>,
    /// `field=value`, repeated: the value as JSON when it parses (`scopes=["admin"]`,
    /// `token_ttl_seconds=600`), else as text (`display_name=Billing`).
    #[arg(long = "set", short = 's', value_name = "FIELD=VALUE")]
    set: Vec<String>,
}

impl BodyArgs {
    fn body(&self) -> anyhow::Result<Value> {
        let mut object = match &self.file {
            None => Map::new(),
            Some(path) => {
                let text = crate::remote::read_input(Some(path), "the body")?;
                match serde_json::from_str::<Value>(&text)
                    .with_context(|| format!("{} is not JSON", path.display()))?
                {
                    Value::Object(map) => map,
                    _ => bail!("{} must hold a JSON object", path.display()),
                }
            }
        };
        for pair in &self.set {
            let Some((field, value)) = pair.split_once('=') else {
                return Err(Usage(format!("--set {pair}: write it as field=value")).into());
            };
            let value =
                serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
            object.insert(field.trim().to_owned(), value);
        }
        if object.is_empty() {
            return Err(Usage("nothing to send: give --file or --set field=value".into()).into());
        }
        Ok(Value::Object(object))
    }
}

/// An object's path under `base`: its id's slashes percent-encoded (`access_policies/<uuid>`).
pub fn item_path(base: &str, id: &str) -> String {
    format!("{base}/{}", id.trim().replace('/', "%2F"))
}

/// Objects that belong to one integration (`--integration CLIENT_ID`, before or after the
/// operation): federated credentials.
#[derive(clap::Args)]
pub struct OfIntegration {
    /// The integration (its client_id) whose objects these are.
    #[arg(long, global = true, value_name = "CLIENT_ID")]
    integration: Option<String>,
    #[command(subcommand)]
    cmd: ApiCommand,
}

/// `tessera <noun> … --integration CLIENT_ID`: `resource` under that integration.
pub async fn run_under(resource: &Resource, args: OfIntegration) -> anyhow::Result<()> {
    let Some(client_id) = args.integration else {
        return Err(Usage(format!(
            "`tessera {}` needs --integration CLIENT_ID",
            resource.noun
        ))
        .into());
    };
    let base = format!(
        "/v1/integrations/{}/{}",
        client_id.trim().replace('/', "%2F"),
        resource.path
    );
    run_at(resource, &base, args.cmd).await
}

pub async fn run(resource: &Resource, cmd: ApiCommand) -> anyhow::Result<()> {
    run_at(resource, resource.path, cmd).await
}

/// The command on `resource`'s objects at `base`.
async fn run_at(resource: &Resource, base: &str, cmd: ApiCommand) -> anyhow::Result<()> {
    let refuse = |what: &str| -> anyhow::Error {
        Usage(format!(
            "`tessera {} {what}` is not something the API offers",
            resource.noun
        ))
        .into()
    };
    match cmd {
        ApiCommand::List { session, page_size } => {
            let session = Session::open(&session).await?;
            let all = session.list_all(base, resource.list_key, page_size).await?;
            let mut wrapped = Map::new();
            wrapped.insert(resource.list_key.to_owned(), Value::Array(all.clone()));
            print(&session, resource, &Value::Object(wrapped), &all);
        }
        ApiCommand::Get { session, id } => {
            if !resource.get {
                return Err(refuse("get"));
            }
            let session = Session::open(&session).await?;
            let found = session
                .call(reqwest::Method::GET, &item_path(base, &id), None)
                .await?;
            print(&session, resource, &found, std::slice::from_ref(&found));
        }
        ApiCommand::Create { session, body } => {
            if !resource.create {
                return Err(refuse("create"));
            }
            let body = body.body()?;
            let session = Session::open(&session).await?;
            let made = session
                .call(reqwest::Method::POST, base, Some(&body))
                .await?;
            print(&session, resource, &made, std::slice::from_ref(&made));
            if session.output == Output::Table && session.fields.is_empty() {
                if let Some(secret) = made["client_secret"].as_str() {
                    println!("\nclient_secret: {secret}\nSave it now: it is not shown again.");
                }
                // A user's invitation, or a new tenant's first admin's.
                let invited = made.get("admin").unwrap_or(&made);
                if let Some(link) = invited["invitation_url"].as_str() {
                    println!(
                        "\nSend this one-time link to {}; it sets their password (expires {}):\n  {link}",
                        invited["email"].as_str().unwrap_or("the user"),
                        invited["invitation_expires_at"].as_str().unwrap_or("soon"),
                    );
                }
            }
        }
        ApiCommand::Update { session, id, body } => {
            if !resource.update {
                return Err(refuse("update"));
            }
            let body = body.body()?;
            let session = Session::open(&session).await?;
            let changed = session
                .call(reqwest::Method::PATCH, &item_path(base, &id), Some(&body))
                .await?;
            print(&session, resource, &changed, std::slice::from_ref(&changed));
        }
        ApiCommand::Delete { session, id, yes } => {
            if resource.id_field.is_empty() {
                return Err(refuse("delete"));
            }
            confirm(&format!("delete {} {id}", resource.noun), yes)?;
            let session = Session::open(&session).await?;
            session
                .call(reqwest::Method::DELETE, &item_path(base, &id), None)
                .await?;
            eprintln!("deleted {} {id}", resource.noun);
        }
    }
    Ok(())
}

pub fn print(session: &Session, resource: &Resource, whole: &Value, rows: &[Value]) {
    match resource.decorate {
        None => session.print(whole, rows, resource.columns),
        Some(decorate) => {
            let rows: Vec<Value> = rows
                .iter()
                .map(|row| {
                    let mut row = row.clone();
                    decorate(&mut row);
                    row
                })
                .collect();
            session.print(whole, &rows, resource.columns);
        }
    }
}

#[derive(clap::Args)]
pub struct RawArgs {
    #[command(flatten)]
    session: SessionArgs,
    /// GET, POST, PUT, PATCH or DELETE.
    method: String,
    /// The API path, e.g. /v1/integrations/<client_id>/keys.
    path: String,
    #[command(flatten)]
    body: BodyArgs,
}

/// `tessera api METHOD PATH`: any call of the API as the logged-in integration, for what has no
/// command of its own; the answer as JSON.
pub async fn raw(args: RawArgs) -> anyhow::Result<()> {
    let method = match args.method.to_ascii_uppercase().as_str() {
        "GET" => reqwest::Method::GET,
        "POST" => reqwest::Method::POST,
        "PUT" => reqwest::Method::PUT,
        "PATCH" => reqwest::Method::PATCH,
        "DELETE" => reqwest::Method::DELETE,
        other => {
            return Err(Usage(format!("{other} is not GET, POST, PUT, PATCH or DELETE")).into())
        }
    };
    if !args.path.starts_with('/') {
        return Err(Usage(format!("the path must start with / (got `{}`)", args.path)).into());
    }
    let body = if args.body.file.is_some() || !args.body.set.is_empty() {
        Some(args.body.body()?)
    } else {
        None
    };
    let session = Session::open(&args.session).await?;
    let answer = session.call(method, &args.path, body.as_ref()).await?;
    if answer.is_null() {
        return Ok(());
    }
    if session.fields.is_empty() {
        println!(
            "{}",
            serde_json::to_string_pretty(&answer).unwrap_or_default()
        );
    } else {
        session.print(&answer, std::slice::from_ref(&answer), &[]);
    }
    Ok(())
}

//! `tessera tenant …` (SPEC §4.1, §10): tenants managed over the server's API with a `platform`
//! token, never by writing to the database: as the saved profile (`tessera login`), or an
//! integration named with `--client-id`, its secret from `TESSERA_CLIENT_SECRET` or a file,
//! never from the command line.

use std::path::PathBuf;

use anyhow::bail;
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use crate::remote::{read_secret, Output, Profile, Session, SessionArgs};

/// Who calls the server: a saved profile (`tessera login`), or an integration named here.
#[derive(Args, Debug, Clone)]
pub struct RemoteArgs {
    #[command(flatten)]
    pub session: SessionArgs,
    /// Instead of a profile: the server's base URL [default: $TESSERA_SERVER, else
    /// http://127.0.0.1:8080].
    #[arg(long)]
    pub server: Option<String>,
    /// Instead of a profile: an integration of the operator tenant that holds `platform`; its
    /// secret from `--client-secret-file` or `TESSERA_CLIENT_SECRET`.
    #[arg(long)]
    pub client_id: Option<String>,
    /// A file holding that integration's secret.
    #[arg(long, requires = "client_id")]
    pub client_secret_file: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum TenantCommand {
    /// Make a tenant and its first admin, who gets a one-time invitation link.
    ///
    /// Example: tessera tenant create --name Northwind --admin-email nora@northwind.example
    Create {
        #[command(flatten)]
        remote: RemoteArgs,
        /// The tenant's display name.
        #[arg(long)]
        name: String,
        /// FREE, TEAM or ENTERPRISE [default: TEAM].
        #[arg(long)]
        tier: Option<String>,
        /// The first admin's email.
        #[arg(long)]
        admin_email: String,
        /// The first admin's display name [default: the email before `@`].
        #[arg(long)]
        admin_name: Option<String>,
    },
    /// List every tenant.
    ///
    /// Example: tessera tenant list --output json
    List {
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Show one tenant.
    ///
    /// Example: tessera tenant show tenant/<uuid>
    Show {
        #[command(flatten)]
        remote: RemoteArgs,
        /// `tenant/<uuid>` or the bare UUID.
        id: String,
    },
    /// Stop a tenant's tokens, grants and sessions on every instance.
    ///
    /// Example: tessera tenant disable tenant/<uuid>
    Disable {
        #[command(flatten)]
        remote: RemoteArgs,
        id: String,
    },
    /// Let a disabled tenant work again (its old tokens stay ended).
    ///
    /// Example: tessera tenant enable tenant/<uuid>
    Enable {
        #[command(flatten)]
        remote: RemoteArgs,
        id: String,
    },
    /// Delete a tenant and everything in it; needs `--yes`.
    ///
    /// Example: tessera tenant delete tenant/<uuid> --yes
    Delete {
        #[command(flatten)]
        remote: RemoteArgs,
        id: String,
        /// Confirms that the tenant and all of its data go for good.
        #[arg(long)]
        yes: bool,
    },
}

/// A session with the operator's `platform` token: the integration named on the command line,
/// else the environment or the profile, as for every admin command.
async fn connect(args: &RemoteArgs) -> anyhow::Result<Session> {
    let Some(client_id) = &args.client_id else {
        return Session::open(&args.session).await;
    };
    let profile = Profile {
        server: args
            .server
            .clone()
            .or_else(|| std::env::var("TESSERA_SERVER").ok())
            .unwrap_or_else(|| "http://127.0.0.1:8080".into()),
        client_id: client_id.clone(),
        client_secret: read_secret(args.client_secret_file.as_deref())?,
    };
    let mut session = Session::with(&profile, args.session.output).await?;
    session.fields.clone_from(&args.session.fields);
    Ok(session)
}

const COLUMNS: &[(&str, &str)] = &[
    ("TENANT_ID", "tenant_id"),
    ("NAME", "display_name"),
    ("TIER", "tier"),
    ("STATE", "state"),
    ("CREATED", "created_at"),
];

/// Tenants as JSON, or as a table with their state in a word.
fn print(session: &Session, value: &Value, rows: &[Value]) {
    let rows: Vec<Value> = rows
        .iter()
        .map(|t| {
            let state = if t["operator"] == true {
                "operator"
            } else if t["disabled"] == true {
                "disabled"
            } else {
                "active"
            };
            let mut row = t.clone();
            row["state"] = json!(state);
            row
        })
        .collect();
    session.print(value, &rows, COLUMNS);
}

/// The path of one tenant: the full id's slash percent-encoded, or the bare UUID as it is.
fn tenant_path(id: &str) -> String {
    format!("/v1/tenants/{}", id.trim().replace('/', "%2F"))
}

pub async fn run(cmd: TenantCommand) -> anyhow::Result<()> {
    match cmd {
        TenantCommand::Create {
            remote,
            name,
            tier,
            admin_email,
            admin_name,
        } => {
            let remote = connect(&remote).await?;
            let mut body = json!({"display_name": name, "admin_email": admin_email});
            if let Some(tier) = tier {
                body["tier"] = json!(tier);
            }
            if let Some(admin_name) = admin_name {
                body["admin_display_name"] = json!(admin_name);
            }
            let made = remote
                .call(reqwest::Method::POST, "/v1/tenants", Some(&body))
                .await?;
            print(&remote, &made, std::slice::from_ref(&made));
            if remote.output == Output::Table && remote.fields.is_empty() {
                println!(
                    "\nSend this one-time link to {}; it sets their password (expires {}):\n  {}",
                    made["admin"]["email"].as_str().unwrap_or_default(),
                    made["admin"]["invitation_expires_at"]
                        .as_str()
                        .unwrap_or_default(),
                    made["admin"]["invitation_url"].as_str().unwrap_or_default(),
                );
            }
        }
        TenantCommand::List { remote } => {
            let remote = connect(&remote).await?;
            let all = remote.list_all("/v1/tenants", "tenants", 500).await?;
            print(&remote, &json!({ "tenants": all }), &all);
        }
        TenantCommand::Show { remote, id } => {
            let remote = connect(&remote).await?;
            let found = remote
                .call(reqwest::Method::GET, &tenant_path(&id), None)
                .await?;
            print(&remote, &found, std::slice::from_ref(&found));
        }
        TenantCommand::Disable { remote, id } => set_disabled(&remote, &id, true).await?,
        TenantCommand::Enable { remote, id } => set_disabled(&remote, &id, false).await?,
        TenantCommand::Delete { remote, id, yes } => {
            if !yes {
                bail!("deleting {id} removes all of its data for good: add --yes to confirm");
            }
            let remote = connect(&remote).await?;
            remote
                .call(reqwest::Method::DELETE, &tenant_path(&id), None)
                .await?;
            eprintln!("deleted {id}");
        }
    }
    Ok(())
}

async fn set_disabled(args: &RemoteArgs, id: &str, disabled: bool) -> anyhow::Result<()> {
    let remote = connect(args).await?;
    let changed = remote
        .call(
            reqwest::Method::PATCH,
            &tenant_path(id),
            Some(&json!({ "disabled": disabled })),
        )
        .await?;
    print(&remote, &changed, std::slice::from_ref(&changed));
    Ok(())
}

//! `tessera tenant …` (SPEC §4.1, §10): tenants managed over the server's API with a `platform`
//! token, never by writing to the database. The secret comes from `TESSERA_CLIENT_SECRET` or a
//! file, never from the command line.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{json, Value};

/// Where the server is and who calls it.
#[derive(Args, Debug, Clone)]
pub struct RemoteArgs {
    /// The server's base URL.
    #[arg(long, env = "TESSERA_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// An integration of the operator tenant that holds `platform`.
    #[arg(long, env = "TESSERA_CLIENT_ID")]
    pub client_id: String,
    /// A file holding its secret; otherwise `TESSERA_CLIENT_SECRET` is read.
    #[arg(long)]
    pub client_secret_file: Option<PathBuf>,
    /// `table` for people, `json` for scripts.
    #[arg(long, value_enum, default_value = "table")]
    pub output: Output,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Table,
    Json,
}

#[derive(Subcommand)]
pub enum TenantCommand {
    /// Make a tenant and its first admin, who gets a one-time invitation link.
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
    List {
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Show one tenant.
    Show {
        #[command(flatten)]
        remote: RemoteArgs,
        /// `tenant/<uuid>` or the bare UUID.
        id: String,
    },
    /// Stop a tenant's tokens, grants and sessions on every instance.
    Disable {
        #[command(flatten)]
        remote: RemoteArgs,
        id: String,
    },
    /// Let a disabled tenant work again (its old tokens stay ended).
    Enable {
        #[command(flatten)]
        remote: RemoteArgs,
        id: String,
    },
    /// Delete a tenant and everything in it; needs `--yes`.
    Delete {
        #[command(flatten)]
        remote: RemoteArgs,
        id: String,
        /// Confirms that the tenant and all of its data go for good.
        #[arg(long)]
        yes: bool,
    },
}

/// A caller of the management API with a `platform` token.
struct Remote {
    base: String,
    token: String,
    http: reqwest::Client,
    output: Output,
}

impl Remote {
    async fn connect(args: &RemoteArgs) -> anyhow::Result<Remote> {
        let secret = match &args.client_secret_file {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the secret file {}", path.display()))?
                .trim()
                .to_owned(),
            None => std::env::var("TESSERA_CLIENT_SECRET").map_err(|_| {
                anyhow::anyhow!(
                    "no client secret: set TESSERA_CLIENT_SECRET or pass --client-secret-file"
                )
            })?,
        };
        let base = args.server.trim_end_matches('/').to_owned();
        let token_url = format!("{base}/oauth2/token");
        let token = crate::client::get_token(&args.client_id, &secret, &token_url, None).await?;
        Ok(Remote {
            base,
            token,
            http: reqwest::Client::new(),
            output: args.output,
        })
    }

    /// Sends a request; a non-2xx answer is an error with the server's words.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method, &url).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach {url}"))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if !status.is_success() {
            let why = body["error_description"]
                .as_str()
                .or(body["error"].as_str())
                .unwrap_or(text.as_str());
            bail!("{status}: {why}");
        }
        Ok(body)
    }

    fn print(&self, value: &Value, rows: &[Value]) {
        match self.output {
            Output::Json => println!(
                "{}",
                serde_json::to_string_pretty(value).unwrap_or_default()
            ),
            Output::Table => print_table(rows),
        }
    }
}

/// Tenants as an aligned table: id, name, tier, state, created.
fn print_table(rows: &[Value]) {
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|t| {
            let state = if t["operator"] == true {
                "operator"
            } else if t["disabled"] == true {
                "disabled"
            } else {
                "active"
            };
            [
                t["tenant_id"].as_str().unwrap_or_default().to_owned(),
                t["display_name"].as_str().unwrap_or_default().to_owned(),
                t["tier"].as_str().unwrap_or_default().to_owned(),
                state.to_owned(),
                t["created_at"].as_str().unwrap_or_default().to_owned(),
            ]
        })
        .collect();
    let head = ["TENANT_ID", "NAME", "TIER", "STATE", "CREATED"];
    let widths: Vec<usize> = (0..5)
        .map(|i| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain([head[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |row: [&str; 5]| {
        let padded: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(head);
    for row in &cells {
        line([&row[0], &row[1], &row[2], &row[3], &row[4]]);
    }
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
            let remote = Remote::connect(&remote).await?;
            let mut body = json!({"display_name": name, "admin_email": admin_email});
            if let Some(tier) = tier {
                body["tier"] = json!(tier);
            }
            if let Some(admin_name) = admin_name {
                body["admin_display_name"] = json!(admin_name);
            }
            let made = remote
                .call(reqwest::Method::POST, "/v1/tenants", Some(body))
                .await?;
            remote.print(&made, std::slice::from_ref(&made));
            if remote.output == Output::Table {
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
            let remote = Remote::connect(&remote).await?;
            let mut all = Vec::new();
            let mut page_token = String::new();
            loop {
                let page = remote
                    .call(
                        reqwest::Method::GET,
                        &format!("/v1/tenants?page_size=500&page_token={page_token}"),
                        None,
                    )
                    .await?;
                all.extend(page["tenants"].as_array().cloned().unwrap_or_default());
                page_token = page["next_page_token"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                if page_token.is_empty() {
                    break;
                }
            }
            remote.print(&json!({ "tenants": all }), &all);
        }
        TenantCommand::Show { remote, id } => {
            let remote = Remote::connect(&remote).await?;
            let found = remote
                .call(reqwest::Method::GET, &tenant_path(&id), None)
                .await?;
            remote.print(&found, std::slice::from_ref(&found));
        }
        TenantCommand::Disable { remote, id } => set_disabled(&remote, &id, true).await?,
        TenantCommand::Enable { remote, id } => set_disabled(&remote, &id, false).await?,
        TenantCommand::Delete { remote, id, yes } => {
            if !yes {
                bail!("deleting {id} removes all of its data for good: add --yes to confirm");
            }
            let remote = Remote::connect(&remote).await?;
            remote
                .call(reqwest::Method::DELETE, &tenant_path(&id), None)
                .await?;
            eprintln!("deleted {id}");
        }
    }
    Ok(())
}

async fn set_disabled(args: &RemoteArgs, id: &str, disabled: bool) -> anyhow::Result<()> {
    let remote = Remote::connect(args).await?;
    let changed = remote
        .call(
            reqwest::Method::PATCH,
            &tenant_path(id),
            Some(json!({ "disabled": disabled })),
        )
        .await?;
    remote.print(&changed, std::slice::from_ref(&changed));
    Ok(())
}

//! `tessera tenant …` (SPEC §4.1, §10): tenants managed over the server's API with a `platform`
//! token, never by writing to the database. The same shape as every other object
//! (`list|get|create|update|delete`, bodies from `--file` and `--set field=value`), plus
//! `disable` and `enable`; run as the saved profile, or as an integration named with
//! `--client-id`, its secret from `TESSERA_CLIENT_SECRET` or a file, never from the command line.

use clap::Subcommand;
use serde_json::json;

use crate::api_cli::{self, item_path, ApiCommand, TENANT};
use crate::remote::{Session, SessionArgs};

#[derive(Subcommand)]
pub enum TenantCommand {
    #[command(flatten)]
    Object(ApiCommand),
    /// Stop a tenant's tokens, grants and sessions on every instance.
    ///
    /// Example: tessera tenant disable tenant/<uuid>
    Disable {
        #[command(flatten)]
        session: SessionArgs,
        id: String,
    },
    /// Let a disabled tenant work again (its old tokens stay ended).
    ///
    /// Example: tessera tenant enable tenant/<uuid>
    Enable {
        #[command(flatten)]
        session: SessionArgs,
        id: String,
    },
}

pub async fn run(cmd: TenantCommand) -> anyhow::Result<()> {
    let (session, id, disabled) = match cmd {
        TenantCommand::Object(cmd) => return api_cli::run(&TENANT, cmd).await,
        TenantCommand::Disable { session, id } => (session, id, true),
        TenantCommand::Enable { session, id } => (session, id, false),
    };
    let session = Session::open(&session).await?;
    let changed = session
        .call(
            reqwest::Method::PATCH,
            &item_path(TENANT.path, &id),
            Some(&json!({ "disabled": disabled })),
        )
        .await?;
    api_cli::print(&session, &TENANT, &changed, std::slice::from_ref(&changed));
    Ok(())
}

//! Admin commands that work on the database directly: `migrate`, `backup`, `keys rotate`,
//! `admin offline integration create|list|delete` (for an operator with only the database; the
//! everyday `tessera integration …` goes through the API, `api_cli.rs`). Running servers learn
//! of the changes through the change feed within a second.

use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use tessera_core::id::{ClientId, TenantId};
use tessera_core::model::{ClientSecretRecord, NewIntegration};
use tessera_core::page::PageRequest;
use tessera_core::ports::{Change, Clock, OsRng, Storage, SystemClock};
use tessera_core::scope::ScopeSet;
use tessera_core::token::SigningAlg;

use crate::config::StorageArgs;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Make a new signing key current; the old one stays in JWKS until its tokens expire.
    ///
    /// Example: tessera keys rotate --data-dir /var/lib/tessera --signing-alg EdDSA
    Rotate {
        #[command(flatten)]
        storage: StorageArgs,
        /// RS256, ES256 or EdDSA [default: the current key's].
        #[arg(long, env = "TESSERA_SIGNING_ALG")]
        signing_alg: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum IntegrationCommand {
    /// Register an integration and print its secret once.
    ///
    /// Example: tessera admin offline integration create --data-dir /var/lib/tessera --name ops --scopes admin
    Create(CreateArgs),
    /// List the integrations of a tenant.
    ///
    /// Example: tessera admin offline integration list --data-dir /var/lib/tessera
    List {
        #[command(flatten)]
        storage: StorageArgs,
        /// The tenant [default: the first tenant].
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Delete an integration; its tokens stop working.
    ///
    /// Example: tessera admin offline integration delete <client_id> --data-dir /var/lib/tessera --yes
    Delete {
        #[command(flatten)]
        storage: StorageArgs,
        client_id: String,
        #[arg(long)]
        tenant: Option<String>,
        /// Delete without asking (what a script passes).
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Args)]
pub struct CreateArgs {
    #[command(flatten)]
    storage: StorageArgs,
    /// The display name.
    #[arg(long)]
    name: String,
    /// Space-separated scopes it may request [default: every scope but admin and impersonation].
    #[arg(long)]
    scopes: Option<String>,
    #[arg(long)]
    tenant: Option<String>,
}

async fn open(args: &StorageArgs) -> anyhow::Result<Arc<dyn Storage>> {
    let (_, url) = args.resolve()?;
    tessera_store::connect(&url).await.with_context(|| {
        format!(
            "cannot open the database {}",
            crate::config::redact_url(&url)
        )
    })
}

async fn tenant(storage: &dyn Storage, given: Option<&str>) -> anyhow::Result<TenantId> {
    match given {
        Some(t) => Ok(t.parse()?),
        None => match storage.list_all_tenants().await?.first() {
            Some(t) => Ok(t.id),
            None => bail!("there is no tenant yet: start `tessera serve` once first"),
        },
    }
}

#[derive(Args)]
pub struct BackupArgs {
    #[command(flatten)]
    storage: StorageArgs,
    /// The file to write; it must not exist. Keep the master key (the data folder's
    /// `master.key`, or TESSERA_MASTER_KEY) with it: the copy's secrets are encrypted with it.
    #[arg(long)]
    to: std::path::PathBuf,
}

/// `tessera backup --to FILE`.
pub async fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let (_, database) = args.storage.resolve()?;
    let done = tessera_store::backup::backup_sqlite(&database, &args.to).await?;
    println!(
        "backed up {} to {} ({} bytes, {} tables, integrity checked)",
        crate::config::redact_url(&database),
        args.to.display(),
        done.bytes,
        done.tables
    );
    Ok(())
}

#[derive(Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    storage: StorageArgs,
    /// The SQLite database to move (sqlite://<path>) [default: the data folder's].
    #[arg(long, requires = "to")]
    from: Option<String>,
    /// Move the deployment to this PostgreSQL database (postgres://…): every table is copied
    /// and checked by counts and checksums, in one transaction. It must be empty.
    #[arg(long, env = "TESSERA_MIGRATE_TO")]
    to: Option<String>,
    /// Delete everything in the --to database first (only with --to).
    #[arg(long, requires = "to")]
    replace: bool,
}

/// `tessera migrate`: brings the schema up to date; with `--to`, moves a SQLite deployment
/// to PostgreSQL.
pub async fn migrate(args: MigrateArgs) -> anyhow::Result<()> {
    let Some(to) = args.to else {
        let storage = open(&args.storage).await?;
        println!("the {} schema is up to date", storage.backend_name());
        return Ok(());
    };
    let from = match args.from {
        Some(from) => from,
        None => args.storage.resolve()?.1,
    };
    let (shown_from, shown_to) = (
        crate::config::redact_url(&from),
        crate::config::redact_url(&to),
    );
    let moved = tessera_store::transfer::sqlite_to_postgres(&from, &to, args.replace)
        .await
        .with_context(|| format!("nothing was moved to {shown_to}"))?;
    let width = moved.tables.iter().map(|t| t.name.len()).max().unwrap_or(0);
    println!(
        "moved {shown_from} to {shown_to}{}:",
        if moved.replaced {
            " (its previous rows deleted)"
        } else {
            ""
        }
    );
    for table in &moved.tables {
        println!(
            "  {:width$}  {:>9} rows  checksum {}  (source = target)",
            table.name, table.rows, table.checksum
        );
    }
    let rows: u64 = moved.tables.iter().map(|t| t.rows).sum();
    println!(
        "{} tables, {rows} rows, counts and checksums equal on both sides.\n\
         Start the servers with --database {shown_to} and the same master key (the data folder's \
         master.key or TESSERA_MASTER_KEY): the secrets are encrypted with it. Leave the SQLite \
         deployment stopped, or changes made to it after the move stay behind.",
        moved.tables.len()
    );
    Ok(())
}

pub async fn keys(cmd: KeysCommand) -> anyhow::Result<()> {
    let KeysCommand::Rotate {
        storage: args,
        signing_alg,
    } = cmd;
    let storage = open(&args).await?;
    let (data_dir, _) = args.resolve()?;
    let master = crate::config::master_key(&data_dir, &OsRng)?;
    let alg = match signing_alg {
        Some(name) => SigningAlg::parse(&name)
            .with_context(|| format!("`{name}` is not RS256, ES256 or EdDSA"))?,
        None => storage
            .live_signing_keys(SystemClock.now_millis())
            .await?
            .first()
            .and_then(|k| SigningAlg::parse(&k.alg))
            .unwrap_or(SigningAlg::Rs256),
    };
    let kid =
        tessera_server::hot::keys::rotate(&*storage, &master, alg, &SystemClock, &OsRng).await?;
    println!("new current {} signing key: {kid}", alg.as_str());
    Ok(())
}

pub async fn integration(cmd: IntegrationCommand) -> anyhow::Result<()> {
    match cmd {
        IntegrationCommand::Create(args) => {
            let storage = open(&args.storage).await?;
            let tenant = tenant(&*storage, args.tenant.as_deref()).await?;
            let scopes = args.scopes.as_deref().map(ScopeSet::parse).transpose()?;
            let now = SystemClock.now_millis();
            let integration = NewIntegration {
                display_name: args.name,
                scopes,
                custom_claims: Default::default(),
                token_ttl_seconds: None,
                refresh_token_idle_seconds: None,
                refresh_token_absolute_seconds: None,
                jwks_uri: None,
                redirect_uris: Vec::new(),
                public_client: false,
                dpop_bound_access_tokens: false,
                app: None,
                profile: Default::default(),
                urls: Default::default(),
            }
            .validate(ClientId::generate(&OsRng), tenant, now)?;
            let (secret, record) = ClientSecretRecord::generate(integration.client_id, &OsRng, now);
            storage
                .create_integration(&integration, Some(&record))
                .await?;
            storage
                .publish(now, &Change::Client(integration.client_id))
                .await?;
            println!("client_id:     {}\nclient_secret: {}\nscopes:        {}\n(the secret is not shown again)", integration.client_id, secret.expose(), integration.scopes);
        }
        IntegrationCommand::List {
            storage: args,
            tenant: given,
        } => {
            let storage = open(&args).await?;
            let tenant = tenant(&*storage, given.as_deref()).await?;
            let mut page = PageRequest {
                after: 0,
                size: 1000,
            };
            loop {
                let found = storage.list_integrations(tenant, page).await?;
                for i in &found.items {
                    println!("{}  {}  [{}]", i.client_id, i.display_name, i.scopes);
                }
                match found.next_after {
                    Some(after) => page.after = after,
                    None => break,
                }
            }
        }
        IntegrationCommand::Delete {
            storage: args,
            client_id,
            tenant: given,
            yes,
        } => {
            crate::remote::confirm(&format!("delete integration {client_id}"), yes)?;
            let storage = open(&args).await?;
            let tenant = tenant(&*storage, given.as_deref()).await?;
            let id: ClientId = client_id.parse()?;
            storage
                .delete_integration(tenant, id)
                .await
                .map_err(|e| anyhow::anyhow!("{client_id}: {e}"))?;
            storage
                .publish(SystemClock.now_millis(), &Change::Client(id))
                .await?;
            println!("deleted {client_id}");
        }
    }
    Ok(())
}

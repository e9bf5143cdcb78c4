//! `tessera`: the server, its admin commands and its client, in one binary.

mod admin;
mod bootstrap;
mod client;
mod config;
mod key_store;
mod serve;
mod tenant_cli;

use clap::{Parser, Subcommand};

// glibc's malloc costs ~9% of a token request under load (arena locks, consolidation);
// mimalloc's thread-local free lists cut that, and its idle footprint is small.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "tessera",
    version,
    about = "OAuth 2.0 / OpenID Connect token service for data platforms"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(Box<config::ServeArgs>),
    /// Bring the database schema up to date, then exit; with --to, move a SQLite deployment
    /// to PostgreSQL.
    ///
    /// Example: tessera migrate --data-dir /var/lib/tessera --to postgres://tessera@db/tessera
    Migrate(admin::MigrateArgs),
    /// Copy a live SQLite database consistently to a new file, while the server runs.
    ///
    /// Example: tessera backup --data-dir /var/lib/tessera --to /backups/tessera-2026-11-29.db
    Backup(admin::BackupArgs),
    /// Client commands: get and decode tokens.
    #[command(subcommand)]
    Token(client::TokenCommand),
    /// Signing keys.
    #[command(subcommand)]
    Keys(admin::KeysCommand),
    /// Integrations (OAuth clients), directly in the database.
    #[command(subcommand)]
    Integration(admin::IntegrationCommand),
    /// Tenants, over the server's API with a `platform` token (the operator's).
    #[command(subcommand)]
    Tenant(tenant_cli::TenantCommand),
    /// Exit 0 when a server answers its readiness check, 1 otherwise: for a container's
    /// HEALTHCHECK, where there is no shell or curl.
    ///
    /// Example: tessera health --url http://127.0.0.1:8080/readyz
    Health(HealthArgs),
}

#[derive(clap::Args)]
struct HealthArgs {
    /// The readiness URL to ask.
    #[arg(
        long,
        env = "TESSERA_HEALTH_URL",
        default_value = "http://127.0.0.1:8080/readyz"
    )]
    url: String,
}

/// `tessera health`: 200 within five seconds, or a failure that says what came instead.
async fn health(args: HealthArgs) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()?;
    let reply = client
        .get(&args.url)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("{} did not answer: {e}", args.url))?;
    if reply.status() != reqwest::StatusCode::OK {
        anyhow::bail!("{} answered {}", args.url, reply.status());
    }
    println!("ready");
    Ok(())
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve::run(*args).await,
            Command::Migrate(args) => admin::migrate(args).await,
            Command::Backup(args) => admin::backup(args).await,
            Command::Token(cmd) => client::run(cmd).await,
            Command::Keys(cmd) => admin::keys(cmd).await,
            Command::Integration(cmd) => admin::integration(cmd).await,
            Command::Tenant(cmd) => tenant_cli::run(cmd).await,
            Command::Health(args) => health(args).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

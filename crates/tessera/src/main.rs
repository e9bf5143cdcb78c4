//! `tessera`: the server, its admin commands and its client, in one binary.

mod admin;
mod api_cli;
mod apply;
mod bootstrap;
mod client;
mod config;
mod key_store;
mod output;
mod private_token_cli;
mod remote;
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
    ///
    /// Example: tessera serve --listen 0.0.0.0:8080 --issuer https://auth.example.com --data-dir /var/lib/tessera
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
    /// Save a server and the integration to call it as (the secret from a prompt, a file or
    /// TESSERA_CLIENT_SECRET); the admin commands below use it.
    ///
    /// Example: tessera login --server https://auth.example.com --client-id 0f8fad5b-…
    Login(remote::LoginArgs),
    /// Forget a saved profile and its secret.
    ///
    /// Example: tessera logout --profile staging
    Logout(remote::LogoutArgs),
    /// Integrations (OAuth clients), over the API.
    ///
    /// Example: tessera integration create --set display_name=Billing --set 'scopes=["assets:read"]'
    #[command(subcommand)]
    Integration(api_cli::ApiCommand),
    /// Access policies, over the API.
    ///
    /// Example: tessera policy list --output json | jq '.access_policies[].identity'
    #[command(subcommand)]
    Policy(api_cli::ApiCommand),
    /// Users of the tenant, over the API.
    ///
    /// Example: tessera user create --set email=ana@example.com --set role=member
    #[command(subcommand)]
    User(api_cli::ApiCommand),
    /// Consents (JWT bearer), over the API.
    ///
    /// Example: tessera consent list
    #[command(subcommand)]
    Consent(api_cli::ApiCommand),
    /// Connections with other organizations' applications, over the API.
    ///
    /// Example: tessera connection delete <id>
    #[command(subcommand)]
    Connection(api_cli::ApiCommand),
    /// Authorizations of multi-tenant applications, over the API.
    ///
    /// Example: tessera app-authorization create --set app_name=kpi --set access=read_write
    #[command(subcommand)]
    AppAuthorization(api_cli::ApiCommand),
    /// The logged-in integration's private tokens (its key/value store), or with
    /// --integration another integration's, over the API.
    ///
    /// Example: tessera private-token put customer-42 erp.password --value-file erp-password
    #[command(subcommand)]
    PrivateToken(private_token_cli::PrivateTokenCommand),
    /// Platforms whose identity tokens the tenant accepts in place of secrets (Kubernetes,
    /// GitHub Actions, SPIFFE), over the API.
    ///
    /// Example: tessera trusted-issuer create --set issuer=https://token.actions.githubusercontent.com --set 'audiences=["https://github.com/acme"]'
    #[command(subcommand)]
    TrustedIssuer(api_cli::ApiCommand),
    /// The tenant's APIs tokens may be issued for (RFC 8707 `resource`): an MCP server, a
    /// service of the platform, over the API.
    ///
    /// Example: tessera resource-server create --set identifier=https://mcp.example.com/mcp --set display_name='Fleet tools' --set 'scopes=["assets:read"]'
    #[command(subcommand)]
    ResourceServer(api_cli::ApiCommand),
    /// Platform identities an integration accepts in place of its secret, over the API.
    ///
    /// Example: tessera federated-credential create --integration <client_id> --set issuer=https://token.actions.githubusercontent.com --set subject=repo:acme/app:ref:refs/heads/main
    FederatedCredential(api_cli::OfIntegration),
    /// The tenant's audit log, over the API.
    ///
    /// Example: tessera audit list --output json
    #[command(subcommand)]
    Audit(api_cli::ApiCommand),
    /// Make the tenant's integrations, access policies, users and app authorizations match a
    /// file (YAML): --dry-run prints the plan, --prune deletes what the file does not name.
    ///
    /// Example: tessera apply -f tessera.yaml --dry-run
    Apply(apply::ApplyArgs),
    /// Any call of the API as the logged-in integration, for what has no command of its own.
    ///
    /// Example: tessera api POST /v1/integrations/<client_id>/keys --set certificate="$(cat cert.pem)"
    Api(api_cli::RawArgs),
    /// Commands for an operator who has only the database (no server running).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Tenants, over the server's API with a `platform` token (the operator's).
    #[command(subcommand)]
    Tenant(tenant_cli::TenantCommand),
    /// Exit 0 when a server answers its readiness check, 1 otherwise: for a container's
    /// HEALTHCHECK, where there is no shell or curl.
    ///
    /// Example: tessera health --url http://127.0.0.1:8080/readyz
    Health(HealthArgs),
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Straight to the database: for an operator without a running server. Running servers
    /// learn of the changes within a second.
    #[command(subcommand)]
    Offline(OfflineCommand),
}

#[derive(Subcommand)]
enum OfflineCommand {
    /// Integrations, written to the database.
    ///
    /// Example: tessera admin offline integration list --data-dir /var/lib/tessera
    #[command(subcommand)]
    Integration(admin::IntegrationCommand),
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
            Command::Login(args) => remote::login(args).await,
            Command::Logout(args) => remote::logout(args).await,
            Command::Integration(cmd) => api_cli::run(&api_cli::INTEGRATION, cmd).await,
            Command::Policy(cmd) => api_cli::run(&api_cli::POLICY, cmd).await,
            Command::User(cmd) => api_cli::run(&api_cli::USER, cmd).await,
            Command::Consent(cmd) => api_cli::run(&api_cli::CONSENT, cmd).await,
            Command::Connection(cmd) => api_cli::run(&api_cli::CONNECTION, cmd).await,
            Command::AppAuthorization(cmd) => api_cli::run(&api_cli::APP_AUTHORIZATION, cmd).await,
            Command::PrivateToken(cmd) => private_token_cli::run(cmd).await,
            Command::TrustedIssuer(cmd) => api_cli::run(&api_cli::TRUSTED_ISSUER, cmd).await,
            Command::ResourceServer(cmd) => api_cli::run(&api_cli::RESOURCE_SERVER, cmd).await,
            Command::FederatedCredential(args) => {
                api_cli::run_under(&api_cli::FEDERATED_CREDENTIAL, args).await
            }
            Command::Audit(cmd) => api_cli::run(&api_cli::AUDIT, cmd).await,
            Command::Api(args) => api_cli::raw(args).await,
            Command::Apply(args) => apply::run(args).await,
            Command::Admin(AdminCommand::Offline(OfflineCommand::Integration(cmd))) => {
                admin::integration(cmd).await
            }
            Command::Tenant(cmd) => tenant_cli::run(cmd).await,
            Command::Health(args) => health(args).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(remote::exit_status(&e))
        }
    }
}

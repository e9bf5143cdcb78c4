//! `tessera serve`: wiring. Opens storage, runs the first start, loads the snapshots, starts the
//! workers and serves until SIGINT/SIGTERM.
//!
//! HTTP runs on tokio's work-stealing runtime: see "Performance" in docs/ARCHITECTURE.md for
//! why not thread-per-core.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tessera_core::ports::{OsRng, SystemClock};
use tessera_server::listener::ConnectionLimits;
use tessera_server::{router, workers, AppState, ServerConfig};
use tokio_util::sync::CancellationToken;

use crate::bootstrap;
use crate::config::ServeArgs;

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let settings = args.resolve()?;
    if args.print_config {
        print!("{}", settings.printable());
        return Ok(());
    }
    // Held to the end: dropping it flushes the lines still queued for the writer thread.
    let _log_writer = init_logging(settings.json_logs);
    let clock = Arc::new(SystemClock);
    let rng = Arc::new(OsRng);
    let master_key = Arc::new(crate::config::master_key(&settings.data_dir, &OsRng)?);
    let storage = tessera_store::connect(&settings.database)
        .await
        .with_context(|| {
            format!(
                "cannot open the database {}",
                crate::config::redact_url(&settings.database)
            )
        })?;

    // The certificate is checked before anything listens: a bad pair stops the start.
    let tls = settings
        .tls
        .clone()
        .map(tessera_server::tls::Tls::new)
        .transpose()
        .context("cannot serve HTTPS")?;
    // Bind first, so that `--listen 127.0.0.1:0` knows its port before it names the issuer.
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let bound = listener.local_addr()?;
    let admin_listener = match settings.admin_listen {
        Some(address) => Some(
            tokio::net::TcpListener::bind(address)
                .await
                .with_context(|| format!("cannot listen on {address} (--admin-listen)"))?,
        ),
        None => None,
    };
    let issuer = settings
        .issuer
        .clone()
        .unwrap_or_else(|| format!("{}://{bound}", settings.scheme()));

    if let Some(made) = bootstrap::first_start(&*storage, &*clock, &*rng).await? {
        print!("{}", bootstrap::banner(&made, &issuer));
    }
    let config = ServerConfig {
        audience: settings.audience.clone().unwrap_or_else(|| issuer.clone()),
        issuer,
        signing_alg: settings.signing_alg,
        remote_keys: Default::default(),
        max_private_token_bytes: settings.private_token_max_bytes,
        webhook_retry_horizon_seconds: settings.webhook_retry_horizon_seconds,
        webhook_retry_base_ms: settings.webhook_retry_base_ms,
        url_rules: tessera_core::model::UrlRules {
            plain_http_anywhere: settings.allow_plain_http_callbacks,
        },
        verified_token_cache: 50_000,
        key_rotation_days: settings.key_rotation_days,
        allow_sign_up: settings.allow_sign_up,
        allow_private_callbacks: settings.allow_private_callbacks,
        dpop_nonces: settings.dpop_nonces,
        trusted_proxies: settings.trusted_proxies.clone(),
        access_log: settings.access_log,
        invitation_ttl_seconds: i64::from(settings.invitation_ttl_seconds),
        body_budget_bytes: settings.body_budget_mib * 1024 * 1024,
        session_seconds: settings.session_seconds,
        session_idle_seconds: settings.session_idle_seconds,
        public_metrics: admin_listener.is_none(),
    };
    let (state, audit_rx) = AppState::load(config, storage, clock, rng, master_key)
        .await
        .context("cannot load the signing keys")?;
    let shutdown = CancellationToken::new();
    let tasks = workers::spawn(state.clone(), audit_rx, shutdown.clone());

    let limits = connection_limits(&settings);
    let mut tasks = tasks;
    if let Some(tls) = &tls {
        tasks.push(tokio::spawn(
            tls.clone().watch(Duration::from_secs(1), shutdown.clone()),
        ));
    }
    if let Some(admin) = admin_listener {
        let address = admin.local_addr()?;
        println!("tessera admin listening on http://{address}");
        let app = tessera_server::admin_router(state.clone());
        let stop = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            let served = tessera_server::listener::serve(
                admin,
                app,
                ConnectionLimits::default(),
                None,
                stop.cancelled_owned(),
            );
            if let Err(e) = served.await {
                tracing::error!(error = %e, "the admin listener stopped");
            }
        }));
    }
    println!("tessera listening on {}://{bound}", settings.scheme());
    tracing::info!(%bound, backend = state.storage.backend_name(), max_connections = limits.max_connections, tls = tls.is_some(), "serving");
    tessera_server::listener::serve(listener, router(state), limits, tls, stop_signal())
        .await
        .context("the server stopped with an error")?;
    // Workers stop last, so the audit flusher writes what the last requests queued.
    shutdown.cancel();
    for task in tasks {
        let _ = task.await;
    }
    tessera_server::access_log::flush();
    Ok(())
}

/// The timeouts, and the connection cap: the soft file limit is raised to the hard one, and
/// 256 descriptors are kept for the database, files and outgoing calls.
fn connection_limits(settings: &crate::config::Settings) -> ConnectionLimits {
    let files = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    let from_files = usize::try_from(files.saturating_sub(256).max(16)).unwrap_or(usize::MAX);
    ConnectionLimits {
        header_timeout: Duration::from_secs(settings.header_timeout_seconds),
        keep_alive_idle: Duration::from_secs(settings.keep_alive_idle_seconds),
        body_timeout: Duration::from_secs(settings.body_timeout_seconds),
        body_idle_timeout: Duration::from_secs(settings.body_idle_timeout_seconds),
        max_connections: settings
            .max_connections
            .map_or(from_files, |n| n.clamp(1, from_files)),
    }
}

async fn stop_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = interrupt.await;
            return;
        }
    };
    tokio::select! {
        _ = interrupt => {}
        _ = term.recv() => {}
    }
}

/// Logs go to stderr from a thread of their own (`tracing_appender::non_blocking`): a request
/// only queues its line, so a slow terminal or disk never holds it up. If the queue is full
/// (128,000 lines), lines are dropped rather than requests slowed. `TESSERA_LOG` is the filter
/// (`info` by default; `tessera::access=off` silences the access log, `debug` says more).
fn init_logging(json: bool) -> tracing_appender::non_blocking::WorkerGuard {
    use tracing_subscriber::EnvFilter;
    let (writer, guard) = tracing_appender::non_blocking(std::io::stderr());
    // The access lines take a faster path to the same writer: formatted by Tessera, in batches.
    let dropped = writer.error_counter();
    tessera_server::access_log::install(
        Box::new(writer.clone()),
        Box::new(move || dropped.dropped_lines()),
        json,
    );
    let filter = EnvFilter::try_from_env("TESSERA_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours for a terminal only: a journal or a file gets plain text.
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(terminal)
        .with_writer(writer);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
    guard
}

//! `webhooks`: the webhook delivery rate to a loopback receiver. An application (in the
//! server's first tenant) gets `--connections` data owners connected to it, each with
//! `--per-connection` changes in the outbox, written straight into the database (creating them
//! through the API would measure asset creation instead); then the server delivers and this
//! counts what arrives. Connections are delivered in parallel, each one's webhooks in order.
//! Prints `RESULT deliveries=… seconds=… rate=…`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use sqlx::Connection as _;
use tessera_core::crypto::MasterKey;
use tessera_core::id::{ClientId, ConnectionId, TenantId};
use tessera_core::model::{
    ClientSecretRecord, Connection, ConnectionStatus, Integration, Tenant, Tier,
};
use tessera_core::ports::{Change, OsRng};
use tessera_core::scope::ScopeSet;

pub async fn run(
    database: &str,
    master_key: &str,
    connections: usize,
    per_connection: usize,
) -> anyhow::Result<()> {
    let received = Arc::new(AtomicU64::new(0));
    let counter = received.clone();
    let app = axum::Router::new().route(
        "/hooks",
        axum::routing::post(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::Relaxed);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hooks", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });

    let store = tessera_store::connect(database).await?;
    let key = MasterKey::parse(master_key).map_err(|e| anyhow::anyhow!("{e}"))?;
    let vendor = store
        .list_all_tenants()
        .await?
        .first()
        .map(|t| t.id)
        .context("the database has no tenant: start the server once first")?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    let client_id = ClientId::generate(&tessera_core::ports::OsRng);
    let integration = Integration {
        client_id,
        tenant_id: vendor,
        display_name: "webhook bench".into(),
        scopes: ScopeSet::parse("assets:read")?,
        custom_claims: Default::default(),
        token_ttl_seconds: 3600,
        refresh: Default::default(),
        jwks_uri: None,
        redirect_uris: Vec::new(),
        public_client: false,
        dpop_bound_access_tokens: false,
        app: None,
        profile: tessera_core::model::AppProfile {
            webhook_url: Some(url.clone()),
            authentication_url: Some(url),
            ..Default::default()
        },
        origin: Default::default(),
        created_at: now,
        updated_at: now,
    };
    let (_, secret) = ClientSecretRecord::generate(client_id, &OsRng, now);
    store
        .create_integration(&integration, Some(&secret))
        .await?;
    store.publish(now, &Change::Client(client_id)).await?;
    let mut ids = Vec::with_capacity(connections);
    for n in 0..connections {
        let owner = Tenant::new(
            TenantId::generate(&tessera_core::ports::OsRng),
            &format!("owner {n}"),
            Tier::Team,
            now,
        )?;
        store.create_tenant(&owner).await?;
        let connection = Connection {
            id: ConnectionId::generate(&tessera_core::ports::OsRng),
            owner_tenant_id: owner.id,
            client_id,
            client_tenant_id: vendor,
            scopes: ScopeSet::parse("assets:read")?,
            state: "bench".into(),
            status: ConnectionStatus::Active,
            granted_by: "bench".into(),
            created_at: now,
            updated_at: now,
        };
        store.create_connection(&connection).await?;
        store
            .store_connection_secrets(
                connection.id,
                &key.encrypt(&OsRng, "connection bearer token", b"bench-token"),
                &key.encrypt(
                    &OsRng,
                    "connection webhook secret",
                    b"whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                ),
                now,
            )
            .await?;
        store.publish(now, &Change::Tenant(owner.id)).await?;
        store
            .publish(now, &Change::Connection(connection.id))
            .await?;
        ids.push(connection.id);
    }
    // Let the server's change feed deliver the new integration and connections.
    tokio::time::sleep(Duration::from_secs(1)).await;
    drop(store);

    // The outbox rows, as the asset writes would make them (this tool is the one place
    // outside tessera-store that knows the table).
    let mut db = sqlx::SqliteConnection::connect(database).await?;
    let mut tx = sqlx::Connection::begin(&mut db).await?;
    for round in 0..per_connection {
        for id in &ids {
            sqlx::query(
                "INSERT INTO webhook_events (connection_id, kind, payload, status, \
                 next_attempt_at, created_at) VALUES ($1, 'asset.created', $2, 'pending', $3, $3)",
            )
            .bind(id.to_string())
            .bind(format!(
                "{{\"identity\":\"assets/bench-{round}\",\"attributes\":{{\"n\":\"{round}\"}}}}"
            ))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    let started = Instant::now();
    let total = (connections * per_connection) as u64;
    while received.load(Ordering::Relaxed) < total {
        if started.elapsed() > Duration::from_secs(300) {
            bail!(
                "only {} of {total} webhooks arrived in 5 minutes",
                received.load(Ordering::Relaxed)
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "RESULT deliveries={total} seconds={seconds:.2} rate={:.0}",
        total as f64 / seconds
    );
    Ok(())
}

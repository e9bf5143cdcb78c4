//! Raw signing: the server's current key, minting the same claims the server mints, on N
//! threads. The issuance rate is compared with this floor.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tessera_core::ports::{Clock, SystemClock};
use tessera_core::token::AccessTokenClaims;

pub fn run(database: &str, threads: usize, duration: Duration) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let ring = runtime.block_on(async {
        let storage = tessera_store::connect(database).await?;
        let master = tessera_core::crypto::MasterKey::parse(
            &std::env::var("TESSERA_MASTER_KEY").context("TESSERA_MASTER_KEY")?,
        )?;
        anyhow::Ok(
            tessera_server::hot::keys::load_key_ring(&*storage, &master, SystemClock.now_millis())
                .await?,
        )
    })?;
    let ring = Arc::new(ring);
    let claims: AccessTokenClaims = serde_json::from_value(serde_json::json!({
        "iss": "http://127.0.0.1:8080", "sub": "0f8fad5b-d9cb-469f-a165-70867728950e",
        "aud": "http://127.0.0.1:8080", "exp": 1, "iat": 1, "nbf": 1, "jti": "CCIH_QsZsM6FKzwBR6L5Zw",
        "client_id": "0f8fad5b-d9cb-469f-a165-70867728950e", "scope": "assets:read",
        "tenant_id": "tenant/0f8fad5b-d9cb-469f-a165-70867728950e", "tier": "ENTERPRISE", "name": "Administrator"
    }))?;
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (ring, claims, stop, count) =
                (ring.clone(), claims.clone(), stop.clone(), count.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if ring.current().mint(&claims).is_ok() {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(duration);
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }
    println!(
        "RESULT sign alg={} threads={threads} ops={:.0}",
        ring.current().alg().as_str(),
        super::elapsed_rate(count.load(Ordering::Relaxed), start)
    );
    Ok(())
}

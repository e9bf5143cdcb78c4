//! Polls the change feed so that what another instance changed (a revocation, a new secret, a
//! key rotation) is honoured here within a second.

use std::collections::HashMap;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::state::AppState;

/// How often the feed is read.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// How far back each read looks: a transaction that commits late, or a writer whose clock is
/// behind, is still seen; ids already applied are skipped.
const LOOK_BACK_MS: i64 = 15_000;
/// How often everything is reloaded, as a safety net.
const FULL_RESYNC: Duration = Duration::from_secs(300);

pub async fn run(state: AppState, shutdown: CancellationToken) {
    let mut applied: HashMap<i64, i64> = HashMap::new();
    let mut interval = tokio::time::interval(POLL_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_resync = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = shutdown.cancelled() => break,
        }
        let now = state.clock.now_millis();
        match state.storage.changes_since(now - LOOK_BACK_MS).await {
            Ok(changes) => {
                for record in changes {
                    if applied.contains_key(&record.id) {
                        continue;
                    }
                    match state.apply(&record.change).await {
                        Ok(()) => {
                            applied.insert(record.id, record.at);
                        }
                        Err(e) => tracing::warn!(error = %e, "change not applied yet"),
                    }
                }
                applied.retain(|_, at| *at >= now - 2 * LOOK_BACK_MS);
            }
            Err(e) => tracing::warn!(error = %e, "change feed unreadable"),
        }
        if last_resync.elapsed() >= FULL_RESYNC {
            last_resync = tokio::time::Instant::now();
            if let Err(e) = state.resync().await {
                tracing::warn!(error = %e, "periodic resync failed");
            }
            state.revoked.prune(state.clock.now_seconds());
            let _ = state.storage.prune_changes(now - 3_600_000).await;
            let _ = state.storage.prune_assertions(now / 1000).await;
            let _ = state.storage.sweep_refresh_families(now / 1000).await;
        }
    }
}

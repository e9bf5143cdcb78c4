//! Removes what writes cut short left behind: the parts of a large private token value whose
//! instance stopped mid-write (a write that fails or is abandoned removes its own parts; a part
//! is left alone for a day, far longer than any upload of one value takes), and connections
//! whose hand-over never finished because the instance stopped mid-way (after ten minutes; a
//! hand-over takes seconds), so that none is left half-made.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::state::AppState;

const SWEEP_EVERY: Duration = Duration::from_secs(3600);
const UNFINISHED_AFTER_MS: i64 = 86_400_000;
const UNFINISHED_HAND_OVER_MS: i64 = 600_000;

pub async fn run(state: AppState, shutdown: CancellationToken) {
    loop {
        let before = state.clock.now_millis() - UNFINISHED_AFTER_MS;
        match state.storage.sweep_private_token_parts(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(parts = n, "removed the parts of unfinished writes"),
            Err(e) => tracing::warn!(error = %e, "could not sweep unfinished writes"),
        }
        sweep_connections(&state).await;
        tokio::select! {
            _ = tokio::time::sleep(SWEEP_EVERY) => {}
            _ = shutdown.cancelled() => break,
        }
    }
}

/// Removes connections whose hand-over never finished, and tells every instance.
pub async fn sweep_connections(state: &AppState) {
    let before = state.clock.now_millis() - UNFINISHED_HAND_OVER_MS;
    match state.storage.discard_unfinished_connections(before).await {
        Ok(ids) => {
            for id in ids {
                tracing::info!(connection = %id, "removed a connection whose hand-over never finished");
                if let Err(e) = state
                    .publish(tessera_core::ports::Change::Connection(id))
                    .await
                {
                    tracing::warn!(error = %e, "could not announce a removed connection");
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not sweep unfinished connections"),
    }
}

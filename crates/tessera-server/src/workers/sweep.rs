//! Removes what writes cut short left behind: the parts of a large private token value whose
//! instance stopped mid-write (a write that fails or is abandoned removes its own parts). A
//! part is left alone for a day, far longer than any upload of one value takes.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::state::AppState;

const SWEEP_EVERY: Duration = Duration::from_secs(3600);
const UNFINISHED_AFTER_MS: i64 = 86_400_000;

pub async fn run(state: AppState, shutdown: CancellationToken) {
    loop {
        let before = state.clock.now_millis() - UNFINISHED_AFTER_MS;
        match state.storage.sweep_private_token_parts(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(parts = n, "removed the parts of unfinished writes"),
            Err(e) => tracing::warn!(error = %e, "could not sweep unfinished writes"),
        }
        tokio::select! {
            _ = tokio::time::sleep(SWEEP_EVERY) => {}
            _ = shutdown.cancelled() => break,
        }
    }
}

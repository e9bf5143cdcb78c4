//! Removes what writes cut short left behind: the parts of a large private token value whose
//! instance stopped mid-write (a write that fails or is abandoned removes its own parts; a part
//! is left alone for a day, far longer than any upload of one value takes), and connections
//! whose hand-over never finished because the instance stopped mid-way (after ten minutes; a
//! hand-over takes seconds), so that none is left half-made. It also seals the private-token
//! values stored before values were sealed (the first sweep, at start, does them all).

use std::time::Duration;

use tessera_core::model::{seal_value, PrivateToken, ValuePiece};
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
        match seal_plain_values(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(values = n, "sealed private-token values stored plain"),
            Err(e) => tracing::warn!(error = %e, "could not seal private-token values"),
        }
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

/// Seals every private-token value still stored plain (written before sealing existed), a
/// batch at a time, keeping each entry's ETag. Returns how many it sealed. Instances doing it
/// at once do not clash: each value is sealed by whichever gets its row first.
pub async fn seal_plain_values(state: &AppState) -> Result<u64, tessera_core::ports::StoreError> {
    const BATCH: u32 = 100;
    let mut sealed = 0;
    loop {
        let batch = state.storage.unsealed_private_tokens(BATCH).await?;
        let last = batch.len() < BATCH as usize;
        let mut progress = false;
        for entry in batch {
            if seal_one(state, entry).await? {
                sealed += 1;
                progress = true;
            }
        }
        // A batch where nothing could be sealed (all replaced meanwhile) is read again only
        // if it was full; the replaced entries are sealed by their writers.
        if last || !progress {
            return Ok(sealed);
        }
    }
}

async fn seal_one(
    state: &AppState,
    entry: PrivateToken,
) -> Result<bool, tessera_core::ports::StoreError> {
    let info = &entry.info;
    let seal = |piece, text: &str| {
        seal_value(
            &state.master_key,
            &*state.rng,
            info.client_id,
            &info.etag,
            piece,
            text,
        )
    };
    if !info.in_parts() {
        let whole = seal(ValuePiece::Whole, &entry.value);
        return state
            .storage
            .seal_private_token(info, whole, Vec::new())
            .await;
    }
    let mut parts = Vec::new();
    let mut size = 0u64;
    while size < info.size {
        let n = u32::try_from(parts.len()).unwrap_or(u32::MAX);
        let Some(part) = state
            .storage
            .private_token_part(info.client_id, &info.etag, n)
            .await?
        else {
            return Ok(false); // replaced meanwhile
        };
        size += part.len() as u64;
        parts.push(seal(ValuePiece::Part(n), &part));
    }
    state
        .storage
        .seal_private_token(info, String::new(), parts)
        .await
}

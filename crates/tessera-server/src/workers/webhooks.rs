//! Delivers the webhook outbox (SPEC §6). Each round leases the due entries — for each
//! connection only its oldest pending one, so a connection's webhooks arrive in order — and
//! POSTs them concurrently: Standard Webhooks headers signed with the connection's secret, and
//! the application's own bearer token. A 2xx answer delivers; anything else retries with
//! exponential backoff and jitter until the configured horizon. The lease (30 s) keeps other
//! instances off an entry while it is being delivered; if this instance dies, the entry is
//! delivered again after the lease: at least once. A round's outcomes are written in one
//! transaction, and a connection's decrypted secrets are kept for the next round (they never
//! change once handed over; whether the connection is still active is asked every time).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use tessera_core::id::ConnectionId;
use tokio_util::sync::CancellationToken;

use crate::connections::connection_secrets;
use crate::connections::outbox::{self, Secrets};
use crate::state::AppState;

const LEASE_MS: i64 = 30_000;
const BATCH: u32 = 32;
/// How often the outbox is looked at when nothing wakes the worker (changes written by other
/// instances, retries coming due).
const IDLE_POLL: Duration = Duration::from_millis(250);

/// Past this many connections the secrets kept are dropped and read again as needed.
const SECRETS_KEPT: usize = 10_000;

pub async fn run(state: AppState, shutdown: CancellationToken) {
    let mut secrets: HashMap<ConnectionId, Secrets> = HashMap::new();
    loop {
        let now = state.clock.now_millis();
        let claimed = match state
            .storage
            .claim_webhooks(now, now + LEASE_MS, BATCH)
            .await
        {
            Ok(claimed) => claimed,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the webhook outbox");
                Vec::new()
            }
        };
        let busy = !claimed.is_empty();
        if secrets.len() > SECRETS_KEPT {
            secrets.clear();
        }
        for entry in &claimed {
            if let std::collections::hash_map::Entry::Vacant(slot) =
                secrets.entry(entry.connection_id)
            {
                if let Some(found) = connection_secrets(&state, entry.connection_id).await {
                    slot.insert(Arc::new(found));
                }
            }
        }
        let finished = join_all(claimed.into_iter().map(|entry| {
            let kept = secrets.get(&entry.connection_id).cloned();
            outbox::deliver(&state, entry, kept)
        }))
        .await;
        if let Err(e) = state.storage.finish_webhooks(&finished).await {
            // The leases run out and the entries are delivered again: at least once.
            tracing::warn!(error = %e, "could not record webhook deliveries");
        }
        if busy {
            // Each connection's next entry may be due at once.
            if shutdown.is_cancelled() {
                break;
            }
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(IDLE_POLL) => {}
            _ = state.webhooks_due.notified() => {}
            _ = shutdown.cancelled() => break,
        }
    }
}

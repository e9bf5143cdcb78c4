//! Writes audit records in batches, so that issuing a token never waits for the database.

use std::time::Duration;

use tessera_core::ports::AuditRecord;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::state::AppState;

/// The most records written in one transaction.
const BATCH: usize = 1000;

pub async fn run(
    state: AppState,
    mut rx: mpsc::UnboundedReceiver<AuditRecord>,
    shutdown: CancellationToken,
) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        tokio::select! {
            n = rx.recv_many(&mut batch, BATCH) => {
                if n == 0 {
                    break;
                }
                // Let a burst gather into one transaction.
                tokio::time::sleep(Duration::from_millis(20)).await;
                while batch.len() < BATCH {
                    match rx.try_recv() {
                        Ok(r) => batch.push(r),
                        Err(_) => break,
                    }
                }
                write(&state, &mut batch).await;
            }
            _ = shutdown.cancelled() => {
                rx.close();
                while rx.recv_many(&mut batch, BATCH).await > 0 {
                    write(&state, &mut batch).await;
                }
                break;
            }
        }
    }
}

async fn write(state: &AppState, batch: &mut Vec<AuditRecord>) {
    // A deleted tenant keeps no audit log: records queued for it before it went are dropped
    // (here, and by the store for a deletion on another instance).
    let _no_deletion = state.tenant_deletion.read().await;
    batch.retain(|r| state.clients.tenant(&r.tenant_id).is_some());
    if batch.is_empty() {
        return;
    }
    // A failed write is retried a few times; the records are only dropped (and said so in the
    // log) if the database stays unreachable.
    for attempt in 0..5u64 {
        match state.storage.append_audit(batch).await {
            Ok(()) => {
                state
                    .metrics
                    .audit_records_written
                    .inc_by(batch.len() as u64);
                batch.clear();
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, attempt, "audit batch not written yet");
                tokio::time::sleep(Duration::from_millis(200 * (attempt + 1))).await;
            }
        }
    }
    tracing::error!(
        records = batch.len(),
        "audit records dropped: the database did not accept them"
    );
    batch.clear();
}

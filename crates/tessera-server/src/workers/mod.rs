//! Background tasks: the audit flusher, the change-feed poller, the key rotation schedule, the
//! sweep of unfinished writes, the webhook deliverer and the Shared Signals pusher. Each stops when the shutdown
//! token is cancelled, after finishing what it holds.

pub mod audit;
pub mod changes;
pub mod key_rotation;
pub mod security_events;
pub mod sweep;
pub mod webhooks;

use tessera_core::ports::AuditRecord;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::state::AppState;

/// Starts every worker; await the handles after cancelling `shutdown`.
pub fn spawn(
    state: AppState,
    audit_rx: mpsc::UnboundedReceiver<AuditRecord>,
    shutdown: CancellationToken,
) -> Vec<JoinHandle<()>> {
    let mut tasks = vec![
        tokio::spawn(audit::run(state.clone(), audit_rx, shutdown.clone())),
        tokio::spawn(changes::run(state.clone(), shutdown.clone())),
        tokio::spawn(sweep::run(state.clone(), shutdown.clone())),
        tokio::spawn(webhooks::run(state.clone(), shutdown.clone())),
        tokio::spawn(security_events::run(state.clone(), shutdown.clone())),
    ];
    if state.config.key_rotation_days > 0 {
        tasks.push(tokio::spawn(key_rotation::run(state, shutdown)));
    }
    tasks
}

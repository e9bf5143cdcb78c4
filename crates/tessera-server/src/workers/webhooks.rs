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
use std::time::{Duration, Instant};

use futures::future::join_all;
use tessera_core::client_auth::ClientDirectory;
use tessera_core::crypto::webhook_signature;
use tessera_core::id::ConnectionId;
use tessera_core::model::{
    after_failure, ConnectionStatus, PendingWebhook, WebhookAttempt, WebhookOutcome,
};
use tokio_util::sync::CancellationToken;

use crate::console::connect::connection_secrets;
use crate::state::AppState;
use crate::wire::rfc3339;

const LEASE_MS: i64 = 30_000;
const BATCH: u32 = 32;
/// How often the outbox is looked at when nothing wakes the worker (changes written by other
/// instances, retries coming due).
const IDLE_POLL: Duration = Duration::from_millis(250);

/// The application's bearer token and the webhook key, in the clear.
type Secrets = Arc<(String, Vec<u8>)>;
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
            deliver(&state, entry, kept)
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

/// Delivers one entry; returns the attempt and what becomes of the entry.
async fn deliver(
    state: &AppState,
    entry: PendingWebhook,
    secrets: Option<Secrets>,
) -> (WebhookAttempt, WebhookOutcome) {
    let now = state.clock.now_millis();
    // The snapshot may lag a connection made on another instance by a moment: ask the store
    // before giving an entry up.
    let connection = match state.connections.get(entry.connection_id) {
        Some(c) => Some(c),
        None => state
            .storage
            .get_connection(entry.connection_id)
            .await
            .ok()
            .filter(|c| c.status == ConnectionStatus::Active)
            .map(std::sync::Arc::new),
    };
    let url = connection.as_ref().and_then(|c| {
        state
            .clients
            .client(&c.client_id)
            .and_then(|client| client.integration.profile.webhook_url.clone())
    });
    let (Some(connection), Some(url)) = (connection, url) else {
        // Revoked, or its application no longer takes webhooks: nobody to deliver to.
        let attempt = attempt_record(&entry, now, None, Some("no active connection".into()), 0);
        return (attempt, WebhookOutcome::Dropped);
    };
    let Some(secrets) = secrets else {
        // Active, but the application has not answered the hand-over yet (it has no webhook
        // secret to check a signature with): later, like a failed attempt.
        let why = "the connection's hand-over to the application has not finished";
        let attempt = attempt_record(&entry, now, None, Some(why.into()), 0);
        return (attempt, retry_later(state, &entry));
    };
    let (bearer, key) = &*secrets;
    let id = format!("msg_{}", entry.seq);
    let timestamp = state.clock.now_seconds();
    let body = format!(
        "{{\"type\":{},\"timestamp\":{},\"connection_id\":\"{}\",\"tenant_id\":\"{}\",\"data\":{}}}",
        serde_json::Value::String(entry.kind.clone()),
        serde_json::Value::String(rfc3339(entry.created_at)),
        connection.id,
        connection.owner_tenant_id,
        entry.payload
    );
    if !crate::outbound::url_allowed(&url, state.config.allow_private_callbacks) {
        // Said as an unreachable receiver is: the delivery log tells nothing about the target.
        let attempt = attempt_record(&entry, now, None, Some("no answer".into()), 0);
        return (attempt, retry_later(state, &entry));
    }
    let started = Instant::now();
    let sent = state
        .outbound
        .post(&url)
        .header("content-type", "application/json")
        .header("webhook-id", &id)
        .header("webhook-timestamp", timestamp.to_string())
        .header(
            "webhook-signature",
            webhook_signature(key, &id, timestamp, &body),
        )
        .bearer_auth(bearer)
        .body(body)
        .send()
        .await;
    let took = u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX);
    let (status, error) = match &sent {
        Ok(response) if response.status().is_success() => (Some(response.status().as_u16()), None),
        Ok(response) => (
            Some(response.status().as_u16()),
            Some(format!("HTTP {}", response.status().as_u16())),
        ),
        // One text for every failure to get an answer (refused, closed, timed out, a name with
        // no public address): the log must not map the network behind the receiver.
        Err(_) => (None, Some("no answer".into())),
    };
    let outcome = if error.is_none() {
        WebhookOutcome::Delivered
    } else {
        retry_later(state, &entry)
    };
    (attempt_record(&entry, now, status, error, took), outcome)
}

/// What becomes of an entry whose attempt failed: the next attempt after the backoff, with
/// jitter, or given up past the horizon.
fn retry_later(state: &AppState, entry: &PendingWebhook) -> WebhookOutcome {
    let jitter = {
        let mut b = [0u8; 4];
        state.rng.fill(&mut b);
        f64::from(u32::from_le_bytes(b)) / f64::from(u32::MAX)
    };
    after_failure(
        entry,
        state.clock.now_millis(),
        state.config.webhook_retry_base_ms,
        i64::try_from(state.config.webhook_retry_horizon_seconds)
            .unwrap_or(i64::MAX / 1000)
            .saturating_mul(1000),
        jitter,
    )
}

fn attempt_record(
    entry: &PendingWebhook,
    at: i64,
    status: Option<u16>,
    error: Option<String>,
    duration_ms: u32,
) -> WebhookAttempt {
    WebhookAttempt {
        seq: 0,
        connection_id: entry.connection_id,
        event_seq: entry.seq,
        kind: entry.kind.clone(),
        attempt: entry.attempts + 1,
        at,
        status,
        error,
        duration_ms,
    }
}

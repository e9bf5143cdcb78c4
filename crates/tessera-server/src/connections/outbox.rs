//! Delivering one outbox entry (SPEC §6): the message is the core's (`WebhookMessage`), signed
//! with the connection's key and sent with the application's own bearer token; the answer
//! decides what becomes of the entry. The worker (`workers::webhooks`) leases and records.

use std::sync::Arc;
use std::time::Instant;

use tessera_core::client_auth::ClientDirectory;
use tessera_core::model::{
    next_attempt, ConnectionStatus, PendingWebhook, WebhookAttempt, WebhookMessage, WebhookOutcome,
};

use crate::state::AppState;

/// The application's bearer token and the webhook key, in the clear.
pub type Secrets = Arc<(String, Vec<u8>)>;

/// Delivers one entry; returns the attempt and what becomes of the entry.
pub async fn deliver(
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
    let message = WebhookMessage::build(
        &entry,
        connection.id,
        connection.owner_tenant_id,
        key,
        state.clock.now_seconds(),
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
        .header("webhook-id", &message.id)
        .header("webhook-timestamp", message.timestamp.to_string())
        .header("webhook-signature", &message.signature)
        .bearer_auth(bearer)
        .body(message.body)
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
    match next_retry(state, entry.attempts + 1, entry.created_at) {
        Some(at) => WebhookOutcome::RetryAt(at),
        None => WebhookOutcome::Failed,
    }
}

/// After `attempts` failed attempts at something queued at `created_at`: when to try again,
/// with the configured backoff and jitter, or `None` past the horizon (webhooks and pushed
/// SETs alike).
pub fn next_retry(state: &AppState, attempts: u32, created_at: i64) -> Option<i64> {
    let jitter = {
        let mut b = [0u8; 4];
        state.rng.fill(&mut b);
        f64::from(u32::from_le_bytes(b)) / f64::from(u32::MAX)
    };
    next_attempt(
        attempts,
        created_at,
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

//! Webhooks (SPEC §6): a change to a tenant's data becomes one outbox entry per connection that
//! hears of it, written in the same transaction as the change; a worker delivers them in order
//! per connection, at least once, retrying with exponential backoff and jitter.

use crate::crypto::webhook_signature;
use crate::id::{ConnectionId, TenantId};
use crate::scope::Scope;

use super::UnixMillis;

/// A change of a tenant's data, as the outbox stores it for every active connection of the
/// tenant whose scopes include `needs` and whose application has a `webhook_url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataChange {
    /// `asset.created`, `asset.updated`, `asset.deleted`, `event.created`.
    pub kind: &'static str,
    /// The scope a connection needs to hear of it (`assets:read` for assets, `events:read`
    /// for events).
    pub needs: Scope,
    /// The `data` of the webhook, as JSON.
    pub payload: String,
    /// When the change was made.
    pub at: UnixMillis,
}

/// How the webhook outbox stands, for the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxState {
    /// Entries not yet delivered (nor given up on).
    pub pending: u64,
    /// Of those, the ones at least one attempt has failed for.
    pub failing: u64,
    /// When the oldest pending entry was written.
    pub oldest_at: Option<UnixMillis>,
}

/// An outbox entry claimed for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingWebhook {
    /// Its position in the outbox; also its `webhook-id` (`msg_<seq>`).
    pub seq: i64,
    /// The connection it is for.
    pub connection_id: ConnectionId,
    /// Its `type` (`asset.created`, …).
    pub kind: String,
    /// Its `data`, as JSON.
    pub payload: String,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// When the change was made.
    pub created_at: UnixMillis,
}

/// One delivery attempt, as `GET /v1/connections/{id}/deliveries` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookAttempt {
    /// The attempt's position in the log.
    pub seq: i64,
    /// The connection it was for.
    pub connection_id: ConnectionId,
    /// The outbox entry (`webhook-id` `msg_<event_seq>`).
    pub event_seq: i64,
    /// The entry's `type`.
    pub kind: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// When it was made.
    pub at: UnixMillis,
    /// The application's HTTP status, if it answered.
    pub status: Option<u16>,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// How long the application took to answer (or to fail).
    pub duration_ms: u32,
}

/// What became of an entry after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// The application answered 2xx.
    Delivered,
    /// Try again at this time.
    RetryAt(UnixMillis),
    /// Past the retry horizon: given up.
    Failed,
    /// Its connection was revoked meanwhile.
    Dropped,
}

/// The longest wait between two attempts: an hour.
pub const MAX_RETRY_DELAY_MS: u64 = 3_600_000;

/// After `attempts` failed attempts: `base_ms · 2^(attempts-1)`, capped at an hour, spread by
/// `jitter` (a number in [0, 1)) over ±20% so that many failed deliveries do not retry in step.
pub fn retry_delay_ms(attempts: u32, base_ms: u64, jitter: f64) -> u64 {
    let exponent = attempts.saturating_sub(1).min(32);
    let delay = base_ms
        .saturating_mul(1u64 << exponent)
        .min(MAX_RETRY_DELAY_MS);
    let spread = 0.8 + 0.4 * jitter.clamp(0.0, 1.0);
    (delay as f64 * spread) as u64
}

/// What happens after a failed attempt: a retry, or giving up once the next attempt would fall
/// past `horizon_ms` after the entry was made.
pub fn after_failure(
    entry: &PendingWebhook,
    now: UnixMillis,
    base_ms: u64,
    horizon_ms: i64,
    jitter: f64,
) -> WebhookOutcome {
    match next_attempt(
        entry.attempts + 1,
        entry.created_at,
        now,
        base_ms,
        horizon_ms,
        jitter,
    ) {
        Some(next) => WebhookOutcome::RetryAt(next),
        None => WebhookOutcome::Failed,
    }
}

/// When to try again after `attempts` failed attempts at something made at `created_at`, or
/// `None` once that would fall past `horizon_ms` after it: the one backoff of webhooks and
/// Shared Signals pushes.
pub fn next_attempt(
    attempts: u32,
    created_at: UnixMillis,
    now: UnixMillis,
    base_ms: u64,
    horizon_ms: i64,
    jitter: f64,
) -> Option<UnixMillis> {
    let next = now + i64::try_from(retry_delay_ms(attempts, base_ms, jitter)).unwrap_or(i64::MAX);
    (next <= created_at.saturating_add(horizon_ms)).then_some(next)
}

/// A time as RFC 3339 (UTC, whole seconds), as every time Tessera shows or sends is written.
pub fn rfc3339(millis: UnixMillis) -> String {
    time::OffsetDateTime::from_unix_timestamp(millis.div_euclid(1000))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// A webhook as it goes to the application (Standard Webhooks): the body and the values of its
/// `webhook-id`, `webhook-timestamp` and `webhook-signature` headers. The sender only sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookMessage {
    /// `msg_<seq>`: the same for every attempt, so the application can drop repeats.
    pub id: String,
    /// Unix seconds of this attempt.
    pub timestamp: i64,
    /// `{"type", "timestamp", "connection_id", "tenant_id", "data"}`.
    pub body: String,
    /// The `webhook-signature` header: `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body`.
    pub signature: String,
}

impl WebhookMessage {
    /// The message for `entry` of the connection `connection_id` (of the data owner
    /// `owner`), signed with the connection's `key` for an attempt at `now_seconds`.
    pub fn build(
        entry: &PendingWebhook,
        connection_id: ConnectionId,
        owner: TenantId,
        key: &[u8],
        now_seconds: i64,
    ) -> WebhookMessage {
        let id = format!("msg_{}", entry.seq);
        // `data` is stored as JSON already: it goes in as it is, not parsed and written again.
        let body = format!(
            "{{\"type\":{},\"timestamp\":{},\"connection_id\":\"{connection_id}\",\"tenant_id\":\"{owner}\",\"data\":{}}}",
            serde_json::Value::String(entry.kind.clone()),
            serde_json::Value::String(rfc3339(entry.created_at)),
            entry.payload
        );
        let signature = webhook_signature(key, &id, now_seconds, &body);
        WebhookMessage {
            id,
            timestamp: now_seconds,
            body,
            signature,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_with_jitter_and_a_cap() {
        assert_eq!(retry_delay_ms(1, 1000, 0.5), 1000);
        assert_eq!(retry_delay_ms(2, 1000, 0.5), 2000);
        assert_eq!(retry_delay_ms(5, 1000, 0.5), 16_000);
        assert_eq!(retry_delay_ms(40, 1000, 0.5), MAX_RETRY_DELAY_MS);
        assert_eq!(retry_delay_ms(1, 1000, 0.0), 800);
        assert_eq!(retry_delay_ms(1, 1000, 0.999_999), 1199);
    }

    #[test]
    fn a_failure_retries_until_the_horizon() {
        let entry = PendingWebhook {
            seq: 1,
            connection_id: ConnectionId::random(),
            kind: "asset.created".into(),
            payload: "{}".into(),
            attempts: 0,
            created_at: 0,
        };
        assert_eq!(
            after_failure(&entry, 100, 1000, 10_000, 0.5),
            WebhookOutcome::RetryAt(1100)
        );
        let late = PendingWebhook {
            attempts: 3,
            ..entry
        };
        assert_eq!(
            after_failure(&late, 5_000, 1000, 10_000, 0.5),
            WebhookOutcome::Failed
        );
    }

    #[test]
    fn a_message_is_the_entry_in_its_envelope_signed_for_the_attempt() {
        let entry = PendingWebhook {
            seq: 42,
            connection_id: ConnectionId::random(),
            kind: "asset.created".into(),
            payload: r#"{"identity":"assets/1","attributes":{"n":1}}"#.into(),
            attempts: 0,
            created_at: 1_767_225_600_000,
        };
        let (id, owner) = (ConnectionId::random(), TenantId::random());
        let message = WebhookMessage::build(&entry, id, owner, b"key", 1_767_225_700);
        assert_eq!(message.id, "msg_42");
        assert_eq!(message.timestamp, 1_767_225_700);
        let body: serde_json::Value = serde_json::from_str(&message.body).unwrap();
        assert_eq!(body["type"], "asset.created");
        assert_eq!(body["timestamp"], "2026-01-01T00:00:00Z");
        assert_eq!(body["connection_id"], id.to_string());
        assert_eq!(body["tenant_id"], owner.to_string());
        assert_eq!(body["data"]["attributes"]["n"], 1);
        assert_eq!(
            message.signature,
            webhook_signature(b"key", "msg_42", 1_767_225_700, &message.body)
        );
        // Another attempt: the same id and body, a new timestamp and signature.
        let again = WebhookMessage::build(&entry, id, owner, b"key", 1_767_225_800);
        assert_eq!((again.id, &again.body), (message.id, &message.body));
        assert_ne!(again.signature, message.signature);
    }
}

//! Webhooks (SPEC §6): a change to a tenant's data becomes one outbox entry per connection that
//! hears of it, written in the same transaction as the change; a worker delivers them in order
//! per connection, at least once, retrying with exponential backoff and jitter.

use crate::id::ConnectionId;
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
    pub at: UnixMillis,
}

/// An outbox entry claimed for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingWebhook {
    /// Its position in the outbox; also its `webhook-id` (`msg_<seq>`).
    pub seq: i64,
    pub connection_id: ConnectionId,
    pub kind: String,
    pub payload: String,
    /// Delivery attempts so far.
    pub attempts: u32,
    pub created_at: UnixMillis,
}

/// One delivery attempt, as `GET /v1/connections/{id}/deliveries` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookAttempt {
    pub seq: i64,
    pub connection_id: ConnectionId,
    /// The outbox entry (`webhook-id` `msg_<event_seq>`).
    pub event_seq: i64,
    pub kind: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub at: UnixMillis,
    /// The application's HTTP status, if it answered.
    pub status: Option<u16>,
    /// Why it failed, if it did.
    pub error: Option<String>,
    pub duration_ms: u32,
}

/// What became of an entry after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookOutcome {
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
    let attempts = entry.attempts + 1;
    let next = now + i64::try_from(retry_delay_ms(attempts, base_ms, jitter)).unwrap_or(i64::MAX);
    if next > entry.created_at.saturating_add(horizon_ms) {
        WebhookOutcome::Failed
    } else {
        WebhookOutcome::RetryAt(next)
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
}

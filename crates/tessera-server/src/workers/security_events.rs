//! Pushes Shared Signals SETs (RFC 8935). Each round leases, for each enabled push stream, its
//! oldest pending SET — so a stream's SETs arrive in order — and POSTs them concurrently as
//! `application/secevent+jwt` with the receiver's `Authorization` header. 202 (any 2xx)
//! delivers; a 400 is the receiver refusing that SET (RFC 8935 §2.3: not sent again); anything
//! else retries with the webhooks' backoff until their horizon. The lease (30 s) keeps other
//! instances off a SET while it is out; an instance that dies lets it go again after the
//! lease: at least once, and receivers drop repeats by `jti`.

use std::time::{Duration, Instant};

use futures::future::join_all;
use tessera_core::model::{Delivery, PendingSet, PushOutcome};
use tokio_util::sync::CancellationToken;

use crate::connections::outbox::next_retry;
use crate::security_events::{open_authorization, SET_MEDIA_TYPE};
use crate::state::AppState;

const LEASE_MS: i64 = 30_000;
const BATCH: u32 = 32;
/// How often the outboxes are looked at when nothing wakes the worker (SETs queued by other
/// instances, retries coming due).
const IDLE_POLL: Duration = Duration::from_millis(200);

pub async fn run(state: AppState, shutdown: CancellationToken) {
    loop {
        let woken = state.security_events_due.notified();
        let now = state.clock.now_millis();
        let claimed = match state.storage.claim_pushes(now, now + LEASE_MS, BATCH).await {
            Ok(claimed) => claimed,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the Shared Signals outbox");
                Vec::new()
            }
        };
        let busy = !claimed.is_empty();
        let finished = join_all(claimed.into_iter().map(|set| push(&state, set))).await;
        if let Err(e) = state.storage.finish_pushes(&finished).await {
            // The leases run out and the SETs go again: at least once.
            tracing::warn!(error = %e, "could not record Shared Signals deliveries");
        }
        if shutdown.is_cancelled() {
            break;
        }
        if busy {
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(IDLE_POLL) => {}
            _ = woken => {}
            _ = shutdown.cancelled() => break,
        }
    }
}

/// Pushes one SET; what becomes of it.
async fn push(state: &AppState, set: PendingSet) -> (i64, PushOutcome) {
    let seq = set.seq;
    let retry = |why: String| match next_retry(state, set.attempts + 1, set.created_at) {
        Some(at) => PushOutcome::RetryAt(at, why),
        None => PushOutcome::Failed(format!("{why}; given up after the retry horizon")),
    };
    // The stream's delivery as it is now: it may have changed since the SET was queued.
    let stream = state.storage.stream_by_id(set.stream_id).await;
    let Ok(stream) = stream else {
        return (seq, retry("the stream could not be read".into()));
    };
    let Delivery::Push {
        endpoint_url,
        sealed_authorization,
    } = &stream.delivery
    else {
        // Switched to poll: the SET waits there.
        return (
            seq,
            PushOutcome::RetryAt(
                state.clock.now_millis() + LEASE_MS,
                "the stream is polled now".into(),
            ),
        );
    };
    if !crate::outbound::url_allowed(endpoint_url, state.config.allow_private_callbacks) {
        return (seq, retry("no answer".into()));
    }
    let mut request = state
        .outbound
        .post(endpoint_url)
        .header("content-type", SET_MEDIA_TYPE)
        .header("accept", "application/json");
    if let Some(sealed) = sealed_authorization {
        match open_authorization(state, stream.id, sealed) {
            Some(header) => request = request.header("authorization", header),
            None => {
                return (
                    seq,
                    retry(
                        "the stream's Authorization header does not open with this master key"
                            .into(),
                    ),
                )
            }
        }
    }
    let started = Instant::now();
    let answer = request.body(set.set).send().await;
    tracing::debug!(stream = %stream.id, took_ms = started.elapsed().as_millis() as u64, "SET pushed");
    let outcome = match answer {
        Ok(response) if response.status().is_success() => PushOutcome::Delivered,
        Ok(response) if response.status() == reqwest::StatusCode::BAD_REQUEST => {
            // RFC 8935 §2.3: `{"err": …, "description": …}`; kept short, it is shown to admins.
            let body = response.text().await.unwrap_or_default();
            let err = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("err").and_then(|e| e.as_str()).map(str::to_owned))
                .unwrap_or_else(|| "invalid_request".into());
            PushOutcome::Failed(format!(
                "refused by the receiver: {}",
                err.chars().take(64).collect::<String>()
            ))
        }
        Ok(response) => retry(format!("HTTP {}", response.status().as_u16())),
        // One text for every failure to get an answer, as for webhooks.
        Err(_) => retry("no answer".into()),
    };
    (seq, outcome)
}

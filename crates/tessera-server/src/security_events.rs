//! Shared Signals, the transmitter's side (SPEC §16). When something stops being valid, the
//! handler that made it so calls [`signal`] before it answers: one SET is signed for each of the
//! tenant's streams that takes the event and queued in that stream's outbox (the store), from
//! which the push worker (`workers::security_events`) and the receivers' polls deliver it. A
//! SET queued is never lost: it stays until pushed or acknowledged.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use tessera_core::crypto::random_token;
use tessera_core::id::{StreamId, TenantId};
use tessera_core::model::{EventStream, SecurityEvent, SetContext};

use crate::error::ApiError;
use crate::state::AppState;

/// The media type of a pushed SET (RFC 8935 §2).
pub const SET_MEDIA_TYPE: &str = "application/secevent+jwt";

/// Queues `event` about `tenant` on every stream that hears that tenant and takes the event
/// (the tenant's own, and the operator tenant's, which hear every tenant), signed with the
/// current key.
pub async fn signal(
    state: &AppState,
    tenant: TenantId,
    event: SecurityEvent,
) -> Result<(), ApiError> {
    let streams = state.storage.streams_hearing(tenant).await?;
    send_on(state, tenant, &streams, &event).await
}

/// Queues `event` about `tenant` on each of `streams` that takes it.
pub async fn send_on(
    state: &AppState,
    tenant: TenantId,
    streams: &[EventStream],
    event: &SecurityEvent,
) -> Result<(), ApiError> {
    let kind = event.kind();
    let at = state.clock.now_seconds();
    let ring = state.keys.load();
    let mut sets = Vec::new();
    for stream in streams.iter().filter(|s| s.takes(kind)) {
        let jti = random_token(&*state.rng, 16);
        let claims = event.claims(SetContext {
            issuer: &state.config.issuer,
            stream,
            tenant,
            jti: &jti,
            at,
        });
        let set = ring
            .current()
            .sign_typed(tessera_core::token::SET_TYP, &claims)
            .map_err(|e| ApiError::Internal(format!("signing a SET: {e}")))?;
        sets.push((stream.id, jti, set));
    }
    if sets.is_empty() {
        return Ok(());
    }
    state
        .storage
        .queue_sets(state.clock.now_millis(), &sets)
        .await?;
    state.metrics.security_events.inc_by(sets.len() as u64);
    state.security_events_due.notify_waiters();
    Ok(())
}

fn purpose(stream: StreamId) -> String {
    format!("ssf-authorization:{stream}")
}

/// A push stream's `Authorization` header as the store keeps it: sealed with the master key,
/// bound to the stream.
pub fn seal_authorization(state: &AppState, stream: StreamId, header: &str) -> String {
    STANDARD.encode(
        state
            .master_key
            .encrypt(&*state.rng, &purpose(stream), header.as_bytes()),
    )
}

/// The header in the clear, for a push; `None` if it does not open (a changed master key).
pub fn open_authorization(state: &AppState, stream: StreamId, sealed: &str) -> Option<String> {
    let bytes = STANDARD.decode(sealed).ok()?;
    let plain = state
        .master_key
        .decrypt_owned(&purpose(stream), bytes)
        .ok()?;
    String::from_utf8(plain).ok()
}

/// Revokes a token (`AppState::revoke`: store, feed, metric, audit) and tells the tenant's
/// streams: the one way a handler revokes a token.
pub async fn revoke(
    state: &AppState,
    tenant: TenantId,
    revoked: tessera_core::ports::RevokedToken,
    actor: String,
    detail: String,
) -> Result<(), ApiError> {
    let jti = revoked.jti.clone();
    state.revoke(tenant, revoked, actor, detail).await?;
    signal(state, tenant, SecurityEvent::TokenRevoked { jti }).await
}

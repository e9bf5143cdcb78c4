//! Rotates the signing key on a schedule (`key_rotation_days`). Instances that rotate at the same
//! moment make two keys; the newer one signs and both verify, which is harmless.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::hot::keys;
use crate::state::AppState;

const CHECK_EVERY: Duration = Duration::from_secs(3600);

pub async fn run(state: AppState, shutdown: CancellationToken) {
    let max_age_ms = i64::from(state.config.key_rotation_days) * 86_400_000;
    loop {
        let now = state.clock.now_millis();
        match state.storage.live_signing_keys(now).await {
            Ok(keys)
                if keys
                    .first()
                    .is_some_and(|k| now - k.created_at >= max_age_ms) =>
            {
                match keys::rotate(
                    &*state.storage,
                    &state.master_key,
                    state.config.signing_alg,
                    &*state.clock,
                    &*state.rng,
                )
                .await
                {
                    Ok(kid) => tracing::info!(%kid, "signing key rotated on schedule"),
                    Err(e) => tracing::warn!(error = %e, "scheduled key rotation failed"),
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read signing keys"),
        }
        tokio::select! {
            _ = tokio::time::sleep(CHECK_EVERY) => {}
            _ = shutdown.cancelled() => break,
        }
    }
}

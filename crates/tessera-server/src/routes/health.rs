//! Liveness, readiness and metrics.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::state::AppState;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "The process is up")))]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// Readiness: the database answers and the snapshots are loaded.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses((status = 200, description = "The database answers"), (status = 503, description = "The database does not answer")))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.storage.ping().await {
        Ok(()) => Json(json!({"status": "ready", "database": state.storage.backend_name()}))
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "database": state.storage.backend_name()})),
            )
                .into_response()
        }
    }
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    let outbox = match state.storage.outbox_state().await {
        Ok(outbox) => Some(outbox),
        Err(e) => {
            tracing::warn!(error = %e, "could not read the webhook outbox for the metrics");
            None
        }
    };
    let body = state.metrics.render(
        outbox,
        state.clock.now_millis(),
        crate::access_log::dropped(),
    );
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

//! Tessera's HTTP edge: the axum router, extractors, the one error mapping, the in-memory
//! snapshots of the token path and the background workers.
//!
//! Architecture invariant: no sqlx here and no dependency on `tessera-store`; storage is reached
//! only through the core's ports inside [`state::AppState`].

pub mod error;
pub mod extract;
pub mod hot;
pub mod metrics;
pub mod routes;
pub mod state;
pub mod wire;
pub mod workers;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::metrics::RequestLabel;
use crate::routes::{admin, health, oauth, openapi};
pub use crate::state::{AppState, ServerConfig};

/// The largest JSON body the management API accepts.
pub const MAX_JSON_BYTES: usize = 1024 * 1024;

/// The whole HTTP surface of Tessera.
pub fn router(state: AppState) -> Router {
    let request_id = http::HeaderName::from_static("x-request-id");
    Router::new()
        .route("/oauth2/token", post(oauth::token).get(oauth::token_wrong_method))
        .route("/oauth2/introspect", post(oauth::introspect))
        .route("/oauth2/revoke", post(oauth::revoke))
        .route("/oauth2/jwks", get(oauth::jwks))
        .route("/.well-known/openid-configuration", get(oauth::discovery))
        .route("/.well-known/oauth-authorization-server", get(oauth::discovery))
        .route("/v1/integrations", post(admin::create_integration).get(admin::list_integrations))
        .route(
            "/v1/integrations/{client_id}",
            get(admin::get_integration).patch(admin::patch_integration).delete(admin::delete_integration),
        )
        .route("/v1/integrations/{client_id}/secret", post(admin::regenerate_secret))
        .route("/v1/users", post(admin::create_user).get(admin::list_users))
        .route("/v1/users/{id}", get(admin::get_user).patch(admin::patch_user).delete(admin::delete_user))
        .route("/v1/audit", get(admin::list_audit))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/openapi.json", get(openapi::openapi_json))
        .fallback(not_found)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(MAX_JSON_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), count_requests))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::Domain(tessera_core::error::DomainError::NotFound("path"))
}

async fn wrong_method() -> ApiError {
    ApiError::MethodNotAllowed(None)
}

async fn count_requests(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let method = metrics::method_label(req.method());
    let response = next.run(req).await;
    state
        .metrics
        .http_requests
        .get_or_create(&RequestLabel {
            method,
            status: response.status().as_u16(),
        })
        .inc();
    response
}

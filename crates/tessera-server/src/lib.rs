//! Tessera's HTTP edge: the axum router, extractors, the one error mapping, the in-memory
//! snapshots of the token path and the background workers.
//!
//! Architecture invariant: no sqlx here and no dependency on `tessera-store`; storage is reached
//! only through the core's ports inside [`state::AppState`].

pub mod access_log;
pub mod bootstrap;
pub mod connections;
pub mod console;
pub mod dpop;
pub mod error;
pub mod extract;
pub mod forwarded;
pub mod hot;
pub mod listener;
pub mod metadata_documents;
pub mod metrics;
pub mod outbound;
pub mod remote_keys;
pub mod routes;
pub mod security_events;
pub mod state;
pub mod tls;
pub mod wire;
pub mod workers;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get, post};
use axum::Router;
use http::HeaderValue;
use tracing::Instrument;

use crate::error::ApiError;
use crate::metrics::RequestLabel;
use crate::routes::{
    app_authorizations, audit, consents, discovery, health, integrations, introspection, keys,
    oauth, openapi, policies, private_tokens, resources, secrets, tenants, tms, users,
};
pub use crate::state::{AppState, ServerConfig};

const REQUEST_ID: http::HeaderName = http::HeaderName::from_static("x-request-id");

/// The largest JSON body the management API accepts.
pub const MAX_JSON_BYTES: usize = 1024 * 1024;

/// The whole HTTP surface of Tessera.
pub fn router(state: AppState) -> Router {
    let router = Router::new()
        .route(
            "/oauth2/token",
            post(oauth::token).get(oauth::token_wrong_method),
        )
        .route("/oauth2/introspect", post(introspection::introspect))
        .route("/oauth2/revoke", post(introspection::revoke))
        .route(
            "/oauth2/register",
            post(routes::client_registration::register),
        )
        .route("/oauth2/jwks", get(discovery::jwks))
        .route(
            "/.well-known/openid-configuration",
            get(discovery::discovery),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(discovery::authorization_server_metadata),
        )
        .route(
            "/.well-known/ssf-configuration",
            get(routes::ssf::configuration),
        )
        .route(
            "/ssf/streams",
            post(routes::ssf::streams::create_stream)
                .get(routes::ssf::streams::read_streams)
                .patch(routes::ssf::streams::update_stream)
                .put(routes::ssf::streams::replace_stream)
                .delete(routes::ssf::streams::delete_stream),
        )
        .route(
            "/ssf/status",
            get(routes::ssf::delivery::read_status).post(routes::ssf::delivery::update_status),
        )
        .route("/ssf/verify", post(routes::ssf::delivery::verify))
        .route("/v1/event_streams", get(routes::ssf::list_event_streams))
        .route("/ssf/poll/{stream_id}", post(routes::ssf::delivery::poll))
        .route(
            discovery::PROTECTED_RESOURCE_PATH,
            get(discovery::protected_resource_metadata),
        )
        .route(
            "/v1/integrations",
            post(integrations::create_integration).get(integrations::list_integrations),
        )
        .route(
            "/v1/integrations/{client_id}",
            get(integrations::get_integration)
                .patch(integrations::patch_integration)
                .delete(integrations::delete_integration),
        )
        .route(
            "/v1/integrations/{client_id}/secret",
            post(secrets::regenerate_secret).delete(secrets::remove_secrets),
        )
        .route(
            "/v1/integrations/{client_id}/keys",
            post(keys::add_key).get(keys::list_keys),
        )
        .route(
            "/v1/integrations/{client_id}/keys/{kid}",
            axum::routing::delete(keys::delete_key),
        )
        .route("/v1/users", post(users::create_user).get(users::list_users))
        .route(
            "/v1/users/{id}",
            get(users::get_user)
                .patch(users::patch_user)
                .delete(users::delete_user),
        )
        .route("/v1/users/{id}/password_reset", post(users::password_reset))
        .route(
            "/v1/tenants",
            post(tenants::create_tenant).get(tenants::list_tenants),
        )
        .route(
            "/v1/tenants/{id}",
            get(tenants::get_tenant)
                .patch(tenants::patch_tenant)
                .delete(tenants::delete_tenant),
        )
        // The full id `tenant/<uuid>` pasted into the path as it is.
        .route(
            "/v1/tenants/tenant/{id}",
            get(tenants::get_tenant)
                .patch(tenants::patch_tenant)
                .delete(tenants::delete_tenant),
        )
        .route("/v1/audit", get(audit::list_audit))
        .route(
            "/v1/signing_keys",
            get(routes::signing_keys::list_signing_keys),
        )
        .route(
            "/v1/signing_keys/rotate",
            post(routes::signing_keys::rotate_signing_key),
        )
        .route(
            "/v1/consents",
            post(consents::give_consent).get(consents::list_consents),
        )
        .route(
            "/v1/consents/{id}",
            axum::routing::delete(consents::withdraw_consent),
        )
        .route(
            "/v1/client_registration",
            get(routes::client_registration::get_client_registration)
                .put(routes::client_registration::put_client_registration),
        )
        .route(
            "/v1/resource_servers",
            post(routes::resource_servers::create_resource_server)
                .get(routes::resource_servers::list_resource_servers),
        )
        .route(
            "/v1/resource_servers/{id}",
            get(routes::resource_servers::get_resource_server)
                .patch(routes::resource_servers::patch_resource_server)
                .delete(routes::resource_servers::delete_resource_server),
        )
        .route(
            "/v1/access_policies",
            post(policies::create_policy).get(policies::list_policies),
        )
        .route(
            "/v1/access_policies/{id}",
            get(policies::get_policy)
                .patch(policies::patch_policy)
                .delete(policies::delete_policy),
        )
        .route(
            "/v2/assets",
            get(resources::list_assets).post(resources::create_asset),
        )
        .route(
            "/v2/assets/{id}",
            get(resources::get_asset)
                .patch(resources::patch_asset)
                .delete(resources::delete_asset),
        )
        .route(
            "/v2/assets/{id}/events",
            get(resources::list_events).post(resources::append_event),
        )
        .route(
            "/v1/private_tokens",
            get(private_tokens::list_entries).post(private_tokens::post_entry),
        )
        .route(
            "/v1/private_tokens/{related_id}",
            delete(private_tokens::delete_related),
        )
        .route(
            "/v1/private_tokens/{related_id}/{key}",
            get(private_tokens::get_entry)
                .put(private_tokens::put_entry)
                .delete(private_tokens::delete_entry),
        )
        .route(
            "/v1/integrations/{client_id}/private_tokens",
            get(private_tokens::list_for_integration),
        )
        .route(
            "/v1/integrations/{client_id}/private_tokens/{related_id}",
            delete(private_tokens::delete_related_for_integration),
        )
        .route(
            "/v1/integrations/{client_id}/private_tokens/{related_id}/{key}",
            get(private_tokens::get_for_integration).delete(private_tokens::delete_for_integration),
        )
        .route(
            "/v1/integrations/{client_id}/promote",
            post(app_authorizations::promote_integration),
        )
        .route(
            "/v1/app_authorizations",
            post(app_authorizations::authorize_app)
                .get(app_authorizations::list_app_authorizations),
        )
        .route(
            "/v1/app_authorizations/{id}",
            axum::routing::delete(app_authorizations::revoke_app_authorization),
        )
        .route(
            "/v1/trusted_issuers",
            post(routes::federation::create_trusted_issuer)
                .get(routes::federation::list_trusted_issuers),
        )
        .route(
            "/v1/trusted_issuers/{id}",
            delete(routes::federation::delete_trusted_issuer),
        )
        .route(
            "/v1/integrations/{client_id}/federated_credentials",
            post(routes::federation::create_federated_credential)
                .get(routes::federation::list_federated_credentials),
        )
        .route(
            "/v1/integrations/{client_id}/federated_credentials/{id}",
            delete(routes::federation::delete_federated_credential),
        )
        .route("/tms/v1/tokens", post(tms::issue_tokens))
        .route("/tms/v1/tenants", get(tms::list_tenants))
        .route(
            "/v1/integrations/{client_id}/connection_url",
            post(routes::connections::connection_url),
        )
        .route(
            "/v1/connections",
            get(routes::connections::list_connections),
        )
        .route(
            "/v1/connections/{id}",
            get(routes::connections::get_connection).delete(routes::connections::revoke_connection),
        )
        .route(
            "/v1/connections/{id}/deliveries",
            get(routes::connections::list_deliveries),
        )
        .route("/", get(console::root))
        .route("/console", get(console::home))
        .route("/console/copy.js", get(console::copy_js))
        .route(
            "/console/integrations",
            get(console::integrations::list).post(console::integrations::create),
        )
        .route(
            "/console/integrations/new",
            get(console::integrations::new_form),
        )
        .route(
            "/console/integrations/{client_id}",
            get(console::integrations::show).post(console::integrations::update),
        )
        .route(
            "/console/integrations/{client_id}/edit",
            get(console::integrations::edit_form),
        )
        .route(
            "/console/integrations/{client_id}/secret",
            post(console::integrations::regenerate),
        )
        .route(
            "/console/integrations/{client_id}/keys",
            post(console::integrations::add_key),
        )
        .route(
            "/console/integrations/{client_id}/keys/delete",
            post(console::integrations::delete_key),
        )
        .route(
            "/console/integrations/{client_id}/jwks-uri",
            post(console::integrations::set_jwks_uri),
        )
        .route(
            "/console/integrations/{client_id}/delete",
            get(console::integrations::delete_page).post(console::integrations::delete),
        )
        .route(
            "/console/integrations/{client_id}/private-tokens",
            get(console::private_tokens::list),
        )
        .route(
            "/console/integrations/{client_id}/private-tokens/entry",
            get(console::private_tokens::open),
        )
        .route(
            "/console/integrations/{client_id}/private-tokens/download",
            get(console::private_tokens::download),
        )
        .route(
            "/console/integrations/{client_id}/private-tokens/delete",
            post(console::private_tokens::delete),
        )
        .route(
            "/console/integrations/{client_id}/private-tokens/delete-related",
            post(console::private_tokens::delete_related),
        )
        .route(
            "/console/access-policies",
            get(console::policies::list).post(console::policies::create),
        )
        .route(
            "/console/access-policies/new",
            get(console::policies::new_form),
        )
        .route(
            "/console/access-policies/{id}",
            get(console::policies::show).post(console::policies::update),
        )
        .route(
            "/console/access-policies/{id}/edit",
            get(console::policies::edit_form),
        )
        .route(
            "/console/access-policies/{id}/delete",
            get(console::policies::delete_page).post(console::policies::delete),
        )
        .route(
            "/console/users",
            get(console::users::list).post(console::users::invite),
        )
        .route("/console/users/{id}", get(console::users::show))
        .route(
            "/console/users/{id}/role",
            post(console::users::change_role),
        )
        .route(
            "/console/users/{id}/password-reset",
            post(console::users::password_reset),
        )
        .route("/console/users/{id}/delete", post(console::users::remove))
        .route("/console/account", get(console::account::show))
        .route("/console/audit", get(console::audit::show))
        .route(
            "/console/trusted-issuers",
            get(console::federation::show).post(console::federation::add),
        )
        .route(
            "/console/client-registration",
            get(console::client_registration::show).post(console::client_registration::save),
        )
        .route(
            "/console/resource-servers",
            get(console::resource_servers::show).post(console::resource_servers::add),
        )
        .route(
            "/console/resource-servers/{id}",
            post(console::resource_servers::change),
        )
        .route(
            "/console/resource-servers/{id}/delete",
            post(console::resource_servers::remove),
        )
        .route(
            "/console/trusted-issuers/delete",
            post(console::federation::remove),
        )
        .route(
            "/console/integrations/{client_id}/federated-credentials",
            post(console::integrations::add_credential),
        )
        .route(
            "/console/integrations/{client_id}/federated-credentials/delete",
            post(console::integrations::remove_credential),
        )
        .route("/console/keys", get(console::keys::show))
        .route("/console/event-streams", get(console::event_streams::show))
        .route("/console/keys/rotate", post(console::keys::rotate))
        .route(
            "/console/account/password",
            post(console::account::change_password),
        )
        .route(
            "/console/account/consents/{id}/withdraw",
            post(console::account::withdraw_consent),
        )
        .route(
            "/console/account/sign-out-everywhere",
            post(console::account::sign_out_everywhere),
        )
        .route(
            "/console/consent",
            get(console::consent::show).post(console::consent::give),
        )
        .route("/console/applications", get(console::applications::list))
        .route(
            "/console/applications/{app_name}",
            get(console::applications::show),
        )
        .route(
            "/console/applications/{app_name}/authorize",
            post(console::applications::authorize),
        )
        .route(
            "/console/applications/{app_name}/revoke",
            post(console::applications::revoke),
        )
        .route(
            "/console/applications/versions/{client_id}/tms",
            post(console::applications::switch_tms),
        )
        .route(
            "/console/applications/versions/{client_id}/promote",
            get(console::applications::confirm_promote).post(console::applications::promote),
        )
        .route("/console/connections", get(console::connections::list))
        .route("/console/connections/{id}", get(console::connections::show))
        .route(
            "/console/connections/{id}/revoke",
            get(console::connections::confirm_revoke).post(console::connections::revoke),
        )
        .route(
            "/console/integrations/{client_id}/connection-url",
            get(console::connections::url_form).post(console::connections::make_url),
        )
        .route("/console/{*rest}", any(console::not_found_page))
        .route(
            "/console/sign-in",
            get(console::sign_in_page).post(console::sign_in),
        )
        .route("/console/sign-out", post(console::sign_out))
        .route(
            "/console/set-password",
            get(console::tenants::set_password_page).post(console::tenants::set_password),
        )
        .route(
            "/console/sign-up",
            get(console::tenants::sign_up_page).post(console::tenants::sign_up),
        )
        .route(
            "/console/tenants",
            get(console::tenants::tenants_page).post(console::tenants::create_tenant),
        )
        .route(
            "/console/tenants/state",
            post(console::tenants::change_state),
        )
        .route(
            "/console/tenants/delete",
            get(console::tenants::delete_page).post(console::tenants::delete_tenant),
        )
        .route(
            "/oauth2/authorize",
            get(console::authorize::authorize).post(console::authorize::answer),
        )
        .route(
            "/connect",
            get(console::connect_page).post(console::connect::answer),
        )
        .merge(health_routes(state.config.public_metrics))
        .route("/openapi.json", get(openapi::openapi_json))
        // Notes the route template for the access log and the latency metrics.
        .route_layer(middleware::from_fn(access_log::remember_route))
        .fallback(not_found)
        .method_not_allowed_fallback(wrong_method)
        .layer(middleware::map_response_with_state(
            state.clone(),
            discovery::point_to_resource_metadata,
        ))
        .layer(DefaultBodyLimit::max(MAX_JSON_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), body_budget))
        .layer(middleware::from_fn_with_state(state.clone(), observe));
    // Outermost: every layer and handler sees the client's address, not the proxy's. Without
    // trusted proxies there is nothing to resolve, and no layer to pass through.
    let router = if state.config.trusted_proxies.is_empty() {
        router
    } else {
        router.layer(middleware::from_fn_with_state(
            std::sync::Arc::new(state.config.trusted_proxies.clone()),
            forwarded::client_address,
        ))
    };
    router.with_state(state)
}

/// The health checks, and `/metrics` if `metrics`.
fn health_routes(metrics: bool) -> Router<AppState> {
    let health = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz));
    if metrics {
        health.route("/metrics", get(health::metrics))
    } else {
        health
    }
}

/// What `--admin-listen` serves on its own address: `/metrics`, `/healthz` and `/readyz`,
/// without the API's limits, logs or proxies (it is for the operator's network only).
pub fn admin_router(state: AppState) -> Router {
    health_routes(true)
        .fallback(not_found)
        .method_not_allowed_fallback(wrong_method)
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::Domain(tessera_core::error::DomainError::NotFound("path"))
}

async fn wrong_method() -> ApiError {
    ApiError::MethodNotAllowed(None)
}

/// Bodies up to this size are not counted against the budget: a token request's few hundred
/// bytes never wait for it.
const SMALL_BODY: u64 = 64 * 1024;

/// SPEC §11: large request bodies in flight share one memory budget. Each takes its size (at
/// most 1 MiB: what a JSON body may be, and what a private token's streamed part holds at a
/// time) until its response is made; past the budget the request is answered 503 with
/// `Retry-After` at once, instead of the server's memory growing with the number of senders.
async fn body_budget(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let chunked = req.headers().contains_key(http::header::TRANSFER_ENCODING);
    let size = match declared {
        Some(n) => n,
        None if chunked => MAX_JSON_BYTES as u64,
        None => 0,
    };
    if size <= SMALL_BODY {
        return next.run(req).await;
    }
    let kib = u32::try_from(size.min(MAX_JSON_BYTES as u64).div_ceil(1024)).unwrap_or(1024);
    let Ok(_held) = state.body_budget.clone().try_acquire_many_owned(kib) else {
        let mut busy = ApiError::Busy(
            "the server is receiving too many large requests at once; retry in a second".into(),
        )
        .into_response();
        busy.headers_mut()
            .insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
        return busy;
    };
    next.run(req).await
}

/// The one observability layer: a request id (kept from `x-request-id` or made), a tracing span
/// that carries it, the per-request log lines at debug level, the response header and the
/// request counter. One middleware instead of four tower layers saves ~10 µs a request.
async fn observe(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let id = match req.headers().get(REQUEST_ID) {
        Some(id) => id.clone(),
        None => {
            let made = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
                .unwrap_or(HeaderValue::from_static("-"));
            req.headers_mut().insert(REQUEST_ID, made.clone());
            made
        }
    };
    let method = metrics::method_label(req.method());
    let notes = access_log::RequestNotes::default();
    req.extensions_mut().insert(notes.clone());
    let extract::PeerAddress(peer) = extract::PeerAddress::of(req.extensions());
    // At `debug` only: a span at `info` cost ~8% of a token request's time.
    let span = tracing::debug_span!(
        "request",
        method,
        path = %req.uri().path(),
        request_id = id.to_str().unwrap_or("-"),
    );
    let started = std::time::Instant::now();
    let mut response = next.run(req).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    state
        .metrics
        .request_seconds
        .get_or_create(&metrics::LatencyLabel {
            route: metrics::RouteLabel(notes.matched()),
            status: metrics::status_class(status),
        })
        .observe(elapsed.as_secs_f64());
    response.headers_mut().insert(REQUEST_ID, id.clone());
    access_log::record(
        state.config.access_log,
        access_log::AccessLine {
            method,
            notes,
            status,
            micros: elapsed.as_micros() as u64,
            peer,
            request_id: id,
        },
    );
    state
        .metrics
        .http_requests
        .get_or_create(&RequestLabel { method, status })
        .inc();
    response
}

//! The console (SPEC §9): server-rendered HTML (askama), no JavaScript needed (a little, from
//! `/console/copy.js`, makes the copy buttons work). Sign-in with email and password, the
//! signed-in frame (`shell`), the tenant admin's pages, and the consent screen a connection
//! URL opens (SPEC §6).

pub mod account;
pub mod applications;
pub mod audit;
pub mod authorize;
pub mod client_registration;
pub mod connect;
pub mod connections;
pub mod consent;
pub mod event_streams;
pub mod federation;
pub mod integrations;
pub mod keys;
pub mod policies;
pub mod private_tokens;
pub mod resource_servers;
pub mod session;
pub mod shell;
mod sign_in;
pub mod tenants;
pub mod users;

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use tessera_core::client_auth::ClientDirectory;
use tessera_core::id::TenantId;
use tessera_core::model::ConnectionRequest;

use crate::state::AppState;
pub use sign_in::*;

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    heading: &'a str,
    text: &'a str,
    is_error: bool,
    /// (href, words) of a way on.
    link: Option<(&'a str, &'a str)>,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    nav: shell::Nav,
    /// The signed-in user's name.
    name: String,
    admin: bool,
}

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFoundPage;

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage<'a> {
    csrf: &'a str,
    next: &'a str,
    email: &'a str,
    problem: Option<&'a str>,
    /// (tenant id, name) when the email has accounts in several tenants.
    tenants: Vec<(String, String)>,
    /// Whether the deployment lets anyone make an organization (`--allow-sign-up`).
    sign_up: bool,
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    app_name: &'a str,
    developer: &'a str,
    owner: &'a str,
    description: Option<&'a str>,
    homepage: Option<&'a str>,
    /// (scope, what it allows in words)
    scopes: Vec<(&'static str, &'static str)>,
    user: &'a str,
    csrf: &'a str,
    /// The connection URL's query, sent back with the answer and checked again.
    request: &'a str,
}

/// The console's Content-Security-Policy: its pages load nothing but their own inline style and
/// the one script of ours (`/console/copy.js`); no inline script runs.
const CONSOLE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; \
     script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A rendered page; a template that fails to render is a plain 500.
pub(crate) fn html(status: StatusCode, page: impl Template) -> Response {
    match page.render() {
        Ok(body) => (
            status,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
                // SPEC §9, §11: no framing (clickjacking), no sniffing, nothing loaded from
                // elsewhere, forms post only here, and no URL (links carry one-time tokens)
                // leaves in a Referer.
                (header::X_FRAME_OPTIONS, "DENY"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (header::REFERRER_POLICY, "no-referrer"),
                (header::CONTENT_SECURITY_POLICY, CONSOLE_CSP),
            ],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a console page did not render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered",
            )
                .into_response()
        }
    }
}

pub(crate) fn message(status: StatusCode, heading: &str, text: &str) -> Response {
    message_with_link(status, heading, text, None)
}

pub(crate) fn message_with_link(
    status: StatusCode,
    heading: &str,
    text: &str,
    link: Option<(&str, &str)>,
) -> Response {
    html(
        status,
        MessagePage {
            heading,
            text,
            is_error: !status.is_success(),
            link,
        },
    )
}

pub(crate) fn secure(state: &AppState) -> bool {
    state.config.issuer.starts_with("https://")
}

pub async fn home(signed: shell::Signed) -> Response {
    html(
        StatusCode::OK,
        HomePage {
            nav: signed.nav("/console"),
            name: signed.user.display_name.clone(),
            admin: signed.is_admin(),
        },
    )
}

/// `/`: the console is the way in for a person.
pub async fn root() -> Redirect {
    Redirect::to("/console")
}

/// Any other console path: a page, not JSON.
pub async fn not_found_page() -> Response {
    html(StatusCode::NOT_FOUND, NotFoundPage)
}

/// `GET /console/copy.js`: the copy buttons. The pages work without it (the values are in
/// read-only fields to select); with it, a button puts its field's value on the clipboard.
pub async fn copy_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        include_str!("../../templates/copy.js"),
    )
        .into_response()
}

/// The connection URL a data owner opens: an error page if it was altered or expired; the
/// sign-in first if nobody is signed in; then the consent screen.
pub async fn connect_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let request =
        match ConnectionRequest::from_query(&query, &state.master_key, state.clock.now_seconds()) {
            Ok(request) => request,
            Err(e) => {
                return message(
                    StatusCode::BAD_REQUEST,
                    "This link does not work",
                    &e.to_string(),
                )
            }
        };
    let Some(client) = state.clients.client(&request.client_id) else {
        return message(
            StatusCode::NOT_FOUND,
            "This link does not work",
            "The application that made this link is no longer registered.",
        );
    };
    let Some((session, user)) = signed_in(&state, &headers).await else {
        return sign_in_redirect(&format!("/connect?{query}"));
    };
    let tenant_name = |id: &TenantId| {
        state
            .clients
            .tenant(id)
            .map(|t| t.display_name)
            .unwrap_or_else(|| id.to_string())
    };
    let integration = &client.integration;
    if integration.tenant_id == user.tenant_id {
        // Said before anything is asked: an application of the owner's own organization
        // reaches its data with its own credentials.
        return message_with_link(
            StatusCode::CONFLICT,
            "Nothing to connect",
            &format!(
                "{} was registered by your own organization: it reaches your data with its own \
                 credentials, and its access is set by your access policies.",
                integration.display_name
            ),
            Some(("/console", "Go to the console")),
        );
    }
    let csrf = session.csrf(&state.master_key);
    html(
        StatusCode::OK,
        ConsentPage {
            app_name: &integration.display_name,
            developer: &tenant_name(&integration.tenant_id),
            owner: &tenant_name(&user.tenant_id),
            description: integration.profile.description.as_deref(),
            homepage: integration.profile.homepage_url.as_deref(),
            scopes: request
                .scopes
                .iter()
                .map(|s| (s.as_str(), s.description()))
                .collect(),
            user: &user.email,
            csrf: &csrf,
            request: &query,
        },
    )
}

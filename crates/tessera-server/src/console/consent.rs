//! User consent for connectors (SPEC §9 "Consents", seed 002): the page a JWT bearer
//! connector sends its user to, as DocuSign's does — `/console/consent?client_id=…&scope=…`.
//! The user signs in (choosing the organization when the email is in several), sees who asks
//! to act for them and what for, and consents; an admin may consent for every user of the
//! organization (`*`). The consent is `POST /v1/consents`' handler's, given as the user; it is
//! listed and withdrawn in My account.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use tessera_core::client_auth::{ClientDirectory, RegisteredClient};
use tessera_core::id::ClientId;
use tessera_core::scope::{Scope, ScopeSet};

use super::account::own;
use super::shell::{FormProblem, Nav, Posted, Signed};
use super::{html, message_with_link};
use crate::extract::ApiJson;
use crate::routes::consents;
use crate::state::AppState;
use crate::wire::GiveConsentRequest;

const PAGE: &str = "/console/consent";

/// `?client_id=…&scope=…` (space-separated scopes, as OAuth writes them).
#[derive(Debug, Deserialize)]
pub struct ConsentQuery {
    client_id: Option<String>,
    scope: Option<String>,
}

#[derive(Template)]
#[template(path = "user_consent.html")]
struct ConsentPage {
    nav: Nav,
    app: String,
    client_id: String,
    developer: String,
    description: Option<String>,
    homepage: Option<String>,
    /// (scope, what it allows)
    scopes: Vec<(&'static str, &'static str)>,
    scope: String,
    /// Whether the user may consent for every user of the organization.
    admin: bool,
    /// The user's organization, by name.
    organization: String,
}

/// The application asked about and the scopes the consent covers; a page that says what is
/// wrong with the link otherwise.
// The page is the error: it is built once, on the way out of the request.
#[allow(clippy::result_large_err)]
fn asked(
    state: &AppState,
    client_id: Option<&str>,
    scope: Option<&str>,
) -> Result<(std::sync::Arc<RegisteredClient>, ScopeSet), Response> {
    let broken = |text: &str| {
        message_with_link(
            StatusCode::BAD_REQUEST,
            "This consent link does not work",
            text,
            Some(("/console", "Go to the console")),
        )
    };
    let Some(client) = client_id
        .and_then(|id| id.parse::<ClientId>().ok())
        .and_then(|id| state.clients.client(&id))
    else {
        return Err(message_with_link(
            StatusCode::NOT_FOUND,
            "No such application",
            "The link names no registered application (its `client_id`); ask whoever sent it for a new one.",
            Some(("/console", "Go to the console")),
        ));
    };
    let offered = client
        .integration
        .scopes
        .without(Scope::Admin)
        .without(Scope::Platform)
        .without(Scope::Impersonation);
    let scopes = match scope.map(str::trim).filter(|s| !s.is_empty()) {
        None => offered,
        Some(list) => {
            let mut set = ScopeSet::default();
            for name in list.split(' ').filter(|s| !s.is_empty()) {
                match Scope::parse(name) {
                    Some(s) if offered.contains(s) => set = set.union([s].into_iter().collect()),
                    _ => {
                        return Err(broken(&format!(
                            "It asks for `{}`, which {} may not act with; the scopes it may ask for are: {offered}.",
                            name.chars().take(64).collect::<String>(),
                            client.integration.display_name
                        )))
                    }
                }
            }
            set
        }
    };
    if scopes.is_empty() {
        return Err(broken("It asks for no scope a user can consent to."));
    }
    Ok((client, scopes))
}

/// `GET /console/consent?client_id=…&scope=…`.
pub async fn show(
    State(state): State<AppState>,
    signed: Signed,
    Query(q): Query<ConsentQuery>,
) -> Response {
    let (client, scopes) = match asked(&state, q.client_id.as_deref(), q.scope.as_deref()) {
        Ok(found) => found,
        Err(page) => return page,
    };
    let integration = &client.integration;
    let developer = state
        .clients
        .tenant(&integration.tenant_id)
        .map(|t| t.display_name.clone())
        .unwrap_or_default();
    let nav = signed.nav(PAGE);
    html(
        StatusCode::OK,
        ConsentPage {
            organization: nav.tenant.clone(),
            nav,
            app: integration.display_name.clone(),
            client_id: integration.client_id.to_string(),
            developer,
            description: integration.profile.description.clone(),
            homepage: integration.profile.homepage_url.clone(),
            scopes: scopes
                .iter()
                .map(|s| (s.as_str(), s.description()))
                .collect(),
            scope: scopes.to_string(),
            admin: signed.is_admin(),
        },
    )
}

/// `POST /console/consent`: records the consent (for me, or with `for=all` as an admin for
/// every user) and says what it allows.
pub async fn give(State(state): State<AppState>, posted: Posted) -> Response {
    let f = &posted.fields;
    let (client, scopes) = match asked(&state, Some(f.one("client_id")), Some(f.one("scope"))) {
        Ok(found) => found,
        Err(page) => return page,
    };
    let for_all = f.one("for") == "all";
    if for_all && !posted.by.is_admin() {
        return message_with_link(
            StatusCode::FORBIDDEN,
            "Only an admin consents for everyone",
            "You can consent for yourself; an admin of your organization can consent for all its users.",
            Some(("/console", "Back to the console")),
        );
    }
    // An application of another organization acts here only under a consent that lets it
    // act for users of this one (SPEC §3.3): consenting is exactly that.
    let foreign = client.integration.tenant_id != posted.by.user.tenant_id;
    let stored = if foreign {
        scopes.union([Scope::Impersonation].into_iter().collect())
    } else {
        scopes
    };
    let body = GiveConsentRequest {
        client_id: client.integration.client_id.to_string(),
        user: if for_all {
            "*".to_owned()
        } else {
            posted.by.user.email.clone()
        },
        scopes: stored.to_vec(),
        // What the person consented to for resource servers stays (SPEC §15).
        resources: if for_all {
            Vec::new()
        } else {
            let by = &posted.by.user;
            state
                .consents
                .resources(by.tenant_id, client.integration.client_id, by.id)
        },
    };
    let app = client.integration.display_name.clone();
    match consents::give_consent(State(state), own(&posted.by), ApiJson(body)).await {
        Ok((_, Json(_))) => {
            let whom = if for_all {
                "every user of your organization"
            } else {
                "you"
            };
            message_with_link(
                StatusCode::OK,
                "Consent given",
                &format!(
                    "{app} may now act for {whom}, to {}. You can withdraw this at any time in My account.",
                    scopes
                        .iter()
                        .map(|s| s.description())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Some(("/console/account", "Go to My account")),
            )
        }
        Err(e) => match FormProblem::of(&e) {
            FormProblem::Field { text, .. } => message_with_link(
                StatusCode::BAD_REQUEST,
                "The consent was not recorded",
                &text,
                Some(("/console", "Back to the console")),
            ),
            FormProblem::Page(page) => page,
        },
    }
}

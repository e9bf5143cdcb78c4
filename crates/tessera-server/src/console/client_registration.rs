//! The Client registration page (SPEC §15): who may register clients for this organization,
//! whether its people may authorize a client known by its metadata document, and which domains
//! the organization vouches for. The clients themselves are on the Integrations page. Both
//! actions call the `/v1/client_registration` handlers, as the signed-in admin.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;

use super::html;
use super::shell::{refused, told, AdminPosted, FormProblem, Nav, Problem, SignedAdmin};
use crate::extract::ApiJson;
use crate::routes::client_registration;
use crate::state::AppState;
use crate::wire::ClientRegistrationView;

const PAGE: &str = "/console/client-registration";

#[derive(Template)]
#[template(path = "client_registration.html")]
struct RulesPage {
    nav: Nav,
    rules: ClientRegistrationView,
    /// The approved domains, one per line, as the text area holds them.
    domains: String,
    registration_url: String,
    notice: Option<String>,
    problem: Problem,
}

/// `?saved=1` after a change.
#[derive(Debug, Deserialize)]
pub struct SavedQuery {
    saved: Option<String>,
}

fn page(
    state: &AppState,
    nav: Nav,
    rules: ClientRegistrationView,
    notice: Option<String>,
    problem: Option<(StatusCode, Problem)>,
) -> Response {
    let (status, problem) = problem.unwrap_or((StatusCode::OK, Problem::default()));
    html(
        status,
        RulesPage {
            nav,
            domains: rules.approved_domains.join("\n"),
            rules,
            registration_url: format!(
                "{}/oauth2/register",
                state.config.issuer.trim_end_matches('/')
            ),
            notice,
            problem,
        },
    )
}

/// `GET /console/client-registration`.
pub async fn show(
    State(state): State<AppState>,
    admin: SignedAdmin,
    Query(q): Query<SavedQuery>,
) -> Response {
    match client_registration::get_client_registration(State(state.clone()), admin.api()).await {
        Ok(Json(rules)) => {
            let notice = q.saved.map(|_| {
                "The rules are saved; they hold on every instance within a second.".to_owned()
            });
            page(&state, admin.0.nav(PAGE), rules, notice, None)
        }
        Err(e) => refused(&e),
    }
}

/// `POST /console/client-registration`.
pub async fn save(
    State(state): State<AppState>,
    AdminPosted { api, form: posted }: AdminPosted,
) -> Response {
    let fields = &posted.fields;
    let body = ClientRegistrationView {
        registration: fields.one("registration").to_owned(),
        metadata_documents: fields.one("metadata_documents") == "on",
        approved_domains: fields
            .one("approved_domains")
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|d| !d.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    let shown = body.clone();
    match client_registration::put_client_registration(State(state.clone()), api, ApiJson(body))
        .await
    {
        Ok(_) => told(PAGE, "saved", "1"),
        Err(e) => match FormProblem::of(&e) {
            FormProblem::Field { field, text } => page(
                &state,
                posted.by.nav(PAGE),
                shown,
                None,
                Some((e.refusal().status, Problem::new(field, text))),
            ),
            FormProblem::Page(page) => page,
        },
    }
}

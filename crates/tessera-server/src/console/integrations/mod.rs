//! The Integrations pages (SPEC §9, seed 000): list, create with scopes and custom claims, the
//! CLIENT_ID and SECRET shown once, the detail page (edit, regenerate, public keys, delete).
//! Every action calls the `/v1/integrations` handler it stands for, as the signed-in admin.

mod detail;
mod form;
mod identities;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use tessera_core::scope::Scope;

use crate::console::html;
use crate::console::shell::{refused, AdminPosted, Listing, Nav, Problem, SignedAdmin};
use crate::extract::ApiJson;
use crate::routes;
use crate::state::AppState;
use crate::wire::{ClientKeyView, FederatedCredentialView, IntegrationView};
pub use detail::*;
pub use form::*;
pub use identities::*;

/// How many empty custom-claim rows a new form offers.
const EMPTY_CLAIM_ROWS: usize = 2;

/// A scope as a form shows it: its name, what it allows, whether it is checked.
pub struct ScopeChoice {
    pub name: &'static str,
    pub words: &'static str,
    pub checked: bool,
}

/// The scopes a tenant admin may give an integration, checked as `checked` says.
pub(super) fn scope_choices(checked: impl Fn(&str) -> bool) -> Vec<ScopeChoice> {
    Scope::ALL
        .into_iter()
        // `platform` is the operator's alone and is given at first start; the API refuses it
        // elsewhere, so the form does not offer it.
        .filter(|s| *s != Scope::Platform)
        .map(|s| ScopeChoice {
            name: s.as_str(),
            words: s.description(),
            checked: checked(s.as_str()),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "integrations.html")]
struct ListPage {
    nav: Nav,
    integrations: Vec<IntegrationView>,
    next_page: String,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "integration_form.html")]
struct FormPage {
    nav: Nav,
    /// The integration being edited; `None` for a new one.
    editing: Option<IntegrationView>,
    display_name: String,
    scopes: Vec<ScopeChoice>,
    claims: Vec<(String, String)>,
    token_ttl_seconds: String,
    profile: Profile,
    problem: Problem,
}

#[derive(Template)]
#[template(path = "secret_once.html")]
struct SecretPage {
    nav: Nav,
    client_id: String,
    display_name: String,
    secret: String,
    curl: String,
    /// When a regenerated integration's previous secret stops working, if not at once.
    previous_until: Option<String>,
}

#[derive(Template)]
#[template(path = "integration.html")]
struct DetailPage {
    nav: Nav,
    i: IntegrationView,
    scopes: Vec<ScopeChoice>,
    keys: Vec<ClientKeyView>,
    /// Its platform identities (SPEC §14), and the issuers the tenant trusts to add one.
    credentials: Vec<FederatedCredentialView>,
    issuers: Vec<String>,
    notice: Option<&'static str>,
    problem: Option<String>,
}

const PAGE: &str = "/console/integrations";

/// `GET /console/integrations`: the tenant's integrations, a page at a time.
pub async fn list(
    State(state): State<AppState>,
    admin: SignedAdmin,
    Listing { page: q, notice }: Listing<NoticeQuery>,
) -> Response {
    match routes::integrations::list_integrations(State(state), admin.api(), Query(q)).await {
        Ok(Json(list)) => html(
            StatusCode::OK,
            ListPage {
                nav: admin.0.nav(PAGE),
                integrations: list.integrations,
                next_page: list.next_page_token,
                notice: notice.deleted.map(|name| format!("{name} was deleted.")),
            },
        ),
        Err(e) => refused(&e),
    }
}

/// `?deleted=<name>` after a deletion, `?saved=…` after a change: what the page says happened.
#[derive(Debug, Deserialize)]
pub struct NoticeQuery {
    deleted: Option<String>,
    done: Option<String>,
}

/// `GET /console/integrations/new`: an empty form.
pub async fn new_form(admin: SignedAdmin) -> Response {
    form_page(
        &admin.0.nav(PAGE),
        None,
        NewValues {
            display_name: String::new(),
            scopes: default_scopes(),
            claims: vec![(String::new(), String::new()); EMPTY_CLAIM_ROWS],
            token_ttl_seconds: "3600".into(),
            profile: Profile::default(),
        },
        Problem::default(),
        StatusCode::OK,
    )
}

/// `POST /console/integrations`: creates the integration (seed 000's Confirm) and shows its
/// CLIENT_ID and SECRET once; "Add a claim row" shows the form again with one more row.
pub async fn create(
    State(state): State<AppState>,
    AdminPosted { api, form: posted }: AdminPosted,
) -> Response {
    let nav = posted.by.nav(PAGE);
    let mut values = NewValues::posted(&posted);
    if values.edit_rows(posted.fields.one("intent")) {
        return form_page(&nav, None, values, Problem::default(), StatusCode::OK);
    }
    let body = match request_of(&values) {
        Ok(body) => body,
        Err(e) => return refused_form(&nav, None, values, &e),
    };
    match routes::integrations::create_integration(State(state.clone()), api, ApiJson(body)).await {
        Ok((_, Json(created))) => match created.client_secret {
            Some(secret) => secret_page(&state, nav, &created.integration, secret, None),
            // The form never asks for a secretless one; the API could make one.
            None => done(&created.integration.client_id, "saved"),
        },
        Err(e) => refused_form(&nav, None, values, &e),
    }
}

pub(super) fn secret_page(
    state: &AppState,
    nav: Nav,
    integration: &IntegrationView,
    secret: String,
    previous_until: Option<String>,
) -> Response {
    let curl = format!(
        "curl -s -u '{}:{}' -d grant_type=client_credentials {}/oauth2/token",
        integration.client_id,
        secret,
        state.config.issuer.trim_end_matches('/')
    );
    html(
        StatusCode::OK,
        SecretPage {
            nav,
            client_id: integration.client_id.clone(),
            display_name: integration.display_name.clone(),
            secret,
            curl,
            previous_until,
        },
    )
}

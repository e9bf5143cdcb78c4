//! Secretless integrations in the console (SPEC §14): the Trusted issuers page, and what an
//! integration's page shows of its platform identities (its own posts are `integrations::identities`). Every action calls the
//! `/v1/trusted_issuers` or `/v1/integrations/{client_id}/federated_credentials` handler it
//! stands for, as the signed-in admin.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;

use super::html;
use super::shell::{refused, told, AdminPosted, FormProblem, Nav, Problem, SignedAdmin};
use crate::error::ApiError;
use crate::extract::{ApiJson, TenantAdmin};
use crate::routes::federation;
use crate::state::AppState;
use crate::wire::{
    CreateTrustedIssuerRequest, FederatedCredentialView, PageQuery, TrustedIssuerView,
};

const PAGE: &str = "/console/trusted-issuers";

/// What the add form held, to show again with its problem.
#[derive(Default)]
struct IssuerForm {
    issuer: String,
    audiences: String,
    jwks_uri: String,
    max_token_lifetime_seconds: String,
}

#[derive(Template)]
#[template(path = "trusted_issuers.html")]
struct IssuersPage {
    nav: Nav,
    issuers: Vec<TrustedIssuerView>,
    form: IssuerForm,
    notice: Option<String>,
    problem: Problem,
}

/// `?added=<issuer>` or `?removed=<issuer>` after a change.
#[derive(Debug, Deserialize)]
pub struct NoticeQuery {
    added: Option<String>,
    removed: Option<String>,
}

/// Every page of a listing (a tenant has at most 50 trusted issuers; an integration at most
/// 20 credentials, so this is one page).
fn all() -> Query<PageQuery> {
    Query(PageQuery {
        page_size: Some("100".into()),
        page_token: None,
    })
}

async fn issuers_of(
    state: &AppState,
    api: &TenantAdmin,
) -> Result<Vec<TrustedIssuerView>, ApiError> {
    let Json(list) =
        federation::list_trusted_issuers(State(state.clone()), api.clone(), all()).await?;
    Ok(list.trusted_issuers)
}

/// An integration's platform identities, and the names of the issuers the tenant trusts.
pub(super) async fn of_integration(
    state: &AppState,
    api: &TenantAdmin,
    client_id: &str,
) -> Result<(Vec<FederatedCredentialView>, Vec<String>), ApiError> {
    let Json(list) = federation::list_federated_credentials(
        State(state.clone()),
        api.clone(),
        Path(client_id.to_owned()),
        all(),
    )
    .await?;
    let issuers = issuers_of(state, api)
        .await?
        .into_iter()
        .map(|t| t.issuer)
        .collect();
    Ok((list.federated_credentials, issuers))
}

async fn page(
    state: &AppState,
    nav: Nav,
    api: &TenantAdmin,
    form: IssuerForm,
    notice: Option<String>,
    problem: Option<(StatusCode, Problem)>,
) -> Response {
    let issuers = match issuers_of(state, api).await {
        Ok(found) => found,
        Err(e) => return refused(&e),
    };
    let (status, problem) = problem.unwrap_or((StatusCode::OK, Problem::default()));
    html(
        status,
        IssuersPage {
            nav,
            issuers,
            form,
            notice,
            problem,
        },
    )
}

/// `GET /console/trusted-issuers`.
pub async fn show(
    State(state): State<AppState>,
    admin: SignedAdmin,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let notice = match (q.added, q.removed) {
        (Some(issuer), _) => Some(format!("{issuer} is trusted now.")),
        (_, Some(issuer)) => Some(format!(
            "{issuer} is no longer trusted; the platform identities that named it were removed."
        )),
        _ => None,
    };
    page(
        &state,
        admin.0.nav(PAGE),
        &admin.api(),
        IssuerForm {
            max_token_lifetime_seconds: "3600".into(),
            ..IssuerForm::default()
        },
        notice,
        None,
    )
    .await
}

/// `POST /console/trusted-issuers`.
pub async fn add(
    State(state): State<AppState>,
    AdminPosted { api, form: posted }: AdminPosted,
) -> Response {
    let fields = &posted.fields;
    let form = IssuerForm {
        issuer: fields.one("issuer").to_owned(),
        audiences: fields.one("audiences").to_owned(),
        jwks_uri: fields.one("jwks_uri").to_owned(),
        max_token_lifetime_seconds: fields.one("max_token_lifetime_seconds").to_owned(),
    };
    let max = match form.max_token_lifetime_seconds.as_str() {
        "" => None,
        text => match text.parse() {
            Ok(n) => Some(n),
            Err(_) => {
                let problem = Problem::new(
                    Some("max_token_lifetime_seconds".into()),
                    "The longest token is a number of seconds, 60 to 86400.".into(),
                );
                let nav = posted.by.nav(PAGE);
                return page(
                    &state,
                    nav,
                    &api,
                    form,
                    None,
                    Some((StatusCode::BAD_REQUEST, problem)),
                )
                .await;
            }
        },
    };
    let body = CreateTrustedIssuerRequest {
        issuer: form.issuer.clone(),
        jwks_uri: fields.optional("jwks_uri"),
        audiences: form
            .audiences
            .split([' ', ','])
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect(),
        max_token_lifetime_seconds: max,
    };
    match federation::create_trusted_issuer(State(state.clone()), api.clone(), ApiJson(body)).await
    {
        Ok((_, Json(made))) => told(PAGE, "added", &made.issuer),
        Err(e) => match FormProblem::of(&e) {
            FormProblem::Field { field, text } => {
                let nav = posted.by.nav(PAGE);
                let problem = Problem::new(field, text);
                page(
                    &state,
                    nav,
                    &api,
                    form,
                    None,
                    Some((e.refusal().status, problem)),
                )
                .await
            }
            FormProblem::Page(page) => page,
        },
    }
}

/// `POST /console/trusted-issuers/delete`: the issuer `id` stops being trusted.
pub async fn remove(
    State(state): State<AppState>,
    AdminPosted { api, form: posted }: AdminPosted,
) -> Response {
    let id = posted.fields.one("id").to_owned();
    let issuer = issuers_of(&state, &api)
        .await
        .ok()
        .and_then(|all| all.into_iter().find(|t| t.id == id))
        .map(|t| t.issuer)
        .unwrap_or_else(|| id.clone());
    match federation::delete_trusted_issuer(State(state), api, Path(id)).await {
        Ok(_) => told(PAGE, "removed", &issuer),
        Err(e) => refused(&e),
    }
}

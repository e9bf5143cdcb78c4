//! The Resource servers page (SPEC §15): the tenant's APIs that applications and agents may
//! ask tokens for with `resource` (RFC 8707). Every action calls the `/v1/resource_servers`
//! handler it stands for, as the signed-in admin.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use tessera_core::model::resource_scopes;

use super::html;
use super::integrations::{scope_choices, ScopeChoice};
use super::shell::{refused, told, AdminPosted, Fields, FormProblem, Nav, Problem, SignedAdmin};
use crate::error::ApiError;
use crate::extract::{ApiJson, TenantAdmin};
use crate::routes::resource_servers as api;
use crate::state::AppState;
use crate::wire::{
    CreateResourceServerRequest, PageQuery, PatchResourceServerRequest, ResourceServerView,
};

const PAGE: &str = "/console/resource-servers";

/// A registered resource server with its scopes as checkboxes.
struct Row {
    /// The id without its `resource_servers/` prefix, for the forms' paths.
    uuid: String,
    server: ResourceServerView,
    scopes: Vec<ScopeChoice>,
}

#[derive(Template)]
#[template(path = "resource_servers.html")]
struct ServersPage {
    nav: Nav,
    own_api: String,
    rows: Vec<Row>,
    identifier: String,
    display_name: String,
    scopes: Vec<ScopeChoice>,
    notice: Option<String>,
    problem: Problem,
}

/// `?added=`, `?changed=` or `?removed=<identifier>` after a change.
#[derive(Debug, Deserialize)]
pub struct NoticeQuery {
    added: Option<String>,
    changed: Option<String>,
    removed: Option<String>,
}

/// The scopes a resource server may accept, as checkboxes.
fn choices(checked: impl Fn(&str) -> bool) -> Vec<ScopeChoice> {
    let allowed = resource_scopes().to_vec();
    scope_choices(checked)
        .into_iter()
        .filter(|c| allowed.iter().any(|a| a == c.name))
        .collect()
}

async fn servers_of(
    state: &AppState,
    admin: &TenantAdmin,
) -> Result<Vec<ResourceServerView>, ApiError> {
    // A tenant has at most 100: one page.
    let all = Query(PageQuery {
        page_size: Some("100".into()),
        page_token: None,
    });
    let Json(list) = api::list_resource_servers(State(state.clone()), admin.clone(), all).await?;
    Ok(list.resource_servers)
}

/// What the add form held, shown again with its problem.
struct Form {
    identifier: String,
    display_name: String,
    scopes: Vec<String>,
}

async fn page(
    state: &AppState,
    nav: Nav,
    admin: &TenantAdmin,
    form: Form,
    notice: Option<String>,
    problem: Option<(StatusCode, Problem)>,
) -> Response {
    let servers = match servers_of(state, admin).await {
        Ok(found) => found,
        Err(e) => return refused(&e),
    };
    let rows = servers
        .into_iter()
        .map(|server| Row {
            uuid: server.id.trim_start_matches("resource_servers/").to_owned(),
            scopes: choices(|s| server.scopes.iter().any(|x| x == s)),
            server,
        })
        .collect();
    let (status, problem) = problem.unwrap_or((StatusCode::OK, Problem::default()));
    let scopes = choices(|s| form.scopes.iter().any(|x| x == s));
    html(
        status,
        ServersPage {
            nav,
            own_api: state.config.audience.clone(),
            rows,
            identifier: form.identifier,
            display_name: form.display_name,
            scopes,
            notice,
            problem,
        },
    )
}

/// The page again with the API's refusal next to its field (or the refusal's own page).
async fn again(
    state: &AppState,
    nav: Nav,
    admin: &TenantAdmin,
    form: Form,
    e: &ApiError,
) -> Response {
    match FormProblem::of(e) {
        FormProblem::Field { field, text } => {
            let problem = Some((e.refusal().status, Problem::new(field, text)));
            page(state, nav, admin, form, None, problem).await
        }
        FormProblem::Page(page) => page,
    }
}

impl Form {
    /// A new resource server's form: every scope checked.
    fn empty() -> Form {
        Form {
            identifier: String::new(),
            display_name: String::new(),
            scopes: resource_scopes().to_vec(),
        }
    }
}

/// `GET /console/resource-servers`.
pub async fn show(
    State(state): State<AppState>,
    admin: SignedAdmin,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let notice = match (q.added, q.changed, q.removed) {
        (Some(id), _, _) => Some(format!(
            "{id} is registered: applications may now ask for tokens for it."
        )),
        (_, Some(id), _) => Some(format!("{id} was changed.")),
        (_, _, Some(id)) => Some(format!("{id} was removed: no new token is issued for it.")),
        _ => None,
    };
    page(
        &state,
        admin.0.nav(PAGE),
        &admin.api(),
        Form::empty(),
        notice,
        None,
    )
    .await
}

fn checked(fields: &Fields) -> Vec<String> {
    fields.all("scope").map(str::to_owned).collect()
}

/// `POST /console/resource-servers`.
pub async fn add(
    State(state): State<AppState>,
    AdminPosted { api, form: posted }: AdminPosted,
) -> Response {
    let fields = &posted.fields;
    let form = Form {
        identifier: fields.one("identifier").to_owned(),
        display_name: fields.one("display_name").to_owned(),
        scopes: checked(fields),
    };
    let body = CreateResourceServerRequest {
        identifier: form.identifier.clone(),
        display_name: fields.optional("display_name"),
        scopes: Some(form.scopes.clone()),
    };
    match api::create_resource_server(State(state.clone()), api.clone(), ApiJson(body)).await {
        Ok((_, Json(made))) => told(PAGE, "added", &made.identifier),
        Err(e) => again(&state, posted.by.nav(PAGE), &api, form, &e).await,
    }
}

/// `POST /console/resource-servers/{uuid}`: new scopes for one.
pub async fn change(
    State(state): State<AppState>,
    Path(id): Path<String>,
    AdminPosted { api, form: posted }: AdminPosted,
) -> Response {
    let body = PatchResourceServerRequest {
        identifier: None,
        display_name: None,
        scopes: Some(checked(&posted.fields)),
    };
    match api::patch_resource_server(State(state.clone()), api.clone(), Path(id), ApiJson(body))
        .await
    {
        Ok(Json(changed)) => told(PAGE, "changed", &changed.identifier),
        Err(e) => again(&state, posted.by.nav(PAGE), &api, Form::empty(), &e).await,
    }
}

/// `POST /console/resource-servers/{uuid}/delete`.
pub async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
    AdminPosted { api, form: _ }: AdminPosted,
) -> Response {
    let identifier = servers_of(&state, &api)
        .await
        .ok()
        .and_then(|all| all.into_iter().find(|s| s.id.ends_with(&id)))
        .map_or_else(|| id.clone(), |s| s.identifier);
    match api::delete_resource_server(State(state), api, Path(id)).await {
        Ok(_) => told(PAGE, "removed", &identifier),
        Err(e) => refused(&e),
    }
}

//! The Access policies pages (SPEC §9, seed 000's CREATE POLICY form): the list, the form with
//! asset types and permission groups (actors by an integration's name or CLIENT_ID or a user's
//! email, attribute access, event visibility), what a policy allows said in words, edit and
//! delete. Every action calls the `/v1/access_policies` handler it stands for.

mod form;
mod words;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use serde::Deserialize;

use crate::console::html;
use crate::console::shell::{
    refused, told, AdminPosted, DeletePage, Listing, Nav, Problem, SignedAdmin,
};
use crate::extract::{ApiJson, TenantAdmin};
use crate::routes::policies;
use crate::state::AppState;
use crate::wire::{
    AccessPolicyView, AssetFilterWire, CreateAccessPolicyRequest, PatchAccessPolicyRequest,
};
pub use form::*;
use words::*;

const PAGE: &str = "/console/access-policies";
/// How many asset types the form suggests.
const SUGGESTED_TYPES: u32 = 50;

/// A row of the list.
struct Row {
    id: String,
    name: String,
    types: String,
    groups: usize,
    updated_at: String,
}

#[derive(Template)]
#[template(path = "policies.html")]
struct ListPage {
    nav: Nav,
    policies: Vec<Row>,
    next_page: String,
    notice: Option<String>,
}

/// One permission group as the form shows it.
pub struct Group {
    n: usize,
    actors: String,
    all_attributes: bool,
    attributes: String,
    all_events: bool,
    write: bool,
    problem: Option<String>,
}

impl Group {
    fn empty(n: usize) -> Group {
        Group {
            n,
            actors: String::new(),
            all_attributes: true,
            attributes: String::new(),
            all_events: true,
            write: false,
            problem: None,
        }
    }
}

#[derive(Template)]
#[template(path = "policy_form.html")]
struct FormPage {
    nav: Nav,
    /// The policy being edited (its uuid); `None` for a new one.
    editing: Option<String>,
    display_name: String,
    description: String,
    asset_types: String,
    known_types: Vec<String>,
    groups: Vec<Group>,
    problem: Problem,
    /// Whether a permission group has a problem of its own (said next to it).
    group_problem: bool,
}

#[derive(Template)]
#[template(path = "policy.html")]
struct DetailPage {
    nav: Nav,
    id: String,
    name: String,
    description: String,
    sentences: Vec<String>,
    notice: Option<&'static str>,
}

/// `?deleted=<name>` or `?done=…`: what the page says happened.
#[derive(Debug, Deserialize)]
pub struct NoticeQuery {
    deleted: Option<String>,
    done: Option<String>,
}

/// The uuid in an `access_policies/<uuid>` identity.
fn uuid_of(view: &AccessPolicyView) -> String {
    view.identity
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// `GET /console/access-policies`.
pub async fn list(
    State(state): State<AppState>,
    admin: SignedAdmin,
    Listing { page: q, notice }: Listing<NoticeQuery>,
) -> Response {
    match policies::list_policies(State(state), admin.api(), Query(q)).await {
        Ok(Json(list)) => html(
            StatusCode::OK,
            ListPage {
                nav: admin.0.nav(PAGE),
                policies: list
                    .access_policies
                    .iter()
                    .map(|p| Row {
                        id: uuid_of(p),
                        name: p.display_name.clone(),
                        types: types_text(&p.filters),
                        groups: p.permissions.len(),
                        updated_at: p.updated_at.clone(),
                    })
                    .collect(),
                next_page: list.next_page_token,
                notice: notice.deleted.map(|name| format!("{name} was deleted.")),
            },
        ),
        Err(e) => refused(&e),
    }
}

fn types_text(filters: &[AssetFilterWire]) -> String {
    filters
        .iter()
        .flat_map(|f| f.asset_types.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `POST /console/access-policies`: seed 000's CREATE POLICY.
pub async fn create(
    State(state): State<AppState>,
    AdminPosted { api, form: posted }: AdminPosted,
) -> Response {
    let (filters, permissions, values) = match read_form(&state, &posted, &api, None).await {
        Asked::Form(page) => return page,
        Asked::Save(filters, permissions, values) => (filters, permissions, values),
    };
    let body = CreateAccessPolicyRequest {
        display_name: values.display_name.clone(),
        description: values.description.clone(),
        filters,
        permissions,
    };
    match policies::create_policy(State(state.clone()), api.clone(), ApiJson(body)).await {
        Ok((_, Json(view))) => done(&uuid_of(&view), "created"),
        Err(e) => refused_form(&state, &posted, &api, None, values, &e).await,
    }
}

fn done(id: &str, what: &str) -> Response {
    Redirect::to(&format!("{PAGE}/{id}?done={what}")).into_response()
}

async fn fetch(
    state: &AppState,
    api: &TenantAdmin,
    id: &str,
) -> Result<AccessPolicyView, Response> {
    policies::get_policy(State(state.clone()), api.clone(), Path(id.to_owned()))
        .await
        .map(|Json(view)| view)
        .map_err(|e| refused(&e))
}

/// `GET /console/access-policies/{id}`: what it allows, in words.
pub async fn show(
    State(state): State<AppState>,
    admin: SignedAdmin,
    Path(id): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let api = admin.api();
    let view = match fetch(&state, &api, &id).await {
        Ok(view) => view,
        Err(page) => return page,
    };
    let notice = match q.done.as_deref() {
        Some("created") => Some("The policy was created."),
        Some("saved") => Some("Saved."),
        _ => None,
    };
    html(
        StatusCode::OK,
        DetailPage {
            nav: admin.0.nav(PAGE),
            id: uuid_of(&view),
            sentences: sentences(&state, &api, &view),
            name: view.display_name,
            description: view.description,
            notice,
        },
    )
}

/// `GET /console/access-policies/{id}/edit`.
pub async fn edit_form(
    State(state): State<AppState>,
    admin: SignedAdmin,
    Path(id): Path<String>,
) -> Response {
    let api = admin.api();
    let view = match fetch(&state, &api, &id).await {
        Ok(view) => view,
        Err(page) => return page,
    };
    let mut values = Values::stored(&view, &state, &api);
    if values.groups.is_empty() {
        values.groups.push(Group::empty(0));
    }
    let nav = admin.0.nav(PAGE);
    let editing = Some(uuid_of(&view));
    form_page(
        &state,
        &nav,
        &api,
        editing,
        values,
        Problem::default(),
        StatusCode::OK,
    )
    .await
}

/// `POST /console/access-policies/{id}`: saves the edit form.
pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    AdminPosted { api, form: posted }: AdminPosted,
) -> Response {
    if let Err(page) = fetch(&state, &api, &id).await {
        return page;
    }
    let editing = Some(id.clone());
    let (filters, permissions, values) =
        match read_form(&state, &posted, &api, editing.clone()).await {
            Asked::Form(page) => return page,
            Asked::Save(filters, permissions, values) => (filters, permissions, values),
        };
    let body = PatchAccessPolicyRequest {
        display_name: Some(values.display_name.clone()),
        description: Some(values.description.clone()),
        filters: Some(filters),
        permissions: Some(permissions),
    };
    let patched = policies::patch_policy(
        State(state.clone()),
        api.clone(),
        Path(id.clone()),
        ApiJson(body),
    )
    .await;
    match patched {
        Ok(_) => done(&id, "saved"),
        Err(e) => refused_form(&state, &posted, &api, editing, values, &e).await,
    }
}

/// `GET /console/access-policies/{id}/delete`: asks first.
pub async fn delete_page(
    State(state): State<AppState>,
    admin: SignedAdmin,
    Path(id): Path<String>,
) -> Response {
    match fetch(&state, &admin.api(), &id).await {
        Ok(view) => html(
            StatusCode::OK,
            DeletePage {
                nav: admin.0.nav(PAGE),
                page: format!("{PAGE}/{}", uuid_of(&view)),
                name: view.display_name,
                consequence: "Whatever this policy lets its actors see or change, they lose at \
                              once.",
            },
        ),
        Err(page) => page,
    }
}

/// `POST /console/access-policies/{id}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    AdminPosted { api, .. }: AdminPosted,
) -> Response {
    let view = match fetch(&state, &api, &id).await {
        Ok(view) => view,
        Err(page) => return page,
    };
    match policies::delete_policy(State(state), api, Path(id)).await {
        Ok(_) => told(PAGE, "deleted", &view.display_name),
        Err(e) => refused(&e),
    }
}

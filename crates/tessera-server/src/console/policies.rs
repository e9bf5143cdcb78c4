//! The Access policies pages (SPEC §9, seed 000's CREATE POLICY form): the list, the form with
//! asset types and permission groups (actors by an integration's name or CLIENT_ID or a user's
//! email, attribute access, event visibility), what a policy allows said in words, edit and
//! delete. Every action calls the `/v1/access_policies` handler it stands for.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use serde::Deserialize;
use tessera_core::id::ClientId;
use tessera_core::policy::EventVisibility;

use super::html;
use super::shell::{refused, told, AdminPosted, FormProblem, Nav, Posted, Problem, SignedAdmin};
use crate::error::ApiError;
use crate::extract::{ApiJson, TenantAdmin};
use crate::routes::policies;
use crate::state::AppState;
use crate::wire::{
    AccessPolicyView, ActorWire, AssetFilterWire, CreateAccessPolicyRequest, PageQuery,
    PatchAccessPolicyRequest, PermissionWire,
};

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

#[derive(Template)]
#[template(path = "policy_delete.html")]
struct DeletePage {
    nav: Nav,
    id: String,
    name: String,
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
    Query(q): Query<PageQuery>,
    Query(notice): Query<NoticeQuery>,
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

/// What the form holds, as posted or as stored.
struct Values {
    display_name: String,
    description: String,
    asset_types: String,
    groups: Vec<Group>,
}

impl Values {
    fn posted(posted: &Posted) -> Values {
        let f = &posted.fields;
        let count: usize = f.one("groups").parse().unwrap_or(1).clamp(1, 50);
        let groups = (0..count)
            .map(|n| Group {
                n,
                actors: f.one(&format!("actors_{n}")).to_owned(),
                all_attributes: f.one(&format!("attributes_mode_{n}")) != "some",
                attributes: f.one(&format!("attributes_{n}")).to_owned(),
                all_events: f.one(&format!("events_{n}")) != "none",
                write: f.one(&format!("write_{n}")) == "true",
                problem: None,
            })
            .collect();
        Values {
            display_name: f.one("display_name").to_owned(),
            description: f.one("description").to_owned(),
            asset_types: f.one("asset_types").to_owned(),
            groups,
        }
    }

    fn stored(view: &AccessPolicyView, state: &AppState, api: &TenantAdmin) -> Values {
        let groups = view
            .permissions
            .iter()
            .enumerate()
            .map(|(n, p)| Group {
                n,
                actors: p
                    .actors
                    .iter()
                    .map(|a| actor_line(state, api, a))
                    .collect::<Vec<_>>()
                    .join("\n"),
                all_attributes: p.attributes.iter().any(|a| a == "*"),
                attributes: p
                    .attributes
                    .iter()
                    .filter(|a| *a != "*")
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
                all_events: p.event_visibility == EventVisibility::All,
                write: p.write,
                problem: None,
            })
            .collect();
        Values {
            display_name: view.display_name.clone(),
            description: view.description.clone(),
            asset_types: types_text(&view.filters),
            groups,
        }
    }

    /// The asset types typed: `*`, or a comma-separated list.
    fn filters(&self) -> Vec<AssetFilterWire> {
        let types: Vec<String> = self
            .asset_types
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect();
        vec![AssetFilterWire { asset_types: types }]
    }

    /// The permission groups as the API takes them; a group with no actor is left out. An
    /// actor that names no integration is marked on its group.
    fn permissions(&mut self, state: &AppState, api: &TenantAdmin) -> Option<Vec<PermissionWire>> {
        let mut permissions = Vec::new();
        let mut fine = true;
        for g in &mut self.groups {
            let mut actors = Vec::new();
            for line in g.actors.lines().map(str::trim).filter(|l| !l.is_empty()) {
                match actor(state, api, line) {
                    Ok(a) => actors.push(a),
                    Err(why) => {
                        g.problem = Some(why);
                        fine = false;
                    }
                }
            }
            if actors.is_empty() {
                continue;
            }
            let attributes = if g.all_attributes {
                vec!["*".to_owned()]
            } else {
                g.attributes
                    .split(',')
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(str::to_owned)
                    .collect()
            };
            permissions.push(PermissionWire {
                actors,
                attributes,
                event_visibility: if g.all_events {
                    EventVisibility::All
                } else {
                    EventVisibility::None
                },
                write: g.write,
            });
        }
        fine.then_some(permissions)
    }
}

/// An actor line: an email (it has an `@`), a CLIENT_ID, or the name of one of the tenant's
/// integrations.
fn actor(state: &AppState, api: &TenantAdmin, line: &str) -> Result<ActorWire, String> {
    if line.contains('@') {
        return Ok(ActorWire {
            client_id: None,
            email: Some(line.to_owned()),
        });
    }
    if line.parse::<ClientId>().is_ok() {
        return Ok(ActorWire {
            client_id: Some(line.to_owned()),
            email: None,
        });
    }
    match state
        .clients
        .integrations_named(&api.tenant, line)
        .as_slice()
    {
        [one] => Ok(ActorWire {
            client_id: Some(one.to_string()),
            email: None,
        }),
        [] => Err(format!(
            "No integration is named “{line}”: give an integration's exact name, its CLIENT_ID, \
             or a user's email."
        )),
        _ => Err(format!(
            "Several integrations are named “{line}”: paste the CLIENT_ID of the one you mean."
        )),
    }
}

/// How the form shows a stored actor: an integration of the tenant by its name (when that name
/// is its own), anything else as stored.
fn actor_line(state: &AppState, api: &TenantAdmin, a: &ActorWire) -> String {
    if let Some(email) = &a.email {
        return email.clone();
    }
    let Some(id) = &a.client_id else {
        return String::new();
    };
    let named = id
        .parse::<ClientId>()
        .ok()
        .and_then(|c| state.clients.integration_name(&api.tenant, &c))
        .filter(|name| state.clients.integrations_named(&api.tenant, name).len() == 1);
    named.unwrap_or_else(|| id.clone())
}

/// An actor in words, for the policy's page.
fn actor_words(state: &AppState, api: &TenantAdmin, a: &ActorWire) -> String {
    if let Some(email) = &a.email {
        return format!("the user {email}");
    }
    let id = a.client_id.clone().unwrap_or_default();
    match id
        .parse::<ClientId>()
        .ok()
        .and_then(|c| state.clients.integration_name(&api.tenant, &c))
    {
        Some(name) => format!("the integration {name}"),
        None => format!("the integration with CLIENT_ID {id}"),
    }
}

/// What a policy lets each group do, one sentence per group.
fn sentences(state: &AppState, api: &TenantAdmin, view: &AccessPolicyView) -> Vec<String> {
    let types: Vec<&str> = view
        .filters
        .iter()
        .flat_map(|f| f.asset_types.iter().map(String::as_str))
        .collect();
    let assets = if types.contains(&"*") {
        "all assets".to_owned()
    } else {
        format!("assets of type {}", types.join(", "))
    };
    if view.permissions.is_empty() {
        return vec![format!(
            "It covers {assets} but names no actor, so it lets no one see anything."
        )];
    }
    view.permissions
        .iter()
        .map(|p| {
            let who: Vec<String> = p
                .actors
                .iter()
                .map(|a| actor_words(state, api, a))
                .collect();
            let what = if p.attributes.iter().any(|a| a == "*") {
                "every attribute".to_owned()
            } else {
                format!("only the attributes {}", p.attributes.join(", "))
            };
            let verb = if p.write { "read and change" } else { "read" };
            let events = match p.event_visibility {
                EventVisibility::All => "sees all their events",
                EventVisibility::None => "sees none of their events",
            };
            let write = if p.write {
                "; it may also create and delete such assets and record events"
            } else {
                ""
            };
            let (subject, plural) = match who.len() {
                1 => (who[0].clone(), false),
                _ => (who.join(" and "), true),
            };
            let (may, sees) = if plural {
                ("may", events.replacen("sees", "see", 1))
            } else {
                ("may", events.to_owned())
            };
            format!("{subject} {may} {verb} {what} of {assets}, and {sees}{write}.")
        })
        .map(|s| capitalized(&s))
        .collect()
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

async fn form_page(
    state: &AppState,
    nav: &Nav,
    api: &TenantAdmin,
    editing: Option<String>,
    values: Values,
    problem: Problem,
    status: StatusCode,
) -> Response {
    let known_types = state
        .storage
        .asset_types(api.tenant, SUGGESTED_TYPES)
        .await
        .unwrap_or_default();
    html(
        status,
        FormPage {
            nav: nav.clone(),
            editing,
            display_name: values.display_name,
            description: values.description,
            asset_types: values.asset_types,
            known_types,
            group_problem: values.groups.iter().any(|g| g.problem.is_some()),
            groups: values.groups,
            problem,
        },
    )
}

/// `GET /console/access-policies/new`.
pub async fn new_form(State(state): State<AppState>, admin: SignedAdmin) -> Response {
    let values = Values {
        display_name: String::new(),
        description: String::new(),
        asset_types: "*".into(),
        groups: vec![Group::empty(0)],
    };
    let nav = admin.0.nav(PAGE);
    form_page(
        &state,
        &nav,
        &admin.api(),
        None,
        values,
        Problem::default(),
        StatusCode::OK,
    )
    .await
}

/// What a post of the form asks for: another group, or the policy saved.
enum Asked {
    Form(Response),
    Save(Vec<AssetFilterWire>, Vec<PermissionWire>, Values),
}

async fn read_form(
    state: &AppState,
    posted: &Posted,
    api: &TenantAdmin,
    editing: Option<String>,
) -> Asked {
    let nav = posted.by.nav(PAGE);
    let mut values = Values::posted(posted);
    if posted.fields.one("intent") == "add_group" {
        values.groups.push(Group::empty(values.groups.len()));
        let page = form_page(
            state,
            &nav,
            api,
            editing,
            values,
            Problem::default(),
            StatusCode::OK,
        );
        return Asked::Form(page.await);
    }
    let filters = values.filters();
    match values.permissions(state, api) {
        Some(permissions) => Asked::Save(filters, permissions, values),
        None => {
            let page = form_page(
                state,
                &nav,
                api,
                editing,
                values,
                Problem::default(),
                StatusCode::BAD_REQUEST,
            );
            Asked::Form(page.await)
        }
    }
}

/// The form again with the API's refusal next to its field (a group's problem on its group).
async fn refused_form(
    state: &AppState,
    posted: &Posted,
    api: &TenantAdmin,
    editing: Option<String>,
    mut values: Values,
    e: &ApiError,
) -> Response {
    match FormProblem::of(e) {
        FormProblem::Field { field, text } => {
            // `permissions[n]…` is about the n-th group that has actors, which is the n-th
            // group shown unless empty groups came before it.
            let group = field.as_deref().and_then(|f| {
                let n: usize = f
                    .strip_prefix("permissions[")?
                    .split(']')
                    .next()?
                    .parse()
                    .ok()?;
                values
                    .groups
                    .iter()
                    .filter(|g| !g.actors.trim().is_empty())
                    .nth(n)
                    .map(|g| g.n)
            });
            let problem = match group {
                Some(n) => {
                    values.groups[n].problem = Some(text);
                    Problem::default()
                }
                None => Problem::new(field, text),
            };
            let nav = posted.by.nav(PAGE);
            form_page(
                state,
                &nav,
                api,
                editing,
                values,
                problem,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        FormProblem::Page(page) => page,
    }
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
                id: uuid_of(&view),
                name: view.display_name,
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

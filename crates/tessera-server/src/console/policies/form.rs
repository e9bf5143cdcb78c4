//! The policy form: what it holds, actors by name, CLIENT_ID or email, and reading a post of it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use tessera_core::id::ClientId;
use tessera_core::policy::EventVisibility;

use crate::console::html;
use crate::console::shell::{FormProblem, Nav, Posted, Problem, SignedAdmin};
use crate::error::ApiError;
use crate::extract::TenantAdmin;
use crate::state::AppState;
use crate::wire::{AccessPolicyView, ActorWire, AssetFilterWire, PermissionWire};

use super::*;

/// What the form holds, as posted or as stored.
pub(super) struct Values {
    pub(super) display_name: String,
    pub(super) description: String,
    pub(super) asset_types: String,
    pub(super) groups: Vec<Group>,
}

impl Values {
    pub(super) fn posted(posted: &Posted) -> Values {
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

    pub(super) fn stored(view: &AccessPolicyView, state: &AppState, api: &TenantAdmin) -> Values {
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
    pub(super) fn filters(&self) -> Vec<AssetFilterWire> {
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
    pub(super) fn permissions(
        &mut self,
        state: &AppState,
        api: &TenantAdmin,
    ) -> Option<Vec<PermissionWire>> {
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
pub(super) fn actor(state: &AppState, api: &TenantAdmin, line: &str) -> Result<ActorWire, String> {
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
pub(super) fn actor_line(state: &AppState, api: &TenantAdmin, a: &ActorWire) -> String {
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

pub(super) async fn form_page(
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
pub(super) enum Asked {
    Form(Response),
    Save(Vec<AssetFilterWire>, Vec<PermissionWire>, Values),
}

pub(super) async fn read_form(
    state: &AppState,
    posted: &Posted,
    api: &TenantAdmin,
    editing: Option<String>,
) -> Asked {
    let nav = posted.by.nav(PAGE);
    let mut values = Values::posted(posted);
    // Adding a group is not a save: the form again, one group longer, with nothing refused.
    let status = if posted.fields.one("intent") == "add_group" {
        values.groups.push(Group::empty(values.groups.len()));
        StatusCode::OK
    } else {
        let filters = values.filters();
        match values.permissions(state, api) {
            Some(permissions) => return Asked::Save(filters, permissions, values),
            None => StatusCode::BAD_REQUEST,
        }
    };
    let page = form_page(
        state,
        &nav,
        api,
        editing,
        values,
        Problem::default(),
        status,
    );
    Asked::Form(page.await)
}

/// The form again with the API's refusal next to its field (a group's problem on its group).
pub(super) async fn refused_form(
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

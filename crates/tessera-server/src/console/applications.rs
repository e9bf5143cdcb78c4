//! The Applications pages (SPEC §9, seed 004's Developer and Operator Cockpits): our
//! multi-tenant applications' versions (stage, TMS switch, promote with the new credentials
//! shown once) and the tenants that authorized each; the catalogue of other organizations'
//! applications in production, authorized with `read_write`, `limited` or `custom` access and
//! revoked. Every action calls the `/v1` handler it stands for, as the signed-in admin.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use tessera_core::client_auth::RegisteredClient;
use tessera_core::id::TenantId;
use tessera_core::model::{Stage, DATA_SCOPES};

use super::shell::{refused, told, AdminPosted, FormProblem, Nav, SignedAdmin};
use super::{html, integrations};
use crate::extract::ApiJson;
use crate::routes;
use crate::routes::{app_authorizations, tms};
use crate::state::AppState;
use crate::wire::{AuthorizeAppRequest, PatchIntegrationRequest, TmsTenant};

const PAGE: &str = "/console/applications";
/// How many authorizing tenants the application's page lists.
const TENANTS_SHOWN: u32 = 100;

/// What each access level gives, in words (SPEC §8's table).
pub const ACCESS_LEVELS: [(&str, &str, &str); 3] = [
    (
        "read_write",
        "Read and write",
        "read, create, change and delete assets; read and record events (every data scope)",
    ),
    (
        "limited",
        "Limited",
        "read, create, change and delete assets and read events, but not record events",
    ),
    ("custom", "Custom", "only the scopes ticked below"),
];

/// One version of an application, as the pages show it.
pub struct Version {
    pub client_id: String,
    pub display_name: String,
    pub version: String,
    pub stage: &'static str,
    pub production: bool,
    pub tms: bool,
}

/// An application: its versions (ours) or its versions in production (the catalogue).
pub struct App {
    pub name: String,
    pub publisher: String,
    pub description: String,
    pub versions: Vec<Version>,
    /// The access this tenant gave it, in words, if it did.
    pub authorized: Option<String>,
}

fn version(c: &RegisteredClient) -> Option<Version> {
    let app = c.integration.app.as_ref()?;
    Some(Version {
        client_id: c.integration.client_id.to_string(),
        display_name: c.integration.display_name.clone(),
        version: app.app_version.clone(),
        stage: app.stage.as_str(),
        production: app.stage == Stage::Production,
        tms: app.tms_enabled,
    })
}

/// The versions grouped by application, with what this tenant gave each.
fn apps(
    state: &AppState,
    me: TenantId,
    versions: Vec<std::sync::Arc<RegisteredClient>>,
) -> Vec<App> {
    let mut grouped: BTreeMap<String, App> = BTreeMap::new();
    for c in versions {
        let (Some(app), Some(v)) = (c.integration.app.as_ref(), version(&c)) else {
            continue;
        };
        let entry = grouped.entry(app.app_name.clone()).or_insert_with(|| App {
            name: app.app_name.clone(),
            publisher: state
                .clients
                .tenant(&c.integration.tenant_id)
                .map(|t| t.display_name)
                .unwrap_or_default(),
            description: String::new(),
            versions: Vec::new(),
            authorized: state
                .app_authorizations
                .find(me, &app.app_name)
                .map(|a| access_words(a.access.as_str(), &a.scopes.to_string())),
        });
        if let Some(d) = &c.integration.profile.description {
            entry.description = d.clone();
        }
        entry.versions.push(v);
    }
    grouped.into_values().collect()
}

fn access_words(access: &str, scopes: &str) -> String {
    let label = ACCESS_LEVELS
        .iter()
        .find(|(a, _, _)| *a == access)
        .map_or(access, |(_, label, _)| label);
    format!("{label} ({scopes})")
}

#[derive(Template)]
#[template(path = "applications.html")]
struct ListPage {
    nav: Nav,
    ours: Vec<App>,
    catalogue: Vec<App>,
}

/// `GET /console/applications`: our applications (the developer cockpit) and the catalogue
/// of other organizations' applications in production.
pub async fn list(State(state): State<AppState>, admin: SignedAdmin) -> Response {
    let me = admin.0.user.tenant_id;
    let ours = apps(
        &state,
        me,
        state.clients.app_versions(|i| i.tenant_id == me),
    );
    let catalogue = apps(
        &state,
        me,
        state.clients.app_versions(|i| {
            i.tenant_id != me && i.app.as_ref().is_some_and(|a| a.stage == Stage::Production)
        }),
    );
    html(
        StatusCode::OK,
        ListPage {
            nav: admin.0.nav(PAGE),
            ours,
            catalogue,
        },
    )
}

#[derive(Template)]
#[template(path = "application.html")]
struct AppPage {
    nav: Nav,
    app: App,
    /// Whether this tenant publishes it.
    ours: bool,
    /// The tenants that authorized it (the publisher's view).
    tenants: Vec<TmsTenant>,
    more_tenants: bool,
    levels: Vec<(&'static str, &'static str, &'static str)>,
    /// (scope, words) a custom authorization may tick.
    data_scopes: Vec<(&'static str, &'static str)>,
    notice: Option<String>,
    problem: Option<String>,
}

/// `?done=authorized|revoked|tms` after a change.
#[derive(Debug, Deserialize)]
pub struct NoticeQuery {
    done: Option<String>,
}

/// `GET /console/applications/{app_name}`.
pub async fn show(
    State(state): State<AppState>,
    admin: SignedAdmin,
    Path(name): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let notice = match q.done.as_deref() {
        Some("authorized") => Some(format!("{name} is authorized: it can now get tokens for this organization's data through the Token Management Service.")),
        Some("revoked") => Some(format!("Revoked: {name}'s tokens for this organization stop working within a second.")),
        Some("tms") => Some("Saved.".to_owned()),
        _ => None,
    };
    app_page(&state, &admin, &name, notice, None).await
}

async fn app_page(
    state: &AppState,
    admin: &SignedAdmin,
    name: &str,
    notice: Option<String>,
    problem: Option<String>,
) -> Response {
    let me = admin.0.user.tenant_id;
    let versions = state.clients.app_versions(|i| {
        i.app.as_ref().is_some_and(|a| a.app_name == name)
            && (i.tenant_id == me || i.app.as_ref().is_some_and(|a| a.stage == Stage::Production))
    });
    // Application names are one tenant's (`app_owner`): ours if any version is.
    let ours = versions.iter().any(|c| c.integration.tenant_id == me);
    let Some(app) = apps(state, me, versions).into_iter().next() else {
        return super::message_with_link(
            StatusCode::NOT_FOUND,
            "No such application",
            "No organization offers an application of this name in production.",
            Some((PAGE, "Back to Applications")),
        );
    };
    let (tenants, more_tenants) = if ours {
        match state
            .storage
            .authorizing_tenants(name, None, TENANTS_SHOWN + 1)
            .await
        {
            Ok(mut ids) => {
                let more = ids.len() > TENANTS_SHOWN as usize;
                ids.truncate(TENANTS_SHOWN as usize);
                (
                    ids.into_iter()
                        .filter_map(|t| tms::authorizing_tenant(state, t, name))
                        .collect(),
                    more,
                )
            }
            Err(e) => return refused(&e.into()),
        }
    } else {
        (Vec::new(), false)
    };
    let status = if problem.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    html(
        status,
        AppPage {
            nav: admin.0.nav(PAGE),
            app,
            ours,
            tenants,
            more_tenants,
            levels: ACCESS_LEVELS.to_vec(),
            data_scopes: DATA_SCOPES
                .iter()
                .map(|s| (s.as_str(), s.description()))
                .collect(),
            notice,
            problem,
        },
    )
}

/// `POST /console/applications/{app_name}/authorize`: `access`, and `scope`s for `custom`.
pub async fn authorize(
    State(state): State<AppState>,
    Path(name): Path<String>,
    AdminPosted { api, form }: AdminPosted,
) -> Response {
    let access = form.fields.one("access").to_owned();
    let scopes: Vec<String> = form.fields.all("scope").map(str::to_owned).collect();
    let body = AuthorizeAppRequest {
        app_name: name.clone(),
        scopes: (access == "custom").then_some(scopes),
        access,
    };
    match app_authorizations::authorize_app(State(state.clone()), api, ApiJson(body)).await {
        Ok(_) => told(&format!("{PAGE}/{name}"), "done", "authorized"),
        Err(e) => match FormProblem::of(&e) {
            FormProblem::Field { text, .. } => {
                app_page(&state, &SignedAdmin(form.by), &name, None, Some(text)).await
            }
            FormProblem::Page(page) => page,
        },
    }
}

/// `POST /console/applications/{app_name}/revoke`: ends this tenant's authorization.
pub async fn revoke(
    State(state): State<AppState>,
    Path(name): Path<String>,
    AdminPosted { api, .. }: AdminPosted,
) -> Response {
    let Some(given) = state.app_authorizations.find(api.tenant, &name) else {
        return refused(&tessera_core::error::DomainError::NotFound("app authorization").into());
    };
    let id = given.id.to_string();
    match app_authorizations::revoke_app_authorization(State(state), api, Path(id)).await {
        Ok(_) => told(&format!("{PAGE}/{name}"), "done", "revoked"),
        Err(e) => refused(&e),
    }
}

/// `POST /console/applications/versions/{client_id}/tms`: switches TMS on (`tms=on`) or off.
pub async fn switch_tms(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    AdminPosted { api, form }: AdminPosted,
) -> Response {
    let body = PatchIntegrationRequest {
        tms_enabled: Some(form.fields.one("tms") == "on"),
        ..PatchIntegrationRequest::default()
    };
    match routes::integrations::patch_integration(State(state), api, Path(client_id), ApiJson(body))
        .await
    {
        Ok(Json(i)) => told(
            &format!("{PAGE}/{}", i.app_name.unwrap_or_default()),
            "done",
            "tms",
        ),
        Err(e) => refused(&e),
    }
}

#[derive(Template)]
#[template(path = "promote.html")]
struct PromotePage {
    nav: Nav,
    v: Version,
    app: String,
}

/// `GET /console/applications/versions/{client_id}/promote`: what promoting does, and a button.
pub async fn confirm_promote(
    State(state): State<AppState>,
    admin: SignedAdmin,
    Path(client_id): Path<String>,
) -> Response {
    match routes::integrations::get_integration(State(state), admin.api(), Path(client_id)).await {
        Ok(Json(i)) if i.multi_tenant => html(
            StatusCode::OK,
            PromotePage {
                nav: admin.0.nav(PAGE),
                v: Version {
                    production: i.stage == Some(Stage::Production.as_str()),
                    stage: i.stage.unwrap_or_default(),
                    tms: i.tms_enabled.unwrap_or_default(),
                    version: i.app_version.unwrap_or_default(),
                    display_name: i.display_name,
                    client_id: i.client_id,
                },
                app: i.app_name.unwrap_or_default(),
            },
        ),
        Ok(_) => refused(&tessera_core::error::DomainError::NotFound("application version").into()),
        Err(e) => refused(&e),
    }
}

/// `POST /console/applications/versions/{client_id}/promote`: to production, with new
/// credentials shown once (the development ones stop).
pub async fn promote(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    AdminPosted { api, form }: AdminPosted,
) -> Response {
    match routes::app_authorizations::promote_integration(
        State(state.clone()),
        api,
        Path(client_id),
    )
    .await
    {
        Ok(Json(promoted)) => integrations::secret_page(
            &state,
            form.by.nav(PAGE),
            &promoted.integration,
            promoted.client_secret,
            None,
        ),
        Err(e) => refused(&e),
    }
}

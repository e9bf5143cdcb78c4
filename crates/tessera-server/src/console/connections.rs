//! The Connections pages (SPEC §9, seed 001's Admin Portal): the data owner's side
//! (applications connected to this tenant) and the developer's side (tenants connected to our
//! applications), one connection's page with its webhook deliveries, revocation after a
//! confirmation, and the connection-URL maker of an integration's page. Every action calls the
//! `/v1/connections` (or `connection_url`) handler it stands for, as the signed-in admin.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use tessera_core::client_auth::ClientDirectory;
use tessera_core::id::{ClientId, TenantId};
use tessera_core::scope::Scope;

use super::html;
use super::shell::{refused, told, AdminPosted, FormProblem, Listing, Nav, SignedAdmin};
use crate::routes;
use crate::routes::connections;

use crate::state::AppState;
use crate::wire::{ConnectionUrlRequest, ConnectionView, DeliveryView, PageQuery};

const PAGE: &str = "/console/connections";

/// A connection as the pages show it: names in place of ids, scopes in words.
pub struct Row {
    pub id: String,
    pub application: String,
    pub client_id: String,
    /// The tenant that registered the application.
    pub developer: String,
    /// The data owner's tenant.
    pub owner: String,
    /// (scope, what it allows)
    pub scopes: Vec<(String, &'static str)>,
    pub since: String,
    pub active: bool,
    pub granted_by: String,
}

/// Each scope with what it allows, in words.
pub fn scopes_in_words(scopes: &[String]) -> Vec<(String, &'static str)> {
    scopes
        .iter()
        .map(|s| (s.clone(), Scope::parse(s).map_or("", Scope::description)))
        .collect()
}

fn row(state: &AppState, c: ConnectionView) -> Row {
    let tenant = |id: &str| {
        id.parse::<TenantId>()
            .ok()
            .and_then(|t| state.clients.tenant(&t))
            .map_or_else(|| id.to_owned(), |t| t.display_name.clone())
    };
    let application = c
        .client_id
        .parse::<ClientId>()
        .ok()
        .and_then(|id| state.clients.client(&id))
        .map_or_else(
            || c.client_id.clone(),
            |client| client.integration.display_name.clone(),
        );
    Row {
        application,
        developer: tenant(&c.client_tenant_id),
        owner: tenant(&c.tenant_id),
        scopes: scopes_in_words(&c.scopes),
        since: c.created_at,
        active: c.status == "active",
        granted_by: c.granted_by,
        client_id: c.client_id,
        id: c.id,
    }
}

#[derive(Template)]
#[template(path = "connections.html")]
struct ListPage {
    nav: Nav,
    /// Applications connected to this tenant.
    ours: Vec<Row>,
    /// Tenants connected to this tenant's applications.
    theirs: Vec<Row>,
    next_page: String,
    notice: Option<String>,
}

/// `?revoked=<application>` after a revocation.
#[derive(Debug, Deserialize)]
pub struct NoticeQuery {
    revoked: Option<String>,
}

/// `GET /console/connections`: both sides, a page at a time.
pub async fn list(
    State(state): State<AppState>,
    admin: SignedAdmin,
    Listing { page: q, notice }: Listing<NoticeQuery>,
) -> Response {
    let me = admin.0.user.tenant_id.to_string();
    match connections::list_connections(State(state.clone()), admin.api(), Query(q)).await {
        Ok(Json(list)) => {
            let (ours, theirs): (Vec<_>, Vec<_>) = list
                .connections
                .into_iter()
                .partition(|c| c.tenant_id == me);
            html(
                StatusCode::OK,
                ListPage {
                    nav: admin.0.nav(PAGE),
                    ours: ours.into_iter().map(|c| row(&state, c)).collect(),
                    theirs: theirs.into_iter().map(|c| row(&state, c)).collect(),
                    next_page: list.next_page_token,
                    notice: notice.revoked.map(|app| {
                        format!("Revoked: {app} can no longer reach the data of this connection.")
                    }),
                },
            )
        }
        Err(e) => refused(&e),
    }
}

#[derive(Template)]
#[template(path = "connection.html")]
struct DetailPage {
    nav: Nav,
    c: Row,
    /// Whether this tenant is the data owner (else the application's developer).
    owner_side: bool,
    deliveries: Vec<DeliveryView>,
    next_page: String,
    confirm: bool,
}

/// `GET /console/connections/{id}` (and `/revoke`, the confirmation): what the connection
/// allows, since when, and, for the application's side, its webhook deliveries.
pub async fn show(
    State(state): State<AppState>,
    admin: SignedAdmin,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    detail(&state, &admin, &id, q, false).await
}

/// `GET /console/connections/{id}/revoke`: "are you sure", with what ends.
pub async fn confirm_revoke(
    State(state): State<AppState>,
    admin: SignedAdmin,
    Path(id): Path<String>,
) -> Response {
    detail(&state, &admin, &id, PageQuery::default(), true).await
}

async fn detail(
    state: &AppState,
    admin: &SignedAdmin,
    id: &str,
    q: PageQuery,
    confirm: bool,
) -> Response {
    let found =
        connections::get_connection(State(state.clone()), admin.api(), Path(id.to_owned())).await;
    let c = match found {
        Ok(Json(c)) => c,
        Err(e) => return refused(&e),
    };
    let owner_side = c.tenant_id == admin.0.user.tenant_id.to_string();
    let (deliveries, next_page) = if owner_side || confirm {
        (Vec::new(), String::new())
    } else {
        match connections::list_deliveries(
            State(state.clone()),
            admin.api(),
            Path(id.to_owned()),
            Query(q),
        )
        .await
        {
            Ok(Json(list)) => (list.deliveries, list.next_page_token),
            Err(e) => return refused(&e),
        }
    };
    html(
        StatusCode::OK,
        DetailPage {
            nav: admin.0.nav(PAGE),
            c: row(state, c),
            owner_side,
            deliveries,
            next_page,
            confirm,
        },
    )
}

/// `POST /console/connections/{id}/revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<String>,
    AdminPosted { api, .. }: AdminPosted,
) -> Response {
    let found = connections::get_connection(State(state.clone()), api.clone(), Path(id.clone()))
        .await
        .map(|Json(c)| row(&state, c).application);
    let revoked = match found {
        Ok(name) => connections::revoke_connection(State(state), api, Path(id))
            .await
            .map(|_| name),
        Err(e) => Err(e),
    };
    match revoked {
        Ok(name) => told(PAGE, "revoked", &name),
        Err(e) => refused(&e),
    }
}

#[derive(Template)]
#[template(path = "connection_url.html")]
struct UrlPage {
    nav: Nav,
    client_id: String,
    name: String,
    /// (scope, words, checked)
    scopes: Vec<(String, &'static str, bool)>,
    state: String,
    url: Option<(String, String)>,
    problem: Option<String>,
}

/// `GET /console/integrations/{client_id}/connection-url`: the maker's form.
pub async fn url_form(
    State(state): State<AppState>,
    admin: SignedAdmin,
    Path(client_id): Path<String>,
) -> Response {
    url_page(
        &state,
        admin.0.nav("/console/integrations"),
        &admin.api(),
        &client_id,
        None,
        None,
    )
    .await
}

/// `POST /console/integrations/{client_id}/connection-url`: makes a URL (scopes, state) to
/// copy and send to one data owner.
pub async fn make_url(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    AdminPosted { api, form }: AdminPosted,
) -> Response {
    let nav = form.by.nav("/console/integrations");
    let body = ConnectionUrlRequest {
        scopes: form.fields.all("scope").map(str::to_owned).collect(),
        state: form.fields.one("state").to_owned(),
    };
    let made = match client_id.parse::<ClientId>() {
        Ok(id) => {
            routes::connections::make_connection_url(&state, api.tenant, id, body.clone()).await
        }
        Err(_) => Err(tessera_core::error::DomainError::NotFound("integration").into()),
    };
    match made {
        Ok(url) => url_page(&state, nav, &api, &client_id, Some(body), Ok(url).into()).await,
        Err(e) => match FormProblem::of(&e) {
            FormProblem::Field { text, .. } => {
                url_page(&state, nav, &api, &client_id, Some(body), Some(Err(text))).await
            }
            FormProblem::Page(page) => page,
        },
    }
}

async fn url_page(
    state: &AppState,
    nav: Nav,
    api: &crate::extract::TenantAdmin,
    client_id: &str,
    asked: Option<ConnectionUrlRequest>,
    made: Option<Result<crate::wire::ConnectionUrl, String>>,
) -> Response {
    let i = match routes::integrations::get_integration(
        State(state.clone()),
        api.clone(),
        Path(client_id.to_owned()),
    )
    .await
    {
        Ok(Json(i)) => i,
        Err(e) => return refused(&e),
    };
    let chosen = |s: &str| {
        asked
            .as_ref()
            .is_none_or(|a| a.scopes.iter().any(|c| c == s))
    };
    let scopes = scopes_in_words(&i.scopes)
        .into_iter()
        .map(|(s, words)| {
            let checked = chosen(&s);
            (s, words, checked)
        })
        .collect();
    let (url, problem) = match made {
        Some(Ok(u)) => (Some((u.url, u.expires_at)), None),
        Some(Err(text)) => (None, Some(text)),
        None => (None, None),
    };
    let status = if problem.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    html(
        status,
        UrlPage {
            nav,
            client_id: i.client_id,
            name: i.display_name,
            scopes,
            state: asked.map(|a| a.state).unwrap_or_default(),
            url,
            problem,
        },
    )
}

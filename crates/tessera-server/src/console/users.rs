//! The Users pages (SPEC §9): the list, invitations (a one-time link shown once), a user's
//! role, a password-reset link, removal, and the consents each user gave. Every action calls
//! the `/v1/users` handler it stands for, as the signed-in admin.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use serde::Deserialize;
use std::collections::HashMap;

use tessera_core::id::{ClientId, UserId};
use tessera_core::model::rfc3339;

use super::html;
use super::shell::{refused, told, AdminPosted, FormProblem, Listing, Nav, Problem, SignedAdmin};
use crate::extract::{ApiJson, TenantAdmin};
use crate::routes;
use crate::routes::consents;
use crate::state::AppState;
use crate::wire::{CreateUserRequest, PageQuery, PatchUserRequest, UserView};

const PAGE: &str = "/console/users";
/// Consents read per page when looking for one user's (a tenant has few).
const CONSENT_PAGE: &str = "1000";
/// Pages of consents read at most for one user's page.
const CONSENT_PAGES: usize = 10;

/// A one-time link, shown once.
pub struct ShownLink {
    what: &'static str,
    email: String,
    url: String,
    expires_at: String,
}

/// A consent as the account and user pages list it.
pub struct ConsentRow {
    pub id: String,
    pub integration: String,
    /// Given by an admin for every user of the tenant.
    pub for_all: bool,
    pub scopes: String,
    pub created_at: String,
    /// When the application last got a token for the person under it (an authorization code
    /// or a refresh), or "Not yet".
    pub last_used: String,
}

#[derive(Template)]
#[template(path = "users.html")]
struct ListPage {
    nav: Nav,
    users: Vec<UserView>,
    next_page: String,
    notice: Option<String>,
    link: Option<ShownLink>,
    email: String,
    display_name: String,
    problem: Problem,
}

#[derive(Template)]
#[template(path = "user.html")]
struct UserPage {
    nav: Nav,
    u: UserView,
    consents: Vec<ConsentRow>,
    notice: Option<&'static str>,
    problem: Option<String>,
    link: Option<ShownLink>,
}

/// `?removed=<email>` or `?done=…`: what the page says happened.
#[derive(Debug, Deserialize)]
pub struct NoticeQuery {
    removed: Option<String>,
    done: Option<String>,
}

/// The consents `user_id` gave in the admin's tenant, with the integrations' names.
pub(crate) async fn consents_of(
    state: &AppState,
    api: &TenantAdmin,
    user_id: &str,
) -> Vec<ConsentRow> {
    let last_used = last_uses(state, api, user_id).await;
    let mut rows = Vec::new();
    let mut token = None;
    for _ in 0..CONSENT_PAGES {
        let q = PageQuery {
            page_size: Some(CONSENT_PAGE.into()),
            page_token: token.take(),
        };
        let Ok(Json(page)) =
            consents::list_consents(State(state.clone()), api.clone(), Query(q)).await
        else {
            break;
        };
        rows.extend(
            page.consents
                .into_iter()
                // Their own, and those they gave for every user (`*`) as an admin.
                .filter(|c| {
                    c.user_id.as_deref() == Some(user_id)
                        || (c.user == "*" && c.granted_by == format!("user:{user_id}"))
                })
                .map(|c| ConsentRow {
                    last_used: last_used
                        .get(&c.client_id)
                        .map(|s| rfc3339(s.saturating_mul(1000)))
                        .unwrap_or_else(|| "Not yet".to_owned()),
                    integration: c
                        .client_id
                        .parse::<ClientId>()
                        .ok()
                        .and_then(|id| state.clients.client_name(&id))
                        .unwrap_or_else(|| c.client_id.clone()),
                    id: c.id,
                    for_all: c.user == "*",
                    scopes: c.scopes.join(" "),
                    created_at: c.created_at,
                }),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        token = Some(page.next_page_token);
    }
    rows
}

/// When each application last got a token for `user_id` (Unix seconds, by client id): the
/// newest use of the refresh families its authorizations left, which every code exchange and
/// refresh writes anyway, so the token path pays nothing more for it.
async fn last_uses(state: &AppState, api: &TenantAdmin, user_id: &str) -> HashMap<String, i64> {
    let mut last = HashMap::new();
    let Ok(user) = user_id.parse::<UserId>() else {
        return last;
    };
    let families = state
        .storage
        .refresh_families_of(api.tenant, user)
        .await
        .unwrap_or_default();
    for f in families {
        let used = last
            .entry(f.client_id.to_string())
            .or_insert(f.last_used_at);
        *used = (*used).max(f.last_used_at);
    }
    last
}

async fn list_page(
    state: &AppState,
    nav: Nav,
    api: &TenantAdmin,
    q: PageQuery,
    notice: Option<String>,
    shown: (Option<ShownLink>, String, String, Problem),
    status: StatusCode,
) -> Response {
    match routes::users::list_users(State(state.clone()), api.clone(), Query(q)).await {
        Ok(Json(list)) => {
            let (link, email, display_name, problem) = shown;
            html(
                status,
                ListPage {
                    nav,
                    users: list.users,
                    next_page: list.next_page_token,
                    notice,
                    link,
                    email,
                    display_name,
                    problem,
                },
            )
        }
        Err(e) => refused(&e),
    }
}

/// `GET /console/users`.
pub async fn list(
    State(state): State<AppState>,
    admin: SignedAdmin,
    Listing { page: q, notice }: Listing<NoticeQuery>,
) -> Response {
    let notice = notice.removed.map(|email| format!("{email} was removed."));
    let empty = (None, String::new(), String::new(), Problem::default());
    list_page(
        &state,
        admin.0.nav(PAGE),
        &admin.api(),
        q,
        notice,
        empty,
        StatusCode::OK,
    )
    .await
}

fn no_page() -> PageQuery {
    PageQuery {
        page_size: None,
        page_token: None,
    }
}

/// `POST /console/users`: invites a user; the one-time link is shown once.
pub async fn invite(
    State(state): State<AppState>,
    AdminPosted { api, form: posted }: AdminPosted,
) -> Response {
    let f = &posted.fields;
    let body = CreateUserRequest {
        email: f.one("email").to_owned(),
        display_name: f.one("display_name").to_owned(),
        role: Some(f.one("role").to_owned()).filter(|r| !r.is_empty()),
        password: None,
    };
    let nav = posted.by.nav(PAGE);
    match routes::users::create_user(State(state.clone()), api.clone(), ApiJson(body)).await {
        Ok((_, Json(user))) => {
            let link = ShownLink {
                what: "An invitation link",
                email: user.email.clone(),
                url: user.invitation_url.clone().unwrap_or_default(),
                expires_at: user.invitation_expires_at.clone().unwrap_or_default(),
            };
            let notice = Some(format!("{} was invited.", user.email));
            let shown = (Some(link), String::new(), String::new(), Problem::default());
            list_page(&state, nav, &api, no_page(), notice, shown, StatusCode::OK).await
        }
        Err(e) => match FormProblem::of(&e) {
            FormProblem::Field { field, text } => {
                let problem = Problem::new(field, text);
                let shown = (
                    None,
                    f.one("email").into(),
                    f.one("display_name").into(),
                    problem,
                );
                list_page(
                    &state,
                    nav,
                    &api,
                    no_page(),
                    None,
                    shown,
                    StatusCode::BAD_REQUEST,
                )
                .await
            }
            FormProblem::Page(page) => page,
        },
    }
}

async fn user_page(
    state: &AppState,
    nav: Nav,
    api: &TenantAdmin,
    id: &str,
    notice: Option<&'static str>,
    problem: Option<(StatusCode, String)>,
    link: Option<ShownLink>,
) -> Response {
    let u = match routes::users::get_user(State(state.clone()), api.clone(), Path(id.to_owned()))
        .await
    {
        Ok(Json(u)) => u,
        Err(e) => return refused(&e),
    };
    let consents = consents_of(state, api, &u.id).await;
    let (status, problem) = match problem {
        Some((status, text)) => (status, Some(text)),
        None => (StatusCode::OK, None),
    };
    html(
        status,
        UserPage {
            nav,
            u,
            consents,
            notice,
            problem,
            link,
        },
    )
}

/// `GET /console/users/{id}`.
pub async fn show(
    State(state): State<AppState>,
    admin: SignedAdmin,
    Path(id): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let notice = match q.done.as_deref() {
        Some("role") => Some("The role was changed."),
        _ => None,
    };
    user_page(
        &state,
        admin.0.nav(PAGE),
        &admin.api(),
        &id,
        notice,
        None,
        None,
    )
    .await
}

/// `POST /console/users/{id}/role`.
pub async fn change_role(
    State(state): State<AppState>,
    Path(id): Path<String>,
    AdminPosted { api, form: posted }: AdminPosted,
) -> Response {
    let body = PatchUserRequest {
        display_name: None,
        role: Some(posted.fields.one("role").to_owned()),
        password: None,
    };
    match routes::users::patch_user(
        State(state.clone()),
        api.clone(),
        Path(id.clone()),
        ApiJson(body),
    )
    .await
    {
        Ok(_) => Redirect::to(&format!("{PAGE}/{id}?done=role")).into_response(),
        Err(e) => match FormProblem::of(&e) {
            FormProblem::Field { text, .. } => {
                let problem = Some((e.refusal().status, text));
                user_page(&state, posted.by.nav(PAGE), &api, &id, None, problem, None).await
            }
            FormProblem::Page(page) => page,
        },
    }
}

/// `POST /console/users/{id}/password-reset`: a one-time link, shown once.
pub async fn password_reset(
    State(state): State<AppState>,
    Path(id): Path<String>,
    AdminPosted { api, form: posted }: AdminPosted,
) -> Response {
    let user =
        match routes::users::get_user(State(state.clone()), api.clone(), Path(id.clone())).await {
            Ok(Json(u)) => u,
            Err(e) => return refused(&e),
        };
    let made =
        routes::users::password_reset(State(state.clone()), api.clone(), Path(id.clone())).await;
    let Json(made) = match made {
        Ok(made) => made,
        Err(e) => return refused(&e),
    };
    let link = ShownLink {
        what: if user.password_set {
            "A password-reset link"
        } else {
            "A new invitation link"
        },
        email: user.email,
        url: made.password_reset_url,
        expires_at: made.expires_at,
    };
    // Resetting one's own password ends one's own session too: the link is still shown.
    user_page(
        &state,
        posted.by.nav(PAGE),
        &api,
        &id,
        None,
        None,
        Some(link),
    )
    .await
}

/// `POST /console/users/{id}/delete`: removes the user once the box is ticked.
pub async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
    AdminPosted { api, form: posted }: AdminPosted,
) -> Response {
    if posted.fields.one("confirm") != "yes" {
        let problem = Some((
            StatusCode::BAD_REQUEST,
            "Tick the box to confirm the removal; nothing was changed.".to_owned(),
        ));
        return user_page(&state, posted.by.nav(PAGE), &api, &id, None, problem, None).await;
    }
    let user =
        match routes::users::get_user(State(state.clone()), api.clone(), Path(id.clone())).await {
            Ok(Json(u)) => u,
            Err(e) => return refused(&e),
        };
    match routes::users::delete_user(State(state.clone()), api.clone(), Path(id.clone())).await {
        Ok(_) => told(PAGE, "removed", &user.email),
        Err(e) => match FormProblem::of(&e) {
            FormProblem::Field { text, .. } => {
                let problem = Some((e.refusal().status, text));
                user_page(&state, posted.by.nav(PAGE), &api, &id, None, problem, None).await
            }
            FormProblem::Page(page) => page,
        },
    }
}

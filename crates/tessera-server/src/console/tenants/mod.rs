//! The console's tenant pages (SPEC §4.1, §9): the one-time link that sets a password, the
//! self-service sign-up, and the operator's Tenants page. Every action goes through the same
//! functions as `/v1/tenants`.

mod links;
mod sign_up;

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use serde::Deserialize;
use tessera_core::error::DomainError;
use tessera_core::model::{Role, TenantPatch, User};
use tessera_core::page::{next_page_token, PageRequest};

use crate::console::session::Session;
use crate::console::shell::{Nav, Signed};
use crate::console::{html, message, sign_in_redirect, signed_in};
use crate::error::ApiError;
use crate::extract::PlatformCaller;
use crate::routes::tenants::{
    change_tenant, delete_tenant_everywhere, new_tenant, parse_tenant_id, store_new_tenant,
};
use crate::state::AppState;
use crate::wire::TenantView;
pub use links::*;
pub use sign_up::*;

/// Sign-ups allowed per address per minute (the failed-authentication limiter's window).
const SIGN_UPS_PER_ADDRESS: u32 = 5;

#[derive(Template)]
#[template(path = "set_password.html")]
struct SetPasswordPage<'a> {
    token: &'a str,
    email: &'a str,
    organization: &'a str,
    problem: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "sign_up.html")]
struct SignUpPage<'a> {
    csrf: &'a str,
    organization: &'a str,
    email: &'a str,
    problem: Option<&'a str>,
}

/// An invitation link shown once, right after the tenant was made.
struct ShownInvitation {
    email: String,
    url: String,
    expires_at: String,
}

#[derive(Template)]
#[template(path = "tenants.html")]
struct TenantsPage<'a> {
    nav: Nav,
    tenants: Vec<TenantView>,
    next_page: String,
    notice: Option<&'a str>,
    problem: Option<&'a str>,
    invitation: Option<ShownInvitation>,
}

#[derive(Template)]
#[template(path = "tenant_delete.html")]
struct TenantDeletePage<'a> {
    nav: Nav,
    tenant_id: &'a str,
    name: &'a str,
}

/// Whether the user administers the operator tenant (and so every tenant).
pub(crate) fn is_operator_admin(state: &AppState, user: &User) -> bool {
    user.role == Role::Admin
        && state
            .clients
            .tenant(&user.tenant_id)
            .is_some_and(|t| t.operator)
}

/// The signed-in operator admin, or the page to show instead.
async fn operator_admin(
    state: &AppState,
    headers: &HeaderMap,
    here: &str,
) -> Result<(Session, PlatformCaller, Nav), Response> {
    let Some((session, user)) = signed_in(state, headers).await else {
        return Err(sign_in_redirect(here));
    };
    if !is_operator_admin(state, &user) {
        return Err(message(
            StatusCode::FORBIDDEN,
            "Only for the operator's admins",
            "Tenants are managed by the admins of the operator tenant, the one that runs this deployment.",
        ));
    }
    let caller = PlatformCaller {
        tenant: user.tenant_id,
        actor: format!("user:{}", user.id),
    };
    let nav = Signed::of(state, session.clone(), user).nav("/console/tenants");
    Ok((session, caller, nav))
}

/// A form of the Tenants page from a signed-in operator admin, with the session's CSRF token;
/// otherwise the page that says what went wrong (`heading`).
async fn operator_form<T: HasCsrf>(
    state: &AppState,
    headers: &HeaderMap,
    form: Result<Form<T>, FormRejection>,
    heading: &str,
) -> Result<(Session, PlatformCaller, Nav, T), Response> {
    let (session, caller, nav) = operator_admin(state, headers, "/console/tenants").await?;
    let Ok(Form(form)) = form else {
        return Err(message(
            StatusCode::BAD_REQUEST,
            heading,
            "The form was incomplete; go back and fill in every field.",
        ));
    };
    if !session.csrf_matches(&state.master_key, form.csrf()) {
        return Err(message(
            StatusCode::BAD_REQUEST,
            "The form expired",
            "Go back to the Tenants page, reload it and try again.",
        ));
    }
    Ok((session, caller, nav, form))
}

/// A form that carries the session's CSRF token.
trait HasCsrf {
    fn csrf(&self) -> &str;
}

macro_rules! has_csrf {
    ($($form:ty),*) => {
        $(impl HasCsrf for $form {
            fn csrf(&self) -> &str {
                &self.csrf
            }
        })*
    };
}
has_csrf!(CreateTenantForm, TenantStateForm, DeleteForm);

#[derive(Debug, Deserialize, Default)]
pub struct TenantsQuery {
    page_token: Option<String>,
}

/// What the Tenants page shows besides the list.
#[derive(Default)]
struct Outcome<'a> {
    notice: Option<&'a str>,
    problem: Option<&'a str>,
    invitation: Option<ShownInvitation>,
}

async fn tenants_list(
    state: &AppState,
    nav: &Nav,
    page_token: Option<&str>,
    outcome: Outcome<'_>,
    status: StatusCode,
) -> Response {
    // A page token that does not parse starts at the first page.
    let page =
        PageRequest::parse(Some("50"), page_token).unwrap_or(PageRequest { after: 0, size: 50 });
    let found = match state.storage.list_tenants(page).await {
        Ok(found) => found,
        Err(_) => return unavailable(),
    };
    html(
        status,
        TenantsPage {
            nav: nav.clone(),
            tenants: found.items.iter().map(TenantView::from).collect(),
            next_page: next_page_token(found.next_after),
            notice: outcome.notice,
            problem: outcome.problem,
            invitation: outcome.invitation,
        },
    )
}

/// `GET /console/tenants`.
pub async fn tenants_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<TenantsQuery>,
) -> Response {
    match operator_admin(&state, &headers, "/console/tenants").await {
        Ok((_, _, nav)) => {
            tenants_list(
                &state,
                &nav,
                q.page_token.as_deref(),
                Outcome::default(),
                StatusCode::OK,
            )
            .await
        }
        Err(page) => page,
    }
}

/// The words for a refused action, naming what to fix.
fn refusal_text(e: &ApiError) -> String {
    match e {
        ApiError::Domain(DomainError::Invalid { field, message }) => {
            let field = match *field {
                "display_name" => "The name",
                "admin_email" => "The admin's email",
                "tier" => "The tier",
                other => other,
            };
            format!("{field} {message}.")
        }
        ApiError::Domain(DomainError::NotFound(_)) => "That tenant no longer exists.".into(),
        ApiError::Domain(DomainError::Conflict(why)) => format!("{why}."),
        _ => "The service could not do this right now; try again in a moment.".into(),
    }
}

/// The Tenants page again, saying why an action was refused.
async fn refused(state: &AppState, nav: &Nav, e: &ApiError, status: StatusCode) -> Response {
    let problem = refusal_text(e);
    let outcome = Outcome {
        problem: Some(&problem),
        ..Outcome::default()
    };
    tenants_list(state, nav, None, outcome, status).await
}

#[derive(Debug, Deserialize)]
pub struct CreateTenantForm {
    csrf: String,
    display_name: String,
    tier: String,
    admin_email: String,
}

/// `POST /console/tenants`: creates a tenant and shows its admin's invitation link once.
pub async fn create_tenant(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<CreateTenantForm>, FormRejection>,
) -> Response {
    let (_, caller, nav, form) =
        match operator_form(&state, &headers, form, "The tenant was not created").await {
            Ok(found) => found,
            Err(page) => return page,
        };
    let made = match new_tenant(
        &*state.rng,
        &form.display_name,
        Some(&form.tier),
        &form.admin_email,
        None,
        String::new(),
        state.clock.now_millis(),
    ) {
        Ok(new) => store_new_tenant(&state, &caller, new).await,
        Err(e) => Err(e.into()),
    };
    match made {
        Ok(created) => {
            let notice = format!("Created {}.", created.tenant.display_name);
            let outcome = Outcome {
                notice: Some(&notice),
                invitation: Some(ShownInvitation {
                    email: created.admin.email,
                    url: created.admin.invitation_url,
                    expires_at: created.admin.invitation_expires_at,
                }),
                ..Outcome::default()
            };
            tenants_list(&state, &nav, None, outcome, StatusCode::CREATED).await
        }
        Err(e) => refused(&state, &nav, &e, StatusCode::BAD_REQUEST).await,
    }
}

#[derive(Debug, Deserialize)]
pub struct TenantStateForm {
    csrf: String,
    tenant_id: String,
    disabled: bool,
}

/// `POST /console/tenants/state`: disables or enables a tenant.
pub async fn change_state(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<TenantStateForm>, FormRejection>,
) -> Response {
    let (_, caller, nav, form) =
        match operator_form(&state, &headers, form, "Nothing changed").await {
            Ok(found) => found,
            Err(page) => return page,
        };
    let patch = TenantPatch {
        disabled: Some(form.disabled),
        ..TenantPatch::default()
    };
    let changed = match parse_tenant_id(&form.tenant_id) {
        Ok(id) => change_tenant(&state, &caller, id, patch).await,
        Err(e) => Err(e.into()),
    };
    match changed {
        Ok(tenant) => {
            let notice = if tenant.disabled {
                format!(
                    "Disabled {}: its tokens, grants and sessions have stopped working.",
                    tenant.display_name
                )
            } else {
                format!(
                    "Enabled {}: its grants work again; tokens from before need renewing.",
                    tenant.display_name
                )
            };
            let outcome = Outcome {
                notice: Some(&notice),
                ..Outcome::default()
            };
            tenants_list(&state, &nav, None, outcome, StatusCode::OK).await
        }
        Err(e) => refused(&state, &nav, &e, StatusCode::CONFLICT).await,
    }
}

#[derive(Debug, Deserialize)]
pub struct DeleteQuery {
    #[serde(default)]
    tenant_id: String,
}

/// `GET /console/tenants/delete?tenant_id=…`: asks for confirmation.
pub async fn delete_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<DeleteQuery>,
) -> Response {
    let (_, _, nav) = match operator_admin(&state, &headers, "/console/tenants").await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let tenant = parse_tenant_id(&q.tenant_id)
        .ok()
        .and_then(|id| state.clients.tenant(&id));
    match tenant {
        Some(t) if !t.operator => html(
            StatusCode::OK,
            TenantDeletePage {
                nav: nav.clone(),
                tenant_id: &t.id.to_string(),
                name: &t.display_name,
            },
        ),
        Some(_) => message(
            StatusCode::CONFLICT,
            "The operator tenant stays",
            "The operator tenant runs this deployment and cannot be deleted.",
        ),
        None => message(
            StatusCode::NOT_FOUND,
            "No such tenant",
            "That tenant does not exist (any more).",
        ),
    }
}

#[derive(Debug, Deserialize)]
pub struct DeleteForm {
    csrf: String,
    tenant_id: String,
    confirm: String,
}

/// `POST /console/tenants/delete`: deletes the tenant once its name was typed.
pub async fn delete_tenant(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<DeleteForm>, FormRejection>,
) -> Response {
    let (_, caller, nav, form) =
        match operator_form(&state, &headers, form, "Nothing was deleted").await {
            Ok(found) => found,
            Err(page) => return page,
        };
    let Ok(id) = parse_tenant_id(&form.tenant_id) else {
        return message(
            StatusCode::BAD_REQUEST,
            "Nothing was deleted",
            "The form named no tenant; go back to the Tenants page.",
        );
    };
    let Some(tenant) = state.clients.tenant(&id) else {
        return message(
            StatusCode::NOT_FOUND,
            "No such tenant",
            "That tenant does not exist (any more).",
        );
    };
    if form.confirm.trim() != tenant.display_name {
        return html(
            StatusCode::BAD_REQUEST,
            TenantDeletePage {
                nav: nav.clone(),
                tenant_id: &tenant.id.to_string(),
                name: &tenant.display_name,
            },
        );
    }
    let outcome = match delete_tenant_everywhere(&state, &caller, id).await {
        Ok(()) => format!("Deleted {} and everything in it.", tenant.display_name),
        Err(e) => refusal_text(&e),
    };
    tenants_list(
        &state,
        &nav,
        None,
        Outcome {
            notice: Some(&outcome),
            ..Outcome::default()
        },
        StatusCode::OK,
    )
    .await
}

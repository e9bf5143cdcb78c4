//! The console's tenant pages (SPEC §4.1, §9): the one-time link that sets a password, the
//! self-service sign-up, and the operator's Tenants page. Every action goes through the same
//! functions as `/v1/tenants`.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use serde::Deserialize;
use tessera_core::crypto::hash_password;
use tessera_core::error::DomainError;
use tessera_core::model::{link_token_hash, Role, TenantPatch, Tier, User};
use tessera_core::page::{next_page_token, PageRequest};

use super::session::Session;
use super::shell::{Nav, Signed};
use super::{
    form_cookie_matches, html, message, message_with_link, sign_in_redirect, signed_in,
    start_session, with_form_cookie,
};
use crate::error::ApiError;
use crate::extract::{PeerAddress, PlatformCaller};
use crate::routes::tenants::{
    change_tenant, delete_tenant_everywhere, new_tenant, parse_tenant_id, store_new_tenant,
};
use crate::state::AppState;
use crate::wire::TenantView;

const MIN_PASSWORD_CHARS: usize = 12;

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

fn password_problem(password: &str, confirm: &str) -> Option<&'static str> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        Some("The password must be at least 12 characters.")
    } else if password != confirm {
        Some("The two passwords differ; type the same one twice.")
    } else {
        None
    }
}

/// argon2 is slow on purpose: off the async workers.
async fn hashed(state: &AppState, password: String) -> Option<String> {
    let rng = state.rng.clone();
    tokio::task::spawn_blocking(move || hash_password(&password, &*rng).ok())
        .await
        .ok()
        .flatten()
}

fn unavailable() -> Response {
    message(
        StatusCode::SERVICE_UNAVAILABLE,
        "Something went wrong",
        "The service cannot do this right now; try again in a moment.",
    )
}

#[derive(Debug, Deserialize)]
pub struct LinkQuery {
    #[serde(default)]
    token: String,
}

/// `GET /console/set-password?token=…`: the form, or why the link does not work.
pub async fn set_password_page(
    State(state): State<AppState>,
    Query(q): Query<LinkQuery>,
) -> Response {
    let found = state
        .storage
        .user_link(&link_token_hash(&q.token), state.clock.now_millis())
        .await;
    match found {
        Ok(Ok(user)) => html(
            StatusCode::OK,
            SetPasswordPage {
                token: &q.token,
                email: &user.email,
                organization: &organization(&state, &user),
                problem: None,
            },
        ),
        Ok(Err(refusal)) => message(
            StatusCode::GONE,
            "This link does not work",
            &refusal.to_string(),
        ),
        Err(_) => unavailable(),
    }
}

fn organization(state: &AppState, user: &User) -> String {
    state
        .clients
        .tenant(&user.tenant_id)
        .map(|t| t.display_name)
        .unwrap_or_default()
}

#[derive(Debug, Deserialize)]
pub struct SetPasswordForm {
    token: String,
    password: String,
    confirm: String,
}

/// `POST /console/set-password`: sets the password once; the token in the form is the proof.
pub async fn set_password(
    State(state): State<AppState>,
    form: Result<Form<SetPasswordForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return message(
            StatusCode::BAD_REQUEST,
            "The password was not set",
            "The form was incomplete; open the link again.",
        );
    };
    let token_hash = link_token_hash(&form.token);
    let now = state.clock.now_millis();
    if let Some(problem) = password_problem(&form.password, &form.confirm) {
        return match state.storage.user_link(&token_hash, now).await {
            Ok(Ok(user)) => html(
                StatusCode::BAD_REQUEST,
                SetPasswordPage {
                    token: &form.token,
                    email: &user.email,
                    organization: &organization(&state, &user),
                    problem: Some(problem),
                },
            ),
            Ok(Err(refusal)) => message(
                StatusCode::GONE,
                "This link does not work",
                &refusal.to_string(),
            ),
            Err(_) => unavailable(),
        };
    }
    let Some(password_hash) = hashed(&state, form.password).await else {
        return unavailable();
    };
    match state
        .storage
        .redeem_user_link(&token_hash, &password_hash, now)
        .await
    {
        Ok(Ok(user)) => {
            let _ = state
                .publish(tessera_core::ports::Change::People(user.tenant_id))
                .await;
            message_with_link(
                StatusCode::OK,
                "Your password is set",
                &format!("Sign in as {} with your new password.", user.email),
                Some(("/console/sign-in", "Sign in")),
            )
        }
        Ok(Err(refusal)) => message(
            StatusCode::GONE,
            "This link does not work",
            &refusal.to_string(),
        ),
        Err(_) => unavailable(),
    }
}

fn not_found_page() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Page not found",
        "There is no such page in the console.",
    )
}

/// The sign-up form with a fresh double-submit token in a cookie, as the sign-in form has.
fn sign_up_form(
    state: &AppState,
    organization: &str,
    email: &str,
    problem: Option<&str>,
    status: StatusCode,
) -> Response {
    with_form_cookie(state, |csrf| {
        html(
            status,
            SignUpPage {
                csrf,
                organization,
                email,
                problem,
            },
        )
    })
}

/// `GET /console/sign-up`: 404 unless the deployment allows sign-up.
pub async fn sign_up_page(State(state): State<AppState>) -> Response {
    if !state.config.allow_sign_up {
        return not_found_page();
    }
    sign_up_form(&state, "", "", None, StatusCode::OK)
}

#[derive(Debug, Deserialize)]
pub struct SignUpForm {
    organization: String,
    email: String,
    password: String,
    csrf: String,
}

/// `POST /console/sign-up`: a new tenant with the signer as its admin, signed in at once.
pub async fn sign_up(
    State(state): State<AppState>,
    PeerAddress(peer): PeerAddress,
    headers: HeaderMap,
    form: Result<Form<SignUpForm>, FormRejection>,
) -> Response {
    if !state.config.allow_sign_up {
        return not_found_page();
    }
    let Ok(Form(form)) = form else {
        return sign_up_form(
            &state,
            "",
            "",
            Some("The form was incomplete; fill in every field."),
            StatusCode::BAD_REQUEST,
        );
    };
    if !form_cookie_matches(&state, &headers, &form.csrf) {
        return sign_up_form(
            &state,
            &form.organization,
            &form.email,
            Some("The form expired; please send it again."),
            StatusCode::BAD_REQUEST,
        );
    }
    // Every attempt counts against the address: making tenants is not free for anyone.
    let limited = format!(
        "sign-up:{}",
        peer.map(|ip| ip.to_string()).unwrap_or_default()
    );
    let now_seconds = state.clock.now_seconds();
    if state
        .auth_limiter
        .key_exhausted(&limited, SIGN_UPS_PER_ADDRESS, now_seconds)
    {
        return message(
            StatusCode::TOO_MANY_REQUESTS,
            "Sign-up failed",
            "Too many sign-ups from this address; wait a minute and try again.",
        );
    }
    state
        .auth_limiter
        .record_failure(&limited, None, now_seconds);
    if let Some(problem) = password_problem(&form.password, &form.password) {
        return sign_up_form(
            &state,
            &form.organization,
            &form.email,
            Some(problem),
            StatusCode::BAD_REQUEST,
        );
    }
    let now = state.clock.now_millis();
    let checked = new_tenant(
        &*state.rng,
        &form.organization,
        Some(Tier::Free.as_str()),
        &form.email,
        None,
        String::new(),
        now,
    );
    let mut new = match checked {
        Ok(new) => new,
        Err(e) => {
            let problem = match e.field() {
                Some("display_name") => "The organization name must be 1 to 200 characters.",
                Some("admin_email") => "The email must be an address such as jane@example.com.",
                _ => "Something in the form is not right; check each field.",
            };
            return sign_up_form(
                &state,
                &form.organization,
                &form.email,
                Some(problem),
                StatusCode::BAD_REQUEST,
            );
        }
    };
    let Some(password_hash) = hashed(&state, form.password).await else {
        return unavailable();
    };
    new.admin.password_hash = password_hash;
    let Some(operator) = state.clients.operator_tenant() else {
        return unavailable();
    };
    let caller = PlatformCaller {
        tenant: operator,
        actor: "system:sign-up".into(),
    };
    let admin = new.admin.clone();
    if store_new_tenant(&state, &caller, new).await.is_err() {
        return unavailable();
    }
    start_session(&state, &admin, "/console").await
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

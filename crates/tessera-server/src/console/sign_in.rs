//! Signing in and out (SPEC §9): email and password checked with argon2 on the blocking pool
//! (an unknown email costs one verification too), the session it starts, the signed-in check
//! every console page makes, and signing out everywhere the cookie is kept.

use axum::extract::rejection::FormRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use tessera_core::crypto::{random_token, spend_password_check, verify_password};
use tessera_core::id::TenantId;
use tessera_core::model::User;

use super::session::{cookie, set_cookie, Session, SESSION_COOKIE, SIGN_IN_COOKIE};
use crate::extract::PeerAddress;
use crate::state::AppState;

use super::{html, message, secure, SignInPage};

/// The signed-in user: the cookie names a session the store still holds, within its absolute
/// and idle lifetimes, of a user who still exists, in an enabled tenant, and whose password or
/// role has not changed since it began.
pub(crate) async fn signed_in(state: &AppState, headers: &HeaderMap) -> Option<(Session, User)> {
    let id = cookie(headers, SESSION_COOKIE)?;
    let id_hash = Session::id_hash(id);
    let stored = state.storage.console_session(&id_hash).await.ok()??;
    let now = state.clock.now_millis();
    let idle_until = stored.last_seen_at + state.config.session_idle_seconds * 1000;
    if now >= stored.expires_at || now >= idle_until {
        return None;
    }
    let user = state.storage.find_user(stored.user_id).await.ok()??;
    let stands = user.tenant_id == stored.tenant_id
        && stored.created_at >= user.sessions_not_before
        && state.clients.enabled_tenant(&user.tenant_id).is_some();
    if !stands {
        return None;
    }
    // The idle clock restarts with use; once a minute is enough to keep a write off each page.
    if now - stored.last_seen_at > 60_000 {
        let _ = state.storage.touch_console_session(&id_hash, now).await;
    }
    Some((Session { id: id.to_owned() }, user))
}

/// Starts a session for `user` and answers with a redirect to `next` that sets its cookie (and
/// clears the sign-in form's).
pub(crate) async fn start_session(state: &AppState, user: &User, next: &str) -> Response {
    let id = random_token(&*state.rng, 32);
    let now = state.clock.now_millis();
    let stored = tessera_core::ports::ConsoleSession {
        id_hash: Session::id_hash(&id),
        user_id: user.id,
        tenant_id: user.tenant_id,
        created_at: now,
        last_seen_at: now,
        expires_at: now + state.config.session_seconds * 1000,
    };
    if let Err(e) = state.storage.create_console_session(&stored).await {
        tracing::error!(error = %e, "a console session could not be stored");
        return message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Sign-in failed",
            "The service cannot start your session right now; try again in a moment.",
        );
    }
    let mut response = Redirect::to(next).into_response();
    for cookie in [
        set_cookie(
            SESSION_COOKIE,
            &id,
            state.config.session_seconds,
            secure(state),
        ),
        set_cookie(SIGN_IN_COOKIE, "", 0, secure(state)),
    ]
    .into_iter()
    .flatten()
    {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// Where to go after signing in: only a path on this site (no `//host`, no scheme), so the
/// parameter cannot send the user elsewhere. Browsers drop tabs and newlines from a `Location`
/// and read `\` as `/`, so a path with either could still name another host: refused too.
fn safe_next(next: &str) -> &str {
    if next.starts_with('/')
        && !next.starts_with("//")
        && !next.chars().any(|c| c == '\\' || c.is_control())
    {
        next
    } else {
        "/console"
    }
}

pub(crate) fn sign_in_redirect(next: &str) -> Response {
    let next: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
    Redirect::to(&format!("/console/sign-in?next={next}")).into_response()
}

#[derive(Debug, Deserialize)]
pub struct SignInQuery {
    next: Option<String>,
}

pub async fn sign_in_page(
    State(state): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<SignInQuery>,
) -> Response {
    let next = safe_next(q.next.as_deref().unwrap_or("/console"));
    sign_in_form(&state, next, "", None, Vec::new(), StatusCode::OK)
}

/// The sign-in form with a fresh double-submit token in a cookie.
fn sign_in_form(
    state: &AppState,
    next: &str,
    email: &str,
    problem: Option<&str>,
    tenants: Vec<(String, String)>,
    status: StatusCode,
) -> Response {
    with_form_cookie(state, |csrf| {
        html(
            status,
            SignInPage {
                csrf,
                next,
                email,
                problem,
                tenants,
                sign_up: state.config.allow_sign_up,
            },
        )
    })
}

/// A form page for someone not signed in yet (sign-in, sign-up), with a fresh double-submit
/// CSRF token: the cookie carries a random nonce, `render` puts its MAC under the master key in
/// the form. A cookie planted by someone else (a sibling subdomain can set one) has no form
/// token to match, since only the server can make the MAC (SPEC §11).
pub(crate) fn with_form_cookie(
    state: &AppState,
    render: impl FnOnce(&str) -> Response,
) -> Response {
    let nonce = random_token(&*state.rng, 16);
    let mut response = render(&state.master_key.mac(FORM_PURPOSE, nonce.as_bytes()));
    if let Some(cookie) = set_cookie(SIGN_IN_COOKIE, &nonce, 3600, secure(state)) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

const FORM_PURPOSE: &str = "console form";

/// Whether a form's CSRF token is the MAC of the nonce in its cookie.
pub(crate) fn form_cookie_matches(state: &AppState, headers: &HeaderMap, csrf: &str) -> bool {
    cookie(headers, SIGN_IN_COOKIE)
        .filter(|nonce| !nonce.is_empty())
        .is_some_and(|nonce| {
            state
                .master_key
                .mac_matches(FORM_PURPOSE, nonce.as_bytes(), csrf)
        })
}

#[derive(Debug, Deserialize)]
pub struct SignInForm {
    email: String,
    password: String,
    csrf: String,
    #[serde(default)]
    next: String,
    tenant: Option<String>,
}

const BAD_CREDENTIALS: &str = "The email or the password is not right.";

pub async fn sign_in(
    State(state): State<AppState>,
    PeerAddress(peer): PeerAddress,
    headers: HeaderMap,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return message(
            StatusCode::BAD_REQUEST,
            "Sign-in failed",
            "The form was incomplete; go back and try again.",
        );
    };
    let next = safe_next(&form.next).to_owned();
    if !form_cookie_matches(&state, &headers, &form.csrf) {
        return sign_in_form(
            &state,
            &next,
            &form.email,
            Some("The form expired; please sign in again."),
            Vec::new(),
            StatusCode::BAD_REQUEST,
        );
    }
    let email = form.email.trim().to_lowercase();
    // Failed sign-ins count against the email and the address, as failed client
    // authentication does (SPEC §11): guessing a password takes more than a minute's tries.
    let limited = format!("sign-in:{email}");
    let now = state.clock.now_seconds();
    if state.auth_limiter.is_blocked(&limited, peer, now) {
        return message(
            StatusCode::TOO_MANY_REQUESTS,
            "Sign-in failed",
            "Too many failed sign-ins for this account or from this address; wait a minute and try again.",
        );
    }
    let users = match state.storage.users_with_email(&email).await {
        Ok(users) => users,
        Err(e) => {
            tracing::error!(error = %e, "sign-in could not read users");
            return message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Sign-in failed",
                "The service cannot check your account right now; try again in a moment.",
            );
        }
    };
    // argon2 is slow on purpose: off the async workers.
    let password = form.password;
    let matching = tokio::task::spawn_blocking(move || {
        if users.is_empty() {
            spend_password_check(&password);
        }
        users
            .into_iter()
            .filter(|u| verify_password(&password, &u.password_hash))
            .collect::<Vec<User>>()
    })
    .await
    .unwrap_or_default();
    // The password was right; a disabled organization still lets nobody in.
    let (matching, disabled): (Vec<User>, Vec<User>) = matching
        .into_iter()
        .partition(|u| state.clients.enabled_tenant(&u.tenant_id).is_some());
    if matching.is_empty() && !disabled.is_empty() {
        return message(
            StatusCode::FORBIDDEN,
            "Sign-in failed",
            "Your organization is disabled on this service; ask its operator to enable it.",
        );
    }
    let chosen: Vec<&User> = match form.tenant.as_deref().map(str::parse::<TenantId>) {
        Some(Ok(tenant)) => matching.iter().filter(|u| u.tenant_id == tenant).collect(),
        _ => matching.iter().collect(),
    };
    let user = match chosen.as_slice() {
        [one] => *one,
        [] => {
            state.auth_limiter.record_failure(&limited, peer, now);
            crate::access_log::failed_authentication(&email, peer, "wrong email or password");
            return sign_in_form(
                &state,
                &next,
                &email,
                Some(BAD_CREDENTIALS),
                Vec::new(),
                StatusCode::UNAUTHORIZED,
            );
        }
        several => {
            let tenants = several
                .iter()
                .map(|u| {
                    let name = state
                        .clients
                        .tenant(&u.tenant_id)
                        .map(|t| t.display_name)
                        .unwrap_or_else(|| u.tenant_id.to_string());
                    (u.tenant_id.to_string(), name)
                })
                .collect();
            return sign_in_form(
                &state,
                &next,
                &email,
                Some("Choose the organization to sign in to."),
                tenants,
                StatusCode::OK,
            );
        }
    };
    start_session(&state, user, &next).await
}

#[derive(Debug, Deserialize)]
pub struct SignOutForm {
    #[serde(default)]
    csrf: String,
}

/// Signs out: a form from a page of ours carries the session's CSRF token, so another site
/// cannot sign the user out; without a live session there is nothing to protect.
pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<SignOutForm>, FormRejection>,
) -> Response {
    let csrf = form.map(|Form(f)| f.csrf).unwrap_or_default();
    if let Some((session, _)) = signed_in(&state, &headers).await {
        if !session.csrf_matches(&state.master_key, &csrf) {
            return message(
                StatusCode::BAD_REQUEST,
                "Sign-out failed",
                "The form expired; go back to the console and sign out there.",
            );
        }
        // Gone from the store: the cookie is worthless on every instance, wherever it is kept.
        if state
            .storage
            .end_console_session(&Session::id_hash(&session.id))
            .await
            .is_err()
        {
            return message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Sign-out failed",
                "The service cannot end your session right now; try again in a moment.",
            );
        }
    }
    let mut response = message(StatusCode::OK, "Signed out", "You have signed out.");
    if let Some(cookie) = set_cookie(SESSION_COOKIE, "", 0, secure(&state)) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

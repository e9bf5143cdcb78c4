//! Self-service sign-up (`--allow-sign-up`): a new tenant with the signer as its admin.

use axum::extract::rejection::FormRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use serde::Deserialize;
use tessera_core::model::Tier;

use crate::console::{form_cookie_matches, html, message, start_session, with_form_cookie};
use crate::extract::{PeerAddress, PlatformCaller};
use crate::routes::tenants::{new_tenant, store_new_tenant};
use crate::state::AppState;

use super::*;

/// The sign-up form with a fresh double-submit token in a cookie, as the sign-in form has.
pub(super) fn sign_up_form(
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
    let refused = |problem| {
        sign_up_form(
            &state,
            &form.organization,
            &form.email,
            Some(problem),
            StatusCode::BAD_REQUEST,
        )
    };
    if let Some(problem) = password_problem(&form.password, &form.password) {
        return refused(problem);
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
            return refused(problem);
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

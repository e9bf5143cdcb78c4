//! The one-time link page (`/console/set-password`): an invitation or a reset sets the password once.

use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use serde::Deserialize;
use tessera_core::crypto::MIN_PASSWORD_CHARS;
use tessera_core::model::{link_token_hash, User};

use crate::console::{html, message, message_with_link};
use crate::state::AppState;

use super::*;

pub(super) fn password_problem(password: &str, confirm: &str) -> Option<&'static str> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        Some("The password must be at least 12 characters.")
    } else if password != confirm {
        Some("The two passwords differ; type the same one twice.")
    } else {
        None
    }
}

/// argon2 is slow on purpose: off the async workers.
pub(super) async fn hashed(state: &AppState, password: String) -> Option<String> {
    state.hash_password(password).await.ok()
}

pub(super) fn unavailable() -> Response {
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

pub(super) fn organization(state: &AppState, user: &User) -> String {
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

pub(super) fn not_found_page() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Page not found",
        "There is no such page in the console.",
    )
}

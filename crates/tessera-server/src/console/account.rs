//! My account (SPEC §9), for every signed-in user: change my password, the consents I gave
//! (withdraw one), sign out everywhere. A user acts on their own account only: the password
//! goes through `PATCH /v1/users/{id}`'s code for the user's own id, a withdrawal through
//! `DELETE /v1/consents/{id}`'s for a consent the user gave, each as the user.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tessera_core::crypto::verify_password;
use tessera_core::ports::{AuditAction, Change};

use super::html;
use super::shell::{refused, Nav, Posted, Signed};
use super::users::{consents_of, ConsentRow};
use super::{message, sign_in_redirect};
use crate::extract::{ApiJson, TenantAdmin};
use crate::routes;
use crate::routes::consents;
use crate::state::AppState;
use crate::wire::PatchUserRequest;

const PAGE: &str = "/console/account";

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    nav: Nav,
    name: String,
    email: String,
    role: &'static str,
    consents: Vec<ConsentRow>,
    notice: Option<&'static str>,
    problem: Option<String>,
}

/// `?done=…`: what the page says happened.
#[derive(Debug, Deserialize)]
pub struct NoticeQuery {
    done: Option<String>,
}

/// The user acting on their own account, as the `/v1` handlers take a caller.
pub(super) fn own(signed: &Signed) -> TenantAdmin {
    TenantAdmin {
        tenant: signed.user.tenant_id,
        actor: format!("user:{}", signed.user.id),
    }
}

async fn page(
    state: &AppState,
    signed: &Signed,
    notice: Option<&'static str>,
    problem: Option<String>,
) -> Response {
    let consents = consents_of(state, &own(signed), &signed.user.id.to_string()).await;
    html(
        super::shell::status_with(&problem),
        AccountPage {
            nav: signed.nav(PAGE),
            name: signed.user.display_name.clone(),
            email: signed.user.email.clone(),
            role: signed.user.role.as_str(),
            consents,
            notice,
            problem,
        },
    )
}

/// `GET /console/account`.
pub async fn show(
    State(state): State<AppState>,
    signed: Signed,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let notice = match q.done.as_deref() {
        Some("withdrawn") => Some("The consent was withdrawn."),
        _ => None,
    };
    page(&state, &signed, notice, None).await
}

/// `POST /console/account/password`: the current password, then the new one twice. Every
/// session of the user ends, this one too: they sign in again with the new password.
pub async fn change_password(State(state): State<AppState>, posted: Posted) -> Response {
    let f = &posted.fields;
    let (current, password, confirm) = (f.one("current"), f.one("password"), f.one("confirm"));
    if password != confirm {
        let why = "The two new passwords differ; type the same one twice.";
        return page(&state, &posted.by, None, Some(why.into())).await;
    }
    let (typed, hash) = (current.to_owned(), posted.by.user.password_hash.clone());
    // argon2 is slow on purpose: off the async workers.
    let right = tokio::task::spawn_blocking(move || verify_password(&typed, &hash))
        .await
        .unwrap_or(false);
    if !right {
        let why = "The current password is not right; nothing was changed.";
        return page(&state, &posted.by, None, Some(why.into())).await;
    }
    let body = PatchUserRequest {
        display_name: None,
        role: None,
        password: Some(password.to_owned()),
    };
    let id = posted.by.user.id.to_string();
    match routes::users::patch_user(
        State(state.clone()),
        own(&posted.by),
        Path(id),
        ApiJson(body),
    )
    .await
    {
        Ok(_) => message(
            StatusCode::OK,
            "Your password is changed",
            "You were signed out everywhere; sign in again with the new password.",
        ),
        Err(e) => match e.refusal() {
            r if r.status == StatusCode::BAD_REQUEST => {
                let why = r.description.clone();
                page(&state, &posted.by, None, Some(why)).await
            }
            _ => refused(&e),
        },
    }
}

/// `POST /console/account/consents/{id}/withdraw`: withdraws a consent the user gave.
pub async fn withdraw_consent(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let caller = own(&posted.by);
    let mine = consents_of(&state, &caller, &posted.by.user.id.to_string())
        .await
        .into_iter()
        .any(|c| c.id == id);
    if !mine {
        return refused(&crate::error::ApiError::Domain(
            tessera_core::error::DomainError::NotFound("consent"),
        ));
    }
    match consents::withdraw_consent(State(state), caller, Path(id)).await {
        Ok(_) => Redirect::to(&format!("{PAGE}?done=withdrawn")).into_response(),
        Err(e) => refused(&e),
    }
}

/// `POST /console/account/sign-out-everywhere`: ends every session of the user, on every
/// instance (the sessions that began before now stop standing).
pub async fn sign_out_everywhere(State(state): State<AppState>, posted: Posted) -> Response {
    let mut user = posted.by.user.clone();
    let now = state.clock.now_millis();
    user.sessions_not_before = now + 1;
    user.updated_at = now;
    if let Err(e) = state.storage.update_user(&user).await {
        return refused(&e.into());
    }
    if let Err(e) = state.publish(Change::People(user.tenant_id)).await {
        return refused(&e);
    }
    own(&posted.by).audit(
        &state,
        AuditAction::UserUpdated,
        user.id.to_string(),
        serde_json::json!({"signed_out_everywhere": true}),
    );
    sign_in_redirect("/console")
}

//! The Keys page (SPEC §9), for the operator's admins: the deployment's signing keys (kid, alg,
//! created, retired, verifying until) and "rotate now", through `/v1/signing_keys`' handlers.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;

use super::html;
use super::shell::{refused, told, Nav, Posted, Signed};
use crate::extract::PlatformCaller;
use crate::routes::signing_keys;
use crate::state::AppState;
use crate::wire::SigningKeyView;

const PAGE: &str = "/console/keys";

#[derive(Template)]
#[template(path = "keys.html")]
struct KeysPage {
    nav: Nav,
    keys: Vec<SigningKeyView>,
    alg: &'static str,
    notice: Option<String>,
}

/// `?rotated=<kid>` after a rotation.
#[derive(Debug, Deserialize)]
pub struct NoticeQuery {
    rotated: Option<String>,
}

/// The signed-in user as the operator's caller, if they administer the operator tenant.
fn operator(signed: &Signed) -> Option<PlatformCaller> {
    (signed.is_admin() && signed.operator).then(|| PlatformCaller {
        tenant: signed.user.tenant_id,
        actor: format!("user:{}", signed.user.id),
    })
}

fn operators_only() -> Response {
    super::message_with_link(
        StatusCode::FORBIDDEN,
        "Only for the operator's admins",
        "The signing keys belong to the deployment; the admins of the operator tenant manage them.",
        Some(("/console", "Back to the console")),
    )
}

/// `GET /console/keys`.
pub async fn show(
    State(state): State<AppState>,
    signed: Signed,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let Some(caller) = operator(&signed) else {
        return operators_only();
    };
    match signing_keys::list_signing_keys(State(state.clone()), caller).await {
        Ok(Json(list)) => html(
            StatusCode::OK,
            KeysPage {
                nav: signed.nav(PAGE),
                keys: list.keys,
                alg: state.config.signing_alg.as_str(),
                notice: q
                    .rotated
                    .map(|kid| format!("Rotated: {kid} signs new tokens now.")),
            },
        ),
        Err(e) => refused(&e),
    }
}

/// `POST /console/keys/rotate`.
pub async fn rotate(State(state): State<AppState>, posted: Posted) -> Response {
    let Some(caller) = operator(&posted.by) else {
        return operators_only();
    };
    match signing_keys::rotate_signing_key(State(state), caller).await {
        Ok((_, Json(key))) => told(PAGE, "rotated", &key.kid),
        Err(e) => refused(&e),
    }
}

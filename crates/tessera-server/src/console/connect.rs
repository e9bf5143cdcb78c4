//! The owner's answer on the consent screen (SPEC §6), in words for the owner: what happens
//! on accept or reject is `crate::connections`'.

use axum::extract::rejection::FormRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use serde::Deserialize;
use serde_json::json;
use tessera_core::client_auth::{ClientDirectory, RegisteredClient};
use tessera_core::model::{ConnectionRequest, User};

use super::{message, sign_in_redirect, signed_in};
use crate::connections::{self, post_event, Accepted, NotAccepted};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct ConnectForm {
    csrf: String,
    request: String,
    decision: String,
}

const LINK_BROKEN: &str = "This link does not work";

pub async fn answer(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<ConnectForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return message(
            StatusCode::BAD_REQUEST,
            LINK_BROKEN,
            "The answer was incomplete; open the link again.",
        );
    };
    let Some((session, user)) = signed_in(&state, &headers).await else {
        return sign_in_redirect(&format!("/connect?{}", form.request));
    };
    if !session.csrf_matches(&state.master_key, &form.csrf) {
        return message(
            StatusCode::BAD_REQUEST,
            "Your answer was not taken",
            "The form expired or did not come from this site; open the link again.",
        );
    }
    let request = match ConnectionRequest::from_query(
        &form.request,
        &state.master_key,
        state.clock.now_seconds(),
    ) {
        Ok(request) => request,
        Err(e) => return message(StatusCode::BAD_REQUEST, LINK_BROKEN, &e.to_string()),
    };
    let Some(client) = state.clients.client(&request.client_id) else {
        return message(
            StatusCode::NOT_FOUND,
            LINK_BROKEN,
            "The application that made this link is no longer registered.",
        );
    };
    let Some(url) = client.integration.profile.authentication_url.clone() else {
        return message(
            StatusCode::CONFLICT,
            LINK_BROKEN,
            "The application can no longer receive answers; ask it for a new link.",
        );
    };
    let app = client.integration.display_name.clone();
    match form.decision.as_str() {
        "reject" => {
            let told = post_event(
                &state,
                client.integration.client_id,
                &url,
                None,
                &json!({"event": "connection.rejected", "state": request.state}),
            )
            .await
            .is_ok();
            let text = if told {
                format!("You declined. {app} has been told and can reach none of your data.")
            } else {
                format!("You declined; {app} can reach none of your data. It could not be told right now.")
            };
            message(StatusCode::OK, "Declined", &text)
        }
        "accept" => accept(&state, &client, &user, request, &url).await,
        _ => message(
            StatusCode::BAD_REQUEST,
            "Your answer was not taken",
            "Choose Accept or Reject.",
        ),
    }
}

async fn accept(
    state: &AppState,
    client: &RegisteredClient,
    user: &User,
    request: ConnectionRequest,
    url: &str,
) -> Response {
    let app = client.integration.display_name.as_str();
    match connections::accept(state, client, user, request, url).await {
        Ok(Accepted { owner, connection }) => {
            let words: Vec<&str> = connection.scopes.iter().map(|s| s.description()).collect();
            super::message_with_link(
                StatusCode::OK,
                "Connected",
                &format!(
                    "{app} can now {} in {}. An admin of {} can revoke this connection at any time on the Connections page.",
                    words.join(", "),
                    owner.display_name,
                    owner.display_name
                ),
                Some(("/console/connections", "Go to Connections")),
            )
        }
        Err(NotAccepted::OwnIntegration) => message(
            StatusCode::CONFLICT,
            "Nothing to connect",
            &format!("{app} was registered by your own organization: it reaches your data with its own credentials."),
        ),
        Err(NotAccepted::Unavailable) => unavailable(),
        Err(NotAccepted::HandOver(why)) => message(
            StatusCode::BAD_GATEWAY,
            "Not connected",
            &format!("{app} could not be reached to take the connection ({why}). Nothing was shared; try the link again later."),
        ),
    }
}

fn unavailable() -> Response {
    message(
        StatusCode::SERVICE_UNAVAILABLE,
        "Not connected",
        "The service could not record your answer right now; nothing was shared. Try again in a moment.",
    )
}

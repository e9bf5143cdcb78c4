//! The Event streams page (SPEC §16): the tenant's Shared Signals streams — which integration
//! receives each, how, and how its delivery stands — through `GET /v1/event_streams`.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;

use super::html;
use super::shell::{refused, Nav, SignedAdmin};
use crate::routes::ssf;
use crate::state::AppState;
use crate::wire::EventStreamView;

const PAGE: &str = "/console/event-streams";

#[derive(Template)]
#[template(path = "event_streams.html")]
struct StreamsPage {
    nav: Nav,
    issuer: String,
    streams: Vec<EventStreamView>,
}

/// `GET /console/event-streams`.
pub async fn show(State(state): State<AppState>, signed: SignedAdmin) -> Response {
    match ssf::list_event_streams(State(state.clone()), signed.api()).await {
        Ok(Json(list)) => html(
            StatusCode::OK,
            StreamsPage {
                nav: signed.0.nav(PAGE),
                issuer: state.config.issuer.clone(),
                streams: list.event_streams,
            },
        ),
        Err(e) => refused(&e),
    }
}

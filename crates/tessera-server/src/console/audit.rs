//! The Audit page (SPEC §9): the tenant's audit log newest first, filtered by actor, action and
//! time, a page at a time, through `GET /v1/audit`'s handler. Actors are shown in words (the
//! integration's name, the user's email) beside what the log holds.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use tessera_core::id::{ClientId, UserId};
use tessera_core::ports::AuditAction;

use super::html;
use super::shell::{refused, status_with, Nav, SignedAdmin};
use crate::routes;

use crate::state::AppState;
use crate::wire::{AuditQuery, AuditView};

const PAGE: &str = "/console/audit";

/// A record as the page shows it.
struct Row {
    at: String,
    who: String,
    actor: String,
    action: String,
    target: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    nav: Nav,
    entries: Vec<Row>,
    actions: Vec<&'static str>,
    actor: String,
    action: String,
    since: String,
    until: String,
    filtered: bool,
    next_page: String,
    problem: Option<String>,
}

/// `GET /console/audit?actor=…&action=…&since=…&until=…&page_token=…`.
pub async fn show(
    State(state): State<AppState>,
    admin: SignedAdmin,
    Query(q): Query<AuditQuery>,
) -> Response {
    let kept = |v: &Option<String>| v.clone().unwrap_or_default();
    let (actor, action, since, until) = (
        kept(&q.actor),
        kept(&q.action),
        kept(&q.since),
        kept(&q.until),
    );
    let filtered = [&actor, &action, &since, &until]
        .iter()
        .any(|v| !v.is_empty());
    let query = AuditQuery {
        page_size: Some("50".into()),
        ..q
    };
    let (entries, next, problem) =
        match routes::audit::list_audit(State(state.clone()), admin.api(), Query(query)).await {
            Ok(Json(list)) => (list.entries, list.next_page_token, None),
            Err(e) if e.refusal().status == StatusCode::BAD_REQUEST => {
                (Vec::new(), String::new(), Some(e.refusal().description))
            }
            Err(e) => return refused(&e),
        };
    let entries = in_words(&state, entries).await;
    let next_page = if next.is_empty() {
        String::new()
    } else {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(
                [
                    ("actor", &actor),
                    ("action", &action),
                    ("since", &since),
                    ("until", &until),
                ]
                .into_iter()
                .filter(|(_, v)| !v.is_empty()),
            )
            .append_pair("page_token", &next)
            .finish();
        format!("{PAGE}?{query}")
    };
    html(
        status_with(&problem),
        AuditPage {
            nav: admin.0.nav(PAGE),
            entries,
            actions: AuditAction::ALL.iter().map(|a| a.as_str()).collect(),
            actor,
            action,
            since,
            until,
            filtered,
            next_page,
            problem,
        },
    )
}

/// Each record with its actor in words: an integration by name, a user by email (each user
/// looked up once a page).
async fn in_words(state: &AppState, entries: Vec<AuditView>) -> Vec<Row> {
    let mut emails: HashMap<String, String> = HashMap::new();
    let mut rows = Vec::with_capacity(entries.len());
    for e in entries {
        let who = match e.actor.split_once(':') {
            Some(("client", id)) => id
                .parse::<ClientId>()
                .ok()
                .and_then(|id| state.clients.client_name(&id))
                .unwrap_or_else(|| "an integration".into()),
            Some(("user", id)) => match emails.get(id) {
                Some(email) => email.clone(),
                None => {
                    let email = match id.parse::<UserId>() {
                        Ok(user) => state.storage.find_user(user).await.ok().flatten(),
                        Err(_) => None,
                    }
                    .map_or_else(|| "a user".to_owned(), |u| u.email);
                    emails.insert(id.to_owned(), email.clone());
                    email
                }
            },
            _ => e.actor.clone(),
        };
        rows.push(Row {
            at: e.at,
            who,
            actor: e.actor,
            action: e.action,
            target: e.target,
            detail: e.detail.to_string(),
        });
    }
    rows
}

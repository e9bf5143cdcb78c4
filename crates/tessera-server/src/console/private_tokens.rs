//! The Private tokens pages (SPEC §9, seed 003's "Application Tokens" view): an integration's
//! entries, filtered by a relatedId prefix and a key, a page at a time; one entry opened (a value
//! over 1 MiB as a download that streams); one entry or a whole relatedId deleted. Every action
//! calls the `/v1/integrations/{client_id}/private_tokens` handler it stands for.

use askama::Template;
use axum::body::to_bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use serde::Deserialize;

use super::html;
use super::shell::{refused, status_with, AdminPosted, Nav, SignedAdmin};
use crate::extract::TenantAdmin;
use crate::routes;
use crate::routes::private_tokens;
use crate::state::AppState;
use crate::wire::{PrivateTokenQuery, PrivateTokenView};

const PAGE: &str = "/console/integrations";
/// Entries a page shows.
const PAGE_SIZE: &str = "50";
/// The most of a value the page reads to show it; a larger one is only downloaded.
const SHOWN_VALUE_BYTES: usize = 1 << 20;

/// An entry as the list shows it, with the link that opens it.
struct Row {
    related_id: String,
    key: String,
    size: u64,
    updated_at: String,
    open: String,
}

#[derive(Template)]
#[template(path = "private_tokens.html")]
struct ListPage {
    nav: Nav,
    client_id: String,
    name: String,
    prefix: String,
    key: String,
    filtered: bool,
    entries: Vec<Row>,
    next_page: String,
    notice: Option<String>,
    problem: Option<String>,
}

#[derive(Template)]
#[template(path = "private_token.html")]
struct EntryPage {
    nav: Nav,
    client_id: String,
    name: String,
    related_id: String,
    key: String,
    size: u64,
    etag: String,
    created_at: String,
    updated_at: String,
    value: Option<String>,
    download: String,
}

/// The list's query: the filters, the page, and what a deletion left to say.
#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    #[serde(rename = "relatedId_prefix", default)]
    prefix: String,
    #[serde(default)]
    key: String,
    page_token: Option<String>,
    /// How many entries a deletion removed (text: a hand-edited address still gets the page).
    deleted: Option<String>,
}

/// Which entry: `relatedId` and `key` as query parameters (they may hold any character).
#[derive(Debug, Deserialize)]
pub struct EntryQuery {
    #[serde(rename = "relatedId")]
    related_id: String,
    key: String,
}

fn query_of(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().filter(|(_, v)| !v.is_empty()))
        .finish()
}

/// The integration's name, or the page that says it is not the tenant's.
async fn integration_name(
    state: &AppState,
    api: &TenantAdmin,
    client_id: &str,
) -> Result<String, Response> {
    routes::integrations::get_integration(
        State(state.clone()),
        api.clone(),
        Path(client_id.to_owned()),
    )
    .await
    .map(|Json(i)| i.display_name)
    .map_err(|e| refused(&e))
}

/// `GET /console/integrations/{client_id}/private-tokens`.
pub async fn list(
    State(state): State<AppState>,
    admin: SignedAdmin,
    Path(client_id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Response {
    let api = admin.api();
    let name = match integration_name(&state, &api, &client_id).await {
        Ok(name) => name,
        Err(page) => return page,
    };
    let filter = PrivateTokenQuery {
        related_id: None,
        related_id_prefix: Some(q.prefix.clone()).filter(|p| !p.is_empty()),
        key: Some(q.key.clone()).filter(|k| !k.is_empty()),
        include_values: None,
        page_size: Some(PAGE_SIZE.into()),
        page_token: q.page_token.clone(),
    };
    let listed = private_tokens::list_for_integration(
        State(state.clone()),
        api,
        Path(client_id.clone()),
        Query(filter),
    )
    .await;
    let (entries, next, problem) = match listed {
        Ok(Json(list)) => (list.private_tokens, list.next_page_token, None),
        // A filter the API refuses (a NUL, a name too long) is said above the empty list.
        Err(e) if e.refusal().status == StatusCode::BAD_REQUEST => {
            (Vec::new(), String::new(), Some(e.refusal().description))
        }
        Err(e) => return refused(&e),
    };
    let base = format!("{PAGE}/{client_id}/private-tokens");
    let entries = entries
        .into_iter()
        .map(|e: PrivateTokenView| Row {
            open: format!(
                "{base}/entry?{}",
                query_of(&[("relatedId", &e.related_id), ("key", &e.key)])
            ),
            related_id: e.related_id,
            key: e.key,
            size: e.size,
            updated_at: e.updated_at,
        })
        .collect();
    let next_page = if next.is_empty() {
        String::new()
    } else {
        let query = query_of(&[
            ("relatedId_prefix", &q.prefix),
            ("key", &q.key),
            ("page_token", &next),
        ]);
        format!("{base}?{query}")
    };
    html(
        status_with(&problem),
        ListPage {
            nav: admin.0.nav(PAGE),
            client_id,
            name,
            filtered: !q.prefix.is_empty() || !q.key.is_empty(),
            prefix: q.prefix,
            key: q.key,
            entries,
            next_page,
            notice: q
                .deleted
                .and_then(|n| n.parse::<u64>().ok())
                .map(|n| match n {
                    1 => "1 entry was deleted.".to_owned(),
                    n => format!("{n} entries were deleted."),
                }),
            problem,
        },
    )
}

/// The entry as the API answers it (its JSON, the value streamed last).
async fn entry_response(
    state: &AppState,
    api: &TenantAdmin,
    client_id: &str,
    q: &EntryQuery,
) -> Result<Response, Response> {
    private_tokens::get_for_integration(
        State(state.clone()),
        api.clone(),
        Path((client_id.to_owned(), q.related_id.clone(), q.key.clone())),
    )
    .await
    .map_err(|e| refused(&e))
}

/// `GET /console/integrations/{client_id}/private-tokens/entry?relatedId=…&key=…`: the entry,
/// its value shown when it is at most 1 MiB, or a link to download it.
pub async fn open(
    State(state): State<AppState>,
    admin: SignedAdmin,
    Path(client_id): Path<String>,
    Query(q): Query<EntryQuery>,
) -> Response {
    let api = admin.api();
    let name = match integration_name(&state, &api, &client_id).await {
        Ok(name) => name,
        Err(page) => return page,
    };
    let download = format!(
        "{PAGE}/{client_id}/private-tokens/download?{}",
        query_of(&[("relatedId", &q.related_id), ("key", &q.key)])
    );
    // The size decides first (a listing entry), so a large value is never read into the page.
    let listed = private_tokens::list_for_integration(
        State(state.clone()),
        api.clone(),
        Path(client_id.clone()),
        Query(PrivateTokenQuery {
            related_id: Some(q.related_id.clone()),
            related_id_prefix: None,
            key: Some(q.key.clone()),
            include_values: None,
            page_size: Some("1".into()),
            page_token: None,
        }),
    )
    .await;
    let info = match listed {
        Ok(Json(list)) => list.private_tokens.into_iter().next(),
        Err(e) => return refused(&e),
    };
    let Some(info) = info else {
        return refused(&crate::error::ApiError::Domain(
            tessera_core::error::DomainError::NotFound("private token"),
        ));
    };
    let value = if info.size as usize <= SHOWN_VALUE_BYTES {
        let response = match entry_response(&state, &api, &client_id, &q).await {
            Ok(response) => response,
            Err(page) => return page,
        };
        let body = to_bytes(response.into_body(), 2 * SHOWN_VALUE_BYTES + 4096).await;
        body.ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v["value"].as_str().map(str::to_owned))
    } else {
        None
    };
    html(
        StatusCode::OK,
        EntryPage {
            nav: admin.0.nav(PAGE),
            client_id,
            name,
            related_id: info.related_id,
            key: info.key,
            size: info.size,
            etag: info.etag,
            created_at: info.created_at,
            updated_at: info.updated_at,
            value,
            download,
        },
    )
}

/// `GET /console/integrations/{client_id}/private-tokens/download?relatedId=…&key=…`: the
/// entry as the API gives it, streamed, saved as a file.
pub async fn download(
    State(state): State<AppState>,
    admin: SignedAdmin,
    Path(client_id): Path<String>,
    Query(q): Query<EntryQuery>,
) -> Response {
    let mut response = match entry_response(&state, &admin.api(), &client_id, &q).await {
        Ok(response) => response,
        Err(page) => return page,
    };
    let file: String = format!("{}-{}.json", q.related_id, q.key)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if let Ok(disposition) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, disposition);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /console/integrations/{client_id}/private-tokens/delete`: one entry.
pub async fn delete(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    AdminPosted { api, form }: AdminPosted,
) -> Response {
    let path = (
        client_id.clone(),
        form.fields.one("relatedId").to_owned(),
        form.fields.one("key").to_owned(),
    );
    let deleted =
        private_tokens::delete_for_integration(State(state), api, Path(path), HeaderMap::new())
            .await;
    match deleted {
        Ok(_) => back_to_list(&client_id, 1),
        Err(e) => refused(&e),
    }
}

/// `POST /console/integrations/{client_id}/private-tokens/delete-related`: every entry of a
/// relatedId.
pub async fn delete_related(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    AdminPosted { api, form }: AdminPosted,
) -> Response {
    let related = form.fields.one("relatedId").to_owned();
    let deleted = private_tokens::delete_related_for_integration(
        State(state),
        api,
        Path((client_id.clone(), related)),
    )
    .await;
    match deleted {
        Ok(Json(d)) => back_to_list(&client_id, d.deleted),
        Err(e) => refused(&e),
    }
}

fn back_to_list(client_id: &str, deleted: u64) -> Response {
    Redirect::to(&format!(
        "{PAGE}/{client_id}/private-tokens?deleted={deleted}"
    ))
    .into_response()
}

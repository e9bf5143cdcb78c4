//! An integration's page: edit, regenerate its secret, public keys and key set, delete.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;

use crate::console::html;
use crate::console::shell::{
    refused, told, AdminPosted, DeletePage, FormProblem, Nav, Posted, Problem, SignedAdmin,
};
use crate::error::ApiError;
use crate::extract::{ApiJson, TenantAdmin};
use crate::routes;
use crate::routes::keys;
use crate::state::AppState;
use crate::wire::{
    AddClientKeyRequest, ClientKeyView, IntegrationView, PatchIntegrationRequest,
    RegenerateSecretRequest,
};

use super::*;

/// The integration, its keys and the page's nav, or the page that says why not.
pub(super) async fn fetch(
    state: &AppState,
    api: &TenantAdmin,
    client_id: &str,
) -> Result<(IntegrationView, Vec<ClientKeyView>), Response> {
    let Json(integration) = routes::integrations::get_integration(
        State(state.clone()),
        api.clone(),
        Path(client_id.to_owned()),
    )
    .await
    .map_err(|e| refused(&e))?;
    let Json(keys) = keys::list_keys(
        State(state.clone()),
        api.clone(),
        Path(client_id.to_owned()),
    )
    .await
    .map_err(|e| refused(&e))?;
    Ok((integration, keys.keys))
}

/// `GET /console/integrations/{client_id}`: what it is and what can be done with it.
pub async fn show(
    State(state): State<AppState>,
    admin: SignedAdmin,
    Path(client_id): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let notice = match q.done.as_deref() {
        Some("saved") => Some("Saved."),
        Some("key_added") => Some("The key was added."),
        Some("key_removed") => Some("The key was removed."),
        Some("jwks_uri") => Some("The key set URL was saved."),
        Some("identity_added") => Some("The platform identity is accepted now."),
        Some("identity_removed") => {
            Some("The platform identity was removed; its tokens stopped working.")
        }
        _ => None,
    };
    detail_page(
        &state,
        &admin.0.nav(PAGE),
        &admin.api(),
        &client_id,
        notice,
        None,
    )
    .await
}

pub(super) async fn detail_page(
    state: &AppState,
    nav: &Nav,
    api: &TenantAdmin,
    client_id: &str,
    notice: Option<&'static str>,
    problem: Option<(StatusCode, String)>,
) -> Response {
    let (i, keys) = match fetch(state, api, client_id).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let (credentials, issuers) =
        match crate::console::federation::of_integration(state, api, client_id).await {
            Ok(found) => found,
            Err(e) => return refused(&e),
        };
    let scopes = scope_choices(|s| i.scopes.iter().any(|c| c == s))
        .into_iter()
        .filter(|s| s.checked)
        .collect();
    let (status, problem) = match problem {
        Some((status, text)) => (status, Some(text)),
        None => (StatusCode::OK, None),
    };
    html(
        status,
        DetailPage {
            nav: nav.clone(),
            i,
            scopes,
            keys,
            credentials,
            issuers,
            notice,
            problem,
        },
    )
}

/// `GET /console/integrations/{client_id}/edit`: the form with what is stored.
pub async fn edit_form(
    State(state): State<AppState>,
    admin: SignedAdmin,
    Path(client_id): Path<String>,
) -> Response {
    let (i, _) = match fetch(&state, &admin.api(), &client_id).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let mut claims: Vec<(String, String)> = i
        .custom_claims
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    claims.push((String::new(), String::new()));
    let values = NewValues {
        display_name: i.display_name.clone(),
        scopes: i.scopes.clone(),
        claims,
        token_ttl_seconds: i.token_ttl_seconds.to_string(),
        profile: Profile::of(&i),
    };
    form_page(
        &admin.0.nav(PAGE),
        Some(i),
        values,
        Problem::default(),
        StatusCode::OK,
    )
}

/// `POST /console/integrations/{client_id}`: saves the edit form.
pub async fn update(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    AdminPosted { api, form: posted }: AdminPosted,
) -> Response {
    let nav = posted.by.nav(PAGE);
    let (editing, _) = match fetch(&state, &api, &client_id).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let mut values = NewValues::posted(&posted);
    if values.edit_rows(posted.fields.one("intent")) {
        return form_page(
            &nav,
            Some(editing),
            values,
            Problem::default(),
            StatusCode::OK,
        );
    }
    let body = match (
        values.custom_claims(),
        values.token_ttl(),
        values.profile.refresh_lifetimes(),
    ) {
        (Ok(claims), Ok(ttl), Ok((idle, absolute))) => PatchIntegrationRequest {
            display_name: Some(values.display_name.clone()),
            custom_claims: Some(claims),
            scopes: Some(values.scopes.clone()),
            token_ttl_seconds: ttl,
            refresh_token_idle_seconds: idle,
            refresh_token_absolute_seconds: absolute,
            authentication_url: Some(given(&values.profile.authentication_url)),
            webhook_url: Some(given(&values.profile.webhook_url)),
            description: Some(given(&values.profile.description)),
            homepage_url: Some(given(&values.profile.homepage_url)),
            redirect_uris: Some(values.profile.redirect_uri_list()),
            ..PatchIntegrationRequest::default()
        },
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            return refused_form(&nav, Some(editing), values, &e)
        }
    };
    let patched = routes::integrations::patch_integration(
        State(state.clone()),
        api,
        Path(client_id.clone()),
        ApiJson(body),
    )
    .await;
    match patched {
        Ok(_) => done(&client_id, "saved"),
        Err(e) => refused_form(&nav, Some(editing), values, &e),
    }
}

/// After a change, the detail page (a redirect, so a reload does not post again).
pub(super) fn done(client_id: &str, what: &str) -> Response {
    Redirect::to(&format!("{PAGE}/{client_id}?done={what}")).into_response()
}

/// `POST /console/integrations/{client_id}/secret`: a new SECRET, shown once.
pub async fn regenerate(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    AdminPosted { api, form: posted }: AdminPosted,
) -> Response {
    // A value that is not a number of seconds is refused, never taken as "now".
    let Ok(grace) = posted.fields.one("grace_seconds").parse::<u32>() else {
        return refused(&ApiError::BadField {
            field: "grace_seconds".into(),
            message: "must be a whole number of seconds; nothing was changed".into(),
        });
    };
    let body = RegenerateSecretRequest {
        grace_seconds: Some(grace),
    };
    let regenerated = routes::secrets::regenerate_secret(
        State(state.clone()),
        api.clone(),
        Path(client_id.clone()),
        Some(ApiJson(body)),
    )
    .await;
    let regenerated = match regenerated {
        Ok(Json(r)) => r,
        Err(e) => return refused(&e),
    };
    let (integration, _) = match fetch(&state, &api, &client_id).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let until = (grace > 0).then_some(regenerated.previous_secret_expires_at);
    secret_page(
        &state,
        posted.by.nav(PAGE),
        &integration,
        regenerated.client_secret,
        until,
    )
}

/// `POST /console/integrations/{client_id}/keys`: registers a PEM certificate or a JWK.
pub async fn add_key(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    AdminPosted { api, form: posted }: AdminPosted,
) -> Response {
    let key = posted.fields.one("key");
    let body = if key.starts_with("-----BEGIN") {
        AddClientKeyRequest {
            certificate: Some(key.to_owned()),
            jwk: None,
        }
    } else {
        match serde_json::from_str(key) {
            Ok(jwk) => AddClientKeyRequest {
                certificate: None,
                jwk: Some(jwk),
            },
            Err(_) => {
                let problem = "The key is neither a PEM certificate (-----BEGIN CERTIFICATE-----) \
                               nor a JWK in JSON."
                    .to_owned();
                let nav = posted.by.nav(PAGE);
                return detail_page(
                    &state,
                    &nav,
                    &api,
                    &client_id,
                    None,
                    Some((StatusCode::BAD_REQUEST, problem)),
                )
                .await;
            }
        }
    };
    let added = keys::add_key(
        State(state.clone()),
        api.clone(),
        Path(client_id.clone()),
        ApiJson(body),
    )
    .await;
    after(&state, &posted, &api, &client_id, added, "key_added").await
}

/// Where a change on the detail page leads: back to it, saying what happened or why not.
pub(super) async fn after<T>(
    state: &AppState,
    posted: &Posted,
    api: &TenantAdmin,
    client_id: &str,
    result: Result<T, ApiError>,
    what: &str,
) -> Response {
    match result {
        Ok(_) => done(client_id, what),
        Err(e) => match FormProblem::of(&e) {
            FormProblem::Field { text, .. } => {
                let nav = posted.by.nav(PAGE);
                detail_page(
                    state,
                    &nav,
                    api,
                    client_id,
                    None,
                    Some((e.refusal().status, text)),
                )
                .await
            }
            FormProblem::Page(page) => page,
        },
    }
}

/// `POST /console/integrations/{client_id}/keys/delete`: removes the key named `kid`.
pub async fn delete_key(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    AdminPosted { api, form: posted }: AdminPosted,
) -> Response {
    let kid = posted.fields.one("kid").to_owned();
    let removed = keys::delete_key(
        State(state.clone()),
        api.clone(),
        Path((client_id.clone(), kid)),
    )
    .await;
    after(&state, &posted, &api, &client_id, removed, "key_removed").await
}

/// `POST /console/integrations/{client_id}/jwks-uri`: sets (or, empty, removes) the key set
/// URL.
pub async fn set_jwks_uri(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    AdminPosted { api, form: posted }: AdminPosted,
) -> Response {
    let body = PatchIntegrationRequest {
        jwks_uri: Some(posted.fields.optional("jwks_uri")),
        ..PatchIntegrationRequest::default()
    };
    let patched = routes::integrations::patch_integration(
        State(state.clone()),
        api.clone(),
        Path(client_id.clone()),
        ApiJson(body),
    )
    .await;
    after(&state, &posted, &api, &client_id, patched, "jwks_uri").await
}

/// `GET /console/integrations/{client_id}/delete`: asks first.
pub async fn delete_page(
    State(state): State<AppState>,
    admin: SignedAdmin,
    Path(client_id): Path<String>,
) -> Response {
    match fetch(&state, &admin.api(), &client_id).await {
        Ok((i, _)) => html(
            StatusCode::OK,
            DeletePage {
                nav: admin.0.nav(PAGE),
                page: format!("{PAGE}/{}", i.client_id),
                name: i.display_name,
                consequence: "The integration, its SECRET, its keys and its private tokens are \
                              removed, and every token it holds stops working at once.",
            },
        ),
        Err(page) => page,
    }
}

/// `POST /console/integrations/{client_id}/delete`: deletes it, then the list says so.
pub async fn delete(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    AdminPosted { api, .. }: AdminPosted,
) -> Response {
    let (i, _) = match fetch(&state, &api, &client_id).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    match routes::integrations::delete_integration(State(state), api, Path(client_id)).await {
        Ok(_) => told(PAGE, "deleted", &i.display_name),
        Err(e) => refused(&e),
    }
}

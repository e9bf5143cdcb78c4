//! The Integrations pages (SPEC §9, seed 000): list, create with scopes and custom claims, the
//! CLIENT_ID and SECRET shown once, the detail page (edit, regenerate, public keys, delete).
//! Every action calls the `/v1/integrations` handler it stands for, as the signed-in admin.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use serde::Deserialize;
use tessera_core::scope::Scope;

use super::html;
use super::shell::{refused, told, AdminPosted, FormProblem, Nav, Posted, Problem, SignedAdmin};
use crate::error::ApiError;
use crate::extract::{ApiJson, TenantAdmin};
use crate::routes::{admin, keys};
use crate::state::AppState;
use crate::wire::{
    AddClientKeyRequest, ClientKeyView, CreateIntegrationRequest, FederatedCredentialView,
    IntegrationView, PageQuery, PatchIntegrationRequest, RegenerateSecretRequest,
};

/// How many empty custom-claim rows a new form offers.
const EMPTY_CLAIM_ROWS: usize = 2;

/// A scope as a form shows it: its name, what it allows, whether it is checked.
pub struct ScopeChoice {
    pub name: &'static str,
    pub words: &'static str,
    pub checked: bool,
}

/// The scopes a tenant admin may give an integration, checked as `checked` says.
fn scope_choices(checked: impl Fn(&str) -> bool) -> Vec<ScopeChoice> {
    Scope::ALL
        .into_iter()
        // `platform` is the operator's alone and is given at first start; the API refuses it
        // elsewhere, so the form does not offer it.
        .filter(|s| *s != Scope::Platform)
        .map(|s| ScopeChoice {
            name: s.as_str(),
            words: s.description(),
            checked: checked(s.as_str()),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "integrations.html")]
struct ListPage {
    nav: Nav,
    integrations: Vec<IntegrationView>,
    next_page: String,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "integration_form.html")]
struct FormPage {
    nav: Nav,
    /// The integration being edited; `None` for a new one.
    editing: Option<IntegrationView>,
    display_name: String,
    scopes: Vec<ScopeChoice>,
    claims: Vec<(String, String)>,
    token_ttl_seconds: String,
    profile: Profile,
    problem: Problem,
}

#[derive(Template)]
#[template(path = "secret_once.html")]
struct SecretPage {
    nav: Nav,
    client_id: String,
    display_name: String,
    secret: String,
    curl: String,
    /// When a regenerated integration's previous secret stops working, if not at once.
    previous_until: Option<String>,
}

#[derive(Template)]
#[template(path = "integration.html")]
struct DetailPage {
    nav: Nav,
    i: IntegrationView,
    scopes: Vec<ScopeChoice>,
    keys: Vec<ClientKeyView>,
    /// Its platform identities (SPEC §14), and the issuers the tenant trusts to add one.
    credentials: Vec<FederatedCredentialView>,
    issuers: Vec<String>,
    notice: Option<&'static str>,
    problem: Option<String>,
}

#[derive(Template)]
#[template(path = "integration_delete.html")]
struct DeletePage {
    nav: Nav,
    client_id: String,
    name: String,
}

const PAGE: &str = "/console/integrations";

/// `GET /console/integrations`: the tenant's integrations, a page at a time.
pub async fn list(
    State(state): State<AppState>,
    admin: SignedAdmin,
    Query(q): Query<PageQuery>,
    Query(notice): Query<NoticeQuery>,
) -> Response {
    match admin::list_integrations(State(state), admin.api(), Query(q)).await {
        Ok(Json(list)) => html(
            StatusCode::OK,
            ListPage {
                nav: admin.0.nav(PAGE),
                integrations: list.integrations,
                next_page: list.next_page_token,
                notice: notice.deleted.map(|name| format!("{name} was deleted.")),
            },
        ),
        Err(e) => refused(&e),
    }
}

/// `?deleted=<name>` after a deletion, `?saved=…` after a change: what the page says happened.
#[derive(Debug, Deserialize)]
pub struct NoticeQuery {
    deleted: Option<String>,
    done: Option<String>,
}

/// `GET /console/integrations/new`: an empty form.
pub async fn new_form(admin: SignedAdmin) -> Response {
    form_page(
        &admin.0.nav(PAGE),
        None,
        NewValues {
            display_name: String::new(),
            scopes: default_scopes(),
            claims: vec![(String::new(), String::new()); EMPTY_CLAIM_ROWS],
            token_ttl_seconds: "3600".into(),
            profile: Profile::default(),
        },
        Problem::default(),
        StatusCode::OK,
    )
}

/// The scopes a new integration gets when none is chosen (the API's default).
fn default_scopes() -> Vec<String> {
    Scope::ALL
        .into_iter()
        .filter(|s| !matches!(s, Scope::Admin | Scope::Impersonation | Scope::Platform))
        .map(|s| s.as_str().to_owned())
        .collect()
}

/// What the form holds.
struct NewValues {
    display_name: String,
    scopes: Vec<String>,
    claims: Vec<(String, String)>,
    token_ttl_seconds: String,
    profile: Profile,
}

/// The application fields (SPEC §6 and §8): what data owners are shown, where Tessera calls
/// the application, and, for a new integration only, the multi-tenant application version it is.
#[derive(Default, Clone)]
pub struct Profile {
    pub description: String,
    pub homepage_url: String,
    pub authentication_url: String,
    pub webhook_url: String,
    pub multi_tenant: bool,
    pub app_name: String,
    pub app_version: String,
}

impl Profile {
    fn posted(f: &super::shell::Fields) -> Profile {
        Profile {
            description: f.one("description").trim().to_owned(),
            homepage_url: f.one("homepage_url").trim().to_owned(),
            authentication_url: f.one("authentication_url").trim().to_owned(),
            webhook_url: f.one("webhook_url").trim().to_owned(),
            multi_tenant: f.one("multi_tenant") == "on",
            app_name: f.one("app_name").trim().to_owned(),
            app_version: f.one("app_version").trim().to_owned(),
        }
    }

    fn of(i: &IntegrationView) -> Profile {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        Profile {
            description: text(&i.description),
            homepage_url: text(&i.homepage_url),
            authentication_url: text(&i.authentication_url),
            webhook_url: text(&i.webhook_url),
            multi_tenant: i.multi_tenant,
            app_name: text(&i.app_name),
            app_version: text(&i.app_version),
        }
    }
}

/// An empty field is "none" (`None` to create, `null` to remove on a change).
fn given(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}

impl NewValues {
    fn posted(posted: &Posted) -> NewValues {
        let f = &posted.fields;
        let names: Vec<&str> = f.all("claim_name").collect();
        let values: Vec<&str> = f.all("claim_value").collect();
        let claims = names
            .iter()
            .enumerate()
            .map(|(n, name)| {
                let value = values.get(n).copied().unwrap_or_default();
                (name.to_string(), value.to_string())
            })
            .collect();
        NewValues {
            display_name: f.one("display_name").to_owned(),
            scopes: f.all("scope").map(str::to_owned).collect(),
            claims,
            token_ttl_seconds: f.one("token_ttl_seconds").to_owned(),
            profile: Profile::posted(f),
        }
    }

    /// "Add a claim row" or a row's "Remove": changes the rows and says so (the form is shown
    /// again, nothing saved).
    fn edit_rows(&mut self, intent: &str) -> bool {
        if intent == "add_claim" {
            self.claims.push((String::new(), String::new()));
            return true;
        }
        match intent
            .strip_prefix("remove_claim_")
            .map(str::parse::<usize>)
        {
            Some(Ok(n)) => {
                if n < self.claims.len() {
                    self.claims.remove(n);
                }
                true
            }
            _ => false,
        }
    }

    /// The claims the rows name; a row with neither a name nor a value is left out, one with
    /// a value but no name is refused.
    fn custom_claims(&self) -> Result<BTreeMap<String, String>, ApiError> {
        let mut claims = BTreeMap::new();
        for (name, value) in &self.claims {
            match (name.is_empty(), value.is_empty()) {
                (true, true) => {}
                (true, false) => {
                    return Err(ApiError::BadField {
                        field: "custom_claims".into(),
                        message: format!("has a row with the value `{value}` but no name"),
                    })
                }
                _ => {
                    claims.insert(name.clone(), value.clone());
                }
            }
        }
        Ok(claims)
    }

    fn token_ttl(&self) -> Result<Option<u32>, ApiError> {
        if self.token_ttl_seconds.is_empty() {
            return Ok(None);
        }
        self.token_ttl_seconds
            .parse()
            .map(Some)
            .map_err(|_| ApiError::BadField {
                field: "token_ttl_seconds".into(),
                message: format!(
                    "is `{}`; give a whole number of seconds from 60 to 86400",
                    self.token_ttl_seconds
                ),
            })
    }
}

fn form_page(
    nav: &Nav,
    editing: Option<IntegrationView>,
    mut values: NewValues,
    problem: Problem,
    status: StatusCode,
) -> Response {
    if values.claims.is_empty() {
        values.claims.push((String::new(), String::new()));
    }
    let scopes = scope_choices(|s| values.scopes.iter().any(|c| c == s));
    html(
        status,
        FormPage {
            nav: nav.clone(),
            editing,
            display_name: values.display_name,
            scopes,
            claims: values.claims,
            token_ttl_seconds: values.token_ttl_seconds,
            profile: values.profile,
            problem,
        },
    )
}

/// The form again with the API's refusal next to its field, or a page for what no form fixes.
fn refused_form(
    nav: &Nav,
    editing: Option<IntegrationView>,
    values: NewValues,
    e: &ApiError,
) -> Response {
    match FormProblem::of(e) {
        FormProblem::Field { field, text } => form_page(
            nav,
            editing,
            values,
            Problem::new(field, text),
            StatusCode::BAD_REQUEST,
        ),
        FormProblem::Page(page) => page,
    }
}

/// `POST /console/integrations`: creates the integration (seed 000's Confirm) and shows its
/// CLIENT_ID and SECRET once; "Add a claim row" shows the form again with one more row.
pub async fn create(
    State(state): State<AppState>,
    AdminPosted { api, form: posted }: AdminPosted,
) -> Response {
    let nav = posted.by.nav(PAGE);
    let mut values = NewValues::posted(&posted);
    if values.edit_rows(posted.fields.one("intent")) {
        return form_page(&nav, None, values, Problem::default(), StatusCode::OK);
    }
    let body = match request_of(&values) {
        Ok(body) => body,
        Err(e) => return refused_form(&nav, None, values, &e),
    };
    match admin::create_integration(State(state.clone()), api, ApiJson(body)).await {
        Ok((_, Json(created))) => match created.client_secret {
            Some(secret) => secret_page(&state, nav, &created.integration, secret, None),
            // The form never asks for a secretless one; the API could make one.
            None => done(&created.integration.client_id, "saved"),
        },
        Err(e) => refused_form(&nav, None, values, &e),
    }
}

fn request_of(values: &NewValues) -> Result<CreateIntegrationRequest, ApiError> {
    Ok(CreateIntegrationRequest {
        display_name: values.display_name.clone(),
        custom_claims: values.custom_claims()?,
        scopes: Some(values.scopes.clone()),
        token_ttl_seconds: values.token_ttl()?,
        multi_tenant: values.profile.multi_tenant,
        app_name: given(&values.profile.app_name),
        app_version: given(&values.profile.app_version),
        authentication_url: given(&values.profile.authentication_url),
        webhook_url: given(&values.profile.webhook_url),
        description: given(&values.profile.description),
        homepage_url: given(&values.profile.homepage_url),
        ..CreateIntegrationRequest::default()
    })
}

pub(super) fn secret_page(
    state: &AppState,
    nav: Nav,
    integration: &IntegrationView,
    secret: String,
    previous_until: Option<String>,
) -> Response {
    let curl = format!(
        "curl -s -u '{}:{}' -d grant_type=client_credentials {}/oauth2/token",
        integration.client_id,
        secret,
        state.config.issuer.trim_end_matches('/')
    );
    html(
        StatusCode::OK,
        SecretPage {
            nav,
            client_id: integration.client_id.clone(),
            display_name: integration.display_name.clone(),
            secret,
            curl,
            previous_until,
        },
    )
}

/// The integration, its keys and the page's nav, or the page that says why not.
async fn fetch(
    state: &AppState,
    api: &TenantAdmin,
    client_id: &str,
) -> Result<(IntegrationView, Vec<ClientKeyView>), Response> {
    let Json(integration) = admin::get_integration(
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

async fn detail_page(
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
        match super::federation::of_integration(state, api, client_id).await {
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
    let body = match (values.custom_claims(), values.token_ttl()) {
        (Ok(claims), Ok(ttl)) => PatchIntegrationRequest {
            display_name: Some(values.display_name.clone()),
            custom_claims: Some(claims),
            scopes: Some(values.scopes.clone()),
            token_ttl_seconds: ttl,
            authentication_url: Some(given(&values.profile.authentication_url)),
            webhook_url: Some(given(&values.profile.webhook_url)),
            description: Some(given(&values.profile.description)),
            homepage_url: Some(given(&values.profile.homepage_url)),
            ..PatchIntegrationRequest::default()
        },
        (Err(e), _) | (_, Err(e)) => return refused_form(&nav, Some(editing), values, &e),
    };
    let patched = admin::patch_integration(
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
fn done(client_id: &str, what: &str) -> Response {
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
    let regenerated = admin::regenerate_secret(
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
    after(
        &state,
        &posted,
        &api,
        &client_id,
        added.map(drop),
        "key_added",
    )
    .await
}

/// Where a change on the detail page leads: back to it, saying what happened or why not.
pub(super) async fn after(
    state: &AppState,
    posted: &Posted,
    api: &TenantAdmin,
    client_id: &str,
    result: Result<(), ApiError>,
    what: &str,
) -> Response {
    match result {
        Ok(()) => done(client_id, what),
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
    after(
        &state,
        &posted,
        &api,
        &client_id,
        removed.map(drop),
        "key_removed",
    )
    .await
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
    let patched = admin::patch_integration(
        State(state.clone()),
        api.clone(),
        Path(client_id.clone()),
        ApiJson(body),
    )
    .await;
    after(
        &state,
        &posted,
        &api,
        &client_id,
        patched.map(drop),
        "jwks_uri",
    )
    .await
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
                client_id: i.client_id,
                name: i.display_name,
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
    match admin::delete_integration(State(state), api, Path(client_id)).await {
        Ok(_) => told(PAGE, "deleted", &i.display_name),
        Err(e) => refused(&e),
    }
}

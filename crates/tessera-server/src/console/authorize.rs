//! `/oauth2/authorize` (SPEC §15, RFC 6749 §4.1 with PKCE): the person signs in through the
//! console, sees who asks for what on which resource, and allows or denies; the answer goes
//! back to the client's registered redirect URI with a single-use code (or an error), `state`
//! and `iss` (RFC 9207). A consent once given is remembered: the next request for no more than
//! it covers goes straight back. What the request must hold is the core's
//! (`read_authorization_request`); a client or redirect URI that is not known-good is a page
//! here, never a redirect.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use tessera_core::error::OAuthError;
use tessera_core::error::OAuthErrorCode;
use tessera_core::grant::CodeGrant;
use tessera_core::grant::{
    read_authorization_request, AuthorizationRequest, AuthorizeRefusal, KnownResource,
};
use tessera_core::model::{canonical_resource, ClientOrigin};
use tessera_core::scope::Scope;

use super::account::own;
use super::shell::{FormProblem, Nav, Posted, Signed};
use super::sign_in::{sign_in_redirect, signed_in};
use super::{html, message_with_link, CONSOLE_CSP};
use crate::extract::{ApiJson, OAuthForm};
use crate::routes::{consents, external_clients};
use crate::state::AppState;
use crate::wire::GiveConsentRequest;

#[derive(Template)]
#[template(path = "authorize.html")]
struct AuthorizePage {
    nav: Nav,
    app: String,
    publisher: String,
    description: Option<String>,
    homepage: Option<String>,
    /// (scope, what it allows)
    scopes: Vec<(&'static str, &'static str)>,
    resource: String,
    resource_name: String,
    organization: String,
    /// Where the person goes afterwards, by host.
    redirect_host: String,
    /// The authorization request's query, posted back and checked again.
    request: String,
    /// Set for a client nobody vouched for: the warning shown above the buttons.
    unverified: Option<String>,
}

/// `GET /oauth2/authorize`.
pub async fn authorize(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let Some((session, user)) = signed_in(&state, &headers).await else {
        // A bad link is told before anyone signs in; the resource is the person's tenant's,
        // checked once they have.
        if let Err(page) = read(&state, &query, None).await {
            return page;
        }
        return sign_in_redirect(uri.path_and_query().map_or("/console", |p| p.as_str()));
    };
    let signed = Signed::of(&state, session, user);
    let request = match read(&state, &query, Some(&signed)).await {
        Ok(request) => request,
        Err(page) => return page,
    };
    if remembered(&state, &signed, &request) {
        // A metadata document's client: its document may have changed since.
        if let Err(e) =
            external_clients::keep_document_client(&state, &request.client, &signed.user).await
        {
            return e.into_response();
        }
        return with_code(&state, &signed, &request);
    }
    consent_page(&state, &signed, &request, query)
}

/// `POST /oauth2/authorize`: the person's answer on the consent page.
pub async fn answer(State(state): State<AppState>, posted: Posted) -> Response {
    let tenant = posted.by.user.tenant_id;
    let request = match read(&state, posted.fields.one("request"), Some(&posted.by)).await {
        Ok(request) => request,
        Err(page) => return page,
    };
    if posted.fields.one("decision") != "allow" {
        let denied = OAuthError::new(
            OAuthErrorCode::AccessDenied,
            "the person denied the request",
        );
        return back(
            &state,
            &request.redirect_uri,
            Err(denied),
            request.state.as_deref(),
        );
    }
    let signed = &posted.by;
    if let Err(e) =
        external_clients::keep_document_client(&state, &request.client, &signed.user).await
    {
        return e.into_response();
    }
    // A foreign application reaches this organization's data only under a consent that lets
    // it act for its users (SPEC §3.3); what was consented before is kept.
    let foreign = request.client.integration.tenant_id != signed.user.tenant_id;
    let mut stored = request
        .scope
        .union(consented(&state, signed, &request).unwrap_or_default());
    if foreign {
        stored = stored.union([Scope::Impersonation].into_iter().collect());
    }
    let client = request.client.integration.client_id;
    let mut resources = state.consents.resources(tenant, client, signed.user.id);
    if request.resource_registered {
        resources.push(request.resource.clone());
    }
    let body = GiveConsentRequest {
        client_id: client.to_string(),
        user: signed.user.email.clone(),
        scopes: stored.to_vec(),
        resources,
    };
    if let Err(e) = consents::give_consent(State(state.clone()), own(signed), ApiJson(body)).await {
        return match FormProblem::of(&e) {
            FormProblem::Field { text, .. } => message_with_link(
                StatusCode::BAD_REQUEST,
                "The consent was not recorded",
                &text,
                Some(("/console", "Go to the console")),
            ),
            FormProblem::Page(page) => page,
        };
    }
    with_code(&state, signed, &request)
}

/// The request checked, or the page (a bad link) or redirect (any other fault) that refuses it.
// The page is the error: it is built once, on the way out of the request.
#[allow(clippy::result_large_err)]
async fn read(
    state: &AppState,
    query: &str,
    signed: Option<&Signed>,
) -> Result<AuthorizationRequest, Response> {
    let params = OAuthForm::parse(query.as_bytes()).map_err(|e| broken(&e.description))?;
    // A metadata document's client is fetched first: what it registered decides the rest.
    let named = match params.get("client_id") {
        Some(id) => Some(
            external_clients::named_client(state, id)
                .await
                .map_err(|t| broken(&t))?,
        ),
        None => None,
    };
    let tenant = signed.map(|s| s.user.tenant_id);
    let own = KnownResource::own_api(&state.config.audience);
    // Before sign-in any resource passes: whose it must be is not known yet.
    let find = |canonical: &str| match tenant {
        Some(tenant) => state
            .resource_servers
            .find(tenant, canonical)
            .map(|server| KnownResource::registered(&server)),
        None => Some(KnownResource {
            identifier: canonical.to_owned(),
            ..own.clone()
        }),
    };
    let client = |_: &str| named.clone().flatten();
    let request = read_authorization_request(|name| params.get(name), &client, &own, &find)
        .map_err(|refusal| match refusal {
            AuthorizeRefusal::Page(text) => broken(&text),
            AuthorizeRefusal::Redirect {
                redirect_uri,
                error,
                state: client_state,
            } => back(state, &redirect_uri, Err(error), client_state.as_deref()),
        })?;
    let person_tenant = tenant.and_then(|t| state.clients.tenant(&t));
    if let Some(why) =
        person_tenant.and_then(|t| external_clients::refused_by_tenant(&t, &request.client))
    {
        let denied = OAuthError::new(OAuthErrorCode::AccessDenied, why);
        return Err(back(
            state,
            &request.redirect_uri,
            Err(denied),
            request.state.as_deref(),
        ));
    }
    Ok(request)
}

fn broken(text: &str) -> Response {
    message_with_link(
        StatusCode::BAD_REQUEST,
        "This sign-in link does not work",
        text,
        Some(("/console", "Go to the console")),
    )
}

/// What the signed-in person consented to this client, all consents together.
fn consented(
    state: &AppState,
    signed: &Signed,
    request: &AuthorizationRequest,
) -> Option<tessera_core::scope::ScopeSet> {
    let client = request.client.integration.client_id;
    let foreign = request.client.integration.tenant_id != signed.user.tenant_id;
    state
        .consents
        .scopes(signed.user.tenant_id, client, signed.user.id, foreign)
}

/// Whether the person's consents already cover the request: its scopes, and its resource when
/// that is a registered resource server.
fn remembered(state: &AppState, signed: &Signed, request: &AuthorizationRequest) -> bool {
    let client = request.client.integration.client_id;
    consented(state, signed, request).is_some_and(|c| request.scope.difference(c).is_empty())
        && (!request.resource_registered
            || canonical_resource(&request.resource).is_some_and(|r| {
                state
                    .consents
                    .resources(signed.user.tenant_id, client, signed.user.id)
                    .contains(&r)
            }))
}

fn with_code(state: &AppState, signed: &Signed, request: &AuthorizationRequest) -> Response {
    let grant = CodeGrant::new(
        request,
        signed.user.id,
        state.clock.now_seconds(),
        &*state.rng,
    );
    let code = grant.seal(&state.master_key, &*state.rng);
    back(
        state,
        &request.redirect_uri,
        Ok(&code),
        request.state.as_deref(),
    )
}

/// Sends the person back to the client: `code` or the error, `state`, and `iss` (RFC 9207).
fn back(
    state: &AppState,
    redirect_uri: &str,
    answer: Result<&str, OAuthError>,
    client_state: Option<&str>,
) -> Response {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return broken("The application's redirect URI is not a URL.");
    };
    {
        let mut pairs = url.query_pairs_mut();
        match &answer {
            Ok(code) => pairs.append_pair("code", code),
            Err(e) => pairs
                .append_pair("error", e.code.as_str())
                .append_pair("error_description", &e.description),
        };
        if let Some(s) = client_state {
            pairs.append_pair("state", s);
        }
        pairs.append_pair("iss", &state.config.issuer);
    }
    let mut response = Redirect::to(url.as_str()).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn consent_page(
    state: &AppState,
    signed: &Signed,
    request: &AuthorizationRequest,
    query: String,
) -> Response {
    let integration = &request.client.integration;
    let nav = signed.nav("/oauth2/authorize");
    let target = url::Url::parse(&request.redirect_uri).ok();
    let page = AuthorizePage {
        organization: nav.tenant.clone(),
        nav,
        app: integration.display_name.clone(),
        publisher: match &integration.origin {
            // Its document's host is all that is known of who publishes it.
            ClientOrigin::MetadataDocument(url) => url::Url::parse(url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_default(),
            ClientOrigin::RegisteredOpenly => "nobody known (it registered itself)".to_owned(),
            _ => state
                .clients
                .tenant(&integration.tenant_id)
                .map(|t| t.display_name.clone())
                .unwrap_or_default(),
        },
        unverified: state
            .clients
            .tenant(&signed.user.tenant_id)
            .and_then(|t| external_clients::unverified(&t, &request.client)),
        description: integration.profile.description.clone(),
        homepage: integration.profile.homepage_url.clone(),
        scopes: request
            .scope
            .iter()
            .map(|s| (s.as_str(), s.description()))
            .collect(),
        resource: request.resource.clone(),
        resource_name: request.resource_name.clone(),
        redirect_host: target
            .as_ref()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default(),
        request: query,
    };
    let mut response = html(StatusCode::OK, page);
    // Chromium applies `form-action` to the redirect that follows the post: the client's
    // origin is allowed for this page's one form.
    if let Some(origin) = target.map(|u| u.origin().ascii_serialization()) {
        let csp = CONSOLE_CSP.replace(
            "form-action 'self'",
            &format!("form-action 'self' {origin}"),
        );
        if let Ok(value) = HeaderValue::from_str(&csp) {
            response
                .headers_mut()
                .insert(header::CONTENT_SECURITY_POLICY, value);
        }
    }
    response
}

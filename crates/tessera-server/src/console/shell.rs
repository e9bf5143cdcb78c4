//! The frame of every signed-in console page (SPEC §9): who is signed in ([`Signed`], and
//! [`SignedAdmin`] for the tenant admin's pages), the navigation bar that shows the tenant and
//! the user, posted forms checked against the session's CSRF token ([`Posted`]), and an API
//! refusal shown in the API's own words, next to its field or as a page.
//!
//! The admin pages do their work by calling the `/v1` handlers themselves, with a
//! [`TenantAdmin`] made from the session: one implementation, the same checks, the same
//! messages and the same audit records (with the user as the actor).

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use tessera_core::model::{Role, User};

use super::session::Session;
use super::{message, message_with_link, sign_in_redirect, signed_in};
use crate::error::ApiError;
use crate::extract::TenantAdmin;
use crate::state::AppState;

/// "Delete X?" with what deleting does, a button that posts to `{page}/delete` and a way back
/// to `page`: one confirmation for every kind the console deletes by its own page.
#[derive(askama::Template)]
#[template(path = "delete.html")]
pub struct DeletePage {
    pub nav: Nav,
    /// The page of what is deleted.
    pub page: String,
    pub name: String,
    /// What deleting it does, in a sentence or two.
    pub consequence: &'static str,
}

/// The navigation bar: the tenant, the signed-in user, and the pages they may open.
#[derive(Clone)]
pub struct Nav {
    /// The tenant's display name.
    pub tenant: String,
    /// The signed-in user's email.
    pub user: String,
    /// `(href, words, current)` of each page the user may open.
    pub links: Vec<(&'static str, &'static str, bool)>,
    /// The CSRF token of the sign-out form.
    pub csrf: String,
}

/// The console's pages in the order the bar shows them: (href, words, who may open it).
const PAGES: &[(&str, &str, Audience)] = &[
    ("/console", "Home", Audience::Everyone),
    ("/console/integrations", "Integrations", Audience::Admins),
    (
        "/console/trusted-issuers",
        "Trusted issuers",
        Audience::Admins,
    ),
    (
        "/console/resource-servers",
        "Resource servers",
        Audience::Admins,
    ),
    (
        "/console/client-registration",
        "Client registration",
        Audience::Admins,
    ),
    (
        "/console/access-policies",
        "Access policies",
        Audience::Admins,
    ),
    ("/console/event-streams", "Event streams", Audience::Admins),
    ("/console/connections", "Connections", Audience::Admins),
    ("/console/applications", "Applications", Audience::Admins),
    ("/console/users", "Users", Audience::Admins),
    ("/console/audit", "Audit", Audience::Admins),
    ("/console/account", "My account", Audience::Everyone),
    ("/console/tenants", "Tenants", Audience::Operator),
    ("/console/keys", "Signing keys", Audience::Operator),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Audience {
    Everyone,
    Admins,
    Operator,
}

/// A signed-in user of the console.
pub struct Signed {
    /// The session the request came with.
    pub session: Session,
    /// The user it belongs to.
    pub user: User,
    /// The CSRF token this session's forms carry.
    pub csrf: String,
    /// Whether the user's tenant is the operator tenant.
    pub operator: bool,
    tenant_name: String,
}

impl Signed {
    /// Whether the user is an admin of their tenant.
    pub fn is_admin(&self) -> bool {
        self.user.role == Role::Admin
    }

    /// The navigation bar, with `current` (a path of [`PAGES`]) marked.
    pub fn nav(&self, current: &str) -> Nav {
        let links = PAGES
            .iter()
            .filter(|(_, _, audience)| match audience {
                Audience::Everyone => true,
                Audience::Admins => self.is_admin(),
                Audience::Operator => self.is_admin() && self.operator,
            })
            .map(|(href, words, _)| (*href, *words, *href == current))
            .collect();
        Nav {
            tenant: self.tenant_name.clone(),
            user: self.user.email.clone(),
            links,
            csrf: self.csrf.clone(),
        }
    }

    /// The caller the `/v1` handlers take, acting as this user (whose role the caller checked).
    fn api(&self) -> TenantAdmin {
        TenantAdmin {
            tenant: self.user.tenant_id,
            actor: format!("user:{}", self.user.id),
        }
    }

    /// Whether `token` is this session's CSRF token.
    fn csrf_matches(&self, state: &AppState, token: &str) -> bool {
        self.session.csrf_matches(&state.master_key, token)
    }

    async fn from_headers(parts: &Parts, state: &AppState) -> Result<Self, Response> {
        let Some((session, user)) = signed_in(state, &parts.headers).await else {
            // A page asked for comes back after signing in; a form posted does not repeat.
            let next = if parts.method == Method::GET {
                parts
                    .uri
                    .path_and_query()
                    .map_or("/console", |p| p.as_str())
            } else {
                "/console"
            };
            return Err(sign_in_redirect(next));
        };
        Ok(Signed::of(state, session, user))
    }

    /// The signed-in user of `session`, as the console's pages see them.
    pub(crate) fn of(state: &AppState, session: Session, user: User) -> Signed {
        let tenant = state.clients.enabled_tenant(&user.tenant_id);
        Signed {
            csrf: session.csrf(&state.master_key),
            operator: tenant.as_ref().is_some_and(|t| t.operator),
            tenant_name: tenant.map(|t| t.display_name.clone()).unwrap_or_default(),
            session,
            user,
        }
    }
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        Signed::from_headers(parts, state).await
    }
}

/// A signed-in admin of their tenant: the pages that manage the tenant are theirs.
pub struct SignedAdmin(pub Signed);

impl SignedAdmin {
    /// The caller the `/v1` handlers take, acting as this user.
    pub fn api(&self) -> TenantAdmin {
        self.0.api()
    }
}

fn admins_only() -> Response {
    message_with_link(
        StatusCode::FORBIDDEN,
        "For the tenant's admins",
        "Only an admin of your organization manages this; ask one of them.",
        Some(("/console", "Back to the console")),
    )
}

impl FromRequestParts<AppState> for SignedAdmin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let signed = Signed::from_headers(parts, state).await?;
        if signed.is_admin() {
            Ok(SignedAdmin(signed))
        } else {
            Err(admins_only())
        }
    }
}

/// The fields of a posted form, in order; a name may repeat (a row of custom claims, the
/// checked scopes).
pub struct Fields(Vec<(String, String)>);

impl Fields {
    /// The first value named `name`, trimmed; "" when absent.
    pub fn one(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.trim())
    }

    /// The value named `name`, or `None` when absent or blank.
    pub fn optional(&self, name: &str) -> Option<String> {
        Some(self.one(name))
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }

    /// Every value named `name`, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.trim())
    }
}

/// A form posted by a signed-in user, its CSRF token checked against the session. Only an
/// admin's, unless the handler asks for [`Posted::by_anyone`].
pub struct Posted {
    /// Who posted it.
    pub by: Signed,
    /// What they posted.
    pub fields: Fields,
}

impl Posted {
    /// The caller the `/v1` handlers take, if the poster is an admin; the page that says no
    /// otherwise (a page handler answers with it as it is, so it is not boxed).
    #[allow(clippy::result_large_err)]
    pub fn admin(&self) -> Result<TenantAdmin, Response> {
        if self.by.is_admin() {
            Ok(self.by.api())
        } else {
            Err(admins_only())
        }
    }
}

impl FromRequest<AppState> for Posted {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (parts, body) = req.into_parts();
        let by = Signed::from_headers(&parts, state).await?;
        let req = Request::from_parts(parts, body);
        let Ok(axum::Form(fields)) =
            axum::Form::<Vec<(String, String)>>::from_request(req, state).await
        else {
            return Err(message(
                StatusCode::BAD_REQUEST,
                "The form could not be read",
                "Go back, reload the page and try again.",
            ));
        };
        let fields = Fields(fields);
        if !by.csrf_matches(state, fields.one("csrf")) {
            return Err(message_with_link(
                StatusCode::BAD_REQUEST,
                "The form expired",
                "This form was not made for your current session (it is old, or it came from \
                 another site). Nothing was changed; reload the page and try again.",
                Some(("/console", "Back to the console")),
            ));
        }
        Ok(Posted { by, fields })
    }
}

/// What went wrong with a posted form: the field the API named and its words.
#[derive(Default)]
pub struct Problem {
    field: Option<String>,
    text: Option<String>,
}

impl Problem {
    pub fn new(field: Option<String>, text: String) -> Problem {
        Problem {
            field,
            text: Some(text),
        }
    }

    /// The problem, if it is about `field`.
    pub fn at(&self, field: &str) -> Option<&str> {
        let named = self.field.as_deref()?;
        // `custom_claims.jit_x` and `custom_claims` are both about the claims.
        let about = named == field
            || named.starts_with(&format!("{field}."))
            || named.starts_with(&format!("{field}["));
        about.then_some(self.text.as_deref()).flatten()
    }

    /// Every problem, for the summary at the top of the form (the field's own message stays
    /// next to it).
    pub fn summary(&self) -> Option<&str> {
        self.text.as_deref()
    }
}

/// A form posted by an admin of the tenant: the caller the `/v1` handlers take, and the form.
/// A member's post is answered with the 403 page before the handler runs.
pub struct AdminPosted {
    /// The admin, as the `/v1` handlers take a caller.
    pub api: TenantAdmin,
    /// The form.
    pub form: Posted,
}

impl FromRequest<AppState> for AdminPosted {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let form = Posted::from_request(req, state).await?;
        let api = form.admin()?;
        Ok(AdminPosted { api, form })
    }
}

/// A redirect to `page` that says what just happened (`?<key>=<value>`, the value
/// form-encoded): after a change, so that reloading the page does not post it again.
pub fn told(page: &str, key: &str, value: &str) -> Response {
    let value: String = form_urlencoded::byte_serialize(value.as_bytes()).collect();
    axum::response::Redirect::to(&format!("{page}?{key}={value}")).into_response()
}

/// A page's status: 400 when it shows a problem with what was asked (a filter, a form), 200
/// otherwise.
pub fn status_with(problem: &Option<String>) -> StatusCode {
    if problem.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    }
}

/// An API refusal as a console page, in the API's words.
pub fn refused(e: &ApiError) -> Response {
    let refusal = e.refusal();
    let (heading, link) = match refusal.status {
        StatusCode::NOT_FOUND => ("Not found", ("/console", "Back to the console")),
        StatusCode::FORBIDDEN => ("Not allowed", ("/console", "Back to the console")),
        s if s.is_server_error() => ("Something went wrong", ("/console", "Back to the console")),
        _ => ("This was refused", ("/console", "Back to the console")),
    };
    message_with_link(refusal.status, heading, &refusal.description, Some(link))
}

/// An API refusal to show next to a form: the field at fault (if the API named one) and the
/// API's description; a page for the refusals no form can fix.
pub enum FormProblem {
    /// Shown with the form, next to `field` when there is one.
    Field {
        /// The field as the API names it (`custom_claims`, `display_name`, …).
        field: Option<String>,
        /// What is wrong.
        text: String,
    },
    /// A page of its own (not found, an internal error).
    Page(Response),
}

impl FormProblem {
    /// Sorts an API error into one the form shows and one that needs a page.
    pub fn of(e: &ApiError) -> FormProblem {
        let refusal = e.refusal();
        if refusal.status == StatusCode::BAD_REQUEST || refusal.status == StatusCode::CONFLICT {
            FormProblem::Field {
                field: refusal.field.map(str::to_owned),
                text: refusal.description,
            }
        } else {
            FormProblem::Page(refused(e))
        }
    }
}

/// A list page's query: the page asked for (`page_size`, `page_token`) and what the page says
/// happened (`?deleted=…`, `?removed=…`), each read as the API reads its own.
pub struct Listing<N> {
    pub page: crate::wire::PageQuery,
    pub notice: N,
}

impl<N, S> FromRequestParts<S> for Listing<N>
where
    N: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = axum::extract::rejection::QueryRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Query(page) =
            axum::extract::Query::from_request_parts(parts, state).await?;
        let axum::extract::Query(notice) =
            axum::extract::Query::from_request_parts(parts, state).await?;
        Ok(Listing { page, notice })
    }
}

//! The integration form: what it holds, as posted or as stored, and the request it makes.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::Response;
use tessera_core::scope::Scope;

use crate::console::html;
use crate::console::shell::{FormProblem, Nav, Posted, Problem};
use crate::error::ApiError;
use crate::wire::{CreateIntegrationRequest, IntegrationView};

use super::*;

/// The scopes a new integration gets when none is chosen (the API's default).
pub(super) fn default_scopes() -> Vec<String> {
    Scope::ALL
        .into_iter()
        .filter(|s| !matches!(s, Scope::Admin | Scope::Impersonation | Scope::Platform))
        .map(|s| s.as_str().to_owned())
        .collect()
}

/// What the form holds.
pub(super) struct NewValues {
    pub(super) display_name: String,
    pub(super) scopes: Vec<String>,
    pub(super) claims: Vec<(String, String)>,
    pub(super) token_ttl_seconds: String,
    pub(super) profile: Profile,
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
    /// The redirect URIs, one a line.
    pub redirect_uris: String,
    /// The refresh token lifetimes in seconds (SPEC §15); empty keeps the default.
    pub refresh_token_idle_seconds: String,
    pub refresh_token_absolute_seconds: String,
}

impl Profile {
    pub(super) fn posted(f: &crate::console::shell::Fields) -> Profile {
        Profile {
            description: f.one("description").trim().to_owned(),
            homepage_url: f.one("homepage_url").trim().to_owned(),
            authentication_url: f.one("authentication_url").trim().to_owned(),
            webhook_url: f.one("webhook_url").trim().to_owned(),
            multi_tenant: f.one("multi_tenant") == "on",
            app_name: f.one("app_name").trim().to_owned(),
            app_version: f.one("app_version").trim().to_owned(),
            redirect_uris: f.one("redirect_uris").trim().to_owned(),
            refresh_token_idle_seconds: f.one("refresh_token_idle_seconds").trim().to_owned(),
            refresh_token_absolute_seconds: f
                .one("refresh_token_absolute_seconds")
                .trim()
                .to_owned(),
        }
    }

    pub(super) fn of(i: &IntegrationView) -> Profile {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        Profile {
            description: text(&i.description),
            homepage_url: text(&i.homepage_url),
            authentication_url: text(&i.authentication_url),
            webhook_url: text(&i.webhook_url),
            multi_tenant: i.multi_tenant,
            app_name: text(&i.app_name),
            app_version: text(&i.app_version),
            redirect_uris: i.redirect_uris.join("\n"),
            refresh_token_idle_seconds: i.refresh_token_idle_seconds.to_string(),
            refresh_token_absolute_seconds: i.refresh_token_absolute_seconds.to_string(),
        }
    }

    /// The refresh token lifetimes as the API takes them.
    pub(super) fn refresh_lifetimes(&self) -> Result<(Option<u32>, Option<u32>), ApiError> {
        Ok((
            seconds(
                "refresh_token_idle_seconds",
                &self.refresh_token_idle_seconds,
                "300 to 31536000",
            )?,
            seconds(
                "refresh_token_absolute_seconds",
                &self.refresh_token_absolute_seconds,
                "300 to 31536000",
            )?,
        ))
    }

    /// The redirect URIs as the API takes them: each non-empty line.
    pub(super) fn redirect_uri_list(&self) -> Vec<String> {
        self.redirect_uris
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// An empty field is "none" (`None` to create, `null` to remove on a change).
pub(super) fn given(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}

impl NewValues {
    pub(super) fn posted(posted: &Posted) -> NewValues {
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
    pub(super) fn edit_rows(&mut self, intent: &str) -> bool {
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
    pub(super) fn custom_claims(&self) -> Result<BTreeMap<String, String>, ApiError> {
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

    pub(super) fn token_ttl(&self) -> Result<Option<u32>, ApiError> {
        seconds("token_ttl_seconds", &self.token_ttl_seconds, "60 to 86400")
    }
}

/// A field of whole seconds: empty is `None` (the default), anything else a number.
fn seconds(field: &str, value: &str, range: &str) -> Result<Option<u32>, ApiError> {
    if value.is_empty() {
        return Ok(None);
    }
    value.parse().map(Some).map_err(|_| ApiError::BadField {
        field: field.into(),
        message: format!("is `{value}`; give a whole number of seconds from {range}"),
    })
}

pub(super) fn form_page(
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
pub(super) fn refused_form(
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

pub(super) fn request_of(values: &NewValues) -> Result<CreateIntegrationRequest, ApiError> {
    Ok(CreateIntegrationRequest {
        display_name: values.display_name.clone(),
        custom_claims: values.custom_claims()?,
        scopes: Some(values.scopes.clone()),
        token_ttl_seconds: values.token_ttl()?,
        refresh_token_idle_seconds: values.profile.refresh_lifetimes()?.0,
        refresh_token_absolute_seconds: values.profile.refresh_lifetimes()?.1,
        multi_tenant: values.profile.multi_tenant,
        app_name: given(&values.profile.app_name),
        app_version: given(&values.profile.app_version),
        authentication_url: given(&values.profile.authentication_url),
        webhook_url: given(&values.profile.webhook_url),
        description: given(&values.profile.description),
        homepage_url: given(&values.profile.homepage_url),
        redirect_uris: Some(values.profile.redirect_uri_list()),
        ..CreateIntegrationRequest::default()
    })
}

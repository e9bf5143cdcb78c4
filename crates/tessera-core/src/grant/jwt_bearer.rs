//! RFC 7523 §2.1: the JWT bearer grant. The integration signs an assertion naming a user; the
//! edge has verified the assertion, found the user and the consents that cover it, and hands
//! them in. The token is the user's (`sub`), with the integration as actor (`act`).

use super::{mint, narrow_scope, IssueContext, IssuedToken, Subject};
use crate::client_auth::RegisteredClient;
use crate::error::{OAuthError, OAuthErrorCode};
use crate::model::{Tenant, User};
use crate::scope::{Scope, ScopeSet};
use crate::token::{Actor, TokenSubject};

/// The user an integration acts for, and what was consented.
pub struct Delegation<'a> {
    pub user: &'a User,
    /// The user's tenant: the token reaches its data.
    pub tenant: &'a Tenant,
    /// Together, the consents that cover the user (`None`: there is none).
    pub consented: Option<ScopeSet>,
}

pub fn issue(
    ctx: &IssueContext<'_>,
    client: &RegisteredClient,
    delegation: &Delegation<'_>,
    requested: Option<&str>,
) -> Result<IssuedToken, OAuthError> {
    let integration = &client.integration;
    if !integration.scopes.contains(Scope::Impersonation) {
        return Err(OAuthError::new(
            OAuthErrorCode::UnauthorizedClient,
            "this integration may not act for users: give it the `impersonation` scope (PATCH /v1/integrations/{client_id})",
        ));
    }
    let Some(consented) = delegation.consented else {
        return Err(OAuthError::new(
            OAuthErrorCode::ConsentRequired,
            format!(
                "user `{}` has not consented to this integration acting for them: the user consents in the console, or a tenant admin with POST /v1/consents {{\"client_id\", \"user\", \"scopes\"}}",
                delegation.user.email
            ),
        ));
    };
    // A delegated token never manages the tenant, and acting for users is not passed on.
    let allowed = integration
        .scopes
        .intersection(consented)
        .without(Scope::Admin);
    let scope = match requested {
        None => allowed.without(Scope::Impersonation),
        Some(_) => narrow_scope(requested, allowed)?,
    };
    let mut subject = Subject::direct(
        TokenSubject::User(delegation.user.id),
        delegation.tenant.id,
        delegation.tenant.tier,
        Some(Actor {
            sub: integration.client_id.to_string(),
            act: None,
        }),
    );
    subject.consent = Some(integration.client_id);
    mint(ctx, client, subject, scope)
}

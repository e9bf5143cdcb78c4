//! RFC 7523 §2.1: the JWT bearer grant. The integration signs an assertion naming a user; the
//! edge has verified the assertion, found the user and the consents that cover it, and hands
//! them in. The token is the user's (`sub`), with the integration as actor (`act`).

use std::sync::Arc;

use super::{mint, narrow_scope, IssueContext, IssuedToken, Subject};
use crate::client_auth::{ClientDirectory, RegisteredClient};
use crate::error::{OAuthError, OAuthErrorCode};
use crate::id::ClientId;
use crate::model::{Tenant, User};
use crate::scope::{Scope, ScopeSet};
use crate::token::assertion::AssertionError;
use crate::token::{Actor, TokenSubject};

/// The integration an assertion is from: its `iss`. When a client authenticated at the
/// endpoint as well, the assertion must be its own.
pub fn assertion_client(
    authenticated: Option<&Arc<RegisteredClient>>,
    iss: &str,
    directory: &dyn ClientDirectory,
) -> Result<Arc<RegisteredClient>, OAuthError> {
    match authenticated {
        Some(client) if client.integration.client_id.to_string() == iss => Ok(client.clone()),
        Some(_) => Err(OAuthError::new(
            OAuthErrorCode::InvalidGrant,
            "the assertion's `iss` is not the client that authenticated",
        )),
        None => iss
            .parse::<ClientId>()
            .ok()
            .and_then(|id| directory.client(&id))
            .ok_or_else(|| {
                OAuthError::new(
                    OAuthErrorCode::InvalidGrant,
                    AssertionError::UnknownIssuer.to_string(),
                )
            }),
    }
}

/// The refusal for an assertion whose `sub` names no user the integration may act for: the
/// same whether the user does not exist or is in a tenant that gave it nothing.
pub fn no_such_user(sub: &str) -> OAuthError {
    OAuthError::new(
        OAuthErrorCode::InvalidGrant,
        format!(
            "the assertion's `sub` `{}` is not a user of the integration's tenant, nor of a tenant that granted it `impersonation`",
            sub.chars().take(100).collect::<String>()
        ),
    )
}

/// The user an integration acts for, and what was consented.
pub struct Delegation<'a> {
    /// The assertion's `sub`, as sent (named in refusals).
    pub asked_for: &'a str,
    /// The user the integration acts for.
    pub user: &'a User,
    /// The user's tenant: the token reaches its data.
    pub tenant: &'a Tenant,
    /// Together, the consents that cover the user (`None`: there is none).
    pub consented: Option<ScopeSet>,
}

/// The console page where a user consents (SPEC §9), asking for the scopes requested (those
/// that name a scope; the page offers the integration's own when there are none).
pub fn consent_url(issuer: &str, client_id: ClientId, requested: Option<&str>) -> String {
    let scopes: Vec<&str> = requested
        .unwrap_or_default()
        .split(' ')
        .filter(|s| Scope::parse(s).is_some())
        .collect();
    let mut url = format!("{issuer}/console/consent?client_id={client_id}");
    if !scopes.is_empty() {
        url.push_str("&scope=");
        url.push_str(&scopes.join("%20"));
    }
    url
}

/// Mints the delegated token, with the user as subject and the scopes the consent allows.
pub fn issue(
    ctx: &IssueContext<'_>,
    client: &RegisteredClient,
    delegation: &Delegation<'_>,
    requested: Option<&str>,
) -> Result<IssuedToken, OAuthError> {
    let integration = &client.integration;
    // A user of another tenant is reachable only through that tenant's consent: without one,
    // the user is not there for this integration at all.
    let foreign = delegation.user.tenant_id != integration.tenant_id;
    if foreign && delegation.consented.is_none() {
        return Err(no_such_user(delegation.asked_for));
    }
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
                "user `{}` has not consented to this integration acting for them: send them to {} to consent, or a tenant admin consents with POST /v1/consents {{\"client_id\", \"user\", \"scopes\"}}",
                delegation.user.email,
                consent_url(ctx.issuer, integration.client_id, requested)
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::grant::fixtures;
    use crate::id::TenantId;

    /// Runs the grant for an integration with `scopes`, acting for a user of its own tenant or
    /// of another (`foreign`) who consented to `consented` (`None`: never).
    fn check(
        scopes: &str,
        foreign: bool,
        consented: Option<&str>,
        requested: Option<&str>,
        expect: Result<&str, OAuthErrorCode>,
    ) {
        let client = fixtures::client(TenantId::random(), scopes);
        let tenant = fixtures::tenant(false);
        let user_tenant = if foreign {
            tenant.id
        } else {
            client.integration.tenant_id
        };
        let user = fixtures::user(user_tenant);
        let delegation = Delegation {
            asked_for: "ada@example.com",
            user: &user,
            tenant: &tenant,
            consented: consented.map(|c| ScopeSet::parse(c).unwrap()),
        };
        let ring = fixtures::ring();
        let case = format!("{scopes} foreign={foreign} {consented:?} {requested:?}");
        match (
            issue(&fixtures::ctx(&ring), &client, &delegation, requested),
            expect,
        ) {
            (Ok(token), Ok(scope)) => {
                let claims = ring.verify(&token.access_token).unwrap();
                assert_eq!(claims.scope.to_string(), scope, "{case}");
                assert_eq!(claims.sub, TokenSubject::User(user.id), "{case}");
                assert_eq!(claims.consent, Some(client.integration.client_id));
                let actor = claims.act.unwrap();
                assert_eq!(actor.sub, client.integration.client_id.to_string());
            }
            (Err(e), Err(code)) => assert_eq!(e.code, code, "{case}: {e}"),
            (got, want) => panic!("{case}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn a_user_token_needs_impersonation_and_a_consent_and_never_carries_admin() {
        use OAuthErrorCode::*;
        let all = "assets:read events:read admin impersonation";
        check(
            all,
            false,
            Some("assets:read events:read admin"),
            None,
            Ok("assets:read events:read"),
        );
        check(all, false, Some("assets:read"), None, Ok("assets:read"));
        check(
            all,
            false,
            Some("assets:read"),
            Some("assets:read"),
            Ok("assets:read"),
        );
        check(
            all,
            false,
            Some("assets:read"),
            Some("events:read"),
            Err(InvalidScope),
        );
        check(
            all,
            false,
            Some("assets:read"),
            Some("admin"),
            Err(InvalidScope),
        );
        check(all, false, None, None, Err(ConsentRequired));
        check(
            "assets:read",
            false,
            Some("assets:read"),
            None,
            Err(UnauthorizedClient),
        );
        // Another tenant's user: reachable through that tenant's consent only, and without
        // one, not there at all.
        check(all, true, Some("events:read"), None, Ok("events:read"));
        check(all, true, None, None, Err(InvalidGrant));
    }

    #[test]
    fn consent_required_says_where_the_user_consents() {
        let client = fixtures::client(TenantId::random(), "assets:read impersonation");
        let tenant = fixtures::tenant(false);
        let user = fixtures::user(client.integration.tenant_id);
        let delegation = Delegation {
            asked_for: "ada@example.com",
            user: &user,
            tenant: &tenant,
            consented: None,
        };
        let ring = fixtures::ring();
        let ctx = fixtures::ctx(&ring);
        let id = client.integration.client_id;
        for (requested, url) in [
            (
                None,
                format!("{}/console/consent?client_id={id}", ctx.issuer),
            ),
            (
                Some("assets:read events:read nonsense&x=1"),
                format!(
                    "{}/console/consent?client_id={id}&scope=assets:read%20events:read",
                    ctx.issuer
                ),
            ),
        ] {
            let refused = issue(&ctx, &client, &delegation, requested).unwrap_err();
            assert_eq!(refused.code, OAuthErrorCode::ConsentRequired);
            assert!(
                refused
                    .description
                    .contains(&format!("send them to {url} to consent")),
                "{}",
                refused.description
            );
        }
    }

    struct Directory(HashMap<ClientId, Arc<RegisteredClient>>);

    impl ClientDirectory for Directory {
        fn client(&self, id: &ClientId) -> Option<Arc<RegisteredClient>> {
            self.0.get(id).cloned()
        }
    }

    #[test]
    fn an_assertion_is_from_its_iss_and_must_be_the_authenticated_clients() {
        let known = Arc::new(fixtures::client(TenantId::random(), "impersonation"));
        let other = Arc::new(fixtures::client(TenantId::random(), "impersonation"));
        let directory = Directory(HashMap::from([
            (known.integration.client_id, known.clone()),
            (other.integration.client_id, other.clone()),
        ]));
        let id = known.integration.client_id.to_string();
        let unknown = ClientId::random().to_string();
        for (authenticated, iss, expect) in [
            (None, id.as_str(), Ok(&known)),
            (Some(&known), id.as_str(), Ok(&known)),
            (
                Some(&other),
                id.as_str(),
                Err("not the client that authenticated"),
            ),
            (None, unknown.as_str(), Err("not a registered integration")),
            (None, "not-a-client-id", Err("not a registered integration")),
        ] {
            match (assertion_client(authenticated, iss, &directory), expect) {
                (Ok(got), Ok(want)) => assert!(Arc::ptr_eq(&got, want), "{iss}"),
                (Err(e), Err(words)) => {
                    assert_eq!(e.code, OAuthErrorCode::InvalidGrant);
                    assert!(e.description.contains(words), "{iss}: {e}");
                }
                (got, _) => panic!("{iss}: got {got:?}"),
            }
        }
    }
}

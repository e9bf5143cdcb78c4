//! The Token Management Service (SPEC §8, seed 004): a multi-tenant integration asks for a
//! token per tenant. The caller looks up each tenant and its authorization of the application
//! (from memory); this decides and mints.

use super::{mint, IssueContext, IssuedToken, Subject};
use crate::client_auth::RegisteredClient;
use crate::error::{OAuthError, OAuthErrorCode};
use crate::model::{AppAuthorization, AppVersion, Stage, Tenant, DATA_SCOPES};
use crate::scope::ScopeSet;
use crate::token::TokenSubject;

/// Why no token was issued for one tenant: an entry of the response's `errors`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TmsRefusal {
    /// The tenant does not exist or did not authorize the application: one answer for both,
    /// so that tenants cannot be discovered.
    NotAuthorized,
    /// A version in development asked for a tenant other than its own.
    DevelopmentStage,
    /// The authorization and the integration have no scope in common.
    NoCommonScope,
}

impl TmsRefusal {
    /// The RFC 6749 error code.
    pub fn code(self) -> &'static str {
        match self {
            TmsRefusal::NotAuthorized | TmsRefusal::DevelopmentStage => "access_denied",
            TmsRefusal::NoCommonScope => "invalid_scope",
        }
    }

    /// The `error_description` this refusal answers with.
    pub fn description(self) -> &'static str {
        match self {
            TmsRefusal::NotAuthorized => {
                "the tenant does not exist or has not authorized this application"
            }
            TmsRefusal::DevelopmentStage => {
                "a version in development may only ask for its own tenant; promote it to production first"
            }
            TmsRefusal::NoCommonScope => {
                "the tenant's authorization gives no scope this integration may request"
            }
        }
    }
}

/// The integration's application version, if it may use TMS at all.
pub fn tms_version(client: &RegisteredClient) -> Result<&AppVersion, OAuthError> {
    match &client.integration.app {
        Some(app) if app.tms_enabled => Ok(app),
        Some(app) => Err(OAuthError::new(OAuthErrorCode::UnauthorizedClient, format!(
            "version `{}` of `{}` is not enabled for the Token Management Service: set `tms_enabled` on this integration",
            app.app_version, app.app_name
        ))),
        None => Err(OAuthError::new(OAuthErrorCode::UnauthorizedClient,
            "only a multi-tenant integration (an application version) may use the Token Management Service",
        )),
    }
}

/// A token for `tenant` (`None`: no such tenant). Its own tenant needs no authorization and
/// gets the integration's data scopes; another tenant needs `authorization` (that tenant's, of
/// this application) and gets its scopes within the integration's, and the token carries the
/// authorization's id so that revoking it ends the token. The outer error is a failure to sign.
pub fn issue(
    ctx: &IssueContext<'_>,
    client: &RegisteredClient,
    app: &AppVersion,
    tenant: Option<&Tenant>,
    authorization: Option<&AppAuthorization>,
) -> Result<Result<IssuedToken, TmsRefusal>, OAuthError> {
    let integration = &client.integration;
    let Some(tenant) = tenant else {
        return Ok(Err(TmsRefusal::NotAuthorized));
    };
    let allowed = integration
        .scopes
        .intersection(ScopeSet::from_iter(DATA_SCOPES));
    let (scope, grant) = if tenant.id == integration.tenant_id {
        (allowed, None)
    } else {
        if app.stage == Stage::Development {
            return Ok(Err(TmsRefusal::DevelopmentStage));
        }
        let Some(authorization) =
            authorization.filter(|a| a.tenant_id == tenant.id && a.app_name == app.app_name)
        else {
            return Ok(Err(TmsRefusal::NotAuthorized));
        };
        (
            authorization.scopes.intersection(allowed),
            Some(authorization.id.to_string()),
        )
    };
    if scope.is_empty() {
        return Ok(Err(TmsRefusal::NoCommonScope));
    }
    let mut subject = Subject::direct(
        TokenSubject::Integration(integration.client_id),
        tenant.id,
        tenant.tier,
        None,
    );
    subject.grant = grant;
    mint(ctx, client, subject, scope).map(Ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grant::fixtures;
    use crate::id::{AppAuthorizationId, TenantId};
    use crate::model::AppAccess;

    /// Which tenant a case asks for, and what the application holds there.
    #[derive(Clone, Copy, Debug)]
    enum Ask {
        Nowhere,
        Own,
        /// Another tenant with an authorization of these scopes (`None`: no authorization).
        Other(Option<&'static str>),
        /// Another tenant's authorization, but of another application.
        OtherApp,
    }

    fn check(stage: Stage, ask: Ask, expect: Result<&str, TmsRefusal>) {
        let client = fixtures::client(TenantId::random(), "assets:read events:read admin");
        let app = AppVersion {
            app_name: "fleet".into(),
            app_version: "1.0".into(),
            stage,
            tms_enabled: true,
        };
        let mut own = fixtures::tenant(false);
        own.id = client.integration.tenant_id;
        let other = fixtures::tenant(false);
        let authorization = |app_name: &str, scopes: &str| AppAuthorization {
            id: AppAuthorizationId::random(),
            tenant_id: other.id,
            app_name: app_name.into(),
            access: AppAccess::Custom,
            scopes: ScopeSet::parse(scopes).unwrap(),
            granted_by: "user:x".into(),
            created_at: 0,
        };
        let (tenant, authorization) = match ask {
            Ask::Nowhere => (None, None),
            Ask::Own => (Some(&own), None),
            Ask::Other(scopes) => (Some(&other), scopes.map(|s| authorization("fleet", s))),
            Ask::OtherApp => (Some(&other), Some(authorization("other", "assets:read"))),
        };
        let ring = fixtures::ring();
        let got = issue(
            &fixtures::ctx(&ring),
            &client,
            &app,
            tenant,
            authorization.as_ref(),
        )
        .unwrap();
        match (got, expect) {
            (Ok(token), Ok(scope)) => {
                let claims = ring.verify(&token.access_token).unwrap();
                assert_eq!(claims.scope.to_string(), scope, "{ask:?}");
                assert_eq!(claims.tenant_id, tenant.unwrap().id);
                assert_eq!(
                    claims.grant,
                    authorization.map(|a| a.id.to_string()),
                    "{ask:?}"
                );
            }
            (Err(refusal), Err(want)) => assert_eq!(refusal, want, "{ask:?}"),
            (got, want) => panic!("{stage:?} {ask:?}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn each_tenant_gets_a_token_or_a_reason() {
        use Stage::*;
        use TmsRefusal::*;
        // The own tenant: the integration's data scopes, never `admin`.
        check(Development, Ask::Own, Ok("assets:read events:read"));
        check(Production, Ask::Own, Ok("assets:read events:read"));
        // Another tenant: only in production, only with its authorization of this application,
        // and only the scopes both allow.
        check(
            Production,
            Ask::Other(Some("assets:read assets:write")),
            Ok("assets:read"),
        );
        check(
            Development,
            Ask::Other(Some("assets:read")),
            Err(DevelopmentStage),
        );
        check(Production, Ask::Other(None), Err(NotAuthorized));
        check(Production, Ask::OtherApp, Err(NotAuthorized));
        check(
            Production,
            Ask::Other(Some("assets:write")),
            Err(NoCommonScope),
        );
        check(Production, Ask::Nowhere, Err(NotAuthorized));
    }

    #[test]
    fn only_an_enabled_application_version_uses_tms() {
        let mut client = fixtures::client(TenantId::random(), "assets:read");
        assert!(tms_version(&client).is_err());
        client.integration.app = Some(AppVersion {
            app_name: "fleet".into(),
            app_version: "1.0".into(),
            stage: Stage::Production,
            tms_enabled: false,
        });
        let e = tms_version(&client).unwrap_err();
        assert_eq!(e.code, OAuthErrorCode::UnauthorizedClient);
        assert!(e.description.contains("tms_enabled"), "{e}");
        if let Some(app) = client.integration.app.as_mut() {
            app.tms_enabled = true;
        }
        assert_eq!(tms_version(&client).unwrap().app_name, "fleet");
    }
}

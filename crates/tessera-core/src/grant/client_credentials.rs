//! RFC 6749 §4.4: the client credentials grant.

use super::{mint, narrow_scope, narrow_scope_within, IssueContext, IssuedToken, Subject};
use crate::client_auth::RegisteredClient;
use crate::error::OAuthError;
use crate::model::{Connection, Tenant};
use crate::token::TokenSubject;

pub(super) fn issue(
    ctx: &IssueContext<'_>,
    client: &RegisteredClient,
    scope: Option<&str>,
) -> Result<IssuedToken, OAuthError> {
    let scope = narrow_scope(scope, client.integration.scopes)?;
    let integration = &client.integration;
    let subject = Subject::direct(
        TokenSubject::Integration(integration.client_id),
        integration.tenant_id,
        client.tier,
        None,
    );
    mint(ctx, client, subject, scope)
}

/// SPEC §6: client credentials with `tenant_id` of a tenant that connected to the integration.
/// The token reaches that tenant's data with the connection's scopes (narrowed by `scope`,
/// within the integration's), and names the connection so that revoking it ends the token.
pub fn issue_for_connection(
    ctx: &IssueContext<'_>,
    client: &RegisteredClient,
    owner: &Tenant,
    connection: &Connection,
    scope: Option<&str>,
) -> Result<IssuedToken, OAuthError> {
    let allowed = connection.scopes.intersection(client.integration.scopes);
    let scope = narrow_scope_within(scope, allowed, "the connection does not grant")?;
    let mut subject = Subject::direct(
        TokenSubject::Integration(client.integration.client_id),
        owner.id,
        owner.tier,
        None,
    );
    subject.grant = Some(connection.id.to_string());
    mint(ctx, client, subject, scope)
}

/// SPEC §4.1: an operator integration (one that holds `platform`) asks for an `admin` token
/// for another tenant, as Keycloak's master-realm admins manage every realm: the operator
/// creates a tenant, then sets it up for its admin. Only `admin` is given; the token names the
/// operator's integration as its client, and the edge records its issuance in the tenant's
/// audit log.
pub fn issue_for_operator(
    ctx: &IssueContext<'_>,
    client: &RegisteredClient,
    tenant: &Tenant,
    scope: Option<&str>,
) -> Result<IssuedToken, OAuthError> {
    use crate::scope::{Scope, ScopeSet};
    let holds = client.integration.scopes;
    if !holds.contains(Scope::Platform) || !holds.contains(Scope::Admin) || tenant.operator {
        return Err(OAuthError::new(
            crate::error::OAuthErrorCode::InvalidGrant,
            "`tenant_id` names no tenant with an active connection to this integration",
        ));
    }
    let allowed = ScopeSet::from_iter([Scope::Admin]);
    let scope = narrow_scope_within(
        scope,
        allowed,
        "an operator's token for another tenant does not carry (only `admin`)",
    )?;
    let subject = Subject::direct(
        TokenSubject::Integration(client.integration.client_id),
        tenant.id,
        tenant.tier,
        None,
    );
    mint(ctx, client, subject, scope)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::client_auth::RegisteredClient;
    use crate::error::OAuthErrorCode;
    use crate::grant::{issue, IssueContext, TokenRequest};
    use crate::id::{ClientId, TenantId};
    use crate::model::{Integration, Tier};
    use crate::ports::OsRng;
    use crate::scope::ScopeSet;
    use crate::token::TokenSubject;
    use crate::token::{KeyRing, SigningAlg, SigningKey};

    fn client() -> RegisteredClient {
        RegisteredClient {
            integration: Integration {
                client_id: ClientId::random(),
                tenant_id: TenantId::random(),
                display_name: "reader".into(),
                scopes: ScopeSet::parse("assets:read events:read").unwrap(),
                custom_claims: BTreeMap::from([("department".into(), "ops".into())]),
                token_ttl_seconds: 600,
                jwks_uri: None,
                app: None,
                profile: Default::default(),
                created_at: 0,
                updated_at: 0,
            },
            tier: Tier::Team,
            secrets: vec![],
            keys: vec![],
        }
    }

    fn check(scope: Option<&str>, expect: Result<&str, OAuthErrorCode>) {
        let (key, _) = SigningKey::generate(SigningAlg::EdDsa, &OsRng).unwrap();
        let ring = KeyRing::new(vec![key]).unwrap();
        // "At 2026-01-01T00:00:00Z".
        let ctx = IssueContext {
            issuer: "http://127.0.0.1:8080",
            audience: "http://127.0.0.1:8080",
            now_seconds: 1_767_225_600,
            key: ring.current(),
            rng: &OsRng,
        };
        let client = client();
        let request = TokenRequest::ClientCredentials {
            scope: scope.map(str::to_owned),
        };
        match (issue(&ctx, &client, &request), expect) {
            (Ok(token), Ok(scope)) => {
                let claims = ring.verify(&token.access_token).unwrap();
                assert_eq!(claims.scope.to_string(), scope);
                assert_eq!(claims.exp, 1_767_225_600 + 600);
                assert_eq!(
                    claims.sub,
                    TokenSubject::Integration(client.integration.client_id)
                );
                assert_eq!(claims.tenant_id, client.integration.tenant_id);
                assert_eq!(claims.tier, "TEAM");
                assert_eq!(claims.custom["department"], "ops");
                assert_eq!(token.expires_in, 600);
            }
            (Err(e), Err(code)) => assert_eq!(e.code, code, "{e}"),
            (got, want) => panic!("{scope:?}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn no_scope_requested_gives_every_allowed_scope() {
        check(None, Ok("assets:read events:read"));
    }

    #[test]
    fn requested_scope_narrows_the_token() {
        check(Some("events:read"), Ok("events:read"));
    }

    #[test]
    fn scope_beyond_the_integration_is_invalid_scope() {
        check(Some("assets:read admin"), Err(OAuthErrorCode::InvalidScope));
        check(Some("assets:admin"), Err(OAuthErrorCode::InvalidScope));
        check(Some(" "), Err(OAuthErrorCode::InvalidScope));
    }
}

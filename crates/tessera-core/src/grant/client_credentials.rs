//! RFC 6749 §4.4: the client credentials grant, for the integration itself or (with
//! `tenant_id`) for a tenant that connected to it (SPEC §6) or that its operator manages (§4.1).

use std::sync::Arc;

use super::{mint, narrow_scope, narrow_scope_within, IssueContext, IssuedToken, Subject};
use crate::client_auth::RegisteredClient;
use crate::error::{OAuthError, OAuthErrorCode};
use crate::id::{ClientId, TenantId};
use crate::model::{Connection, Tenant};
use crate::token::TokenSubject;

/// What the grant needs to know of other tenants: from memory, never the database.
pub trait TenantReach {
    /// The tenant with this id, as the snapshot holds it.
    fn tenant(&self, id: &TenantId) -> Option<Tenant>;
    /// The active connection `owner` made to the integration `client`.
    fn connection(&self, client: ClientId, owner: TenantId) -> Option<Arc<Connection>>;
}

/// The grant: for the integration's own tenant, or for the tenant `tenant_id` names (other
/// than its own). Another tenant needs an active connection to the integration, or the
/// integration must be an operator's (then only `admin` is given); a disabled one gets nothing.
pub fn issue(
    ctx: &IssueContext<'_>,
    client: &RegisteredClient,
    scope: Option<&str>,
    tenant_id: Option<&str>,
    reach: &dyn TenantReach,
) -> Result<IssuedToken, OAuthError> {
    if client.integration.public_client {
        // SPEC §15: a public client acts only for a person who authorized it.
        return Err(OAuthError::new(
            OAuthErrorCode::UnauthorizedClient,
            "a public client (`token_endpoint_auth_method: none`) gets no client_credentials token; it gets tokens through /oauth2/authorize",
        ));
    }
    let own = client.integration.tenant_id;
    let Some(tenant_id) = tenant_id.filter(|t| *t != own.to_string()) else {
        return issue_own(ctx, client, scope);
    };
    let no_connection = || {
        OAuthError::new(
            OAuthErrorCode::InvalidGrant,
            "`tenant_id` names no tenant with an active connection to this integration",
        )
    };
    let owner: TenantId = tenant_id.parse().map_err(|_| no_connection())?;
    let tenant = reach.tenant(&owner).ok_or_else(no_connection)?;
    if tenant.disabled {
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidGrant,
            format!("the tenant `{owner}` is disabled: nothing is issued for it until an operator enables it"),
        ));
    }
    match reach.connection(client.integration.client_id, owner) {
        Some(connection) => issue_for_connection(ctx, client, &tenant, &connection, scope),
        None => issue_for_operator(ctx, client, &tenant, scope),
    }
}

fn issue_own(
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
fn issue_for_operator(
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
    use std::sync::Arc;

    use super::{issue, TenantReach};
    use crate::client_auth::RegisteredClient;
    use crate::error::OAuthErrorCode;
    use crate::grant::fixtures;
    use crate::id::{ClientId, ConnectionId, TenantId};
    use crate::model::{Connection, ConnectionStatus, Tenant};
    use crate::scope::{Scope, ScopeSet};
    use crate::token::TokenSubject;

    fn client(scopes: &str) -> RegisteredClient {
        fixtures::client(TenantId::random(), scopes)
    }

    /// Other tenants as the grant sees them: `connected` (a connection with `assets:read`),
    /// `managed` (no connection), `disabled` (a connection, but disabled).
    struct Reach {
        connected: Tenant,
        managed: Tenant,
        disabled: Tenant,
    }

    impl TenantReach for Reach {
        fn tenant(&self, id: &TenantId) -> Option<Tenant> {
            [&self.connected, &self.managed, &self.disabled]
                .into_iter()
                .find(|t| t.id == *id)
                .cloned()
        }
        fn connection(&self, client: ClientId, owner: TenantId) -> Option<Arc<Connection>> {
            (owner == self.connected.id || owner == self.disabled.id).then(|| {
                Arc::new(Connection {
                    id: ConnectionId::random(),
                    owner_tenant_id: owner,
                    client_id: client,
                    client_tenant_id: TenantId::random(),
                    scopes: ScopeSet::from_iter([Scope::AssetsRead]),
                    state: String::new(),
                    status: ConnectionStatus::Active,
                    granted_by: String::new(),
                    created_at: 0,
                    updated_at: 0,
                })
            })
        }
    }

    /// Runs the grant for `client` with `scope` and `tenant` (a name below, or a literal).
    fn check(
        client: &RegisteredClient,
        scope: Option<&str>,
        tenant: Option<&str>,
        expect: Result<&str, OAuthErrorCode>,
    ) {
        let ring = fixtures::ring();
        let ctx = fixtures::ctx(&ring);
        let reach = Reach {
            connected: fixtures::tenant(false),
            managed: fixtures::tenant(false),
            disabled: fixtures::tenant(true),
        };
        let own = client.integration.tenant_id.to_string();
        let named = tenant.map(|t| match t {
            "connected" => reach.connected.id.to_string(),
            "managed" => reach.managed.id.to_string(),
            "disabled" => reach.disabled.id.to_string(),
            "own" => own.clone(),
            other => other.to_owned(),
        });
        let data_tenant = named.clone().unwrap_or(own);
        match (issue(&ctx, client, scope, named.as_deref(), &reach), expect) {
            (Ok(token), Ok(scope)) => {
                let claims = ring.verify(&token.access_token).unwrap();
                assert_eq!(claims.scope.to_string(), scope);
                assert_eq!(claims.exp, fixtures::NOW + 600);
                assert_eq!(
                    claims.sub,
                    TokenSubject::Integration(client.integration.client_id)
                );
                assert_eq!(claims.tenant_id.to_string(), data_tenant);
                assert_eq!(claims.custom["department"], "ops");
                assert_eq!(token.expires_in, 600);
                // A token for another tenant names the grant it came under, if any.
                let via_connection = tenant == Some("connected");
                assert_eq!(claims.grant.is_some(), via_connection, "{tenant:?}");
            }
            (Err(e), Err(code)) => assert_eq!(e.code, code, "{e}"),
            (got, want) => panic!("{scope:?} {tenant:?}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn for_itself_the_requested_scope_narrows_what_the_integration_may_have() {
        use OAuthErrorCode::*;
        let reader = client("assets:read events:read");
        check(&reader, None, None, Ok("assets:read events:read"));
        check(&reader, Some("events:read"), None, Ok("events:read"));
        check(&reader, None, Some("own"), Ok("assets:read events:read"));
        check(&reader, Some("assets:read admin"), None, Err(InvalidScope));
        check(&reader, Some("assets:admin"), None, Err(InvalidScope));
        check(&reader, Some(" "), None, Err(InvalidScope));
    }

    #[test]
    fn for_another_tenant_a_connection_or_the_operator_decides() {
        use OAuthErrorCode::*;
        let reader = client("assets:read events:read");
        let operator = client("admin platform assets:read");
        // A connection gives its scopes, within the integration's.
        check(&reader, None, Some("connected"), Ok("assets:read"));
        check(
            &reader,
            Some("events:read"),
            Some("connected"),
            Err(InvalidScope),
        );
        // Without one, only an operator's integration gets anything: `admin`.
        check(&reader, None, Some("managed"), Err(InvalidGrant));
        check(&operator, None, Some("managed"), Ok("admin"));
        check(
            &operator,
            Some("assets:read"),
            Some("managed"),
            Err(InvalidScope),
        );
        // A disabled tenant, an unknown one, or no tenant id at all: nothing.
        check(&reader, None, Some("disabled"), Err(InvalidGrant));
        check(
            &reader,
            None,
            Some(&TenantId::random().to_string()),
            Err(InvalidGrant),
        );
        check(&reader, None, Some("tenant/not-a-uuid"), Err(InvalidGrant));
    }

    #[test]
    fn a_public_client_gets_no_client_credentials_token() {
        let mut public = client("assets:read");
        public.integration.public_client = true;
        check(&public, None, None, Err(OAuthErrorCode::UnauthorizedClient));
        check(
            &public,
            None,
            Some("connected"),
            Err(OAuthErrorCode::UnauthorizedClient),
        );
    }
}

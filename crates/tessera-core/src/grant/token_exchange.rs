//! RFC 8693: token exchange. An integration hands in an access token of this server (the
//! subject token) and gets one for the same subject with no more scope, possibly for another
//! audience, with the acting party added to `act`. The edge has verified the subject and actor
//! tokens (signature, times, revocation) and accepted the audience; the rules of who may
//! exchange what live here.

use super::{mint, narrow_scope_within, IssueContext, IssuedToken, Subject};
use crate::client_auth::{ClientDirectory, RegisteredClient};
use crate::error::{OAuthError, OAuthErrorCode};
use crate::id::{ClientId, TenantId};
use crate::scope::Scope;
use crate::token::{AccessTokenClaims, Actor, Origin};

/// RFC 8693 §3 token type of an access token.
pub const TOKEN_TYPE_ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
/// RFC 8693 §3 token type of a JWT; our access tokens are JWTs, so it is accepted as well.
pub const TOKEN_TYPE_JWT: &str = "urn:ietf:params:oauth:token-type:jwt";

/// How many exchanges a token may be the end of: bounds `act` nesting and the token's size.
pub const MAX_EXCHANGE_DEPTH: usize = 4;

/// A token exchange request with its tokens verified.
pub struct Exchange<'a> {
    /// The claims of the verified subject token.
    pub subject: &'a AccessTokenClaims,
    /// Its `subject_token_type`, as sent.
    pub subject_token_type: &'a str,
    /// The actor token's claims and type, when the request has one.
    pub actor: Option<(&'a AccessTokenClaims, &'a str)>,
    /// The `scope` asked for, if any.
    pub scope: Option<&'a str>,
    /// The `requested_token_type`, if any.
    pub requested_token_type: Option<&'a str>,
}

fn check_token_type(parameter: &str, value: &str) -> Result<(), OAuthError> {
    if value == TOKEN_TYPE_ACCESS_TOKEN || value == TOKEN_TYPE_JWT {
        return Ok(());
    }
    Err(OAuthError::invalid_request(format!(
        "`{parameter}` `{}` is not supported: this server exchanges its own access tokens ({TOKEN_TYPE_ACCESS_TOKEN} or {TOKEN_TYPE_JWT})",
        value.chars().take(100).collect::<String>()
    )))
}

/// The audience of the exchanged token: this server's resource audience unless `requested`
/// names another one it accepts — the issuer, or an integration of the subject's tenant.
pub fn exchange_audience<'a>(
    requested: Option<&'a str>,
    audience: &'a str,
    issuer: &str,
    subject_tenant: TenantId,
    directory: &dyn ClientDirectory,
) -> Result<&'a str, OAuthError> {
    let Some(aud) = requested else {
        return Ok(audience);
    };
    let in_tenant = || {
        aud.parse::<ClientId>()
            .ok()
            .and_then(|id| directory.client(&id))
            .is_some_and(|target| target.integration.tenant_id == subject_tenant)
    };
    if aud == audience || aud == issuer || in_tenant() {
        return Ok(aud);
    }
    Err(OAuthError::new(
        OAuthErrorCode::InvalidTarget,
        format!(
            "`audience` `{}` is not accepted: use `{audience}`, or the client_id of an integration of the subject token's tenant",
            aud.chars().take(100).collect::<String>(),
        ),
    ))
}

/// Issues the exchanged token. `ctx.audience` is the audience [`exchange_audience`] accepted.
pub fn issue(
    ctx: &IssueContext<'_>,
    client: &RegisteredClient,
    exchange: &Exchange<'_>,
) -> Result<IssuedToken, OAuthError> {
    check_token_type("subject_token_type", exchange.subject_token_type)?;
    if let Some(requested) = exchange.requested_token_type {
        check_token_type("requested_token_type", requested)?;
    }
    let integration = &client.integration;
    let caller = integration.client_id;
    let subject = exchange.subject;
    let own = subject.client_id == caller;
    // Another integration of the same tenant may act with the subject token only if it may act
    // for others at all; across tenants, never (RFC 8693 §5 leaves this policy to the server).
    if !own {
        let same_tenant = subject.tenant_id == integration.tenant_id;
        if !same_tenant || !integration.scopes.contains(Scope::Impersonation) {
            return Err(OAuthError::new(
                OAuthErrorCode::UnauthorizedClient,
                "the subject token was issued to another integration: only that integration, or one of the same tenant with the `impersonation` scope, may exchange it",
            ));
        }
    }
    if subject.exchanged_from.len() >= MAX_EXCHANGE_DEPTH {
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidGrant,
            format!("the subject token is the end of {MAX_EXCHANGE_DEPTH} exchanges already, the most this server allows"),
        ));
    }
    // RFC 8693 §4.1: the current actor outermost, earlier ones nested inside. Without an actor
    // token the caller acts; an integration narrowing its own token adds no actor.
    let actor = match exchange.actor {
        Some((actor, actor_type)) => {
            check_token_type("actor_token_type", actor_type)?;
            if actor.client_id != caller {
                return Err(OAuthError::new(
                    OAuthErrorCode::InvalidGrant,
                    "`actor_token` was not issued to the calling integration",
                ));
            }
            Some(actor.sub.to_string())
        }
        None if own => None,
        None => Some(caller.to_string()),
    };
    let act = match actor {
        Some(sub) => Some(Actor {
            sub,
            act: subject.act.clone().map(Box::new),
        }),
        None => subject.act.clone(),
    };
    let mut allowed = subject.scope.intersection(integration.scopes);
    if !own {
        // Managing the tenant and acting for others are not passed on to an acting party.
        allowed = allowed.without(Scope::Admin).without(Scope::Impersonation);
    }
    let scope = narrow_scope_within(
        exchange.scope,
        allowed,
        "the subject token does not have or the calling integration may not pass on",
    )?;
    let mut exchanged_from = subject.exchanged_from.clone();
    exchanged_from.push(Origin {
        jti: subject.jti.clone(),
        client_id: subject.client_id,
    });
    let minted = Subject {
        sub: subject.sub,
        tenant_id: subject.tenant_id,
        tier: subject.tier.clone(),
        act,
        expires_by: Some(subject.exp),
        exchanged_from,
        // Revoking the grant the subject token came under ends this one too.
        grant: subject.grant.clone(),
        // So does withdrawing the consent the subject token acted under.
        consent: subject.consent,
        // And removing the federated credential the subject token came through.
        federated: subject.federated,
        jti: None,
        audience: None,
    };
    mint(ctx, client, minted, scope)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::grant::fixtures::{self, NOW};
    use crate::id::{ClientId, TenantId, UserId};
    use crate::ports::OsRng;
    use crate::scope::ScopeSet;
    use crate::token::TokenSubject;

    fn client(tenant: TenantId, scopes: &str) -> RegisteredClient {
        fixtures::client(tenant, scopes)
    }

    /// The user the subject tokens act for.
    fn user() -> UserId {
        UserId::from_uuid(uuid::Uuid::from_bytes([9; 16]))
    }

    fn subject_of(client: &RegisteredClient, scope: &str) -> AccessTokenClaims {
        AccessTokenClaims {
            iss: "https://as".into(),
            sub: TokenSubject::User(user()),
            aud: "https://as".into(),
            exp: NOW + 600,
            iat: NOW,
            nbf: NOW,
            jti: "subject-jti".into(),
            client_id: client.integration.client_id,
            scope: ScopeSet::parse(scope).unwrap(),
            tenant_id: client.integration.tenant_id,
            tier: "TEAM".into(),
            name: "origin".into(),
            act: Some(Actor {
                sub: client.integration.client_id.to_string(),
                act: None,
            }),
            exchanged_from: vec![],
            grant: None,
            consent: None,
            federated: None,
            cnf: None,
            custom: BTreeMap::new(),
        }
    }

    fn exchange<'a>(subject: &'a AccessTokenClaims, scope: Option<&'a str>) -> Exchange<'a> {
        Exchange {
            subject,
            subject_token_type: TOKEN_TYPE_ACCESS_TOKEN,
            actor: None,
            scope,
            requested_token_type: None,
        }
    }

    fn run(
        client: &RegisteredClient,
        exchange: &Exchange<'_>,
    ) -> Result<AccessTokenClaims, OAuthError> {
        let ring = fixtures::ring();
        let ctx = IssueContext {
            issuer: "https://as",
            audience: "https://api",
            now_seconds: NOW,
            key: ring.current(),
            rng: &OsRng,
            federated: None,
            dpop_jkt: None,
        };
        let issued = issue(&ctx, client, exchange)?;
        assert_eq!(issued.expires_in as i64, issued.claims.exp - NOW);
        Ok(ring.verify(&issued.access_token).unwrap())
    }

    #[test]
    fn another_integration_nests_act_and_never_widens_scope() {
        let tenant = TenantId::random();
        let origin = client(tenant, "assets:read events:read impersonation");
        let gateway = client(tenant, "assets:read assets:write events:read impersonation");
        let subject = subject_of(&origin, "assets:read events:read admin");
        let claims = run(&gateway, &exchange(&subject, None)).unwrap();
        assert_eq!(claims.scope.to_string(), "assets:read events:read");
        assert_eq!(claims.sub, TokenSubject::User(user()));
        assert_eq!(claims.aud, "https://api");
        assert_eq!(claims.exp, NOW + 600, "never outlives the subject token");
        let act = claims.act.unwrap();
        assert_eq!(act.sub, gateway.integration.client_id.to_string());
        assert_eq!(
            act.act.unwrap().sub,
            origin.integration.client_id.to_string()
        );
        assert_eq!(claims.exchanged_from[0].jti, "subject-jti");
        let wider = run(&gateway, &exchange(&subject, Some("assets:write")));
        let e = wider.unwrap_err();
        assert_eq!(e.code, OAuthErrorCode::InvalidScope);
        assert!(e.description.contains("assets:write"), "{e}");
    }

    #[test]
    fn who_may_exchange() {
        let tenant = TenantId::random();
        let origin = client(tenant, "assets:read");
        let subject = subject_of(&origin, "assets:read");
        // The integration narrowing its own token adds no actor.
        let own = run(&origin, &exchange(&subject, None)).unwrap();
        assert_eq!(own.act, subject.act);
        let plain = client(tenant, "assets:read");
        let e = run(&plain, &exchange(&subject, None)).unwrap_err();
        assert_eq!(e.code, OAuthErrorCode::UnauthorizedClient);
        let foreign = client(TenantId::random(), "assets:read impersonation");
        let e = run(&foreign, &exchange(&subject, None)).unwrap_err();
        assert_eq!(e.code, OAuthErrorCode::UnauthorizedClient);
    }

    #[test]
    fn actor_token_must_be_the_callers_and_types_are_checked() {
        let tenant = TenantId::random();
        let origin = client(tenant, "assets:read");
        let subject = subject_of(&origin, "assets:read");
        let mut actor = subject_of(&origin, "assets:read");
        actor.sub = TokenSubject::User(UserId::from_uuid(uuid::Uuid::from_bytes([5; 16])));
        let mut request = exchange(&subject, None);
        request.actor = Some((&actor, TOKEN_TYPE_JWT));
        let claims = run(&origin, &request).unwrap();
        assert_eq!(
            claims.act.as_ref().unwrap().sub,
            "05050505-0505-0505-0505-050505050505"
        );
        let other = client(tenant, "assets:read impersonation");
        let e = run(&other, &request).unwrap_err();
        assert!(e.description.contains("actor_token"), "{e}");
        request.actor = Some((&actor, "urn:ietf:params:oauth:token-type:saml2"));
        let e = run(&origin, &request).unwrap_err();
        assert!(e.description.contains("actor_token_type"), "{e}");
        let mut request = exchange(&subject, None);
        request.requested_token_type = Some("urn:ietf:params:oauth:token-type:refresh_token");
        let e = run(&origin, &request).unwrap_err();
        assert_eq!(e.code, OAuthErrorCode::InvalidRequest);
        assert!(e.description.contains("requested_token_type"), "{e}");
    }

    #[test]
    fn chains_are_bounded() {
        let origin = client(TenantId::random(), "assets:read");
        let mut subject = subject_of(&origin, "assets:read");
        subject.exchanged_from = (0..MAX_EXCHANGE_DEPTH)
            .map(|i| Origin {
                jti: i.to_string(),
                client_id: ClientId::random(),
            })
            .collect();
        let e = run(&origin, &exchange(&subject, None)).unwrap_err();
        assert_eq!(e.code, OAuthErrorCode::InvalidGrant);
    }
}

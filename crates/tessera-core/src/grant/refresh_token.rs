//! The refresh token grant (RFC 6749 §6) under RFC 9700 §4.14 (SPEC §15). I/O-free: the edge
//! finds the family, hands it in, and stores what comes out.
//!
//! A refresh token is `<family id>.<generation>.<secret>.<tag>`: the family id finds the one
//! stored row, the secret (256 random bits) proves the holder, and the tag (an HMAC under the
//! master key) proves Tessera issued it. Only SHA-256 of the whole token is stored, a fast hash
//! being enough for so much entropy (as for client secrets). Each use replaces the family's
//! token with the next generation's; a genuine older generation coming back means two parties
//! hold the family, so the edge ends it (and the newest access token with it). The family id is
//! no secret (it is the first access token's `jti` and the audit's target): without the tag a
//! token naming it is refused as unknown and cannot end someone else's family.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::authorization_code::{issue_for_person, PersonToken};
use super::{narrow_scope_within, CodeGrant, IssueContext, IssuedToken};
use crate::client_auth::RegisteredClient;
use crate::crypto::MasterKey;
use crate::error::{OAuthError, OAuthErrorCode};
use crate::id::{Secret, TenantId};
use crate::model::{canonical_resource, RefreshFamily, RefreshLifetimes, Tenant, User};
use crate::ports::Rng;
use crate::scope::ScopeSet;

/// RFC 6749 §6.
pub const GRANT_REFRESH_TOKEN: &str = "refresh_token";
/// What the master key's MAC proves here: a refresh token Tessera issued.
const TAG_PURPOSE: &str = "tessera refresh token v1";

/// The stored form of a refresh token.
pub fn refresh_token_hash(token: &str) -> [u8; 32] {
    crate::crypto::hash_client_secret(token)
}

/// A presented refresh token, read: what it names, not yet whether it is genuine.
struct Presented<'a> {
    family: &'a str,
    generation: u32,
    /// Everything the tag covers.
    signed: &'a str,
    tag: &'a str,
}

fn read(token: &str) -> Option<Presented<'_>> {
    let (signed, tag) = token.rsplit_once('.')?;
    let mut parts = signed.split('.');
    let (family, generation, secret) = (parts.next()?, parts.next()?, parts.next()?);
    let shaped = |part: &str, bytes: usize| {
        URL_SAFE_NO_PAD
            .decode(part)
            .is_ok_and(|decoded| decoded.len() == bytes)
    };
    (parts.next().is_none() && shaped(family, 16) && shaped(secret, 32)).then_some(())?;
    Some(Presented {
        family,
        generation: generation.parse().ok()?,
        signed,
        tag,
    })
}

/// The family a presented refresh token names, when it has the shape Tessera gives them.
pub fn refresh_token_family(token: &str) -> Option<&str> {
    read(token).map(|p| p.family)
}

fn new_token(
    key: &MasterKey,
    family_id: &str,
    generation: u32,
    rng: &dyn Rng,
) -> (Secret, [u8; 32]) {
    let signed = format!(
        "{family_id}.{generation}.{}",
        crate::crypto::random_token(rng, 32)
    );
    let token = format!("{signed}.{}", key.mac(TAG_PURPOSE, signed.as_bytes()));
    let hash = refresh_token_hash(&token);
    (Secret::new(token), hash)
}

/// The family a redeemed code starts, in the person's tenant, and its first token.
pub fn start_family(
    key: &MasterKey,
    code: &CodeGrant,
    tenant: TenantId,
    lifetimes: RefreshLifetimes,
    dpop_jkt: Option<&str>,
    now_seconds: i64,
    rng: &dyn Rng,
) -> Result<(Secret, RefreshFamily), OAuthError> {
    let scope = ScopeSet::parse(&code.scope).map_err(|_| {
        OAuthError::new(OAuthErrorCode::InvalidGrant, "`code` names unknown scopes")
    })?;
    let (token, token_hash) = new_token(key, &code.id, 0, rng);
    let absolute_expires_at = now_seconds + i64::from(lifetimes.absolute_seconds);
    Ok((
        token,
        RefreshFamily {
            id: code.id.clone(),
            tenant_id: tenant,
            client_id: code.client_id,
            user_id: code.user_id,
            scope,
            resource: code.resource.clone(),
            token_hash,
            generation: 0,
            created_at: now_seconds,
            last_used_at: now_seconds,
            idle_expires_at: (now_seconds + i64::from(lifetimes.idle_seconds))
                .min(absolute_expires_at),
            absolute_expires_at,
            dpop_jkt: dpop_jkt.map(str::to_owned),
        },
    ))
}

/// Why a refresh is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshRefusal {
    /// Refused; the family stays as it is.
    Refused(OAuthError),
    /// A token the family replaced came back (RFC 9700 §4.14.2): the edge ends the family.
    Reused(OAuthError),
}

impl From<RefreshRefusal> for OAuthError {
    fn from(refusal: RefreshRefusal) -> Self {
        match refusal {
            RefreshRefusal::Refused(e) | RefreshRefusal::Reused(e) => e,
        }
    }
}

/// What a refresh request says besides its token.
pub struct RefreshAsk<'a> {
    /// The `refresh_token`, as sent.
    pub token: &'a str,
    /// The `resource` (RFC 8707), as sent.
    pub resource: Option<&'a str>,
    /// The thumbprint of the request's DPoP proof key, if it came with one.
    pub dpop_jkt: Option<&'a str>,
}

/// Checks `ask` against its family (`found`, by [`refresh_token_family`]) for `client`, and
/// gives the family's next generation: the token to hand out and the family to store in place
/// of `found` (only if `found` is still what is stored: the edge's conditional write).
pub fn rotate(
    key: &MasterKey,
    found: Option<&RefreshFamily>,
    ask: &RefreshAsk<'_>,
    client: &RegisteredClient,
    now_seconds: i64,
    rng: &dyn Rng,
) -> Result<(Secret, RefreshFamily), RefreshRefusal> {
    let refused =
        |text: &str| RefreshRefusal::Refused(OAuthError::new(OAuthErrorCode::InvalidGrant, text));
    let unknown = || {
        refused(
            "`refresh_token` is not one Tessera holds: it was never issued, was revoked, or expired; send the person through /oauth2/authorize again",
        )
    };
    let presented = read(ask.token)
        .filter(|p| key.mac_matches(TAG_PURPOSE, p.signed.as_bytes(), p.tag))
        .ok_or_else(unknown)?;
    let Some(family) = found.filter(|f| f.id == presented.family) else {
        return Err(unknown());
    };
    let integration = &client.integration;
    if family.client_id != integration.client_id {
        return Err(refused("`refresh_token` was issued to another client"));
    }
    let current = bool::from(subtle::ConstantTimeEq::ct_eq(
        refresh_token_hash(ask.token).as_slice(),
        family.token_hash.as_slice(),
    ));
    if !current {
        // Genuine (the tag holds) but not the newest: an earlier generation came back.
        return Err(if presented.generation < family.generation {
            RefreshRefusal::Reused(OAuthError::new(
                OAuthErrorCode::InvalidGrant,
                "`refresh_token` was already used and replaced: since someone else may hold it, every refresh token of this authorization is revoked; send the person through /oauth2/authorize again",
            ))
        } else {
            unknown()
        });
    }
    if let Some(bound) = &family.dpop_jkt {
        if ask.dpop_jkt != Some(bound.as_str()) {
            return Err(RefreshRefusal::Refused(OAuthError::new(
                OAuthErrorCode::InvalidDpopProof,
                "`refresh_token` is bound to a DPoP key (RFC 9449 §5): send it with a `DPoP` proof signed by that key",
            )));
        }
    }
    if !family.live_at(now_seconds) {
        return Err(refused(if now_seconds >= family.absolute_expires_at {
            "`refresh_token` expired: the authorization is older than this application's refresh token lifetime; send the person through /oauth2/authorize again"
        } else {
            "`refresh_token` expired: it went unused longer than this application's idle lifetime; send the person through /oauth2/authorize again"
        }));
    }
    let canonical = |r: &str| canonical_resource(r).unwrap_or_else(|| r.to_owned());
    if ask
        .resource
        .is_some_and(|r| canonical(r) != canonical(&family.resource))
    {
        return Err(RefreshRefusal::Refused(OAuthError::new(
            OAuthErrorCode::InvalidTarget,
            "`resource` is not the one the person authorized",
        )));
    }
    let generation = family.generation.saturating_add(1);
    let (token, token_hash) = new_token(key, &family.id, generation, rng);
    let idle = i64::from(integration.refresh.idle_seconds);
    Ok((
        token,
        RefreshFamily {
            token_hash,
            generation,
            last_used_at: now_seconds,
            idle_expires_at: (now_seconds + idle).min(family.absolute_expires_at),
            ..family.clone()
        },
    ))
}

/// Mints the access token of a rotated family (`next`, from [`rotate`]): the person's, no more
/// than `scope` asks (at most what they authorized, RFC 6749 §6) and they still consent to.
pub fn issue(
    ctx: &IssueContext<'_>,
    client: &RegisteredClient,
    next: &RefreshFamily,
    user: &User,
    tenant: &Tenant,
    consented: Option<ScopeSet>,
    scope: Option<&str>,
) -> Result<IssuedToken, OAuthError> {
    let scope = narrow_scope_within(scope, next.scope, "the person did not authorize")?;
    let person = PersonToken {
        user,
        tenant,
        consented,
        scope,
        resource: &next.resource,
        jti: next.access_token_jti(),
    };
    issue_for_person(ctx, client, person)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::grant::fixtures;
    use crate::id::{ClientId, UserId};
    use crate::ports::OsRng;

    fn code(client: ClientId) -> CodeGrant {
        CodeGrant {
            id: crate::crypto::random_token(&OsRng, 16),
            client_id: client,
            user_id: UserId::random(),
            redirect_uri: "http://127.0.0.1/cb".into(),
            redirect_uri_given: true,
            code_challenge: "c".repeat(43),
            scope: "assets:read".into(),
            resource: "https://tools.example.com/".into(),
            exp: 1_060,
        }
    }

    fn setup() -> (Arc<RegisteredClient>, Secret, RefreshFamily) {
        let mut client = fixtures::client(TenantId::random(), "assets:read events:read");
        client.integration.refresh = RefreshLifetimes {
            idle_seconds: 600,
            absolute_seconds: 3_600,
        };
        let code = code(client.integration.client_id);
        let (token, family) = start_family(
            &key(),
            &code,
            client.integration.tenant_id,
            client.integration.refresh,
            None,
            1_000,
            &OsRng,
        )
        .unwrap();
        (Arc::new(client), token, family)
    }

    fn key() -> MasterKey {
        MasterKey::from_bytes(&[7; 32]).unwrap()
    }

    fn ask(token: &Secret) -> RefreshAsk<'_> {
        RefreshAsk {
            token: token.expose(),
            resource: None,
            dpop_jkt: None,
        }
    }

    #[test]
    fn a_family_starts_with_the_codes_id_and_bounded_lifetimes() {
        let (_, token, family) = setup();
        assert_eq!(
            refresh_token_family(token.expose()),
            Some(family.id.as_str())
        );
        assert_eq!(family.token_hash, refresh_token_hash(token.expose()));
        assert_eq!(family.access_token_jti(), family.id);
        assert_eq!(family.idle_expires_at, 1_600);
        assert_eq!(family.absolute_expires_at, 4_600);
        assert_eq!(family.scope.to_string(), "assets:read");
    }

    #[test]
    fn rotation_replaces_the_token_and_moves_the_idle_end() {
        let (client, token, family) = setup();
        let (next_token, next) =
            rotate(&key(), Some(&family), &ask(&token), &client, 1_500, &OsRng).unwrap();
        assert_ne!(next_token, token);
        assert_eq!(next.generation, 1);
        assert_eq!(next.idle_expires_at, 2_100);
        assert_eq!(next.access_token_jti(), format!("{}.1", family.id));
        // Near the absolute end, the idle end stops there.
        let kept_in_use = RefreshFamily {
            idle_expires_at: 4_500,
            ..next
        };
        let (_, late) = rotate(
            &key(),
            Some(&kept_in_use),
            &ask(&next_token),
            &client,
            4_400,
            &OsRng,
        )
        .unwrap();
        assert_eq!(late.idle_expires_at, 4_600);
    }

    #[test]
    fn a_replaced_token_is_reuse() {
        let (client, token, family) = setup();
        let (_, next) =
            rotate(&key(), Some(&family), &ask(&token), &client, 1_100, &OsRng).unwrap();
        let refusal = rotate(&key(), Some(&next), &ask(&token), &client, 1_200, &OsRng);
        assert!(
            matches!(refusal, Err(RefreshRefusal::Reused(e)) if e.code == OAuthErrorCode::InvalidGrant)
        );
    }

    #[test]
    fn expiry_other_clients_unknown_families_and_other_resources_are_refused() {
        let (client, token, family) = setup();
        let refused = |r: Result<(Secret, RefreshFamily), RefreshRefusal>| match r {
            Err(RefreshRefusal::Refused(e)) => e,
            other => panic!("expected a refusal, got {other:?}"),
        };
        let idle = refused(rotate(
            &key(),
            Some(&family),
            &ask(&token),
            &client,
            1_600,
            &OsRng,
        ));
        assert!(idle.description.contains("idle"), "{}", idle.description);
        let mut aged = family.clone();
        aged.idle_expires_at = 10_000;
        let absolute = refused(rotate(
            &key(),
            Some(&aged),
            &ask(&token),
            &client,
            4_600,
            &OsRng,
        ));
        assert!(
            absolute.description.contains("older"),
            "{}",
            absolute.description
        );
        let unknown = refused(rotate(&key(), None, &ask(&token), &client, 1_100, &OsRng));
        assert!(unknown.description.contains("not one Tessera holds"));
        let other = Arc::new(fixtures::client(TenantId::random(), "assets:read"));
        let foreign = refused(rotate(
            &key(),
            Some(&family),
            &ask(&token),
            &other,
            1_100,
            &OsRng,
        ));
        assert!(foreign.description.contains("another client"));
        let elsewhere = RefreshAsk {
            token: token.expose(),
            resource: Some("https://other.example.com"),
            dpop_jkt: None,
        };
        let target = refused(rotate(
            &key(),
            Some(&family),
            &elsewhere,
            &client,
            1_100,
            &OsRng,
        ));
        assert_eq!(target.code, OAuthErrorCode::InvalidTarget);
        let same = RefreshAsk {
            token: token.expose(),
            resource: Some("https://TOOLS.example.com"),
            dpop_jkt: None,
        };
        assert!(rotate(&key(), Some(&family), &same, &client, 1_100, &OsRng).is_ok());
    }

    #[test]
    fn a_family_bound_to_a_dpop_key_refreshes_only_with_a_proof_by_that_key() {
        let (client, token, family) = setup();
        let bound = RefreshFamily {
            dpop_jkt: Some("jkt-1".into()),
            ..family
        };
        for proof in [None, Some("jkt-2")] {
            let with = RefreshAsk {
                dpop_jkt: proof,
                ..ask(&token)
            };
            let refusal = rotate(&key(), Some(&bound), &with, &client, 1_100, &OsRng);
            let Err(RefreshRefusal::Refused(e)) = refusal else {
                panic!("{proof:?}: {refusal:?}")
            };
            assert_eq!(e.code, OAuthErrorCode::InvalidDpopProof, "{proof:?}");
        }
        let with = RefreshAsk {
            dpop_jkt: Some("jkt-1"),
            ..ask(&token)
        };
        let (_, next) = rotate(&key(), Some(&bound), &with, &client, 1_100, &OsRng).unwrap();
        assert_eq!(
            next.dpop_jkt.as_deref(),
            Some("jkt-1"),
            "the next generation stays bound"
        );
    }

    #[test]
    fn a_token_naming_a_family_without_tessera_s_tag_cannot_end_it() {
        let (client, token, family) = setup();
        // The family id is no secret (the first access token's `jti`): a forged token naming
        // it is unknown, not reuse.
        let forged = format!("{}.0.{}.{}", family.id, "A".repeat(43), "B".repeat(43));
        let refusal = rotate(
            &key(),
            Some(&family),
            &RefreshAsk {
                token: &forged,
                resource: None,
                dpop_jkt: None,
            },
            &client,
            1_100,
            &OsRng,
        );
        assert!(
            matches!(refusal, Err(RefreshRefusal::Refused(e)) if e.description.contains("not one Tessera holds"))
        );
        // Nor does a genuine token under another master key count.
        let other = MasterKey::from_bytes(&[8; 32]).unwrap();
        assert!(matches!(
            rotate(&other, Some(&family), &ask(&token), &client, 1_100, &OsRng),
            Err(RefreshRefusal::Refused(_))
        ));
        assert!(rotate(&key(), Some(&family), &ask(&token), &client, 1_100, &OsRng).is_ok());
    }

    #[test]
    fn only_tessera_shaped_tokens_name_a_family() {
        assert_eq!(refresh_token_family("nodot"), None);
        assert_eq!(refresh_token_family("a.b"), None);
        assert_eq!(refresh_token_family(""), None);
    }
}

//! What Tessera said stopped being valid (SPEC §16), as a verifier holds it: each Shared
//! Signals event becomes a rule over the claims a token carries — its `jti`, the integration it
//! was issued to, the person, consent, grant or tenant it stands on — and a token any rule
//! covers is refused. Rules that end "everything issued so far" compare `iat` with the event's
//! time, so tokens issued afterwards (a tenant enabled again) pass. Every rule is forgotten
//! after `forget_after` (longer than any token lives), so memory stays bounded.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;

use serde_json::Value;
use tessera_jose::event_type;

use crate::Claims;

/// What a rule names in a token.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Subject {
    /// A token by its `jti` (also when it is one a token was exchanged from).
    Token(String),
    /// Every token issued to an integration (also through an exchange).
    Client(String),
    /// Every token of a person (`sub`), in a tenant.
    User(String, String),
    /// Every token a person's (or everyone's: `None`) consent to an integration stands on:
    /// tenant, integration, person.
    Consent(String, String, Option<String>),
    /// Every token issued under a connection or app authorization (`tessera_grant`).
    Grant(String),
    /// Every token of a tenant.
    Tenant(String),
}

#[derive(Debug, Clone, Copy)]
struct Rule {
    /// Tokens issued at or before this second are refused; `i64::MAX` refuses all.
    issued_until: i64,
    /// When the rule is dropped, Unix seconds.
    forget_at: i64,
    why: &'static str,
}

impl Rule {
    fn merge(&mut self, newer: Rule) {
        self.issued_until = self.issued_until.max(newer.issued_until);
        self.forget_at = newer.forget_at;
    }
}

/// The rules, kept so that a check looks them up by the token's own strings: no key is built
/// (no allocation) per request. A person's and a consent's rules sit under the string a token
/// names first (`sub`, the consented integration), with the rest beside them.
#[derive(Debug, Default)]
struct Rules {
    tokens: HashMap<String, Rule>,
    clients: HashMap<String, Rule>,
    grants: HashMap<String, Rule>,
    tenants: HashMap<String, Rule>,
    /// `sub` → (tenant, rule).
    users: HashMap<String, Vec<(String, Rule)>>,
    /// integration → (tenant, person or everyone, rule).
    consents: HashMap<String, Vec<(String, Option<String>, Rule)>>,
}

impl Rules {
    fn add(&mut self, subject: Subject, rule: Rule) {
        let one = |map: &mut HashMap<String, Rule>, key: String| {
            map.entry(key)
                .and_modify(|old| old.merge(rule))
                .or_insert(rule);
        };
        match subject {
            Subject::Token(jti) => one(&mut self.tokens, jti),
            Subject::Client(client) => one(&mut self.clients, client),
            Subject::Grant(grant) => one(&mut self.grants, grant),
            Subject::Tenant(tenant) => one(&mut self.tenants, tenant),
            Subject::User(tenant, sub) => {
                let held = self.users.entry(sub).or_default();
                match held.iter_mut().find(|(t, _)| *t == tenant) {
                    Some((_, old)) => old.merge(rule),
                    None => held.push((tenant, rule)),
                }
            }
            Subject::Consent(tenant, client, user) => {
                let held = self.consents.entry(client).or_default();
                match held.iter_mut().find(|(t, u, _)| *t == tenant && *u == user) {
                    Some((_, _, old)) => old.merge(rule),
                    None => held.push((tenant, user, rule)),
                }
            }
        }
    }

    fn forget_before(&mut self, now: i64) {
        for map in [
            &mut self.tokens,
            &mut self.clients,
            &mut self.grants,
            &mut self.tenants,
        ] {
            map.retain(|_, rule| rule.forget_at > now);
        }
        self.users.retain(|_, held| {
            held.retain(|(_, rule)| rule.forget_at > now);
            !held.is_empty()
        });
        self.consents.retain(|_, held| {
            held.retain(|(_, _, rule)| rule.forget_at > now);
            !held.is_empty()
        });
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.tokens.len()
            + self.clients.len()
            + self.grants.len()
            + self.tenants.len()
            + self.users.values().map(Vec::len).sum::<usize>()
            + self.consents.values().map(Vec::len).sum::<usize>()
    }
}

/// The rules, shared by every request.
#[derive(Debug, Default)]
pub(crate) struct Revocations {
    rules: RwLock<Rules>,
    /// Whether there is any rule: while there is none, a check costs one load.
    any: AtomicBool,
}

impl Revocations {
    /// Why `claims` are no longer honoured, if a rule covers them.
    pub(crate) fn refuses(&self, claims: &Claims) -> Option<&'static str> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        let rules = self
            .rules
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let text = |name: &str| claims.extra.get(name).and_then(Value::as_str);
        let tenant = claims.tenant.as_deref().unwrap_or_default();
        let covers = |rule: &Rule| claims.iat <= rule.issued_until;
        let direct = [
            rules.tokens.get(&claims.jti),
            rules.clients.get(&claims.client_id),
            rules.tenants.get(tenant),
            text("tessera_grant").and_then(|g| rules.grants.get(g)),
        ];
        if let Some(rule) = direct.into_iter().flatten().find(|r| covers(r)) {
            return Some(rule.why);
        }
        let person = rules.users.get(&claims.sub).into_iter().flatten();
        if let Some((_, rule)) = person.filter(|(t, _)| t == tenant).find(|(_, r)| covers(r)) {
            return Some(rule.why);
        }
        if let Some(consented) = text("tessera_consent") {
            let held = rules.consents.get(consented).into_iter().flatten();
            let mine = |(t, u, _): &&(String, Option<String>, Rule)| {
                t == tenant && u.as_deref().is_none_or(|u| u == claims.sub)
            };
            if let Some((_, _, rule)) = held.filter(mine).find(|(_, _, r)| covers(r)) {
                return Some(rule.why);
            }
        }
        // An exchanged token lives only as long as every token it came from (SPEC §3.4).
        let origins = claims.extra.get("tessera_from").and_then(Value::as_array);
        for origin in origins.into_iter().flatten() {
            let jti = origin.get("jti").and_then(Value::as_str);
            let client = origin.get("client_id").and_then(Value::as_str);
            let by_jti = jti.and_then(|j| rules.tokens.get(j));
            let by_client = client.and_then(|c| rules.clients.get(c));
            if let Some(rule) = by_jti.into_iter().chain(by_client).find(|r| covers(r)) {
                return Some(rule.why);
            }
        }
        None
    }

    /// Takes in one verified SET's claims at `now`; whether it held a rule.
    pub(crate) fn apply(&self, set: &Value, now: i64, forget_after: i64) -> bool {
        let Some((kind, event)) = set["events"].as_object().and_then(|e| e.iter().next()) else {
            return false;
        };
        let at = event["event_timestamp"]
            .as_i64()
            .or_else(|| set["iat"].as_i64())
            .unwrap_or(now);
        let sub = &set["sub_id"];
        let id = |member: &Value| member["id"].as_str().map(str::to_owned);
        let tenant = id(&sub["tenant"]);
        let user = sub["user"]["sub"].as_str().map(str::to_owned);
        let application = id(&sub["application"]);
        let (subject, issued_until, why) = match kind.as_str() {
            event_type::TOKEN_REVOKED => (id(sub).map(Subject::Token), i64::MAX, "it was revoked"),
            event_type::SESSION_REVOKED => match (id(&sub["session"]), application, tenant) {
                (Some(grant), _, _) => (
                    Some(Subject::Grant(grant)),
                    i64::MAX,
                    "its grant was revoked",
                ),
                (None, Some(client), Some(tenant)) => (
                    Some(Subject::Consent(tenant, client, user)),
                    at,
                    "the consent it stands on was withdrawn",
                ),
                _ => (None, 0, ""),
            },
            event_type::ACCOUNT_PURGED => match (user, application, tenant) {
                (Some(user), _, Some(tenant)) => (
                    Some(Subject::User(tenant, user)),
                    i64::MAX,
                    "its user was deleted",
                ),
                (None, Some(client), _) => (
                    Some(Subject::Client(client)),
                    i64::MAX,
                    "its integration was deleted",
                ),
                (None, None, Some(tenant)) => (
                    Some(Subject::Tenant(tenant)),
                    i64::MAX,
                    "its tenant was deleted",
                ),
                _ => (None, 0, ""),
            },
            event_type::ACCOUNT_DISABLED => {
                (tenant.map(Subject::Tenant), at, "its tenant was disabled")
            }
            // Tokens issued before the tenant was disabled stay ended: the rule stands.
            _ => (None, 0, ""),
        };
        let Some(subject) = subject else {
            return false;
        };
        let mut rules = self
            .rules
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        rules.forget_before(now);
        let rule = Rule {
            issued_until,
            forget_at: now.saturating_add(forget_after),
            why,
        };
        rules.add(subject, rule);
        self.any.store(true, Ordering::Release);
        true
    }

    /// How many rules are held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.rules.read().map(|r| r.len()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(extra: Value) -> Claims {
        let mut token = json!({"iss": "i", "sub": "u1", "aud": "r", "exp": 10, "iat": 5, "jti": "t1",
                               "client_id": "c1", "tenant_id": "tenant/a"});
        token
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::from_value(token).unwrap()
    }

    fn set(kind: &str, sub_id: Value, at: i64) -> Value {
        json!({"iat": at, "sub_id": sub_id, "events": {kind: {"event_timestamp": at}}})
    }

    #[test]
    fn each_event_refuses_the_tokens_it_names_and_no_other() {
        let tenant = json!({"format": "opaque", "id": "tenant/a"});
        let cases = [
            (
                set(
                    event_type::TOKEN_REVOKED,
                    json!({"format": "opaque", "id": "t1"}),
                    6,
                ),
                json!({}),
            ),
            (
                set(
                    event_type::TOKEN_REVOKED,
                    json!({"format": "opaque", "id": "t0"}),
                    6,
                ),
                json!({"tessera_from": [{"jti": "t0", "client_id": "c0"}]}),
            ),
            (
                set(
                    event_type::ACCOUNT_PURGED,
                    json!({"format": "complex", "application": {"format": "opaque", "id": "c1"}, "tenant": tenant}),
                    6,
                ),
                json!({}),
            ),
            (
                set(
                    event_type::ACCOUNT_PURGED,
                    json!({"format": "complex", "user": {"format": "iss_sub", "iss": "i", "sub": "u1"}, "tenant": tenant}),
                    6,
                ),
                json!({}),
            ),
            (
                set(
                    event_type::SESSION_REVOKED,
                    json!({"format": "complex", "session": {"format": "opaque", "id": "g1"}, "tenant": tenant}),
                    6,
                ),
                json!({"tessera_grant": "g1"}),
            ),
            (
                set(
                    event_type::SESSION_REVOKED,
                    json!({"format": "complex", "user": {"format": "iss_sub", "iss": "i", "sub": "u1"}, "application": {"format": "opaque", "id": "c9"}, "tenant": tenant}),
                    6,
                ),
                json!({"tessera_consent": "c9"}),
            ),
            (
                set(
                    event_type::ACCOUNT_DISABLED,
                    json!({"format": "complex", "tenant": tenant}),
                    6,
                ),
                json!({}),
            ),
        ];
        for (event, extra) in cases {
            let revocations = Revocations::default();
            assert!(revocations.refuses(&claims(extra.clone())).is_none());
            assert!(revocations.apply(&event, 6, 100), "{event}");
            assert!(revocations.refuses(&claims(extra)).is_some(), "{event}");
            let unrelated = claims(
                json!({"jti": "t2", "client_id": "c2", "sub": "u2", "tenant_id": "tenant/b"}),
            );
            assert_eq!(revocations.refuses(&unrelated), None, "{event}");
        }
    }

    #[test]
    fn a_disabled_tenant_ends_the_tokens_issued_before_and_rules_are_forgotten() {
        let revocations = Revocations::default();
        let disabled = set(
            event_type::ACCOUNT_DISABLED,
            json!({"format": "complex", "tenant": {"format": "opaque", "id": "tenant/a"}}),
            5,
        );
        revocations.apply(&disabled, 5, 100);
        assert_eq!(
            revocations.refuses(&claims(json!({}))),
            Some("its tenant was disabled")
        );
        assert_eq!(
            revocations.refuses(&claims(json!({"iat": 7}))),
            None,
            "issued after it was enabled again"
        );
        let enabled = set(
            event_type::ACCOUNT_ENABLED,
            json!({"format": "complex", "tenant": {"format": "opaque", "id": "tenant/a"}}),
            6,
        );
        assert!(!revocations.apply(&enabled, 6, 100));
        assert_eq!(revocations.len(), 1);
        let later = set(
            event_type::TOKEN_REVOKED,
            json!({"format": "opaque", "id": "t9"}),
            200,
        );
        revocations.apply(&later, 200, 100);
        assert_eq!(revocations.len(), 1, "the tenant's rule was forgotten");
    }
}

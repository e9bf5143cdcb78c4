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

/// A rule's key: what in a token it names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Subject {
    /// A token by its `jti` (also when it is one a token was exchanged from).
    Token(String),
    /// Every token issued to an integration (also through an exchange).
    Client(String),
    /// Every token of a person, in a tenant.
    User(String, String),
    /// Every token a person's (or everyone's: `None`) consent to an integration stands on.
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

/// The rules, shared by every request.
#[derive(Debug, Default)]
pub(crate) struct Revocations {
    rules: RwLock<HashMap<Subject, Rule>>,
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
        let text = |name: &str| {
            claims
                .extra
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let tenant = claims.tenant.clone().unwrap_or_default();
        let mut subjects = vec![
            Subject::Token(claims.jti.clone()),
            Subject::Client(claims.client_id.clone()),
            Subject::User(tenant.clone(), claims.sub.clone()),
            Subject::Tenant(tenant.clone()),
        ];
        if let Some(consent) = text("tessera_consent") {
            subjects.push(Subject::Consent(
                tenant.clone(),
                consent.clone(),
                Some(claims.sub.clone()),
            ));
            subjects.push(Subject::Consent(tenant.clone(), consent, None));
        }
        if let Some(grant) = text("tessera_grant") {
            subjects.push(Subject::Grant(grant));
        }
        // An exchanged token lives only as long as every token it came from (SPEC §3.4).
        for origin in claims
            .extra
            .get("tessera_from")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(jti) = origin.get("jti").and_then(Value::as_str) {
                subjects.push(Subject::Token(jti.to_owned()));
            }
            if let Some(client) = origin.get("client_id").and_then(Value::as_str) {
                subjects.push(Subject::Client(client.to_owned()));
            }
        }
        subjects
            .iter()
            .filter_map(|s| rules.get(s))
            .find(|rule| claims.iat <= rule.issued_until)
            .map(|rule| rule.why)
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
        rules.retain(|_, rule| rule.forget_at > now);
        let rule = Rule {
            issued_until,
            forget_at: now.saturating_add(forget_after),
            why,
        };
        rules
            .entry(subject)
            .and_modify(|old| {
                old.issued_until = old.issued_until.max(rule.issued_until);
                old.forget_at = rule.forget_at;
            })
            .or_insert(rule);
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

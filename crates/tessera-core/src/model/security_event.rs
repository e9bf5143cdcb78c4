//! Shared Signals (SPEC §16, OpenID SSF 1.0): the streams through which a resource server hears
//! that something stopped being valid, and the Security Event Tokens (RFC 8417) sent on them.
//! I/O-free: the edge signs the claims made here, keeps each stream's SETs in its outbox and
//! delivers them (push, RFC 8935; poll, RFC 8936).

use serde_json::{json, Value};
use tessera_jose::event_type;

use crate::error::DomainError;
use crate::id::{ClientId, StreamId, TenantId, UserId};

use super::{validate_web_url, UnixMillis, UrlRules};

/// RFC 8935: Tessera POSTs each SET to the receiver's endpoint.
pub const PUSH_DELIVERY: &str = "urn:ietf:rfc:8935";
/// RFC 8936: the receiver POSTs to the stream's endpoint for its SETs and acknowledges them.
pub const POLL_DELIVERY: &str = "urn:ietf:rfc:8936";
/// Streams one receiver (an integration) may have.
pub const MAX_STREAMS_PER_RECEIVER: usize = 10;
/// The most SETs one poll answers with.
pub const MAX_EVENTS_PER_POLL: u32 = 100;

/// How a stream's SETs reach the receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Tessera POSTs them to `endpoint_url`, with the receiver's `Authorization` header value
    /// (kept sealed by the edge: `sealed_authorization`).
    Push {
        /// Where to.
        endpoint_url: String,
        /// The `Authorization` header the receiver asked for, sealed with the master key.
        sealed_authorization: Option<String>,
    },
    /// The receiver polls `/ssf/poll/{stream_id}`.
    Poll,
}

impl Delivery {
    /// Its method's URN.
    pub fn method(&self) -> &'static str {
        match self {
            Delivery::Push { .. } => PUSH_DELIVERY,
            Delivery::Poll => POLL_DELIVERY,
        }
    }
}

/// Whether a stream sends (SSF 1.0 §8.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamStatus {
    /// Events are sent.
    Enabled,
    /// Events are kept and sent once the stream is enabled again.
    Paused,
    /// Events are neither sent nor kept.
    Disabled,
}

impl StreamStatus {
    /// As SSF writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamStatus::Enabled => "enabled",
            StreamStatus::Paused => "paused",
            StreamStatus::Disabled => "disabled",
        }
    }
    /// From SSF's word for it.
    pub fn parse(s: &str) -> Option<StreamStatus> {
        [
            StreamStatus::Enabled,
            StreamStatus::Paused,
            StreamStatus::Disabled,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
    }
}

/// A receiver's event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventStream {
    /// Its `stream_id`.
    pub id: StreamId,
    /// The tenant whose events it carries.
    pub tenant_id: TenantId,
    /// The integration that made it and is its SETs' `aud`.
    pub receiver: ClientId,
    /// Push or poll.
    pub delivery: Delivery,
    /// The event types the receiver asked for.
    pub events_requested: Vec<String>,
    /// The receiver's words for it.
    pub description: Option<String>,
    /// Whether it sends.
    pub status: StreamStatus,
    /// Why it has that status, if someone said.
    pub status_reason: Option<String>,
    /// When it was made.
    pub created_at: UnixMillis,
    /// When it last changed.
    pub updated_at: UnixMillis,
}

impl EventStream {
    /// The types it is sent: those asked for that Tessera sends (SSF 1.0 §8.1.1).
    pub fn events_delivered(&self) -> Vec<&'static str> {
        event_type::ALL
            .into_iter()
            .filter(|t| self.events_requested.iter().any(|r| r == t))
            .collect()
    }

    /// Whether an event of `kind` goes into its outbox: asked for (verification and status
    /// changes always are, SSF 1.0 §8.1.4), and the stream not disabled.
    pub fn takes(&self, kind: &str) -> bool {
        self.status != StreamStatus::Disabled
            && (kind == event_type::VERIFICATION
                || kind == event_type::STREAM_UPDATED
                || self.events_requested.iter().any(|r| r == kind))
    }
}

/// A stream as a receiver asks for it (SSF 1.0 §8.1.1.1), or the fields of a change to one.
#[derive(Debug, Clone, Default)]
pub struct StreamRequest {
    /// `delivery.method`.
    pub method: Option<String>,
    /// `delivery.endpoint_url`: the receiver's, for push; Tessera's own for poll.
    pub endpoint_url: Option<String>,
    /// `delivery.authorization_header`, for push.
    pub authorization_header: Option<String>,
    /// `events_requested`.
    pub events_requested: Option<Vec<String>>,
    /// `description`.
    pub description: Option<String>,
}

/// What a request's `delivery` says, checked; the header still in the clear, for the edge to
/// seal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryRequest {
    /// Push to this URL, with this `Authorization` header if any.
    Push(String, Option<String>),
    /// Poll.
    Poll,
}

impl StreamRequest {
    /// The delivery asked for: a known method, an https `endpoint_url` for push and none for
    /// poll (the transmitter gives that one).
    pub fn delivery(&self, urls: UrlRules) -> Result<DeliveryRequest, DomainError> {
        match self.method.as_deref().map(str::trim) {
            Some(PUSH_DELIVERY) => {
                let url = self.endpoint_url.as_deref().map(str::trim).ok_or_else(|| {
                    DomainError::invalid(
                        "delivery.endpoint_url",
                        "is required for push delivery: where Tessera is to POST the events",
                    )
                })?;
                let url = validate_web_url("delivery.endpoint_url", url, urls)?;
                let header = self.authorization_header.as_deref().map(str::trim);
                if header.is_some_and(|h| h.is_empty() || h.len() > 4096 || h.contains(['\r', '\n'])) {
                    return Err(DomainError::invalid(
                        "delivery.authorization_header",
                        "must be one line of at most 4096 characters",
                    ));
                }
                Ok(DeliveryRequest::Push(url, header.map(str::to_owned)))
            }
            Some(POLL_DELIVERY) => {
                if self.authorization_header.is_some() {
                    return Err(DomainError::invalid(
                        "delivery.authorization_header",
                        "is for push delivery only: a poll is authenticated with the receiver's token",
                    ));
                }
                Ok(DeliveryRequest::Poll)
            }
            Some(other) => Err(DomainError::invalid(
                "delivery.method",
                format!(
                    "`{}` is not a delivery method Tessera offers: use `{PUSH_DELIVERY}` or `{POLL_DELIVERY}`",
                    other.chars().take(80).collect::<String>()
                ),
            )),
            None => Err(DomainError::invalid(
                "delivery.method",
                format!("is required: `{PUSH_DELIVERY}` (push) or `{POLL_DELIVERY}` (poll)"),
            )),
        }
    }

    /// The event types asked for: URIs, at most 32; unknown ones are kept and not delivered.
    pub fn events(&self) -> Result<Option<Vec<String>>, DomainError> {
        let Some(asked) = &self.events_requested else {
            return Ok(None);
        };
        if asked.len() > 32 {
            return Err(DomainError::invalid(
                "events_requested",
                "may name at most 32 event types",
            ));
        }
        let mut events: Vec<String> = Vec::with_capacity(asked.len());
        for event in asked {
            let event = event.trim();
            if event.is_empty() || event.len() > 256 || !event.contains(':') {
                return Err(DomainError::invalid(
                    "events_requested",
                    "holds event type URIs, such as the ones `events_supported` lists",
                ));
            }
            if !events.iter().any(|e| e == event) {
                events.push(event.to_owned());
            }
        }
        Ok(Some(events))
    }

    /// The description: at most 200 characters.
    pub fn description(&self) -> Result<Option<String>, DomainError> {
        match self.description.as_deref().map(str::trim) {
            Some(d) if d.chars().count() > 200 => Err(DomainError::invalid(
                "description",
                "may be at most 200 characters",
            )),
            Some(d) => Ok(Some(d.to_owned()).filter(|d| !d.is_empty())),
            None => Ok(None),
        }
    }
}

/// Something that stopped being valid, as a SET says it (SPEC §16; the types are in
/// `docs/resource-servers.md`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityEvent {
    /// One access token was revoked (Tessera's type: no CAEP or RISC event names one token).
    TokenRevoked {
        /// Its `jti`.
        jti: String,
    },
    /// A person withdrew their consent to an integration acting for them: CAEP
    /// `session-revoked`, the user and the application as the subject.
    ConsentWithdrawn {
        /// Who; `None` for a consent given for every user of the tenant.
        user: Option<UserId>,
        /// To whom.
        client_id: ClientId,
    },
    /// A connection or an app authorization was revoked, and the tokens that name it in
    /// `tessera_grant`: CAEP `session-revoked`, the grant as the session.
    GrantRevoked {
        /// The grant's id as tokens carry it.
        grant: String,
    },
    /// An integration's secret was regenerated or removed: CAEP `credential-change`. Tokens
    /// issued with the old secret stay valid, as they do in Tessera.
    SecretChanged {
        /// The integration.
        client_id: ClientId,
        /// `update` (regenerated) or `delete` (removed).
        change_type: &'static str,
    },
    /// An integration was deleted, and every token issued to it ends: RISC `account-purged`.
    IntegrationDeleted {
        /// The integration.
        client_id: ClientId,
    },
    /// A user was deleted: RISC `account-purged`.
    UserDeleted {
        /// Who.
        user: UserId,
    },
    /// The tenant was disabled: RISC `account-disabled`; its tokens issued so far end.
    TenantDisabled,
    /// The tenant was enabled again: RISC `account-enabled`.
    TenantEnabled,
    /// The tenant was deleted: RISC `account-purged`.
    TenantDeleted,
    /// The answer to the receiver's verification request (SSF 1.0 §8.1.4).
    Verification {
        /// The `state` the receiver sent, echoed.
        state: Option<String>,
    },
    /// The stream's status changed (SSF 1.0 §8.1.5).
    StreamUpdated {
        /// The new status.
        status: StreamStatus,
        /// Why, if someone said.
        reason: Option<String>,
    },
}

/// What a SET is about, besides its event: who signs it, for whom, when.
#[derive(Debug, Clone, Copy)]
pub struct SetContext<'a> {
    /// Tessera's issuer.
    pub issuer: &'a str,
    /// The stream it goes on.
    pub stream: &'a EventStream,
    /// The tenant the event is about: the stream's own, or any for a stream of the operator
    /// tenant, which hears every tenant.
    pub tenant: TenantId,
    /// The SET's own `jti`.
    pub jti: &'a str,
    /// When the event happened, Unix seconds (`iat` and `event_timestamp`).
    pub at: i64,
}

impl SecurityEvent {
    /// Its event type URI.
    pub fn kind(&self) -> &'static str {
        match self {
            SecurityEvent::TokenRevoked { .. } => event_type::TOKEN_REVOKED,
            SecurityEvent::ConsentWithdrawn { .. } | SecurityEvent::GrantRevoked { .. } => {
                event_type::SESSION_REVOKED
            }
            SecurityEvent::SecretChanged { .. } => event_type::CREDENTIAL_CHANGE,
            SecurityEvent::IntegrationDeleted { .. }
            | SecurityEvent::UserDeleted { .. }
            | SecurityEvent::TenantDeleted => event_type::ACCOUNT_PURGED,
            SecurityEvent::TenantDisabled => event_type::ACCOUNT_DISABLED,
            SecurityEvent::TenantEnabled => event_type::ACCOUNT_ENABLED,
            SecurityEvent::Verification { .. } => event_type::VERIFICATION,
            SecurityEvent::StreamUpdated { .. } => event_type::STREAM_UPDATED,
        }
    }

    /// The SET's claims (RFC 8417 §2.2, SSF 1.0 §4): `iss`, `jti`, `iat`, `aud` (the
    /// receiver's client id), `sub_id` (RFC 9493; a complex subject naming the tenant for
    /// everything of a tenant), and `events` with this one event.
    pub fn claims(&self, at: SetContext<'_>) -> Value {
        let tenant = json!({"format": "opaque", "id": at.tenant.to_string()});
        let user =
            |user: &UserId| json!({"format": "iss_sub", "iss": at.issuer, "sub": user.to_string()});
        let application = |client: &ClientId| json!({"format": "opaque", "id": client.to_string()});
        let opaque = |id: &str| json!({"format": "opaque", "id": id});
        let timestamp = json!({"event_timestamp": at.at});
        let (sub_id, event) = match self {
            SecurityEvent::TokenRevoked { jti } => (opaque(jti), timestamp),
            SecurityEvent::ConsentWithdrawn {
                user: who,
                client_id,
            } => (
                match who {
                    Some(who) => {
                        json!({"format": "complex", "user": user(who), "application": application(client_id), "tenant": tenant})
                    }
                    None => {
                        json!({"format": "complex", "application": application(client_id), "tenant": tenant})
                    }
                },
                json!({"event_timestamp": at.at, "initiating_entity": "user"}),
            ),
            SecurityEvent::GrantRevoked { grant } => (
                json!({"format": "complex", "session": opaque(grant), "tenant": tenant}),
                json!({"event_timestamp": at.at, "initiating_entity": "admin"}),
            ),
            SecurityEvent::SecretChanged {
                client_id,
                change_type,
            } => (
                json!({"format": "complex", "application": application(client_id), "tenant": tenant}),
                // A client secret is a shared secret: CAEP's nearest credential type.
                json!({"event_timestamp": at.at, "credential_type": "password", "change_type": change_type}),
            ),
            SecurityEvent::IntegrationDeleted { client_id } => (
                json!({"format": "complex", "application": application(client_id), "tenant": tenant}),
                timestamp,
            ),
            SecurityEvent::UserDeleted { user: who } => (
                json!({"format": "complex", "user": user(who), "tenant": tenant}),
                timestamp,
            ),
            SecurityEvent::TenantDisabled
            | SecurityEvent::TenantEnabled
            | SecurityEvent::TenantDeleted => {
                (json!({"format": "complex", "tenant": tenant}), timestamp)
            }
            SecurityEvent::Verification { state } => (
                opaque(&at.stream.id.to_string()),
                match state {
                    Some(state) => json!({"state": state}),
                    None => json!({}),
                },
            ),
            SecurityEvent::StreamUpdated { status, reason } => (
                opaque(&at.stream.id.to_string()),
                match reason {
                    Some(reason) => json!({"status": status.as_str(), "reason": reason}),
                    None => json!({"status": status.as_str()}),
                },
            ),
        };
        json!({
            "iss": at.issuer,
            "jti": at.jti,
            "iat": at.at,
            "aud": at.stream.receiver.to_string(),
            "sub_id": sub_id,
            "events": {self.kind(): event},
        })
    }
}

/// A SET in a stream's outbox, claimed for delivery or handed to a poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSet {
    /// Its position in the outbox.
    pub seq: i64,
    /// Its stream.
    pub stream_id: StreamId,
    /// Its `jti`, which the receiver acknowledges.
    pub jti: String,
    /// The signed SET.
    pub set: String,
    /// Push attempts so far.
    pub attempts: u32,
    /// When it was queued.
    pub created_at: UnixMillis,
}

/// What became of a pushed SET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// The receiver answered 202 (or another 2xx).
    Delivered,
    /// No answer or a failure: again at this time; why.
    RetryAt(UnixMillis, String),
    /// The receiver refused it (RFC 8935 §2.3: a 400 with an `err`), or past the horizon.
    Failed(String),
}

/// How a stream's delivery stands, for its owner and the console.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamBacklog {
    /// SETs waiting for delivery or acknowledgement.
    pub pending: u64,
    /// When the oldest of them was queued.
    pub oldest_at: Option<UnixMillis>,
    /// SETs delivered (pushed and answered, or acknowledged).
    pub delivered: u64,
    /// SETs given up on.
    pub failed: u64,
    /// The last failure, if the newest attempt failed.
    pub last_error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(events: &[&str]) -> EventStream {
        EventStream {
            id: StreamId::random(),
            tenant_id: TenantId::random(),
            receiver: ClientId::random(),
            delivery: Delivery::Poll,
            events_requested: events.iter().map(|e| e.to_string()).collect(),
            description: None,
            status: StreamStatus::Enabled,
            status_reason: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn a_set_names_issuer_receiver_subject_and_one_event() {
        let s = stream(&[event_type::SESSION_REVOKED]);
        let (user, client) = (UserId::random(), ClientId::random());
        let event = SecurityEvent::ConsentWithdrawn {
            user: Some(user),
            client_id: client,
        };
        let claims = event.claims(SetContext {
            issuer: "https://id.example",
            stream: &s,
            tenant: s.tenant_id,
            jti: "j1",
            at: 1_700_000_000,
        });
        assert_eq!(claims["aud"], s.receiver.to_string());
        assert_eq!(claims["iss"], "https://id.example");
        assert_eq!(claims["sub_id"]["format"], "complex");
        assert_eq!(claims["sub_id"]["user"]["sub"], user.to_string());
        assert_eq!(claims["sub_id"]["application"]["id"], client.to_string());
        assert_eq!(claims["sub_id"]["tenant"]["id"], s.tenant_id.to_string());
        assert_eq!(
            claims["events"][event_type::SESSION_REVOKED]["event_timestamp"],
            1_700_000_000
        );
        assert!(s.takes(event.kind()));
        assert!(!s.takes(event_type::TOKEN_REVOKED));
        assert!(
            s.takes(event_type::VERIFICATION),
            "verification is always delivered"
        );
        assert_eq!(s.events_delivered(), vec![event_type::SESSION_REVOKED]);
    }

    #[test]
    fn a_request_names_what_is_wrong_with_its_delivery() {
        let urls = UrlRules {
            plain_http_anywhere: false,
        };
        let field = |r: StreamRequest| r.delivery(urls).unwrap_err().field();
        assert_eq!(field(StreamRequest::default()), Some("delivery.method"));
        let push = StreamRequest {
            method: Some(PUSH_DELIVERY.into()),
            ..Default::default()
        };
        assert_eq!(field(push.clone()), Some("delivery.endpoint_url"));
        let plain = StreamRequest {
            endpoint_url: Some("http://rs.example/events".into()),
            ..push.clone()
        };
        assert_eq!(field(plain), Some("delivery.endpoint_url"));
        let header = StreamRequest {
            endpoint_url: Some("https://rs.example/events".into()),
            authorization_header: Some("Bearer a\r\nX: b".into()),
            ..push
        };
        assert_eq!(field(header), Some("delivery.authorization_header"));
        let poll = StreamRequest {
            method: Some(POLL_DELIVERY.into()),
            ..Default::default()
        };
        assert_eq!(poll.delivery(urls).unwrap(), DeliveryRequest::Poll);
        let odd = StreamRequest {
            events_requested: Some(vec!["nothing".into()]),
            ..Default::default()
        };
        assert_eq!(odd.events().unwrap_err().field(), Some("events_requested"));
    }
}

//! Security Event Tokens (RFC 8417) as the OpenID Shared Signals Framework 1.0 sends them: the
//! event types Tessera transmits, and the check of a SET's header and signature that a
//! receiver runs. What an event means for the tokens it holds is the receiver's.

use crate::jwk::VerifyingKey;
use crate::jws::{DecodedJws, JwsError};

/// RFC 8417 §2.3 / SSF 1.0 §4: SETs carry `typ: secevent+jwt`.
pub const SET_TYP: &str = "secevent+jwt";

/// The event types Tessera sends (SPEC §16), by their URIs.
pub mod event_type {
    /// CAEP: a session — for Tessera a consent, a connection or an app authorization, and the
    /// tokens issued under it — ended.
    pub const SESSION_REVOKED: &str =
        "https://schemas.openid.net/secevent/caep/event-type/session-revoked";
    /// CAEP: a credential changed (an integration's secret regenerated or removed).
    pub const CREDENTIAL_CHANGE: &str =
        "https://schemas.openid.net/secevent/caep/event-type/credential-change";
    /// RISC: an account (a tenant) was disabled; its tokens end.
    pub const ACCOUNT_DISABLED: &str =
        "https://schemas.openid.net/secevent/risc/event-type/account-disabled";
    /// RISC: an account (a tenant) was enabled again; tokens issued before stay ended.
    pub const ACCOUNT_ENABLED: &str =
        "https://schemas.openid.net/secevent/risc/event-type/account-enabled";
    /// RISC: an account (a tenant, a user or an integration) was deleted.
    pub const ACCOUNT_PURGED: &str =
        "https://schemas.openid.net/secevent/risc/event-type/account-purged";
    /// SSF: the answer to a verification request.
    pub const VERIFICATION: &str =
        "https://schemas.openid.net/secevent/ssf/event-type/verification";
    /// SSF: the stream's status changed.
    pub const STREAM_UPDATED: &str =
        "https://schemas.openid.net/secevent/ssf/event-type/stream-updated";
    /// Tessera's own type, where none of CAEP's or RISC's fits: one access token (`sub_id` an
    /// opaque identifier, its `jti`) was revoked, and with it every token exchanged from it.
    pub const TOKEN_REVOKED: &str = "urn:tessera:secevent:token-revoked";

    /// Every type a stream may ask for, in the order the configuration lists them.
    pub const ALL: [&str; 8] = [
        TOKEN_REVOKED,
        SESSION_REVOKED,
        CREDENTIAL_CHANGE,
        ACCOUNT_DISABLED,
        ACCOUNT_ENABLED,
        ACCOUNT_PURGED,
        VERIFICATION,
        STREAM_UPDATED,
    ];
}

/// Checks a SET's form, its `typ` (`secevent+jwt`) and its signature against `keys` (the
/// issuer's JWKS), and gives back its claims. Issuer and audience are the caller's to check.
pub fn verify_security_event(
    set: &str,
    keys: &[VerifyingKey],
) -> Result<serde_json::Value, JwsError> {
    if set.len() > crate::MAX_TOKEN_LEN {
        return Err(JwsError::Malformed("longer than 16 KiB"));
    }
    let decoded = DecodedJws::decode(set)?;
    let typ = decoded
        .header
        .get("typ")
        .and_then(|t| t.as_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if typ != SET_TYP && typ != "application/secevent+jwt" {
        return Err(JwsError::NotASecurityEvent);
    }
    decoded.verify_with(keys)?;
    Ok(decoded.payload)
}

//! Identifiers parsed once at the edge, and secrets that cannot leak through `Debug`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use uuid::Uuid;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Why an identifier did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {kind}: expected {expected}")]
pub struct IdParseError {
    /// Which id it was meant to be (for the message).
    pub kind: &'static str,
    /// The text that did not parse.
    pub value: String,
    /// What a valid one looks like.
    pub expected: &'static str,
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh random (v4) identifier from `rng`.
            pub fn generate(rng: &dyn crate::world::Rng) -> Self {
                let mut bytes = [0u8; 16];
                rng.fill(&mut bytes);
                Self(uuid::Builder::from_random_bytes(bytes).into_uuid())
            }
            /// A fresh random (v4) identifier, for tests: the product mints ids with
            /// [`generate`](Self::generate) from the `Rng` it is handed.
            #[cfg(any(test, feature = "testing"))]
            pub fn random() -> Self {
                Self(Uuid::new_v4())
            }
            /// The id that wraps this UUID.
            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }
            /// The UUID inside.
            pub fn uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0.hyphenated())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.strip_prefix($prefix)
                    .and_then(|rest| Uuid::try_parse(rest).ok())
                    .map(Self)
                    .ok_or_else(|| IdParseError {
                        kind: $kind,
                        value: s.chars().take(80).collect(),
                        expected: concat!("`", $prefix, "` followed by a UUID"),
                    })
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

uuid_id!(
    /// A tenant: `tenant/<uuid>` on the wire and in tokens.
    TenantId, "tenant id", "tenant/"
);
uuid_id!(
    /// An integration's OAuth `client_id`: a bare UUID.
    ClientId, "client_id", ""
);
uuid_id!(
    /// A user: a bare UUID (the `sub` of tokens issued for the user).
    UserId, "user id", ""
);

uuid_id!(
    /// An asset: `assets/<uuid>` on the wire (its `identity`).
    AssetId, "asset id", "assets/"
);
uuid_id!(
    /// An event of an asset; on the wire its identity is `assets/<asset>/events/<uuid>`.
    EventId, "event id", ""
);
uuid_id!(
    /// An access policy: `access_policies/<uuid>` on the wire.
    AccessPolicyId, "access policy id", "access_policies/"
);

uuid_id!(
    /// A user's consent to an integration acting for them.
    ConsentId, "consent id", ""
);

uuid_id!(
    /// A data owner's connection to an application (SPEC §6).
    ConnectionId, "connection id", ""
);

uuid_id!(
    /// A tenant's authorization of an application (SPEC §8).
    AppAuthorizationId, "app authorization id", "app_authorizations/"
);

uuid_id!(
    /// A platform a tenant trusts to vouch for its workloads (SPEC §14).
    TrustedIssuerId, "trusted issuer id", "trusted_issuers/"
);

uuid_id!(
    /// An API of a tenant that tokens may be issued for (SPEC §15, RFC 8707).
    ResourceServerId, "resource server id", "resource_servers/"
);

uuid_id!(
    /// A resource server's Shared Signals stream (SPEC §16): a bare UUID, its `stream_id`.
    StreamId, "stream id", ""
);

uuid_id!(
    /// A platform identity an integration accepts in place of a secret (SPEC §14); tokens
    /// issued through one name it in `tessera_federated`.
    FederatedCredentialId, "federated credential id", "federated_credentials/"
);

/// A secret string: redacted in `Debug`/`Display`, zeroized on drop, compared in constant time.
#[derive(Clone, Zeroize, ZeroizeOnDrop, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret so that it neither prints nor logs.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The secret itself. Call only where it is sent to its owner or hashed.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_id_round_trips_with_its_prefix() {
        let id = TenantId::random();
        let text = id.to_string();
        assert!(text.starts_with("tenant/"));
        assert_eq!(text.parse::<TenantId>(), Ok(id));
    }

    #[test]
    fn tenant_id_without_prefix_is_refused_with_what_was_expected() {
        let err = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
            .parse::<TenantId>()
            .unwrap_err();
        assert!(
            err.to_string().contains("`tenant/` followed by a UUID"),
            "{err}"
        );
    }

    #[test]
    fn client_id_is_a_bare_uuid() {
        let id: ClientId = "1b4e28ba-2fa1-11d2-883f-0016d3cca427".parse().unwrap();
        assert_eq!(id.to_string(), "1b4e28ba-2fa1-11d2-883f-0016d3cca427");
        assert!("not-a-uuid".parse::<ClientId>().is_err());
    }

    #[test]
    fn secrets_are_redacted_in_debug_and_display() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
        assert_eq!(s, Secret::new("hunter2"));
        assert_ne!(s, Secret::new("hunter3"));
    }
}

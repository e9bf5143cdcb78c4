//! In-memory snapshots for the token path: clients, signing keys, revocations and verified
//! tokens; users and consents for the JWT bearer grant, and every consent for the tokens issued
//! under one; app authorizations for TMS; active
//! connections; and access policies for the resource API. Reads are plain lookups; the change feed (`workers::changes`) keeps them fresh on every
//! instance, and a local write applies its change at once.

pub mod app_authorizations;
pub mod auth_limiter;
pub mod clients;
pub mod connections;
pub mod consents;
pub mod delegations;
pub mod federation;
pub mod keys;
pub mod policies;
pub mod resource_servers;
pub mod tokens;

pub use app_authorizations::AppAuthorizations;
pub use auth_limiter::AuthLimiter;
pub use clients::{ClientSnapshot, TenantRefusal};
pub use connections::ActiveConnections;
pub use consents::LiveConsents;
pub use delegations::{DelegationCache, DelegationFacts};
pub use federation::Federation;
pub use policies::PolicyCache;
pub use resource_servers::ResourceServers;
pub use tokens::{RevocationSet, VerifiedTokens};

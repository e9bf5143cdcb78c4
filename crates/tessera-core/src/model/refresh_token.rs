//! Refresh tokens (SPEC §15, RFC 9700 §4.14): what a person's authorization of an application
//! leaves behind so the application keeps working without them. One *family* per authorization
//! code: each use replaces its token with the next, and only the newest one works.

use crate::id::{ClientId, TenantId, UserId};
use crate::scope::ScopeSet;

/// One authorization's refresh tokens, as stored: the hash of the newest token only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshFamily {
    /// The id of the authorization code it came from, also the start of each of its tokens.
    pub id: String,
    /// The person's tenant (whose data the tokens reach).
    pub tenant_id: TenantId,
    /// The application it was issued to.
    pub client_id: ClientId,
    /// The person who authorized.
    pub user_id: UserId,
    /// What the person authorized: the most a token refreshed from it may carry.
    pub scope: ScopeSet,
    /// The tokens' audience (RFC 8707), as authorized.
    pub resource: String,
    /// SHA-256 of the newest token: the only one that works.
    pub token_hash: [u8; 32],
    /// How many times it was used: 0 for the first token.
    pub generation: u32,
    /// When the person authorized (Unix seconds).
    pub created_at: i64,
    /// When it was last used (Unix seconds).
    pub last_used_at: i64,
    /// Unused until then, it ends (Unix seconds).
    pub idle_expires_at: i64,
    /// It ends then however often it is used (Unix seconds).
    pub absolute_expires_at: i64,
    /// RFC 9449 §5: a public client's family is bound to the DPoP key its code was redeemed
    /// with (the key's thumbprint); each refresh must come with a proof by it.
    pub dpop_jkt: Option<String>,
}

impl RefreshFamily {
    /// Whether it still works at `now` (Unix seconds).
    pub fn live_at(&self, now: i64) -> bool {
        now < self.idle_expires_at && now < self.absolute_expires_at
    }

    /// The `jti` of the access token its current generation got: the code's id for the first,
    /// so that a code used twice revokes it (RFC 6749 §4.1.2).
    pub fn access_token_jti(&self) -> String {
        if self.generation == 0 {
            self.id.clone()
        } else {
            format!("{}.{}", self.id, self.generation)
        }
    }
}

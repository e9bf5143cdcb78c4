use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;
use tessera_core::ports::RevokedToken;
use tessera_core::token::AccessTokenClaims;

/// Revoked tokens by `jti`, kept until they would have expired.
#[derive(Default)]
pub struct RevocationSet(RwLock<HashMap<String, i64>>);

impl RevocationSet {
    pub fn insert(&self, token: &RevokedToken) {
        self.0.write().insert(token.jti.clone(), token.expires_at);
    }
    pub fn replace_all(&self, tokens: Vec<RevokedToken>) {
        *self.0.write() = tokens.into_iter().map(|t| (t.jti, t.expires_at)).collect();
    }
    pub fn contains(&self, jti: &str) -> bool {
        self.0.read().contains_key(jti)
    }
    /// Forgets revocations of tokens that have expired anyway.
    pub fn prune(&self, now_seconds: i64) {
        self.0.write().retain(|_, exp| *exp > now_seconds - 60);
    }
}

/// Tokens whose signature has been verified, so that a token seen before is not verified again.
/// Revocation and the client's existence are checked on every use, so the cache never makes a
/// revoked token valid.
pub struct VerifiedTokens(quick_cache::sync::Cache<Box<str>, Arc<AccessTokenClaims>>);

impl VerifiedTokens {
    pub fn new(capacity: usize) -> Self {
        VerifiedTokens(quick_cache::sync::Cache::new(capacity))
    }
    pub fn get(&self, token: &str) -> Option<Arc<AccessTokenClaims>> {
        self.0.get(token)
    }
    pub fn insert(&self, token: &str, claims: Arc<AccessTokenClaims>) {
        self.0.insert(token.into(), claims);
    }
}

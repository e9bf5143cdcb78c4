//! Loading the key ring from storage and rotating keys. Used at start, by the change feed, by
//! the rotation schedule and by `tessera keys rotate`.

use tessera_core::crypto::MasterKey;
use tessera_core::model::{UnixMillis, MAX_TOKEN_TTL_SECONDS};
use tessera_core::ports::{Change, Clock, Rng, Storage, StoreError, StoredSigningKey};
use tessera_core::token::{KeyRing, SigningAlg, SigningKey};

/// What binds a stored signing key's ciphertext to its use.
const PURPOSE: &str = "tessera signing key";

/// Loading or rotating keys failed.
#[derive(Debug, thiserror::Error)]
pub enum KeySetupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("signing key `{kid}`: {cause}")]
    Key { kid: String, cause: String },
    #[error("there is no signing key yet")]
    Empty,
    /// The client for outgoing calls could not be built (no TLS roots, …): better not to start
    /// than to call out without its limits.
    #[error("the client for outgoing calls could not be built: {0}")]
    Outbound(String),
}

/// The live keys, decrypted, newest first.
pub async fn load_key_ring(
    storage: &dyn Storage,
    master: &MasterKey,
    now: UnixMillis,
) -> Result<KeyRing, KeySetupError> {
    let stored = storage.live_signing_keys(now).await?;
    let mut keys = Vec::with_capacity(stored.len());
    for s in stored {
        let pkcs8 =
            master
                .decrypt(PURPOSE, &s.encrypted_pkcs8)
                .map_err(|e| KeySetupError::Key {
                    kid: s.kid.clone(),
                    cause: e.to_string(),
                })?;
        let key = SigningKey::from_pkcs8(s.kid.clone(), &s.alg, &pkcs8).map_err(|e| {
            KeySetupError::Key {
                kid: s.kid.clone(),
                cause: e.to_string(),
            }
        })?;
        keys.push(key);
    }
    KeyRing::new(keys).ok_or(KeySetupError::Empty)
}

/// Makes a new key of `alg` current. The previous keys stay in JWKS until every token they
/// signed has expired (the longest token lifetime, plus a minute of clock skew).
pub async fn rotate(
    storage: &dyn Storage,
    master: &MasterKey,
    alg: SigningAlg,
    clock: &dyn Clock,
    rng: &dyn Rng,
) -> Result<String, KeySetupError> {
    let (key, pkcs8) = SigningKey::generate(alg, rng).map_err(|e| KeySetupError::Key {
        kid: String::new(),
        cause: e.to_string(),
    })?;
    let now = clock.now_millis();
    let stored = StoredSigningKey {
        kid: key.kid().to_owned(),
        alg: alg.as_str().to_owned(),
        encrypted_pkcs8: master.encrypt(rng, PURPOSE, &pkcs8),
        created_at: now,
        retired_at: None,
        verify_until: None,
    };
    let verify_until = now + (i64::from(MAX_TOKEN_TTL_SECONDS) + 60) * 1000;
    storage.rotate_signing_key(&stored, verify_until).await?;
    storage.publish(now, &Change::SigningKeys).await?;
    Ok(stored.kid)
}

/// At start: makes sure a key of the configured algorithm is current, then loads the ring.
pub async fn ensure_current_key(
    storage: &dyn Storage,
    master: &MasterKey,
    alg: SigningAlg,
    clock: &dyn Clock,
    rng: &dyn Rng,
) -> Result<KeyRing, KeySetupError> {
    match load_key_ring(storage, master, clock.now_millis()).await {
        Ok(ring) if ring.current().alg() == alg => return Ok(ring),
        Ok(_) | Err(KeySetupError::Empty) => {}
        Err(e) => return Err(e),
    }
    rotate(storage, master, alg, clock, rng).await?;
    load_key_ring(storage, master, clock.now_millis()).await
}

//! Small cryptographic building blocks: random secrets, secret hashes, the master key that
//! encrypts secrets at rest, and password hashing.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::id::Secret;
use crate::ports::Rng;

/// A new client secret: 256 random bits, base64url (43 characters).
pub fn generate_client_secret(rng: &dyn Rng) -> Secret {
    let mut bytes = [0u8; 32];
    rng.fill(&mut bytes);
    Secret::new(URL_SAFE_NO_PAD.encode(bytes))
}

/// A random identifier of `n` bytes, base64url.
pub fn random_token(rng: &dyn Rng, n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rng.fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored form of a client secret. A secret of 256 random bits cannot be guessed, so one
/// SHA-256 is as strong as a slow hash here and costs a microsecond on the token path
/// (SPEC §12) — the same reasoning as GitHub's and Stripe's API keys.
pub fn hash_client_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Constant-time comparison of a presented secret with a stored hash.
pub fn client_secret_matches(presented: &str, stored: &[u8; 32]) -> bool {
    hash_client_secret(presented).ct_eq(stored).into()
}

/// The key that encrypts secrets at rest (signing keys, third-party bearer tokens) and, through
/// a key derived from it, authenticates what Tessera hands out to come back unchanged
/// (connection URLs, session cookies).
pub struct MasterKey {
    aead: LessSafeKey,
    mac: aws_lc_rs::hmac::Key,
}

/// The master key was not 32 bytes of hex or base64.
#[derive(Debug, thiserror::Error)]
#[error("the master key must be 32 bytes, written as 64 hex digits or base64")]
pub struct BadMasterKey;

/// A ciphertext did not decrypt with the master key.
#[derive(Debug, thiserror::Error)]
#[error("stored data does not decrypt with this master key: is TESSERA_MASTER_KEY the one the data was written with?")]
pub struct DecryptError;

impl MasterKey {
    /// Reads a 32-byte key; any other length is refused.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, BadMasterKey> {
        let key = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| BadMasterKey)?;
        // A separate key for MACs, so no value is ever both encrypted and authenticated under
        // the same key: HMAC(master, label) is a PRF output, a sound derived key.
        let master = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, bytes);
        let derived = aws_lc_rs::hmac::sign(&master, b"tessera mac key v1");
        Ok(MasterKey {
            aead: LessSafeKey::new(key),
            mac: aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, derived.as_ref()),
        })
    }

    /// A MAC of `data` for `purpose` (HMAC-SHA256 under the derived key), base64url.
    pub fn mac(&self, purpose: &str, data: &[u8]) -> String {
        let mut ctx = aws_lc_rs::hmac::Context::with_key(&self.mac);
        ctx.update(purpose.as_bytes());
        ctx.update(&[0]);
        ctx.update(data);
        URL_SAFE_NO_PAD.encode(ctx.sign().as_ref())
    }

    /// Whether `tag` is [`MasterKey::mac`] of `data` for `purpose`, compared in constant time.
    pub fn mac_matches(&self, purpose: &str, data: &[u8], tag: &str) -> bool {
        let Ok(tag) = URL_SAFE_NO_PAD.decode(tag) else {
            return false;
        };
        let mut message = Vec::with_capacity(purpose.len() + 1 + data.len());
        message.extend_from_slice(purpose.as_bytes());
        message.push(0);
        message.extend_from_slice(data);
        aws_lc_rs::hmac::verify(&self.mac, &message, &tag).is_ok()
    }

    /// Parses the textual form: 64 hex digits, or base64 of 32 bytes.
    pub fn parse(text: &str) -> Result<Self, BadMasterKey> {
        let text = text.trim();
        let bytes = hex::decode(text)
            .ok()
            .or_else(|| base64::engine::general_purpose::STANDARD.decode(text).ok())
            .or_else(|| URL_SAFE_NO_PAD.decode(text).ok())
            .filter(|b| b.len() == 32)
            .ok_or(BadMasterKey)?;
        Self::from_bytes(&bytes)
    }

    /// Generates a new key and returns it with its textual form (hex) for storage.
    pub fn generate(rng: &dyn Rng) -> (Self, Secret) {
        let mut bytes = [0u8; 32];
        rng.fill(&mut bytes);
        let text = Secret::new(hex::encode(bytes));
        match Self::from_bytes(&bytes) {
            Ok(key) => (key, text),
            Err(_) => unreachable!("AES_256_GCM accepts any 32-byte key"),
        }
    }

    /// AES-256-GCM with a random nonce, prepended. `purpose` binds the ciphertext to its use, so
    /// one secret cannot be swapped for another of a different kind.
    pub fn encrypt(&self, rng: &dyn Rng, purpose: &str, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill(&mut nonce);
        let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + 16);
        out.extend_from_slice(&nonce);
        let mut body = plaintext.to_vec();
        let sealed = self.aead.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(purpose.as_bytes()),
            &mut body,
        );
        if sealed.is_err() {
            unreachable!("AES-GCM sealing fails only for inputs over 64 GiB");
        }
        out.extend_from_slice(&body);
        out
    }

    /// [`MasterKey::decrypt`] without a copy: the plaintext is `sealed` itself, cut short.
    pub fn decrypt_owned(
        &self,
        purpose: &str,
        mut sealed: Vec<u8>,
    ) -> Result<Vec<u8>, DecryptError> {
        if sealed.len() < NONCE_LEN + 16 {
            return Err(DecryptError);
        }
        let nonce =
            Nonce::try_assume_unique_for_key(&sealed[..NONCE_LEN]).map_err(|_| DecryptError)?;
        let plain_len = self
            .aead
            .open_in_place(
                nonce,
                Aad::from(purpose.as_bytes()),
                &mut sealed[NONCE_LEN..],
            )
            .map_err(|_| DecryptError)?
            .len();
        sealed.copy_within(NONCE_LEN..NONCE_LEN + plain_len, 0);
        sealed.truncate(plain_len);
        Ok(sealed)
    }

    /// Opens what `encrypt` sealed for the same `purpose`; a wrong key, purpose or a changed byte
    /// is refused.
    pub fn decrypt(&self, purpose: &str, ciphertext: &[u8]) -> Result<Vec<u8>, DecryptError> {
        self.decrypt_owned(purpose, ciphertext.to_vec())
    }
}

/// The signature of a Standard Webhooks message: `v1,` and the base64 HMAC-SHA256 of
/// `{id}.{timestamp}.{body}` under the connection's key (the bytes behind `whsec_`).
pub fn webhook_signature(key: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    let tag = aws_lc_rs::hmac::sign(&key, format!("{id}.{timestamp}.{body}").as_bytes());
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
    )
}

/// The shortest password a user may set.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Hashes a user's password with argon2id (PHC string) under a fresh salt from `rng`, for the
/// console sign-in.
pub fn hash_password(
    password: &str,
    rng: &dyn Rng,
) -> Result<String, argon2::password_hash::Error> {
    let mut salt = [0u8; 16];
    rng.fill(&mut salt);
    hash_password_with_salt(password, &salt)
}

fn hash_password_with_salt(
    password: &str,
    salt: &[u8; 16],
) -> Result<String, argon2::password_hash::Error> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::encode_b64(salt)?;
    Ok(argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Checks a password against its argon2id PHC string.
pub fn verify_password(password: &str, phc: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(phc)
        .map(|hash| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Spends the time of one password check, for a sign-in whose email matches nobody: the answer
/// then takes as long as a wrong password's, and does not tell which emails have accounts.
pub fn spend_password_check(password: &str) {
    static UNUSED: std::sync::LazyLock<String> =
        // Only its cost matters, so a fixed salt does.
        std::sync::LazyLock::new(|| {
            hash_password_with_salt("unused", &[0; 16]).unwrap_or_default()
        });
    verify_password(password, &UNUSED);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::OsRng;

    #[test]
    fn master_key_round_trips_and_binds_the_purpose() {
        let (key, text) = MasterKey::generate(&OsRng);
        let reparsed = MasterKey::parse(text.expose()).unwrap();
        let sealed = key.encrypt(&OsRng, "signing-key", b"private");
        assert_eq!(
            reparsed.decrypt("signing-key", &sealed).unwrap(),
            b"private"
        );
        assert!(reparsed.decrypt("bearer-token", &sealed).is_err());
        assert!(MasterKey::parse("short").is_err());
    }

    #[test]
    fn client_secrets_have_256_bits_and_compare_by_hash() {
        let secret = generate_client_secret(&OsRng);
        assert_eq!(secret.expose().len(), 43);
        let hash = hash_client_secret(secret.expose());
        assert!(client_secret_matches(secret.expose(), &hash));
        assert!(!client_secret_matches("nope", &hash));
    }

    #[test]
    fn passwords_hash_with_argon2id() {
        let phc = hash_password("correct horse", &OsRng).unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &phc));
        assert!(!verify_password("wrong", &phc));
        assert!(!verify_password("x", "not a phc string"));
    }
}

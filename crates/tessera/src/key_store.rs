//! Loading the private key for `tessera token jwt-bearer` from a key store, as ODBC/JDBC REST
//! connectors do (seed 002): a PEM file (PKCS#8 key, optionally with its certificate) or a
//! PKCS#12 file with a password and an alias.

use anyhow::{bail, Context};
use tessera_core::id::ClientId;
use tessera_core::model::ClientKey;
use tessera_core::ports::OsRng;
use tessera_core::token::SigningKey;
use x509_cert::der::Decode;

const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const ED25519: &str = "1.3.101.112";

/// The signing key and the certificate that came with it (DER), if any.
pub struct LoadedKey {
    pub key: SigningKey,
    pub certificate: Option<Vec<u8>>,
}

/// Reads `bytes` (PEM or PKCS#12) and returns the key, with the `kid` the server gave it (the
/// JWK thumbprint, RFC 7638). A certificate that has expired is refused with its date.
pub fn load(
    bytes: &[u8],
    password: Option<&str>,
    alias: Option<&str>,
    now_millis: i64,
) -> anyhow::Result<LoadedKey> {
    let loaded = if bytes.starts_with(b"-----BEGIN") {
        from_pem(bytes, alias)?
    } else {
        from_pkcs12(bytes, password, alias)?
    };
    if let Some(der) = &loaded.certificate {
        let cert = x509_cert::Certificate::from_der(der)
            .context("the key store's certificate does not parse")?;
        let not_after = cert.tbs_certificate.validity.not_after;
        if (not_after.to_unix_duration().as_millis() as i64) < now_millis {
            bail!(
                "the certificate in the key store expired on {not_after}: make a new one and register it with POST /v1/integrations/{{client_id}}/keys"
            );
        }
    }
    Ok(loaded)
}

fn from_pem(bytes: &[u8], alias: Option<&str>) -> anyhow::Result<LoadedKey> {
    if alias.is_some() {
        bail!("--key-alias applies to PKCS#12 key stores; this one is PEM");
    }
    let text = std::str::from_utf8(bytes).context("the PEM key store is not text")?;
    if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        bail!("encrypted PEM keys are not supported: use a PKCS#12 key store and its password (--key-store-password-file or TESSERA_KEY_STORE_PASSWORD)");
    }
    let mut key_der = None;
    let mut cert_der = None;
    for block in pem_blocks(text) {
        match block.0.as_str() {
            "PRIVATE KEY" => key_der = Some(block.1),
            "CERTIFICATE" if cert_der.is_none() => cert_der = Some(block.1),
            "RSA PRIVATE KEY" | "EC PRIVATE KEY" => bail!(
                "the key is in a legacy PEM format ({}); convert it with `openssl pkcs8 -topk8 -nocrypt`",
                block.0
            ),
            _ => {}
        }
    }
    let key_der = key_der.context("the PEM key store holds no `PRIVATE KEY` block")?;
    Ok(LoadedKey {
        key: signing_key(&key_der)?,
        certificate: cert_der,
    })
}

/// `(label, DER)` of every PEM block.
fn pem_blocks(text: &str) -> Vec<(String, Vec<u8>)> {
    use base64::Engine;
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + 11..];
        let Some(label_end) = after.find("-----") else {
            break;
        };
        let label = after[..label_end].to_owned();
        let end_marker = format!("-----END {label}-----");
        let body_start = label_end + 5;
        let Some(end) = after.find(&end_marker) else {
            break;
        };
        let body: String = after[body_start..end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if let Ok(der) = base64::engine::general_purpose::STANDARD.decode(body) {
            blocks.push((label, der));
        }
        rest = &after[end + end_marker.len()..];
    }
    blocks
}

fn from_pkcs12(
    bytes: &[u8],
    password: Option<&str>,
    alias: Option<&str>,
) -> anyhow::Result<LoadedKey> {
    use p12_keystore::{KeyStore, KeyStoreEntry, Pkcs12ImportPolicy};
    let password = password.unwrap_or("");
    let store =
        KeyStore::from_pkcs12(bytes, password, Pkcs12ImportPolicy::Relaxed).map_err(|e| {
            anyhow::anyhow!(
                "cannot open the PKCS#12 key store: wrong password, or not a PKCS#12 file ({e})"
            )
        })?;
    let aliases: Vec<String> = store
        .entries()
        .filter(|(_, e)| matches!(e, KeyStoreEntry::PrivateKeyChain(_)))
        .map(|(a, _)| a.clone())
        .collect();
    let chain = match alias {
        Some(alias) => match store.entry(alias) {
            Some(KeyStoreEntry::PrivateKeyChain(chain)) => chain,
            _ => bail!(
                "the key store has no private key with alias `{alias}`; its aliases: {}",
                if aliases.is_empty() {
                    "(none)".to_owned()
                } else {
                    aliases.join(", ")
                }
            ),
        },
        None => match store.private_key_chain() {
            Some((_, chain)) => chain,
            None => bail!("the key store holds no private key"),
        },
    };
    Ok(LoadedKey {
        key: signing_key(chain.key().as_der())?,
        certificate: chain.certs().first().map(|c| c.as_der().to_vec()),
    })
}

/// A PKCS#8 key as a [`SigningKey`] whose `kid` is its public JWK's thumbprint — the `kid` the
/// server gives a key registered without one (and every key from a certificate).
fn signing_key(pkcs8: &[u8]) -> anyhow::Result<SigningKey> {
    let info = pkcs8::PrivateKeyInfo::from_der(pkcs8).context("the private key is not PKCS#8")?;
    let alg = match info.algorithm.oid.to_string().as_str() {
        RSA_ENCRYPTION => "RS256",
        EC_PUBLIC_KEY => "ES256",
        ED25519 => "EdDSA",
        other => bail!(
            "the private key's algorithm {other} is not supported; use RSA, EC P-256 or Ed25519"
        ),
    };
    let probe = SigningKey::from_pkcs8("probe".into(), alg, pkcs8)
        .map_err(|e| anyhow::anyhow!("the private key is not usable: {e}"))?;
    let mut public = probe.public_jwk().clone();
    if let Some(o) = public.as_object_mut() {
        o.remove("kid");
        o.remove("alg");
        o.remove("use");
    }
    let kid = ClientKey::from_jwk(ClientId::generate(&OsRng), &public, 0)
        .map_err(|e| anyhow::anyhow!("the key is not one the server accepts: {e}"))?
        .kid;
    SigningKey::from_pkcs8(kid, alg, pkcs8)
        .map_err(|e| anyhow::anyhow!("the private key is not usable: {e}"))
}

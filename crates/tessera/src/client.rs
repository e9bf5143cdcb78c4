//! The client side: `token get` and `token decode`. Nothing is sent anywhere but the server the
//! user names.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Subcommand;
use tessera_core::token::{DecodedJws, VerifyingKey};
use time::OffsetDateTime;

use crate::remote::token_from;

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Get an access token with client credentials and print it (the secret from
    /// --client-secret-file, TESSERA_CLIENT_SECRET or a prompt; never the command line).
    ///
    /// Example: tessera token get --client-id "$CLIENT_ID" --bearer-file ~/.tessera/bearer.txt
    Get {
        #[arg(long, env = "TESSERA_CLIENT_ID")]
        client_id: String,
        /// A file holding the secret.
        #[arg(long)]
        client_secret_file: Option<PathBuf>,
        /// A connection's token: the tenant that accepted the connection (`tenant/<uuid>`).
        #[arg(long)]
        tenant_id: Option<String>,
        /// Bind the token to this key (RFC 9449 DPoP): a PEM file with a PKCS#8 private key
        /// (EC P-256, Ed25519 or RSA). The request carries a proof signed by it; a server
        /// asking for a nonce gets one retry with it.
        #[arg(long)]
        dpop_key: Option<PathBuf>,
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// Ask the server about a token (RFC 7662), as the logged-in integration; the token from
    /// --token-file or standard input.
    ///
    /// Example: tessera token get --client-id "$ID" | tessera token introspect --output json
    Introspect {
        #[command(flatten)]
        session: crate::remote::SessionArgs,
        /// A file holding the token (`Authorization: Bearer` prefix allowed); default: stdin.
        #[arg(long)]
        token_file: Option<PathBuf>,
    },
    /// Revoke a token (RFC 7009), as the logged-in integration; the token from --token-file or
    /// standard input.
    ///
    /// Example: tessera token revoke --token-file ~/.tessera/bearer.txt
    Revoke {
        #[command(flatten)]
        session: crate::remote::SessionArgs,
        #[arg(long)]
        token_file: Option<PathBuf>,
    },
    /// Tokens for up to five tenants that authorized the logged-in application (TMS).
    ///
    /// Example: tessera token tms --tenant tenant/6f1c… --tenant tenant/0a2e… --output json
    Tms {
        #[command(flatten)]
        session: crate::remote::SessionArgs,
        /// A tenant id; repeat for up to five.
        #[arg(long = "tenant", required = true)]
        tenants: Vec<String>,
    },
    /// Get a user's token with the JWT bearer grant (RFC 7523): sign an assertion with a key
    /// from a key store (PEM or PKCS#12) registered on the integration.
    ///
    /// Example: tessera token jwt-bearer --issuer "$CLIENT_ID" --subject jsmith@example.com --key-store connector.p12 --key-store-password-file pw.txt
    JwtBearer {
        /// The claims issuer: the integration's client_id.
        #[arg(long, env = "TESSERA_CLIENT_ID")]
        issuer: String,
        /// The claims subject: the user's email or id.
        #[arg(long)]
        subject: String,
        /// The key store: a PEM file (PKCS#8 key, optionally its certificate) or PKCS#12.
        #[arg(long)]
        key_store: PathBuf,
        /// A file holding the PKCS#12 password; otherwise TESSERA_KEY_STORE_PASSWORD (never
        /// the command line, where `ps` would show it).
        #[arg(long)]
        key_store_password_file: Option<PathBuf>,
        /// The alias of the key in a PKCS#12 key store; default: its only (first) key.
        #[arg(long)]
        key_alias: Option<String>,
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// Print a token's header and payload as pretty JSON, with times in words.
    ///
    /// Example: tessera token decode --verify --server https://auth.example.com < bearer.txt
    Decode {
        /// The token; `-` or nothing reads it from standard input.
        token: Option<String>,
        /// Verify the signature against the server's JWKS.
        #[arg(long)]
        verify: bool,
        /// The server whose `/oauth2/jwks` verifies the token.
        #[arg(long, env = "TESSERA_ISSUER", default_value = "http://127.0.0.1:8080")]
        server: String,
    },
}

/// The key of `--dpop-key`.
fn dpop_signer(path: &Path) -> anyhow::Result<tessera_core::token::SigningKey> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read the DPoP key {}", path.display()))?;
    if !bytes.starts_with(b"-----BEGIN") {
        bail!(
            "--dpop-key takes a PEM file with a PKCS#8 private key (`-----BEGIN PRIVATE KEY-----`)"
        );
    }
    let now = OffsetDateTime::now_utc().unix_timestamp() * 1000;
    Ok(crate::key_store::load(&bytes, None, None, now)?.key)
}

/// A DPoP proof for a POST to `url`, now, with the server's `nonce` if it gave one.
fn dpop_proof(
    key: &tessera_core::token::SigningKey,
    url: &str,
    nonce: Option<&str>,
) -> anyhow::Result<String> {
    let mut jti = [0u8; 16];
    tessera_core::ports::Rng::fill(&tessera_core::ports::OsRng, &mut jti);
    let mut claims = serde_json::json!({
        "jti": jti.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        "htm": "POST",
        "htu": url,
        "iat": OffsetDateTime::now_utc().unix_timestamp(),
    });
    if let Some(nonce) = nonce {
        claims["nonce"] = serde_json::Value::String(nonce.to_owned());
    }
    key.sign_dpop_proof(&claims)
        .map_err(|e| anyhow::anyhow!("cannot sign the DPoP proof: {e}"))
}

/// Where a token comes from and where it goes: the options `token get` and `token jwt-bearer`
/// share.
#[derive(clap::Args)]
pub struct Endpoint {
    /// The token endpoint (for `jwt-bearer`, also the assertion's audience).
    #[arg(
        long,
        env = "TESSERA_TOKEN_URL",
        default_value = "http://127.0.0.1:8080/oauth2/token"
    )]
    token_url: String,
    /// Space-separated scopes to narrow the token to.
    #[arg(long)]
    scope: Option<String>,
    /// Also write `Authorization: Bearer <token>` to this file (its folder is made 0700, the
    /// file 0600), for `curl -H @file`.
    #[arg(long)]
    bearer_file: Option<PathBuf>,
}

pub async fn run(cmd: TokenCommand) -> anyhow::Result<()> {
    match cmd {
        TokenCommand::Get {
            client_id,
            client_secret_file,
            tenant_id,
            dpop_key,
            endpoint,
        } => {
            let secret = crate::remote::read_secret(client_secret_file.as_deref())?;
            if dpop_key.is_some() && endpoint.bearer_file.is_some() {
                return Err(crate::remote::Usage(
                    "--bearer-file cannot go with --dpop-key: a DPoP-bound token is sent with a fresh proof each time, which a file of headers cannot hold".into(),
                )
                .into());
            }
            let dpop = dpop_key.as_deref().map(dpop_signer).transpose()?;
            let mut form = vec![("grant_type", "client_credentials")];
            if let Some(scope) = endpoint.scope.as_deref() {
                form.push(("scope", scope));
            }
            if let Some(tenant) = tenant_id.as_deref() {
                form.push(("tenant_id", tenant));
            }
            let request = |nonce: Option<&str>| -> anyhow::Result<reqwest::RequestBuilder> {
                let mut request = reqwest::Client::new()
                    .post(&endpoint.token_url)
                    .basic_auth(&client_id, Some(&secret))
                    .form(&form);
                if let Some(key) = &dpop {
                    request = request.header("dpop", dpop_proof(key, &endpoint.token_url, nonce)?);
                }
                Ok(request)
            };
            let url = &endpoint.token_url;
            let (status, nonce, body) = crate::remote::token_answer(request(None)?, url).await?;
            // RFC 9449 §8: a server that wants its nonce says so once, giving it.
            let token = match nonce {
                Some(nonce) if dpop.is_some() && body["error"] == "use_dpop_nonce" => {
                    token_from(request(Some(&nonce))?, url).await?
                }
                _ => crate::remote::token_in(status, &body)?,
            };
            finish(&token, endpoint.bearer_file.as_deref())
        }
        TokenCommand::Introspect {
            session,
            token_file,
        } => {
            let token = read_token(token_file.as_deref())?;
            let session = crate::remote::Session::open(&session).await?;
            let answer = session
                .post_as_client(
                    "/oauth2/introspect",
                    Some(&[("token", token.as_str())]),
                    None,
                )
                .await?;
            match session.output {
                crate::remote::Output::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&answer).unwrap_or_default()
                ),
                crate::remote::Output::Table => print!("{}", describe_introspection(&answer)),
            }
            Ok(())
        }
        TokenCommand::Revoke {
            session,
            token_file,
        } => {
            let token = read_token(token_file.as_deref())?;
            let session = crate::remote::Session::open(&session).await?;
            session
                .post_as_client("/oauth2/revoke", Some(&[("token", token.as_str())]), None)
                .await?;
            eprintln!("revoked");
            Ok(())
        }
        TokenCommand::Tms { session, tenants } => {
            if tenants.len() > 5 {
                return Err(crate::remote::Usage(format!(
                    "at most 5 tenants a call ({} given)",
                    tenants.len()
                ))
                .into());
            }
            let session = crate::remote::Session::open(&session).await?;
            let answer = session
                .post_as_client(
                    "/tms/v1/tokens",
                    None,
                    Some(&serde_json::json!({ "tenants": tenants })),
                )
                .await?;
            match session.output {
                crate::remote::Output::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&answer).unwrap_or_default()
                ),
                crate::remote::Output::Table => {
                    crate::output::table(
                        &[
                            ("TENANT_ID", "tenant_id"),
                            ("SCOPE", "scope"),
                            ("EXPIRES_IN", "expires_in"),
                            ("ACCESS_TOKEN", "access_token"),
                        ],
                        answer["tokens"].as_array().map_or(&[][..], Vec::as_slice),
                    );
                    for error in answer["errors"].as_array().into_iter().flatten() {
                        eprintln!(
                            "{}: {} ({})",
                            error["tenant_id"].as_str().unwrap_or_default(),
                            error["error"].as_str().unwrap_or_default(),
                            error["error_description"].as_str().unwrap_or_default()
                        );
                    }
                }
            }
            Ok(())
        }
        TokenCommand::JwtBearer {
            issuer,
            subject,
            key_store,
            key_store_password_file,
            key_alias,
            endpoint,
        } => {
            let Endpoint {
                token_url,
                scope,
                bearer_file,
            } = endpoint;
            let key_store_password = match key_store_password_file {
                Some(path) => Some(
                    std::fs::read_to_string(&path)
                        .with_context(|| {
                            format!("cannot read the password file {}", path.display())
                        })?
                        .trim_end_matches(['\n', '\r'])
                        .to_owned(),
                ),
                None => std::env::var("TESSERA_KEY_STORE_PASSWORD").ok(),
            };
            let bytes = std::fs::read(&key_store)
                .with_context(|| format!("cannot read the key store {}", key_store.display()))?;
            let now = OffsetDateTime::now_utc().unix_timestamp();
            let loaded = crate::key_store::load(
                &bytes,
                key_store_password.as_deref(),
                key_alias.as_deref(),
                now * 1000,
            )?;
            let assertion = loaded
                .key
                .sign_jwt(&serde_json::json!({
                    "iss": issuer, "sub": subject, "aud": token_url,
                    "iat": now, "exp": now + 300, "jti": uuid::Uuid::new_v4().to_string(),
                }))
                .map_err(|e| anyhow::anyhow!("cannot sign the assertion: {e}"))?;
            let mut form = vec![
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ];
            if let Some(scope) = scope.as_deref() {
                form.push(("scope", scope));
            }
            let request = reqwest::Client::new().post(&token_url).form(&form);
            let token = token_from(request, &token_url).await?;
            finish(&token, bearer_file.as_deref())
        }
        TokenCommand::Decode {
            token,
            verify,
            server,
        } => {
            // `decode` sends the token nowhere, so it may come on the command line too.
            let token = match token.filter(|t| t != "-") {
                Some(t) => bare_token(&t)?,
                None => read_token(None)?,
            };
            let decoded = DecodedJws::decode(&token)?;
            print!(
                "{}",
                describe(&decoded, OffsetDateTime::now_utc().unix_timestamp())
            );
            if verify {
                let url = format!("{}/oauth2/jwks", server.trim_end_matches('/'));
                let jwks: serde_json::Value = reqwest::get(&url)
                    .await
                    .with_context(|| format!("cannot fetch {url}"))?
                    .error_for_status()?
                    .json()
                    .await
                    .with_context(|| format!("{url} did not answer a JWKS"))?;
                match decoded.verify_with(&VerifyingKey::from_jwks(&jwks)) {
                    Ok(()) => println!("Signature: valid (key from {url})"),
                    Err(e) => bail!("signature NOT valid: {e}"),
                }
            }
            Ok(())
        }
    }
}

/// A token from a file or standard input, with an `Authorization: Bearer ` prefix dropped.
fn read_token(file: Option<&Path>) -> anyhow::Result<String> {
    bare_token(&crate::remote::read_input(file, "the token")?)
}

/// The token of `text`, with an `Authorization: Bearer ` prefix (a bearer file's) dropped.
fn bare_token(text: &str) -> anyhow::Result<String> {
    let token = text
        .trim()
        .trim_start_matches("Authorization: Bearer ")
        .trim()
        .to_owned();
    if token.is_empty() {
        return Err(crate::remote::Usage(
            "no token: give --token-file or pipe the token in".into(),
        )
        .into());
    }
    Ok(token)
}

/// An introspection answer for people: active or not, and who and what it is for.
fn describe_introspection(answer: &serde_json::Value) -> String {
    if answer["active"] != true {
        return "active: false\n".into();
    }
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let mut out = String::from("active: true\n");
    for field in ["client_id", "sub", "scope", "tenant_id", "aud", "iss"] {
        match &answer[field] {
            serde_json::Value::Null => {}
            serde_json::Value::String(s) => out.push_str(&format!("{field}: {s}\n")),
            other => out.push_str(&format!("{field}: {other}\n")),
        }
    }
    if let Some(exp) = answer["exp"].as_i64() {
        out.push_str(&format!("exp: {exp} ({})\n", in_words(exp - now)));
    }
    out
}

/// Prints the token, and writes the bearer file if one was asked for.
fn finish(token: &str, bearer_file: Option<&Path>) -> anyhow::Result<()> {
    if let Some(path) = bearer_file {
        write_bearer_file(path, token)?;
        eprintln!("wrote {}", path.display());
    }
    println!("{token}");
    Ok(())
}

fn write_bearer_file(path: &Path, token: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot make {} private", dir.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    writeln!(file, "Authorization: Bearer {token}")?;
    Ok(())
}

/// "in 59 minutes", "3 hours ago".
pub fn in_words(seconds_from_now: i64) -> String {
    let n = seconds_from_now.unsigned_abs();
    let amount = match n {
        0..=59 => format!("{n} second{}", if n == 1 { "" } else { "s" }),
        60..=3599 => format!("{} minute{}", n / 60, if n / 60 == 1 { "" } else { "s" }),
        3600..=172_799 => format!("{} hour{}", n / 3600, if n / 3600 == 1 { "" } else { "s" }),
        _ => format!("{} days", n / 86_400),
    };
    if seconds_from_now >= 0 {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

fn describe(decoded: &DecodedJws, now: i64) -> String {
    let pretty = |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_default();
    let mut out = format!(
        "Header:\n{}\nPayload:\n{}\n",
        pretty(&decoded.header),
        pretty(&decoded.payload)
    );
    let mut times = String::new();
    for claim in ["iat", "nbf", "exp"] {
        if let Some(t) = decoded.payload.get(claim).and_then(|v| v.as_i64()) {
            let when = OffsetDateTime::from_unix_timestamp(t)
                .ok()
                .and_then(|d| {
                    d.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or_else(|| t.to_string());
            times.push_str(&format!("  {claim}  {when}  ({})\n", in_words(t - now)));
        }
    }
    if !times.is_empty() {
        out.push_str("Times:\n");
        out.push_str(&times);
    }
    if let Some(exp) = decoded.payload.get("exp").and_then(|v| v.as_i64()) {
        if exp <= now {
            out.push_str("The token has EXPIRED.\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_words() {
        assert_eq!(in_words(3540), "in 59 minutes");
        assert_eq!(in_words(-7200), "2 hours ago");
        assert_eq!(in_words(1), "in 1 second");
    }
}

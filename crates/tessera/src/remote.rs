//! The admin client's connection to a server (SPEC §10): `tessera login` keeps a server, a
//! client id and its secret as a named profile in the user's config folder (0600), and every
//! admin command opens a session from it (or from `TESSERA_SERVER`, `TESSERA_CLIENT_ID` and
//! `TESSERA_CLIENT_SECRET`, for scripts) and calls the HTTP API — never the database.
//!
//! Exit codes: 0 done, 1 a failure on our side (unreachable server, unreadable file),
//! 2 a usage error (clap's), 3 the server refused (its `error_description` is printed).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The server refused a call: exit status 3.
#[derive(Debug, thiserror::Error)]
#[error("{status}: {message}")]
pub struct Refused {
    pub status: u16,
    pub message: String,
}

/// The command was not said right: exit status 2, as clap's own usage errors.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

/// The exit status for an error: 3 refused by the server, 2 a usage error, else 1.
pub fn exit_status(error: &anyhow::Error) -> u8 {
    if error.downcast_ref::<Refused>().is_some() {
        3
    } else if error.downcast_ref::<Usage>().is_some() {
        2
    } else {
        1
    }
}

/// `table` for people, `json` for scripts.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Output {
    #[default]
    Table,
    Json,
}

/// Which profile, and how to print.
#[derive(Args, Debug, Clone)]
pub struct SessionArgs {
    /// The profile `tessera login` saved [default: `default`].
    #[arg(long, env = "TESSERA_PROFILE", default_value = "default")]
    pub profile: String,
    /// `table` for people, `json` (the API's field names) for scripts and jq.
    #[arg(long, value_enum, default_value = "table")]
    pub output: Output,
    /// Print only these fields' values, space-separated, a line per object (for shell
    /// variables: `ID=$(tessera integration create … --field client_id)`).
    #[arg(long = "field", value_name = "FIELD")]
    pub fields: Vec<String>,
    /// Instead of a profile: the server's base URL [default: $TESSERA_SERVER, else
    /// http://127.0.0.1:8080].
    #[arg(long, requires = "client_id")]
    pub server: Option<String>,
    /// Instead of a profile: the integration to act as; its secret from `--client-secret-file`,
    /// `TESSERA_CLIENT_SECRET` or a prompt.
    #[arg(long)]
    pub client_id: Option<String>,
    /// A file holding that integration's secret.
    #[arg(long, requires = "client_id")]
    pub client_secret_file: Option<PathBuf>,
}

/// One saved server and the integration that calls it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Profile {
    pub server: String,
    pub client_id: String,
    pub client_secret: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Profiles {
    #[serde(default)]
    profiles: BTreeMap<String, Profile>,
}

/// `$XDG_CONFIG_HOME/tessera/profiles.toml`, or `~/.config/tessera/profiles.toml`.
pub fn profiles_path() -> anyhow::Result<PathBuf> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .context("neither XDG_CONFIG_HOME nor HOME is set: nowhere to keep the profile")?,
        )
        .join(".config"),
    };
    Ok(base.join("tessera").join("profiles.toml"))
}

fn read_profiles(path: &Path) -> anyhow::Result<Profiles> {
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text)
            .with_context(|| format!("{} is not a profiles file", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Profiles::default()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Written to a temporary file (0600) in a 0700 folder and renamed over the old one.
fn write_profiles(path: &Path, profiles: &Profiles) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    let dir = path.parent().context("the profiles file has no folder")?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    let staged = path.with_extension("toml.new");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&staged)
        .with_context(|| format!("cannot write {}", staged.display()))?;
    file.write_all(toml::to_string(profiles)?.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&staged, path).with_context(|| format!("cannot write {}", path.display()))
}

/// What a command reads from `path`, or from standard input when there is no path or it is
/// `-`; `what` names it in the error (`the token`, `the value`).
pub fn read_input(path: Option<&Path>, what: &str) -> anyhow::Result<String> {
    match path.filter(|p| p.as_os_str() != "-") {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {what} from {}", path.display())),
        None => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .with_context(|| format!("cannot read {what} from standard input"))?;
            Ok(text)
        }
    }
}

/// Whether to go on with what cannot be undone (`what`: "delete integration <id>"): yes with
/// `--yes`; otherwise asked on the terminal; without one, a usage error that says to add
/// `--yes`. Every destructive command asks this one way.
pub fn confirm(what: &str, yes: bool) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Usage(format!(
            "{what} cannot be undone: add --yes to confirm (there is no terminal to ask on)"
        ))
        .into());
    }
    eprint!("{what}? This cannot be undone. [y/N] ");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .context("cannot read the answer")?;
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        Err(Usage(format!("{what}: not confirmed, nothing changed")).into())
    }
}

/// The secret: from a file, `TESSERA_CLIENT_SECRET`, or a prompt on the terminal — never argv.
pub fn read_secret(file: Option<&Path>) -> anyhow::Result<String> {
    if let Some(path) = file {
        let secret = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the secret file {}", path.display()))?;
        return Ok(secret.trim().to_owned());
    }
    if let Ok(secret) = std::env::var("TESSERA_CLIENT_SECRET") {
        return Ok(secret);
    }
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password("client secret: ").context("cannot read the secret");
    }
    bail!("no client secret: pass --client-secret-file, set TESSERA_CLIENT_SECRET, or run on a terminal to be asked")
}

#[derive(Args, Debug)]
pub struct LoginArgs {
    /// The server's base URL, e.g. https://auth.example.com.
    #[arg(long)]
    server: String,
    /// The integration to act as (its tokens' scopes are what the commands may do).
    #[arg(long)]
    client_id: String,
    /// A file holding the secret; otherwise TESSERA_CLIENT_SECRET, or a prompt.
    #[arg(long)]
    client_secret_file: Option<PathBuf>,
    /// The name to save it under.
    #[arg(long, env = "TESSERA_PROFILE", default_value = "default")]
    profile: String,
}

/// `tessera login`: checks the credentials by getting a token, then saves the profile.
pub async fn login(args: LoginArgs) -> anyhow::Result<()> {
    let secret = read_secret(args.client_secret_file.as_deref())?;
    let server = args.server.trim_end_matches('/').to_owned();
    let token = token(&server, &args.client_id, &secret).await?;
    let scopes = tessera_core::token::DecodedJws::decode(&token)
        .ok()
        .and_then(|d| d.payload["scope"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let path = profiles_path()?;
    let mut profiles = read_profiles(&path)?;
    profiles.profiles.insert(
        args.profile.clone(),
        Profile {
            server: server.clone(),
            client_id: args.client_id.clone(),
            client_secret: secret,
        },
    );
    write_profiles(&path, &profiles)?;
    println!(
        "logged in to {server} as {} (scopes: {scopes}); profile `{}` saved in {}",
        args.client_id,
        args.profile,
        path.display()
    );
    Ok(())
}

#[derive(Args, Debug)]
pub struct LogoutArgs {
    /// The profile to forget.
    #[arg(long, env = "TESSERA_PROFILE", default_value = "default")]
    profile: String,
}

/// `tessera logout`: forgets the profile (and its secret).
pub async fn logout(args: LogoutArgs) -> anyhow::Result<()> {
    let path = profiles_path()?;
    let mut profiles = read_profiles(&path)?;
    if profiles.profiles.remove(&args.profile).is_none() {
        bail!(
            "there is no profile `{}` in {}",
            args.profile,
            path.display()
        );
    }
    write_profiles(&path, &profiles)?;
    println!("profile `{}` removed from {}", args.profile, path.display());
    Ok(())
}

async fn token(server: &str, client_id: &str, secret: &str) -> anyhow::Result<String> {
    get_token(client_id, secret, &format!("{server}/oauth2/token"), None)
        .await
        .with_context(|| format!("cannot get a token from {server} as {client_id}"))
}

/// A logged-in caller of the API.
pub struct Session {
    base: String,
    token: String,
    http: reqwest::Client,
    profile: Profile,
    pub output: Output,
    /// `--field`: only these values are printed.
    pub fields: Vec<String>,
}

impl Session {
    /// As the integration `--client-id` names, else from `TESSERA_SERVER` +
    /// `TESSERA_CLIENT_ID` + `TESSERA_CLIENT_SECRET` when all are set, else from the profile.
    pub async fn open(args: &SessionArgs) -> anyhow::Result<Session> {
        if let Some(client_id) = &args.client_id {
            let profile = Profile {
                server: args
                    .server
                    .clone()
                    .or_else(|| std::env::var("TESSERA_SERVER").ok())
                    .unwrap_or_else(|| "http://127.0.0.1:8080".into()),
                client_id: client_id.clone(),
                client_secret: read_secret(args.client_secret_file.as_deref())?,
            };
            let mut session = Session::with(&profile, args.output).await?;
            session.fields.clone_from(&args.fields);
            return Ok(session);
        }
        let from_env = (
            std::env::var("TESSERA_SERVER"),
            std::env::var("TESSERA_CLIENT_ID"),
            std::env::var("TESSERA_CLIENT_SECRET"),
        );
        let profile = match from_env {
            (Ok(server), Ok(client_id), Ok(client_secret)) => Profile {
                server,
                client_id,
                client_secret,
            },
            _ => {
                let path = profiles_path()?;
                read_profiles(&path)?
                    .profiles
                    .remove(&args.profile)
                    .with_context(|| {
                        format!(
                            "not logged in (no profile `{}` in {}): run tessera login --server URL --client-id ID",
                            args.profile,
                            path.display()
                        )
                    })?
            }
        };
        let mut session = Session::with(&profile, args.output).await?;
        session.fields.clone_from(&args.fields);
        Ok(session)
    }

    /// The integration the session runs as.
    pub fn client_id(&self) -> &str {
        &self.profile.client_id
    }

    /// A session as `profile`'s integration.
    pub async fn with(profile: &Profile, output: Output) -> anyhow::Result<Session> {
        let base = profile.server.trim_end_matches('/').to_owned();
        let token = token(&base, &profile.client_id, &profile.client_secret).await?;
        Ok(Session {
            base,
            token,
            http: reqwest::Client::new(),
            profile: profile.clone(),
            output,
            fields: Vec::new(),
        })
    }

    /// A form POST authenticated as the integration itself (HTTP Basic), as introspection,
    /// revocation and TMS want; the answer as JSON (`null` when empty).
    pub async fn post_as_client(
        &self,
        path: &str,
        form: Option<&[(&str, &str)]>,
        json: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let mut request = self
            .http
            .post(&url)
            .basic_auth(&self.profile.client_id, Some(&self.profile.client_secret));
        if let Some(form) = form {
            request = request.form(form);
        }
        if let Some(json) = json {
            request = request.json(json);
        }
        answer(request, &url).await
    }

    /// Sends a request; a non-2xx answer is [`Refused`] with the server's words.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method, &url).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        answer(request, &url).await
    }

    /// Prints `whole` as JSON, the `--field` values of `rows`, or `rows` as a table.
    pub fn print(&self, whole: &Value, rows: &[Value], columns: &[(&str, &str)]) {
        if !self.fields.is_empty() {
            for row in rows {
                let values: Vec<String> = self
                    .fields
                    .iter()
                    .map(|f| crate::output::cell(&row[f]))
                    .collect();
                println!("{}", values.join(" "));
            }
            return;
        }
        match self.output {
            Output::Json => println!(
                "{}",
                serde_json::to_string_pretty(whole).unwrap_or_default()
            ),
            Output::Table => crate::output::table(columns, rows),
        }
    }

    /// Every item of a paged listing: `key` of each page, following `next_page_token`.
    pub async fn list_all(
        &self,
        path: &str,
        key: &str,
        page_size: u32,
    ) -> anyhow::Result<Vec<Value>> {
        let mut all = Vec::new();
        let mut page_token = String::new();
        let joiner = if path.contains('?') { '&' } else { '?' };
        loop {
            let page = self
                .call(
                    reqwest::Method::GET,
                    &format!("{path}{joiner}page_size={page_size}&page_token={page_token}"),
                    None,
                )
                .await?;
            all.extend(page[key].as_array().cloned().unwrap_or_default());
            page_token = page["next_page_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if page_token.is_empty() {
                return Ok(all);
            }
        }
    }
}

/// Sends `request`; a non-2xx answer is [`Refused`] with the server's words.
async fn answer(request: reqwest::RequestBuilder, url: &str) -> anyhow::Result<Value> {
    let response = request
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let body: Value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text.clone()))
    };
    if !status.is_success() {
        let message = body["error_description"]
            .as_str()
            .or(body["error"].as_str())
            .map_or_else(|| text.clone(), str::to_owned);
        return Err(Refused {
            status: status.as_u16(),
            message,
        }
        .into());
    }
    Ok(body)
}

pub(crate) async fn get_token(
    client_id: &str,
    secret: &str,
    url: &str,
    scope: Option<&str>,
) -> anyhow::Result<String> {
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    let request = reqwest::Client::new()
        .post(url)
        .basic_auth(client_id, Some(secret))
        .form(&form);
    token_from(request, url).await
}

/// Sends a token request and returns the access token, or the server's error in words.
pub(crate) async fn token_from(
    request: reqwest::RequestBuilder,
    url: &str,
) -> anyhow::Result<String> {
    let (status, _, body) = token_answer(request, url).await?;
    token_in(status, &body)
}

/// The token endpoint's status, `DPoP-Nonce` (RFC 9449 §8) and JSON answer to `request`.
pub(crate) async fn token_answer(
    request: reqwest::RequestBuilder,
    url: &str,
) -> anyhow::Result<(reqwest::StatusCode, Option<String>, serde_json::Value)> {
    let response = request
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = response.status();
    let nonce = response
        .headers()
        .get("dpop-nonce")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body: serde_json::Value = response
        .json()
        .await
        .with_context(|| format!("{url} did not answer JSON"))?;
    Ok((status, nonce, body))
}

/// The access token of a token endpoint's answer, or its refusal.
pub(crate) fn token_in(
    status: reqwest::StatusCode,
    body: &serde_json::Value,
) -> anyhow::Result<String> {
    if !status.is_success() {
        return Err(Refused {
            status: status.as_u16(),
            message: format!(
                "{} — {}",
                body["error"].as_str().unwrap_or("error"),
                body["error_description"].as_str().unwrap_or("")
            ),
        }
        .into());
    }
    body["access_token"]
        .as_str()
        .map(str::to_owned)
        .context("the response has no access_token")
}

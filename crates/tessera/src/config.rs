//! Configuration: one typed struct, from a TOML file, overridden by `TESSERA_*` environment
//! variables, overridden by flags (clap reads flag and variable into the same field; the file
//! fills what both left empty).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;
use serde::Deserialize;
use tessera_core::crypto::MasterKey;
use tessera_core::model::DEFAULT_MAX_VALUE_BYTES;
use tessera_core::ports::Rng;
use tessera_core::token::SigningAlg;
use tessera_server::access_log::AccessLog;
use tessera_server::forwarded::TrustedProxies;
use tessera_server::tls::CertificateFiles;

/// Where the data lives: used by `serve`, `migrate` and the admin commands.
#[derive(Args, Debug, Clone, Default)]
pub struct StorageArgs {
    /// TOML configuration file.
    #[arg(long, env = "TESSERA_CONFIG")]
    pub config: Option<PathBuf>,
    /// Folder for the SQLite database and the generated master key [default: ./tessera-data].
    #[arg(long, env = "TESSERA_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// `postgres://…` to use PostgreSQL; default: SQLite in the data folder.
    #[arg(long, env = "TESSERA_DATABASE_URL")]
    pub database: Option<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct ServeArgs {
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Address to listen on; port 0 picks a free one and prints it [default: 127.0.0.1:8080].
    #[arg(long, env = "TESSERA_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// The issuer URL: `iss` of tokens and base of discovery URLs [default: http://<listen>].
    #[arg(long, env = "TESSERA_ISSUER")]
    pub issuer: Option<String>,
    /// `aud` of tokens [default: the issuer].
    #[arg(long, env = "TESSERA_AUDIENCE")]
    pub audience: Option<String>,
    /// RS256, ES256 or EdDSA [default: RS256].
    #[arg(long, env = "TESSERA_SIGNING_ALG")]
    pub signing_alg: Option<String>,
    /// Rotate the signing key when it is this many days old; 0 turns rotation off [default: 0].
    #[arg(long, env = "TESSERA_KEY_ROTATION_DAYS")]
    pub key_rotation_days: Option<u32>,
    /// The largest value of an application private token, in bytes [default: 16777216].
    #[arg(long, env = "TESSERA_PRIVATE_TOKEN_MAX_BYTES")]
    pub private_token_max_bytes: Option<usize>,
    /// How long a webhook is retried before it is given up, in seconds [default: 86400].
    #[arg(long, env = "TESSERA_WEBHOOK_RETRY_HORIZON_SECONDS")]
    pub webhook_retry_horizon_seconds: Option<u64>,
    /// The first wait after a failed webhook, in milliseconds; it doubles on each failure, up to
    /// an hour [default: 1000].
    #[arg(long, env = "TESSERA_WEBHOOK_RETRY_BASE_MS")]
    pub webhook_retry_base_ms: Option<u64>,
    /// Let integrations register plain-http URLs on any host (callbacks, webhooks, key sets);
    /// by default plain http reaches loopback only. For closed networks.
    #[arg(long, env = "TESSERA_ALLOW_PLAIN_HTTP_CALLBACKS")]
    pub allow_plain_http_callbacks: bool,
    /// Let outgoing calls (jwks_uri key sets, connection callbacks, webhooks) reach loopback,
    /// private, link-local and metadata addresses; by default they reach public addresses
    /// only. For closed networks, local development and tests.
    #[arg(long, env = "TESSERA_ALLOW_PRIVATE_CALLBACKS")]
    pub allow_private_callbacks: bool,
    /// Ask for the server's nonce in every DPoP proof (RFC 9449 §8): a captured proof stays
    /// usable for minutes at most; clients retry once with the `DPoP-Nonce` they are given.
    #[arg(long, env = "TESSERA_DPOP_NONCES")]
    pub dpop_nonces: bool,
    /// Let anyone make a tenant at /console/sign-up with an email and a password (rate-limited
    /// per address); off by default, and /console/sign-up answers 404 then.
    #[arg(long, env = "TESSERA_ALLOW_SIGN_UP")]
    pub allow_sign_up: bool,
    /// The proxies in front of Tessera, as `CIDR,CIDR,…` (e.g. `10.0.0.0/8,127.0.0.1`): only from
    /// these addresses do `Forwarded`, `X-Forwarded-For` and `X-Forwarded-Proto` say who the
    /// client is (rate limits, logs) and whether it used https (cookies). Headers from anyone
    /// else are ignored [default: none].
    #[arg(long, env = "TESSERA_TRUSTED_PROXIES")]
    pub trusted_proxies: Option<String>,
    /// Seconds a client may take to send a request's head, from connecting or from its last
    /// response on a kept-alive connection [default: 20].
    #[arg(long, env = "TESSERA_HEADER_TIMEOUT_SECONDS")]
    pub header_timeout_seconds: Option<u64>,
    /// Seconds a kept-alive connection may sit idle after a response before the next request
    /// starts; then it is closed [default: 10].
    #[arg(long, env = "TESSERA_KEEP_ALIVE_IDLE_SECONDS")]
    pub keep_alive_idle_seconds: Option<u64>,
    /// Seconds a client may take to send a request's body [default: 120].
    #[arg(long, env = "TESSERA_BODY_TIMEOUT_SECONDS")]
    pub body_timeout_seconds: Option<u64>,
    /// The longest pause, in seconds, between two parts of a request body [default: 20].
    #[arg(long, env = "TESSERA_BODY_IDLE_TIMEOUT_SECONDS")]
    pub body_idle_timeout_seconds: Option<u64>,
    /// Open connections at most [default: the file limit, raised to its hard limit, less 256
    /// for the database and outgoing calls].
    #[arg(long, env = "TESSERA_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// MiB that large request bodies being received may hold together; past it they are
    /// answered 503 with Retry-After [default: 256].
    #[arg(long, env = "TESSERA_BODY_MEMORY_BUDGET_MIB")]
    pub body_memory_budget_mib: Option<usize>,
    /// A console session's absolute lifetime, in hours [default: 12].
    #[arg(long, env = "TESSERA_SESSION_HOURS")]
    pub session_hours: Option<u32>,
    /// How long an unused console session lasts, in minutes [default: 60].
    #[arg(long, env = "TESSERA_SESSION_IDLE_MINUTES")]
    pub session_idle_minutes: Option<u32>,
    /// How long an invitation link stays usable, in seconds [default: 604800, 7 days].
    #[arg(long, env = "TESSERA_INVITATION_TTL_SECONDS")]
    pub invitation_ttl_seconds: Option<u32>,
    /// Log format: `text` or `json` [default: text].
    #[arg(long, env = "TESSERA_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// Access log lines (target `tessera::access`, level info): `all` requests, only `errors`
    /// (4xx and 5xx), or `off` [default: all].
    #[arg(long, env = "TESSERA_ACCESS_LOG")]
    pub access_log: Option<String>,
    /// A PEM certificate chain to serve HTTPS (HTTP/2 and HTTP/1.1) with; needs --tls-key.
    /// Read again when it changes [default: plain http].
    #[arg(long, env = "TESSERA_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key (PKCS#8, PKCS#1 or SEC1) of --tls-cert.
    #[arg(long, env = "TESSERA_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// A second address serving /metrics, /healthz and /readyz for the operator's network;
    /// /metrics then leaves the API's address [default: none, /metrics is on --listen].
    #[arg(long, env = "TESSERA_ADMIN_LISTEN")]
    pub admin_listen: Option<SocketAddr>,
    /// Print the effective configuration (secrets redacted) and exit.
    #[arg(long)]
    pub print_config: bool,
}

/// The TOML file: the same names as the flags, with underscores.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database: Option<String>,
    issuer: Option<String>,
    audience: Option<String>,
    signing_alg: Option<String>,
    key_rotation_days: Option<u32>,
    private_token_max_bytes: Option<usize>,
    webhook_retry_horizon_seconds: Option<u64>,
    webhook_retry_base_ms: Option<u64>,
    allow_plain_http_callbacks: Option<bool>,
    allow_sign_up: Option<bool>,
    allow_private_callbacks: Option<bool>,
    dpop_nonces: Option<bool>,
    trusted_proxies: Option<String>,
    invitation_ttl_seconds: Option<u32>,
    header_timeout_seconds: Option<u64>,
    keep_alive_idle_seconds: Option<u64>,
    body_timeout_seconds: Option<u64>,
    body_idle_timeout_seconds: Option<u64>,
    max_connections: Option<usize>,
    session_hours: Option<u32>,
    session_idle_minutes: Option<u32>,
    body_memory_budget_mib: Option<usize>,
    log_format: Option<String>,
    access_log: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    admin_listen: Option<SocketAddr>,
}

/// The most a deployment may allow one private token to hold: a JSON body is parsed whole, so
/// this bounds what one request can cost.
const MAX_PRIVATE_TOKEN_BYTES: usize = 256 * 1024 * 1024;

/// The effective configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database: String,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub signing_alg: SigningAlg,
    pub key_rotation_days: u32,
    pub private_token_max_bytes: usize,
    pub webhook_retry_horizon_seconds: u64,
    pub webhook_retry_base_ms: u64,
    pub allow_plain_http_callbacks: bool,
    pub allow_sign_up: bool,
    pub allow_private_callbacks: bool,
    pub dpop_nonces: bool,
    pub trusted_proxies: TrustedProxies,
    pub invitation_ttl_seconds: u32,
    pub header_timeout_seconds: u64,
    pub keep_alive_idle_seconds: u64,
    pub body_timeout_seconds: u64,
    pub body_idle_timeout_seconds: u64,
    /// `None`: from the file limit at start.
    pub max_connections: Option<usize>,
    pub session_seconds: i64,
    pub session_idle_seconds: i64,
    pub body_budget_mib: usize,
    pub json_logs: bool,
    pub access_log: AccessLog,
    pub tls: Option<CertificateFiles>,
    pub admin_listen: Option<SocketAddr>,
}

fn read_file(path: Option<&Path>) -> anyhow::Result<FileConfig> {
    let Some(path) = path else {
        return Ok(FileConfig::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("{} is not valid configuration", path.display()))
}

/// A timeout from configuration: 1 second to a day.
fn seconds(name: &str, given: Option<u64>, default: u64) -> anyhow::Result<u64> {
    let value = given.unwrap_or(default);
    if !(1..=86_400).contains(&value) {
        bail!("{name} must be between 1 and 86400 seconds");
    }
    Ok(value)
}

/// The data folder, made if missing and readable by this user only (0700, SPEC §13).
pub fn private_folder(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data folder {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot make the data folder {} private", dir.display()))
}

/// A file of the data folder, made empty if missing, readable by this user only (0600). SQLite
/// gives its `-wal` and `-shm` files the database file's mode.
fn private_file(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot make {} private", path.display()))
}

impl StorageArgs {
    /// The data folder and the database URL.
    pub fn resolve(&self) -> anyhow::Result<(PathBuf, String)> {
        let file = read_file(self.config.as_deref())?;
        let data_dir = self
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("tessera-data"));
        let database = match self.database.clone().or(file.database) {
            Some(url) => url,
            None => {
                private_folder(&data_dir)?;
                let file = data_dir.join("tessera.db");
                private_file(&file)?;
                format!("sqlite://{}", file.display())
            }
        };
        Ok((data_dir, database))
    }
}

impl ServeArgs {
    pub fn resolve(&self) -> anyhow::Result<Settings> {
        let file = read_file(self.storage.config.as_deref())?;
        let (data_dir, database) = self.storage.resolve()?;
        let alg_name = self
            .signing_alg
            .clone()
            .or(file.signing_alg)
            .unwrap_or_else(|| "RS256".into());
        let Some(signing_alg) = SigningAlg::parse(&alg_name) else {
            bail!("signing_alg `{alg_name}` is not supported: use RS256, ES256 or EdDSA");
        };
        let log_format = self
            .log_format
            .clone()
            .or(file.log_format)
            .unwrap_or_else(|| "text".into());
        let json_logs = match log_format.as_str() {
            "json" => true,
            "text" => false,
            other => bail!("log_format `{other}` is not supported: use text or json"),
        };
        let private_token_max_bytes = self
            .private_token_max_bytes
            .or(file.private_token_max_bytes)
            .unwrap_or(DEFAULT_MAX_VALUE_BYTES);
        if private_token_max_bytes == 0 || private_token_max_bytes > MAX_PRIVATE_TOKEN_BYTES {
            bail!("private_token_max_bytes must be from 1 to {MAX_PRIVATE_TOKEN_BYTES} (256 MiB)");
        }
        let webhook_retry_horizon_seconds = self
            .webhook_retry_horizon_seconds
            .or(file.webhook_retry_horizon_seconds)
            .unwrap_or(86_400);
        let webhook_retry_base_ms = self
            .webhook_retry_base_ms
            .or(file.webhook_retry_base_ms)
            .unwrap_or(1000);
        if webhook_retry_base_ms == 0 || webhook_retry_base_ms > 3_600_000 {
            bail!("webhook_retry_base_ms must be from 1 to 3600000 (an hour)");
        }
        let invitation_ttl_seconds = self
            .invitation_ttl_seconds
            .or(file.invitation_ttl_seconds)
            .unwrap_or(7 * 86_400);
        if !(60..=90 * 86_400).contains(&invitation_ttl_seconds) {
            bail!("invitation_ttl_seconds must be between 60 and 7776000 (90 days)");
        }
        let access_log = match self.access_log.as_deref().or(file.access_log.as_deref()) {
            None => AccessLog::default(),
            Some(level) => AccessLog::parse(level).with_context(|| {
                format!("access_log must be all, errors or off (got `{level}`)")
            })?,
        };
        let trusted_proxies = TrustedProxies::parse(
            self.trusted_proxies
                .as_deref()
                .or(file.trusted_proxies.as_deref())
                .unwrap_or_default(),
        )
        .map_err(|e| anyhow::anyhow!("--trusted-proxies: {e}"))?;
        let tls = match (
            self.tls_cert.clone().or(file.tls_cert),
            self.tls_key.clone().or(file.tls_key),
        ) {
            (Some(cert), Some(key)) => Some(CertificateFiles { cert, key }),
            (None, None) => None,
            (Some(_), None) => bail!("--tls-cert needs --tls-key: the certificate's private key"),
            (None, Some(_)) => bail!("--tls-key needs --tls-cert: the certificate chain"),
        };
        Ok(Settings {
            listen: self
                .listen
                .or(file.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            data_dir,
            database,
            issuer: self.issuer.clone().or(file.issuer),
            audience: self.audience.clone().or(file.audience),
            signing_alg,
            key_rotation_days: self
                .key_rotation_days
                .or(file.key_rotation_days)
                .unwrap_or(0),
            private_token_max_bytes,
            webhook_retry_horizon_seconds,
            webhook_retry_base_ms,
            allow_plain_http_callbacks: self.allow_plain_http_callbacks
                || file.allow_plain_http_callbacks.unwrap_or(false),
            allow_sign_up: self.allow_sign_up || file.allow_sign_up.unwrap_or(false),
            allow_private_callbacks: self.allow_private_callbacks
                || file.allow_private_callbacks.unwrap_or(false),
            dpop_nonces: self.dpop_nonces || file.dpop_nonces.unwrap_or(false),
            trusted_proxies,
            invitation_ttl_seconds,
            header_timeout_seconds: seconds(
                "header_timeout_seconds",
                self.header_timeout_seconds.or(file.header_timeout_seconds),
                20,
            )?,
            keep_alive_idle_seconds: seconds(
                "keep_alive_idle_seconds",
                self.keep_alive_idle_seconds
                    .or(file.keep_alive_idle_seconds),
                10,
            )?,
            body_timeout_seconds: seconds(
                "body_timeout_seconds",
                self.body_timeout_seconds.or(file.body_timeout_seconds),
                120,
            )?,
            body_idle_timeout_seconds: seconds(
                "body_idle_timeout_seconds",
                self.body_idle_timeout_seconds
                    .or(file.body_idle_timeout_seconds),
                20,
            )?,
            max_connections: self.max_connections.or(file.max_connections),
            body_budget_mib: self
                .body_memory_budget_mib
                .or(file.body_memory_budget_mib)
                .unwrap_or(256)
                .clamp(2, 64 * 1024),
            session_seconds: i64::from(
                self.session_hours
                    .or(file.session_hours)
                    .unwrap_or(12)
                    .clamp(1, 24 * 30),
            ) * 3600,
            session_idle_seconds: i64::from(
                self.session_idle_minutes
                    .or(file.session_idle_minutes)
                    .unwrap_or(60)
                    .clamp(1, 24 * 60),
            ) * 60,
            json_logs,
            access_log,
            tls,
            admin_listen: self.admin_listen.or(file.admin_listen),
        })
    }
}

impl Settings {
    /// `https` with --tls-cert, else `http`: the default issuer's scheme.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// The configuration as TOML, with the database password redacted.
    pub fn printable(&self) -> String {
        let database = redact_url(&self.database);
        format!(
            "listen = \"{}\"\ndata_dir = \"{}\"\ndatabase = \"{}\"\nissuer = \"{}\"\naudience = \"{}\"\nsigning_alg = \"{}\"\nkey_rotation_days = {}\nprivate_token_max_bytes = {}\nallow_sign_up = {}\ntrusted_proxies = \"{}\"\ninvitation_ttl_seconds = {}\nlog_format = \"{}\"\naccess_log = \"{}\"\n{}{}# master key: {}\n",
            self.listen,
            self.data_dir.display(),
            database,
            self.issuer.clone().unwrap_or_else(|| format!("{}://{}", self.scheme(), self.listen)),
            self.audience.clone().unwrap_or_else(|| "(the issuer)".into()),
            self.signing_alg.as_str(),
            self.key_rotation_days,
            self.private_token_max_bytes,
            self.allow_sign_up,
            self.trusted_proxies,
            self.invitation_ttl_seconds,
            if self.json_logs { "json" } else { "text" },
            self.access_log.as_str(),
            self.tls.as_ref().map_or(String::new(), |t| format!(
                "tls_cert = \"{}\"\ntls_key = \"{}\"\n",
                t.cert.display(),
                t.key.display()
            )),
            self.admin_listen.map_or(String::new(), |a| format!("admin_listen = \"{a}\"\n")),
            if std::env::var_os("TESSERA_MASTER_KEY").is_some() { "[redacted] from TESSERA_MASTER_KEY" } else { "from the data folder" },
        )
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:[redacted]@host/db`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:[redacted]{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// The master key: `TESSERA_MASTER_KEY`, or `master.key` in the data folder, generated with mode
/// 0600 on first start.
pub fn master_key(data_dir: &Path, rng: &dyn Rng) -> anyhow::Result<MasterKey> {
    if let Ok(text) = std::env::var("TESSERA_MASTER_KEY") {
        return MasterKey::parse(&text).context("TESSERA_MASTER_KEY");
    }
    let path = data_dir.join("master.key");
    match std::fs::read_to_string(&path) {
        Ok(text) => MasterKey::parse(&text).with_context(|| format!("{}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            private_folder(data_dir)?;
            let (key, text) = MasterKey::generate(rng);
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            writeln!(file, "{}", text.expose())
                .with_context(|| format!("cannot write {}", path.display()))?;
            file.sync_all()?;
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:pw@h:5432/db"),
            "postgres://u:[redacted]@h:5432/db"
        );
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
    }

    #[test]
    fn flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.toml");
        std::fs::write(
            &file,
            "signing_alg = \"ES256\"\nlisten = \"127.0.0.1:9000\"\n",
        )
        .unwrap();
        let args = ServeArgs {
            storage: StorageArgs {
                config: Some(file.clone()),
                data_dir: Some(dir.path().into()),
                database: None,
            },
            listen: Some("127.0.0.1:9100".parse().unwrap()),
            ..Default::default()
        };
        let s = args.resolve().unwrap();
        assert_eq!(s.signing_alg, SigningAlg::Es256);
        assert_eq!(s.listen.port(), 9100);
        std::fs::write(&file, "signing_alg = \"HS256\"\n").unwrap();
        assert!(args.resolve().unwrap_err().to_string().contains("HS256"));
    }

    #[test]
    fn the_example_configuration_is_valid() {
        let text = include_str!("../../../tessera.example.toml");
        let parsed: FileConfig = toml::from_str(text).unwrap();
        assert_eq!(parsed.signing_alg.as_deref(), Some("RS256"));
    }
}

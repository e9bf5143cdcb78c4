//! Running it in production (SPEC §13) through the binary: HTTPS with a test CA and a
//! certificate replaced while serving, HTTP/2, the refusals of a bad pair, and the admin
//! address.

use std::path::Path;
use std::time::Duration;

use crate::cli::openssl;

/// A test CA in `dir` (`ca.pem`, `ca.key`).
fn certificate_authority(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=Tessera test CA",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
    );
}

/// A server certificate for 127.0.0.1 signed by the test CA: `{name}.pem`, `{name}.key`, and
/// its DER form `{name}.der`.
fn server_certificate(dir: &Path, name: &str) {
    let (key, csr, pem, der) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.pem"),
        format!("{name}.der"),
    );
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-nodes",
            "-subj",
            &format!("/CN={name}"),
            "-newkey",
            "rsa:2048",
            "-keyout",
            &key,
            "-out",
            &csr,
        ],
    );
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            &pem,
        ],
    );
    openssl(dir, &["x509", "-in", &pem, "-outform", "DER", "-out", &der]);
}

/// A client that trusts the test CA only, tells which certificate it was shown, and speaks
/// HTTP/2 when the server offers it.
fn trusting_client(dir: &Path) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(dir.join("ca.pem")).unwrap()).unwrap();
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .tls_info(true)
        .build()
        .unwrap()
}

fn shown_certificate(response: &reqwest::Response) -> Vec<u8> {
    response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .expect("the server showed a certificate")
        .to_vec()
}

/// Copies `{name}.pem` and `{name}.key` over the served `cert.pem` and `key.pem`, each
/// written to a temporary name and renamed, as certbot and cert-manager do.
fn install(dir: &Path, name: &str) {
    for (from, to) in [(format!("{name}.pem"), "cert.pem"), (format!("{name}.key"), "key.pem")] {
        let staged = dir.join(format!("{to}.new"));
        std::fs::copy(dir.join(from), &staged).unwrap();
        std::fs::rename(staged, dir.join(to)).unwrap();
    }
}

/// A server on HTTPS with the certificate `first` of a test CA (`second` made beside it,
/// waiting to replace it), the TLS files' directory, and the server.
fn https_server() -> (tempfile::TempDir, std::path::PathBuf, crate::Server) {
    let (guard, dir) = crate::data_dir();
    let tls = dir.parent().unwrap().join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    certificate_authority(&tls);
    server_certificate(&tls, "first");
    server_certificate(&tls, "second");
    install(&tls, "first");
    let (cert, key) = (tls.join("cert.pem"), tls.join("key.pem"));
    let tls_args = ["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()];
    let server = crate::serve(&dir, &tls_args, true);
    assert!(server.url.starts_with("https://127.0.0.1:"), "{}", server.url);
    (guard, tls, server)
}

#[tokio::test]
async fn https_serves_http2_with_an_https_issuer_and_secure_cookies() {
    let (_guard, tls, server) = https_server();
    let client = trusting_client(&tls);
    let discovery = client
        .get(format!("{}/.well-known/openid-configuration", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(discovery.version(), reqwest::Version::HTTP_2);
    assert_eq!(shown_certificate(&discovery), std::fs::read(tls.join("first.der")).unwrap());
    let document: serde_json::Value = discovery.json().await.unwrap();
    assert_eq!(document["issuer"], server.url.as_str());
    assert_eq!(document["token_endpoint"], format!("{}/oauth2/token", server.url));

    // A token over HTTP/2, and the console's cookie marked Secure.
    let issued = client
        .post(format!("{}/oauth2/token", server.url))
        .basic_auth(crate::BOOT_ID, Some(crate::BOOT_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!((issued.status().as_u16(), issued.version()), (200, reqwest::Version::HTTP_2));
    let sign_in = client.get(format!("{}/console/sign-in", server.url)).send().await.unwrap();
    let cookie = sign_in.headers().get("set-cookie").and_then(|v| v.to_str().ok());
    assert!(cookie.unwrap_or_default().contains("; Secure"), "{cookie:?}");
}

#[tokio::test]
async fn https_picks_up_a_replaced_certificate_and_keeps_open_connections() {
    let (_guard, tls, server) = https_server();
    let issued = trusting_client(&tls)
        .post(format!("{}/oauth2/token", server.url))
        .basic_auth(crate::BOOT_ID, Some(crate::BOOT_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let issued: serde_json::Value = issued.json().await.unwrap();
    let token = issued["access_token"].as_str().unwrap().to_owned();
    // A connection kept open across the replacement goes on with the old certificate.
    let kept = trusting_client(&tls);
    let introspect = |client: reqwest::Client| {
        let (url, token) = (format!("{}/oauth2/introspect", server.url), token.clone());
        async move {
            client
                .post(url)
                .basic_auth(crate::BOOT_ID, Some(crate::BOOT_SECRET))
                .form(&[("token", token)])
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(introspect(kept.clone()).await.status(), 200);

    install(&tls, "second");
    let second = std::fs::read(tls.join("second.der")).unwrap();
    let mut shown = Vec::new();
    for _ in 0..100 {
        // A new client, so a new connection and handshake.
        let response =
            trusting_client(&tls).get(format!("{}/healthz", server.url)).send().await.unwrap();
        shown = shown_certificate(&response);
        if shown == second {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(shown == second, "new handshakes get the replaced certificate");
    let answered = introspect(kept).await;
    assert_eq!(answered.status(), 200);
    assert!(
        shown_certificate(&answered) == std::fs::read(tls.join("first.der")).unwrap(),
        "the kept connection was not dropped: it still has the first handshake's certificate"
    );
    let body: serde_json::Value = answered.json().await.unwrap();
    assert_eq!(body["active"], true);

    // A broken replacement (a key that is not the certificate's) is refused; the second pair
    // keeps serving.
    std::fs::copy(tls.join("first.key"), tls.join("key.pem.new")).unwrap();
    std::fs::rename(tls.join("key.pem.new"), tls.join("key.pem")).unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let still = trusting_client(&tls).get(format!("{}/healthz", server.url)).send().await.unwrap();
    assert!(shown_certificate(&still) == second, "the second pair still serves");
}

/// Runs `tessera serve` with `args`, expecting it to stop at once with `expected` in stderr.
fn refused_start(dir: &Path, args: &[&str], expected: &str) {
    let out = crate::tessera()
        .arg("serve")
        .arg("--data-dir")
        .arg(dir)
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} started");
    assert!(stderr.contains(expected), "{args:?}: {stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("listening"));
}

#[test]
fn a_bad_certificate_or_key_stops_the_start_with_a_message() {
    let (_guard, dir) = crate::data_dir();
    let tls = dir.parent().unwrap().join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    certificate_authority(&tls);
    server_certificate(&tls, "one");
    server_certificate(&tls, "other");
    let path = |name: &str| tls.join(name).to_str().unwrap().to_owned();
    refused_start(
        &dir,
        &["--tls-cert", &path("one.pem"), "--tls-key", &path("other.key")],
        "does not belong to the certificate",
    );
    refused_start(
        &dir,
        &["--tls-cert", &path("missing.pem"), "--tls-key", &path("one.key")],
        "cannot read",
    );
    refused_start(
        &dir,
        &["--tls-cert", &path("one.key"), "--tls-key", &path("one.key")],
        "holds no PEM certificate",
    );
    refused_start(
        &dir,
        &["--tls-cert", &path("one.pem"), "--tls-key", &path("one.pem")],
        "holds no PEM private key",
    );
    refused_start(&dir, &["--tls-cert", &path("one.pem")], "--tls-cert needs --tls-key");
}

#[tokio::test]
async fn the_admin_address_serves_metrics_and_health_and_the_api_address_no_metrics() {
    let (_guard, dir) = crate::data_dir();
    let server = crate::serve(&dir, &["--admin-listen", "127.0.0.1:0"], true);
    let admin = server
        .stdout
        .iter()
        .find_map(|l| l.strip_prefix("tessera admin listening on "))
        .expect("the admin address is printed")
        .to_owned();
    let issued = crate::token(&server.url, crate::BOOT_ID, crate::BOOT_SECRET, None).await;
    assert_eq!(issued.status(), 200);
    let get = |url: String| async move { reqwest::get(url).await.unwrap() };

    let metrics = get(format!("{admin}/metrics")).await;
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    for wanted in [
        "tessera_token_requests_total{grant=\"client_credentials\",outcome=\"issued\"} 1",
        "tessera_request_duration_seconds_count{route=\"/oauth2/token\",status=\"2xx\"} 1",
        "process_resident_memory_bytes",
    ] {
        assert!(text.contains(wanted), "{wanted} in {text}");
    }
    for path in ["/healthz", "/readyz"] {
        assert_eq!(get(format!("{admin}{path}")).await.status(), 200, "{path}");
        assert_eq!(get(format!("{}{path}", server.url)).await.status(), 200, "{path}");
    }
    assert_eq!(get(format!("{}/metrics", server.url)).await.status(), 404);
    // The admin address serves nothing else.
    assert_eq!(get(format!("{admin}/oauth2/jwks")).await.status(), 404);
    assert_eq!(get(format!("{admin}/.well-known/openid-configuration")).await.status(), 404);
}

/// `tessera migrate` with `args`, its exit status and output.
fn migrate(args: &[&str]) -> (bool, String, String) {
    let out = crate::tessera().arg("migrate").args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The issuer stays the same across the move (a deployment's public URL); the listening
/// ports of the two test servers differ.
const ISSUER: &str = "https://tessera.example";

/// A SQLite deployment ready to move, and what must hold after the move.
struct Moving {
    /// The SQLite database's URL.
    from: String,
    /// An integration's id and secret.
    id: String,
    secret: String,
    /// Its token that stays good, and one it revoked.
    kept: String,
    revoked: String,
}

/// A SQLite deployment in `dir` with an integration, a private token sealed with the master
/// key, a token revoked; stopped, as docs/operations.md says (SIGTERM: the queued audit
/// records written).
async fn deployment_to_move(dir: &Path) -> Moving {
    let mut server = crate::serve(dir, &["--issuer", ISSUER], true);
    let admin = crate::access_token(&server.url, crate::BOOT_ID, crate::BOOT_SECRET).await;
    let made = crate::post_json(
        format!("{}/v1/integrations", server.url),
        &admin,
        serde_json::json!({"display_name": "moved along", "scopes": ["private_tokens"]}),
    )
    .await;
    let id = made["client_id"].as_str().unwrap().to_owned();
    let secret = made["client_secret"].as_str().unwrap().to_owned();
    let kept = crate::access_token(&server.url, &id, &secret).await;
    let revoked = crate::access_token(&server.url, &id, &secret).await;
    let client = reqwest::Client::new();
    let put = client
        .put(format!("{}/v1/private_tokens/project/api-key", server.url))
        .bearer_auth(&kept)
        .header("content-type", "text/plain")
        .body("sealed with the master key")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    let revoke = client
        .post(format!("{}/oauth2/revoke", server.url))
        .basic_auth(&id, Some(&secret))
        .form(&[("token", revoked.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 200);
    let pid = server.child.id().to_string();
    let stopped = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(stopped.success());
    assert!(server.child.wait().unwrap().success());
    let from = format!("sqlite://{}", dir.join("tessera.db").display());
    Moving { from, id, secret, kept, revoked }
}

#[tokio::test]
async fn migrate_moves_a_sqlite_deployment_to_postgres_where_tokens_revocations_and_secrets_hold() {
    let Some(target) = crate::postgres_or_skip() else {
        return;
    };
    let (_guard, dir) = crate::data_dir();
    let Moving { from, id, secret, kept, revoked } = deployment_to_move(&dir).await;
    let client = reqwest::Client::new();

    let (ok, _, stderr) = migrate(&["--from", &from, "--to", "postgres://nobody@127.0.0.1:1/none"]);
    assert!(!ok && stderr.contains("cannot reach the PostgreSQL database"), "{stderr}");
    let (ok, _, stderr) = migrate(&["--from", "sqlite:///no/such/tessera.db", "--to", &target]);
    assert!(!ok && stderr.contains("no SQLite database at"), "{stderr}");

    let (ok, stdout, stderr) = migrate(&["--from", &from, "--to", &target]);
    assert!(ok, "{stdout}{stderr}");
    let parts = ["tenants", "integrations", "signing_keys", "revoked_tokens", "private_tokens"];
    for part in parts.into_iter().chain(["checksum", "(source = target)", "same master key"]) {
        assert!(stdout.contains(part), "{part} in {stdout}");
    }
    // Counts: the tenants' line says how many rows (the operator's tenant at least).
    let tenants = stdout.lines().find(|l| l.trim_start().starts_with("tenants ")).unwrap();
    assert!(!tenants.contains(" 0 rows"), "{tenants}");
    let audit = stdout.lines().find(|l| l.trim_start().starts_with("audit_log ")).unwrap();
    assert!(!audit.contains(" 0 rows"), "{audit}");
    // Into a database that has rows now: refused, and it is left as it was.
    let (ok, _, stderr) = migrate(&["--from", &from, "--to", &target]);
    assert!(!ok && stderr.contains("not empty") && stderr.contains("--replace"), "{stderr}");
    let (ok, again, stderr) = migrate(&["--from", &from, "--to", &target, "--replace"]);
    assert!(ok && again.contains("previous rows deleted"), "{again}{stderr}");
    // The same rows and checksums both times.
    let table_lines = |s: &str| -> Vec<String> {
        s.lines().filter(|l| l.contains("checksum")).map(str::to_owned).collect()
    };
    assert_eq!(table_lines(&stdout), table_lines(&again));

    // The PostgreSQL deployment, with the same master key.
    let moved = crate::serve(&dir, &["--database", &target, "--issuer", ISSUER], true);
    let introspect = |token: String| {
        let url = format!("{}/oauth2/introspect", moved.url);
        let (id, secret) = (id.clone(), secret.clone());
        async move {
            let reply = reqwest::Client::new()
                .post(url)
                .basic_auth(id, Some(secret))
                .form(&[("token", token)])
                .send()
                .await
                .unwrap();
            assert_eq!(reply.status(), 200);
            reply.json::<serde_json::Value>().await.unwrap()
        }
    };
    assert_eq!(introspect(kept.clone()).await["active"], true);
    assert_eq!(introspect(revoked.clone()).await["active"], false);
    // The secrets: the integration's, the operator's, and the sealed private token.
    crate::access_token(&moved.url, &id, &secret).await;
    crate::access_token(&moved.url, crate::BOOT_ID, crate::BOOT_SECRET).await;
    let value = client
        .get(format!("{}/v1/private_tokens/project/api-key", moved.url))
        .bearer_auth(&kept)
        .send()
        .await
        .unwrap();
    assert_eq!(value.status(), 200);
    let value: serde_json::Value = value.json().await.unwrap();
    assert_eq!(value["value"], "sealed with the master key");
    // New rows get new ids: the sequences were moved past the copied ones.
    let another = crate::post_json(
        format!("{}/v1/integrations", moved.url),
        &crate::access_token(&moved.url, crate::BOOT_ID, crate::BOOT_SECRET).await,
        serde_json::json!({"display_name": "made after the move"}),
    )
    .await;
    assert!(another["client_id"].is_string(), "{another}");
}

#[tokio::test]
async fn the_health_command_tells_a_ready_server_from_none() {
    let (_guard, dir) = crate::data_dir();
    let server = crate::serve(&dir, &[], true);
    let ready = crate::tessera()
        .args(["health", "--url", &format!("{}/readyz", server.url)])
        .output()
        .unwrap();
    assert!(ready.status.success(), "{ready:?}");
    assert_eq!(String::from_utf8_lossy(&ready.stdout).trim(), "ready");
    let missing = crate::tessera()
        .args(["health", "--url", &format!("{}/no-such-check", server.url)])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("answered 404"));
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/readyz", listener.local_addr().unwrap())
    };
    let none = crate::tessera().args(["health", "--url", &closed]).output().unwrap();
    assert!(!none.status.success());
    assert!(String::from_utf8_lossy(&none.stderr).contains("did not answer"));
}

#[tokio::test]
async fn an_http2_connection_that_sends_no_request_is_closed_within_the_header_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (_guard, dir) = crate::data_dir();
    let tls = dir.parent().unwrap().join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    certificate_authority(&tls);
    server_certificate(&tls, "server");
    let server = crate::serve(
        &dir,
        &[
            "--tls-cert",
            tls.join("server.pem").to_str().unwrap(),
            "--tls-key",
            tls.join("server.key").to_str().unwrap(),
            "--header-timeout-seconds",
            "1",
            "--keep-alive-idle-seconds",
            "1",
        ],
        true,
    );
    let mut roots = rustls::RootCertStore::empty();
    let ca = std::fs::read(tls.join("ca.pem")).unwrap();
    for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(&ca) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let address = server.url.trim_start_matches("https://").to_owned();
    let tcp = tokio::net::TcpStream::connect(&address).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut stream = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap();
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    // The client preface and an empty SETTINGS frame, then nothing: no request.
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut buf = [0u8; 4096];
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {} // the server's SETTINGS, its ACK, a GOAWAY
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the idle HTTP/2 connection was still open after 10 s");
    assert!(started.elapsed() < Duration::from_secs(5), "closed after {:?}", started.elapsed());
}

//! Third-party clients the end-to-end tests run as child processes: the Python ones (the MCP
//! SDK, Authlib) from the venv `.ci/run` makes, the Node.js ones (openid-client) from the
//! `node_modules` it installs. Each script speaks in lines: `name: value` on stdout, answers on
//! stdin. CI must have them; elsewhere a missing one skips its test with a note.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn target() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target")
}

/// `path` when it exists; else skipped outside CI, a failure in CI.
fn required(what: &str, path: PathBuf) -> Option<PathBuf> {
    if path.exists() {
        return Some(path);
    }
    assert!(std::env::var_os("CI").is_none(), "CI must run {what}: {} is missing", path.display());
    eprintln!("{what} test skipped: {} is missing", path.display());
    None
}

/// The Python with the pinned `mcp` and `authlib`: `MCP_PYTHON`, or `target/mcp-venv` where
/// `.ci/run` makes it.
pub fn python() -> Option<PathBuf> {
    let path = std::env::var_os("MCP_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| target().join("mcp-venv/bin/python"));
    required("the Python clients", path)
}

/// `target/oauth-clients`, where `.ci/run` installs the pinned npm clients (`npm ci`); the
/// scripts are copied next to their `node_modules` so that Node.js resolves them there.
pub fn node_clients() -> Option<PathBuf> {
    let dir = target().join("oauth-clients");
    required("the npm OAuth clients", dir.join("node_modules/openid-client"))?;
    Some(dir)
}

/// A script of `tests/<dir>/`, run by `program` in `cwd`.
pub struct Script {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Drop for Script {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Script {
    /// Runs `program script` with `env`, its stdout lines on a channel (and echoed to stderr).
    pub fn start(program: &Path, script: &Path, env: &[(&str, String)]) -> Script {
        let mut child = Command::new(program)
            .arg(script)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{} starts: {e}", program.display()));
        let stdout = child.stdout.take().expect("a piped stdout");
        let name = script.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                eprintln!("[{name}] {line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Script { child, lines }
    }

    /// The next line that starts with `prefix`, within `seconds`, without the prefix; a
    /// `failed:` line first fails the test with the script's words.
    pub fn expect(&self, prefix: &str, seconds: u64) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(seconds);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no `{prefix}` line in {seconds} s"));
            if let Some(rest) = line.strip_prefix(prefix) {
                return rest.trim().to_owned();
            }
            assert!(!line.starts_with("failed:"), "waiting for `{prefix}`: {line}");
        }
    }

    /// Writes `line` to the script's stdin.
    pub fn send(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().expect("a piped stdin");
        stdin.write_all(format!("{line}\n").as_bytes()).expect("the script reads");
    }
}

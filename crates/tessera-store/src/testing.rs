//! Test databases (feature `testing`): a fresh SQLite file, or a fresh database on a throwaway
//! PostgreSQL cluster that this process starts with `initdb`/`pg_ctl` on a free port.
//!
//! The cluster is started once per test binary and stopped by a watchdog when the process exits.
//! Where the PostgreSQL binaries are missing, [`postgres_url`] says so and the PostgreSQL half of
//! a test is skipped with a printed notice; `.ci/run` installs them, so CI always runs both.

use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// A fresh SQLite database in a temporary directory (kept alive by the returned guard).
pub fn sqlite_url() -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("tessera.db").display());
    (url, dir)
}

struct Cluster {
    port: u16,
    admin_user: String,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

/// Where the PostgreSQL server binaries are: `PATH`, or Debian's versioned folder.
pub fn postgres_bin_dir() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .find(|p| p.join("initdb").is_file() && p.join("pg_ctl").is_file())
    });
    on_path.or_else(|| {
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|p| p.join("initdb").is_file())
            .collect();
        versions.sort();
        versions.pop()
    })
}

/// A URL to a new, empty database on the shared throwaway cluster, or why there is none.
pub fn postgres_url() -> Result<String, String> {
    let cluster = CLUSTER
        .get_or_init(start_cluster)
        .as_ref()
        .map_err(Clone::clone)?;
    let n = NEXT_DB.fetch_add(1, Ordering::SeqCst);
    let name = format!("t{}_{}", std::process::id(), n);
    psql(cluster, &format!("CREATE DATABASE {name}"))?;
    Ok(format!(
        "postgres://{}@127.0.0.1:{}/{name}",
        cluster.admin_user, cluster.port
    ))
}

/// Runs `sql` on the throwaway cluster as its administrator (for a test that must act on a
/// database from outside, e.g. cut it off from the server).
pub fn postgres_admin(sql: &str) -> Result<(), String> {
    let cluster = CLUSTER
        .get_or_init(start_cluster)
        .as_ref()
        .map_err(Clone::clone)?;
    psql(cluster, sql)
}

fn psql(cluster: &Cluster, sql: &str) -> Result<(), String> {
    let psql = postgres_bin_dir()
        .map(|d| d.join("psql"))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("psql"));
    let status = Command::new(psql)
        .args(["-h", "127.0.0.1", "-p", &cluster.port.to_string()])
        .args(["-U", &cluster.admin_user, "-d", "postgres", "-q", "-c", sql])
        .status()
        .map_err(|e| format!("psql could not run: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{sql}` failed"))
    }
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

/// initdb refuses to run as root; as root we run the server as the `postgres` user that the
/// Debian package creates.
fn as_postgres_user(program: &Path) -> Command {
    let is_root = std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false);
    if is_root {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

fn start_cluster() -> Result<Cluster, String> {
    let bin = postgres_bin_dir()
        .ok_or("the PostgreSQL server binaries (initdb, pg_ctl) are not installed")?;
    let dir = std::env::temp_dir().join(format!("tessera-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let is_root = std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false);
    if is_root {
        let ok = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            return Err("could not hand the cluster folder to the `postgres` user".into());
        }
    }
    let data = dir.join("data");
    let out = as_postgres_user(&bin.join("initdb"))
        .args(["-D"])
        .arg(&data)
        .args(["-U", "tessera", "--auth=trust", "--no-sync", "-E", "UTF8"])
        .output()
        .map_err(|e| format!("initdb could not run: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let port = free_port()?;
    let options = format!(
        "-p {port} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c synchronous_commit=off \
         -c full_page_writes=off -c max_connections=300",
        dir.display()
    );
    let out = as_postgres_user(&bin.join("pg_ctl"))
        .arg("-D")
        .arg(&data)
        .args(["-o", &options, "-l"])
        .arg(dir.join("log"))
        .args(["-w", "start"])
        .output()
        .map_err(|e| format!("pg_ctl could not run: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "pg_ctl start failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    // A watchdog stops the cluster and removes its folder once this process is gone, since
    // statics are never dropped.
    let stop = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {sudo}{pg_ctl} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        sudo = if is_root { "runuser -u postgres -- " } else { "" },
        pg_ctl = bin.join("pg_ctl").display(),
        data = data.display(),
        dir = dir.display(),
    );
    Command::new("sh")
        .args(["-c", &stop])
        .stdin(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("could not start the cluster watchdog: {e}"))?;
    Ok(Cluster {
        port,
        admin_user: "tessera".into(),
    })
}

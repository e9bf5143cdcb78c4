//! `tessera backup` (SPEC §13): a consistent copy of a live SQLite database, taken while it
//! serves. SQLite's `VACUUM INTO` reads one snapshot of the database (WAL readers never wait
//! for the writer, nor it for them) and writes a compact copy. The copy is written under a
//! temporary name beside the target, checked, made private (0600) and only then linked to the
//! target's name, which must not exist: a failed backup leaves nothing half-written, and an
//! existing file is never replaced.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};
use tessera_core::ports::StoreError;

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    /// The copy's size in bytes.
    pub bytes: u64,
    /// How many tables it holds.
    pub tables: u64,
}

/// Copies the SQLite database at `url` to `to`, which must not exist.
pub async fn backup_sqlite(url: &str, to: &Path) -> Result<Backup, StoreError> {
    let fail = |what: String| StoreError::Backend(what);
    if !url.starts_with("sqlite:") {
        return Err(fail(
            "backup copies the embedded SQLite database; back a PostgreSQL database up with its own tools (pg_dump, or a base backup)".into(),
        ));
    }
    if to.exists() {
        return Err(fail(format!(
            "{} exists already; give a new file name (a backup never replaces a file)",
            to.display()
        )));
    }
    let name = to
        .file_name()
        .ok_or_else(|| fail(format!("{} names no file", to.display())))?;
    let partial: PathBuf = to.with_file_name(format!(
        ".{}.partial-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&partial);
    let written = copy(url, &partial, to).await;
    let _ = std::fs::remove_file(&partial);
    written
}

async fn copy(url: &str, partial: &Path, to: &Path) -> Result<Backup, StoreError> {
    let fail = |what: String| StoreError::Backend(what);
    // The source must exist: a backup never makes an empty database.
    let mut source = SqliteConnectOptions::from_str(url)
        .map_err(|e| fail(e.to_string()))?
        .create_if_missing(false)
        .read_only(true)
        .connect()
        .await
        .map_err(|e| fail(format!("cannot open the database: {e}")))?;
    let target = partial
        .to_str()
        .ok_or_else(|| fail(format!("{} is not a UTF-8 path", partial.display())))?;
    sqlx::query("VACUUM INTO ?")
        .bind(target)
        .execute(&mut source)
        .await
        .map_err(|e| fail(format!("cannot write {}: {e}", to.display())))?;
    source.close().await.ok();
    let mut copy = SqliteConnectOptions::from_str(&format!("sqlite://{target}"))
        .map_err(|e| fail(e.to_string()))?
        .read_only(true)
        .connect()
        .await
        .map_err(|e| fail(format!("cannot read the copy back: {e}")))?;
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut copy)
        .await
        .map_err(|e| fail(format!("cannot check the copy: {e}")))?;
    if check != "ok" {
        return Err(fail(format!(
            "the copy does not pass SQLite's integrity check: {check}"
        )));
    }
    let tables: i64 = sqlx::query_scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table'")
        .fetch_one(&mut copy)
        .await
        .map_err(|e| fail(e.to_string()))?;
    copy.close().await.ok();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(partial, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| fail(format!("cannot make the copy private: {e}")))?;
    }
    // A hard link fails if the name exists: no race can make the backup replace a file.
    std::fs::hard_link(partial, to)
        .map_err(|e| fail(format!("cannot name the copy {}: {e}", to.display())))?;
    let bytes = std::fs::metadata(to).map(|m| m.len()).unwrap_or(0);
    Ok(Backup {
        bytes,
        tables: u64::try_from(tables).unwrap_or(0),
    })
}

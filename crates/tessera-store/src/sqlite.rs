//! SQLite: one file under the data directory, WAL mode so readers never wait for the writer.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use tessera_core::ports::StoreError;

use crate::backend_error;

/// How a transaction that writes begins. SQLite: take the write lock at the start. A deferred
/// transaction that reads and then writes fails at once with SQLITE_BUSY when another connection wrote in between (the busy timeout
/// cannot help there), which the audit flusher makes likely.
const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The store on SQLite.
#[derive(Clone)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
}

impl SqliteStore {
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(backend_error)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL + NORMAL is durable across a process kill (SPEC §11); only a power loss
            // may lose the last transactions.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .map_err(backend_error)?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Backend(format!("migration failed: {e}")))?;
        Ok(SqliteStore { pool })
    }
}

impl_applications!(SqliteStore);
impl_connections!(SqliteStore);
impl_tenants!(SqliteStore, sqlx::Sqlite);
impl_storage!(SqliteStore, "sqlite");
impl_resources!(SqliteStore, sqlx::Sqlite);
// SQLite: BEGIN IMMEDIATE already holds the write lock, so a read locks nothing more.
impl_private_tokens!(
    SqliteStore,
    sqlx::Sqlite,
    "json_array",
    "json_group_array",
    "",
    "group_concat(p.value, '' ORDER BY p.part)"
);

//! SQLite: one file under the data directory, WAL mode so readers never wait for the writer.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use tessera_core::ports::StoreError;

use crate::aggregates::stamp_storage;
use crate::backend_error;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The store on SQLite.
#[derive(Clone)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
    /// The token path's writes, committed together (`crate::group_commit`).
    pub(crate) writes: crate::group_commit::Committer,
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
        let writes = writes::committer(pool.clone());
        Ok(SqliteStore { pool, writes })
    }
}

// The backend: its sqlx database, its dialect, and every storage port stamped onto it.
stamp_storage!(SqliteStore, sqlx::Sqlite, SQLITE);

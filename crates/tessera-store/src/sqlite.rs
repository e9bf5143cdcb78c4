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
            // No checkpoint inside a commit: the one that crosses the WAL's threshold would
            // copy pages and fsync on the token path. `checkpoints` runs them beside it.
            .pragma("wal_autocheckpoint", "0")
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
        tokio::spawn(checkpoints(pool.clone()));
        let writes = writes::committer(pool.clone());
        Ok(SqliteStore { pool, writes })
    }
}

/// Moves the WAL into the database file once a second, beside the writers: a passive
/// checkpoint waits for no one and blocks no one (it copies what no reader still needs; the
/// rest goes the next time). Ends with the pool.
async fn checkpoints(pool: SqlitePool) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if pool.is_closed() {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            tracing::warn!(error = %e, "the SQLite checkpoint failed; the next one tries again");
        }
    }
}

// The backend: its sqlx database, its dialect, and every storage port stamped onto it.
stamp_storage!(SqliteStore, sqlx::Sqlite, SQLITE);

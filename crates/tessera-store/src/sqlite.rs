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
        Self::connect_with(url, WalLimits::DEFAULT).await
    }

    /// `connect`, with the WAL started over at other limits (tests use small ones).
    pub async fn connect_with(url: &str, limits: WalLimits) -> Result<Self, StoreError> {
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
        let gate = crate::group_commit::WriteGate::turns();
        tokio::spawn(checkpoints(pool.clone(), gate.clone(), limits));
        let writes = writes::committer(pool.clone(), gate);
        Ok(SqliteStore { pool, writes })
    }
}

/// How often the WAL is copied into the database file: often, so each copy (and its fsync,
/// which the file system makes concurrent writes wait for) is small.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// When the WAL is started over from its beginning.
#[derive(Clone, Copy, Debug)]
pub struct WalLimits {
    /// WAL frames (4 KiB pages) past which it is.
    pub frames: i64,
    /// The least time between two restarts: each holds the writers for a few ms.
    pub restart_at_most_every: Duration,
}

impl WalLimits {
    /// About 64 MiB, and at most every 2 s: under the benchmark's heaviest writes the file stays
    /// near 200 MiB, and the restarts touch too few requests to show in a p99.
    pub const DEFAULT: WalLimits = WalLimits {
        frames: 16_384,
        restart_at_most_every: Duration::from_secs(2),
    };
}

/// Moves the WAL into the database file beside the writers, and keeps its file from growing
/// without end. A passive checkpoint waits for no one and blocks no one, but under steady
/// traffic some reader is always reading through the WAL, so no writer may start it over and
/// its file grows (to gigabytes in a benchmark). Past `limits.frames` frames, and at most once
/// in `limits.restart_at_most_every`, a `RESTART` checkpoint takes the writers' turn (`WriteGate`),
/// waits for those readers and lets the next commit write from the WAL's start: measured, it
/// holds the writers 6–20 ms. Ends with the pool.
async fn checkpoints(pool: SqlitePool, gate: crate::group_commit::WriteGate, limits: WalLimits) {
    let mut every = tokio::time::interval(CHECKPOINT_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let checkpoint = |mode: &'static str| sqlx::query_as::<_, (i64, i64, i64)>(mode);
    let mut restarted = tokio::time::Instant::now();
    loop {
        every.tick().await;
        if pool.is_closed() {
            return;
        }
        // (busy, frames in the WAL, frames copied)
        let frames = match checkpoint("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&pool)
            .await
        {
            Ok((_, frames, _)) => frames,
            Err(e) => {
                tracing::warn!(error = %e, "the SQLite checkpoint failed; the next one tries again");
                continue;
            }
        };
        if frames >= limits.frames && restarted.elapsed() >= limits.restart_at_most_every {
            let _turn = gate.turn().await;
            restarted = tokio::time::Instant::now();
            if let Err(e) = checkpoint("PRAGMA wal_checkpoint(RESTART)")
                .fetch_one(&pool)
                .await
            {
                tracing::warn!(error = %e, "the SQLite WAL restart failed; it is tried again later");
            }
        }
    }
}

// The backend: its sqlx database, its dialect, and every storage port stamped onto it.
stamp_storage!(SqliteStore, sqlx::Sqlite, SQLITE);

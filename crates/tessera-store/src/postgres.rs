//! PostgreSQL: several Tessera instances on one database behave as one service.

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use tessera_core::ports::StoreError;

use crate::aggregates::stamp_storage;
use crate::backend_error;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The store on PostgreSQL.
#[derive(Clone)]
pub struct PgStore {
    pub(crate) pool: PgPool,
    /// The token path's writes, committed together (`crate::group_commit`).
    pub(crate) writes: crate::group_commit::Committer,
}

impl PgStore {
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(backend_error)?;
        // Instances started together race to migrate; sqlx takes an advisory lock for this.
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Backend(format!("migration failed: {e}")))?;
        let writes = writes::committer(pool.clone(), crate::group_commit::WriteGate::open());
        Ok(PgStore { pool, writes })
    }
}

// The backend: its sqlx database, its dialect, and every storage port stamped onto it.
stamp_storage!(PgStore, sqlx::Postgres, POSTGRES);

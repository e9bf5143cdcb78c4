//! PostgreSQL: several Tessera instances on one database behave as one service.

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use tessera_core::ports::StoreError;

use crate::backend_error;

/// How a transaction that writes begins. PostgreSQL: row locks are taken as statements run; a
/// plain BEGIN is right.
const BEGIN_WRITE: &str = "BEGIN";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The store on PostgreSQL.
#[derive(Clone)]
pub struct PgStore {
    pub(crate) pool: PgPool,
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
        Ok(PgStore { pool })
    }
}

impl_applications!(PgStore);
impl_connections!(PgStore);
impl_tenants!(PgStore, sqlx::Postgres);
impl_storage!(PgStore, "postgres");
impl_resources!(PgStore, sqlx::Postgres);
impl_private_tokens!(
    PgStore,
    sqlx::Postgres,
    "json_build_array",
    "json_agg",
    "FOR UPDATE",
    "string_agg(p.value, '' ORDER BY p.part)"
);

//! Tessera's storage: the core's ports on sqlx, for SQLite (embedded, the default) and
//! PostgreSQL (several instances as one service).
//!
//! Both backends run the same SQL wherever the dialects agree (`$1` placeholders, `RETURNING`,
//! `ON CONFLICT`); what differs is one `dialect::Dialect` value per backend. `aggregates` holds
//! one implementation body per port, stamped onto each backend's store type, and the contract
//! suite in `tests/it` proves every statement on both. Migrations are per backend, with the
//! same numbering.
//!
//! Architecture invariant: nothing here knows HTTP; the server never sees sqlx.

mod aggregates;
pub mod backup;
mod dialect;
mod group_commit;
pub mod postgres;
mod rows;
pub mod sqlite;
pub mod transfer;

#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;

use tessera_core::ports::{Storage, StoreError, StoreResult};

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// Opens the database at `url` (`sqlite://…` or `postgres://…`) and brings its schema up to
/// date.
pub async fn connect(url: &str) -> Result<Arc<dyn Storage>, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::connect(url).await?))
    } else if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url).await?))
    } else {
        Err(StoreError::Backend(format!(
            "unsupported database URL: use sqlite://<path> or postgres://… (got `{}`)",
            url.split(':').next().unwrap_or_default()
        )))
    }
}

pub(crate) fn backend_error(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(db.message().to_owned())
        }
        other => StoreError::Backend(other.to_string()),
    }
}

/// `NotFound` when a statement that targets one row touched none.
pub(crate) fn affected(rows: u64) -> StoreResult<()> {
    if rows == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// A value as the JSON text a column holds.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Backend(e.to_string()))
}

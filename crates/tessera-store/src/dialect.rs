//! What differs between the two SQL dialects. Everything else is one SQL text that runs on
//! both (`$1` placeholders, `RETURNING`, `ON CONFLICT`), so a backend is its sqlx database
//! plus one [`Dialect`] value.

/// The pieces of SQL in which SQLite and PostgreSQL differ.
pub(crate) struct Dialect {
    /// What `Storage::backend_name` answers.
    pub name: &'static str,
    /// How a transaction that writes begins.
    pub begin_write: &'static str,
    /// What makes a `SELECT` lock the row it reads until the transaction ends.
    pub lock_row: &'static str,
    /// The JSON array constructor.
    pub json_array: &'static str,
    /// The JSON array aggregate.
    pub json_agg: &'static str,
    /// The aggregate that joins the parts `p` of a private-token value in order.
    pub concat_parts: &'static str,
}

/// SQLite.
pub(crate) const SQLITE: Dialect = Dialect {
    name: "sqlite",
    // Take the write lock at the start. A deferred transaction that reads and then writes
    // fails at once with SQLITE_BUSY when another connection wrote in between (the busy
    // timeout cannot help there), which the audit flusher makes likely.
    begin_write: "BEGIN IMMEDIATE",
    // BEGIN IMMEDIATE already holds the write lock, so a read locks nothing more.
    lock_row: "",
    json_array: "json_array",
    json_agg: "json_group_array",
    concat_parts: "group_concat(p.value, '' ORDER BY p.part)",
};

/// PostgreSQL.
pub(crate) const POSTGRES: Dialect = Dialect {
    name: "postgres",
    // Row locks are taken as statements run; a plain BEGIN is right.
    begin_write: "BEGIN",
    lock_row: "FOR UPDATE",
    json_array: "json_build_array",
    json_agg: "json_agg",
    concat_parts: "string_agg(p.value, '' ORDER BY p.part)",
};

/// A backend's store type: its sqlx database and its dialect. The aggregates' `stamp!` macros
/// read both from here, so an implementation body names nothing of the module that stamps it.
pub(crate) trait Backend {
    /// The sqlx database.
    type Db: sqlx::Database;
    /// Its SQL differences.
    const DIALECT: Dialect;
}

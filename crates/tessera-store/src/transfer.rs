//! `tessera migrate --from sqlite://… --to postgres://…` (SPEC §13): moves a deployment from
//! the embedded SQLite database to PostgreSQL when it outgrows one machine.
//!
//! Both databases are first brought to the same schema (their migrations), then every table is
//! copied row for row, bytes unchanged — signing keys, secret hashes and the columns encrypted
//! with the master key included, so tokens, revocations and secrets work on the new deployment
//! as they did on the old. The tables come from the target's catalogue in the order of their
//! foreign keys (a table after the tables it refers to), each table's rows in the order they
//! were written. The source is read in one transaction (one snapshot, even while a server
//! writes to it); the target is written in one transaction that is committed only after every
//! table's row count and checksum, read back from the target, equal the source's. A failure
//! anywhere leaves the target as it was.
//!
//! The checksum of a table is the sum (mod 2¹²⁸) of the SHA-256 of each row's values, each
//! value written with its kind and length: independent of row order, changed by any value.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use futures::TryStreamExt;
use sha2::{Digest, Sha256};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Postgres, QueryBuilder, Row};
use tessera_core::ports::StoreError;

use crate::{PgStore, SqliteStore};

/// What was copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// Each table, in the order copied.
    pub tables: Vec<TableCopy>,
    /// Whether the target's rows were deleted first (`--replace`).
    pub replaced: bool,
}

/// One table's copy: its rows and checksum, the same on both sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCopy {
    pub name: String,
    pub rows: u64,
    /// Hex of the 128-bit checksum.
    pub checksum: String,
}

/// How a column's values are read and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer,
    Text,
    Bytes,
    Boolean,
}

#[derive(Debug, Clone)]
struct Column {
    name: String,
    kind: Kind,
    /// Drawn from a sequence (`BIGSERIAL` or an identity), set past the copied values after.
    serial: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Null,
    Integer(i64),
    Text(String),
    Bytes(Vec<u8>),
    Boolean(bool),
}

impl Value {
    /// The value's kind and length, then its bytes: what the checksum hashes.
    fn hash_into(&self, hasher: &mut Sha256) {
        let (tag, bytes): (u8, std::borrow::Cow<'_, [u8]>) = match self {
            Value::Null => (0, (&[][..]).into()),
            Value::Integer(n) => (1, n.to_be_bytes().to_vec().into()),
            Value::Text(s) => (2, s.as_bytes().into()),
            Value::Bytes(b) => (3, b.as_slice().into()),
            Value::Boolean(b) => (4, vec![u8::from(*b)].into()),
        };
        hasher.update([tag]);
        hasher.update((bytes.len() as u64).to_be_bytes());
        hasher.update(&bytes);
    }
}

/// Count and order-independent checksum of a table's rows.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Tally {
    rows: u64,
    sum: u128,
}

impl Tally {
    fn add(&mut self, row: &[Value]) {
        let mut hasher = Sha256::new();
        for value in row {
            value.hash_into(&mut hasher);
        }
        let digest = hasher.finalize();
        let mut first = [0u8; 16];
        first.copy_from_slice(&digest[..16]);
        self.rows += 1;
        self.sum = self.sum.wrapping_add(u128::from_be_bytes(first));
    }
}

fn fail(what: impl Into<String>) -> StoreError {
    StoreError::Backend(what.into())
}

fn sql(what: &str) -> impl Fn(sqlx::Error) -> StoreError + '_ {
    move |e| fail(format!("{what}: {e}"))
}

/// Rows per INSERT: PostgreSQL takes at most 65,535 parameters a statement.
fn batch_rows(columns: usize) -> usize {
    (60_000 / columns.max(1)).clamp(1, 1_000)
}

/// Copies every table of the SQLite database `from` into the PostgreSQL database `to`, which
/// must hold no rows unless `replace` (then its rows are deleted first, in the same
/// transaction).
pub async fn sqlite_to_postgres(
    from: &str,
    to: &str,
    replace: bool,
) -> Result<Transfer, StoreError> {
    if !from.starts_with("sqlite:") {
        return Err(fail(format!(
            "--from must be the SQLite database to move (sqlite://<path>), got `{}`",
            from.split(':').next().unwrap_or_default()
        )));
    }
    if !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
        return Err(fail(
            "--to must be the PostgreSQL database to move to (postgres://…)",
        ));
    }
    let options = SqliteConnectOptions::from_str(from).map_err(|e| fail(format!("--from: {e}")))?;
    let path = options.get_filename();
    if !path.is_file() {
        return Err(fail(format!(
            "--from: there is no SQLite database at {}",
            path.display()
        )));
    }
    let source = SqliteStore::connect(from).await?;
    let target = PgStore::connect(to).await.map_err(|e| {
        fail(format!(
            "cannot reach the PostgreSQL database (--to): {}",
            match e {
                StoreError::Backend(why) => why,
                other => other.to_string(),
            }
        ))
    })?;

    let tables = target_tables(&target).await?;
    let source_tables = source_tables(&source).await?;
    let names: BTreeSet<&String> = tables.keys().collect();
    let source_names: BTreeSet<&String> = source_tables.iter().collect();
    if names != source_names {
        return Err(fail(format!(
            "the two schemas differ (tables only in SQLite: {:?}; only in PostgreSQL: {:?}); run both with the same Tessera version",
            source_names.difference(&names).collect::<Vec<_>>(),
            names.difference(&source_names).collect::<Vec<_>>()
        )));
    }
    let order = dependency_order(&target, &tables).await?;
    for name in &order {
        let theirs = source_columns(&source, name).await?;
        let ours: BTreeSet<&str> = tables[name].iter().map(|c| c.name.as_str()).collect();
        let theirs: BTreeSet<&str> = theirs.iter().map(String::as_str).collect();
        if ours != theirs {
            return Err(fail(format!(
                "the two schemas differ in table {name} (SQLite: {theirs:?}; PostgreSQL: {ours:?})"
            )));
        }
    }

    let mut into = target.pool.begin().await.map_err(sql("PostgreSQL"))?;
    if replace {
        let list = order.join(", ");
        sqlx::query(&format!("TRUNCATE {list} RESTART IDENTITY CASCADE"))
            .execute(&mut *into)
            .await
            .map_err(sql("emptying the target"))?;
    } else {
        for name in &order {
            let (any,): (bool,) = sqlx::query_as(&format!("SELECT EXISTS (SELECT 1 FROM {name})"))
                .fetch_one(&mut *into)
                .await
                .map_err(sql("reading the target"))?;
            if any {
                return Err(fail(format!(
                    "the target database is not empty (table {name} has rows); move into an empty database, or pass --replace to delete everything in it first"
                )));
            }
        }
    }

    // One read transaction: one snapshot of the source, whatever a running server writes.
    let mut reading = source.pool.begin().await.map_err(sql("SQLite"))?;
    let mut copied = Vec::with_capacity(order.len());
    for name in &order {
        let columns = &tables[name];
        let list = columns
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let select = format!("SELECT {list} FROM {name} ORDER BY rowid");
        let mut rows = sqlx::query(&select).fetch(&mut *reading);
        let mut sent = Tally::default();
        let mut batch: Vec<Vec<Value>> = Vec::new();
        let size = batch_rows(columns.len());
        while let Some(row) = rows.try_next().await.map_err(sql(name))? {
            let values = columns
                .iter()
                .map(|c| value(&row, c, name, "SQLite"))
                .collect::<Result<Vec<_>, _>>()?;
            sent.add(&values);
            batch.push(values);
            if batch.len() == size {
                insert(&mut into, name, &list, &batch).await?;
                batch.clear();
            }
        }
        drop(rows);
        if !batch.is_empty() {
            insert(&mut into, name, &list, &batch).await?;
        }
        for column in columns.iter().filter(|c| c.serial) {
            sqlx::query(&format!(
                "SELECT setval(pg_get_serial_sequence('{name}', '{col}'), \
                 COALESCE((SELECT MAX({col}) FROM {name}), 1), \
                 (SELECT MAX({col}) FROM {name}) IS NOT NULL)",
                col = column.name
            ))
            .execute(&mut *into)
            .await
            .map_err(sql("setting a sequence"))?;
        }
        // Read back from the target, inside the transaction, before anything is committed.
        let mut landed = Tally::default();
        let read_back = format!("SELECT {list} FROM {name}");
        let mut back = sqlx::query(&read_back).fetch(&mut *into);
        while let Some(row) = back.try_next().await.map_err(sql(name))? {
            let values = columns
                .iter()
                .map(|c| value(&row, c, name, "PostgreSQL"))
                .collect::<Result<Vec<_>, _>>()?;
            landed.add(&values);
        }
        drop(back);
        if landed != sent {
            return Err(fail(format!(
                "table {name}: {} rows with checksum {:032x} read from SQLite, but {} rows with checksum {:032x} in PostgreSQL; nothing was committed",
                sent.rows, sent.sum, landed.rows, landed.sum
            )));
        }
        copied.push(TableCopy {
            name: name.clone(),
            rows: sent.rows,
            checksum: format!("{:032x}", sent.sum),
        });
    }
    drop(reading);
    into.commit().await.map_err(sql("committing"))?;
    Ok(Transfer {
        tables: copied,
        replaced: replace,
    })
}

async fn insert(
    into: &mut sqlx::Transaction<'_, Postgres>,
    table: &str,
    columns: &str,
    rows: &[Vec<Value>],
) -> Result<(), StoreError> {
    let mut query: QueryBuilder<Postgres> =
        QueryBuilder::new(format!("INSERT INTO {table} ({columns}) "));
    query.push_values(rows, |mut b, row| {
        for value in row {
            match value {
                Value::Null => b.push("NULL"),
                Value::Integer(n) => b.push_bind(*n),
                Value::Text(s) => b.push_bind(s.clone()),
                Value::Bytes(v) => b.push_bind(v.clone()),
                Value::Boolean(v) => b.push_bind(*v),
            };
        }
    });
    query
        .build()
        .execute(&mut **into)
        .await
        .map_err(|e| fail(format!("writing table {table}: {e}")))?;
    Ok(())
}

/// A column's value from a row of either database, read as its kind says.
fn value<'r, R>(row: &'r R, column: &Column, table: &str, side: &str) -> Result<Value, StoreError>
where
    R: Row,
    for<'n> &'n str: sqlx::ColumnIndex<R>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let name = column.name.as_str();
    let wrong = |e: sqlx::Error| fail(format!("reading {table}.{name} from {side}: {e}"));
    Ok(match column.kind {
        Kind::Integer => row
            .try_get::<Option<i64>, _>(name)
            .map_err(wrong)?
            .map_or(Value::Null, Value::Integer),
        Kind::Text => row
            .try_get::<Option<String>, _>(name)
            .map_err(wrong)?
            .map_or(Value::Null, Value::Text),
        Kind::Bytes => row
            .try_get::<Option<Vec<u8>>, _>(name)
            .map_err(wrong)?
            .map_or(Value::Null, Value::Bytes),
        Kind::Boolean => row
            .try_get::<Option<bool>, _>(name)
            .map_err(wrong)?
            .map_or(Value::Null, Value::Boolean),
    })
}

/// The target's tables and their columns, from its catalogue.
async fn target_tables(target: &PgStore) -> Result<BTreeMap<String, Vec<Column>>, StoreError> {
    let rows: Vec<(String, String, String, Option<String>, String)> = sqlx::query_as(
        "SELECT c.table_name::text, c.column_name::text, c.data_type::text, \
                c.column_default::text, c.is_identity::text \
         FROM information_schema.columns c JOIN information_schema.tables t \
           ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
         WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' \
           AND c.table_name <> '_sqlx_migrations' \
         ORDER BY c.table_name, c.ordinal_position",
    )
    .fetch_all(&target.pool)
    .await
    .map_err(sql("reading the PostgreSQL catalogue"))?;
    let mut tables: BTreeMap<String, Vec<Column>> = BTreeMap::new();
    for (table, name, data_type, default, identity) in rows {
        let kind = match data_type.as_str() {
            "bigint" => Kind::Integer,
            "text" | "character varying" => Kind::Text,
            "bytea" => Kind::Bytes,
            "boolean" => Kind::Boolean,
            other => {
                return Err(fail(format!(
                    "column {table}.{name} has the type {other}, which the move does not know"
                )))
            }
        };
        // BIGSERIAL, or GENERATED … AS IDENTITY: both draw from a sequence.
        let serial = identity == "YES" || default.is_some_and(|d| d.starts_with("nextval("));
        tables
            .entry(table)
            .or_default()
            .push(Column { name, kind, serial });
    }
    Ok(tables)
}

async fn source_tables(source: &SqliteStore) -> Result<Vec<String>, StoreError> {
    sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'",
    )
    .fetch_all(&source.pool)
    .await
    .map_err(sql("reading the SQLite catalogue"))
}

async fn source_columns(source: &SqliteStore, table: &str) -> Result<Vec<String>, StoreError> {
    sqlx::query_scalar("SELECT name FROM pragma_table_info(?)")
        .bind(table)
        .fetch_all(&source.pool)
        .await
        .map_err(sql("reading the SQLite catalogue"))
}

/// The tables ordered so that each comes after those its foreign keys refer to (ties by name).
async fn dependency_order(
    target: &PgStore,
    tables: &BTreeMap<String, Vec<Column>>,
) -> Result<Vec<String>, StoreError> {
    let edges: Vec<(String, String)> = sqlx::query_as(
        "SELECT DISTINCT c.conrelid::regclass::text, c.confrelid::regclass::text \
         FROM pg_constraint c WHERE c.contype = 'f' \
           AND c.connamespace = current_schema()::regnamespace",
    )
    .fetch_all(&target.pool)
    .await
    .map_err(sql("reading the foreign keys"))?;
    let mut needs: BTreeMap<&str, BTreeSet<&str>> = tables
        .keys()
        .map(|t| (t.as_str(), BTreeSet::new()))
        .collect();
    for (from, to) in &edges {
        if from != to {
            if let Some(set) = needs.get_mut(from.as_str()) {
                set.insert(to.as_str());
            }
        }
    }
    let mut order: Vec<String> = Vec::with_capacity(tables.len());
    while !needs.is_empty() {
        let ready: Vec<&str> = needs
            .iter()
            .filter(|(_, n)| n.iter().all(|t| !needs.contains_key(t)))
            .map(|(t, _)| *t)
            .collect();
        if ready.is_empty() {
            return Err(fail(format!(
                "the foreign keys of {:?} form a cycle; the move cannot order them",
                needs.keys().collect::<Vec<_>>()
            )));
        }
        for table in ready {
            needs.remove(table);
            order.push(table.to_owned());
        }
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_ignores_row_order_and_sees_every_value() {
        let a = vec![Value::Integer(1), Value::Text("x".into())];
        let b = vec![Value::Null, Value::Bytes(vec![1, 2])];
        let (mut one, mut two) = (Tally::default(), Tally::default());
        one.add(&a);
        one.add(&b);
        two.add(&b);
        two.add(&a);
        assert_eq!(one, two);
        let mut changed = Tally::default();
        changed.add(&a);
        changed.add(&[Value::Null, Value::Bytes(vec![1, 3])]);
        assert_ne!(one, changed);
        // A NULL is not an empty text, nor text the same bytes.
        let (mut null, mut empty, mut bytes) =
            (Tally::default(), Tally::default(), Tally::default());
        null.add(&[Value::Null]);
        empty.add(&[Value::Text(String::new())]);
        bytes.add(&[Value::Bytes(Vec::new())]);
        assert!(null != empty && empty != bytes && null != bytes);
        assert_eq!(batch_rows(8), 1_000);
        assert_eq!(batch_rows(100), 600);
    }
}

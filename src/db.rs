//! The SQLite pool and the embedded migrations.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

/// The pool handed to every handler.
pub type Pool = sqlx::SqlitePool;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Opens (creating if needed) the database and brings its schema up to date.
pub async fn connect(database_url: &str) -> anyhow::Result<Pool> {
    let options = SqliteConnectOptions::from_str(database_url)
        .with_context(|| format!("DATABASE_URL `{database_url}` is not a valid SQLite URL"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5))
        // 8 MB of page cache per connection (SQLite's default is 2 MB): the per-user list
        // queries touch scattered pages of a large meeting table.
        .pragma("cache_size", "-8192");
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await
        .context("Failed to open the database")?;
    MIGRATOR
        .run(&pool)
        .await
        .context("Failed to run database migrations")?;
    Ok(pool)
}

/// True when a statement failed on a UNIQUE constraint (a taken name, a duplicate row).
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

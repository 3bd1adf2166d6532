//! The database: SQLite (the embedded default) or PostgreSQL (several instances on one
//! database), chosen by `DATABASE_URL`.
//!
//! Every query is written once and runs on both through sqlx's `Any` driver: placeholders are
//! `$1`, `$2`… (SQLite reads them too), integers are 64-bit on both (`bigint` in PostgreSQL),
//! and truth values are read with [`Flag`] (SQLite answers `exists (…)` with 0 or 1, PostgreSQL
//! with a boolean). `Any` costs a copy of each value it reads: measured on the list queries
//! of a signed-in Home and `/upcoming`, about 2 % of their CPU, which buys one code path.

mod flag;
pub mod lock;
mod migrate;

use std::time::Duration;

use anyhow::Context;
use sqlx::Executor;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};

pub use flag::Flag;
pub use lock::{LockGuard, LockKey};

/// The pool handed to every handler.
pub type Pool = sqlx::AnyPool;
/// A row as queries return it.
pub type Row = sqlx::any::AnyRow;
/// A transaction on the pool.
pub type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

/// Connections kept open at most, unless `DATABASE_MAX_CONNECTIONS` says otherwise. SQLite
/// writes one at a time whatever the count; PostgreSQL's default `max_connections` of 100 leaves
/// room for several instances at this size.
pub const SQLITE_MAX_CONNECTIONS: u32 = 8;
pub const POSTGRES_MAX_CONNECTIONS: u32 = 10;
/// How long a request waits for a free connection (and start-up for the database) unless
/// `DATABASE_ACQUIRE_TIMEOUT_SECS` says otherwise.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long SQLite waits for another writer before giving up on a statement.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5000;
/// Page cache per SQLite connection, in KiB (SQLite's default is 2 MB): the per-user list
/// queries touch scattered pages of a large meeting table.
const SQLITE_CACHE_KIB: u32 = 8192;

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend of a `DATABASE_URL`, if it is one we speak.
    pub fn of_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }

    /// The backend a pool talks to.
    pub fn of(pool: &Pool) -> Self {
        match pool.connect_options().database_url.scheme() {
            "postgres" | "postgresql" => Self::Postgres,
            _ => Self::Sqlite,
        }
    }

    /// Several instances may share this database (and must share what they know through it).
    pub fn is_shared(self) -> bool {
        self == Self::Postgres
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgresql",
        }
    }

    pub fn default_max_connections(self) -> u32 {
        match self {
            Self::Sqlite => SQLITE_MAX_CONNECTIONS,
            Self::Postgres => POSTGRES_MAX_CONNECTIONS,
        }
    }
}

/// How the pool is sized and how long it waits.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl PoolSettings {
    /// The defaults for a backend.
    pub fn defaults(backend: Backend) -> Self {
        Self {
            max_connections: backend.default_max_connections(),
            acquire_timeout: ACQUIRE_TIMEOUT,
        }
    }
}

/// Opens (creating a SQLite file if needed) the database and brings its schema up to date,
/// with the default pool settings.
pub async fn connect(database_url: &str) -> anyhow::Result<Pool> {
    let backend = Backend::of_url(database_url).with_context(|| {
        format!("DATABASE_URL `{database_url}` is neither sqlite: nor postgres:")
    })?;
    connect_with(database_url, PoolSettings::defaults(backend)).await
}

/// Opens the database and brings its schema up to date. Instances starting together on one
/// PostgreSQL database take turns (an advisory lock), so migrations run once.
pub async fn connect_with(database_url: &str, settings: PoolSettings) -> anyhow::Result<Pool> {
    let pool = open(database_url, settings).await?;
    let startup = lock::acquire(&pool, LockKey::Startup)
        .await
        .context("Failed to take the start-up lock")?;
    migrate::run(&pool)
        .await
        .context("Failed to run database migrations")?;
    startup.release().await?;
    Ok(pool)
}

/// Opens a pool without touching the schema.
pub async fn open(database_url: &str, settings: PoolSettings) -> anyhow::Result<Pool> {
    sqlx::any::install_default_drivers();
    let backend = Backend::of_url(database_url).with_context(|| {
        format!("DATABASE_URL `{database_url}` is neither sqlite: nor postgres:")
    })?;
    let url = match backend {
        // Create the file when it is missing (SQLite's `mode=rwc`), unless the URL chose.
        Backend::Sqlite
            if !database_url.contains("mode=") && !database_url.contains(":memory:") =>
        {
            let sep = if database_url.contains('?') { '&' } else { '?' };
            format!("{database_url}{sep}mode=rwc")
        }
        _ => database_url.to_owned(),
    };
    let options: AnyConnectOptions = url
        .parse()
        .with_context(|| format!("DATABASE_URL `{database_url}` is not a valid URL"))?;
    let mut pool_options = AnyPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(settings.acquire_timeout);
    if backend == Backend::Sqlite {
        pool_options = pool_options.after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute(sqlx::AssertSqlSafe(format!(
                    "pragma journal_mode = wal; pragma synchronous = normal; \
                     pragma foreign_keys = on; pragma busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; \
                     pragma cache_size = -{SQLITE_CACHE_KIB};"
                )))
                .await?;
                Ok(())
            })
        });
    }
    pool_options
        .connect_with(options)
        .await
        .with_context(|| format!("Failed to open the {} database", backend.name()))
}

/// `$1, $2, …, $n`: the placeholders of a list whose values are bound one by one.
pub fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// True when a statement failed on a UNIQUE constraint (a taken name, a duplicate row).
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

#[cfg(test)]
mod tests {
    use super::Backend;

    #[test]
    fn list_placeholders_are_numbered() {
        assert_eq!(super::placeholders(3), "$1, $2, $3");
        assert_eq!(super::placeholders(1), "$1");
    }

    #[test]
    fn the_url_picks_the_database() {
        assert_eq!(
            Backend::of_url("sqlite://./data/yoom.db"),
            Some(Backend::Sqlite)
        );
        assert_eq!(Backend::of_url("sqlite::memory:"), Some(Backend::Sqlite));
        assert_eq!(
            Backend::of_url("postgres://yoom@db/yoom"),
            Some(Backend::Postgres)
        );
        assert_eq!(
            Backend::of_url("postgresql://yoom@db/yoom"),
            Some(Backend::Postgres)
        );
        assert_eq!(Backend::of_url("mysql://db/yoom"), None);
    }
}

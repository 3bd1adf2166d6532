//! The schema's migrations: one list, written once where SQLite and PostgreSQL agree.
//!
//! `migrations/` holds every migration, in SQL both databases run alike when that is possible
//! (`bigint` for 64-bit integers). `migrations/postgres/` holds PostgreSQL's own version of a
//! migration only where the dialects differ (the early ones used SQLite's `integer`, which is 32
//! bits in PostgreSQL, and `collate nocase`), under the same file name: PostgreSQL runs the
//! list with those files in place of the shared ones. sqlx runs each list under its own lock
//! (an advisory lock on PostgreSQL), so instances starting together apply each migration once.

use sqlx::migrate::{Migration, Migrator};

use super::{Backend, Pool};

static SHARED: Migrator = sqlx::migrate!("./migrations");
static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// The migrations for a backend, oldest first.
pub fn migrations(backend: Backend) -> Vec<Migration> {
    SHARED
        .iter()
        .map(|shared| match backend {
            Backend::Sqlite => shared.clone(),
            Backend::Postgres => POSTGRES
                .iter()
                .find(|own| own.version == shared.version)
                .unwrap_or(shared)
                .clone(),
        })
        .collect()
}

/// Applies the migrations this database has not had yet.
pub async fn run(pool: &Pool) -> Result<(), sqlx::migrate::MigrateError> {
    Migrator::with_migrations(migrations(Backend::of(pool)))
        .run(pool)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_postgres_migration_replaces_a_shared_one_of_the_same_name() {
        for own in POSTGRES.iter() {
            let shared = SHARED.iter().find(|m| m.version == own.version);
            assert_eq!(
                shared.map(|m| &m.description),
                Some(&own.description),
                "migrations/postgres/{}_{} has no shared migration of that name",
                own.version,
                own.description
            );
        }
    }

    #[test]
    fn shared_migrations_say_bigint_where_postgresql_would_read_integer_as_32_bits() {
        for shared in SHARED.iter() {
            if POSTGRES.iter().any(|own| own.version == shared.version) {
                continue;
            }
            let code: String = shared
                .sql
                .as_str()
                .lines()
                .map(|line| line.split("--").next().unwrap_or_default())
                .collect::<Vec<_>>()
                .join("\n")
                .to_lowercase();
            let words: Vec<&str> = code
                .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                .collect();
            for dialect_only in ["integer", "nocase", "glob", "autoincrement"] {
                assert!(
                    !words.contains(&dialect_only),
                    "migrations/{}_{}.sql uses `{dialect_only}`: write it for both databases \
                     (bigint for integers) or add migrations/postgres/ of the same name",
                    shared.version,
                    shared.description.replace(' ', "_"),
                );
            }
        }
    }

    #[test]
    fn both_lists_hold_every_version_once_in_order() {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let versions: Vec<i64> = migrations(backend).iter().map(|m| m.version).collect();
            let mut sorted = versions.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(versions, sorted);
            assert_eq!(versions.len(), SHARED.iter().count());
        }
    }
}

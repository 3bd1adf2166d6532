//! Locks that every instance on one database honours: PostgreSQL advisory locks, each held by a
//! transaction, so the lock of an instance that dies goes with its connection. On SQLite there
//! is one instance: these locks hold nothing, and callers keep their own in-process exclusion
//! where tasks of one instance could meet.

use super::{Backend, Flag, Pool, Tx};

/// What a lock protects. Each kind has its own key space (PostgreSQL's two-key advisory
/// locks: the kind, and a hash of the name).
#[derive(Debug, Clone, Copy)]
pub enum LockKey<'a> {
    /// Start-up work on the schema and shared data (migrations, secrets).
    Startup,
    /// One run of a background job (a sweep): one instance at a time does it.
    Job(&'static str),
    /// Writing one recording's file: the instance holding this lock is the one writing.
    Upload(&'a str),
    /// Bringing one meeting's stored provider recordings in line with a listing (and removing
    /// those the provider no longer lists).
    Listing(&'a str),
}

impl LockKey<'_> {
    fn space(self) -> i32 {
        // "Yo" in the high bytes keeps clear of keys other software sharing the database uses.
        match self {
            Self::Startup => 0x596f_0001,
            Self::Job(_) => 0x596f_0002,
            Self::Upload(_) => 0x596f_0003,
            Self::Listing(_) => 0x596f_0004,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Startup => "startup",
            Self::Job(name) => name,
            Self::Upload(_) => "upload",
            Self::Listing(_) => "listing",
        }
    }

    fn subject(self) -> String {
        match self {
            Self::Startup => "startup".into(),
            Self::Job(name) => name.into(),
            Self::Upload(id) | Self::Listing(id) => id.into(),
        }
    }
}

/// A held lock; [`LockGuard::release`] gives it back (dropping it does too, once its connection
/// returns to the pool).
#[must_use]
pub struct LockGuard {
    tx: Option<Tx<'static>>,
}

impl LockGuard {
    /// Gives the lock back.
    pub async fn release(self) -> Result<(), sqlx::Error> {
        match self.tx {
            Some(tx) => tx.commit().await,
            None => Ok(()),
        }
    }
}

/// Takes the lock, waiting for whoever holds it.
pub async fn acquire(pool: &Pool, key: LockKey<'_>) -> Result<LockGuard, sqlx::Error> {
    if !Backend::of(pool).is_shared() {
        return Ok(LockGuard { tx: None });
    }
    let mut tx = pool.begin().await?;
    sqlx::query("select pg_advisory_xact_lock($1, hashtext($2))")
        .bind(key.space())
        .bind(key.subject())
        .execute(&mut *tx)
        .await?;
    tracing::trace!(lock = key.name(), "lock taken");
    Ok(LockGuard { tx: Some(tx) })
}

/// Takes the lock if nobody holds it; `None` when another instance (or task) does.
pub async fn try_acquire(pool: &Pool, key: LockKey<'_>) -> Result<Option<LockGuard>, sqlx::Error> {
    if !Backend::of(pool).is_shared() {
        return Ok(Some(LockGuard { tx: None }));
    }
    let mut tx = pool.begin().await?;
    let Flag(taken) = sqlx::query_scalar("select pg_try_advisory_xact_lock($1, hashtext($2))")
        .bind(key.space())
        .bind(key.subject())
        .fetch_one(&mut *tx)
        .await?;
    if taken {
        Ok(Some(LockGuard { tx: Some(tx) }))
    } else {
        tx.rollback().await?;
        Ok(None)
    }
}

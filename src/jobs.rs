//! Background work the server does on its own, for as long as it runs: finishing recordings
//! whose uploader vanished, ending meetings whose room emptied long ago, and forgetting rate
//! limit counts whose window ended.
//!
//! With several instances on one database every instance runs these loops, and each run takes
//! the job's lock first ([`crate::db::lock`]): whichever instance gets it does the sweep, the
//! others skip that round. Each item is claimed by the statement that changes it as well (a
//! meeting is ended, a recording finished, only where it still is open), so a sweep that races
//! with anything else still does each thing once.

use std::future::Future;
use std::time::Duration;

use actix_web::web;

use crate::db::{self, LockKey, Pool};
use crate::meetings::{attendance, store};
use crate::recordings::upload::Uploads;
use crate::time;
use crate::video::Media;

/// How often meetings are checked for an emptied room.
pub const IDLE_MEETING_SWEEP: Duration = Duration::from_secs(60);
/// Meetings ended per sweep at most (the rest wait for the next one).
const IDLE_MEETINGS_PER_SWEEP: i64 = 100;
/// How often rate limit counts whose window ended are removed from the database.
pub const RATE_LIMIT_SWEEP: Duration = Duration::from_secs(600);
/// Counts removed per sweep at most.
const RATE_LIMITS_PER_SWEEP: i64 = 10_000;

/// Runs `job` every `period`, each run under the job's lock (skipped while another instance
/// holds it).
fn every<F, Fut>(pool: Pool, name: &'static str, period: Duration, mut job: F)
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        loop {
            tick.tick().await;
            let held = match db::lock::try_acquire(&pool, LockKey::Job(name)).await {
                Ok(Some(held)) => held,
                Ok(None) => continue,
                Err(e) => {
                    tracing::error!(error = %e, job = name, "could not take a job's lock");
                    continue;
                }
            };
            if let Err(e) = job().await {
                tracing::error!(error = ?e, job = name, "background job failed");
            }
            if let Err(e) = held.release().await {
                tracing::warn!(error = %e, job = name, "could not release a job's lock");
            }
        }
    });
}

/// Finishes recordings whose uploader vanished, every few seconds.
pub fn spawn_recording_sweeper(uploads: web::Data<Uploads>, media: web::Data<Media>) {
    let pool = uploads.pool.clone();
    every(
        pool,
        "recording_sweep",
        Duration::from_secs(crate::recordings::SWEEP_INTERVAL_SECS),
        move || {
            let uploads = uploads.clone();
            let media = media.clone();
            async move {
                for rec in uploads.sweep(time::now()).await? {
                    media.recording_changed(&rec.meeting_id, false, "").await;
                }
                Ok(())
            }
        },
    );
}

/// Ends meetings nobody ended whose room has been empty for `idle`: otherwise they would stay
/// open (and joinable, and in Upcoming as live-able) for ever.
pub fn spawn_idle_meeting_sweeper(pool: web::Data<Pool>, media: web::Data<Media>, idle: Duration) {
    let lock_pool = pool.get_ref().clone();
    every(lock_pool, "idle_meetings", IDLE_MEETING_SWEEP, move || {
        let pool = pool.clone();
        let media = media.clone();
        async move {
            end_idle_meetings(&pool, &media, idle, time::now()).await?;
            Ok(())
        }
    });
}

/// Removes rate limit counts whose window ended (only the database keeps any).
pub fn spawn_rate_limit_sweeper(pool: Pool) {
    if !db::Backend::of(&pool).is_shared() {
        return;
    }
    let lock_pool = pool.clone();
    every(lock_pool, "rate_limit_sweep", RATE_LIMIT_SWEEP, move || {
        let pool = pool.clone();
        async move {
            crate::rate_limit::sweep_shared(&pool, RATE_LIMITS_PER_SWEEP).await?;
            Ok(())
        }
    });
}

/// One sweep: ends the meetings whose room emptied before `now - idle`; returns those this
/// sweep ended.
pub async fn end_idle_meetings(
    pool: &Pool,
    media: &Media,
    idle: Duration,
    now: i64,
) -> Result<Vec<String>, sqlx::Error> {
    let cutoff = now - idle.as_secs() as i64;
    let mut ended = Vec::new();
    for id in attendance::emptied_before(pool, cutoff, IDLE_MEETINGS_PER_SWEEP).await? {
        if store::close(pool, &id, now).await? != store::Closed::Now {
            continue;
        }
        tracing::info!(meeting = %id, "meeting ended: its room has been empty for a while");
        // The provider's call is ended too; if it cannot be told now, its own idle timeout
        // ends the call, and ours is ended either way.
        if let Err(e) = media.meeting_ended(&id).await {
            tracing::warn!(meeting = %id, error = ?e, "could not end the idle meeting's call");
        }
        ended.push(id);
    }
    Ok(ended)
}

//! Background work the server does on its own, for as long as it runs: finishing recordings
//! whose uploader vanished, and ending meetings whose room emptied long ago.

use std::time::Duration;

use actix_web::web;

use crate::db::Pool;
use crate::meetings::{attendance, store};
use crate::recordings::upload::Uploads;
use crate::time;
use crate::video::Media;

/// How often meetings are checked for an emptied room.
pub const IDLE_MEETING_SWEEP: Duration = Duration::from_secs(60);
/// Meetings ended per sweep at most (the rest wait for the next one).
const IDLE_MEETINGS_PER_SWEEP: i64 = 100;

/// Finishes recordings whose uploader vanished, every few seconds.
pub fn spawn_recording_sweeper(uploads: web::Data<Uploads>, media: web::Data<Media>) {
    tokio::spawn(async move {
        let mut tick =
            tokio::time::interval(Duration::from_secs(crate::recordings::SWEEP_INTERVAL_SECS));
        loop {
            tick.tick().await;
            match uploads.sweep(time::now()).await {
                Ok(done) => {
                    for rec in done {
                        media.recording_changed(&rec.meeting_id, false, "").await;
                    }
                }
                Err(e) => tracing::error!(error = ?e, "recording sweep failed"),
            }
        }
    });
}

/// Ends meetings nobody ended whose room has been empty for `idle`: otherwise they would stay
/// open (and joinable, and in Upcoming as live-able) for ever.
pub fn spawn_idle_meeting_sweeper(pool: web::Data<Pool>, media: web::Data<Media>, idle: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(IDLE_MEETING_SWEEP);
        loop {
            tick.tick().await;
            if let Err(e) = end_idle_meetings(&pool, &media, idle, time::now()).await {
                tracing::error!(error = ?e, "idle meeting sweep failed");
            }
        }
    });
}

/// One sweep: ends the meetings whose room emptied before `now - idle`; returns their IDs.
pub async fn end_idle_meetings(
    pool: &Pool,
    media: &Media,
    idle: Duration,
    now: i64,
) -> Result<Vec<String>, sqlx::Error> {
    let cutoff = now - idle.as_secs() as i64;
    let ids = attendance::emptied_before(pool, cutoff, IDLE_MEETINGS_PER_SWEEP).await?;
    for id in &ids {
        store::close(pool, id, now).await?;
        tracing::info!(meeting = %id, "meeting ended: its room has been empty for a while");
        // The provider's call is ended too; if it cannot be told now, its own idle timeout
        // ends the call, and ours is ended either way.
        if let Err(e) = media.meeting_ended(id).await {
            tracing::warn!(meeting = %id, error = ?e, "could not end the idle meeting's call");
        }
    }
    Ok(ids)
}

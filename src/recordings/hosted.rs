//! Recordings a hosted provider (Stream) makes and keeps. They are copied into the `recording`
//! table from the provider's REST API and from its `call.recording_ready` webhook, keyed by the
//! provider's own name for them, so both sources land on one row and the Recordings list (with
//! its paging, access checks, share links) is one query over one table.

use std::collections::HashSet;
use std::time::Duration;

use futures_util::StreamExt;

use super::store::{self, ProviderRecording};
use crate::db::{LockKey, Pool};
use crate::video::Media;
use crate::video::stream::client::CallRecording;
use crate::video::stream::{
    RECORDINGS_FRESH_FOR, SETTLED_RECORDINGS_FRESH_FOR, StreamError, StreamMedia,
};

/// The provider's name in the `recording` table.
pub const STREAM: &str = "stream";
/// Requests to Stream's REST API in flight at once for one list.
pub const LIST_CONCURRENCY: usize = 4;
/// A person's most recent meetings whose recordings are listed from Stream when they open
/// Recordings; recordings of older ones are those stored before (by webhook or listing).
pub const LIST_MEETINGS: i64 = 50;
/// A meeting that ended this long ago is listed less often (see
/// [`SETTLED_RECORDINGS_FRESH_FOR`]).
pub const SETTLED_AFTER_SECS: i64 = 3600;
/// How long the Recordings page waits for Stream before it shows what it has.
pub const LIST_DEADLINE: Duration = Duration::from_secs(4);
/// A stored recording a listing leaves out is removed only once it was last reported this
/// long ago: a webhook can announce a recording before the listing includes it.
pub const FORGET_AFTER_SECS: i64 = 300;
/// A stored URL older than this is refreshed before it is played (Stream signs its URLs for
/// two weeks).
pub const URL_REFRESH_AFTER_SECS: i64 = 24 * 3600;

/// Our key for a Stream recording: its file name is unique within its call.
pub fn stream_key(meeting_id: &str, filename: &str) -> String {
    format!("{meeting_id}/{filename}")
}

/// Stores one recording Stream reported (webhook or listing). Returns whether the meeting is
/// one of ours.
pub async fn save_stream_recording(
    pool: &Pool,
    meeting_id: &str,
    recording: &CallRecording,
    now: i64,
) -> Result<bool, sqlx::Error> {
    store::save_provider_recording(
        pool,
        &ProviderRecording {
            meeting_id,
            provider: STREAM,
            external_id: &stream_key(meeting_id, &recording.filename),
            session: &recording.session_id,
            file: &recording.filename,
            url: &recording.url,
            mime_type: mime_of(&recording.filename),
            started_at: recording.start_time.timestamp(),
            ended_at: recording.end_time.timestamp(),
        },
        now,
    )
    .await
}

fn mime_of(filename: &str) -> &'static str {
    let lower = filename.to_ascii_lowercase();
    if lower.ends_with(".webm") {
        "video/webm"
    } else if lower.ends_with(".m4a") || lower.ends_with(".aac") {
        "audio/mp4"
    } else if lower.ends_with(".mp3") {
        "audio/mpeg"
    } else {
        "video/mp4"
    }
}

/// Makes the stored recordings of one meeting match Stream's listing: adds or refreshes what
/// it lists, and removes what it no longer lists (deleted elsewhere, or expired). With several
/// instances, one at a time does this for a meeting (the others skip it: what they listed is
/// what the one at work stores), and each stale recording is removed once.
pub async fn store_listing(
    pool: &Pool,
    meeting_id: &str,
    listing: &[CallRecording],
    now: i64,
) -> Result<(), sqlx::Error> {
    let Some(held) = crate::db::lock::try_acquire(pool, LockKey::Listing(meeting_id)).await? else {
        return Ok(());
    };
    let result = reconcile(pool, meeting_id, listing, now).await;
    held.release().await?;
    result
}

async fn reconcile(
    pool: &Pool,
    meeting_id: &str,
    listing: &[CallRecording],
    now: i64,
) -> Result<(), sqlx::Error> {
    let mut listed = HashSet::new();
    for recording in listing {
        save_stream_recording(pool, meeting_id, recording, now).await?;
        listed.insert(stream_key(meeting_id, &recording.filename));
    }
    for stored in store::provider_recordings(pool, meeting_id, STREAM).await? {
        let key = stored.external_id.as_deref().unwrap_or_default();
        let seen = stored.provider_seen_at.unwrap_or(stored.started_at);
        if !listed.contains(key)
            && seen < now - FORGET_AFTER_SECS
            && store::delete(pool, &stored.id).await?
        {
            tracing::info!(recording = %stored.id, meeting = %meeting_id, "Stream no longer lists this recording; removed it");
        }
    }
    Ok(())
}

/// Whether the recordings shown are all there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Every source answered (or there is nothing to ask).
    Complete,
    /// The provider did not answer for some meetings: what is shown was stored before.
    Partial,
}

/// Brings the stored Stream recordings of a person's recent meetings up to date, asking
/// Stream about each meeting not listed within the last half minute, a few at a time, for at
/// most [`LIST_DEADLINE`]. Mesh mode has nothing to ask.
pub async fn refresh_for(
    pool: &Pool,
    media: &Media,
    user_id: &str,
    now: i64,
) -> Result<Freshness, sqlx::Error> {
    let Some(stream) = media.stream() else {
        return Ok(Freshness::Complete);
    };
    let meetings = store::recent_meetings_with_attendance(pool, user_id, LIST_MEETINGS)
        .await?
        .into_iter()
        .map(|(id, ended_at)| (id, fresh_for(ended_at, now)))
        .collect();
    refresh_meetings(pool, stream, meetings, now).await
}

/// How long a meeting's listing stays current: longer once it ended over an hour ago.
fn fresh_for(ended_at: Option<i64>, now: i64) -> Duration {
    if ended_at.is_some_and(|at| at < now - SETTLED_AFTER_SECS) {
        SETTLED_RECORDINGS_FRESH_FOR
    } else {
        RECORDINGS_FRESH_FOR
    }
}

/// Lists the given meetings' recordings from Stream (those not listed within the time given
/// with each) and stores them.
pub async fn refresh_meetings(
    pool: &Pool,
    stream: &StreamMedia,
    meetings: Vec<(String, Duration)>,
    now: i64,
) -> Result<Freshness, sqlx::Error> {
    let due = stream.recordings_due(meetings);
    if due.is_empty() {
        return Ok(Freshness::Complete);
    }
    let asked = due.len();
    let mut answered = 0;
    let mut failed = 0;
    let mut listings = futures_util::stream::iter(due)
        .map(|id| async move {
            let listing = stream.list_recordings(&id).await;
            (id, listing)
        })
        .buffer_unordered(LIST_CONCURRENCY);
    let work = async {
        while let Some((id, listing)) = listings.next().await {
            answered += 1;
            match listing {
                Ok(listing) => store_listing(pool, &id, &listing, now).await?,
                Err(e) => {
                    failed += 1;
                    tracing::warn!(meeting = %id, error = %e, "Could not list recordings from Stream");
                }
            }
        }
        Ok::<_, sqlx::Error>(())
    };
    match tokio::time::timeout(LIST_DEADLINE, work).await {
        Ok(result) => result?,
        Err(_) => {
            tracing::warn!(
                asked,
                answered,
                "Stream did not list every meeting's recordings in time"
            );
        }
    }
    Ok(if failed == 0 && answered == asked {
        Freshness::Complete
    } else {
        Freshness::Partial
    })
}

/// Before a stored Stream recording is played: refreshes its signed URL if it is old. Returns
/// the recording as stored now (None if Stream no longer has it).
pub async fn fresh_url(
    pool: &Pool,
    media: &Media,
    recording: super::Recording,
    now: i64,
) -> Result<Option<super::Recording>, sqlx::Error> {
    let stale = recording.provider_seen_at.unwrap_or(0) < now - URL_REFRESH_AFTER_SECS;
    let Some(stream) = media.stream().filter(|_| stale && recording.is_hosted()) else {
        return Ok(Some(recording));
    };
    stream.forget_listing_here(&recording.meeting_id);
    let meeting = vec![(recording.meeting_id.clone(), RECORDINGS_FRESH_FOR)];
    let freshness = refresh_meetings(pool, stream, meeting, now).await?;
    if freshness == Freshness::Partial {
        // Stream did not answer: the stored URL may still work.
        return Ok(Some(recording));
    }
    store::find(pool, &recording.id).await
}

/// Why a hosted recording could not be deleted.
#[derive(Debug, thiserror::Error)]
pub enum DeleteError {
    /// This server does not talk to the provider that keeps it.
    #[error("the recording's provider is not configured")]
    NotHosted,
    /// The provider refused or did not answer; the recording is kept.
    #[error(transparent)]
    Provider(#[from] StreamError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Deletes a hosted recording at the provider, then here. One the provider no longer has is
/// only removed here.
pub async fn delete(
    pool: &Pool,
    media: &Media,
    recording: &super::Recording,
    now: i64,
) -> Result<(), DeleteError> {
    let Some(stream) = media.stream() else {
        return Err(DeleteError::NotHosted);
    };
    let meeting = recording.meeting_id.as_str();
    let address = |r: &super::Recording| {
        r.provider_session
            .clone()
            .filter(|s| !s.is_empty())
            .zip(r.provider_file.clone())
    };
    let (session, file) = match address(recording) {
        Some(found) => found,
        None => {
            // Stored without its session (an older webhook): a listing says it.
            let listing = stream.list_recordings(meeting).await?;
            store_listing(pool, meeting, &listing, now).await?;
            let Some(found) = listing.iter().find(|r| {
                Some(&stream_key(meeting, &r.filename)) == recording.external_id.as_ref()
            }) else {
                store::delete(pool, &recording.id).await?;
                return Ok(());
            };
            (found.session_id.clone(), found.filename.clone())
        }
    };
    match stream.delete_recording(meeting, &session, &file).await {
        Ok(()) => {}
        // A refusal may mean it is gone already (deleted elsewhere): only a listing can say.
        Err(e @ StreamError::Api { status, .. })
            if (400..500).contains(&status) && status != 429 =>
        {
            let listing = stream.list_recordings(meeting).await?;
            if listing.iter().any(|r| r.filename == file) {
                return Err(e.into());
            }
        }
        Err(e) => return Err(e.into()),
    }
    store::delete(pool, &recording.id).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_give_the_type_and_the_key() {
        assert_eq!(mime_of("rec_default_1.mp4"), "video/mp4");
        assert_eq!(mime_of("audio.M4A"), "audio/mp4");
        assert_eq!(mime_of("x.webm"), "video/webm");
        assert_eq!(stream_key("m1", "a.mp4"), "m1/a.mp4");
    }

    #[test]
    fn meetings_over_for_an_hour_are_listed_less_often() {
        let now = 1_000_000;
        assert_eq!(fresh_for(None, now), RECORDINGS_FRESH_FOR);
        assert_eq!(fresh_for(Some(now - 600), now), RECORDINGS_FRESH_FOR);
        assert_eq!(
            fresh_for(Some(now - 7200), now),
            SETTLED_RECORDINGS_FRESH_FOR
        );
    }
}

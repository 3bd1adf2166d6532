//! SQL for recordings.

use crate::db::Row;
use sqlx::Row as _;

use super::{Recording, Status};
use crate::db::{Flag, Pool};
use crate::meetings::store::Cursor;

macro_rules! columns {
    () => {
        "r.id, r.meeting_id, r.created_by, r.provider, r.status, r.mime_type, r.byte_size, \
         r.next_seq, r.duration_ms, r.started_at, r.ended_at, r.last_slice_at, r.external_id, r.url, \
         r.provider_session, r.provider_file, r.provider_seen_at, r.share_version"
    };
}

fn to_recording(row: &Row) -> Result<Recording, sqlx::Error> {
    let status: String = row.try_get("status")?;
    Ok(Recording {
        id: row.try_get("id")?,
        meeting_id: row.try_get("meeting_id")?,
        created_by: row.try_get("created_by")?,
        provider: row.try_get("provider")?,
        status: Status::parse(&status).ok_or_else(|| {
            sqlx::Error::Decode(format!("unknown recording status {status}").into())
        })?,
        mime_type: row.try_get("mime_type")?,
        byte_size: row.try_get("byte_size")?,
        next_seq: row.try_get("next_seq")?,
        duration_ms: row.try_get("duration_ms")?,
        started_at: row.try_get("started_at")?,
        ended_at: row.try_get("ended_at")?,
        last_slice_at: row.try_get("last_slice_at")?,
        external_id: row.try_get("external_id")?,
        url: row.try_get("url")?,
        provider_session: row.try_get("provider_session")?,
        provider_file: row.try_get("provider_file")?,
        provider_seen_at: row.try_get("provider_seen_at")?,
        share_version: row.try_get("share_version")?,
    })
}

/// Starts a recording of a meeting.
pub async fn create(
    pool: &Pool,
    meeting_id: &str,
    created_by: &str,
    mime_type: &str,
    now: i64,
) -> Result<Recording, sqlx::Error> {
    let id = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "insert into recording (id, meeting_id, created_by, provider, status, mime_type, \
         started_at, last_slice_at, created_at) values ($1, $2, $3, 'mesh', 'recording', $4, $5, $5, $5)",
    )
    .bind(&id)
    .bind(meeting_id)
    .bind(created_by)
    .bind(mime_type)
    .bind(now)
    .execute(pool)
    .await?;
    find(pool, &id)
        .await?
        .ok_or_else(|| sqlx::Error::Protocol("recording vanished after insert".into()))
}

pub async fn find(pool: &Pool, id: &str) -> Result<Option<Recording>, sqlx::Error> {
    sqlx::query(concat!(
        "select ",
        columns!(),
        " from recording r where r.id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?
    .map(|r| to_recording(&r))
    .transpose()
}

/// The recording running in a meeting now, if any.
pub async fn active_in(pool: &Pool, meeting_id: &str) -> Result<Option<Recording>, sqlx::Error> {
    sqlx::query(concat!(
        "select ",
        columns!(),
        " from recording r where r.meeting_id = $1 and r.status = 'recording' \
         order by r.started_at desc limit 1"
    ))
    .bind(meeting_id)
    .fetch_optional(pool)
    .await?
    .map(|r| to_recording(&r))
    .transpose()
}

/// Built-in recordings this account has running now.
pub async fn open_count_by(pool: &Pool, account: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "select count(*) from recording where created_by = $1 and status = 'recording' \
         and provider = 'mesh'",
    )
    .bind(account)
    .fetch_one(pool)
    .await
}

/// Bytes of built-in recordings this account made, kept or still being made.
pub async fn bytes_used_by(pool: &Pool, account: &str) -> Result<i64, sqlx::Error> {
    // A sum is `numeric` in PostgreSQL: brought back to a 64-bit integer.
    sqlx::query_scalar(
        "select cast(coalesce(sum(byte_size), 0) as bigint) from recording where created_by = $1 \
         and provider = 'mesh'",
    )
    .bind(account)
    .fetch_one(pool)
    .await
}

/// Records that slices up to `next_seq` (exclusive) are in the file, `byte_size` long.
pub async fn advance(
    pool: &Pool,
    id: &str,
    next_seq: i64,
    byte_size: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update recording set next_seq = $2, byte_size = $3, last_slice_at = $4 \
         where id = $1 and status = 'recording'",
    )
    .bind(id)
    .bind(next_seq)
    .bind(byte_size)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}

/// Marks a slice as seen without advancing (a slice waiting for an earlier one), so an
/// uploader that is alive is not mistaken for a vanished one.
pub async fn touch(pool: &Pool, id: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("update recording set last_slice_at = $2 where id = $1 and status = 'recording'")
        .bind(id)
        .bind(now)
        .execute(pool)
        .await?;
    Ok(())
}

/// Closes a recording: ready when it holds anything, failed when empty. Returns whether this
/// call closed it (false when it was closed already).
pub async fn finish(
    pool: &Pool,
    id: &str,
    duration_ms: Option<i64>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "update recording set status = case when byte_size > 0 then 'ready' else 'failed' end, \
         duration_ms = coalesce($2, duration_ms), ended_at = $3 where id = $1 and status = 'recording'",
    )
    .bind(id)
    .bind(duration_ms)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Recordings whose uploader has been silent since `cutoff`.
pub async fn idle(pool: &Pool, cutoff: i64) -> Result<Vec<Recording>, sqlx::Error> {
    sqlx::query(concat!(
        "select ",
        columns!(),
        " from recording r where r.status = 'recording' and r.last_slice_at < $1"
    ))
    .bind(cutoff)
    .fetch_all(pool)
    .await?
    .iter()
    .map(to_recording)
    .collect()
}

pub async fn delete(pool: &Pool, id: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("delete from recording where id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// "The person was in the meeting while recording `r` was being made": one of their spans
/// overlaps the recording. A span left open by a crash counts until a minute after it was last
/// refreshed; a recording still running has no end yet. Binds: ?1 the person.
macro_rules! was_there {
    () => {
        "exists (select 1 from attendance_span s where s.meeting_id = r.meeting_id \
         and s.account_id = $1 and s.joined_at <= coalesce(r.ended_at, s.joined_at) \
         and coalesce(s.left_at, s.last_seen_at + 60) >= r.started_at)"
    };
}

/// True when the user may watch the recording: the meeting's host, whoever recorded it, and
/// people who were in the meeting while it was being recorded. Anyone who merely held the
/// meeting's link, or came before or after, may not.
pub async fn may_view(
    pool: &Pool,
    recording: &Recording,
    user_id: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar::<_, Flag>(concat!(
        "select exists (select 1 from meeting where id = r.meeting_id and owner_id = $1) \
         or r.created_by = $1 or ",
        was_there!(),
        " from recording r where r.id = $2"
    ))
    .bind(user_id)
    .bind(&recording.id)
    .fetch_optional(pool)
    .await
    .map(|v| v.is_some_and(bool::from))
}

/// A recording in a list, with its meeting's title and owner.
#[derive(Debug, Clone)]
pub struct ListedRecording {
    pub recording: Recording,
    pub title: String,
    pub owner_id: String,
}

/// Ready recordings the user may watch (see [`may_view`]), newest first, after a cursor.
pub async fn list_for(
    pool: &Pool,
    user_id: &str,
    before: Option<&Cursor>,
    limit: usize,
) -> Result<(Vec<ListedRecording>, Option<Cursor>), sqlx::Error> {
    let sql = concat!(
        "with cand (id) as ( \
           select r.id from meeting m join recording r on r.meeting_id = m.id \
             where m.owner_id = $1 and r.status = 'ready' and (r.started_at, r.id) < ($2, $3) \
           union select r.id from recording r \
             where r.created_by = $1 and r.status = 'ready' and (r.started_at, r.id) < ($2, $3) \
           union select r.id from recording r where r.meeting_id in \
             (select distinct meeting_id from attendance_span where account_id = $1) \
             and r.status = 'ready' and (r.started_at, r.id) < ($2, $3) and ",
        was_there!(),
        ") select ",
        columns!(),
        ", m.description, m.owner_id from recording r \
         join cand on cand.id = r.id join meeting m on m.id = r.meeting_id \
         order by r.started_at desc, r.id desc limit $4"
    );
    let (ts, id) = match before {
        Some(c) => (c.starts_at, c.id.clone()),
        None => (i64::MAX, String::new()),
    };
    let rows = sqlx::query(sql)
        .bind(user_id)
        .bind(ts)
        .bind(id)
        .bind((limit + 1) as i64)
        .fetch_all(pool)
        .await?;
    let more = rows.len() > limit;
    let mut out = Vec::new();
    for row in rows.iter().take(limit) {
        let description: String = row.try_get("description")?;
        out.push(ListedRecording {
            recording: to_recording(row)?,
            title: if description.trim().is_empty() {
                "No Description".into()
            } else {
                description
            },
            owner_id: row.try_get("owner_id")?,
        });
    }
    let next = if more {
        out.last().map(|l| Cursor {
            starts_at: l.recording.started_at,
            id: l.recording.id.clone(),
        })
    } else {
        None
    };
    Ok((out, next))
}

/// Stops every share link made so far for a recording from playing; returns the new version
/// (links made from now on carry it).
pub async fn revoke_share_links(pool: &Pool, id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "update recording set share_version = share_version + 1 where id = $1 \
         returning share_version",
    )
    .bind(id)
    .fetch_one(pool)
    .await
}

/// Lets (or stops letting) everyone in the meeting record.
pub async fn set_allowed(pool: &Pool, meeting_id: &str, allowed: bool) -> Result<(), sqlx::Error> {
    sqlx::query("update meeting set recording_allowed = $2 where id = $1")
        .bind(meeting_id)
        .bind(i64::from(allowed))
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn is_allowed(pool: &Pool, meeting_id: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar::<_, Flag>("select recording_allowed from meeting where id = $1")
        .bind(meeting_id)
        .fetch_optional(pool)
        .await
        .map(|v| v.is_some_and(bool::from))
}

/// A recording made by a hosted provider (Stream), ready to play from its own URL.
#[derive(Debug, Clone)]
pub struct ProviderRecording<'a> {
    pub meeting_id: &'a str,
    pub provider: &'a str,
    /// Our key for it, unique per provider (for Stream: the meeting ID and the file name).
    pub external_id: &'a str,
    /// The session and file name the provider's API addresses it by.
    pub session: &'a str,
    pub file: &'a str,
    pub url: &'a str,
    pub mime_type: &'a str,
    pub started_at: i64,
    pub ended_at: i64,
}

/// Stores a provider's recording of a meeting we know. The same recording reported again (by
/// webhook or in a listing) only refreshes its URL, times and when it was seen: Stream's URLs
/// are signed and expire. Returns whether the meeting exists.
pub async fn save_provider_recording(
    pool: &Pool,
    r: &ProviderRecording<'_>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let duration_ms = (r.ended_at - r.started_at).max(0) * 1000;
    let result = sqlx::query(
        "insert into recording (id, meeting_id, created_by, provider, status, mime_type, \
         duration_ms, started_at, ended_at, last_slice_at, external_id, url, created_at, \
         provider_session, provider_file, provider_seen_at) \
         select $1, $2, null, $3, 'ready', $4, $5, $6, $7, $8, $9, $10, $8, $11, $12, $8 \
         where exists (select 1 from meeting where id = $2) \
         on conflict (provider, external_id) where external_id is not null do update set \
         url = excluded.url, started_at = excluded.started_at, ended_at = excluded.ended_at, \
         duration_ms = excluded.duration_ms, provider_session = excluded.provider_session, \
         provider_file = excluded.provider_file, provider_seen_at = excluded.provider_seen_at",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(r.meeting_id)
    .bind(r.provider)
    .bind(r.mime_type)
    .bind(duration_ms)
    .bind(r.started_at)
    .bind(r.ended_at)
    .bind(now)
    .bind(r.external_id)
    .bind(r.url)
    .bind(r.session)
    .bind(r.file)
    .execute(pool)
    .await?;
    Ok(result.rows_affected() > 0)
}

/// A meeting's recordings by a provider, earliest first.
pub async fn provider_recordings(
    pool: &Pool,
    meeting_id: &str,
    provider: &str,
) -> Result<Vec<Recording>, sqlx::Error> {
    sqlx::query(concat!(
        "select ",
        columns!(),
        " from recording r where r.meeting_id = $1 and r.provider = $2 order by r.started_at, r.id"
    ))
    .bind(meeting_id)
    .bind(provider)
    .fetch_all(pool)
    .await?
    .iter()
    .map(to_recording)
    .collect()
}

/// Meetings whose recordings a person may see and that can have any: those they attended,
/// and those they own that anyone attended. The most recent first, at most `limit`, with
/// when each ended (if it has).
pub async fn recent_meetings_with_attendance(
    pool: &Pool,
    user_id: &str,
    limit: i64,
) -> Result<Vec<(String, Option<i64>)>, sqlx::Error> {
    sqlx::query_as(
        "select m.id, m.ended_at from meeting m where m.id in ( \
           select a.meeting_id from attendance a where a.account_id = $1 \
           union select o.id from meeting o where o.owner_id = $1 \
             and exists (select 1 from attendance a where a.meeting_id = o.id)) \
         order by m.starts_at desc, m.id desc limit $2",
    )
    .bind(user_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

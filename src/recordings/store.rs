//! SQL for recordings.

use sqlx::Row;

use super::Recording;
use crate::db::Pool;

/// A recording as the provider describes it.
#[derive(Debug, Clone)]
pub struct NewRecording<'a> {
    pub meeting_id: &'a str,
    pub provider: &'a str,
    pub url: &'a str,
    pub filename: &'a str,
    pub start_time: i64,
    pub end_time: i64,
}

/// Stores a recording of a meeting we know; the same file reported again only refreshes its
/// URL and times (Stream's URLs are signed and expire). Returns whether the meeting exists.
pub async fn save(pool: &Pool, r: &NewRecording<'_>, now: i64) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "insert into recording (id, meeting_id, provider, url, filename, start_time, end_time, created_at) \
         select ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 where exists (select 1 from meeting where id = ?2) \
         on conflict (meeting_id, filename) do update set url = excluded.url, \
         start_time = excluded.start_time, end_time = excluded.end_time",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(r.meeting_id)
    .bind(r.provider)
    .bind(r.url)
    .bind(r.filename)
    .bind(r.start_time)
    .bind(r.end_time)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(result.rows_affected() > 0)
}

/// The recordings of a meeting, earliest first.
pub async fn for_meeting(pool: &Pool, meeting_id: &str) -> Result<Vec<Recording>, sqlx::Error> {
    sqlx::query(
        "select id, meeting_id, provider, url, filename, start_time, end_time, created_at \
         from recording where meeting_id = ? order by start_time, filename",
    )
    .bind(meeting_id)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|row| {
        Ok(Recording {
            id: row.try_get("id")?,
            meeting_id: row.try_get("meeting_id")?,
            provider: row.try_get("provider")?,
            url: row.try_get("url")?,
            filename: row.try_get("filename")?,
            start_time: row.try_get("start_time")?,
            end_time: row.try_get("end_time")?,
            created_at: row.try_get("created_at")?,
        })
    })
    .collect()
}

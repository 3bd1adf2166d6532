//! Who is, and was, in a meeting: one `attendance` row per person (for the lists and "live"),
//! and `attendance_span` rows for each stretch of time they were in (for what they may see of
//! the meeting afterwards, such as recordings made while they were there). The meeting's own
//! `last_seen_at` says when anyone was last in it, so an emptied room can be ended later.

use super::PRESENCE_WINDOW_SECS;
use crate::db::Pool;

type Tx<'a> = sqlx::Transaction<'a, sqlx::Sqlite>;

/// Records that someone joined (first time or again) and is present.
pub async fn record_join(
    pool: &Pool,
    meeting_id: &str,
    account_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "insert into attendance (meeting_id, account_id, first_joined_at, last_seen_at, present, created_at) \
         values (?1, ?2, ?3, ?3, 1, ?3) \
         on conflict (meeting_id, account_id) do update set last_seen_at = ?3, present = 1",
    )
    .bind(meeting_id)
    .bind(account_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    open_span(&mut tx, meeting_id, account_id, now).await?;
    touch_meeting(&mut tx, meeting_id, now).await?;
    tx.commit().await
}

/// Records a join reported by the media provider: only for a meeting we know and someone it
/// let in (its host, or let in by its room); anything else is another app's call, a stale
/// account, or someone who reached the call without going through the meeting's door.
/// Returns whether it was recorded.
pub async fn record_reported_join(
    pool: &Pool,
    meeting_id: &str,
    account_id: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let result = sqlx::query(
        "insert into attendance (meeting_id, account_id, first_joined_at, last_seen_at, present, created_at) \
         select ?1, ?2, ?3, ?3, 1, ?3 where exists (select 1 from account where id = ?2) \
         and exists (select 1 from meeting m where m.id = ?1 and (m.owner_id = ?2 or exists ( \
         select 1 from meeting_admission ad where ad.meeting_id = m.id and ad.account_id = ?2 \
         and ad.status = 'admitted'))) \
         on conflict (meeting_id, account_id) do update set last_seen_at = ?3, present = 1",
    )
    .bind(meeting_id)
    .bind(account_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let recorded = result.rows_affected() > 0;
    if recorded {
        open_span(&mut tx, meeting_id, account_id, now).await?;
        touch_meeting(&mut tx, meeting_id, now).await?;
    }
    tx.commit().await?;
    Ok(recorded)
}

/// Refreshes the presence of someone still connected.
pub async fn record_seen(
    pool: &Pool,
    meeting_id: &str,
    account_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let seen = sqlx::query(
        "update attendance set last_seen_at = ? where meeting_id = ? and account_id = ? and present = 1",
    )
    .bind(now)
    .bind(meeting_id)
    .bind(account_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if seen > 0 {
        open_span(&mut tx, meeting_id, account_id, now).await?;
        touch_meeting(&mut tx, meeting_id, now).await?;
    }
    tx.commit().await
}

/// Records that someone left.
pub async fn record_leave(
    pool: &Pool,
    meeting_id: &str,
    account_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "update attendance set last_seen_at = ?, present = 0 where meeting_id = ? and account_id = ?",
    )
    .bind(now)
    .bind(meeting_id)
    .bind(account_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "update attendance_span set last_seen_at = ?1, left_at = ?1 \
         where meeting_id = ?2 and account_id = ?3 and left_at is null",
    )
    .bind(now)
    .bind(meeting_id)
    .bind(account_id)
    .execute(&mut *tx)
    .await?;
    touch_meeting(&mut tx, meeting_id, now).await?;
    tx.commit().await
}

/// Extends the person's open span, or starts a new one when there is none fresh (a span a
/// crash left open ends where it was last refreshed).
async fn open_span(
    tx: &mut Tx<'_>,
    meeting_id: &str,
    account_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let extended = sqlx::query(
        "update attendance_span set last_seen_at = ?1 where meeting_id = ?2 and account_id = ?3 \
         and left_at is null and last_seen_at >= ?4",
    )
    .bind(now)
    .bind(meeting_id)
    .bind(account_id)
    .bind(now - PRESENCE_WINDOW_SECS)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if extended > 0 {
        return Ok(());
    }
    sqlx::query(
        "update attendance_span set left_at = last_seen_at \
         where meeting_id = ? and account_id = ? and left_at is null",
    )
    .bind(meeting_id)
    .bind(account_id)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "insert into attendance_span (meeting_id, account_id, joined_at, last_seen_at, created_at) \
         values (?1, ?2, ?3, ?3, ?3)",
    )
    .bind(meeting_id)
    .bind(account_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn touch_meeting(tx: &mut Tx<'_>, meeting_id: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("update meeting set last_seen_at = ?1 where id = ?2 and ended_at is null")
        .bind(now)
        .bind(meeting_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// True when the person was ever in the meeting.
pub async fn attended(
    pool: &Pool,
    meeting_id: &str,
    account_id: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar::<_, bool>(
        "select exists (select 1 from attendance where meeting_id = ?1 and account_id = ?2)",
    )
    .bind(meeting_id)
    .bind(account_id)
    .fetch_one(pool)
    .await
}

/// True when the person is in the meeting now (connected and recently seen).
pub async fn is_present(
    pool: &Pool,
    meeting_id: &str,
    account_id: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar::<_, bool>(
        "select exists (select 1 from attendance where meeting_id = ?1 and account_id = ?2 \
         and present = 1 and last_seen_at >= ?3)",
    )
    .bind(meeting_id)
    .bind(account_id)
    .bind(now - PRESENCE_WINDOW_SECS)
    .fetch_one(pool)
    .await
}

/// Meetings still open whose room has been empty since before `cutoff` (someone was in them
/// once; nobody has been seen since), at most `limit` of them.
pub async fn emptied_before(
    pool: &Pool,
    cutoff: i64,
    limit: i64,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "select id from meeting where ended_at is null and cancelled_at is null \
         and last_seen_at is not null and last_seen_at < ?1 order by last_seen_at limit ?2",
    )
    .bind(cutoff)
    .bind(limit)
    .fetch_all(pool)
    .await
}

//! SQL for meetings and attendance. Portable SQL only (row values, `exists`, CTEs), so a
//! PostgreSQL backend can follow.

use std::collections::HashMap;

use crate::db::Row;
use sqlx::Row as _;

use super::{ListedMeeting, Meeting, MeetingError, MeetingKind, PRESENCE_WINDOW_SECS, Person};
use crate::db::{Flag, Pool};

// SQL fragments are macros so every statement stays a single string literal (sqlx refuses
// strings assembled at run time, which is the point: nothing user-typed reaches the SQL text).
macro_rules! columns {
    () => {
        "m.id, m.owner_id, m.description, m.kind, m.starts_at, m.created_at, m.ended_at, \
         m.cancelled_at"
    };
}

/// "Someone is in the meeting now": present and seen since the cutoff bound as `?3`.
macro_rules! live {
    () => {
        "exists (select 1 from attendance a where a.meeting_id = m.id and a.present = 1 \
         and a.last_seen_at >= $3)"
    };
}

fn to_meeting(row: &Row) -> Result<Meeting, sqlx::Error> {
    let kind: String = row.try_get("kind")?;
    Ok(Meeting {
        id: row.try_get("id")?,
        owner_id: row.try_get("owner_id")?,
        description: row.try_get("description")?,
        kind: MeetingKind::parse(&kind)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown meeting kind {kind}").into()))?,
        starts_at: row.try_get("starts_at")?,
        created_at: row.try_get("created_at")?,
        ended_at: row.try_get("ended_at")?,
        cancelled_at: row.try_get("cancelled_at")?,
    })
}

/// Creates a meeting.
pub async fn create(
    pool: &Pool,
    owner_id: &str,
    description: &str,
    kind: MeetingKind,
    starts_at: i64,
    now: i64,
) -> Result<Meeting, sqlx::Error> {
    let meeting = Meeting {
        id: uuid::Uuid::new_v4().to_string(),
        owner_id: owner_id.to_owned(),
        description: description.to_owned(),
        kind,
        starts_at,
        created_at: now,
        ended_at: None,
        cancelled_at: None,
    };
    insert(pool, &meeting).await?;
    Ok(meeting)
}

pub(super) async fn insert<'e>(
    executor: impl sqlx::any::AnyExecutor<'e>,
    m: &Meeting,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into meeting (id, owner_id, description, kind, starts_at, created_at) \
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&m.id)
    .bind(&m.owner_id)
    .bind(&m.description)
    .bind(m.kind.as_str())
    .bind(m.starts_at)
    .bind(m.created_at)
    .execute(executor)
    .await?;
    Ok(())
}

/// Removes a meeting that was never used (a hosted provider refused to create its call).
pub async fn delete_unused(pool: &Pool, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "delete from meeting where id = $1 \
         and not exists (select 1 from attendance where meeting_id = meeting.id)",
    )
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

/// The meeting with this ID.
pub async fn find(pool: &Pool, id: &str) -> Result<Option<Meeting>, sqlx::Error> {
    sqlx::query(concat!(
        "select ",
        columns!(),
        " from meeting m where m.id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?
    .map(|r| to_meeting(&r))
    .transpose()
}

/// True when someone is in the meeting now.
pub async fn is_live(pool: &Pool, id: &str, now: i64) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar::<_, Flag>(concat!(
        "select ",
        live!(),
        " from meeting m where m.id = $1"
    ))
    .bind(id)
    .bind(0_i64) // ?2 is unused here; live!() reads its cutoff from ?3.
    .bind(now - PRESENCE_WINDOW_SECS)
    .fetch_optional(pool)
    .await
    .map(|v| v.is_some_and(bool::from))
}

/// Cancels a meeting that has not happened yet. Only its owner may.
pub async fn cancel(
    pool: &Pool,
    id: &str,
    user_id: &str,
    now: i64,
) -> Result<Meeting, MeetingError> {
    let meeting = find(pool, id).await?.ok_or(MeetingError::NotFound)?;
    if !meeting.is_owner(user_id) {
        return Err(MeetingError::NotOwner);
    }
    if meeting.ended_at.is_some() || meeting.cancelled_at.is_some() {
        return Err(MeetingError::Invalid("This meeting is already over."));
    }
    if is_live(pool, id, now).await? {
        return Err(MeetingError::Invalid(
            "This meeting is in progress: end it for everyone instead.",
        ));
    }
    sqlx::query("update meeting set cancelled_at = $1 where id = $2 and cancelled_at is null")
        .bind(now)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(Meeting {
        cancelled_at: Some(now),
        ..meeting
    })
}

/// Ends a meeting for everyone. Only its owner may; ending an ended meeting is harmless.
/// Ending a personal room's session closes it, so the next visit opens a fresh one.
pub async fn end(pool: &Pool, id: &str, user_id: &str, now: i64) -> Result<Meeting, MeetingError> {
    let meeting = find(pool, id).await?.ok_or(MeetingError::NotFound)?;
    if !meeting.is_owner(user_id) {
        return Err(MeetingError::NotOwner);
    }
    close(pool, id, now).await?;
    Ok(Meeting {
        ended_at: meeting.ended_at.or(Some(now)),
        ..meeting
    })
}

/// What [`close`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// No meeting has that ID.
    Unknown,
    /// This call ended it (whoever else tried at the same time found it ended).
    Now,
    /// It had ended before.
    Already,
}

/// Marks a meeting ended without asking who: for the media provider reporting that its call
/// ended, or a meeting left empty. Harmless on an ended meeting.
pub async fn close(pool: &Pool, id: &str, now: i64) -> Result<Closed, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let ended_now =
        sqlx::query("update meeting set ended_at = $1 where id = $2 and ended_at is null")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
    sqlx::query("update attendance set present = 0 where meeting_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "update attendance_span set left_at = $1 where meeting_id = $2 and left_at is null",
    )
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("update personal_room set meeting_id = null where meeting_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let Flag(exists) = sqlx::query_scalar("select exists (select 1 from meeting where id = $1)")
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(match (exists, ended_now) {
        (false, _) => Closed::Unknown,
        (true, true) => Closed::Now,
        (true, false) => Closed::Already,
    })
}

pub use super::attendance::{record_join, record_leave, record_reported_join, record_seen};

/// Where a page of a list starts: after this (starts_at, id) in the list's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub starts_at: i64,
    pub id: String,
}

impl Cursor {
    /// Parses `"<starts_at>_<id>"`; anything else is `None` (the first page).
    pub fn parse(raw: &str) -> Option<Self> {
        let (ts, id) = raw.split_once('_')?;
        let id = uuid::Uuid::parse_str(id).ok()?.to_string();
        Some(Self {
            starts_at: ts.parse().ok()?,
            id,
        })
    }

    pub fn encode(&self) -> String {
        format!("{}_{}", self.starts_at, self.id)
    }
}

/// One page of a list, and where the next one starts.
#[derive(Debug)]
pub struct Page {
    pub meetings: Vec<ListedMeeting>,
    pub next: Option<Cursor>,
}

/// Upcoming: not ended or cancelled, and starting later or live now; soonest first (so live
/// meetings, which started already, lead). Personal rooms have their own page.
///
/// Candidates come from three narrow places rather than from everything the user ever owned
/// or attended (which grows without bound): owned meetings from an index range, attended
/// ones, and the few meetings live right now. Binds: ?1 user, ?2 now, ?3 presence cutoff,
/// ?4/?5 cursor, ?6 page size + 1.
pub async fn upcoming(
    pool: &Pool,
    user_id: &str,
    now: i64,
    after: Option<&Cursor>,
    limit: usize,
) -> Result<Page, sqlx::Error> {
    let sql = concat!(
        "with cand (id) as ( \
           select id from (select id from meeting \
             where owner_id = $1 and ended_at is null and cancelled_at is null \
             and kind <> 'personal' and starts_at >= $2 and (starts_at, id) > ($4, $5) \
             order by starts_at, id limit $6) as own \
           union select m.id from attendance a join meeting m on m.id = a.meeting_id \
             where a.account_id = $1 and m.ended_at is null and m.cancelled_at is null \
             and m.kind <> 'personal' and m.starts_at >= $2 and (m.starts_at, m.id) > ($4, $5) \
           union select m.id from attendance l join meeting m on m.id = l.meeting_id \
             where l.present = 1 and l.last_seen_at >= $3 and m.ended_at is null \
             and m.cancelled_at is null and m.kind <> 'personal' and (m.starts_at, m.id) > ($4, $5) \
             and (m.owner_id = $1 or exists (select 1 from attendance x \
                  where x.meeting_id = m.id and x.account_id = $1))) ",
        "select ",
        columns!(),
        ", o.display_name as owner_name, ",
        live!(),
        " as live \
         from meeting m join cand on cand.id = m.id join account o on o.id = m.owner_id \
         order by m.starts_at, m.id limit $6"
    );
    let (cursor_ts, cursor_id) = match after {
        Some(c) => (c.starts_at, c.id.clone()),
        None => (i64::MIN, String::new()),
    };
    let rows = sqlx::query(sql)
        .bind(user_id)
        .bind(now)
        .bind(now - PRESENCE_WINDOW_SECS)
        .bind(cursor_ts)
        .bind(cursor_id)
        .bind((limit + 1) as i64)
        .fetch_all(pool)
        .await?;
    page(pool, rows, limit).await
}

/// Previous: ended, or past their start and nobody in them; most recent first. A personal
/// room's session counts once it was used. Same binds as [`upcoming`]; each branch applies
/// every condition itself so its own limit is exact.
pub async fn previous(
    pool: &Pool,
    user_id: &str,
    now: i64,
    before: Option<&Cursor>,
    limit: usize,
) -> Result<Page, sqlx::Error> {
    macro_rules! is_previous {
        () => {
            "m.cancelled_at is null and (m.ended_at is not null or (m.starts_at < $2 and not \
             exists (select 1 from attendance a where a.meeting_id = m.id and a.present = 1 \
             and a.last_seen_at >= $3))) and (m.kind <> 'personal' or exists \
             (select 1 from attendance x where x.meeting_id = m.id)) \
             and (m.starts_at, m.id) < ($4, $5)"
        };
    }
    let sql = concat!(
        "with cand (id) as ( \
           select id from (select m.id from meeting m where m.owner_id = $1 and ",
        is_previous!(),
        " order by m.starts_at desc, m.id desc limit $6) as own \
           union select m.id from attendance at join meeting m on m.id = at.meeting_id \
             where at.account_id = $1 and ",
        is_previous!(),
        ") select ",
        columns!(),
        ", o.display_name as owner_name, ",
        live!(),
        " as live \
         from meeting m join cand on cand.id = m.id join account o on o.id = m.owner_id \
         order by m.starts_at desc, m.id desc limit $6"
    );
    let (cursor_ts, cursor_id) = match before {
        Some(c) => (c.starts_at, c.id.clone()),
        None => (i64::MAX, String::new()),
    };
    let rows = sqlx::query(sql)
        .bind(user_id)
        .bind(now)
        .bind(now - PRESENCE_WINDOW_SECS)
        .bind(cursor_ts)
        .bind(cursor_id)
        .bind((limit + 1) as i64)
        .fetch_all(pool)
        .await?;
    page(pool, rows, limit).await
}

async fn page(pool: &Pool, rows: Vec<Row>, limit: usize) -> Result<Page, sqlx::Error> {
    let has_more = rows.len() > limit;
    let mut meetings = Vec::with_capacity(rows.len().min(limit));
    for row in rows.iter().take(limit) {
        meetings.push(ListedMeeting {
            meeting: to_meeting(row)?,
            owner_name: row.try_get("owner_name")?,
            live: row.try_get::<Flag, _>("live")?.into(),
            attendees: Vec::new(),
        });
    }
    let ids: Vec<&str> = meetings.iter().map(|m| m.meeting.id.as_str()).collect();
    let mut people = attendees(pool, &ids).await?;
    for m in &mut meetings {
        m.attendees = people.remove(&m.meeting.id).unwrap_or_default();
    }
    let next = if has_more {
        meetings.last().map(|m| Cursor {
            starts_at: m.meeting.starts_at,
            id: m.meeting.id.clone(),
        })
    } else {
        None
    };
    Ok(Page { meetings, next })
}

/// Who attended each of these meetings, earliest first.
pub async fn attendees(
    pool: &Pool,
    meeting_ids: &[&str],
) -> Result<HashMap<String, Vec<Person>>, sqlx::Error> {
    let mut out: HashMap<String, Vec<Person>> = HashMap::new();
    if meeting_ids.is_empty() {
        return Ok(out);
    }
    let placeholders = crate::db::placeholders(meeting_ids.len());
    let sql = format!(
        "select a.meeting_id, acc.id, acc.display_name, acc.image_url from attendance a \
         join account acc on acc.id = a.account_id where a.meeting_id in ({placeholders}) \
         order by a.first_joined_at, acc.id"
    );
    // Only placeholders are added (`$1`, `$2`…), one per ID; the IDs themselves are bound.
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for id in meeting_ids {
        query = query.bind(*id);
    }
    for row in query.fetch_all(pool).await? {
        out.entry(row.try_get("meeting_id")?)
            .or_default()
            .push(Person {
                id: row.try_get("id")?,
                display_name: row.try_get("display_name")?,
                image_url: row.try_get("image_url")?,
            });
    }
    Ok(out)
}

/// The next meeting to start for this user (for the home banner), not counting ones already
/// going on: the sooner of the next owned one (an index range) and the next attended one.
pub async fn next_upcoming(
    pool: &Pool,
    user_id: &str,
    now: i64,
) -> Result<Option<Meeting>, sqlx::Error> {
    macro_rules! is_next {
        () => {
            "m.ended_at is null and m.cancelled_at is null and m.kind <> 'personal' \
             and m.starts_at >= $2"
        };
    }
    let sql = concat!(
        "select * from (select ",
        columns!(),
        " from meeting m where m.owner_id = $1 and ",
        is_next!(),
        " order by m.starts_at, m.id limit 1) as own \
         union all select * from (select ",
        columns!(),
        " from attendance a \
         join meeting m on m.id = a.meeting_id where a.account_id = $1 and ",
        is_next!(),
        " order by m.starts_at, m.id limit 1) as joined order by starts_at, id limit 1"
    );
    sqlx::query(sql)
        .bind(user_id)
        .bind(now)
        .fetch_optional(pool)
        .await?
        .map(|r| to_meeting(&r))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::Cursor;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = Cursor {
            starts_at: 1_700_000_000,
            id: "6f1c1f1e-5d0a-4d0b-9a57-1f0b1b2b3c4d".into(),
        };
        assert_eq!(Cursor::parse(&c.encode()), Some(c));
        for bad in [
            "",
            "x",
            "1_",
            "_6f1c1f1e-5d0a-4d0b-9a57-1f0b1b2b3c4d",
            "1_notauuid",
            "a_6f1c1f1e-5d0a-4d0b-9a57-1f0b1b2b3c4d",
        ] {
            assert_eq!(Cursor::parse(bad), None, "{bad}");
        }
    }
}

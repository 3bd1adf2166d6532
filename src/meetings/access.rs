//! Who may be in a meeting, as the host decides it: the waiting room, the lock, the people let
//! in (who skip the waiting room when they come back) and the people removed (refused until
//! the host lets them back). The room task holds this while it runs; here it is stored.

use std::collections::{HashMap, HashSet};

use sqlx::Row;

use super::MeetingKind;
use crate::db::Pool;

/// A meeting's access settings and decisions, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    pub waiting_room: bool,
    pub locked: bool,
    /// Account IDs the host let in.
    pub admitted: HashSet<String>,
    /// Account ID → name of the people the host removed.
    pub removed: HashMap<String, String>,
}

/// The waiting room when the host did not choose: on for a personal room (its link is
/// permanent, so it leaks), off for an instant meeting (its link was just made and shared).
pub fn default_waiting_room(kind: MeetingKind) -> bool {
    matches!(kind, MeetingKind::Personal)
}

/// A meeting's access (the kind's defaults where nothing is stored).
pub async fn load(pool: &Pool, meeting_id: &str) -> Result<Access, sqlx::Error> {
    let settings = sqlx::query(
        "select m.kind, a.waiting_room, a.locked from meeting m \
         left join meeting_access a on a.meeting_id = m.id where m.id = ?",
    )
    .bind(meeting_id)
    .fetch_optional(pool)
    .await?;
    let mut access = Access::default();
    if let Some(row) = settings {
        let kind: String = row.try_get("kind")?;
        let waiting: Option<i64> = row.try_get("waiting_room")?;
        let locked: Option<i64> = row.try_get("locked")?;
        access.waiting_room = match waiting {
            Some(w) => w != 0,
            None => MeetingKind::parse(&kind).is_some_and(default_waiting_room),
        };
        access.locked = locked.unwrap_or(0) != 0;
    }
    let decisions =
        sqlx::query("select account_id, status, name from meeting_admission where meeting_id = ?")
            .bind(meeting_id)
            .fetch_all(pool)
            .await?;
    for row in decisions {
        let account: String = row.try_get("account_id")?;
        let status: String = row.try_get("status")?;
        if status == "removed" {
            access.removed.insert(account, row.try_get("name")?);
        } else {
            access.admitted.insert(account);
        }
    }
    Ok(access)
}

/// Stores the waiting room and the lock.
pub async fn save_settings(
    pool: &Pool,
    meeting_id: &str,
    waiting_room: bool,
    locked: bool,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into meeting_access (meeting_id, waiting_room, locked, updated_at, created_at) \
         values (?1, ?2, ?3, ?4, ?4) on conflict (meeting_id) do update \
         set waiting_room = ?2, locked = ?3, updated_at = ?4",
    )
    .bind(meeting_id)
    .bind(i64::from(waiting_room))
    .bind(i64::from(locked))
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}

/// What the host decided about one person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Admitted,
    Removed,
}

/// Stores that the host let someone in, or removed them.
pub async fn decide(
    pool: &Pool,
    meeting_id: &str,
    account_id: &str,
    name: &str,
    decision: Decision,
    now: i64,
) -> Result<(), sqlx::Error> {
    let status = match decision {
        Decision::Admitted => "admitted",
        Decision::Removed => "removed",
    };
    sqlx::query(
        "insert into meeting_admission (meeting_id, account_id, status, name, decided_at, created_at) \
         values (?1, ?2, ?3, ?4, ?5, ?5) on conflict (meeting_id, account_id) do update \
         set status = ?3, name = ?4, decided_at = ?5",
    )
    .bind(meeting_id)
    .bind(account_id)
    .bind(status)
    .bind(name)
    .bind(now)
    .execute(pool)
    .await?;
    if decision == Decision::Removed {
        // Removed people are not attendees: the meeting leaves their lists, and what was
        // recorded or written while they were there is no longer theirs to see.
        for table in ["attendance_span", "attendance"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "delete from {table} where meeting_id = ? and account_id = ?"
            )))
            .bind(meeting_id)
            .bind(account_id)
            .execute(pool)
            .await?;
        }
    }
    Ok(())
}

/// Forgets the host's decision about someone (a removed person may come back, through the
/// waiting room when it is on).
pub async fn forget(pool: &Pool, meeting_id: &str, account_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("delete from meeting_admission where meeting_id = ? and account_id = ?")
        .bind(meeting_id)
        .bind(account_id)
        .execute(pool)
        .await?;
    Ok(())
}

/// True when this person was let into the meeting (or is its host): only they become
/// attendees and get a token for the meeting's call at a hosted provider.
pub async fn is_admitted(
    pool: &Pool,
    meeting_id: &str,
    account_id: &str,
) -> Result<bool, sqlx::Error> {
    let admitted: Option<i64> = sqlx::query_scalar(
        "select 1 from meeting m where m.id = ?1 and (m.owner_id = ?2 or exists ( \
         select 1 from meeting_admission a where a.meeting_id = m.id and a.account_id = ?2 \
         and a.status = 'admitted'))",
    )
    .bind(meeting_id)
    .bind(account_id)
    .fetch_optional(pool)
    .await?;
    Ok(admitted.is_some())
}

/// Where someone stands with a meeting's call, in one query: `None` for no such meeting,
/// else whether it is over and whether they were let in (or are its host).
pub async fn call_standing(
    pool: &Pool,
    meeting_id: &str,
    account_id: &str,
) -> Result<Option<(bool, bool)>, sqlx::Error> {
    let row = sqlx::query(
        "select (m.ended_at is not null or m.cancelled_at is not null) as over, \
         (m.owner_id = ?2 or exists (select 1 from meeting_admission a \
         where a.meeting_id = m.id and a.account_id = ?2 and a.status = 'admitted')) as admitted \
         from meeting m where m.id = ?1",
    )
    .bind(meeting_id)
    .bind(account_id)
    .fetch_optional(pool)
    .await?;
    row.map(|r| Ok((r.try_get("over")?, r.try_get("admitted")?)))
        .transpose()
}

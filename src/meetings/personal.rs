//! Personal rooms: one per account, with a stable random room ID (never the account ID).

use rand::Rng;
use sqlx::Row;

use super::{Meeting, MeetingKind, store};
use crate::db::{self, Pool};

/// A personal room.
#[derive(Debug, Clone)]
pub struct PersonalRoom {
    pub account_id: String,
    pub room_id: String,
    /// The session open now, if any.
    pub meeting_id: Option<String>,
}

/// Room IDs are ten digits, like a phone number: easy to read out and type.
pub fn new_room_id() -> String {
    let mut rng = rand::rng();
    format!("{}", rng.random_range(1_000_000_000u64..10_000_000_000u64))
}

/// True for strings shaped like a room ID (digits only, ten of them).
pub fn looks_like_room_id(s: &str) -> bool {
    s.len() == 10 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The user's room, created on first use.
pub async fn get_or_create(pool: &Pool, account_id: &str) -> Result<PersonalRoom, sqlx::Error> {
    if let Some(room) = find_by_owner(pool, account_id).await? {
        return Ok(room);
    }
    // A collision among 9·10⁹ IDs is rare; retry a few times rather than fail.
    for _ in 0..5 {
        let room_id = new_room_id();
        let res = sqlx::query(
            "insert into personal_room (account_id, room_id, created_at) values (?, ?, ?) \
             on conflict (account_id) do nothing",
        )
        .bind(account_id)
        .bind(&room_id)
        .bind(crate::time::now())
        .execute(pool)
        .await;
        match res {
            Ok(_) => break,
            Err(e) if db::is_unique_violation(&e) => continue,
            Err(e) => return Err(e),
        }
    }
    find_by_owner(pool, account_id)
        .await?
        .ok_or_else(|| sqlx::Error::Protocol("personal room was not created".into()))
}

fn to_room(row: &sqlx::sqlite::SqliteRow) -> Result<PersonalRoom, sqlx::Error> {
    Ok(PersonalRoom {
        account_id: row.try_get("account_id")?,
        room_id: row.try_get("room_id")?,
        meeting_id: row.try_get("meeting_id")?,
    })
}

async fn find_by_owner(pool: &Pool, account_id: &str) -> Result<Option<PersonalRoom>, sqlx::Error> {
    sqlx::query("select account_id, room_id, meeting_id from personal_room where account_id = ?")
        .bind(account_id)
        .fetch_optional(pool)
        .await?
        .map(|r| to_room(&r))
        .transpose()
}

/// The room with this room ID.
pub async fn find(pool: &Pool, room_id: &str) -> Result<Option<PersonalRoom>, sqlx::Error> {
    sqlx::query("select account_id, room_id, meeting_id from personal_room where room_id = ?")
        .bind(room_id)
        .fetch_optional(pool)
        .await?
        .map(|r| to_room(&r))
        .transpose()
}

/// The room's open session, opening a new one if none is (the room is reusable: after the
/// host ends it, the next visit starts afresh). The flag is true when this call opened it.
pub async fn open_session(
    pool: &Pool,
    room: &PersonalRoom,
    topic: &str,
) -> Result<(Meeting, bool), sqlx::Error> {
    if let Some(id) = &room.meeting_id
        && let Some(m) = store::find(pool, id).await?
        && m.ended_at.is_none()
    {
        return Ok((m, false));
    }
    let now = crate::time::now();
    let meeting = Meeting {
        id: uuid::Uuid::new_v4().to_string(),
        owner_id: room.account_id.clone(),
        description: topic.to_owned(),
        kind: MeetingKind::Personal,
        starts_at: now,
        created_at: now,
        ended_at: None,
        cancelled_at: None,
    };
    let mut tx = pool.begin().await?;
    // The meeting row must exist before the room points at it (foreign key).
    store::insert(&mut *tx, &meeting).await?;
    // Two visitors may arrive at once: only the first opens a session, the second uses it.
    let claimed = sqlx::query(
        "update personal_room set meeting_id = ? where account_id = ? \
         and (meeting_id is null or meeting_id in (select id from meeting where ended_at is not null))",
    )
    .bind(&meeting.id)
    .bind(&room.account_id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if claimed {
        tx.commit().await?;
        return Ok((meeting, true));
    }
    tx.rollback().await?;
    let current = find(pool, &room.room_id)
        .await?
        .and_then(|r| r.meeting_id)
        .ok_or_else(|| sqlx::Error::Protocol("personal room has no session".into()))?;
    let meeting = store::find(pool, &current)
        .await?
        .ok_or_else(|| sqlx::Error::Protocol("personal room session vanished".into()))?;
    Ok((meeting, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_ids_are_ten_digits() {
        for _ in 0..100 {
            let id = new_room_id();
            assert!(looks_like_room_id(&id), "{id}");
        }
        assert!(!looks_like_room_id("123"));
        assert!(!looks_like_room_id("12345abcde"));
    }
}

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

/// Letters in a room ID, and how they are grouped: `abc-defg-hij`, easy to read out and type,
/// one of 26¹⁰ (about 1.4 × 10¹⁴): far too many to guess at the rate joins are limited to.
const ROOM_ID_GROUPS: [usize; 3] = [3, 4, 3];
const ROOM_ID_LETTERS: usize = 10;

/// A new random room ID.
pub fn new_room_id() -> String {
    let mut rng = rand::rng();
    let letters: String = (0..ROOM_ID_LETTERS)
        .map(|_| char::from(b'a' + rng.random_range(0..26u8)))
        .collect();
    group(&letters)
}

fn group(letters: &str) -> String {
    let mut out = String::with_capacity(ROOM_ID_LETTERS + 2);
    let mut at = 0;
    for (i, len) in ROOM_ID_GROUPS.iter().enumerate() {
        if i > 0 {
            out.push('-');
        }
        out.push_str(&letters[at..at + len]);
        at += len;
    }
    out
}

/// A room ID as typed ("ABC DEFG HIJ", "abcdefghij", "abc-defg-hij") in its stored form, or
/// `None` if it is not one. Separators, when there are any, must fall between the groups, so
/// ten letters of ordinary words ("hello there") are not taken for a room.
pub fn normalize_room_id(s: &str) -> Option<String> {
    let parts: Vec<&str> = s.split([' ', '-']).filter(|p| !p.is_empty()).collect();
    let lengths: Vec<usize> = parts.iter().map(|p| p.len()).collect();
    if lengths != [ROOM_ID_LETTERS] && lengths != ROOM_ID_GROUPS {
        return None;
    }
    let letters: String = parts.concat().to_ascii_lowercase();
    letters
        .bytes()
        .all(|b| b.is_ascii_lowercase())
        .then(|| group(&letters))
}

/// Gives rooms that still have an old ten-digit ID (far too easy to guess) a new one. Their
/// old links stop working; the Personal Room page shows the new one.
pub async fn rekey_guessable_rooms(pool: &Pool) -> Result<u64, sqlx::Error> {
    let ten_long: Vec<(String, String)> =
        sqlx::query_as("select account_id, room_id from personal_room where length(room_id) = 10")
            .fetch_all(pool)
            .await?;
    let old = ten_long
        .into_iter()
        .filter(|(_, room)| room.bytes().all(|b| b.is_ascii_digit()))
        .map(|(account, _)| account);
    let mut changed = 0;
    for account in old {
        for _ in 0..5 {
            let res = sqlx::query("update personal_room set room_id = $1 where account_id = $2")
                .bind(new_room_id())
                .bind(&account)
                .execute(pool)
                .await;
            match res {
                Ok(_) => {
                    changed += 1;
                    break;
                }
                Err(e) if db::is_unique_violation(&e) => continue,
                Err(e) => return Err(e),
            }
        }
    }
    if changed > 0 {
        tracing::info!(
            rooms = changed,
            "personal rooms with guessable IDs were given new ones"
        );
    }
    Ok(changed)
}

/// The user's room, created on first use.
pub async fn get_or_create(pool: &Pool, account_id: &str) -> Result<PersonalRoom, sqlx::Error> {
    if let Some(room) = find_by_owner(pool, account_id).await? {
        return Ok(room);
    }
    // A collision among 26¹⁰ IDs is rare; retry a few times rather than fail.
    for _ in 0..5 {
        let room_id = new_room_id();
        let res = sqlx::query(
            "insert into personal_room (account_id, room_id, created_at) values ($1, $2, $3) \
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

fn to_room(row: &crate::db::Row) -> Result<PersonalRoom, sqlx::Error> {
    Ok(PersonalRoom {
        account_id: row.try_get("account_id")?,
        room_id: row.try_get("room_id")?,
        meeting_id: row.try_get("meeting_id")?,
    })
}

async fn find_by_owner(pool: &Pool, account_id: &str) -> Result<Option<PersonalRoom>, sqlx::Error> {
    sqlx::query("select account_id, room_id, meeting_id from personal_room where account_id = $1")
        .bind(account_id)
        .fetch_optional(pool)
        .await?
        .map(|r| to_room(&r))
        .transpose()
}

/// The room with this room ID.
pub async fn find(pool: &Pool, room_id: &str) -> Result<Option<PersonalRoom>, sqlx::Error> {
    sqlx::query("select account_id, room_id, meeting_id from personal_room where room_id = $1")
        .bind(room_id)
        .fetch_optional(pool)
        .await?
        .map(|r| to_room(&r))
        .transpose()
}

/// The room's session open now, if there is one.
pub async fn current_session(
    pool: &Pool,
    room: &PersonalRoom,
) -> Result<Option<Meeting>, sqlx::Error> {
    let Some(id) = &room.meeting_id else {
        return Ok(None);
    };
    Ok(store::find(pool, id)
        .await?
        .filter(|m| m.ended_at.is_none()))
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
        "update personal_room set meeting_id = $1 where account_id = $2 \
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
    fn room_ids_are_three_groups_of_letters_and_read_back_however_typed() {
        for _ in 0..100 {
            let id = new_room_id();
            assert_eq!(id.len(), 12, "{id}");
            assert_eq!(normalize_room_id(&id), Some(id.clone()));
        }
        assert_eq!(
            normalize_room_id("ABC DEFG HIJ").as_deref(),
            Some("abc-defg-hij")
        );
        assert_eq!(
            normalize_room_id("abcdefghij").as_deref(),
            Some("abc-defg-hij")
        );
        for bad in [
            "4821937561",
            "abc-defg-hi",
            "abc-defg-hijk",
            "abc-dèfg-hij",
            "hello there",
            "",
        ] {
            assert_eq!(normalize_room_id(bad), None, "{bad}");
        }
    }
}

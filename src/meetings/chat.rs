//! A meeting's chat, kept: late joiners get the history, and the host and attendees read the
//! transcript after the call. The room task orders messages (`seq`) and writes them here.

use serde::Serialize;
use sqlx::Row;

use crate::db::Pool;

/// Longest message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 2000;
/// Messages one meeting keeps; beyond this the chat is full (a late joiner gets all of it).
pub const MAX_MESSAGES_PER_MEETING: usize = 1000;

/// One chat message as the room and the pages see it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ChatMessage {
    pub seq: i64,
    /// The author's account (none once the account is gone).
    pub user_id: Option<String>,
    /// The author's name when they wrote it.
    pub name: String,
    /// Empty once the host deleted it.
    pub text: String,
    /// Seconds since the epoch.
    pub at: i64,
    pub deleted: bool,
}

/// Why a message was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Empty,
    TooLong,
}

impl Refusal {
    pub fn message(self) -> String {
        match self {
            Self::Empty => "Type a message first.".into(),
            Self::TooLong => format!("A message can be at most {MAX_MESSAGE_CHARS} characters."),
        }
    }
}

/// The text to keep of what someone typed: trimmed at both ends, line breaks kept (`\r\n` as
/// `\n`), other control characters dropped.
pub fn clean(text: &str) -> Result<String, Refusal> {
    let kept: String = text
        .replace("\r\n", "\n")
        .chars()
        .filter(|c| *c == '\n' || *c == '\t' || !c.is_control())
        .collect();
    let cleaned = kept.trim().to_owned();
    if cleaned.is_empty() {
        return Err(Refusal::Empty);
    }
    if cleaned.chars().count() > MAX_MESSAGE_CHARS {
        return Err(Refusal::TooLong);
    }
    Ok(cleaned)
}

fn to_message(row: &sqlx::sqlite::SqliteRow) -> Result<ChatMessage, sqlx::Error> {
    let deleted: Option<i64> = row.try_get("deleted_at")?;
    Ok(ChatMessage {
        seq: row.try_get("seq")?,
        user_id: row.try_get("account_id")?,
        name: row.try_get("author_name")?,
        text: if deleted.is_some() {
            String::new()
        } else {
            row.try_get("body")?
        },
        at: row.try_get("created_at")?,
        deleted: deleted.is_some(),
    })
}

/// The meeting's chat, oldest first.
pub async fn history(pool: &Pool, meeting_id: &str) -> Result<Vec<ChatMessage>, sqlx::Error> {
    sqlx::query(
        "select seq, account_id, author_name, body, deleted_at, created_at from chat_message \
         where meeting_id = ? order by seq limit ?",
    )
    .bind(meeting_id)
    .bind(MAX_MESSAGES_PER_MEETING as i64)
    .fetch_all(pool)
    .await?
    .iter()
    .map(to_message)
    .collect()
}

/// Keeps a message.
pub async fn insert(pool: &Pool, meeting_id: &str, m: &ChatMessage) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into chat_message (meeting_id, seq, account_id, author_name, body, created_at) \
         values (?, ?, ?, ?, ?, ?)",
    )
    .bind(meeting_id)
    .bind(m.seq)
    .bind(&m.user_id)
    .bind(&m.name)
    .bind(&m.text)
    .bind(m.at)
    .execute(pool)
    .await?;
    Ok(())
}

/// Deletes a message's text for everyone (it keeps its place, marked deleted).
pub async fn delete(pool: &Pool, meeting_id: &str, seq: i64, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update chat_message set body = '', deleted_at = ? \
         where meeting_id = ? and seq = ? and deleted_at is null",
    )
    .bind(now)
    .bind(meeting_id)
    .bind(seq)
    .execute(pool)
    .await?;
    Ok(())
}

/// How many messages each of these meetings has, deleted ones included (for the lists).
pub async fn counts(
    pool: &Pool,
    meeting_ids: &[&str],
) -> Result<std::collections::HashMap<String, i64>, sqlx::Error> {
    let mut out = std::collections::HashMap::new();
    if meeting_ids.is_empty() {
        return Ok(out);
    }
    let placeholders = vec!["?"; meeting_ids.len()].join(", ");
    // Only `?` placeholders are added, one per ID; the IDs themselves are bound.
    let sql = format!(
        "select meeting_id, count(*) as n from chat_message \
         where meeting_id in ({placeholders}) group by meeting_id"
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for id in meeting_ids {
        query = query.bind(*id);
    }
    for row in query.fetch_all(pool).await? {
        out.insert(row.try_get("meeting_id")?, row.try_get("n")?);
    }
    Ok(out)
}

/// A piece of a message: plain text, or a web link (shown as a link, opened without giving
/// the other site this page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub text: String,
    pub link: bool,
}

/// Splits a message into text and `http(s)://` links; a sentence's closing punctuation stays
/// outside the link.
pub fn pieces(text: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = ["https://", "http://"]
        .iter()
        .filter_map(|p| rest.find(p))
        .min()
    {
        let end = rest[start..]
            .find(char::is_whitespace)
            .map_or(rest.len(), |e| start + e);
        let mut link = &rest[start..end];
        link = link.trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '"', '\'']);
        let link_end = start + link.len();
        if start > 0 {
            out.push(Piece {
                text: rest[..start].to_owned(),
                link: false,
            });
        }
        if link.len() > "https://".len() {
            out.push(Piece {
                text: link.to_owned(),
                link: true,
            });
        } else {
            out.push(Piece {
                text: link.to_owned(),
                link: false,
            });
        }
        rest = &rest[link_end..];
    }
    if !rest.is_empty() {
        out.push(Piece {
            text: rest.to_owned(),
            link: false,
        });
    }
    out
}

/// The transcript as plain text: a heading, then one message per paragraph with its time
/// (UTC, with the date) and author; deleted messages say so.
pub fn transcript(title: &str, messages: &[ChatMessage]) -> String {
    let mut out = format!("Chat of \u{201c}{title}\u{201d}\n\n");
    for m in messages {
        let when = chrono::DateTime::from_timestamp(m.at, 0)
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_default();
        let text = if m.deleted {
            "(deleted by the host)".to_owned()
        } else {
            m.text.replace('\n', "\n    ")
        };
        out.push_str(&format!("[{when}] {}:\n    {text}\n\n", m.name));
    }
    if messages.is_empty() {
        out.push_str("No one wrote in the chat.\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_trimmed_and_checked_for_length_in_characters() {
        assert_eq!(clean("  hi\r\nthere \u{7}"), Ok("hi\nthere".into()));
        assert_eq!(clean(" \n\t "), Err(Refusal::Empty));
        assert_eq!(
            clean(&"é".repeat(2000)).map(|s| s.chars().count()),
            Ok(2000)
        );
        assert_eq!(clean(&"é".repeat(2001)), Err(Refusal::TooLong));
    }

    #[test]
    fn links_are_found_and_closing_punctuation_stays_text() {
        let got = pieces("see https://example.com/a?b=1, or http://x.org.");
        let links: Vec<&str> = got
            .iter()
            .filter(|p| p.link)
            .map(|p| p.text.as_str())
            .collect();
        assert_eq!(links, ["https://example.com/a?b=1", "http://x.org"]);
        let all: String = got.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(all, "see https://example.com/a?b=1, or http://x.org.");
        assert!(
            pieces("javascript:alert(1) and https://")
                .iter()
                .all(|p| !p.link)
        );
    }

    #[test]
    fn the_transcript_names_authors_times_and_deletions() {
        let m = |seq, name: &str, text: &str, deleted| ChatMessage {
            seq,
            user_id: None,
            name: name.into(),
            text: text.into(),
            at: 1_711_726_200,
            deleted,
        };
        let text = transcript(
            "Standup",
            &[m(1, "Ada", "hello\nall", false), m(2, "Bob", "", true)],
        );
        assert!(text.starts_with("Chat of “Standup”"), "{text}");
        assert!(
            text.contains("[2024-03-29 15:30 UTC] Ada:\n    hello\n    all"),
            "{text}"
        );
        assert!(text.contains("Bob:\n    (deleted by the host)"), "{text}");
    }
}

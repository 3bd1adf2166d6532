//! Meetings: the domain rules (what is upcoming, previous, live, startable) and their storage.

pub mod access;
pub mod attendance;
pub mod chat;
pub mod ics;
pub mod link;
pub mod personal;
pub mod schedule;
pub mod store;

use serde::Serialize;

/// How long after the last sign of life a participant still counts as present. Connected
/// clients refresh their attendance well within this (see `video::mesh`).
pub const PRESENCE_WINDOW_SECS: i64 = 60;
/// Meetings per page in the lists.
pub const PAGE_SIZE: usize = 20;
/// Longest description accepted.
pub const MAX_DESCRIPTION: usize = 500;
/// Calendar entries need an end; meetings have none, so they get this length.
pub const DEFAULT_LENGTH_SECS: i64 = 60 * 60;

/// What kind of meeting this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MeetingKind {
    Instant,
    Scheduled,
    Personal,
}

impl MeetingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Instant => "instant",
            Self::Scheduled => "scheduled",
            Self::Personal => "personal",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "instant" => Some(Self::Instant),
            "scheduled" => Some(Self::Scheduled),
            "personal" => Some(Self::Personal),
            _ => None,
        }
    }
}

/// A meeting as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Meeting {
    pub id: String,
    pub owner_id: String,
    pub description: String,
    pub kind: MeetingKind,
    pub starts_at: i64,
    pub created_at: i64,
    pub ended_at: Option<i64>,
    pub cancelled_at: Option<i64>,
}

impl Meeting {
    /// The title shown on cards and in the room.
    pub fn title(&self) -> &str {
        if self.description.trim().is_empty() {
            "No Description"
        } else {
            &self.description
        }
    }

    /// The start as RFC 3339 UTC, for `<time datetime>`.
    pub fn starts_iso(&self) -> String {
        crate::time::iso(self.starts_at)
    }

    pub fn is_owner(&self, user_id: &str) -> bool {
        self.owner_id == user_id
    }

    /// Whether a person may enter now: the owner any time (they may start early), anyone else
    /// once the start time has come or the meeting is already going on.
    pub fn may_enter(&self, user_id: &str, now: i64, live: bool) -> bool {
        self.is_owner(user_id) || self.starts_at <= now || live
    }
}

/// Someone who attended, for avatars and attendee lists.
#[derive(Debug, Clone, Serialize)]
pub struct Person {
    pub id: String,
    pub display_name: String,
    pub image_url: Option<String>,
}

impl Person {
    pub fn initials(&self) -> String {
        crate::auth::initials(&self.display_name)
    }
}

/// A meeting in a list, with what the card shows.
#[derive(Debug, Clone)]
pub struct ListedMeeting {
    pub meeting: Meeting,
    pub owner_name: String,
    pub live: bool,
    pub attendees: Vec<Person>,
}

/// Why a meeting action was refused.
#[derive(Debug, thiserror::Error)]
pub enum MeetingError {
    #[error("No meeting has that ID.")]
    NotFound,
    #[error("Only the host can do that.")]
    NotOwner,
    #[error("{0}")]
    Invalid(&'static str),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<MeetingError> for crate::errors::AppError {
    fn from(e: MeetingError) -> Self {
        use crate::errors::AppError;
        match e {
            MeetingError::NotFound => AppError::NotFound(e.to_string()),
            MeetingError::NotOwner => AppError::Forbidden(e.to_string()),
            MeetingError::Invalid(msg) => AppError::Conflict(msg.into()),
            MeetingError::Database(db) => db.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meeting(starts_at: i64) -> Meeting {
        Meeting {
            id: "m".into(),
            owner_id: "owner".into(),
            description: String::new(),
            kind: MeetingKind::Scheduled,
            starts_at,
            created_at: 0,
            ended_at: None,
            cancelled_at: None,
        }
    }

    #[test]
    fn the_owner_may_start_early_and_others_wait_until_it_starts_or_is_live() {
        let m = meeting(1000);
        assert!(m.may_enter("owner", 10, false));
        assert!(!m.may_enter("guest", 999, false));
        assert!(m.may_enter("guest", 999, true));
        assert!(m.may_enter("guest", 1000, false));
    }

    #[test]
    fn a_blank_description_reads_no_description() {
        assert_eq!(meeting(0).title(), "No Description");
    }
}

//! Recordings of meetings: what the media provider reported, kept in the `recording` table.

pub mod store;

/// A stored recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording {
    pub id: String,
    pub meeting_id: String,
    /// Where the file lives: `stream`.
    pub provider: String,
    pub url: String,
    pub filename: String,
    /// Seconds since the epoch, UTC.
    pub start_time: i64,
    pub end_time: i64,
    pub created_at: i64,
}

//! Recordings: made in a participant's browser and uploaded in numbered slices (mesh), kept
//! under the data directory, listed for the meeting's owner and attendees, played with range
//! requests, shared by signed expiring links, deleted by the owner.

pub mod files;
pub mod hosted;
pub mod share;
pub mod store;
pub mod upload;
pub mod webm;

use serde::Serialize;

/// Largest slice accepted in one request (MediaRecorder with a 1 s timeslice makes ~100 KB).
/// Bodies are written to disk as they arrive, never held in memory whole.
pub const MAX_SLICE_BYTES: usize = 8 * 1024 * 1024;
/// Built-in recordings one account may have running at once.
pub const MAX_OPEN_PER_ACCOUNT: i64 = 2;
/// A recording not added to for this long is finalised: its uploader's tab died.
pub const IDLE_TIMEOUT_SECS: i64 = 60;
/// How often open recordings are checked for that.
pub const SWEEP_INTERVAL_SECS: u64 = 15;
/// Space left on the disk below which recording stops (so the database keeps room to work).
pub const MIN_FREE_DISK_BYTES: u64 = 256 * 1024 * 1024;

/// Where a recording's state stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Recording,
    Ready,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Recording => "recording",
            Self::Ready => "ready",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "recording" => Some(Self::Recording),
            "ready" => Some(Self::Ready),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// A recording as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Recording {
    pub id: String,
    pub meeting_id: String,
    pub created_by: Option<String>,
    pub provider: String,
    pub status: Status,
    pub mime_type: String,
    pub byte_size: i64,
    pub next_seq: i64,
    pub duration_ms: Option<i64>,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub last_slice_at: i64,
    pub external_id: Option<String>,
    pub url: Option<String>,
    /// For a hosted provider's recording: the session and file name its API knows it by.
    pub provider_session: Option<String>,
    pub provider_file: Option<String>,
    /// When the provider last reported it (webhook or listing).
    pub provider_seen_at: Option<i64>,
    /// Share links are signed for this version; the host stopping sharing bumps it.
    pub share_version: i64,
}

impl Recording {
    /// True when a hosted provider made and keeps it (we hold only its URL).
    pub fn is_hosted(&self) -> bool {
        self.provider != "mesh"
    }

    /// "1:05:09" or "4:07".
    pub fn duration_text(&self) -> String {
        let Some(ms) = self.duration_ms else {
            return "—".into();
        };
        let secs = ms / 1000;
        let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
        if h > 0 {
            format!("{h}:{m:02}:{s:02}")
        } else {
            format!("{m}:{s:02}")
        }
    }

    /// "12.3 MB", or "—" when the size is not known (a hosted provider's recording).
    pub fn size_text(&self) -> String {
        if self.byte_size <= 0 && self.is_hosted() {
            return "—".into();
        }
        let b = self.byte_size as f64;
        if b >= 1e9 {
            format!("{:.1} GB", b / 1e9)
        } else if b >= 1e6 {
            format!("{:.1} MB", b / 1e6)
        } else {
            format!("{:.0} KB", (b / 1e3).max(1.0))
        }
    }

    pub fn started_iso(&self) -> String {
        crate::time::iso(self.started_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(duration_ms: Option<i64>, byte_size: i64) -> Recording {
        Recording {
            id: "r".into(),
            meeting_id: "m".into(),
            created_by: None,
            provider: "mesh".into(),
            status: Status::Ready,
            mime_type: "video/webm".into(),
            byte_size,
            next_seq: 0,
            duration_ms,
            started_at: 0,
            ended_at: None,
            last_slice_at: 0,
            external_id: None,
            url: None,
            provider_session: None,
            provider_file: None,
            provider_seen_at: None,
            share_version: 0,
        }
    }

    #[test]
    fn durations_and_sizes_read_like_people_write_them() {
        assert_eq!(rec(Some(247_000), 0).duration_text(), "4:07");
        assert_eq!(rec(Some(3_909_000), 0).duration_text(), "1:05:09");
        assert_eq!(rec(None, 0).duration_text(), "—");
        assert_eq!(rec(None, 12_345_678).size_text(), "12.3 MB");
        assert_eq!(rec(None, 10).size_text(), "1 KB");
        let hosted = Recording {
            provider: "stream".into(),
            ..rec(None, 0)
        };
        assert_eq!(hosted.size_text(), "—");
    }
}

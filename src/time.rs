//! Time as the database stores it: whole seconds since the Unix epoch, UTC.

use chrono::{DateTime, Utc};

/// Now, in seconds since the epoch.
pub fn now() -> i64 {
    Utc::now().timestamp()
}

/// Seconds since the epoch as a UTC date-time (the epoch itself for out-of-range values).
pub fn to_datetime(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or_default()
}

/// RFC 3339 in UTC, for `<time datetime>` attributes that the browser renders locally.
pub fn iso(seconds: i64) -> String {
    to_datetime(seconds).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

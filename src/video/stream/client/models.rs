//! Stream's REST shapes: what we send and the parts of its answers we read.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

// ---- Requests -------------------------------------------------------------------------------

/// A user as Stream stores it: who appears in calls under which name and picture.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UserRequest<'a> {
    pub id: &'a str,
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<&'a str>,
}

/// `POST /api/v2/users`: creates or replaces users, keyed by ID.
#[derive(Debug, Serialize)]
pub struct UpsertUsersRequest<'a> {
    pub users: BTreeMap<&'a str, UserRequest<'a>>,
}

/// `POST /api/v2/video/call/{type}/{id}`.
#[derive(Debug, Serialize)]
pub struct GetOrCreateCallRequest<'a> {
    pub data: CallRequest<'a>,
}

/// What a new call is created with.
#[derive(Debug, Serialize)]
pub struct CallRequest<'a> {
    pub created_by_id: &'a str,
    /// RFC 3339, UTC.
    pub starts_at: String,
    pub custom: CallCustom<'a>,
}

/// Our own fields on a call, shown by any Stream client (the original's `custom.description`).
#[derive(Debug, Serialize)]
pub struct CallCustom<'a> {
    pub description: &'a str,
}

// ---- Answers --------------------------------------------------------------------------------

/// A user in Stream's answers.
#[derive(Debug, Clone, Deserialize)]
pub struct UserResponse {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub image: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct UpsertUsersResponse {
    #[serde(default)]
    pub users: BTreeMap<String, UserResponse>,
}

/// A call, with the fields we read.
#[derive(Debug, Clone, Deserialize)]
pub struct CallResponse {
    pub id: String,
    #[serde(default)]
    pub cid: String,
    #[serde(rename = "type", default)]
    pub call_type: String,
    #[serde(default, with = "date::option")]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default, with = "date::option")]
    pub ended_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub custom: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub created_by: Option<UserResponse>,
}

#[derive(Debug, Deserialize)]
pub struct GetOrCreateCallResponse {
    /// False when the call already existed.
    #[serde(default)]
    pub created: bool,
    pub call: CallResponse,
}

/// An answer with nothing in it but the request's duration (`mark_ended`, `start_recording`,
/// `stop_recording`, deleting a recording).
#[derive(Debug, Deserialize)]
pub struct Acknowledged {}

/// One recording of a call.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct CallRecording {
    pub filename: String,
    pub url: String,
    #[serde(with = "date")]
    pub start_time: DateTime<Utc>,
    #[serde(with = "date")]
    pub end_time: DateTime<Utc>,
    #[serde(default)]
    pub session_id: String,
    #[serde(default)]
    pub recording_type: String,
}

#[derive(Debug, Deserialize)]
pub struct ListRecordingsResponse {
    #[serde(default)]
    pub recordings: Vec<CallRecording>,
}

/// A call type's roles and what each may do (`grants`: role → capabilities).
#[derive(Debug, Clone, Deserialize)]
pub struct CallTypeResponse {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub grants: BTreeMap<String, Vec<String>>,
}

/// Stream's dates come as RFC 3339 strings or as integer nanoseconds since the epoch.
pub mod date {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, de::Error};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Nanos(i64),
        Float(f64),
        Text(String),
    }

    fn convert<E: Error>(raw: Raw) -> Result<DateTime<Utc>, E> {
        match raw {
            Raw::Nanos(n) => Ok(DateTime::from_timestamp_nanos(n)),
            Raw::Float(f) if f.is_finite() && f.abs() < i64::MAX as f64 => {
                Ok(DateTime::from_timestamp_nanos(f as i64))
            }
            Raw::Float(f) => Err(E::custom(format!("{f} is not a time"))),
            Raw::Text(s) => DateTime::parse_from_rfc3339(&s)
                .map(|d| d.with_timezone(&Utc))
                .map_err(|e| E::custom(format!("`{s}` is not an RFC 3339 time: {e}"))),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        convert(Raw::deserialize(d)?)
    }

    pub mod option {
        use super::*;

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            Option::<Raw>::deserialize(d)?.map(convert).transpose()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_accept_rfc3339_and_integer_nanoseconds() {
        let json = r#"{"filename":"a.mp4","url":"https://x/a.mp4",
            "start_time":"2024-03-29T15:30:00.5Z","end_time":1711726260000000000}"#;
        let r: CallRecording = serde_json::from_str(json).unwrap();
        assert_eq!(r.start_time.to_rfc3339(), "2024-03-29T15:30:00.500+00:00");
        assert_eq!(r.end_time.timestamp(), 1_711_726_260);
        assert!(
            serde_json::from_str::<CallRecording>(&json.replace("1711726260000000000", "\"soon\""))
                .is_err()
        );
    }
}

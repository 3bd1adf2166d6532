//! Stream's webhooks: the body as signed (gunzipped first when compressed) and the events we
//! act on.

use std::io::Read;

use serde::Deserialize;

use super::client::{CALL_TYPE, CallRecording};

/// Largest body accepted as sent, and largest once decompressed (a gzip bomb stops here).
pub const MAX_BODY: usize = 1024 * 1024;
pub const MAX_DECOMPRESSED: usize = 4 * 1024 * 1024;

/// Why a webhook body could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BodyError {
    #[error("the gzip body could not be decompressed")]
    BadGzip,
    #[error("the body is larger than {MAX_DECOMPRESSED} bytes once decompressed")]
    TooLarge,
}

/// The bytes Stream signed: the body itself, or its decompressed form when it is gzip (said
/// by `Content-Encoding`, or recognised by gzip's magic bytes, as Stream's SDK does, in case a
/// proxy dropped the header).
pub fn signed_bytes(raw: &[u8], content_encoding: Option<&str>) -> Result<Vec<u8>, BodyError> {
    let declared = content_encoding.is_some_and(|e| e.trim().eq_ignore_ascii_case("gzip"));
    let magic = raw.starts_with(&[0x1f, 0x8b]);
    if !(declared || magic) {
        return Ok(raw.to_vec());
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(raw)
        .take(MAX_DECOMPRESSED as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| BodyError::BadGzip)?;
    if out.len() > MAX_DECOMPRESSED {
        return Err(BodyError::TooLarge);
    }
    Ok(out)
}

/// The events we act on; everything else is acknowledged and ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The call ended (by `mark_ended`, or by Stream).
    CallEnded { meeting_id: String },
    /// Someone joined a session of the call.
    ParticipantJoined { meeting_id: String, user_id: String },
    /// Someone left a session of the call.
    ParticipantLeft { meeting_id: String, user_id: String },
    /// A recording of the call can be fetched.
    RecordingReady {
        meeting_id: String,
        recording: CallRecording,
    },
    /// An event type we do not use, or a call that is not one of our meetings.
    Ignored { kind: String },
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    call_cid: String,
}

#[derive(Deserialize)]
struct ParticipantEvent {
    participant: Participant,
}

#[derive(Deserialize)]
struct Participant {
    user: User,
}

#[derive(Deserialize)]
struct User {
    id: String,
}

#[derive(Deserialize)]
struct RecordingEvent {
    call_recording: CallRecording,
}

/// Reads an event from a verified body.
pub fn parse(body: &[u8]) -> Result<Event, serde_json::Error> {
    let envelope: Envelope = serde_json::from_slice(body)?;
    let kind = envelope.kind;
    // Calls of other types (or of other apps' naming) are none of our meetings.
    let meeting_id = match envelope.call_cid.split_once(':') {
        Some((CALL_TYPE, id)) => uuid::Uuid::parse_str(id)
            .ok()
            .map(|u| u.hyphenated().to_string()),
        _ => None,
    };
    let Some(meeting_id) = meeting_id else {
        return Ok(Event::Ignored { kind });
    };
    Ok(match kind.as_str() {
        "call.ended" => Event::CallEnded { meeting_id },
        "call.session_participant_joined" => {
            let e: ParticipantEvent = serde_json::from_slice(body)?;
            Event::ParticipantJoined {
                meeting_id,
                user_id: e.participant.user.id,
            }
        }
        "call.session_participant_left" => {
            let e: ParticipantEvent = serde_json::from_slice(body)?;
            Event::ParticipantLeft {
                meeting_id,
                user_id: e.participant.user.id,
            }
        }
        "call.recording_ready" => {
            let e: RecordingEvent = serde_json::from_slice(body)?;
            Event::RecordingReady {
                meeting_id,
                recording: e.call_recording,
            }
        }
        _ => Event::Ignored { kind },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const ID: &str = "6f1c1f1e-5d0a-4d0b-9a57-1f0b1b2b3c4d";

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gzip_bodies_are_decompressed_by_header_or_by_magic() {
        let body = br#"{"type":"call.ended"}"#;
        assert_eq!(signed_bytes(body, None).unwrap(), body);
        assert_eq!(signed_bytes(&gzip(body), Some("gzip")).unwrap(), body);
        assert_eq!(signed_bytes(&gzip(body), None).unwrap(), body);
        assert_eq!(signed_bytes(body, Some("gzip")), Err(BodyError::BadGzip));
    }

    #[test]
    fn a_gzip_bomb_is_refused() {
        let bomb = gzip(&vec![b' '; MAX_DECOMPRESSED + 10]);
        assert!(bomb.len() < MAX_BODY);
        assert_eq!(signed_bytes(&bomb, Some("gzip")), Err(BodyError::TooLarge));
    }

    #[test]
    fn events_name_the_meeting_and_the_person() {
        let joined = format!(
            r#"{{"type":"call.session_participant_joined","call_cid":"default:{ID}","session_id":"s",
            "participant":{{"user":{{"id":"u1","name":"U"}},"role":"user","user_session_id":"x","joined_at":"2024-01-01T00:00:00Z"}}}}"#
        );
        assert_eq!(
            parse(joined.as_bytes()).unwrap(),
            Event::ParticipantJoined {
                meeting_id: ID.into(),
                user_id: "u1".into()
            }
        );
        let ended = format!(r#"{{"type":"call.ended","call_cid":"default:{ID}","call":{{}}}}"#);
        assert_eq!(
            parse(ended.as_bytes()).unwrap(),
            Event::CallEnded {
                meeting_id: ID.into()
            }
        );
        let other = r#"{"type":"call.ended","call_cid":"livestream:abc"}"#;
        assert!(matches!(
            parse(other.as_bytes()).unwrap(),
            Event::Ignored { .. }
        ));
        let unknown = format!(r#"{{"type":"call.member_added","call_cid":"default:{ID}"}}"#);
        assert_eq!(
            parse(unknown.as_bytes()).unwrap(),
            Event::Ignored {
                kind: "call.member_added".into()
            }
        );
        assert!(parse(b"not json").is_err());
    }
}

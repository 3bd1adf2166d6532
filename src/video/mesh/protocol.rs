//! The JSON messages of the mesh signalling protocol (see `docs/signalling.md`).

use serde::{Deserialize, Serialize};

pub use crate::meetings::chat::ChatMessage;

/// Reactions anyone may send; anything else is refused, so no one can push arbitrary text
/// into everyone's screen.
pub const REACTIONS: [&str; 6] = ["👍", "👏", "😂", "🎉", "❤️", "😮"];

/// A message from a browser.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ClientMessage {
    Join {
        #[serde(default)]
        audio: bool,
        #[serde(default)]
        video: bool,
    },
    Offer {
        to: String,
        sdp: String,
    },
    Answer {
        to: String,
        sdp: String,
    },
    Candidate {
        to: String,
        #[serde(default)]
        candidate: serde_json::Value,
    },
    Media {
        audio: bool,
        video: bool,
        #[serde(default)]
        screen: bool,
    },
    Reaction {
        emoji: String,
    },
    Hand {
        raised: bool,
    },
    /// The browser's SDP offer to the media server (built-in SFU only).
    SfuOffer {
        sdp: String,
    },
    /// The tiles the page shows now, biggest first (built-in SFU only).
    Layout {
        tiles: Vec<TileSize>,
    },
    End,
    Ping,
    Leave,
    // ---- The host's controls (refused with `forbidden` from anyone else) ----------------
    /// Let a waiting person in.
    Admit {
        id: String,
    },
    /// Turn a waiting person away.
    Deny {
        id: String,
    },
    AdmitAll,
    Lock {
        locked: bool,
    },
    WaitingRoom {
        enabled: bool,
    },
    /// Remove a participant (every connection of their account); they cannot come back
    /// until the host lets them.
    Remove {
        id: String,
    },
    #[serde(rename_all = "camelCase")]
    AllowBack {
        user_id: String,
    },
    /// Ask a participant to mute their microphone (their page does it at once).
    Mute {
        id: String,
    },
    MuteAll,
    LowerHands,
    // ---- Chat ------------------------------------------------------------------------------
    Chat {
        text: String,
    },
    /// Delete a message for everyone (host only).
    ChatDelete {
        seq: i64,
    },
}

/// One visible tile: whose, and its size in device pixels.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TileSize {
    pub id: String,
    #[serde(default)]
    pub width: u32,
    pub height: u32,
}

/// Which participant a media line of the browser's connection shows (`None`: nobody now).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SlotShown {
    pub mid: String,
    pub peer: Option<String>,
}

/// What the others know about a participant.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PeerInfo {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub image: Option<String>,
    pub audio: bool,
    pub video: bool,
    pub screen: bool,
    pub hand: bool,
    pub owner: bool,
}

/// A message to a browser.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ServerMessage {
    #[serde(rename_all = "camelCase")]
    Welcome {
        you: String,
        peers: Vec<PeerInfo>,
        ice_servers: serde_json::Value,
        owner: bool,
        max_participants: usize,
        /// A recording is running now.
        recording: bool,
        /// Who started it, when known.
        #[serde(skip_serializing_if = "Option::is_none")]
        recording_by: Option<String>,
        /// The host lets everyone record.
        recording_allowed: bool,
        /// The meeting's chat so far.
        chat: Vec<ChatMessage>,
        /// The host's settings.
        locked: bool,
        waiting_room: bool,
        /// For the host: who is waiting, and who was removed (empty for everyone else).
        waiting: Vec<WaitingInfo>,
        removed: Vec<RemovedInfo>,
    },
    /// I am in the waiting room: nothing about the room until the host lets me in (then
    /// `welcome` comes).
    Waiting,
    /// To the host: someone is waiting to be let in.
    Knock {
        peer: WaitingInfo,
    },
    /// To the host: someone stopped waiting (let in, turned away, or gone).
    KnockGone {
        id: String,
    },
    /// The host turned me away; the server closes the socket.
    Denied,
    /// The host removed me; the server closes the socket.
    Removed,
    /// To the host: the people removed from this meeting, after a change.
    RemovedList {
        removed: Vec<RemovedInfo>,
    },
    /// The host changed the lock or the waiting room.
    #[serde(rename_all = "camelCase")]
    RoomState {
        locked: bool,
        waiting_room: bool,
    },
    /// The host asks me to mute my microphone.
    Muted {
        by: String,
    },
    Chat {
        message: ChatMessage,
    },
    ChatDeleted {
        seq: i64,
    },
    PeerJoined {
        peer: PeerInfo,
    },
    PeerLeft {
        id: String,
    },
    Offer {
        from: String,
        sdp: String,
    },
    Answer {
        from: String,
        sdp: String,
    },
    Candidate {
        from: String,
        candidate: serde_json::Value,
    },
    Media {
        id: String,
        audio: bool,
        video: bool,
        screen: bool,
    },
    Reaction {
        id: String,
        emoji: String,
    },
    Hand {
        id: String,
        raised: bool,
    },
    /// A recording started or stopped (`name`: who started it).
    Recording {
        active: bool,
        name: String,
    },
    /// The host let everyone record, or stopped letting them.
    RecordingPermission {
        allowed: bool,
    },
    /// The media server's answer to the browser's offer.
    SfuAnswer {
        sdp: String,
    },
    /// Media lines that now show someone else (or nobody).
    SfuSlots {
        slots: Vec<SlotShown>,
    },
    Ended,
    Pong,
    Error {
        code: ErrorCode,
        message: String,
    },
}

/// Someone in the waiting room, as the host sees them.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WaitingInfo {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub image: Option<String>,
    /// Turned away a moment ago and knocking again: listed, without a toast or announcement.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub quiet: bool,
}

/// Someone the host removed (they may be let back).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RemovedInfo {
    pub user_id: String,
    pub name: String,
}

/// Why a message was refused.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadMessage,
    NotJoined,
    AlreadyJoined,
    UnknownPeer,
    RoomFull,
    TooManyConnections,
    Forbidden,
    TooLarge,
    RateLimited,
    Ended,
    /// The host locked the meeting: nobody new gets in.
    Locked,
    /// The host removed this person from the meeting.
    Removed,
    /// The meeting's chat holds all the messages it may.
    ChatFull,
}

impl ServerMessage {
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Error {
            code,
            message: message.into(),
        }
    }

    /// The JSON text frame.
    pub fn to_text(&self) -> String {
        // Serialising these plain structs cannot fail.
        serde_json::to_string(self).unwrap_or_else(|_| "{\"type\":\"error\"}".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_messages_parse_from_their_documented_shape() {
        let m: ClientMessage =
            serde_json::from_str(r#"{"type":"join","audio":true,"video":false}"#).unwrap();
        assert_eq!(
            m,
            ClientMessage::Join {
                audio: true,
                video: false
            }
        );
        let m: ClientMessage =
            serde_json::from_str(r#"{"type":"candidate","to":"p","candidate":null}"#).unwrap();
        assert!(matches!(
            m,
            ClientMessage::Candidate {
                candidate: serde_json::Value::Null,
                ..
            }
        ));
        let m: ClientMessage = serde_json::from_str(r#"{"type":"end"}"#).unwrap();
        assert_eq!(m, ClientMessage::End);
        let m: ClientMessage = serde_json::from_str(
            r#"{"type":"layout","tiles":[{"id":"p","width":640,"height":360}]}"#,
        )
        .unwrap();
        assert_eq!(
            m,
            ClientMessage::Layout {
                tiles: vec![TileSize {
                    id: "p".into(),
                    width: 640,
                    height: 360
                }]
            }
        );
        let text = ServerMessage::SfuSlots {
            slots: vec![SlotShown {
                mid: "4".into(),
                peer: None,
            }],
        }
        .to_text();
        assert_eq!(
            text,
            r#"{"type":"sfu-slots","slots":[{"mid":"4","peer":null}]}"#
        );
        for bad in [
            r#"{"type":"shout"}"#,
            r#"{"type":"offer","to":"p"}"#,
            r#"{"audio":true}"#,
            "[]",
        ] {
            assert!(serde_json::from_str::<ClientMessage>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn server_messages_serialise_with_kebab_case_types_and_camel_case_fields() {
        let text = ServerMessage::PeerLeft { id: "p1".into() }.to_text();
        assert_eq!(text, r#"{"type":"peer-left","id":"p1"}"#);
        let text = ServerMessage::error(ErrorCode::RoomFull, "full").to_text();
        assert_eq!(
            text,
            r#"{"type":"error","code":"room_full","message":"full"}"#
        );
        let text = ServerMessage::Welcome {
            you: "a".into(),
            peers: vec![],
            ice_servers: serde_json::json!([]),
            owner: true,
            max_participants: 8,
            recording: false,
            recording_by: None,
            recording_allowed: false,
            chat: vec![],
            locked: false,
            waiting_room: true,
            waiting: vec![],
            removed: vec![],
        }
        .to_text();
        assert!(
            text.contains(r#""iceServers":[]"#)
                && text.contains(r#""maxParticipants":8"#)
                && text.contains(r#""waitingRoom":true"#),
            "{text}"
        );
    }
}

//! One task per meeting room owns its participants and takes commands over a channel.
//! Connections hold a sender; nothing else touches the room's state.
//!
//! The room is where the host is in charge (`host.rs`: the waiting room, the lock, removing
//! and muting) and where the chat goes (`chat.rs`), in every media mode; on the mesh it also
//! relays the browsers' offers, answers and candidates. What it decides is stored by its
//! writer (`writes.rs`), so it holds after a reconnect or a restart.

mod chat;
mod host;
mod writes;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::media::RoomMedia;
use super::protocol::{ClientMessage, ErrorCode, PeerInfo, REACTIONS, ServerMessage};
use super::{Hub, Outgoing};
use crate::meetings::access::{self, Access};
use chat::ChatState;
use writes::Write;

/// How often the room refreshes the attendance of the people in it, well within
/// `meetings::PRESENCE_WINDOW_SECS`.
const PRESENCE_REFRESH: Duration = Duration::from_secs(20);
/// Connections one account may have in one room (a second tab, a phone beside the laptop):
/// more would let one person, or one script, fill the room.
pub const MAX_CONNECTIONS_PER_ACCOUNT: usize = 2;
/// People waiting to be let in at once; more are told the meeting is full.
pub const MAX_WAITING: usize = 50;
/// Someone the host turned away who knocks again within this long waits quietly: listed for
/// the host, but without a toast or an announcement, so nobody can keep interrupting the call.
pub const QUIET_KNOCK_AFTER_DENIAL: Duration = Duration::from_secs(60);

const NO_MEDIA_SERVER: &str = "This meeting does not use the media server.";

/// What a connection asks of its room.
pub enum RoomCommand {
    Join {
        participant: Participant,
        /// What the database says about the meeting, used when this join opens the room.
        snapshot: RoomSnapshot,
        reply: oneshot::Sender<Result<(), JoinRefused>>,
    },
    /// Something everyone in the room should hear (recording state), also kept for late joiners.
    Broadcast(ServerMessage),
    Message {
        from: String,
        message: ClientMessage,
    },
    Leave {
        peer: String,
    },
    /// The host ended the meeting through the HTTP endpoint.
    End,
    /// The room closes here without the meeting ending (another instance holds it now, or
    /// this one is stopping): everyone is told to reconnect.
    Evict,
}

/// Meeting state the room tells newcomers about.
#[derive(Debug, Clone, Default)]
pub struct RoomSnapshot {
    /// Who is recording (their name, empty when not known), if anyone.
    pub recording: Option<String>,
    pub recording_allowed: bool,
}

/// Why a join was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinRefused {
    /// No place left (the last one is kept for the host while they are not in), or too many
    /// people waiting.
    Full,
    /// This account is already in the room [`MAX_CONNECTIONS_PER_ACCOUNT`] times.
    TooManyConnections,
    /// The host locked the meeting.
    Locked,
    /// The host removed this person.
    Removed,
}

/// A connected participant, as the room sees them. `out` is the only sender of the
/// connection's queue: dropping the participant closes the connection.
pub struct Participant {
    pub info: PeerInfo,
    pub out: mpsc::Sender<Outgoing>,
}

/// The room's state, owned by its task.
struct Room {
    hub: Arc<Hub>,
    meeting_id: String,
    /// Who is in the meeting (let in), by peer ID.
    peers: HashMap<String, Participant>,
    /// Who waits for the host, by peer ID, and in the order they knocked.
    waiting: HashMap<String, Participant>,
    waiting_order: Vec<String>,
    /// Accounts the host turned away, and when (see [`QUIET_KNOCK_AFTER_DENIAL`]).
    denied: HashMap<String, std::time::Instant>,
    /// The host's settings and decisions.
    access: Access,
    chat: ChatState,
    writes: mpsc::UnboundedSender<Write>,
    state: Option<RoomSnapshot>,
    /// Peers whose queue was full: dropped once the current command is handled.
    lagging: Vec<String>,
    media: RoomMedia,
}

/// The host's settings, decisions and chat as stored; when they cannot be read the room
/// starts with its waiting room on (nobody gets in unseen) and says so in the log.
async fn load(hub: &Hub, meeting_id: &str) -> (Access, ChatState) {
    let access = access::load(&hub.pool, meeting_id).await.unwrap_or_else(|e| {
        tracing::error!(error = %e, meeting = %meeting_id, "could not read the meeting's access; waiting room on");
        Access {
            waiting_room: true,
            ..Access::default()
        }
    });
    let history = crate::meetings::chat::history(&hub.pool, meeting_id)
        .await
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, meeting = %meeting_id, "could not read the meeting's chat");
            Vec::new()
        });
    (access, ChatState::new(history))
}

/// Runs a room until it is empty or ended.
pub async fn run(
    hub: Arc<Hub>,
    meeting_id: String,
    generation: u64,
    mut commands: mpsc::Receiver<RoomCommand>,
) {
    let (access, chat) = load(&hub, &meeting_id).await;
    let mut room = Room {
        writes: writes::spawn_writer(hub.pool.clone(), meeting_id.clone()),
        hub: hub.clone(),
        meeting_id: meeting_id.clone(),
        peers: HashMap::new(),
        waiting: HashMap::new(),
        waiting_order: Vec::new(),
        denied: HashMap::new(),
        access,
        chat,
        state: None,
        lagging: Vec::new(),
        media: RoomMedia::new(hub.sfu.as_ref()),
    };
    let mut refresh = tokio::time::interval(PRESENCE_REFRESH);
    refresh.tick().await;
    let mut ever_joined = false;

    loop {
        let command = tokio::select! {
            command = commands.recv() => command,
            _ = refresh.tick() => {
                let present = room.peers.values().map(|p| p.info.user_id.clone()).collect();
                let _ = room.writes.send(Write::Seen(present));
                continue;
            }
            wake = room.media.wake() => {
                let effects = room.media.woke(wake);
                room.apply_media(effects);
                room.drop_lagging();
                if room.peers.is_empty()
                    && room.waiting.is_empty()
                    && ever_joined
                    && hub.remove_if_idle(&meeting_id, generation, &commands)
                {
                    break;
                }
                continue;
            }
        };
        let Some(command) = command else { break };
        let mut ended = false;
        match command {
            RoomCommand::Join {
                participant,
                snapshot,
                reply,
            } => {
                let result = room.join(participant, snapshot).await;
                ever_joined |= result.is_ok();
                let _ = reply.send(result);
            }
            RoomCommand::Message { from, message } => {
                ended = room.handle(&from, message).await;
            }
            RoomCommand::Leave { peer } => room.leave(&peer),
            RoomCommand::Broadcast(message) => room.remember_and_broadcast(message),
            RoomCommand::End => ended = true,
            RoomCommand::Evict => {
                room.evict();
                break;
            }
        }
        if ended {
            room.end();
            break;
        }
        room.drop_lagging();
        if room.peers.is_empty()
            && room.waiting.is_empty()
            && ever_joined
            && hub.remove_if_idle(&meeting_id, generation, &commands)
        {
            break;
        }
    }
    // Anyone still connected (the room ended) was told by `end`; dropping their senders
    // closes their connections.
    room.peers.clear();
    room.waiting.clear();
    hub.forget(&meeting_id, generation);
}

impl Room {
    /// Tells everyone to reconnect (the room goes on elsewhere); their senders are dropped
    /// when the room's task ends.
    fn evict(&mut self) {
        for peer in self.peers.values().chain(self.waiting.values()) {
            let _ = peer.out.try_send(super::Outgoing::Reconnect);
        }
        tracing::info!(meeting = %self.meeting_id, "room closed here; its people reconnect");
    }

    /// Queues a message for one peer. A connection that cannot keep up is dropped rather than
    /// slowing the room down; it is not sent a close through its full queue (that would be
    /// lost too), its sender is dropped instead (see [`Room::drop_lagging`]).
    fn send_text(lagging: &mut Vec<String>, id: &str, peer: &Participant, text: Arc<str>) {
        if peer.out.try_send(Outgoing::Text(text)).is_err() && !lagging.iter().any(|l| l == id) {
            lagging.push(id.to_owned());
        }
    }

    fn send(&mut self, to: &str, message: &ServerMessage) {
        if let Some(peer) = self.peers.get(to).or_else(|| self.waiting.get(to)) {
            Self::send_text(&mut self.lagging, to, peer, Arc::from(message.to_text()));
        }
    }

    /// Sends to everyone in the meeting (never to those waiting).
    fn broadcast(&mut self, except: Option<&str>, message: &ServerMessage) {
        let text: Arc<str> = Arc::from(message.to_text());
        for (id, peer) in &self.peers {
            if Some(id.as_str()) != except {
                Self::send_text(&mut self.lagging, id, peer, text.clone());
            }
        }
    }

    /// Removes the peers that fell behind, telling the others (which may leave more behind).
    fn drop_lagging(&mut self) {
        while let Some(id) = self.lagging.pop() {
            tracing::warn!(peer = %id, "signalling connection fell behind; dropping it");
            self.leave(&id);
        }
    }

    /// Someone connected: refused, put in the waiting room, or let in.
    async fn join(
        &mut self,
        participant: Participant,
        snapshot: RoomSnapshot,
    ) -> Result<(), JoinRefused> {
        let info = &participant.info;
        if self.access.removed.contains_key(&info.user_id) && !info.owner {
            return Err(JoinRefused::Removed);
        }
        let same_account = self
            .peers
            .values()
            .chain(self.waiting.values())
            .filter(|p| p.info.user_id == info.user_id)
            .count();
        if same_account >= MAX_CONNECTIONS_PER_ACCOUNT {
            return Err(JoinRefused::TooManyConnections);
        }
        // Someone the host let in before (back after a drop, or a second tab) is not new.
        let known = info.owner || self.access.admitted.contains(&info.user_id);
        if self.access.locked && !known {
            return Err(JoinRefused::Locked);
        }
        self.state.get_or_insert(snapshot);
        if self.access.waiting_room && !known {
            self.denied
                .retain(|_, at| at.elapsed() < QUIET_KNOCK_AFTER_DENIAL);
            if self.waiting.len() >= MAX_WAITING {
                return Err(JoinRefused::Full);
            }
            let id = info.id.clone();
            let knock = ServerMessage::Knock {
                peer: super::protocol::WaitingInfo {
                    id: id.clone(),
                    user_id: info.user_id.clone(),
                    name: info.name.clone(),
                    image: info.image.clone(),
                    quiet: self.denied.contains_key(&info.user_id),
                },
            };
            self.waiting.insert(id.clone(), participant);
            self.waiting_order.push(id.clone());
            self.send(&id, &ServerMessage::Waiting);
            self.tell_hosts(&knock);
            tracing::debug!(peer = %id, "waiting to be let in");
            return Ok(());
        }
        // The last place is the host's until they are in.
        let host_in = self.peers.values().any(|p| p.info.owner);
        let places = if info.owner || host_in {
            self.hub.max_participants
        } else {
            self.hub.max_participants - 1
        };
        if self.peers.len() >= places {
            return Err(JoinRefused::Full);
        }
        if !info.owner && !self.access.admitted.contains(&info.user_id) {
            // In without a waiting room: they count as let in if it is turned on later.
            self.access.admitted.insert(info.user_id.clone());
            let _ = self.writes.send(Write::Decide(
                info.user_id.clone(),
                info.name.clone(),
                crate::meetings::access::Decision::Admitted,
            ));
            self.admission_stored().await;
        }
        self.enter(participant);
        Ok(())
    }

    /// Puts someone in the meeting: their welcome (with the chat so far, and for the host the
    /// waiting list), and the others see them join.
    fn enter(&mut self, participant: Participant) {
        let info = participant.info.clone();
        let state = self.state.clone().unwrap_or_default();
        let host = info.owner;
        let welcome = ServerMessage::Welcome {
            you: info.id.clone(),
            peers: self.peers.values().map(|p| p.info.clone()).collect(),
            ice_servers: self.hub.ice_servers.clone(),
            owner: host,
            max_participants: self.hub.max_participants,
            recording: state.recording.is_some(),
            recording_by: state.recording.clone().filter(|name| !name.is_empty()),
            recording_allowed: state.recording_allowed,
            chat: self.chat.history.clone(),
            locked: self.access.locked,
            waiting_room: self.access.waiting_room,
            waiting: if host {
                self.waiting_list()
            } else {
                Vec::new()
            },
            removed: if host {
                self.removed_list()
            } else {
                Vec::new()
            },
        };
        let id = info.id.clone();
        let _ = self.writes.send(Write::Join(info.user_id.clone()));
        // Only now, let in, may they send and receive media.
        self.media.joined(&info);
        self.broadcast(None, &ServerMessage::PeerJoined { peer: info });
        self.peers.insert(id.clone(), participant);
        self.send(&id, &welcome);
        tracing::debug!(peer = %id, "peer joined");
    }

    fn leave(&mut self, peer: &str) {
        if self.waiting.remove(peer).is_some() {
            self.waiting_order.retain(|w| w != peer);
            self.lagging.retain(|l| l != peer);
            self.tell_hosts(&ServerMessage::KnockGone {
                id: peer.to_owned(),
            });
            return;
        }
        let Some(gone) = self.peers.remove(peer) else {
            return;
        };
        self.lagging.retain(|l| l != peer);
        let effects = self.media.left(peer);
        self.apply_media(effects);
        self.broadcast(
            None,
            &ServerMessage::PeerLeft {
                id: peer.to_owned(),
            },
        );
        // The same person may still be here from another tab.
        if !self
            .peers
            .values()
            .any(|p| p.info.user_id == gone.info.user_id)
        {
            let _ = self.writes.send(Write::Leave(gone.info.user_id));
        }
    }

    /// Sends what the media engine said to whom, and drops the peers whose media failed (their
    /// page rejoins, as after any dropped connection).
    fn apply_media(&mut self, effects: crate::video::sfu::engine::Effects) {
        for (to, message) in effects.messages {
            self.send(&to, &message);
        }
        for peer in effects.gone {
            tracing::debug!(peer = %peer, "media connection lost; dropping the participant");
            self.leave(&peer);
        }
    }

    fn remember_and_broadcast(&mut self, message: ServerMessage) {
        let state = self.state.get_or_insert_with(RoomSnapshot::default);
        match &message {
            ServerMessage::Recording { active, name } => {
                state.recording = active.then(|| name.clone());
            }
            ServerMessage::RecordingPermission { allowed } => state.recording_allowed = *allowed,
            _ => {}
        }
        self.broadcast(None, &message);
    }

    fn end(&mut self) {
        // Those who cannot take the notice are closed all the same when the room drops them.
        let text: Arc<str> = Arc::from(ServerMessage::Ended.to_text());
        for peer in self.peers.values().chain(self.waiting.values()) {
            let _ = peer.out.try_send(Outgoing::Final(text.clone()));
        }
    }

    fn error(&mut self, to: &str, code: ErrorCode, message: &str) {
        self.send(to, &ServerMessage::error(code, message));
    }

    /// Sends a message from one peer to another, never to itself or outside the room.
    fn relay(&mut self, from: &str, to: &str, message: ServerMessage) {
        if !self.hub.relay_media {
            self.error(
                from,
                ErrorCode::BadMessage,
                "This meeting's media does not go through this server.",
            );
        } else if to != from && self.peers.contains_key(to) {
            self.send(to, &message);
        } else {
            self.error(
                from,
                ErrorCode::UnknownPeer,
                "That participant is not in this meeting.",
            );
        }
    }

    /// Handles one message; true when it ended the meeting. Someone waiting may only leave.
    async fn handle(&mut self, from: &str, message: ClientMessage) -> bool {
        let Some(sender) = self.peers.get(from) else {
            if self.waiting.contains_key(from)
                && !matches!(message, ClientMessage::Ping | ClientMessage::Leave)
            {
                self.error(
                    from,
                    ErrorCode::Forbidden,
                    "You are waiting for the host to let you in.",
                );
            }
            return false;
        };
        let (owner, user_id) = (sender.info.owner, sender.info.user_id.clone());
        match message {
            ClientMessage::Offer { to, sdp } => self.relay(
                from,
                &to,
                ServerMessage::Offer {
                    from: from.into(),
                    sdp,
                },
            ),
            ClientMessage::Answer { to, sdp } => self.relay(
                from,
                &to,
                ServerMessage::Answer {
                    from: from.into(),
                    sdp,
                },
            ),
            ClientMessage::Candidate { to, candidate } => self.relay(
                from,
                &to,
                ServerMessage::Candidate {
                    from: from.into(),
                    candidate,
                },
            ),
            ClientMessage::Media {
                audio,
                video,
                screen,
            } => {
                if let Some(p) = self.peers.get_mut(from) {
                    (p.info.audio, p.info.video, p.info.screen) = (audio, video, screen);
                    self.media.media_state(&p.info);
                }
                self.broadcast(
                    Some(from),
                    &ServerMessage::Media {
                        id: from.into(),
                        audio,
                        video,
                        screen,
                    },
                );
            }
            ClientMessage::Reaction { emoji } => {
                if REACTIONS.contains(&emoji.as_str()) {
                    self.broadcast(
                        None,
                        &ServerMessage::Reaction {
                            id: from.into(),
                            emoji,
                        },
                    );
                } else {
                    self.error(
                        from,
                        ErrorCode::BadMessage,
                        "That reaction is not available.",
                    );
                }
            }
            ClientMessage::Hand { raised } => {
                if let Some(p) = self.peers.get_mut(from) {
                    p.info.hand = raised;
                }
                self.broadcast(
                    None,
                    &ServerMessage::Hand {
                        id: from.into(),
                        raised,
                    },
                );
            }
            ClientMessage::SfuOffer { sdp } => match self.media.offer(from, &sdp) {
                Some(effects) => self.apply_media(effects),
                None => self.error(from, ErrorCode::BadMessage, NO_MEDIA_SERVER),
            },
            ClientMessage::Layout { tiles } => {
                if !self.media.layout(from, tiles) {
                    self.error(from, ErrorCode::BadMessage, NO_MEDIA_SERVER);
                }
            }
            ClientMessage::End => {
                if !owner {
                    self.error(
                        from,
                        ErrorCode::Forbidden,
                        "Only the host can end the meeting for everyone.",
                    );
                    return false;
                }
                let (done, written) = oneshot::channel();
                let _ = self.writes.send(Write::End {
                    owner: user_id,
                    done,
                });
                // Everyone is told only once the meeting is ended in the database, so a page
                // reload after the notice shows the same thing.
                let _ = written.await;
                return true;
            }
            // Handled by the connection itself, or only valid once.
            ClientMessage::Join { .. } => self.error(
                from,
                ErrorCode::AlreadyJoined,
                "You are already in this meeting.",
            ),
            ClientMessage::Ping | ClientMessage::Leave => {}
            ClientMessage::Admit { id } => self.admit(from, &id).await,
            ClientMessage::Deny { id } => self.deny(from, &id),
            ClientMessage::AdmitAll => self.admit_all(from).await,
            ClientMessage::Lock { locked } => self.set_locked(from, locked),
            ClientMessage::WaitingRoom { enabled } => self.set_waiting_room(from, enabled).await,
            ClientMessage::Remove { id } => self.remove(from, &id).await,
            ClientMessage::AllowBack { user_id } => self.allow_back(from, &user_id),
            ClientMessage::Mute { id } => self.mute(from, Some(&id)),
            ClientMessage::MuteAll => self.mute(from, None),
            ClientMessage::LowerHands => self.lower_hands(from),
            ClientMessage::Chat { text } => self.chat(from, &text),
            ClientMessage::ChatDelete { seq } => self.chat_delete(from, seq),
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn room() -> (Room, mpsc::UnboundedReceiver<Write>) {
        let pool = crate::db::connect("sqlite::memory:").await.unwrap();
        let (writes, written) = mpsc::unbounded_channel();
        let room = Room {
            hub: Hub::new(
                pool,
                serde_json::json!([]),
                8,
                crate::cluster::Cluster::single(),
            ),
            meeting_id: "m".into(),
            peers: HashMap::new(),
            waiting: HashMap::new(),
            waiting_order: Vec::new(),
            denied: HashMap::new(),
            access: Access::default(),
            chat: ChatState::default(),
            writes,
            state: None,
            lagging: Vec::new(),
            media: RoomMedia::Relay,
        };
        (room, written)
    }

    fn person(id: &str, capacity: usize) -> (Participant, mpsc::Receiver<Outgoing>) {
        let (out, rx) = mpsc::channel(capacity);
        let info = PeerInfo {
            id: id.into(),
            user_id: format!("user-{id}"),
            name: id.into(),
            image: None,
            audio: true,
            video: true,
            screen: false,
            hand: false,
            owner: false,
        };
        (Participant { info, out }, rx)
    }

    fn texts(rx: &mut mpsc::Receiver<Outgoing>) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(Outgoing::Text(t) | Outgoing::Final(t)) = rx.try_recv() {
            out.push(t.to_string());
        }
        out
    }

    #[tokio::test]
    async fn a_peer_whose_queue_is_full_is_dropped_and_the_others_hear_it_left() {
        let (mut room, _written) = room().await;
        let (alice, mut alice_rx) = person("alice", 64);
        let (slow, mut slow_rx) = person("slow", 2);
        room.join(alice, RoomSnapshot::default()).await.unwrap();
        room.join(slow, RoomSnapshot::default()).await.unwrap();
        room.drop_lagging();
        texts(&mut alice_rx);
        // The slow peer's queue holds its welcome and one more; the third message overflows.
        for _ in 0..3 {
            room.broadcast(Some("alice"), &ServerMessage::Pong);
        }
        assert_eq!(room.lagging, vec!["slow".to_string()]);
        room.drop_lagging();
        assert!(
            !room.peers.contains_key("slow"),
            "dropped, not kept half-informed"
        );
        let told = texts(&mut alice_rx);
        assert!(
            told.iter()
                .any(|t| t.contains("peer-left") && t.contains("slow")),
            "{told:?}"
        );
        // Its queue's only sender went with it: the connection sees the end of the queue.
        texts(&mut slow_rx);
        assert!(slow_rx.recv().await.is_none());
    }
}

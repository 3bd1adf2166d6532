//! One task per meeting room owns its participants and takes commands over a channel.
//! Connections hold a sender; nothing else touches the room's state.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::protocol::{ClientMessage, ErrorCode, PeerInfo, REACTIONS, ServerMessage};
use super::{Hub, Outgoing};
use crate::db::Pool;
use crate::meetings::store;

/// How often the room refreshes the attendance of the people in it, well within
/// `meetings::PRESENCE_WINDOW_SECS`.
const PRESENCE_REFRESH: Duration = Duration::from_secs(20);

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
    Full,
}

/// A connected participant, as the room sees them.
pub struct Participant {
    pub info: PeerInfo,
    pub out: mpsc::Sender<Outgoing>,
}

enum Attendance {
    Join(String),
    Seen(Vec<String>),
    Leave(String),
    /// The host ended the meeting: write it, then let the room tell everyone.
    End {
        owner: String,
        done: oneshot::Sender<()>,
    },
}

/// Runs a room until it is empty or ended.
pub async fn run(
    hub: Arc<Hub>,
    meeting_id: String,
    generation: u64,
    mut commands: mpsc::Receiver<RoomCommand>,
) {
    let attendance = spawn_attendance_writer(hub.pool.clone(), meeting_id.clone());
    let mut peers: HashMap<String, Participant> = HashMap::new();
    let mut refresh = tokio::time::interval(PRESENCE_REFRESH);
    refresh.tick().await;
    let mut ever_joined = false;
    let mut state: Option<RoomSnapshot> = None;

    loop {
        let command = tokio::select! {
            command = commands.recv() => command,
            _ = refresh.tick() => {
                let present = peers.values().map(|p| p.info.user_id.clone()).collect();
                let _ = attendance.send(Attendance::Seen(present));
                continue;
            }
        };
        let Some(command) = command else { break };
        match command {
            RoomCommand::Join {
                participant,
                snapshot,
                reply,
            } => {
                if peers.len() >= hub.max_participants {
                    let _ = reply.send(Err(JoinRefused::Full));
                } else {
                    let state = state.get_or_insert(snapshot);
                    join(&hub, &mut peers, participant, state, &attendance);
                    ever_joined = true;
                    let _ = reply.send(Ok(()));
                }
            }
            RoomCommand::Message { from, message } => {
                if let Some(ended) = handle(&mut peers, &from, message, &attendance).await
                    && ended
                {
                    end(&mut peers);
                    break;
                }
            }
            RoomCommand::Leave { peer } => leave(&mut peers, &peer, &attendance),
            RoomCommand::Broadcast(message) => {
                let state = state.get_or_insert_with(RoomSnapshot::default);
                match &message {
                    ServerMessage::Recording { active, name } => {
                        state.recording = active.then(|| name.clone());
                    }
                    ServerMessage::RecordingPermission { allowed } => {
                        state.recording_allowed = *allowed
                    }
                    _ => {}
                }
                broadcast(&peers, None, &message);
            }
            RoomCommand::End => {
                end(&mut peers);
                break;
            }
        }
        if peers.is_empty() && ever_joined && hub.remove_if_idle(&meeting_id, generation, &commands)
        {
            break;
        }
    }
    // Anyone still connected (the room ended) is told by `end`; drop their senders.
    peers.clear();
    hub.forget(&meeting_id, generation);
}

fn send(peer: &Participant, message: &ServerMessage) {
    send_text(peer, Arc::from(message.to_text()));
}

fn send_text(peer: &Participant, text: Arc<str>) {
    // A connection that cannot keep up is dropped rather than slowing the room down.
    if peer.out.try_send(Outgoing::Text(text)).is_err() {
        let _ = peer.out.try_send(Outgoing::Close);
    }
}

fn broadcast(peers: &HashMap<String, Participant>, except: Option<&str>, message: &ServerMessage) {
    let text: Arc<str> = Arc::from(message.to_text());
    for (id, peer) in peers {
        if Some(id.as_str()) != except {
            send_text(peer, text.clone());
        }
    }
}

fn join(
    hub: &Hub,
    peers: &mut HashMap<String, Participant>,
    participant: Participant,
    state: &RoomSnapshot,
    attendance: &mpsc::UnboundedSender<Attendance>,
) {
    let welcome = ServerMessage::Welcome {
        you: participant.info.id.clone(),
        peers: peers.values().map(|p| p.info.clone()).collect(),
        ice_servers: hub.ice_servers.clone(),
        owner: participant.info.owner,
        max_participants: hub.max_participants,
        recording: state.recording.is_some(),
        recording_by: state.recording.clone().filter(|name| !name.is_empty()),
        recording_allowed: state.recording_allowed,
    };
    send(&participant, &welcome);
    broadcast(
        peers,
        None,
        &ServerMessage::PeerJoined {
            peer: participant.info.clone(),
        },
    );
    let _ = attendance.send(Attendance::Join(participant.info.user_id.clone()));
    tracing::debug!(peer = %participant.info.id, "peer joined");
    peers.insert(participant.info.id.clone(), participant);
}

fn leave(
    peers: &mut HashMap<String, Participant>,
    peer: &str,
    attendance: &mpsc::UnboundedSender<Attendance>,
) {
    let Some(gone) = peers.remove(peer) else {
        return;
    };
    broadcast(
        peers,
        None,
        &ServerMessage::PeerLeft {
            id: peer.to_owned(),
        },
    );
    // The same person may still be here from another tab.
    if !peers.values().any(|p| p.info.user_id == gone.info.user_id) {
        let _ = attendance.send(Attendance::Leave(gone.info.user_id));
    }
}

fn end(peers: &mut HashMap<String, Participant>) {
    broadcast(peers, None, &ServerMessage::Ended);
    for peer in peers.values() {
        let _ = peer.out.try_send(Outgoing::Close);
    }
}

/// Handles one message; `Some(true)` when it ended the meeting.
async fn handle(
    peers: &mut HashMap<String, Participant>,
    from: &str,
    message: ClientMessage,
    attendance: &mpsc::UnboundedSender<Attendance>,
) -> Option<bool> {
    let sender = peers.get(from)?;
    let relay = |to: &str, message: ServerMessage| match peers.get(to) {
        Some(target) if to != from => send(target, &message),
        _ => send(
            sender,
            &ServerMessage::error(
                ErrorCode::UnknownPeer,
                "That participant is not in this meeting.",
            ),
        ),
    };
    match message {
        ClientMessage::Offer { to, sdp } => relay(
            &to,
            ServerMessage::Offer {
                from: from.into(),
                sdp,
            },
        ),
        ClientMessage::Answer { to, sdp } => relay(
            &to,
            ServerMessage::Answer {
                from: from.into(),
                sdp,
            },
        ),
        ClientMessage::Candidate { to, candidate } => relay(
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
            if let Some(p) = peers.get_mut(from) {
                (p.info.audio, p.info.video, p.info.screen) = (audio, video, screen);
            }
            broadcast(
                peers,
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
                broadcast(
                    peers,
                    None,
                    &ServerMessage::Reaction {
                        id: from.into(),
                        emoji,
                    },
                );
            } else {
                send(
                    sender,
                    &ServerMessage::error(ErrorCode::BadMessage, "That reaction is not available."),
                );
            }
        }
        ClientMessage::Hand { raised } => {
            if let Some(p) = peers.get_mut(from) {
                p.info.hand = raised;
            }
            broadcast(
                peers,
                None,
                &ServerMessage::Hand {
                    id: from.into(),
                    raised,
                },
            );
        }
        ClientMessage::End => {
            if !sender.info.owner {
                send(
                    sender,
                    &ServerMessage::error(
                        ErrorCode::Forbidden,
                        "Only the host can end the meeting for everyone.",
                    ),
                );
                return Some(false);
            }
            let (done, written) = oneshot::channel();
            let _ = attendance.send(Attendance::End {
                owner: sender.info.user_id.clone(),
                done,
            });
            // Everyone is told only once the meeting is ended in the database, so a page
            // reload after the notice shows the same thing.
            let _ = written.await;
            return Some(true);
        }
        // Handled by the connection itself, or only valid once.
        ClientMessage::Join { .. } => send(
            sender,
            &ServerMessage::error(ErrorCode::AlreadyJoined, "You are already in this meeting."),
        ),
        ClientMessage::Ping | ClientMessage::Leave => {}
    }
    Some(false)
}

/// Writes attendance in order, off the room's loop, so a slow disk never delays relaying.
fn spawn_attendance_writer(pool: Pool, meeting_id: String) -> mpsc::UnboundedSender<Attendance> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Attendance>();
    tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            let now = crate::time::now();
            let result = match event {
                Attendance::Join(user) => store::record_join(&pool, &meeting_id, &user, now).await,
                Attendance::Leave(user) => {
                    store::record_leave(&pool, &meeting_id, &user, now).await
                }
                Attendance::Seen(users) => {
                    let mut result = Ok(());
                    for user in users {
                        result =
                            result.and(store::record_seen(&pool, &meeting_id, &user, now).await);
                    }
                    result
                }
                Attendance::End { owner, done } => {
                    let result = store::end(&pool, &meeting_id, &owner, now).await;
                    let _ = done.send(());
                    match result {
                        Ok(_) => Ok(()),
                        Err(e) => {
                            tracing::error!(error = %e, meeting = %meeting_id, "failed to end meeting");
                            Ok(())
                        }
                    }
                }
            };
            if let Err(e) = result {
                tracing::error!(error = %e, meeting = %meeting_id, "failed to record attendance");
            }
        }
    });
    tx
}

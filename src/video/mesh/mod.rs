//! Meeting rooms: one task per live meeting holding who is in it, who waits, the host's
//! controls and the chat, in every media mode. On the built-in WebRTC mesh a room also relays
//! offers, answers and ICE candidates between the browsers; media flows browser to browser and
//! the server never sees it. On the built-in SFU a room owns its meeting's forwarding engine
//! and drives it from the same task (see `media`).

pub mod connection;
pub mod media;
pub mod protocol;
mod room;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

pub use room::{JoinRefused, MAX_CONNECTIONS_PER_ACCOUNT, MAX_WAITING, RoomSnapshot};
use room::{Participant, RoomCommand};

use crate::cluster::{Cluster, Event};
use crate::db::Pool;
use protocol::{PeerInfo, ServerMessage};

/// Commands waiting for a room before senders must wait: a burst of ICE candidates fits.
const ROOM_QUEUE: usize = 1024;
/// Messages waiting for one connection's socket; a connection this far behind is dropped.
pub const CONNECTION_QUEUE: usize = 256;

/// What a room sends a connection. (The room closes a connection by dropping its sender.)
#[derive(Debug, Clone)]
pub enum Outgoing {
    Text(Arc<str>),
    /// The last message (the meeting ended): the connection closes normally after it.
    Final(Arc<str>),
    /// The room closed here without the meeting ending (it moved to another instance, or this
    /// one is stopping): the connection closes so that the client reconnects.
    Reconnect,
}

/// A host's decision that a hosted media provider must enforce too (its calls do not go
/// through our rooms): removing someone, letting them back, muting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Moderation {
    Remove {
        meeting_id: String,
        user_id: String,
    },
    AllowBack {
        meeting_id: String,
        user_id: String,
    },
    Mute {
        meeting_id: String,
        user_ids: Vec<String>,
        /// Everyone but the host (so newcomers count too, where the provider can say so).
        everyone: bool,
    },
}

/// The registry of live rooms. Cheap to clone through `Arc`.
#[derive(Debug)]
pub struct Hub {
    pub(crate) pool: Pool,
    pub(crate) ice_servers: serde_json::Value,
    pub(crate) max_participants: usize,
    /// Whether rooms relay the browsers' offers and answers (the mesh), or only carry the
    /// room's own messages (media at a hosted provider).
    pub(crate) relay_media: bool,
    /// Where host decisions go for a hosted provider to enforce.
    pub(crate) moderation: Option<mpsc::UnboundedSender<Moderation>>,
    /// The other instances, which hold the rooms this one does not.
    cluster: Cluster,
    /// The media server, when rooms forward media themselves.
    pub(crate) sfu: Option<Arc<crate::video::sfu::Sfu>>,
    rooms: Mutex<HashMap<String, (u64, mpsc::Sender<RoomCommand>)>>,
    generation: AtomicU64,
}

impl std::fmt::Debug for RoomCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RoomCommand")
    }
}

/// A joined participant's link to their room.
pub struct RoomHandle {
    pub peer_id: String,
    commands: mpsc::Sender<RoomCommand>,
}

impl RoomHandle {
    /// Passes a message to the room (waiting if the room is busy, so a flood slows only its
    /// own sender).
    pub async fn send(&self, message: protocol::ClientMessage) -> bool {
        self.commands
            .send(RoomCommand::Message {
                from: self.peer_id.clone(),
                message,
            })
            .await
            .is_ok()
    }

    /// Leaves the room.
    pub async fn leave(&self) {
        let _ = self
            .commands
            .send(RoomCommand::Leave {
                peer: self.peer_id.clone(),
            })
            .await;
    }
}

impl Hub {
    /// Rooms of the built-in mesh: they relay signalling between browsers.
    pub fn new(
        pool: Pool,
        ice_servers: serde_json::Value,
        max_participants: usize,
        cluster: Cluster,
    ) -> Arc<Self> {
        Arc::new(Self {
            pool,
            ice_servers,
            max_participants,
            relay_media: true,
            moderation: None,
            sfu: None,
            cluster,
            rooms: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
        })
    }

    /// Rooms of the built-in SFU: each owns its meeting's forwarding engine; the browsers'
    /// media offers go to it, not to each other. `ice_servers` (a TURN server, for browsers
    /// whose network reaches neither media port) are handed to the pages all the same.
    pub fn with_sfu(
        pool: Pool,
        sfu: Arc<crate::video::sfu::Sfu>,
        ice_servers: serde_json::Value,
        cluster: Cluster,
    ) -> Arc<Self> {
        Arc::new(Self {
            pool,
            ice_servers,
            max_participants: sfu.max_participants,
            relay_media: false,
            moderation: None,
            sfu: Some(sfu),
            cluster,
            rooms: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
        })
    }

    /// Rooms for meetings whose media a hosted provider carries: the waiting room, the host's
    /// controls and the chat, with host decisions sent to `moderation` for the provider.
    pub fn for_provider(
        pool: Pool,
        max_participants: usize,
        moderation: mpsc::UnboundedSender<Moderation>,
        cluster: Cluster,
    ) -> Arc<Self> {
        Arc::new(Self {
            pool,
            ice_servers: serde_json::Value::Array(Vec::new()),
            max_participants,
            relay_media: false,
            moderation: Some(moderation),
            sfu: None,
            cluster,
            rooms: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
        })
    }

    fn rooms(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, (u64, mpsc::Sender<RoomCommand>)>> {
        self.rooms.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn room_sender(self: &Arc<Self>, meeting_id: &str) -> mpsc::Sender<RoomCommand> {
        let mut rooms = self.rooms();
        if let Some((_, sender)) = rooms.get(meeting_id)
            && !sender.is_closed()
        {
            return sender.clone();
        }
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(ROOM_QUEUE);
        rooms.insert(meeting_id.to_owned(), (generation, tx.clone()));
        tokio::spawn(room::run(
            self.clone(),
            meeting_id.to_owned(),
            generation,
            rx,
        ));
        tx
    }

    /// Puts a participant in the meeting's room (creating the room if needed).
    pub async fn join(
        self: &Arc<Self>,
        meeting_id: &str,
        info: PeerInfo,
        snapshot: RoomSnapshot,
        out: mpsc::Sender<Outgoing>,
    ) -> Result<RoomHandle, JoinRefused> {
        let peer_id = info.id.clone();
        // A room that empties exits; a join racing with that exit finds the channel closed
        // and simply tries a fresh room.
        for _ in 0..3 {
            let commands = self.room_sender(meeting_id);
            let (reply, answer) = oneshot::channel();
            let participant = Participant {
                info: info.clone(),
                out: out.clone(),
            };
            // The room must hold the connection's only sender (see `connection::serve`).
            if commands
                .send(RoomCommand::Join {
                    participant,
                    snapshot: snapshot.clone(),
                    reply,
                })
                .await
                .is_err()
            {
                continue;
            }
            match answer.await {
                Ok(Ok(())) => return Ok(RoomHandle { peer_id, commands }),
                Ok(Err(refused)) => return Err(refused),
                Err(_) => continue,
            }
        }
        tracing::error!(meeting = %meeting_id, "could not reach a room after three tries");
        Err(JoinRefused::Full)
    }

    /// The other instances this hub's rooms are shared with.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    fn sender(&self, meeting_id: &str) -> Option<mpsc::Sender<RoomCommand>> {
        self.rooms().get(meeting_id).map(|(_, s)| s.clone())
    }

    /// Ends a meeting's room, wherever it lives: everyone in it is told and disconnected.
    pub async fn end(&self, meeting_id: &str) {
        if !self.end_here(meeting_id).await {
            let meeting = meeting_id.to_owned();
            self.cluster.publish(Event::EndRoom { meeting }).await;
        }
    }

    /// Ends the meeting's room if it lives here; false when it does not.
    pub async fn end_here(&self, meeting_id: &str) -> bool {
        match self.sender(meeting_id) {
            Some(sender) => sender.send(RoomCommand::End).await.is_ok(),
            None => false,
        }
    }

    /// Tells everyone in a meeting's room (wherever it lives) about a change of meeting state.
    pub async fn broadcast(&self, meeting_id: &str, message: ServerMessage) {
        if self.broadcast_here(meeting_id, message.clone()).await {
            return;
        }
        let meeting = meeting_id.to_owned();
        let event = match message {
            ServerMessage::Recording { active, name } => Event::RecordingState {
                meeting,
                active,
                name,
            },
            ServerMessage::RecordingPermission { allowed } => {
                Event::RecordingAllowed { meeting, allowed }
            }
            // Nothing else is said to a room from outside it.
            _ => return,
        };
        self.cluster.publish(event).await;
    }

    /// Tells the meeting's room, if it lives here; false when it does not.
    pub async fn broadcast_here(&self, meeting_id: &str, message: ServerMessage) -> bool {
        match self.sender(meeting_id) {
            Some(sender) => sender.send(RoomCommand::Broadcast(message)).await.is_ok(),
            None => false,
        }
    }

    /// Number of rooms with someone in them (for logs and benchmarks).
    pub fn room_count(&self) -> usize {
        self.rooms().len()
    }

    /// Called by an empty room: removes it unless a command is already on its way.
    fn remove_if_idle(
        &self,
        meeting_id: &str,
        generation: u64,
        commands: &mpsc::Receiver<RoomCommand>,
    ) -> bool {
        let mut rooms = self.rooms();
        if !commands.is_empty() {
            return false;
        }
        if rooms.get(meeting_id).is_some_and(|(g, _)| *g == generation) {
            rooms.remove(meeting_id);
        }
        true
    }

    /// Called by a room as it exits.
    fn forget(&self, meeting_id: &str, generation: u64) {
        let mut rooms = self.rooms();
        if rooms.get(meeting_id).is_some_and(|(g, _)| *g == generation) {
            rooms.remove(meeting_id);
        }
    }
}

impl crate::cluster::Rooms for Hub {
    fn local_rooms(&self) -> Vec<String> {
        self.rooms().keys().cloned().collect()
    }

    async fn evict(&self, meeting_id: &str) {
        if let Some(sender) = self.sender(meeting_id) {
            let _ = sender.send(RoomCommand::Evict).await;
        }
    }
}

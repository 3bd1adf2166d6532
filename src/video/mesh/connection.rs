//! One participant's WebSocket: reads and checks their messages, writes what the room sends,
//! keeps the connection alive and notices when it is not.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_ws::{AggregatedMessage, CloseCode, CloseReason, Session};
use tokio::sync::mpsc;

use super::protocol::{ClientMessage, ErrorCode, PeerInfo, ServerMessage};
use super::room::MAX_CONNECTIONS_PER_ACCOUNT;
use super::{CONNECTION_QUEUE, Hub, JoinRefused, Outgoing, RoomHandle};

/// How often the server pings each connection.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(3);
/// A connection not heard from for this long is dropped (its peers see `peer-left`).
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(8);
/// How long a new connection may take to send `join`.
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest message accepted: a browser's SDP offer to the media server, with 30 media lines
/// (microphone, camera, 3 audio and 25 video slots, each about 1.3 KB), is about 40 KB; a
/// mesh offer with audio, camera and screen share about 12 KB.
pub const MAX_MESSAGE_BYTES: usize = 56 * 1024;
/// Largest frame read at all; bigger ones close the connection.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Sustained frames per second per connection, and the burst allowed above it. Every frame
/// counts: text, binary, ping and pong alike.
pub const RATE_PER_SECOND: f64 = 50.0;
pub const RATE_BURST: f64 = 200.0;
/// Sustained bytes per second per connection, and the burst above it (joining a full mesh
/// room answers every peer's offer at once).
pub const BYTES_PER_SECOND: f64 = 32.0 * 1024.0;
pub const BYTES_BURST: f64 = 256.0 * 1024.0;
/// Frames refused for rate before the connection is closed.
pub const MAX_REFUSED: u32 = 200;
/// Longest a write to the socket may take: a client that stops reading must not hold its
/// connection's task (and the room's messages to it) forever.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Who is connecting, decided by the HTTP handler before the upgrade.
pub struct Entrant {
    pub meeting_id: String,
    pub user_id: String,
    pub name: String,
    pub image: Option<String>,
    pub owner: bool,
    /// The meeting's state when this person connected.
    pub snapshot: super::RoomSnapshot,
}

/// A token bucket.
struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(rate: f64, burst: f64) -> Self {
        Self {
            rate,
            burst,
            tokens: burst,
            last: Instant::now(),
        }
    }

    fn take(&mut self, amount: f64) -> bool {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.burst);
        self.last = now;
        if self.tokens >= amount {
            self.tokens -= amount;
            true
        } else {
            false
        }
    }
}

/// The socket's sending side, where every write gives up after [`WRITE_TIMEOUT`].
struct Writer {
    session: Session,
}

impl Writer {
    async fn text(&mut self, text: String) -> bool {
        matches!(
            tokio::time::timeout(WRITE_TIMEOUT, self.session.text(text)).await,
            Ok(Ok(()))
        )
    }

    async fn reply(&mut self, message: ServerMessage) -> bool {
        self.text(message.to_text()).await
    }

    async fn ping(&mut self) -> bool {
        matches!(
            tokio::time::timeout(WRITE_TIMEOUT, self.session.ping(b"")).await,
            Ok(Ok(()))
        )
    }

    async fn pong(&mut self, bytes: &[u8]) -> bool {
        matches!(
            tokio::time::timeout(WRITE_TIMEOUT, self.session.pong(bytes)).await,
            Ok(Ok(()))
        )
    }

    async fn close(self, reason: Option<CloseReason>) {
        let _ = tokio::time::timeout(WRITE_TIMEOUT, self.session.close(reason)).await;
    }
}

/// The next message the room queued, `None` once the room dropped this connection; never
/// ready before joining.
async fn from_room(queue: &mut Option<mpsc::Receiver<Outgoing>>) -> Option<Outgoing> {
    match queue {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

fn close(code: CloseCode, why: &str) -> Option<CloseReason> {
    Some(CloseReason {
        code,
        description: Some(why.into()),
    })
}

enum Step {
    Continue,
    Stop,
}

/// Serves one participant until they leave, drop, time out, or the meeting ends.
pub async fn serve(
    hub: Arc<Hub>,
    entrant: Entrant,
    session: Session,
    stream: actix_ws::MessageStream,
) {
    let mut stream = stream
        .max_frame_size(MAX_FRAME_BYTES)
        .aggregate_continuations()
        .max_continuation_size(MAX_FRAME_BYTES);
    let mut writer = Writer { session };
    // The room holds the only sender once this person joined: when it drops them (they fell
    // behind, or the meeting ended) the queue closes and so does the connection.
    let mut queue: Option<mpsc::Receiver<Outgoing>> = None;
    let mut heartbeat = tokio::time::interval(HEARTBEAT_INTERVAL);
    let mut last_heard = Instant::now();
    let mut frames = Bucket::new(RATE_PER_SECOND, RATE_BURST);
    let mut bytes = Bucket::new(BYTES_PER_SECOND, BYTES_BURST);
    let mut refused = 0u32;
    let mut ended = false;
    let connected_at = Instant::now();
    let mut room: Option<RoomHandle> = None;

    let reason = loop {
        tokio::select! {
            frame = stream.recv() => {
                let Some(frame) = frame else { break None };
                last_heard = Instant::now();
                let frame = match frame {
                    Ok(AggregatedMessage::Close(_)) => break None,
                    Ok(frame) => frame,
                    Err(e) => {
                        tracing::debug!(error = %e, "signalling connection broke");
                        break close(CloseCode::Size, "frame too large");
                    }
                };
                let size = match &frame {
                    AggregatedMessage::Text(t) => t.len(),
                    AggregatedMessage::Binary(b) | AggregatedMessage::Ping(b) | AggregatedMessage::Pong(b) => b.len(),
                    AggregatedMessage::Close(_) => 0,
                };
                // Every frame is charged before anything answers it.
                if !(frames.take(1.0) && bytes.take(size as f64)) {
                    refused += 1;
                    if refused >= MAX_REFUSED {
                        tracing::warn!(meeting = %entrant.meeting_id, user = %entrant.user_id, "signalling flood; closing");
                        break close(CloseCode::Policy, "too many messages");
                    }
                    if refused.is_power_of_two()
                        && !writer.reply(ServerMessage::error(ErrorCode::RateLimited, "Too many messages; some were dropped.")).await
                    {
                        break None;
                    }
                    continue;
                }
                let text = match frame {
                    AggregatedMessage::Text(text) => text,
                    AggregatedMessage::Binary(_) => {
                        if !writer.reply(ServerMessage::error(ErrorCode::BadMessage, "Messages are JSON text.")).await {
                            break None;
                        }
                        continue;
                    }
                    AggregatedMessage::Ping(payload) => {
                        if !writer.pong(&payload).await {
                            break None;
                        }
                        continue;
                    }
                    AggregatedMessage::Pong(_) | AggregatedMessage::Close(_) => continue,
                };
                if text.len() > MAX_MESSAGE_BYTES {
                    if !writer.reply(ServerMessage::error(ErrorCode::TooLarge, "That message is too large.")).await {
                        break None;
                    }
                    continue;
                }
                let message = match serde_json::from_str::<ClientMessage>(&text) {
                    Ok(m) => m,
                    Err(e) => {
                        if !writer.reply(ServerMessage::error(ErrorCode::BadMessage, format!("That message could not be read: {e}"))).await {
                            break None;
                        }
                        continue;
                    }
                };
                match handle(&hub, &entrant, &mut room, &mut queue, &mut writer, message).await {
                    Step::Continue => {}
                    Step::Stop => break None,
                }
            }
            outgoing = from_room(&mut queue) => match outgoing {
                Some(Outgoing::Text(text)) => {
                    if !writer.text(text.to_string()).await {
                        break None;
                    }
                }
                Some(Outgoing::Final(text)) => {
                    ended = true;
                    if !writer.text(text.to_string()).await {
                        break None;
                    }
                }
                Some(Outgoing::Reconnect) => {
                    room = None;
                    break close(CloseCode::Restart, "reconnect");
                }
                None if ended => break close(CloseCode::Normal, "ended"),
                None => {
                    // Dropped by the room for falling behind: the client reconnects afresh.
                    room = None;
                    break close(CloseCode::Again, "too slow");
                }
            },
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > CLIENT_TIMEOUT {
                    tracing::debug!(meeting = %entrant.meeting_id, "signalling connection timed out");
                    break close(CloseCode::Away, "timed out");
                }
                if room.is_none() && connected_at.elapsed() > JOIN_TIMEOUT {
                    break close(CloseCode::Policy, "no join");
                }
                if !writer.ping().await {
                    break None;
                }
            }
        }
    };
    if let Some(room) = room {
        room.leave().await;
    }
    // Flush what the room said last (the `ended` notice) before closing.
    if let Some(rx) = queue.as_mut() {
        while let Ok(Outgoing::Text(text) | Outgoing::Final(text)) = rx.try_recv() {
            if !writer.text(text.to_string()).await {
                break;
            }
        }
    }
    writer.close(reason).await;
}

async fn handle(
    hub: &Arc<Hub>,
    entrant: &Entrant,
    room: &mut Option<RoomHandle>,
    queue: &mut Option<mpsc::Receiver<Outgoing>>,
    writer: &mut Writer,
    message: ClientMessage,
) -> Step {
    match (&room, message) {
        (_, ClientMessage::Ping) => {
            if writer.reply(ServerMessage::Pong).await {
                Step::Continue
            } else {
                Step::Stop
            }
        }
        (_, ClientMessage::Leave) => Step::Stop,
        (None, ClientMessage::Join { audio, video }) => {
            let info = PeerInfo {
                id: uuid::Uuid::new_v4().simple().to_string(),
                user_id: entrant.user_id.clone(),
                name: entrant.name.clone(),
                image: entrant.image.clone(),
                audio,
                video,
                screen: false,
                hand: false,
                owner: entrant.owner,
            };
            let (out, rx) = mpsc::channel::<Outgoing>(CONNECTION_QUEUE);
            match hub
                .join(&entrant.meeting_id, info, entrant.snapshot.clone(), out)
                .await
            {
                Ok(handle) => {
                    *room = Some(handle);
                    *queue = Some(rx);
                    Step::Continue
                }
                Err(refused) => {
                    let (code, message) = match refused {
                        JoinRefused::Full => (
                            ErrorCode::RoomFull,
                            format!(
                                "This meeting is full ({} people). Try again later.",
                                hub.max_participants
                            ),
                        ),
                        JoinRefused::TooManyConnections => (
                            ErrorCode::TooManyConnections,
                            format!(
                                "You are already in this meeting in {MAX_CONNECTIONS_PER_ACCOUNT} \
                                 windows. Leave one of them to join here."
                            ),
                        ),
                        JoinRefused::Locked => (
                            ErrorCode::Locked,
                            "This meeting is locked by the host.".to_owned(),
                        ),
                        JoinRefused::Removed => (
                            ErrorCode::Removed,
                            "You were removed from the meeting.".to_owned(),
                        ),
                    };
                    writer.reply(ServerMessage::error(code, message)).await;
                    Step::Stop
                }
            }
        }
        (None, _) => {
            if writer
                .reply(ServerMessage::error(
                    ErrorCode::NotJoined,
                    "Send join first.",
                ))
                .await
            {
                Step::Continue
            } else {
                Step::Stop
            }
        }
        (Some(handle), message) => {
            if handle.send(message).await {
                Step::Continue
            } else {
                // The room is gone: the meeting ended.
                writer
                    .reply(ServerMessage::error(
                        ErrorCode::Ended,
                        "This meeting has ended.",
                    ))
                    .await;
                Step::Stop
            }
        }
    }
}

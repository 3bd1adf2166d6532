//! One participant's WebSocket: reads and checks their messages, writes what the room sends,
//! keeps the connection alive and notices when it is not.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_ws::{AggregatedMessage, CloseCode, CloseReason, Session};
use tokio::sync::mpsc;

use super::protocol::{ClientMessage, ErrorCode, PeerInfo, ServerMessage};
use super::{CONNECTION_QUEUE, Hub, JoinRefused, Outgoing, RoomHandle};

/// How often the server pings each connection.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(3);
/// A connection not heard from for this long is dropped (its peers see `peer-left`).
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(8);
/// How long a new connection may take to send `join`.
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest message accepted: a full SDP offer is a few kilobytes.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Largest frame read at all; bigger ones close the connection.
pub const MAX_FRAME_BYTES: usize = 256 * 1024;
/// Sustained messages per second per connection, and the burst allowed above it.
pub const RATE_PER_SECOND: f64 = 50.0;
pub const RATE_BURST: f64 = 200.0;
/// Messages refused for rate before the connection is closed.
const MAX_REFUSED: u32 = 1000;

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
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new() -> Self {
        Self {
            tokens: RATE_BURST,
            last: Instant::now(),
        }
    }

    fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * RATE_PER_SECOND)
            .min(RATE_BURST);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

enum Step {
    Continue,
    Stop,
}

/// Serves one participant until they leave, drop, time out, or the meeting ends.
pub async fn serve(
    hub: Arc<Hub>,
    entrant: Entrant,
    mut session: Session,
    stream: actix_ws::MessageStream,
) {
    let mut stream = stream
        .max_frame_size(MAX_FRAME_BYTES)
        .aggregate_continuations()
        .max_continuation_size(MAX_FRAME_BYTES);
    let (out_tx, mut out_rx) = mpsc::channel::<Outgoing>(CONNECTION_QUEUE);
    let mut heartbeat = tokio::time::interval(HEARTBEAT_INTERVAL);
    let mut last_heard = Instant::now();
    let mut bucket = Bucket::new();
    let mut refused = 0u32;
    let connected_at = Instant::now();
    let mut room: Option<RoomHandle> = None;

    let reason = loop {
        tokio::select! {
            frame = stream.recv() => {
                let Some(frame) = frame else { break None };
                last_heard = Instant::now();
                let text = match frame {
                    Ok(AggregatedMessage::Text(text)) => text,
                    Ok(AggregatedMessage::Binary(_)) => {
                        reply(&mut session, ServerMessage::error(ErrorCode::BadMessage, "Messages are JSON text.")).await;
                        continue;
                    }
                    Ok(AggregatedMessage::Ping(bytes)) => {
                        let _ = session.pong(&bytes).await;
                        continue;
                    }
                    Ok(AggregatedMessage::Pong(_)) => continue,
                    Ok(AggregatedMessage::Close(_)) => break None,
                    Err(e) => {
                        tracing::debug!(error = %e, "signalling connection broke");
                        break Some(CloseReason { code: CloseCode::Size, description: Some("frame too large".into()) });
                    }
                };
                if !bucket.take() {
                    refused += 1;
                    if refused >= MAX_REFUSED {
                        break Some(CloseReason { code: CloseCode::Policy, description: Some("too many messages".into()) });
                    }
                    if refused.is_power_of_two() {
                        reply(&mut session, ServerMessage::error(ErrorCode::RateLimited, "Too many messages; some were dropped.")).await;
                    }
                    continue;
                }
                if text.len() > MAX_MESSAGE_BYTES {
                    reply(&mut session, ServerMessage::error(ErrorCode::TooLarge, "That message is too large.")).await;
                    continue;
                }
                let message = match serde_json::from_str::<ClientMessage>(&text) {
                    Ok(m) => m,
                    Err(e) => {
                        reply(&mut session, ServerMessage::error(ErrorCode::BadMessage, format!("That message could not be read: {e}"))).await;
                        continue;
                    }
                };
                match handle(&hub, &entrant, &mut room, &mut session, &out_tx, message).await {
                    Step::Continue => {}
                    Step::Stop => break None,
                }
            }
            outgoing = out_rx.recv() => match outgoing {
                Some(Outgoing::Text(text)) => {
                    if session.text(text.to_string()).await.is_err() {
                        break None;
                    }
                }
                Some(Outgoing::Close) | None => break Some(CloseReason { code: CloseCode::Normal, description: None }),
            },
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > CLIENT_TIMEOUT {
                    tracing::debug!(meeting = %entrant.meeting_id, "signalling connection timed out");
                    break Some(CloseReason { code: CloseCode::Away, description: Some("timed out".into()) });
                }
                if room.is_none() && connected_at.elapsed() > JOIN_TIMEOUT {
                    break Some(CloseReason { code: CloseCode::Policy, description: Some("no join".into()) });
                }
                if session.ping(b"").await.is_err() {
                    break None;
                }
            }
        }
    };
    if let Some(room) = room {
        room.leave().await;
    }
    // Flush what the room said last (the `ended` notice) before closing.
    while let Ok(Outgoing::Text(text)) = out_rx.try_recv() {
        let _ = session.text(text.to_string()).await;
    }
    let _ = session.close(reason).await;
}

async fn reply(session: &mut Session, message: ServerMessage) {
    let _ = session.text(message.to_text()).await;
}

async fn handle(
    hub: &Arc<Hub>,
    entrant: &Entrant,
    room: &mut Option<RoomHandle>,
    session: &mut Session,
    out: &mpsc::Sender<Outgoing>,
    message: ClientMessage,
) -> Step {
    match (&room, message) {
        (_, ClientMessage::Ping) => {
            reply(session, ServerMessage::Pong).await;
            Step::Continue
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
            match hub
                .join(
                    &entrant.meeting_id,
                    info,
                    entrant.snapshot.clone(),
                    out.clone(),
                )
                .await
            {
                Ok(handle) => {
                    *room = Some(handle);
                    Step::Continue
                }
                Err(JoinRefused::Full) => {
                    let message = format!(
                        "This meeting is full ({} people). Try again later.",
                        hub.max_participants
                    );
                    reply(session, ServerMessage::error(ErrorCode::RoomFull, message)).await;
                    Step::Stop
                }
            }
        }
        (None, _) => {
            reply(
                session,
                ServerMessage::error(ErrorCode::NotJoined, "Send join first."),
            )
            .await;
            Step::Continue
        }
        (Some(handle), message) => {
            if handle.send(message).await {
                Step::Continue
            } else {
                // The room is gone: the meeting ended.
                reply(
                    session,
                    ServerMessage::error(ErrorCode::Ended, "This meeting has ended."),
                )
                .await;
                Step::Stop
            }
        }
    }
}

//! Relaying a room's socket to the instance that owns the room.
//!
//! A participant's WebSocket reached this instance, but the room lives on another. This
//! instance opens the same request to the owner (`INSTANCE_URL`, on the private network),
//! with the participant's cookies and `Origin`, so the owner checks them as it would a direct
//! connection, and passes frames both ways until either side closes. Chosen over sending the
//! browser to the owner's own public address: nothing changes for browsers (same origin, same
//! cookies, same Content-Security-Policy), the proxy needs no route per instance, and when the
//! owner dies the relayed socket closes like any other and the client's usual reconnect finds
//! the room's new home. Media does not pass here: an SFU's media goes to the owner directly.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{AggregatedMessage, CloseReason};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};
use url::Url;

/// Marks a relayed request: its receiver never relays it again (it answers 503 instead, and
/// the client tries again).
pub const RELAYED_BY: &str = "x-yoom-relayed-by";
/// How long connecting to the owner may take before it counts as unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Headers of the participant's request that the owner needs to check it as if it had come
/// directly: who they are, and the origin and host they used (so `Origin` matches the host
/// the browser saw, whatever name the owner has on the private network).
const FORWARDED: [&str; 9] = [
    "cookie",
    "authorization",
    "origin",
    "user-agent",
    "host",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
];

type Upstream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Why the owner could not take the socket.
#[derive(Debug)]
pub enum RelayError {
    /// Nothing answered: the owner is down (or on its way down).
    Unreachable(String),
    /// The owner answered the handshake with a refusal: passed on to the participant.
    Refused(HttpResponse),
}

/// Opens the participant's socket to the owner at `owner` (an `http://` instance URL).
/// `max_frame` bounds every frame either way, as the room's own connections do.
pub async fn connect(
    req: &HttpRequest,
    owner: &Url,
    meeting_id: &str,
    me: &str,
    max_frame: usize,
) -> Result<Upstream, RelayError> {
    let mut target = owner.clone();
    let scheme = if owner.scheme() == "https" {
        "wss"
    } else {
        "ws"
    };
    target
        .set_scheme(scheme)
        .map_err(|_| RelayError::Unreachable(format!("bad instance URL {owner}")))?;
    target.set_path(&format!("/meeting/{meeting_id}/signal"));
    let mut request = target
        .as_str()
        .into_client_request()
        .map_err(|e| RelayError::Unreachable(e.to_string()))?;
    for name in FORWARDED {
        let mut values = req.headers().get_all(name).peekable();
        if values.peek().is_some() {
            request.headers_mut().remove(name);
        }
        for value in values {
            if let Ok(value) = tungstenite::http::HeaderValue::from_bytes(value.as_bytes()) {
                request.headers_mut().append(name, value);
            }
        }
    }
    if let Ok(value) = tungstenite::http::HeaderValue::from_str(me) {
        request.headers_mut().insert(RELAYED_BY, value);
    }
    let config = WebSocketConfig::default()
        .max_frame_size(Some(max_frame))
        .max_message_size(Some(max_frame));
    let connecting = tokio_tungstenite::connect_async_with_config(request, Some(config), true);
    match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Err(_) => Err(RelayError::Unreachable("timed out".into())),
        Ok(Ok((upstream, _))) => Ok(upstream),
        Ok(Err(tungstenite::Error::Http(response))) => {
            let status = actix_web::http::StatusCode::from_u16(response.status().as_u16())
                .unwrap_or(actix_web::http::StatusCode::BAD_GATEWAY);
            let body = response.into_body().unwrap_or_default();
            Err(RelayError::Refused(
                HttpResponse::build(status)
                    .content_type("text/plain; charset=utf-8")
                    .body(body),
            ))
        }
        Ok(Err(e)) => Err(RelayError::Unreachable(e.to_string())),
    }
}

/// Accepts the participant's socket and passes frames between it and the owner's.
pub fn serve(
    req: &HttpRequest,
    body: web::Payload,
    upstream: Upstream,
    max_frame: usize,
) -> Result<HttpResponse, actix_web::Error> {
    let (response, session, stream) = actix_ws::handle(req, body)?;
    let stream = stream
        .max_frame_size(max_frame)
        .aggregate_continuations()
        .max_continuation_size(max_frame);
    actix_web::rt::spawn(pump(session, stream, upstream));
    Ok(response)
}

async fn pump(
    mut session: actix_ws::Session,
    mut client: actix_ws::AggregatedMessageStream,
    upstream: Upstream,
) {
    let (mut to_owner, mut from_owner) = upstream.split();
    let reason = loop {
        tokio::select! {
            frame = client.next() => {
                let message = match frame {
                    Some(Ok(AggregatedMessage::Text(text))) => Message::text(text.to_string()),
                    Some(Ok(AggregatedMessage::Binary(bytes))) => Message::binary(bytes),
                    // The browser answers the owner's pings through this socket's own pongs.
                    Some(Ok(AggregatedMessage::Ping(bytes))) => {
                        if session.pong(&bytes).await.is_err() {
                            break None;
                        }
                        continue;
                    }
                    Some(Ok(AggregatedMessage::Pong(_))) => continue,
                    Some(Ok(AggregatedMessage::Close(reason))) => {
                        let _ = to_owner.send(Message::Close(reason.map(close_frame))).await;
                        break None;
                    }
                    Some(Err(_)) | None => {
                        let _ = to_owner.send(Message::Close(None)).await;
                        break None;
                    }
                };
                if to_owner.send(message).await.is_err() {
                    break Some(CloseReason {
                        code: actix_ws::CloseCode::Again,
                        description: Some("the room's server went away".into()),
                    });
                }
            }
            frame = from_owner.next() => {
                let sent = match frame {
                    Some(Ok(Message::Text(text))) => session.text(text.as_str().to_owned()).await,
                    Some(Ok(Message::Binary(bytes))) => session.binary(bytes).await,
                    // Pings from the owner are answered by this client library itself.
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => Ok(()),
                    Some(Ok(Message::Close(frame))) => break frame.map(close_reason),
                    Some(Err(_)) | None => break Some(CloseReason {
                        code: actix_ws::CloseCode::Again,
                        description: Some("the room's server went away".into()),
                    }),
                };
                if sent.is_err() {
                    let _ = to_owner.send(Message::Close(None)).await;
                    break None;
                }
            }
        }
    };
    let _ = session.close(reason).await;
}

fn close_frame(reason: CloseReason) -> CloseFrame {
    CloseFrame {
        code: u16::from(reason.code).into(),
        reason: reason.description.unwrap_or_default().into(),
    }
}

fn close_reason(frame: CloseFrame) -> CloseReason {
    CloseReason {
        code: u16::from(frame.code).into(),
        description: Some(frame.reason.as_str().to_owned()).filter(|s| !s.is_empty()),
    }
}

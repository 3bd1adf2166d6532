//! The mesh signalling protocol, spoken by plain WebSocket clients.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use yoom::meetings::store;

use crate::helpers::{TestApp, spawn_app_with};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One participant's socket.
pub struct Peer {
    pub socket: Socket,
    pub id: String,
}

/// Opens a signalling socket; `Err(status)` when the upgrade is refused.
pub async fn open(
    address: &str,
    meeting: &str,
    cookie: &str,
    origin: Option<&str>,
) -> Result<Socket, u16> {
    let url = format!(
        "{}/meeting/{meeting}/signal",
        address.replacen("http", "ws", 1)
    );
    let mut request = url.into_client_request().unwrap();
    if !cookie.is_empty() {
        request
            .headers_mut()
            .insert("Cookie", cookie.parse().unwrap());
    }
    if let Some(o) = origin {
        request.headers_mut().insert("Origin", o.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(WsError::Http(res)) => Err(res.status().as_u16()),
        Err(e) => panic!("websocket: {e}"),
    }
}

pub async fn send(socket: &mut Socket, value: Value) {
    socket.send(Message::text(value.to_string())).await.unwrap();
}

/// The next JSON message within `wait`, or `None` (closed or nothing came).
pub async fn next(socket: &mut Socket, wait: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let frame = tokio::time::timeout_at(deadline, socket.next())
            .await
            .ok()??;
        match frame {
            Ok(Message::Text(text)) => return Some(serde_json::from_str(&text).unwrap()),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

/// The next message of a given type, skipping others.
pub async fn expect(socket: &mut Socket, kind: &str) -> Value {
    let deadline = Duration::from_secs(5);
    loop {
        let msg = next(socket, deadline)
            .await
            .unwrap_or_else(|| panic!("expected {kind}, got nothing"));
        if msg["type"] == kind {
            return msg;
        }
    }
}

impl Peer {
    /// Connects as the client's user and joins.
    pub async fn join(address: &str, meeting: &str, cookie: &str) -> Peer {
        let mut socket = open(address, meeting, cookie, Some(address))
            .await
            .expect("upgrade");
        send(
            &mut socket,
            json!({"type": "join", "audio": true, "video": true}),
        )
        .await;
        let welcome = expect(&mut socket, "welcome").await;
        Peer {
            id: welcome["you"].as_str().unwrap().to_owned(),
            socket,
        }
    }

    pub async fn send(&mut self, value: Value) {
        send(&mut self.socket, value).await;
    }

    pub async fn expect(&mut self, kind: &str) -> Value {
        expect(&mut self.socket, kind).await
    }

    /// Asserts that nothing but pongs arrives for a moment.
    pub async fn expect_silence(&mut self) {
        if let Some(msg) = next(&mut self.socket, Duration::from_millis(300)).await {
            panic!("expected nothing, got {msg}");
        }
    }
}

pub struct Room<'a> {
    pub app: &'a TestApp,
    pub meeting: String,
}

/// A server on the mesh (these tests are about relaying signalling between browsers) with a
/// signed-in host and their instant meeting.
pub async fn room_with_host(vars: &[(&str, &str)]) -> (TestApp, String) {
    let mut vars = vars.to_vec();
    vars.push(("BUILTIN_MEDIA", "mesh"));
    let app = spawn_app_with(&vars).await;
    app.signed_in_as("host").await;
    let meeting = app.start_instant("Signalling test").await;
    (app, meeting)
}

impl Room<'_> {
    pub async fn guest(&self, name: &str) -> String {
        let guest = self.app.other_client();
        guest.signed_in_as(name).await;
        guest.cookie_header()
    }
}

#[tokio::test]
async fn join_gets_a_welcome_with_the_peers_and_the_others_hear_of_it() {
    let (app, meeting) =
        room_with_host(&[("ICE_SERVERS", r#"[{"urls":"stun:stun.example.org:3478"}]"#)]).await;
    let room = Room {
        app: &app,
        meeting: meeting.clone(),
    };
    let mut socket = open(
        &app.address,
        &meeting,
        &app.cookie_header(),
        Some(&app.address),
    )
    .await
    .unwrap();
    send(
        &mut socket,
        json!({"type": "join", "audio": true, "video": false}),
    )
    .await;
    let welcome = expect(&mut socket, "welcome").await;
    assert_eq!(welcome["peers"], json!([]));
    assert_eq!(welcome["owner"], true);
    assert_eq!(welcome["maxParticipants"], 8);
    assert_eq!(
        welcome["iceServers"][0]["urls"],
        "stun:stun.example.org:3478"
    );
    let host_id = welcome["you"].as_str().unwrap().to_owned();

    let guest_cookie = room.guest("guest").await;
    let mut guest = Peer::join(&app.address, &room.meeting, &guest_cookie).await;
    let joined = expect(&mut socket, "peer-joined").await;
    assert_eq!(joined["peer"]["id"], guest.id.as_str());
    assert_eq!(joined["peer"]["name"], "guest Tester");
    assert_eq!(joined["peer"]["owner"], false);
    assert_ne!(guest.id, host_id);

    // A third sees both, with their media state.
    let third_cookie = room.guest("third").await;
    let mut third = open(&app.address, &meeting, &third_cookie, Some(&app.address))
        .await
        .unwrap();
    send(
        &mut third,
        json!({"type": "join", "audio": false, "video": false}),
    )
    .await;
    let welcome = expect(&mut third, "welcome").await;
    let peers = welcome["peers"].as_array().unwrap();
    assert_eq!(peers.len(), 2);
    let host = peers.iter().find(|p| p["id"] == host_id.as_str()).unwrap();
    assert_eq!(
        (
            host["audio"].clone(),
            host["video"].clone(),
            host["owner"].clone()
        ),
        (json!(true), json!(false), json!(true))
    );
    guest.expect("peer-joined").await;
}

#[tokio::test]
async fn offers_answers_and_candidates_reach_exactly_their_peer() {
    let (app, meeting) = room_with_host(&[]).await;
    let room = Room {
        app: &app,
        meeting: meeting.clone(),
    };
    let mut a = Peer::join(&app.address, &meeting, &app.cookie_header()).await;
    let mut b = Peer::join(&app.address, &meeting, &room.guest("bob").await).await;
    let mut c = Peer::join(&app.address, &meeting, &room.guest("carol").await).await;
    a.expect("peer-joined").await;
    a.expect("peer-joined").await;
    b.expect("peer-joined").await;

    a.send(json!({"type": "offer", "to": b.id, "sdp": "v=0 offer"}))
        .await;
    let offer = b.expect("offer").await;
    assert_eq!(
        offer,
        json!({"type": "offer", "from": a.id, "sdp": "v=0 offer"})
    );
    b.send(json!({"type": "answer", "to": a.id, "sdp": "v=0 answer"}))
        .await;
    assert_eq!(a.expect("answer").await["from"], b.id.as_str());
    let cand = json!({"candidate": "candidate:1 1 udp 1 127.0.0.1 5000 typ host", "sdpMid": "0", "sdpMLineIndex": 0});
    a.send(json!({"type": "candidate", "to": b.id, "candidate": cand}))
        .await;
    assert_eq!(b.expect("candidate").await["candidate"], cand);
    a.send(json!({"type": "candidate", "to": b.id, "candidate": null}))
        .await;
    assert_eq!(b.expect("candidate").await["candidate"], Value::Null);
    c.expect_silence().await;

    // Broadcasts: media state, reactions, hands.
    a.send(json!({"type": "media", "audio": false, "video": true, "screen": true}))
        .await;
    for p in [&mut b, &mut c] {
        assert_eq!(
            p.expect("media").await,
            json!({"type": "media", "id": a.id, "audio": false, "video": true, "screen": true})
        );
    }
    b.send(json!({"type": "reaction", "emoji": "🎉"})).await;
    for p in [&mut a, &mut b, &mut c] {
        assert_eq!(p.expect("reaction").await["emoji"], "🎉");
    }
    c.send(json!({"type": "hand", "raised": true})).await;
    assert_eq!(
        a.expect("hand").await,
        json!({"type": "hand", "id": c.id, "raised": true})
    );
}

#[tokio::test]
async fn leaving_or_closing_tells_the_others() {
    let (app, meeting) = room_with_host(&[]).await;
    let room = Room {
        app: &app,
        meeting: meeting.clone(),
    };
    let mut a = Peer::join(&app.address, &meeting, &app.cookie_header()).await;
    let b = Peer::join(&app.address, &meeting, &room.guest("bob").await).await;
    a.expect("peer-joined").await;
    let mut b = b;
    b.send(json!({"type": "leave"})).await;
    assert_eq!(a.expect("peer-left").await["id"], b.id.as_str());

    let c = Peer::join(&app.address, &meeting, &room.guest("carol").await).await;
    a.expect("peer-joined").await;
    let c_id = c.id.clone();
    drop(c); // the TCP connection closes without a goodbye
    assert_eq!(a.expect("peer-left").await["id"], c_id.as_str());
}

#[tokio::test]
async fn a_full_room_says_so_and_closes() {
    let (app, meeting) = room_with_host(&[("MESH_MAX_PARTICIPANTS", "2")]).await;
    let room = Room {
        app: &app,
        meeting: meeting.clone(),
    };
    let _a = Peer::join(&app.address, &meeting, &app.cookie_header()).await;
    let _b = Peer::join(&app.address, &meeting, &room.guest("bob").await).await;
    let mut c = open(
        &app.address,
        &meeting,
        &room.guest("carol").await,
        Some(&app.address),
    )
    .await
    .unwrap();
    send(&mut c, json!({"type": "join"})).await;
    let refused = expect(&mut c, "error").await;
    assert_eq!(refused["code"], "room_full");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("full (2 people)")
    );
    assert!(
        next(&mut c, Duration::from_secs(2)).await.is_none(),
        "closed"
    );
}

#[tokio::test]
async fn strangers_other_sites_and_closed_meetings_are_refused() {
    let (app, meeting) = room_with_host(&[]).await;
    let room = Room {
        app: &app,
        meeting: meeting.clone(),
    };
    let cookie = app.cookie_header();
    assert_eq!(
        open(&app.address, &meeting, "", Some(&app.address))
            .await
            .err(),
        Some(401)
    );
    assert_eq!(
        open(
            &app.address,
            &meeting,
            &cookie,
            Some("https://evil.example")
        )
        .await
        .err(),
        Some(403)
    );
    assert_eq!(
        open(&app.address, &meeting, &cookie, None).await.err(),
        Some(403)
    );
    let unknown = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        open(&app.address, &unknown, &cookie, Some(&app.address))
            .await
            .err(),
        Some(404)
    );
    assert_eq!(
        open(&app.address, "garbage", &cookie, Some(&app.address))
            .await
            .err(),
        Some(404)
    );

    // Not started yet: the owner may, a guest may not.
    let later = app.schedule_in(120, "Later").await;
    let guest = room.guest("early").await;
    assert_eq!(
        open(&app.address, &later, &guest, Some(&app.address))
            .await
            .err(),
        Some(403)
    );
    assert!(
        open(&app.address, &later, &cookie, Some(&app.address))
            .await
            .is_ok()
    );

    app.post_form(&format!("/meeting/{meeting}/end"), &[]).await;
    assert_eq!(
        open(&app.address, &meeting, &cookie, Some(&app.address))
            .await
            .err(),
        Some(410)
    );
}

#[tokio::test]
async fn only_the_owner_can_end_the_meeting_for_everyone() {
    let (app, meeting) = room_with_host(&[]).await;
    let room = Room {
        app: &app,
        meeting: meeting.clone(),
    };
    let mut host = Peer::join(&app.address, &meeting, &app.cookie_header()).await;
    let mut guest = Peer::join(&app.address, &meeting, &room.guest("guest").await).await;
    host.expect("peer-joined").await;

    guest.send(json!({"type": "end"})).await;
    let refused = guest.expect("error").await;
    assert_eq!(refused["code"], "forbidden");
    host.expect_silence().await;
    let db = app.db().await;
    assert!(
        store::find(&db, &meeting)
            .await
            .unwrap()
            .unwrap()
            .ended_at
            .is_none()
    );

    host.send(json!({"type": "end"})).await;
    guest.expect("ended").await;
    host.expect("ended").await;
    assert!(
        next(&mut guest.socket, Duration::from_secs(2))
            .await
            .is_none(),
        "closed"
    );
    assert!(
        store::find(&db, &meeting)
            .await
            .unwrap()
            .unwrap()
            .ended_at
            .is_some()
    );
}

#[tokio::test]
async fn ending_over_http_reaches_everyone_in_the_room() {
    let (app, meeting) = room_with_host(&[]).await;
    let room = Room {
        app: &app,
        meeting: meeting.clone(),
    };
    let mut guest = Peer::join(&app.address, &meeting, &room.guest("guest").await).await;
    let res = app
        .client
        .post(app.url(&format!("/meeting/{meeting}/end")))
        .header("Accept", "application/json")
        .header("Origin", &app.address)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    guest.expect("ended").await;
}

#[tokio::test]
async fn malformed_oversize_and_misaddressed_messages_get_errors_and_the_room_survives() {
    let (app, meeting) = room_with_host(&[]).await;
    let room = Room {
        app: &app,
        meeting: meeting.clone(),
    };
    let mut early = open(
        &app.address,
        &meeting,
        &app.cookie_header(),
        Some(&app.address),
    )
    .await
    .unwrap();
    send(
        &mut early,
        json!({"type": "offer", "to": "x", "sdp": "v=0"}),
    )
    .await;
    assert_eq!(expect(&mut early, "error").await["code"], "not_joined");
    drop(early);

    let mut a = Peer::join(&app.address, &meeting, &app.cookie_header()).await;
    let mut b = Peer::join(&app.address, &meeting, &room.guest("bob").await).await;
    a.expect("peer-joined").await;
    for (bad, code) in [
        (Message::text("not json"), "bad_message"),
        (Message::text(r#"{"type":"shout"}"#), "bad_message"),
        (Message::text(r#"{"type":"offer","to":"x"}"#), "bad_message"),
        (Message::binary(vec![1u8, 2, 3]), "bad_message"),
        (
            Message::text(json!({"type": "offer", "to": "nobody", "sdp": "v=0"}).to_string()),
            "unknown_peer",
        ),
        (
            Message::text(json!({"type": "offer", "to": a.id, "sdp": "v=0"}).to_string()),
            "unknown_peer",
        ),
        (
            Message::text(json!({"type": "reaction", "emoji": "<script>"}).to_string()),
            "bad_message",
        ),
        (
            Message::text(json!({"type": "join"}).to_string()),
            "already_joined",
        ),
        (
            Message::text(
                json!({
                    "type": "offer",
                    "to": b.id,
                    "sdp": "x".repeat(yoom::video::mesh::connection::MAX_MESSAGE_BYTES)
                })
                .to_string(),
            ),
            "too_large",
        ),
    ] {
        a.socket.send(bad).await.unwrap();
        let err = a.expect("error").await;
        assert_eq!(err["code"], code, "{err}");
    }
    b.expect_silence().await;
    // Still working.
    a.send(json!({"type": "offer", "to": b.id, "sdp": "v=0 ok"}))
        .await;
    assert_eq!(b.expect("offer").await["sdp"], "v=0 ok");
    a.send(json!({"type": "ping"})).await;
    a.expect("pong").await;
}

#[tokio::test]
async fn a_flood_is_rate_limited() {
    let (app, meeting) = room_with_host(&[]).await;
    let mut a = Peer::join(&app.address, &meeting, &app.cookie_header()).await;
    for _ in 0..400 {
        a.socket
            .send(Message::text(r#"{"type":"ping"}"#))
            .await
            .unwrap();
    }
    let err = a.expect("error").await;
    assert_eq!(err["code"], "rate_limited");
}

#[tokio::test]
async fn a_silent_participant_disappears_within_ten_seconds() {
    let (app, meeting) = room_with_host(&[]).await;
    let room = Room {
        app: &app,
        meeting: meeting.clone(),
    };
    let mut a = Peer::join(&app.address, &meeting, &app.cookie_header()).await;
    // Bob joins, then his tab freezes: the socket stays open but answers nothing.
    let bob = Peer::join(&app.address, &meeting, &room.guest("bob").await).await;
    a.expect("peer-joined").await;
    let started = std::time::Instant::now();
    // Keep Alice's side responsive (reading answers the server's pings).
    let left = loop {
        let msg = next(&mut a.socket, Duration::from_secs(12))
            .await
            .expect("peer-left in time");
        if msg["type"] == "peer-left" {
            break msg;
        }
    };
    assert_eq!(left["id"], bob.id.as_str());
    let took = started.elapsed();
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(
        took > Duration::from_secs(5),
        "not before the timeout: {took:?}"
    );
    drop(bob);
}

#[tokio::test]
async fn joining_records_attendance_and_makes_the_meeting_live() {
    let (app, meeting) = room_with_host(&[]).await;
    let guest = app.other_client();
    guest.signed_in_as("attendee").await;
    let upcoming = guest.get("/upcoming").await.text().await.unwrap();
    assert!(upcoming.contains("No Upcoming Calls"));

    let mut peer = Peer::join(&app.address, &meeting, &guest.cookie_header()).await;
    // The attendance write is asynchronous; give it a moment.
    let mut live = false;
    for _ in 0..50 {
        let html = guest.get("/upcoming").await.text().await.unwrap();
        if html.contains(&meeting) && html.contains("badge-live") {
            live = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(live, "the attendee sees the live meeting");
    peer.send(json!({"type": "leave"})).await;
    let mut moved = false;
    for _ in 0..50 {
        let html = guest.get("/previous").await.text().await.unwrap();
        if html.contains(&meeting) {
            moved = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(moved, "after everyone left, it is a previous meeting");
    let html = app.get("/previous").await.text().await.unwrap();
    assert!(
        html.contains("title=\"attendee Tester\""),
        "the host sees who attended"
    );
}

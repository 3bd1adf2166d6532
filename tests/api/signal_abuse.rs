//! The signalling socket under abuse: one account filling a room, peers that stop reading,
//! floods of frames of every kind, and oversize messages.

use std::time::Duration;

use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::signal::{Peer, Room, Socket, expect, next, open, room_with_host, send};

/// Opens a socket and sends `join`; returns the first answer (welcome or error).
async fn try_join(address: &str, meeting: &str, cookie: &str) -> (Socket, serde_json::Value) {
    let mut socket = open(address, meeting, cookie, Some(address)).await.unwrap();
    send(&mut socket, json!({"type": "join"})).await;
    let answer = next(&mut socket, Duration::from_secs(5))
        .await
        .expect("an answer to join");
    (socket, answer)
}

#[tokio::test]
async fn one_account_gets_two_places_in_a_room_however_many_sockets_it_opens() {
    let (app, meeting) = room_with_host(&[]).await;
    let room = Room {
        app: &app,
        meeting: meeting.clone(),
    };
    let mut host = Peer::join(&app.address, &meeting, &app.cookie_header()).await;
    let flooder = room.guest("flooder").await;
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..8 {
        let (socket, answer) = try_join(&app.address, &meeting, &flooder).await;
        match answer["type"].as_str() {
            Some("welcome") => held.push(socket),
            _ => {
                assert_eq!(answer["code"], "too_many_connections", "{answer}");
                assert!(answer["message"].as_str().unwrap().contains("2 windows"));
                refused += 1;
            }
        }
    }
    assert_eq!(
        held.len(),
        yoom::video::mesh::MAX_CONNECTIONS_PER_ACCOUNT,
        "the cap per account"
    );
    assert_eq!(refused, 6);
    // Everyone else still gets in.
    let mut bob = Peer::join(&app.address, &meeting, &room.guest("bob").await).await;
    bob.send(json!({"type": "hand", "raised": true})).await;
    assert_eq!(host.expect("hand").await["id"], bob.id.as_str());
}

#[tokio::test]
async fn the_last_place_is_kept_for_the_host() {
    let (app, meeting) = room_with_host(&[("MESH_MAX_PARTICIPANTS", "3")]).await;
    let room = Room {
        app: &app,
        meeting: meeting.clone(),
    };
    let _a = Peer::join(&app.address, &meeting, &room.guest("ann").await).await;
    let _b = Peer::join(&app.address, &meeting, &room.guest("ben").await).await;
    let (_c, answer) = try_join(&app.address, &meeting, &room.guest("cat").await).await;
    assert_eq!(answer["code"], "room_full", "{answer}");
    // The host still gets in, and the room is then full for everyone.
    let host = Peer::join(&app.address, &meeting, &app.cookie_header()).await;
    assert!(!host.id.is_empty());
    let (_d, answer) = try_join(&app.address, &meeting, &room.guest("dan").await).await;
    assert_eq!(answer["code"], "room_full");
}

/// People pushing data at a peer that does not read.
const SENDERS: usize = 6;

/// A participant whose TCP receive window is tiny and who never reads: what the server sends
/// them piles up after a few kilobytes.
async fn join_without_reading(address: &str, meeting: &str, cookie: &str) -> (Socket, String) {
    let port: u16 = address.rsplit(':').next().unwrap().parse().unwrap();
    let tcp = tokio::net::TcpSocket::new_v4().unwrap();
    tcp.set_recv_buffer_size(2048).unwrap();
    let stream = tcp.connect(([127, 0, 0, 1], port).into()).await.unwrap();
    let url = format!(
        "{}/meeting/{meeting}/signal",
        address.replacen("http", "ws", 1)
    );
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Cookie", cookie.parse().unwrap());
    request
        .headers_mut()
        .insert("Origin", address.parse().unwrap());
    let (mut socket, _) =
        tokio_tungstenite::client_async(request, tokio_tungstenite::MaybeTlsStream::Plain(stream))
            .await
            .unwrap();
    send(&mut socket, json!({"type": "join"})).await;
    let welcome = expect(&mut socket, "welcome").await;
    (socket, welcome["you"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_peer_that_stops_reading_is_dropped_and_the_others_are_told() {
    let (app, meeting) = room_with_host(&[]).await;
    let room = Room {
        app: &app,
        meeting: meeting.clone(),
    };
    let mut host = Peer::join(&app.address, &meeting, &app.cookie_header()).await;
    let (stuck, stuck_id) =
        join_without_reading(&app.address, &meeting, &room.guest("stuck").await).await;
    // It keeps talking (so it is not timed out for silence), it just never reads.
    let (mut stuck_tx, stuck_rx) = futures_util::StreamExt::split(stuck);
    let talker = tokio::spawn(async move {
        loop {
            let ping = Message::text(r#"{"type":"ping"}"#);
            if stuck_tx.send(ping).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    host.expect("peer-joined").await;
    // Senders push big offers at the stuck peer as fast as their byte budget allows: after a
    // few megabytes the kernel's buffers are full, then its queue, then its writes time out.
    let mut pushers = Vec::new();
    for i in 0..SENDERS {
        let mut sender = Peer::join(
            &app.address,
            &meeting,
            &room.guest(&format!("sender{i}")).await,
        )
        .await;
        let to = stuck_id.clone();
        pushers.push(tokio::spawn(async move {
            let big = "x".repeat(20_000);
            for n in 0.. {
                let offer = json!({"type": "offer", "to": to, "sdp": big});
                if sender
                    .socket
                    .send(Message::text(offer.to_string()))
                    .await
                    .is_err()
                {
                    break;
                }
                // The burst first, then the sustained rate.
                if n >= 10 {
                    tokio::time::sleep(Duration::from_millis(650)).await;
                }
            }
        }));
    }
    let started = std::time::Instant::now();
    let left = loop {
        let msg = next(&mut host.socket, Duration::from_secs(30))
            .await
            .expect("the stuck peer is dropped in time");
        if msg["type"] == "peer-left" && msg["id"] == stuck_id.as_str() {
            break msg;
        }
    };
    assert_eq!(left["id"], stuck_id.as_str());
    // A few megabytes of kernel buffers, then the queue, then a 5 s write timeout.
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "{:?}",
        started.elapsed()
    );
    eprintln!(
        "MEASURE stuck_peer_dropped_after_ms={}",
        started.elapsed().as_millis()
    );
    for p in pushers {
        p.abort();
    }
    // The room goes on for the others.
    let mut bob = Peer::join(&app.address, &meeting, &room.guest("bob").await).await;
    bob.send(json!({"type": "hand", "raised": true})).await;
    loop {
        let msg = host.expect("hand").await;
        if msg["id"] == bob.id.as_str() {
            break;
        }
    }
    talker.abort();
    drop(stuck_rx);
}

#[tokio::test]
async fn a_flood_of_ping_frames_is_charged_and_closes_the_connection() {
    let (app, meeting) = room_with_host(&[]).await;
    let room = Room {
        app: &app,
        meeting: meeting.clone(),
    };
    let mut host = Peer::join(&app.address, &meeting, &app.cookie_header()).await;
    let mut flooder = Peer::join(&app.address, &meeting, &room.guest("pinger").await).await;
    host.expect("peer-joined").await;
    // WebSocket-level pings and binary frames, which used to be answered before any charge.
    let mut sent = 0;
    for i in 0..2000 {
        let frame = if i % 2 == 0 {
            Message::Ping(vec![0u8; 16].into())
        } else {
            Message::binary(vec![1u8; 16])
        };
        if flooder.socket.send(frame).await.is_err() {
            break;
        }
        sent += 1;
    }
    assert!(sent > 0);
    let left = loop {
        let msg = next(&mut host.socket, Duration::from_secs(5))
            .await
            .expect("the flooder is closed");
        if msg["type"] == "peer-left" {
            break msg;
        }
    };
    assert_eq!(left["id"], flooder.id.as_str());
    // The room is unharmed.
    let mut bob = Peer::join(&app.address, &meeting, &room.guest("bob").await).await;
    bob.send(json!({"type": "hand", "raised": true})).await;
    assert_eq!(host.expect("hand").await["id"], bob.id.as_str());
}

#[tokio::test]
async fn bytes_per_second_are_capped_per_connection() {
    let (app, meeting) = room_with_host(&[]).await;
    let room = Room {
        app: &app,
        meeting: meeting.clone(),
    };
    let mut a = Peer::join(&app.address, &meeting, &app.cookie_header()).await;
    let mut b = Peer::join(&app.address, &meeting, &room.guest("bob").await).await;
    a.expect("peer-joined").await;
    // 40 offers of 20 KB, far under the frame rate but 800 KB at once.
    let big = "y".repeat(20_000);
    for _ in 0..40 {
        a.send(json!({"type": "offer", "to": b.id, "sdp": big}))
            .await;
    }
    assert_eq!(a.expect("error").await["code"], "rate_limited");
    let mut relayed = 0;
    while let Some(msg) = next(&mut b.socket, Duration::from_millis(500)).await {
        if msg["type"] == "offer" {
            relayed += 1;
        }
    }
    let burst = yoom::video::mesh::connection::BYTES_BURST as usize / 20_000;
    assert!(
        relayed <= burst + 2,
        "{relayed} big offers relayed; the burst allows about {burst}"
    );
}

#[tokio::test]
async fn a_frame_over_the_size_cap_closes_the_connection() {
    let (app, meeting) = room_with_host(&[]).await;
    let mut a = Peer::join(&app.address, &meeting, &app.cookie_header()).await;
    let huge = "z".repeat(yoom::video::mesh::connection::MAX_FRAME_BYTES + 1);
    let _ = a.socket.send(Message::text(huge)).await;
    assert!(
        next(&mut a.socket, Duration::from_secs(3)).await.is_none(),
        "closed"
    );
}

//! The engine against real str0m peers over loopback UDP, through the real transport.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use str0m::change::SdpAnswer;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};

use super::*;
use crate::config::SfuSettings;

fn sfu() -> Arc<Sfu> {
    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let settings = SfuSettings {
        udp_port: Some(0),
        tcp_port: None,
        public_ip: Some(loopback),
        max_participants: 10,
    };
    Sfu::start(&settings, loopback).expect("media server starts")
}

/// A browser stand-in: a peer connection that receives one audio line and, if it publishes,
/// sends a microphone's audio (an Opus frame every 20 ms, with its level).
struct Client {
    rtc: Rtc,
    socket: std::net::UdpSocket,
    local: SocketAddr,
    publishes: bool,
    /// The line it sends on, once answered.
    sends: Option<Mid>,
    connected: bool,
    frames: u64,
    last_frame: Option<Instant>,
}

impl Client {
    fn new() -> Self {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        let local = socket.local_addr().unwrap();
        let mut rtc = RtcConfig::new().build(Instant::now());
        rtc.add_local_candidate(Candidate::host(local, "udp").unwrap());
        Self {
            rtc,
            socket,
            local,
            publishes: false,
            sends: None,
            connected: false,
            frames: 0,
            last_frame: None,
        }
    }

    fn publisher() -> Self {
        Self {
            publishes: true,
            ..Self::new()
        }
    }

    /// Offers through the engine, as the page does over the signalling socket.
    fn offer(&mut self, engine: &mut RoomEngine, id: &str) {
        let mut api = self.rtc.sdp_api();
        api.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
        let sends = self
            .publishes
            .then(|| api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None));
        let (offer, pending) = api.apply().unwrap();
        let effects = engine.offer(id, &offer.to_sdp_string());
        let answer = effects
            .messages
            .into_iter()
            .find_map(|(to, m)| match m {
                ServerMessage::SfuAnswer { sdp } if to == id => Some(sdp),
                _ => None,
            })
            .expect("an answer");
        self.rtc
            .sdp_api()
            .accept_answer(pending, SdpAnswer::from_sdp_string(&answer).unwrap())
            .unwrap();
        self.sends = sends;
    }

    /// Sends what is due, reads what arrived; true once connected.
    fn turn(&mut self) -> bool {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = self.socket.recv_from(&mut buf) {
            let receive = Receive::new(Protocol::Udp, from, self.local, &buf[..n]).unwrap();
            self.rtc
                .handle_input(Input::Receive(Instant::now(), receive))
                .unwrap();
            self.drain();
        }
        self.speak();
        self.rtc
            .handle_input(Input::Timeout(Instant::now()))
            .unwrap();
        self.drain();
        self.connected
    }

    fn speak(&mut self) {
        let now = Instant::now();
        let Some(mid) = self.sends else { return };
        if !self.connected
            || self
                .last_frame
                .is_some_and(|t| now - t < Duration::from_millis(20))
        {
            return;
        }
        let Some(writer) = self.rtc.writer(mid) else {
            return;
        };
        let Some(pt) = writer.payload_params().next().map(|p| p.pt()) else {
            return;
        };
        let time = MediaTime::new(self.frames * 960, Frequency::FORTY_EIGHT_KHZ);
        writer
            .audio_level(-20, true)
            .write(pt, now, time, vec![0xf8, 0xff, 0xfe])
            .unwrap();
        self.frames += 1;
        self.last_frame = Some(now);
    }

    fn drain(&mut self) {
        loop {
            match self.rtc.poll_output().unwrap() {
                Output::Timeout(_) => return,
                Output::Transmit(t) => {
                    let _ = self.socket.send_to(&t.contents, t.destination);
                }
                Output::Event(Event::Connected) => self.connected = true,
                Output::Event(_) => {}
            }
        }
    }
}

/// Runs the engine and the clients until `done` says so (or `limit` passes).
async fn drive(
    engine: &mut RoomEngine,
    clients: &mut [&mut Client],
    limit: Duration,
    mut done: impl FnMut(&Effects, bool) -> bool,
) -> bool {
    let start = Instant::now();
    let mut connected = false;
    while start.elapsed() < limit {
        for c in clients.iter_mut() {
            connected |= c.turn();
        }
        let wake = tokio::time::timeout(Duration::from_millis(5), engine.wake()).await;
        let effects = match wake {
            Ok(w) => engine.handle(w),
            Err(_) => engine.handle(Wake::Timer),
        };
        if done(&effects, connected) {
            return true;
        }
    }
    false
}

#[tokio::test]
async fn garbled_oversized_and_uninvited_offers_are_refused_with_a_reason() {
    let mut engine = RoomEngine::new(sfu());
    engine.add_peer("a", MediaState::default());
    let refusal = |effects: Effects| match effects.messages.as_slice() {
        [(to, ServerMessage::Error { message, .. })] if to == "a" || to == "stranger" => {
            message.clone()
        }
        other => panic!("expected one refusal, got {other:?}"),
    };
    assert!(refusal(engine.offer("a", "not sdp")).contains("could not be read"));
    let mut client = Client::new();
    let mut api = client.rtc.sdp_api();
    for _ in 0..MAX_MEDIA_LINES + 1 {
        api.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
    }
    let (offer, _) = api.apply().unwrap();
    let sdp = offer.to_sdp_string();
    assert!(refusal(engine.offer("a", &sdp)).contains("media lines"));
    let mut other = Client::new();
    let mut api = other.rtc.sdp_api();
    api.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
    let (small, _) = api.apply().unwrap();
    let small = small.to_sdp_string();
    assert!(refusal(engine.offer("stranger", &small)).contains("not in this meeting"));
}

#[tokio::test]
async fn a_panic_inside_one_peer_ends_that_peer_only() {
    let sfu = sfu();
    let mut engine = RoomEngine::new(sfu.clone());
    let (mut a, mut b) = (Client::new(), Client::new());
    for (id, client) in [("a", &mut a), ("b", &mut b)] {
        engine.add_peer(id, MediaState::default());
        client.offer(&mut engine, id);
    }
    let idx = engine.by_id["a"];
    let peer = engine.peers[idx].as_mut().unwrap();
    let mut work = Work::default();
    let result: Result<(), _> = peer.mutate("handle_input", idx, &sfu.transport, &mut work, |_| {
        panic!("a bug inside the WebRTC stack")
    });
    assert!(result.is_err() && peer.broken);
    // The other peer still connects and is served.
    let served = drive(
        &mut engine,
        &mut [&mut b],
        Duration::from_secs(10),
        |_, c| c,
    )
    .await;
    assert!(served, "b connected after a's panic");
    let other = engine.peers[engine.by_id["b"]].as_ref().unwrap();
    assert!(other.connected && !other.broken);
}

/// A room with a publisher "a" (its microphone on) and a subscriber "b", both offered.
fn two_peers() -> (RoomEngine, Client, Client) {
    let mut engine = RoomEngine::new(sfu());
    let (mut a, mut b) = (Client::publisher(), Client::new());
    let speaking = MediaState {
        audio: true,
        ..MediaState::default()
    };
    engine.add_peer("a", speaking);
    engine.add_peer("b", MediaState::default());
    a.offer(&mut engine, "a");
    b.offer(&mut engine, "b");
    (engine, a, b)
}

fn peer<'e>(engine: &'e mut RoomEngine, id: &str) -> &'e mut Peer {
    let idx = engine.by_id[id];
    engine.peers[idx].as_mut().unwrap()
}

/// Runs the room until `lost` is reported gone; then `kept` must be unharmed.
async fn ends_only(
    engine: &mut RoomEngine,
    (lost, lost_client): (&str, &mut Client),
    (kept, kept_client): (&str, &mut Client),
) {
    let limit = Duration::from_secs(10);
    let clients = &mut [&mut *lost_client, &mut *kept_client];
    let gone = drive(engine, clients, limit, |effects, _| {
        effects.gone.iter().any(|g| g == lost)
    })
    .await;
    assert!(gone, "{lost} was not reported gone");
    assert!(peer(engine, lost).broken);
    unharmed(engine, (kept, kept_client)).await;
}

/// Runs the room on until `kept` has connected and is served: the engine (and the test) did
/// not panic, and its state is whole.
async fn unharmed(engine: &mut RoomEngine, (kept, client): (&str, &mut Client)) {
    let limit = Duration::from_secs(10);
    let connected = drive(engine, &mut [&mut *client], limit, |_, c| c).await;
    assert!(connected, "{kept} connected");
    let settle = Duration::from_millis(300);
    drive(engine, &mut [client], settle, |_, _| false).await;
    let other = peer(engine, kept);
    assert!(other.connected && !other.broken, "{kept} unharmed");
}

#[tokio::test]
async fn a_panic_while_a_packet_is_checked_ends_that_peer_only() {
    let (mut engine, mut a, mut b) = two_peers();
    peer(&mut engine, "a").panic_in = Some("accepts");
    ends_only(&mut engine, ("a", &mut a), ("b", &mut b)).await;
}

#[tokio::test]
async fn a_panic_while_a_publishers_stream_is_looked_up_ends_that_publisher_only() {
    let (mut engine, mut a, mut b) = two_peers();
    peer(&mut engine, "a").panic_in = Some("stream_rx");
    ends_only(&mut engine, ("a", &mut a), ("b", &mut b)).await;
    assert!(a.frames > 0, "a sent audio");
}

#[tokio::test]
async fn a_panic_while_a_subscribers_payload_type_is_looked_up_ends_that_subscriber_only() {
    let (mut engine, mut a, mut b) = two_peers();
    peer(&mut engine, "b").panic_in = Some("codec_config");
    ends_only(&mut engine, ("b", &mut b), ("a", &mut a)).await;
}

#[tokio::test]
async fn a_panic_while_an_offer_is_answered_refuses_it_and_ends_that_peer_only() {
    let mut engine = RoomEngine::new(sfu());
    let (mut a, mut b) = (Client::new(), Client::new());
    engine.add_peer("a", MediaState::default());
    engine.add_peer("b", MediaState::default());
    b.offer(&mut engine, "b");
    peer(&mut engine, "a").panic_in = Some("accept_offer");
    let mut api = a.rtc.sdp_api();
    api.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
    let (offer, _) = api.apply().unwrap();
    let effects = engine.offer("a", &offer.to_sdp_string());
    assert!(
        matches!(effects.messages.as_slice(), [(to, ServerMessage::Error { .. })] if to == "a"),
        "refused: {:?}",
        effects.messages
    );
    assert_eq!(effects.gone, vec!["a".to_owned()]);
    assert!(peer(&mut engine, "a").broken);
    unharmed(&mut engine, ("b", &mut b)).await;
}

#[tokio::test]
async fn a_peer_that_goes_silent_is_reported_gone_within_ten_seconds() {
    let mut engine = RoomEngine::new(sfu());
    let mut client = Client::new();
    engine.add_peer("a", MediaState::default());
    client.offer(&mut engine, "a");
    let connected = drive(
        &mut engine,
        &mut [&mut client],
        Duration::from_secs(10),
        |_, c| c,
    )
    .await;
    assert!(connected);
    let wait = Duration::from_millis(500);
    drive(&mut engine, &mut [&mut client], wait, |_, _| false).await;
    // The browser vanishes: no more packets at all.
    drop(client);
    let silent = Instant::now();
    let gone = drive(
        &mut engine,
        &mut [],
        Duration::from_secs(10),
        |effects, _| effects.gone.iter().any(|g| g == "a"),
    )
    .await;
    assert!(gone, "still not gone after 10 s");
    assert!(silent.elapsed() >= PEER_SILENCE_TIMEOUT - TICK);
}

#[tokio::test]
async fn subscribers_joining_together_cost_one_keyframe_request_per_layer_and_window() {
    let mut engine = RoomEngine::new(sfu());
    let camera = MediaState {
        video: true,
        ..MediaState::default()
    };
    engine.add_peer("p", camera);
    Client::new().offer(&mut engine, "p");
    peer(&mut engine, "p").connected = true;
    let layer = (Mid::from("1"), Some(str0m::media::Rid::from("q")));
    let key = (engine.by_id["p"], layer.0, layer.1);
    // Five subscribers whose slot shows that layer connect at once.
    let subscribers: Vec<String> = (0..5).map(|i| format!("s{i}")).collect();
    for id in &subscribers {
        engine.add_peer(id, MediaState::default());
        let mut slot = peer::OutSlot {
            mid: Mid::from("2"),
            slot: forward::Slot::new(90_000),
            shown: None,
        };
        slot.slot.set_target(Some(key));
        peer(&mut engine, id).video_slots.push(slot);
    }
    for (n, id) in subscribers.iter().enumerate() {
        let idx = engine.by_id[id];
        engine.on_event(idx, Event::Connected);
        let requests = peer(&mut engine, "p").keyframe_requests;
        assert_eq!(requests, 1, "after {} connected", n + 1);
    }
    // The one held back is owed, and the engine wakes to send it when the window opens.
    let sent = peer(&mut engine, "p").keyframe_asked[&layer].sent;
    let opens = sent + KEYFRAME_REQUEST_INTERVAL;
    assert_eq!(peer(&mut engine, "p").keyframe_due(), Some(opens));
    engine.next_tick = opens + TICK;
    peer(&mut engine, "p").next_timeout = None;
    assert_eq!(engine.deadline(), opens, "no other timer");
    engine.send_owed_keyframes(opens - Duration::from_millis(1));
    assert_eq!(peer(&mut engine, "p").keyframe_requests, 1, "not before");
    engine.send_owed_keyframes(opens);
    assert_eq!(peer(&mut engine, "p").keyframe_requests, 2);
    // Then nothing is owed.
    assert_eq!(peer(&mut engine, "p").keyframe_due(), None);
    engine.send_owed_keyframes(opens + KEYFRAME_REQUEST_INTERVAL * 2);
    assert_eq!(peer(&mut engine, "p").keyframe_requests, 2);
}

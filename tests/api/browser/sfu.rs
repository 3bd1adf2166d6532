//! Calls through the built-in media server (the SFU) between headless Chromiums with fake
//! cameras and microphones: one connection per browser, to the server's own address, and
//! every other participant's video decoded and audio arriving.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::call::{
    inbound, join, media_browser, start_instant_meeting, tile_attr, wait_remote_tiles, wait_state,
    wait_tile_attr,
};
use super::sign_up;
use super::webdriver::{Browser, BrowserOptions};
use crate::helpers::{TestApp, spawn_app_with};

/// Counts the page's peer connections from its very first script on.
const COUNT_CONNECTIONS: &str = r#"
(() => {
  const Original = window.RTCPeerConnection;
  if (!Original) return;
  window.__connections = [];
  window.RTCPeerConnection = function (...args) {
    const pc = new Original(...args);
    window.__connections.push(pc);
    return pc;
  };
  window.RTCPeerConnection.prototype = Original.prototype;
  Object.setPrototypeOf(window.RTCPeerConnection, Original);
})();
"#;

/// A media browser that also lets pages share a (fake) screen without asking.
fn sfu_browser() -> BrowserOptions {
    let mut options = media_browser();
    options
        .extra_args
        .push("--auto-select-desktop-capture-source=Entire screen".into());
    options
}

pub(super) async fn start_browsers(n: usize) -> Vec<Browser> {
    let browsers = Browser::start_many((0..n).map(|_| sfu_browser()).collect()).await;
    for b in &browsers {
        b.on_every_page(COUNT_CONNECTIONS).await;
    }
    browsers
}

/// A free UDP port for the media server, so the test knows where media must go.
fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Per remote participant (by name): frames its tile has shown, the tile's video width, the
/// width of the frames received for it, and audio packets received for it; and the page's
/// peer connection count.
const PER_PERSON: &str = r#"
const done = arguments[arguments.length - 1];
(async () => {
  const a = window.yoomCall?.adapter;
  if (!a || !a.pc) return done(null);
  const people = {};
  const nameOf = (id) => a.peers.get(id)?.info.name ?? id;
  for (const [id, peer] of a.peers) {
    const tile = document.querySelector(`.tile[data-peer-id="${id}"]`);
    const video = tile?.querySelector('video');
    people[peer.info.name] = {
      frames: video?.getVideoPlaybackQuality?.().totalVideoFrames ?? 0,
      width: video?.videoWidth ?? 0,
      received_width: 0,
      audio: 0,
      spotlit: !!tile?.classList.contains('spotlit'),
      // Why a tile shows nothing, for failure messages.
      fed: !!video?.srcObject,
      paused: video?.paused ?? null,
      ready: video?.readyState ?? null,
      slots: [...a.slots.entries()].filter(([, s]) => s.peer === id).map(([m, s]) => m + ':' + s.kind + ':' + s.transceiver.receiver.track.muted),
    };
  }
  const stats = await a.pc.getStats();
  stats.forEach((s) => {
    if (s.type !== 'inbound-rtp') return;
    const peer = a.slots.get(s.mid)?.peer;
    const p = peer && people[nameOf(peer)];
    if (!p) return;
    if (s.kind === 'video') p.received_width = Math.max(p.received_width, s.frameWidth || 0);
    if (s.kind === 'audio') p.audio += s.packetsReceived || 0;
  });
  const all = window.__connections ?? [];
  done({ people, created: all.length, open: all.filter((pc) => pc.connectionState !== 'closed').length });
})().catch((e) => done('ERROR ' + e));
"#;

#[derive(Debug, Clone, Default)]
struct Person {
    frames: u64,
    width: u64,
    received_width: u64,
    audio: u64,
    spotlit: bool,
    /// The tile's state, read only by failure messages (through `Debug`).
    #[allow(dead_code)]
    detail: String,
}

/// What a page receives, and its peer connections (created since the page loaded, open now).
async fn per_person(browser: &Browser) -> (HashMap<String, Person>, (i64, i64)) {
    let v = browser.execute_async(PER_PERSON, vec![]).await;
    let n = |p: &Value, k: &str| p[k].as_u64().unwrap_or(0);
    let people = v["people"]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(name, p)| {
                    let person = Person {
                        frames: n(p, "frames"),
                        width: n(p, "width"),
                        received_width: n(p, "received_width"),
                        audio: n(p, "audio"),
                        spotlit: p["spotlit"].as_bool().unwrap_or(false),
                        detail: format!(
                            "fed {} paused {} ready {} slots {}",
                            p["fed"], p["paused"], p["ready"], p["slots"]
                        ),
                    };
                    (name.clone(), person)
                })
                .collect()
        })
        .unwrap_or_default();
    let count = |k: &str| v[k].as_i64().unwrap_or(-1);
    (people, (count("created"), count("open")))
}

/// Waits until `who` sees every one of `others` with video playing (frames rising, a size)
/// and their audio arriving (packets rising), over exactly one peer connection.
pub(super) async fn assert_sees_and_hears(browser: &Browser, who: &str, others: &[&str]) {
    let start = Instant::now();
    let mut before: Option<HashMap<String, Person>> = None;
    loop {
        let (people, connections) = per_person(browser).await;
        let ready = others.iter().all(|name| {
            people
                .get(*name)
                .is_some_and(|p| p.frames > 0 && p.width > 0 && p.audio > 0)
        });
        if ready {
            if let Some(earlier) = &before {
                let rising = others.iter().all(|name| {
                    let (now, then) = (&people[*name], &earlier[*name]);
                    now.frames > then.frames && now.audio > then.audio
                });
                if rising {
                    assert_eq!(connections.1, 1, "{who}: one open peer connection");
                    return;
                }
            }
            before = Some(people.clone());
            tokio::time::sleep(Duration::from_millis(700)).await;
            continue;
        }
        if start.elapsed() > Duration::from_secs(30) {
            panic!(
                "{who}: not everyone seen and heard after 30 s: {people:?}; console: {}",
                browser.console().await
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The remote end of the page's selected ICE candidate pair: [address, port, protocol].
const SELECTED_REMOTE: &str = r#"
const done = arguments[arguments.length - 1];
(async () => {
  const stats = await window.yoomCall.adapter.pc.getStats();
  let pair = null;
  stats.forEach((s) => { if (s.type === 'transport' && s.selectedCandidatePairId) pair = s.selectedCandidatePairId; });
  const chosen = pair && stats.get(pair);
  const remote = chosen && stats.get(chosen.remoteCandidateId);
  done(remote ? [remote.address, remote.port, remote.protocol] : null);
})().catch((e) => done('ERROR ' + e));
"#;

pub(super) async fn selected_remote(browser: &Browser) -> Value {
    browser.execute_async(SELECTED_REMOTE, vec![]).await
}

async fn sign_up_all(browsers: &[Browser], app: &TestApp, names: &[(&str, &str)]) {
    for (b, (user, name)) in browsers.iter().zip(names) {
        sign_up(b, app, user, name).await;
    }
}

#[tokio::test]
async fn two_then_four_people_each_send_once_to_the_server_and_see_and_hear_everyone() {
    let udp = free_udp_port();
    let app = spawn_app_with(&[("MEDIA_UDP_PORT", &udp.to_string())]).await;
    let browsers = start_browsers(4).await;
    let [host, guest, third, fourth] = &browsers[..] else {
        unreachable!()
    };
    let names = [
        ("sfu_host", "Sal Host"),
        ("sfu_guest", "Gwen Guest"),
        ("sfu_third", "Tao Third"),
        ("sfu_fourth", "Fay Fourth"),
    ];
    sign_up_all(&browsers, &app, &names).await;
    let meeting = start_instant_meeting(host, &app).await;
    host.click_css("#join-button").await;
    wait_state(host, "joined").await;

    let clicked = join(guest, &app, &meeting, false).await;
    // Join click to the first remote frame decoded (see README, Benchmarks).
    loop {
        let (frames, _, _) = inbound(guest).await;
        if frames > 0 {
            break;
        }
        assert!(
            clicked.elapsed() < Duration::from_secs(25),
            "no first frame"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "MEASURE sfu_join_to_first_remote_frame_ms={}",
        clicked.elapsed().as_millis()
    );
    // Where the time went, in ms since the page loaded.
    let steps = guest
        .execute(
            "const t = { ...window.yoomCall.adapter.timings, now: performance.now() };
             for (const r of performance.getEntriesByType('resource')) {
               if (/(sfu|mesh|room-adapter|room-socket)[.]js/.test(r.name)) t[r.name.split('/').pop().split('?')[0]] = [Math.round(r.startTime), Math.round(r.responseEnd)];
             }
             return JSON.stringify(t);",
            vec![],
        )
        .await;
    eprintln!("sfu join steps: {steps}");
    assert_sees_and_hears(guest, "guest", &["Sal Host"]).await;
    assert_sees_and_hears(host, "host", &["Gwen Guest"]).await;
    for (b, who) in [(host, "host"), (guest, "guest")] {
        let (_, (created, _)) = per_person(b).await;
        assert_eq!(created, 1, "{who} made one peer connection in all");
        let remote = selected_remote(b).await;
        assert_eq!(
            remote,
            serde_json::json!(["127.0.0.1", udp, "udp"]),
            "{who}'s media goes to the server's own address"
        );
    }

    join(third, &app, &meeting, false).await;
    join(fourth, &app, &meeting, false).await;
    let everyone = ["Sal Host", "Gwen Guest", "Tao Third", "Fay Fourth"];
    for (b, me) in [
        (host, "Sal Host"),
        (guest, "Gwen Guest"),
        (third, "Tao Third"),
        (fourth, "Fay Fourth"),
    ] {
        wait_remote_tiles(b, 3).await;
        let others: Vec<&str> = everyone.iter().copied().filter(|n| *n != me).collect();
        assert_sees_and_hears(b, me, &others).await;
    }
    fourth.snapshot("sfu-four").await;

    // Camera off: the others see it, and the server stops forwarding it (the tile's video is
    // no longer fed).
    host.click_css("#toggle-camera").await;
    for b in [guest, third, fourth] {
        wait_tile_attr(b, "Sal Host", "data-video", "off").await;
    }
    let unfed = "const t = [...document.querySelectorAll('.tile')].find((t) => t.querySelector('.tile-name')?.textContent.includes('Sal Host'));
         return !!t && !t.querySelector('video').srcObject;";
    let start = Instant::now();
    while guest.execute(unfed, vec![]).await != true {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the host's video is still forwarded with the camera off"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Back on: forwarded again.
    host.click_css("#toggle-camera").await;
    assert_sees_and_hears(guest, "guest", &["Sal Host"]).await;

    // Leaving shows on the others.
    fourth.click_css("#leave-button").await;
    fourth.wait_for_path(|p| p == "/").await;
    for b in [host, guest, third] {
        wait_remote_tiles(b, 2).await;
    }
    assert_eq!(
        tile_attr(host, "Fay Fourth", "data-peer-id").await,
        "missing"
    );
    for b in browsers {
        b.quit().await;
    }
}

/// Waits until `check` holds for what `viewer` receives, or fails with what it saw.
async fn wait_people(
    viewer: &Browser,
    what: &str,
    check: impl Fn(&HashMap<String, Person>) -> bool,
) -> HashMap<String, Person> {
    let start = Instant::now();
    loop {
        let (people, _) = per_person(viewer).await;
        if check(&people) {
            return people;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{what} not seen in 30 s: {people:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn the_spotlight_gets_a_bigger_layer_than_thumbnails_and_a_shared_screen_takes_it() {
    let app = spawn_app_with(&[]).await;
    let browsers = start_browsers(3).await;
    let [host, guest, viewer] = &browsers[..] else {
        unreachable!()
    };
    sign_up_all(
        &browsers,
        &app,
        &[
            ("layer_host", "Lea Host"),
            ("layer_guest", "Gil Guest"),
            ("layer_viewer", "Vic Viewer"),
        ],
    )
    .await;
    let meeting = start_instant_meeting(host, &app).await;
    host.click_css("#join-button").await;
    wait_state(host, "joined").await;
    join(guest, &app, &meeting, false).await;
    join(viewer, &app, &meeting, false).await;
    wait_remote_tiles(viewer, 2).await;

    // Speaker layout: one spotlight, one thumbnail; the spotlight's frames are wider.
    let people = wait_people(viewer, "a wider spotlight than thumbnail", |p| {
        let spot = p.values().find(|x| x.spotlit);
        let thumb = p.values().find(|x| !x.spotlit);
        matches!((spot, thumb), (Some(s), Some(t)) if t.received_width > 0 && s.received_width > t.received_width)
    })
    .await;
    let thumbnail = people
        .iter()
        .find(|(_, p)| !p.spotlit)
        .map(|(name, p)| (name.clone(), p.received_width))
        .unwrap();
    eprintln!("layers: {people:?}");
    viewer.snapshot("sfu-spotlight").await;

    // The thumbnail shares a screen: it takes the spotlight, and its layer grows.
    let sharer = if thumbnail.0 == "Lea Host" {
        host
    } else {
        guest
    };
    sharer.click_css("#toggle-screen").await;
    let after = wait_people(
        viewer,
        "the sharer in the spotlight with a bigger layer",
        |p| {
            p.get(&thumbnail.0)
                .is_some_and(|x| x.spotlit && x.received_width > thumbnail.1)
        },
    )
    .await;
    eprintln!("after sharing: {after:?}");
    viewer.snapshot("sfu-screen-share").await;
    for b in browsers {
        b.quit().await;
    }
}

#[tokio::test]
async fn with_udp_turned_off_the_call_connects_over_tcp() {
    let tcp = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = spawn_app_with(&[
        ("MEDIA_UDP_PORT", "off"),
        ("MEDIA_TCP_PORT", &tcp.to_string()),
    ])
    .await;
    let browsers = start_browsers(2).await;
    let [host, guest] = &browsers[..] else {
        unreachable!()
    };
    sign_up_all(
        &browsers,
        &app,
        &[("tcp_host", "Tess Host"), ("tcp_guest", "Ted Guest")],
    )
    .await;
    let meeting = start_instant_meeting(host, &app).await;
    host.click_css("#join-button").await;
    wait_state(host, "joined").await;
    join(guest, &app, &meeting, false).await;
    assert_sees_and_hears(guest, "guest", &["Tess Host"]).await;
    assert_sees_and_hears(host, "host", &["Ted Guest"]).await;
    for b in [host, guest] {
        assert_eq!(
            selected_remote(b).await,
            serde_json::json!(["127.0.0.1", tcp, "tcp"])
        );
    }

    // The stats panel reads the one connection: the server link, then each participant.
    guest.click_css("#toggle-stats").await;
    let rows = "return [...document.querySelectorAll('#stats-body tr')].map((tr) => [...tr.children].map((c) => c.textContent));";
    let start = Instant::now();
    loop {
        let table = guest.execute(rows, vec![]).await;
        let server_rtt = table[0][1].as_str().is_some_and(|rtt| rtt != "—");
        let host_row = table
            .as_array()
            .into_iter()
            .flatten()
            .find(|row| row[0] == "Tess Host");
        let sized = host_row.is_some_and(|row| row[4].as_str().is_some_and(|r| r.contains('×')));
        if table[0][0] == "Media server" && server_rtt && sized {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "stats rows: {table}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    for b in browsers {
        b.quit().await;
    }
}

#[tokio::test]
async fn a_participant_whose_browser_is_killed_is_gone_for_the_others_within_ten_seconds() {
    let app = spawn_app_with(&[]).await;
    let mut browsers = start_browsers(3).await;
    sign_up_all(
        &browsers,
        &app,
        &[
            ("kill_host", "Kim Host"),
            ("kill_guest", "Kai Guest"),
            ("kill_victim", "Vera Victim"),
        ],
    )
    .await;
    let meeting = start_instant_meeting(&browsers[0], &app).await;
    browsers[0].click_css("#join-button").await;
    wait_state(&browsers[0], "joined").await;
    join(&browsers[1], &app, &meeting, false).await;
    join(&browsers[2], &app, &meeting, false).await;
    assert_sees_and_hears(&browsers[0], "host", &["Kai Guest", "Vera Victim"]).await;

    let victim = browsers.pop().unwrap();
    let killed = Instant::now();
    victim.kill().await;
    for b in &browsers {
        wait_remote_tiles(b, 1).await;
    }
    let gone = killed.elapsed();
    eprintln!("MEASURE sfu_killed_browser_gone_ms={}", gone.as_millis());
    assert!(gone < Duration::from_secs(10), "gone after {gone:?}");
    assert_sees_and_hears(&browsers[0], "host", &["Kai Guest"]).await;
    for b in browsers {
        b.quit().await;
    }
}

#[tokio::test]
async fn after_a_server_restart_everyone_rejoins_the_media_server_without_reloading() {
    let app = spawn_app_with(&[]).await;
    let browsers = start_browsers(2).await;
    let [host, guest] = &browsers[..] else {
        unreachable!()
    };
    sign_up_all(
        &browsers,
        &app,
        &[("again_host", "Ada Host"), ("again_guest", "Abe Guest")],
    )
    .await;
    let meeting = start_instant_meeting(host, &app).await;
    host.click_css("#join-button").await;
    wait_state(host, "joined").await;
    join(guest, &app, &meeting, false).await;
    assert_sees_and_hears(guest, "guest", &["Ada Host"]).await;

    // A changed network: the page restarts ICE and stays in the call, on new credentials
    // the server answered with, over a new candidate pair that the server answers.
    let ice = r#"
const done = arguments[arguments.length - 1];
(async () => {
  const a = window.yoomCall.adapter;
  const ufrag = (d) => d?.sdp.match(/a=ice-ufrag:(\S+)/)?.[1] ?? null;
  const stats = await a.pc.getStats();
  let pair = null;
  stats.forEach((s) => { if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId); });
  done({ id: a.selfId, remote: ufrag(a.pc.remoteDescription), pair: pair?.id ?? null,
         answered: pair?.responsesReceived ?? 0, state: a.pc.connectionState });
})().catch((e) => done('ERROR ' + e));
"#;
    let first = guest.execute_async(ice, vec![]).await;
    guest
        .execute("window.yoomCall.adapter.restartIce(); return 1", vec![])
        .await;
    let start = Instant::now();
    loop {
        let now = guest.execute_async(ice, vec![]).await;
        if now["remote"] != first["remote"]
            && now["pair"] != first["pair"]
            && now["answered"].as_u64() > Some(0)
            && now["state"] == "connected"
        {
            assert_eq!(now["id"], first["id"], "still the same participant");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "no ICE restart: before {first}, now {now}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_sees_and_hears(guest, "guest", &["Ada Host"]).await;

    let mut before = Vec::new();
    for b in [host, guest] {
        before.push(
            b.execute(
                "window.__sameDocument = true; return window.yoomCall.adapter.selfId",
                vec![],
            )
            .await,
        );
    }

    app.server.stop(false).await;
    let port = app.port.to_string();
    let dir = app.data_dir.path().display().to_string();
    let _again =
        spawn_app_with(&[("PORT", &port), ("DATA_DIR", &dir), ("MEDIA_TCP_PORT", "0")]).await;

    for ((b, who, other), old_id) in [(host, "host", "Abe Guest"), (guest, "guest", "Ada Host")]
        .into_iter()
        .zip(before)
    {
        let start = Instant::now();
        while b
            .execute("return window.yoomCall.adapter.selfId", vec![])
            .await
            == old_id
        {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{who} never rejoined"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        wait_state(b, "joined").await;
        assert_sees_and_hears(b, who, &[other]).await;
        let same = b
            .execute("return window.__sameDocument === true", vec![])
            .await;
        assert_eq!(same, true, "{who} reconnected without a reload");
    }
    for b in browsers {
        b.quit().await;
    }
}

//! Real calls between headless Chromiums with fake cameras and microphones: frames must be
//! decoded on the other side, not just "connected". The calls here run on the mesh (browsers
//! send to each other); `sfu.rs` has the same on the built-in media server.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::sign_up;
use super::webdriver::{Browser, BrowserOptions};
use crate::helpers::{TestApp, spawn_app_with};

/// A server whose meetings run on the mesh.
async fn spawn_mesh_app() -> TestApp {
    spawn_app_with(&[("BUILTIN_MEDIA", "mesh")]).await
}

pub fn media_browser() -> BrowserOptions {
    BrowserOptions {
        fake_media: true,
        // Host candidates under their real addresses: the machine has no mDNS responder.
        extra_args: vec!["--disable-features=WebRtcHideLocalIpsWithMdns".into()],
        ..Default::default()
    }
}

/// Inbound RTP totals over every peer connection: [video frames decoded, audio packets
/// received, remote tiles whose video has a size].
const INBOUND: &str = r#"
const done = arguments[arguments.length - 1];
(async () => {
  const call = window.yoomCall;
  if (!call) return done(null);
  let frames = 0, audio = 0;
  for (const pc of call.adapter.peerConnections().values()) {
    const stats = await pc.getStats();
    stats.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') frames += s.framesDecoded || 0;
      if (s.type === 'inbound-rtp' && s.kind === 'audio') audio += s.packetsReceived || 0;
    });
  }
  const sized = [...document.querySelectorAll('.tile:not(.local) video')].filter((v) => v.videoWidth > 0).length;
  done([frames, audio, sized]);
})().catch((e) => done('ERROR ' + e));
"#;

pub async fn inbound(browser: &Browser) -> (u64, u64, u64) {
    let v = browser.execute_async(INBOUND, vec![]).await;
    let n = |i: usize| v.get(i).and_then(Value::as_u64).unwrap_or(0);
    (n(0), n(1), n(2))
}

/// Waits until `count` remote tiles show decoded video and frames keep coming.
pub async fn assert_receiving(browser: &Browser, count: u64, who: &str) {
    let start = Instant::now();
    loop {
        let (frames, audio, sized) = inbound(browser).await;
        if sized >= count && frames > 0 && audio > 0 {
            tokio::time::sleep(Duration::from_millis(1000)).await;
            let (frames2, audio2, _) = inbound(browser).await;
            assert!(frames2 > frames, "{who}: frames stopped at {frames}");
            assert!(audio2 > audio, "{who}: audio stopped at {audio}");
            return;
        }
        if start.elapsed() > Duration::from_secs(25) {
            let console = browser.console().await;
            panic!(
                "{who}: no media after 25 s (frames {frames}, audio packets {audio}, sized tiles {sized}); console: {console}"
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn call_state(browser: &Browser) -> String {
    browser
        .execute("return document.body.dataset.callState || ''", vec![])
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

pub async fn wait_state(browser: &Browser, state: &str) {
    let start = Instant::now();
    while call_state(browser).await != state {
        if start.elapsed() > Duration::from_secs(15) {
            let console = browser.console().await;
            panic!(
                "call never reached {state} (is {}); console: {console}",
                call_state(browser).await
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Opens the meeting and joins from the setup screen; returns when joined.
pub async fn join(browser: &Browser, app: &TestApp, meeting: &str, muted: bool) -> Instant {
    browser.goto(&app.url(&format!("/meeting/{meeting}"))).await;
    browser.wait("#setup #join-button").await;
    if muted {
        browser.click_css("#join-muted").await;
    }
    let clicked = Instant::now();
    browser.click_css("#join-button").await;
    wait_state(browser, "joined").await;
    clicked
}

/// Starts an instant meeting from Home, like a user; returns its ID on the setup screen.
pub async fn start_instant_meeting(browser: &Browser, app: &TestApp) -> String {
    browser.goto(&app.url("/")).await;
    browser.click_css("#card-new").await;
    browser.wait("dialog#modal[open]").await;
    browser.click_css("dialog#modal button[type=submit]").await;
    let path = browser.wait_for_path(|p| p.starts_with("/meeting/")).await;
    browser.wait("#setup #join-button").await;
    path.trim_start_matches("/meeting/").to_owned()
}

pub async fn remote_tiles(browser: &Browser) -> u64 {
    browser
        .execute(
            "return document.querySelectorAll('.tile:not(.local)').length",
            vec![],
        )
        .await
        .as_u64()
        .unwrap_or(0)
}

pub async fn wait_remote_tiles(browser: &Browser, n: u64) {
    let start = Instant::now();
    while remote_tiles(browser).await != n {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "expected {n} remote tiles, have {}",
            remote_tiles(browser).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn tile_attr(browser: &Browser, user_name: &str, attr: &str) -> String {
    browser
        .execute(
            "const t = [...document.querySelectorAll('.tile')].find((t) => t.querySelector('.tile-name')?.textContent.includes(arguments[0]));
             return t ? (t.getAttribute(arguments[1]) || '') : 'missing';",
            vec![user_name.into(), attr.into()],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

pub async fn wait_tile_attr(browser: &Browser, user_name: &str, attr: &str, value: &str) {
    let start = Instant::now();
    loop {
        let got = tile_attr(browser, user_name, attr).await;
        if got == value {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{user_name}'s tile {attr} is {got:?}, wanted {value:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn two_then_three_people_see_and_hear_each_other_and_the_host_ends_it() {
    let app = spawn_mesh_app().await;
    let browsers =
        Browser::start_many(vec![media_browser(), media_browser(), media_browser()]).await;
    let [host, guest, third] = &browsers[..] else {
        unreachable!()
    };
    sign_up(host, &app, "call_host", "Hana Host").await;
    sign_up(guest, &app, "call_guest", "Gus Guest").await;
    sign_up(third, &app, "call_third", "Theo Third").await;
    let meeting = start_instant_meeting(host, &app).await;
    // The setup screen previews the camera and meters the microphone.
    let preview = host
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const v = document.querySelector('#preview');
             const t0 = Date.now();
             (function poll() { if (v.videoWidth > 0 || Date.now() - t0 > 8000) done(v.videoWidth); else setTimeout(poll, 100); })();",
            vec![],
        )
        .await;
    assert!(
        preview.as_u64().unwrap_or(0) > 0,
        "camera preview: {preview}"
    );
    host.snapshot("setup").await;
    host.click_css("#join-button").await;
    wait_state(host, "joined").await;

    let clicked = join(guest, &app, &meeting, false).await;
    // Time from clicking Join to the first remote frame decoded.
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
    let first_frame = clicked.elapsed();
    eprintln!(
        "MEASURE join_to_first_remote_frame_ms={}",
        first_frame.as_millis()
    );
    assert_receiving(guest, 1, "guest").await;
    assert_receiving(host, 1, "host").await;
    host.snapshot("call-two").await;

    join(third, &app, &meeting, false).await;
    for (b, who) in [(host, "host"), (guest, "guest"), (third, "third")] {
        wait_remote_tiles(b, 2).await;
        assert_receiving(b, 2, who).await;
    }
    third.snapshot("call-three").await;

    // Muting the camera shows on the other side.
    host.click_css("#toggle-camera").await;
    wait_tile_attr(guest, "Hana Host", "data-video", "off").await;
    host.click_css("#toggle-mic").await;
    wait_tile_attr(third, "Hana Host", "data-audio", "off").await;

    // Leaving removes the tile, and stops the leaver's devices.
    third.click_css("#leave-button").await;
    third.wait_for_path(|p| p == "/").await;
    wait_remote_tiles(host, 1).await;
    wait_remote_tiles(guest, 1).await;

    // The owner ends the call; the guest sees the notice.
    let end_visible = guest
        .execute(
            "return !!document.querySelector('#end-for-everyone')",
            vec![],
        )
        .await;
    assert_eq!(end_visible, false, "only the host has the end button");
    host.click_css("#end-for-everyone").await;
    // The click opens a confirm(); the next command to that browser accepts it.
    host.execute("return 1", vec![]).await;
    guest.wait("#ended").await;
    guest
        .wait_for_text("The call has been ended by the host")
        .await;
    wait_state(guest, "ended").await;
    for b in browsers {
        b.quit().await;
    }
}

#[tokio::test]
async fn joining_with_mic_and_camera_off_sends_no_media_but_still_receives() {
    let app = spawn_mesh_app().await;
    let browsers = Browser::start_many(vec![media_browser(), media_browser()]).await;
    let [host, quiet] = &browsers[..] else {
        unreachable!()
    };
    sign_up(host, &app, "loud_host", "Lou Host").await;
    sign_up(quiet, &app, "quiet_guest", "Quinn Quiet").await;
    let meeting = start_instant_meeting(host, &app).await;
    host.click_css("#join-button").await;
    wait_state(host, "joined").await;

    join(quiet, &app, &meeting, true).await;
    assert_receiving(quiet, 1, "quiet guest").await;
    wait_tile_attr(host, "Quinn Quiet", "data-video", "off").await;
    wait_tile_attr(host, "Quinn Quiet", "data-audio", "off").await;
    // Nothing is sent: no live local track, no RTP out.
    let sent = quiet
        .execute_async(
            "const done = arguments[arguments.length - 1];
             (async () => {
               let bytes = 0;
               for (const pc of window.yoomCall.adapter.peerConnections().values()) {
                 (await pc.getStats()).forEach((s) => { if (s.type === 'outbound-rtp') bytes += s.bytesSent || 0; });
               }
               const local = window.yoomCall.localStream();
               const live = local ? local.getTracks().filter((t) => t.readyState === 'live').length : 0;
               done([bytes, live]);
             })();",
            vec![],
        )
        .await;
    assert_eq!(
        sent,
        serde_json::json!([0, 0]),
        "bytes sent and live local tracks"
    );
    let (frames, _, _) = inbound(host).await;
    assert_eq!(frames, 0, "the host decodes no video from the quiet guest");
    for b in browsers {
        b.quit().await;
    }
}

#[tokio::test]
async fn after_a_server_restart_everyone_rejoins_without_reloading() {
    let app = spawn_mesh_app().await;
    let browsers = Browser::start_many(vec![media_browser(), media_browser()]).await;
    let [host, guest] = &browsers[..] else {
        unreachable!()
    };
    sign_up(host, &app, "restart_host", "Rhea Host").await;
    sign_up(guest, &app, "restart_guest", "Rory Guest").await;
    let meeting = start_instant_meeting(host, &app).await;
    host.click_css("#join-button").await;
    wait_state(host, "joined").await;
    join(guest, &app, &meeting, false).await;
    assert_receiving(guest, 1, "guest").await;
    // A mark that a page reload would wipe, and each side's peer id (a rejoin gets a new one).
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
    let _again = app
        .respawn(&[("PORT", &port), ("BUILTIN_MEDIA", "mesh")])
        .await;

    for ((b, who), old_id) in [(host, "host"), (guest, "guest")].into_iter().zip(before) {
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
        wait_remote_tiles(b, 1).await;
        assert_receiving(b, 1, who).await;
        let same = b
            .execute("return window.__sameDocument === true", vec![])
            .await;
        assert_eq!(same, true, "{who} reconnected without a reload");
    }
    for b in browsers {
        b.quit().await;
    }
}

/// Both sides of a pair renegotiate at the same moment, with signalling slowed so their offers
/// cross ("glare"): perfect negotiation settles it (the polite side rolls back), and both keep
/// decoding each other's video.
#[tokio::test]
async fn offers_that_cross_are_settled_and_media_keeps_flowing() {
    let app = spawn_mesh_app().await;
    let browsers = Browser::start_many(vec![media_browser(), media_browser()]).await;
    let [host, guest] = &browsers[..] else {
        unreachable!()
    };
    sign_up(host, &app, "glare_host", "Gail Host").await;
    sign_up(guest, &app, "glare_guest", "Glen Guest").await;
    let meeting = start_instant_meeting(host, &app).await;
    host.click_css("#join-button").await;
    wait_state(host, "joined").await;
    join(guest, &app, &meeting, false).await;
    assert_receiving(host, 1, "host").await;
    assert_receiving(guest, 1, "guest").await;

    // Every signalling message now takes 400 ms each way, so two offers made within that time
    // are both in flight when the other arrives.
    let latency = Duration::from_millis(400);
    tokio::join!(host.set_latency(latency), guest.set_latency(latency));
    let renegotiate = "const p = [...window.yoomCall.adapter.peers.values()][0];
         p.pc.addTransceiver('audio', { direction: 'recvonly' });
         return window.yoomCall.adapter.collisions;";
    let (before_host, before_guest) = tokio::join!(
        host.execute(renegotiate, vec![]),
        guest.execute(renegotiate, vec![])
    );
    assert_eq!((before_host, before_guest), (json!(0), json!(0)));

    // Settled: both stable, with the new transceiver on each side, and the crossing was seen.
    let settled = "const a = window.yoomCall.adapter;
         const p = [...a.peers.values()][0];
         return { state: p.pc.signalingState, transceivers: p.pc.getTransceivers().length,
                  collisions: a.collisions };";
    let start = Instant::now();
    loop {
        let (h, g) = tokio::join!(
            host.execute(settled, vec![]),
            guest.execute(settled, vec![])
        );
        let done = [&h, &g].iter().all(|s| s["state"] == "stable")
            && h["transceivers"] == g["transceivers"]
            && h["transceivers"].as_u64() >= Some(4);
        if done {
            let crossed = h["collisions"].as_u64().unwrap() + g["collisions"].as_u64().unwrap();
            eprintln!("glare: host {h}, guest {g}");
            assert!(crossed >= 1, "the offers did not cross: {h} {g}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "not settled: host {h}, guest {g}; console: {}",
            host.console().await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::join!(host.clear_latency(), guest.clear_latency());
    assert_receiving(host, 1, "host").await;
    assert_receiving(guest, 1, "guest").await;
    for b in browsers {
        b.quit().await;
    }
}

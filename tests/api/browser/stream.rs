//! The Stream meeting page in headless Chromium, with `STREAM_BASE_URL` pointing at a local
//! mock that accepts the coordinator WebSocket and then says nothing, like a video service
//! that cannot be reached.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::sign_up;
use super::webdriver::{Browser, BrowserOptions};
use crate::helpers::spawn_app_with;
use crate::stream_mock::{API_KEY, MockStream, Reply};

async fn call_state(browser: &Browser) -> String {
    browser
        .execute("return document.body.dataset.callState || ''", vec![])
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn the_stream_page_loads_the_bundle_from_our_origin_and_offers_a_retry_when_stream_is_unreachable()
 {
    let mock = MockStream::start().await;
    let vars = mock.vars();
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app_with(&vars).await;
    let browser = Browser::start(BrowserOptions {
        fake_media: true,
        ..Default::default()
    })
    .await;
    sign_up(&browser, &app, "stream_sam", "Sam Stream").await;

    // Start an instant meeting from Home: the server creates its call on the mock.
    browser.goto(&app.url("/")).await;
    browser.click_css("#card-new").await;
    browser.wait("dialog#modal[open]").await;
    browser.click_css("dialog#modal button[type=submit]").await;
    let path = browser.wait_for_path(|p| p.starts_with("/meeting/")).await;
    let meeting = path.trim_start_matches("/meeting/").to_owned();
    assert_eq!(
        mock.requests_to(&format!("/api/v2/video/call/default/{meeting}"))
            .len(),
        1
    );
    browser.wait("#setup #join-button").await;
    let adapter = browser
        .execute(
            "return document.getElementById('meeting-room').dataset.adapter",
            vec![],
        )
        .await;
    assert_eq!(adapter, "stream");

    let clicked = Instant::now();
    browser.click_css("#join-button").await;

    // The page says it cannot reach the video service, with a retry, instead of spinning.
    loop {
        if call_state(&browser).await == "error" {
            break;
        }
        if clicked.elapsed() > Duration::from_secs(30) {
            let console = browser.console().await;
            panic!(
                "still {} after 30 s; console: {console}",
                call_state(&browser).await
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let waited = clicked.elapsed();
    assert!(waited < Duration::from_secs(20), "gave up after {waited:?}");
    browser.wait("#call-error").await;
    browser
        .wait_for_text("Cannot reach the video service")
        .await;
    browser.wait("#retry-button").await;
    browser.snapshot("stream-unreachable").await;

    // The bundle came from our own origin, and the token was fetched once.
    let resources = browser
        .execute(
            "return performance.getEntriesByType('resource').map((e) => e.name)",
            vec![],
        )
        .await;
    let names: Vec<String> = resources
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    let bundle = format!(
        "{}/static/vendor/stream/stream-video-client.js?v=",
        app.address
    );
    assert!(
        names.iter().any(|n| n.starts_with(&bundle)),
        "bundle not loaded from {bundle}: {names:?}"
    );
    let tokens = names
        .iter()
        .filter(|n| n.starts_with(&app.url("/api/token?meeting=")))
        .count();
    assert_eq!(tokens, 1, "{names:?}");
    assert!(
        !names
            .iter()
            .any(|n| n.contains("cdn") || n.contains("unpkg")),
        "{names:?}"
    );

    // The client connected to the configured coordinator with our API key, as this user,
    // with the token from /api/token.
    let connects = mock.requests_to("/video/connect");
    assert!(
        !connects.is_empty(),
        "no coordinator connection: {:?}",
        mock.requests()
    );
    assert!(
        connects[0]
            .query
            .split('&')
            .any(|p| p == format!("api_key={API_KEY}")),
        "{}",
        connects[0].query
    );
    let auth: Value =
        serde_json::from_str(mock.ws_messages().first().expect("an auth message")).unwrap();
    let user = &auth["user_details"];
    assert_eq!(user["name"], "Sam Stream");
    let user_id = user["id"].as_str().unwrap();
    let token = auth["token"].as_str().unwrap();
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["user_id"], user_id);
    let me = browser
        .execute(
            "return document.getElementById('meeting-room').dataset.userId",
            vec![],
        )
        .await;
    assert_eq!(me, user_id);

    // Nothing the page needed was blocked by the CSP.
    let console = browser.console().await.to_string();
    assert!(
        !console.contains("Content Security Policy") && !console.contains("Refused to"),
        "{console}"
    );

    // Retry goes back to the setup screen, ready to join again.
    browser.click_css("#retry-button").await;
    browser.wait("#setup #join-button").await;
    assert_eq!(call_state(&browser).await, "setup");
    browser.quit().await;
}

#[tokio::test]
async fn a_call_stream_refuses_to_join_says_so_after_asking_for_the_right_call_with_the_users_token()
 {
    let mock = MockStream::start().await;
    mock.accept_connections();
    mock.script(
        "/join",
        vec![Reply::status(
            403,
            json!({ "code": 17, "message": "User 'x' is not allowed to join this call",
                    "StatusCode": 403, "duration": "0.1ms", "unrecoverable": true }),
        )],
    );
    let vars = mock.vars();
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app_with(&vars).await;
    let browser = Browser::start(BrowserOptions {
        fake_media: true,
        ..Default::default()
    })
    .await;
    sign_up(&browser, &app, "stream_rita", "Rita Refused").await;
    browser.goto(&app.url("/")).await;
    browser.click_css("#card-new").await;
    browser.wait("dialog#modal[open]").await;
    browser.click_css("dialog#modal button[type=submit]").await;
    let path = browser.wait_for_path(|p| p.starts_with("/meeting/")).await;
    let meeting = path.trim_start_matches("/meeting/").to_owned();
    browser.wait("#setup #join-button").await;
    browser.click_css("#join-button").await;

    let start = Instant::now();
    while call_state(&browser).await != "error" {
        if start.elapsed() > Duration::from_secs(20) {
            let console = browser.console().await;
            panic!(
                "still {} after 20 s; requests {:?}; console: {console}",
                call_state(&browser).await,
                mock.requests()
                    .iter()
                    .map(|r| r.path.clone())
                    .collect::<Vec<_>>()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    browser.wait_for_text("Could not join the meeting").await;
    browser
        .wait_for_text("The video service refused to let you join: User 'x' is not allowed")
        .await;
    browser.wait("#retry-button").await;

    // The client asked Stream's coordinator to join call default:{meeting}, creating it if
    // needed, with the user token from /api/token and our API key.
    let joins = mock.requests_to(&format!("/video/call/default/{meeting}/join"));
    assert_eq!(joins.len(), 1, "an unrecoverable refusal is not retried");
    let join = &joins[0];
    assert_eq!(join.method, "POST");
    assert!(
        join.query
            .split('&')
            .any(|p| p == format!("api_key={API_KEY}")),
        "{}",
        join.query
    );
    assert_eq!(join.header("stream-auth-type"), Some("jwt"));
    let auth: Value = serde_json::from_str(&mock.ws_messages()[0]).unwrap();
    assert_eq!(join.header("authorization"), auth["token"].as_str());
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(auth["token"].as_str().unwrap().split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["user_id"], auth["user_details"]["id"]);
    assert_eq!(join.json()["create"], true);
    let tokens = browser
        .execute(
            "return performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/token?meeting=')).length",
            vec![],
        )
        .await;
    assert_eq!(tokens, 1);
    browser.quit().await;
}

/// The record control's cloud-recording logic (static/js/meeting/cloud.js) in the browser,
/// against our server in Stream mode: it starts and stops Stream's recording through the
/// server, waits for the call state, gives up waiting after its time, and shows the server's
/// refusal to someone who may not record. (A whole Stream call needs Stream's SFU, which the
/// closed network here does not have.)
#[tokio::test]
async fn the_record_control_starts_and_stops_streams_recording_through_the_server() {
    let mock = MockStream::start().await;
    let vars = mock.vars();
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app_with(&vars).await;
    let mut browsers = Browser::start_many(vec![BrowserOptions::default(); 2]).await;
    let guest = browsers.pop().unwrap();
    let host = browsers.pop().unwrap();
    sign_up(&host, &app, "cloud_cleo", "Cleo Cloud").await;
    sign_up(&guest, &app, "cloud_gus", "Gus Guest").await;
    host.goto(&app.url("/")).await;
    host.click_css("#card-new").await;
    host.wait("dialog#modal[open]").await;
    host.click_css("dialog#modal button[type=submit]").await;
    let path = host.wait_for_path(|p| p.starts_with("/meeting/")).await;
    let meeting = path.trim_start_matches("/meeting/").to_owned();
    host.wait("#setup #join-button").await;

    let script = r#"
        const [meetingId, done] = arguments;
        (async () => {
          const { CloudRecording } = await import("/static/js/meeting/cloud.js");
          const c = new CloudRecording({ meetingId, confirmMs: 300 });
          const log = [];
          c.addEventListener("change", () => log.push(c.state));
          c.addEventListener("timeout", (e) => log.push(`timeout:${e.detail.stopping}`));
          await c.toggle(false);
          const asked = [c.state, c.mine, c.controlState(false, true)];
          const confirmed = c.settle(true);
          const running = [c.state, c.controlState(true, true), c.controlState(true, false)];
          await c.toggle(true);
          const stopping = c.controlState(true, true);
          const stopped = [c.settle(false), c.state, c.mine];
          await c.toggle(false);
          await new Promise((r) => setTimeout(r, 600));
          const gaveUp = [c.state, c.mine];
          done({ asked, confirmed, running, stopping, stopped, gaveUp, log });
        })().catch((e) => done({ error: String(e) }));
    "#;
    let result = host.execute_async(script, vec![json!(meeting)]).await;
    assert_eq!(
        result,
        json!({
            "asked": ["starting", true, "starting"],
            "confirmed": null,
            "running": ["idle", "recording", "idle"],
            "stopping": "stopping",
            "stopped": ["stopped", "idle", false],
            "gaveUp": ["idle", false],
            "log": ["starting", "idle", "stopping", "idle", "starting", "idle", "timeout:false"]
        }),
        "{result}"
    );
    assert_eq!(mock.requests_to("/recordings/composite/start").len(), 2);
    assert_eq!(mock.requests_to("/recordings/composite/stop").len(), 1);

    // Someone the host has not allowed: the server's answer is what they read, and the control
    // goes back to idle.
    guest.goto(&app.url(&format!("/meeting/{meeting}"))).await;
    guest.wait("#setup #join-button").await;
    let script = r#"
        const [meetingId, done] = arguments;
        (async () => {
          const { CloudRecording } = await import("/static/js/meeting/cloud.js");
          const c = new CloudRecording({ meetingId });
          try {
            await c.toggle(false);
            done({ error: "started" });
          } catch (e) {
            done({ message: e.message, state: c.state, mine: c.mine });
          }
        })();
    "#;
    let result = guest.execute_async(script, vec![json!(meeting)]).await;
    assert_eq!(result["state"], "idle", "{result}");
    assert_eq!(result["mine"], false);
    assert!(
        result["message"]
            .as_str()
            .unwrap_or_default()
            .contains("host"),
        "{result}"
    );
    assert_eq!(mock.requests_to("/recordings/composite/start").len(), 2);
    host.quit().await;
    guest.quit().await;
}

// ---- stream.js against a stand-in for the SDK's call ------------------------------------------
//
// A whole Stream call needs Stream's SFU, which the closed network here does not have. These
// tests put an adapter from stream.js "in a call" whose state and events the test drives,
// with the enums of the real vendored bundle, on a Stream meeting page of our server.

/// Prepended to the scripts below: `stubCall(createdBy)`, a stand-in for the SDK's `Call`
/// (observables with a current value, events by name, the methods stream.js calls), and
/// `joined(self, call)`, an adapter in that call as after `join()`, with a log of the
/// "ended", "error" and "connection" events it sent room.js.
const STUB_CALL: &str = r#"
    const subject = (value) => {
      const subs = new Set();
      return {
        get value() { return value; },
        subscribe(fn) {
          const s = { fn };
          subs.add(s);
          fn(value);
          return { unsubscribe: () => subs.delete(s) };
        },
        next(v) {
          value = v;
          for (const s of [...subs]) s.fn(v);
        },
      };
    };
    const stubCall = (createdBy) => {
      const handlers = new Map();
      const callingState$ = subject("joined");
      const participants$ = subject([]);
      const state = {
        callingState$, participants$,
        callStatsReport$: subject(undefined), recording$: subject(false), ownCapabilities$: subject([]),
        get callingState() { return callingState$.value; },
        get participants() { return participants$.value; },
        endedAt: undefined, blockedUserIds: [], createdBy: { id: createdBy }, ownCapabilities: [],
        localParticipant: { sessionId: "my-session" },
      };
      return {
        state,
        leaves: 0,
        on(type, fn) {
          if (!handlers.has(type)) handlers.set(type, new Set());
          handlers.get(type).add(fn);
          return () => handlers.get(type).delete(fn);
        },
        fire(type, e) {
          for (const fn of [...(handlers.get(type) ?? [])]) fn(e);
        },
        async leave() {
          this.leaves++;
          if (callingState$.value === "left") throw new Error("Cannot leave call that has already been left.");
        },
        bindAudioElement: () => () => {},
        bindVideoElement: () => () => {},
        sendCustomEvent: async () => {},
        sendReaction: async () => {},
        publish: async () => {},
        stopPublish: async () => {},
      };
    };
    const joined = async (self, call) => {
      const root = document.getElementById("meeting-room");
      const sdk = await import(root.dataset.streamBundle);
      const { StreamAdapter } = await import("/static/js/meeting/stream.js");
      const a = new StreamAdapter({ meetingId: root.dataset.meetingId, self });
      const log = [];
      for (const type of ["ended", "error", "connection"]) {
        a.addEventListener(type, (e) => log.push({ type, ...e.detail }));
      }
      a.sdk = sdk;
      a.call = call;
      a.client = { disconnectUser: async () => {} };
      a.phase = "joined";
      a.listen();
      return { a, sdk, log };
    };
    const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
"#;

/// Signs up, starts an instant meeting from Home and waits on its setup screen (Stream mode,
/// with the mock).
async fn on_a_stream_meeting_page(browser: &Browser, app: &crate::helpers::TestApp) {
    sign_up(browser, app, "stub_stella", "Stella Stub").await;
    browser.goto(&app.url("/")).await;
    browser.click_css("#card-new").await;
    browser.wait("dialog#modal[open]").await;
    browser.click_css("dialog#modal button[type=submit]").await;
    browser.wait_for_path(|p| p.starts_with("/meeting/")).await;
    browser.wait("#setup #join-button").await;
}

async fn run_against_a_stub_call(body: &str) -> Value {
    let mock = MockStream::start().await;
    let vars = mock.vars();
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app_with(&vars).await;
    let browser = Browser::start(BrowserOptions::default()).await;
    on_a_stream_meeting_page(&browser, &app).await;
    let script = format!(
        "const done = arguments[arguments.length - 1];\n{STUB_CALL}\n(async () => {{\n{body}\n}})()\
         .catch((e) => done({{ error: String((e && e.stack) || e) }}));"
    );
    let result = browser.execute_async(&script, vec![]).await;
    browser.quit().await;
    result
}

/// Stream leaves a call by itself (CallingState.LEFT, never through RECONNECTING_FAILED) when
/// the call is ended, when I am removed or blocked, and when reconnecting gives up: the page
/// says which, instead of staying "joined" with no media.
#[tokio::test]
async fn when_stream_leaves_the_call_by_itself_the_page_says_ended_removed_or_lost() {
    let result = run_against_a_stub_call(
        r#"
        const me = { id: "me-id", name: "Me" };
        const out = {};
        const left = async (call, sdk) => {
          call.state.callingState$.next(sdk.CallingState.LEFT);
          await tick();
        };
        {
          // Ended by the host: the SFU says callEnded (ENDED); the SDK marks the call ended,
          // then leaves.
          const call = stubCall("host-id");
          const { a, sdk, log } = await joined(me, call);
          call.fire("callEnded", { reason: sdk.SfuModels.CallEndedReason.ENDED });
          call.state.endedAt = new Date();
          await left(call, sdk);
          out.ended = { log, phase: a.phase };
        }
        {
          // Kicked: the SFU says callEnded (KICKED); the SDK marks the call ended here too.
          const call = stubCall("host-id");
          const { a, sdk, log } = await joined(me, call);
          call.fire("callEnded", { reason: sdk.SfuModels.CallEndedReason.KICKED });
          call.state.endedAt = new Date();
          await left(call, sdk);
          out.kicked = { log, phase: a.phase };
        }
        {
          // Kicked, as the coordinator tells it.
          const call = stubCall("host-id");
          const { sdk, log } = await joined(me, call);
          call.fire("call.kicked_user", { type: "call.kicked_user", user: { id: "me-id" } });
          await left(call, sdk);
          out.kickedUser = log;
        }
        {
          // Blocked: the SDK adds me to the blocked users, then leaves.
          const call = stubCall("host-id");
          const { sdk, log } = await joined(me, call);
          call.fire("call.blocked_user", { type: "call.blocked_user", user: { id: "me-id" } });
          call.state.blockedUserIds = ["me-id"];
          await left(call, sdk);
          out.blocked = log;
        }
        {
          // Someone else is removed; then reconnecting gives up and the SDK leaves.
          const call = stubCall("host-id");
          const { a, sdk, log } = await joined(me, call);
          call.fire("call.kicked_user", { type: "call.kicked_user", user: { id: "other-id" } });
          call.fire("call.blocked_user", { type: "call.blocked_user", user: { id: "other-id" } });
          call.state.callingState$.next(sdk.CallingState.RECONNECTING);
          await left(call, sdk);
          out.gaveUp = { log, phase: a.phase };
        }
        {
          // Leaving on purpose says nothing more.
          const call = stubCall("host-id");
          const { a, sdk, log } = await joined(me, call);
          a.leave();
          await left(call, sdk);
          out.onPurpose = { log, leaves: call.leaves };
        }
        done(out);
        "#,
    )
    .await;
    let removed = json!({ "type": "error", "code": "removed",
                          "message": "You were removed from the meeting." });
    assert_eq!(
        result,
        json!({
            "ended": { "log": [{ "type": "ended" }], "phase": "closed" },
            "kicked": { "log": [removed], "phase": "closed" },
            "kickedUser": [removed],
            "blocked": [removed],
            "gaveUp": {
                "log": [
                    { "type": "connection", "state": "reconnecting" },
                    { "type": "error", "code": "connection_lost",
                      "message": "Lost the connection to the video service." }
                ],
                "phase": "closed"
            },
            "onPurpose": { "log": [], "leaves": 1 }
        }),
        "{result}"
    );
}

/// The SDK's video stats (publisherStats, subscriberStats) leave audio out: someone with
/// only a microphone still sees what they send and receive.
#[tokio::test]
async fn the_stats_rows_count_audio_as_well_as_video() {
    let result = run_against_a_stub_call(
        r#"
        const call = stubCall("host-id");
        const { a } = await joined({ id: "me-id", name: "Me" }, call);
        const video = (o) => ({ totalBytesSent: 0, totalBytesReceived: 0, averageJitterInMs: 0,
          averageRoundTripTimeInMs: 0, qualityLimitationReasons: "none", highestFrameWidth: 0,
          highestFrameHeight: 0, highestFramesPerSecond: 0, codec: "", codecPerTrackType: {},
          timestamp: 0, rawReport: { streams: [], timestamp: 0 }, ...o });
        const audio = (o) => ({ totalBytesSent: 0, totalBytesReceived: 0, averageJitterInMs: 0,
          averageRoundTripTimeInMs: 0, codec: "", codecPerTrackType: {}, timestamp: 0,
          totalConcealedSamples: 0, totalConcealmentEvents: 0, totalPacketsReceived: 0,
          totalPacketsLost: 0, ...o });
        const report = (timestamp, o) => ({ datacenter: "ams", participants: {}, timestamp,
          publisherStats: video({}), subscriberStats: video({}),
          publisherAudioStats: audio({}), subscriberAudioStats: audio({}), ...o });
        const stats = call.state.callStatsReport$;
        // Two seconds of audio only.
        stats.next(report(1000, {
          publisherAudioStats: audio({ totalBytesSent: 1000, averageRoundTripTimeInMs: 42 }),
          subscriberAudioStats: audio({ totalBytesReceived: 2000, averageRoundTripTimeInMs: 40,
            totalPacketsReceived: 90, totalPacketsLost: 10 }),
        }));
        stats.next(report(3000, {
          publisherAudioStats: audio({ totalBytesSent: 9000, averageRoundTripTimeInMs: 42 }),
          subscriberAudioStats: audio({ totalBytesReceived: 18000, averageRoundTripTimeInMs: 40,
            totalPacketsReceived: 90, totalPacketsLost: 10 }),
        }));
        const audioOnly = a.statsRows();
        // Then two seconds of audio and video.
        stats.next(report(5000, {
          publisherStats: video({ totalBytesSent: 20000, averageRoundTripTimeInMs: 30,
            highestFrameWidth: 1280, highestFrameHeight: 720 }),
          publisherAudioStats: audio({ totalBytesSent: 17000, averageRoundTripTimeInMs: 31 }),
          subscriberStats: video({ totalBytesReceived: 40000, averageRoundTripTimeInMs: 29,
            highestFrameWidth: 640, highestFrameHeight: 360 }),
          subscriberAudioStats: audio({ totalBytesReceived: 34000, averageRoundTripTimeInMs: 28,
            totalPacketsReceived: 190, totalPacketsLost: 10 }),
        }));
        done({ audioOnly, both: a.statsRows() });
        "#,
    )
    .await;
    assert_eq!(
        result,
        json!({
            "audioOnly": [
                { "name": "Sending to Stream (ams)", "rtt": 42, "up": 32, "down": null,
                  "resolution": null, "loss": null },
                { "name": "Receiving from Stream (ams)", "rtt": 40, "up": null, "down": 64,
                  "resolution": null, "loss": 10 }
            ],
            // Up: (20000 video + 8000 more audio bytes) in 2 s; down: 40000 + 16000.
            "both": [
                { "name": "Sending to Stream (ams)", "rtt": 30, "up": 112, "down": null,
                  "resolution": "1280×720", "loss": null },
                { "name": "Receiving from Stream (ams)", "rtt": 29, "up": null, "down": 224,
                  "resolution": "640×360", "loss": 5 }
            ]
        }),
        "{result}"
    );
}

/// The host is whoever our server names in data-host-id, not whoever Stream says created the
/// call: their tile is marked as the host's, and only their word on who may record counts.
#[tokio::test]
async fn the_host_is_the_one_our_server_names_not_the_calls_creator() {
    let result = run_against_a_stub_call(
        r#"
        const root = document.getElementById("meeting-room");
        const hostId = root.dataset.hostId;
        const call = stubCall("creator-id");
        const { a } = await joined({ id: "guest-id", name: "Guest" }, call);
        const people = [];
        a.addEventListener("participant-joined", (e) => people.push(e.detail.participant));
        const permissions = [];
        a.addEventListener("recording-permission", (e) => permissions.push(e.detail.allowed));
        call.state.participants$.next([
          { sessionId: "s-host", userId: hostId, name: "Host", publishedTracks: [] },
          { sessionId: "s-creator", userId: "creator-id", name: "Creator", publishedTracks: [] },
        ]);
        call.fire("custom", { custom: { type: "yoom.recording-permission", allowed: false },
                              user: { id: "creator-id" } });
        call.fire("custom", { custom: { type: "yoom.recording-permission", allowed: true },
                              user: { id: hostId } });
        done({
          hostIsMe: !!hostId && hostId === root.dataset.userId,
          ownerId: a.ownerId() === hostId,
          owners: people.map((p) => [p.name, p.owner]),
          permissions,
        });
        "#,
    )
    .await;
    assert_eq!(
        result,
        json!({
            "hostIsMe": true,
            "ownerId": true,
            "owners": [["Host", true], ["Creator", false]],
            "permissions": [true]
        }),
        "{result}"
    );
}

/// Raised hands and the host's requests come through the meeting room in Stream mode too, as
/// the same events as on the mesh: a hand raised before I came, lowered later; my own hand
/// lowered by the host; the host asking me to mute.
#[tokio::test]
async fn raised_hands_and_the_hosts_requests_come_through_the_room_as_on_the_mesh() {
    let result = run_against_a_stub_call(
        r#"
        const call = stubCall("host-id");
        const { a } = await joined({ id: "me-id", name: "Me" }, call);
        const seen = [];
        for (const type of ["participant-joined", "participant-updated", "hand-lowered", "muted", "room-state"]) {
          a.addEventListener(type, (e) => seen.push([type, e.detail.participant
            ? [e.detail.participant.name, e.detail.participant.hand] : e.detail]));
        }
        // What the room's socket does on its welcome: my peer id, then the adapter hears it.
        a.room.you = "room-me";
        a.room.welcomed = true;
        a.roomWelcome({ type: "welcome", you: "room-me", owner: false, locked: true,
          waitingRoom: false, chat: [], maxParticipants: 8,
          peers: [{ id: "room-ann", userId: "ann-id", name: "Ann", hand: true }] }, false);
        call.state.participants$.next([
          { sessionId: "s-ann", userId: "ann-id", name: "Ann", publishedTracks: [] },
        ]);
        a.roomMessage({ type: "hand", id: "room-ann", raised: false });
        a.state.hand = true;
        a.roomMessage({ type: "hand", id: "room-me", raised: false });
        a.roomMessage({ type: "muted", by: "Host" });
        done({ seen, myHand: a.state.hand, annFor: a.peerOf("ann-id") });
        "#,
    )
    .await;
    assert_eq!(
        result,
        json!({
            "seen": [
                ["room-state", { "locked": true, "waitingRoom": false }],
                ["participant-joined", ["Ann", true]],
                ["participant-updated", ["Ann", false]],
                ["hand-lowered", {}],
                ["muted", { "by": "Host" }]
            ],
            "myHand": false,
            "annFor": "room-ann"
        }),
        "{result}"
    );
}

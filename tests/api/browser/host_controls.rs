//! The host in charge, in headless Chromium with fake cameras: the waiting room (a guest sees
//! and decodes nothing of the call until let in), the chat (kept, so a late joiner reads it),
//! muting, lowering hands, removing (and no way back until allowed), the lock; and in Stream
//! mode, no call token for someone still waiting.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::call::{assert_receiving, join, media_browser, start_instant_meeting, wait_state};
use super::sign_up;
use super::webdriver::{Browser, BrowserOptions};
use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use crate::stream_mock::MockStream;

const ENTER: &str = "\u{E007}";
const SHIFT: &str = "\u{E008}";

/// What of the call reaches a page: peer connections, video frames decoded over them, remote
/// tiles, and <video> elements (the setup preview aside) showing a picture.
const REMOTE_MEDIA: &str = r#"
const done = arguments[arguments.length - 1];
(async () => {
  const adapter = window.yoomCall && window.yoomCall.adapter;
  const pcs = adapter ? [...adapter.peerConnections().values()] : [];
  let frames = 0;
  for (const pc of pcs) {
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') frames += s.framesDecoded || 0;
    });
  }
  const tiles = document.querySelectorAll('.tile:not(.local)').length;
  const pictures = [...document.querySelectorAll('video')]
    .filter((v) => v.id !== 'preview' && !v.closest('.tile.local') && v.videoWidth > 0).length;
  done({ peers: pcs.length, frames, tiles, pictures });
})().catch((e) => done('ERROR ' + e));
"#;

async fn remote_media(browser: &Browser) -> Value {
    browser.execute_async(REMOTE_MEDIA, vec![]).await
}

/// Waits until the chat log of `browser` shows `text`.
async fn wait_chat(browser: &Browser, text: &str) {
    browser
        .wait_true(
            "return [...document.querySelectorAll('#chat-log .chat-text')].some((p) => p.innerText.includes(arguments[0]))",
            vec![json!(text)],
            &format!("the chat shows {text:?}"),
        )
        .await;
}

/// The chat log as [author, text] pairs, in order.
async fn chat_log(browser: &Browser) -> Value {
    browser
        .execute(
            "return [...document.querySelectorAll('#chat-log .chat-message')].map((li) => \
               [li.querySelector('.chat-author').textContent, li.querySelector('.chat-text').innerText])",
            vec![],
        )
        .await
}

/// Opens the meeting and presses Join; returns once the page is waiting, joined or refused.
async fn try_to_join(browser: &Browser, app: &TestApp, path: &str) -> String {
    browser.goto(&app.url(path)).await;
    browser.wait("#setup #join-button").await;
    browser.click_css("#join-button").await;
    browser
        .wait_true(
            "return ['waiting', 'joined', 'error', 'ended'].includes(document.body.dataset.callState)",
            vec![],
            "the join settles",
        )
        .await;
    browser
        .execute("return document.body.dataset.callState", vec![])
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The page says why it was refused, with no retry button (retrying would not help).
async fn refused_for_good(browser: &Browser, why: &str) {
    browser.wait_for_text(why).await;
    assert!(
        !browser
            .is_displayed(&browser.find("#retry-button").await.unwrap())
            .await
    );
}

async fn user_id(browser: &Browser) -> String {
    browser
        .attribute("#meeting-room", "data-user-id")
        .await
        .unwrap_or_default()
}

#[tokio::test]
async fn a_guest_waits_seeing_nothing_until_admitted_and_the_chat_reaches_everyone_even_later() {
    let app = spawn_app().await;
    let browsers =
        Browser::start_many(vec![media_browser(), media_browser(), media_browser()]).await;
    let [host, guest, third] = &browsers[..] else {
        unreachable!()
    };
    sign_up(host, &app, "wait_host", "Wanda Host").await;
    sign_up(guest, &app, "wait_guest", "Gale Guest").await;
    sign_up(third, &app, "wait_third", "Tess Third").await;

    // The host starts their personal room: its waiting room is on unless they turn it off.
    host.goto(&app.url("/personal-room")).await;
    let invite = host.text(&host.wait("#invite-link").await).await;
    let path = invite
        .strip_prefix(&app.address)
        .expect("an invite link to this server")
        .to_owned();
    host.click_css("#start-personal").await;
    host.wait("#setup #join-button").await;
    host.click_css("#join-button").await;
    wait_state(host, "joined").await;
    host.click_css("#toggle-participants").await;
    assert_eq!(
        host.execute(
            "return document.getElementById('waiting-room-switch').checked",
            vec![]
        )
        .await,
        true,
        "a personal room has its waiting room on"
    );

    // The guest knocks, and waits with their camera preview still there.
    assert_eq!(try_to_join(guest, &app, &path).await, "waiting");
    guest
        .wait_for_text("Waiting for the host to let you in")
        .await;
    guest
        .wait_true(
            "return document.getElementById('preview').videoWidth > 0",
            vec![],
            "the camera preview stays while waiting",
        )
        .await;
    host.wait("#knock").await;
    host.wait_for_text("Gale Guest wants to join").await;
    host.wait("#waiting-list button[data-action='admit']").await;
    host.wait_true(
        "return document.getElementById('announcer').textContent === 'Gale Guest is waiting to join'",
        vec![],
        "the knock is announced",
    )
    .await;
    // Time enough for anything of the call to arrive: none does.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        remote_media(guest).await,
        json!({ "peers": 0, "frames": 0, "tiles": 0, "pictures": 0 }),
        "a waiting guest receives nothing of the call"
    );
    // Nor does anything of the guest reach the host (on the mesh: no connection at all; on
    // the media server: nothing forwarded on the host's one connection).
    let host_side = remote_media(host).await;
    assert_eq!(
        (&host_side["frames"], &host_side["tiles"]),
        (&json!(0), &json!(0)),
        "{host_side}"
    );

    // Let in, both see each other.
    host.click_css("#knock-admit").await;
    wait_state(guest, "joined").await;
    assert_receiving(guest, 1, "guest").await;
    assert_receiving(host, 1, "host").await;
    host.wait_true(
        "return document.getElementById('knock').hidden && document.getElementById('waiting-section').hidden",
        vec![],
        "the queue is empty again",
    )
    .await;

    // The guest writes (Shift+Enter for a new line, Enter to send); the host's chat button
    // counts it while the panel is closed, and the live region reads it out.
    guest.click_css("#toggle-chat").await;
    assert!(
        guest.has_focus("#chat-input").await,
        "the chat opens on its box"
    );
    guest.keys("Hello from the guest").await;
    guest.chord(SHIFT, ENTER).await;
    guest.keys("second line").await;
    guest.keys(ENTER).await;
    wait_chat(guest, "second line").await;
    host.wait_true(
        "return document.getElementById('toggle-chat').getAttribute('aria-label') === 'Chat, 1 unread'",
        vec![],
        "the host's chat button counts one unread message",
    )
    .await;
    host.wait_true(
        "return document.getElementById('announcer').textContent === 'Chat from Gale Guest: Hello from the guest second line'",
        vec![],
        "the message is announced",
    )
    .await;
    host.click_css("#toggle-chat").await;
    wait_chat(host, "Hello from the guest\nsecond line").await;
    assert_eq!(
        host.attribute("#toggle-chat", "aria-label")
            .await
            .as_deref(),
        Some("Chat")
    );
    host.keys("Agenda: https://example.com/agenda?a=1. <b>bold</b>")
        .await;
    host.keys(ENTER).await;
    wait_chat(guest, "Agenda:").await;
    let link = guest
        .execute(
            "const a = [...document.querySelectorAll('#chat-log a')].at(-1);\
             const text = [...document.querySelectorAll('#chat-log .chat-text')].at(-1);\
             return [a.href, a.target, a.rel, a.textContent, text.querySelectorAll('b').length,\
                     text.closest('li').querySelector('time').getAttribute('datetime').endsWith('Z')];",
            vec![],
        )
        .await;
    assert_eq!(
        link,
        json!([
            "https://example.com/agenda?a=1",
            "_blank",
            "noopener noreferrer",
            "https://example.com/agenda?a=1",
            0,
            true
        ]),
        "a link opens apart; everything else stays text"
    );

    // Someone later knocks and is turned away: told so, with no retry.
    assert_eq!(try_to_join(third, &app, &path).await, "waiting");
    host.wait_for_text("Tess Third wants to join").await;
    host.click_css("#knock-deny").await;
    wait_state(third, "error").await;
    third.wait_for_text("The host did not let you in.").await;
    assert!(
        !third
            .is_displayed(&third.find("#retry-button").await.unwrap())
            .await
    );
    // They knock again, the host lets them in from the participants panel, and they read the
    // whole chat so far.
    assert_eq!(try_to_join(third, &app, &path).await, "waiting");
    host.click_css("#waiting-list button[data-action='admit']")
        .await;
    wait_state(third, "joined").await;
    third.click_css("#toggle-chat").await;
    wait_chat(third, "Agenda:").await;
    assert_eq!(
        chat_log(third).await,
        json!([
            ["Gale Guest", "Hello from the guest\nsecond line"],
            [
                "Wanda Host",
                "Agenda: https://example.com/agenda?a=1. <b>bold</b>"
            ]
        ])
    );

    // The host deletes a message for everyone; it stays in place, marked.
    host.click_css("#chat-log .chat-message:first-child .chat-delete")
        .await;
    host.execute("return 1", vec![]).await; // accepts the confirm()
    third
        .wait_true(
            "return document.querySelector('#chat-log .chat-message:first-child .chat-text').textContent === 'Message deleted by the host'",
            vec![],
            "the deleted message is marked for everyone",
        )
        .await;
    for b in browsers {
        b.quit().await;
    }
}

#[tokio::test]
async fn the_host_mutes_lowers_hands_removes_until_allowed_back_and_locks_the_meeting() {
    let app = spawn_app().await;
    let browsers = Browser::start_many(vec![media_browser(), media_browser()]).await;
    let [host, guest] = &browsers[..] else {
        unreachable!()
    };
    sign_up(host, &app, "boss_host", "Bea Boss").await;
    sign_up(guest, &app, "boss_guest", "Gil Guest").await;
    let meeting = start_instant_meeting(host, &app).await;
    host.click_css("#join-button").await;
    wait_state(host, "joined").await;
    join(guest, &app, &meeting, false).await;
    let guest_id = user_id(guest).await;
    host.click_css("#toggle-participants").await;
    let remove =
        format!("#participant-list button[data-action='remove'][data-user-id='{guest_id}']");
    host.wait(&remove).await;
    assert!(
        guest
            .find(".host-tools, #lock-meeting, #knock")
            .await
            .is_none()
            && guest
                .find("#participant-list button[data-action]")
                .await
                .is_none(),
        "only the host has the host's controls"
    );

    // A raised hand, lowered by the host: the guest's own button says so too.
    guest.click_css("#raise-hand").await;
    host.wait("#participant-list .state-icon.hand").await;
    host.click_css("#lower-hands").await;
    guest
        .wait_true(
            "return document.getElementById('raise-hand').getAttribute('aria-pressed') === 'false'",
            vec![],
            "the guest's hand is down",
        )
        .await;
    host.wait_true(
        "return !document.querySelector('#participant-list .state-icon.hand')",
        vec![],
        "no hand raised at the host",
    )
    .await;

    // Mute all: the guest's microphone goes off, and they are told; turning it on again is
    // theirs to do.
    assert_eq!(
        guest
            .attribute("#toggle-mic", "aria-pressed")
            .await
            .as_deref(),
        Some("true")
    );
    host.click_css("#mute-all").await;
    guest
        .wait_true(
            "return document.getElementById('toggle-mic').getAttribute('aria-pressed') === 'false'",
            vec![],
            "the guest's microphone is off",
        )
        .await;
    guest.wait_for_text("The host muted you").await;
    let live = guest
        .execute(
            "return window.yoomCall.localStream().getAudioTracks().map((t) => t.enabled)",
            vec![],
        )
        .await;
    assert_eq!(live, json!([false]), "nothing of the microphone is sent");
    host.wait_true(
        "const t = [...document.querySelectorAll('.tile')].find((t) => t.textContent.includes('Gil Guest'));\
         return !!t && t.dataset.audio === 'off';",
        vec![],
        "the host sees the guest muted",
    )
    .await;
    guest.click_css("#toggle-mic").await;
    guest
        .wait_true(
            "return document.getElementById('toggle-mic').getAttribute('aria-pressed') === 'true'",
            vec![],
            "the guest unmutes themselves",
        )
        .await;

    // Removed: the guest is told, with no retry, and cannot come back.
    host.click_css(&remove).await;
    host.execute("return 1", vec![]).await; // accepts the confirm()
    wait_state(guest, "error").await;
    refused_for_good(guest, "You were removed from the meeting").await;
    host.wait_true(
        "return document.querySelectorAll('.tile:not(.local)').length === 0",
        vec![],
        "the guest's tile is gone",
    )
    .await;
    let path = format!("/meeting/{meeting}");
    assert_eq!(try_to_join(guest, &app, &path).await, "error");
    refused_for_good(guest, "You were removed from the meeting").await;

    // The host lets them back, but locks the meeting: nobody new gets in, them included.
    host.wait("#removed-list").await;
    host.wait_for_text("Gil Guest").await;
    host.click_css("#removed-list button[data-action='allow-back']")
        .await;
    host.wait_true(
        "return document.getElementById('removed-section').hidden",
        vec![],
        "the removed list is empty",
    )
    .await;
    host.click_css("#lock-meeting").await;
    host.wait("#locked-indicator").await;
    assert_eq!(try_to_join(guest, &app, &path).await, "error");
    refused_for_good(guest, "This meeting is locked by the host.").await;

    // Unlocked, they come back in.
    host.click_css("#lock-meeting").await;
    host.wait_true(
        "return document.getElementById('locked-indicator').hidden",
        vec![],
        "the lock is off",
    )
    .await;
    assert_eq!(try_to_join(guest, &app, &path).await, "joined");
    for b in browsers {
        b.quit().await;
    }
}

/// `/api/token` requests the page made so far.
async fn token_requests(browser: &Browser) -> u64 {
    browser
        .execute(
            "return performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/token?meeting=')).length",
            vec![],
        )
        .await
        .as_u64()
        .unwrap_or(0)
}

#[tokio::test]
async fn in_stream_mode_a_waiting_guest_asks_for_no_call_token_until_admitted() {
    let mock = MockStream::start().await;
    let vars = mock.vars();
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app_with(&vars).await;
    app.signed_in_as("stream_boss").await;
    let meeting = app.start_instant("Waiting at Stream").await;
    let guest = Browser::start(BrowserOptions {
        fake_media: true,
        ..Default::default()
    })
    .await;
    sign_up(&guest, &app, "stream_knocker", "Kit Knocker").await;
    guest.goto(&app.url(&format!("/meeting/{meeting}"))).await;
    guest.wait("#setup #join-button").await;

    // The host is in the room (a plain client of it) and turns the waiting room on.
    let mut host = crate::signal::Peer::join(&app.address, &meeting, &app.cookie_header()).await;
    host.send(json!({ "type": "waiting-room", "enabled": true }))
        .await;
    assert_eq!(host.expect("room-state").await["waitingRoom"], true);

    guest.click_css("#join-button").await;
    wait_state(&guest, "waiting").await;
    let knock = host.expect("knock").await;
    assert_eq!(knock["peer"]["name"], "Kit Knocker");
    let waited = Instant::now();
    while waited.elapsed() < Duration::from_secs(2) {
        host.send(json!({ "type": "ping" })).await;
        host.expect("pong").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(
        token_requests(&guest).await,
        0,
        "no call token while waiting"
    );
    assert!(
        mock.requests_to("/video/connect").is_empty(),
        "no connection to Stream while waiting"
    );

    host.send(json!({ "type": "admit", "id": knock["peer"]["id"] }))
        .await;
    guest
        .wait_true(
            "return performance.getEntriesByType('resource').some((e) => e.name.includes('/api/token?meeting='))",
            vec![],
            "the admitted guest asks for a call token",
        )
        .await;
    assert_eq!(token_requests(&guest).await, 1);
    let start = Instant::now();
    while mock.requests_to("/video/connect").is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the admitted guest never went on to Stream"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    guest.quit().await;
}

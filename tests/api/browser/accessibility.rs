//! WCAG 2.1 A/AA in the browser: axe-core (installed by `scripts/install-axe.sh`, tests only)
//! on every page a person visits and in the call, and the call used with the keyboard alone.

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::{Value, json};

use super::call::{join, media_browser, start_instant_meeting, wait_state};
use super::sign_up;
use super::webdriver::Browser;
use crate::helpers::spawn_app;

/// axe-core's script, read once.
fn axe_source() -> &'static str {
    static SOURCE: OnceLock<String> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let path = std::env::var("AXE_CORE_JS")
            .map(PathBuf::from)
            .unwrap_or_else(|_| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("target/axe/node_modules/axe-core/axe.min.js")
            });
        std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "axe-core not found at {} ({e}): run scripts/install-axe.sh (scripts/test.sh does)",
                path.display()
            )
        })
    })
}

/// Runs axe-core's WCAG 2.0/2.1 A and AA rules on the page as it is now.
const AXE_RUN: &str = r#"
const done = arguments[arguments.length - 1];
axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } })
  .then((r) => done(r.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({ target: n.target.join(" "), why: n.failureSummary, html: n.html.slice(0, 200) })),
  }))))
  .catch((e) => done("ERROR " + e));
"#;

/// The violations on the page now, each as one readable line per element, tagged with `page`.
async fn violations(browser: &Browser, page: &str) -> Vec<String> {
    browser.execute(axe_source(), vec![]).await;
    let found = browser.execute_async(AXE_RUN, vec![]).await;
    let Value::Array(list) = found else {
        panic!("{page}: axe did not run: {found}");
    };
    let mut lines = Vec::new();
    for v in list {
        for n in v["nodes"].as_array().into_iter().flatten() {
            lines.push(format!(
                "{page}: [{}] {} — {} — {} — {}",
                v["impact"].as_str().unwrap_or(""),
                v["id"].as_str().unwrap_or(""),
                n["target"].as_str().unwrap_or(""),
                n["why"].as_str().unwrap_or("").replace('\n', " "),
                n["html"].as_str().unwrap_or("")
            ));
        }
    }
    lines
}

/// Opens a Home card's modal and waits for it.
async fn open_modal(browser: &Browser, card: &str) {
    browser.click_css(card).await;
    browser.wait("dialog#modal[open] form").await;
}

async fn close_modal(browser: &Browser) {
    browser.press_key("\u{E00C}").await; // Escape
    gone(browser, "dialog#modal[open]").await;
}

/// Waits until nothing matches `css` (a dialog closed, a panel hidden).
async fn gone(browser: &Browser, css: &str) {
    let done = browser
        .execute_async(
            "const [css, done] = arguments; const started = Date.now();\
             const poll = () => !document.querySelector(css) ? done(true)\
               : Date.now() - started > 5000 ? done(false) : setTimeout(poll, 50);\
             poll();",
            vec![json!(css)],
        )
        .await;
    assert_eq!(done, true, "{css} is still there");
}

/// A short recording made through the upload API from the page, so its page can be checked.
const RECORD: &str = r#"
const done = arguments[arguments.length - 1];
(async () => {
  const meeting = arguments[0];
  const json = { Accept: "application/json" };
  const started = await (await fetch(`/meeting/${meeting}/recordings`, { method: "POST", headers: json })).json();
  await fetch(`/recordings/${started.id}/slices/0`, { method: "PUT", headers: { ...json, "Content-Type": "video/webm" }, body: new Uint8Array(2000) });
  await fetch(`/recordings/${started.id}/finish`, { method: "POST", headers: { ...json, "Content-Type": "application/json" }, body: JSON.stringify({ durationMs: 4000 }) });
  done(started.id);
})().catch((e) => done("ERROR " + e));
"#;

#[tokio::test]
async fn every_page_and_the_call_meet_wcag_2_1_aa() {
    let app = spawn_app().await;
    let browsers = Browser::start_many(vec![media_browser(), media_browser()]).await;
    let (host, guest) = (&browsers[0], &browsers[1]);
    let mut found = Vec::new();

    host.goto(&app.url("/sign-in")).await;
    host.wait("form.auth-form").await;
    found.extend(violations(host, "sign-in").await);
    host.goto(&app.url("/sign-up")).await;
    host.wait("form.auth-form").await;
    found.extend(violations(host, "sign-up").await);

    sign_up(host, &app, "axe_host", "Ada Lovelace").await;
    host.snapshot("home").await;
    found.extend(violations(host, "home").await);
    for (card, name) in [
        ("#card-new", "instant modal"),
        ("#card-join", "join modal"),
        ("#card-schedule", "schedule modal"),
    ] {
        open_modal(host, card).await;
        found.extend(violations(host, name).await);
        close_modal(host).await;
    }
    // The schedule modal's answer: Meeting Created.
    open_modal(host, "#card-schedule").await;
    host.execute(
        "const f = document.querySelector('dialog#modal form');\
         const when = new Date(Date.now() + 86400000);\
         when.setMinutes(0, 0, 0);\
         const pad = (n) => String(n).padStart(2, '0');\
         f.querySelector('[name=description]').value = 'Accessible planning';\
         const input = f.querySelector('input[type=datetime-local]');\
         input.value = `${when.getFullYear()}-${pad(when.getMonth() + 1)}-${pad(when.getDate())}T${pad(when.getHours())}:00`;\
         input.dispatchEvent(new Event('input', { bubbles: true }));",
        vec![],
    )
    .await;
    host.click_css("dialog#modal button[type=submit]").await;
    host.wait_for_text("Meeting Created").await;
    found.extend(violations(host, "meeting created modal").await);
    close_modal(host).await;

    for (path, name) in [
        ("/upcoming", "upcoming"),
        ("/previous", "previous"),
        ("/recordings", "recordings (empty)"),
        ("/personal-room", "personal room"),
    ] {
        host.goto(&app.url(path)).await;
        host.wait("main h1").await;
        found.extend(violations(host, name).await);
    }

    let meeting = start_instant_meeting(host, &app).await;
    found.extend(violations(host, "setup").await);
    let recording = host.execute_async(RECORD, vec![json!(meeting)]).await;
    let recording = recording.as_str().expect("a recording id").to_owned();
    assert!(!recording.starts_with("ERROR"), "{recording}");
    host.goto(&app.url("/recordings")).await;
    host.wait("main h1").await;
    found.extend(violations(host, "recordings").await);
    host.goto(&app.url(&format!("/recordings/{recording}")))
        .await;
    host.wait("main h1").await;
    found.extend(violations(host, "recording").await);

    join(host, &app, &meeting, false).await;
    // The host turns the waiting room on; the guest knocks and waits.
    host.click_css("#toggle-participants").await;
    host.click_css("#waiting-room-switch").await;
    host.wait_true(
        "return document.getElementById('waiting-room-switch').checked",
        vec![],
        "the waiting room is on",
    )
    .await;
    sign_up(guest, &app, "axe_guest", "Grace Hopper").await;
    guest.goto(&app.url(&format!("/meeting/{meeting}"))).await;
    guest.click_css("#join-button").await;
    wait_state(guest, "waiting").await;
    guest.snapshot("waiting").await;
    found.extend(violations(guest, "waiting screen").await);
    host.wait("#waiting-list button[data-action='admit']").await;
    host.wait("#knock").await;
    host.snapshot("knock").await;
    found.extend(violations(host, "participants with someone waiting, and the knock").await);
    host.click_css("#knock-admit").await;
    wait_state(guest, "joined").await;
    host.click_css("#close-participants").await;
    host.wait(".tile:not(.local)").await;
    host.snapshot("call").await;
    found.extend(violations(host, "call (host)").await);
    found.extend(violations(guest, "call (guest)").await);
    host.click_css("#toggle-participants").await;
    found.extend(violations(host, "call with participants").await);
    host.click_css("#shortcuts-button").await;
    host.wait("dialog#shortcuts[open]").await;
    found.extend(violations(host, "shortcuts dialog").await);
    wait_state(host, "joined").await;

    // Arrivals are told through the one polite live region, never one per tile.
    let told = host
        .execute(
            "return [document.getElementById('announcer').textContent, \
                     document.getElementById('announcer').getAttribute('aria-live'), \
                     document.querySelectorAll('.tile [aria-live], .tile [role=status], .tile[aria-live]').length]",
            vec![],
        )
        .await;
    assert_eq!(told, json!(["Grace Hopper joined", "polite", 0]));

    // The chat, open on both sides, with a message, a link, and the host's Delete.
    host.press_key(ESCAPE).await;
    gone(host, "dialog#shortcuts[open]").await;
    guest.click_css("#toggle-chat").await;
    guest.keys("Notes are at https://example.com/notes").await;
    guest.keys(ENTER).await;
    host.click_css("#toggle-chat").await;
    host.wait("#chat-log .chat-delete").await;
    guest.wait("#chat-log a").await;
    host.snapshot("chat").await;
    found.extend(violations(host, "chat (host)").await);
    found.extend(violations(guest, "chat (guest)").await);

    for b in browsers {
        b.quit().await;
    }
    assert!(
        found.is_empty(),
        "{} WCAG 2.1 A/AA violations:\n{}",
        found.len(),
        found.join("\n")
    );
}

const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";
const SPACE: &str = "\u{E00D}";
const ESCAPE: &str = "\u{E00C}";
const ALT: &str = "\u{E00A}";

async fn pressed(browser: &Browser, id: &str) -> String {
    browser
        .execute(
            "return document.getElementById(arguments[0]).getAttribute('aria-pressed')",
            vec![json!(id)],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Waits until `id`'s aria-pressed is `value` (the adapter answers asynchronously).
async fn wait_pressed(browser: &Browser, id: &str, value: &str) {
    let start = std::time::Instant::now();
    while pressed(browser, id).await != value {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "{id} is aria-pressed={}, wanted {value}",
            pressed(browser, id).await
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_whole_call_works_from_the_keyboard_alone() {
    let app = spawn_app().await;
    assert_eq!(
        app.post_sign_up("keys_only", "Kay Board", "correct horse battery")
            .await
            .status(),
        303
    );
    let browser = Browser::start(super::call::media_browser()).await;
    // A fresh browser: sign in with keys only.
    browser.goto(&app.url("/sign-in")).await;
    browser.tab_to("#username", 10).await;
    browser.keys("keys_only").await;
    browser.keys(TAB).await;
    assert!(
        browser.has_focus("#password").await,
        "password follows username"
    );
    browser.keys("correct horse battery").await;
    browser.keys(ENTER).await;
    browser.wait_for_path(|p| p == "/").await;

    // Start a meeting: New Meeting, then the modal's button (it has the focus when it opens).
    browser.tab_to("#card-new", 30).await;
    browser.keys(ENTER).await;
    browser.wait("dialog#modal[open]").await;
    assert!(browser.has_focus("dialog#modal button[type=submit]").await);
    // Tab stays inside the open modal.
    for _ in 0..6 {
        browser.keys(TAB).await;
        let inside = browser
            .execute(
                "return document.getElementById('modal').contains(document.activeElement)",
                vec![],
            )
            .await;
        assert_eq!(inside, true, "the focus left the modal");
    }
    // Escape gives the focus back to the card that opened it.
    browser.keys(ESCAPE).await;
    gone(&browser, "dialog#modal[open]").await;
    assert!(
        browser.has_focus("#card-new").await,
        "focus returns to the card"
    );
    browser.keys(ENTER).await;
    browser.wait("dialog#modal[open]").await;
    browser.keys(ENTER).await;
    browser.wait_for_path(|p| p.starts_with("/meeting/")).await;

    // Join from the setup screen.
    browser.wait("#setup #join-button").await;
    browser.tab_to("#join-button", 20).await;
    browser.keys(ENTER).await;
    super::call::wait_state(&browser, "joined").await;
    assert!(
        browser.has_focus("#toggle-mic").await,
        "joining puts the focus on the microphone"
    );

    // Microphone and camera: Space on the focused button, then the shortcuts.
    wait_pressed(&browser, "toggle-mic", "true").await;
    browser.keys(SPACE).await;
    wait_pressed(&browser, "toggle-mic", "false").await;
    browser.chord(ALT, "a").await;
    wait_pressed(&browser, "toggle-mic", "true").await;
    browser.keys(TAB).await;
    assert!(
        browser.has_focus("#toggle-camera").await,
        "camera follows microphone"
    );
    browser.keys(SPACE).await;
    wait_pressed(&browser, "toggle-camera", "false").await;
    browser.chord(ALT, "v").await;
    wait_pressed(&browser, "toggle-camera", "true").await;
    browser.chord(ALT, "y").await;
    wait_pressed(&browser, "raise-hand", "true").await;

    // The participants panel opens with Enter, lists me, and Escape closes it.
    browser.tab_to("#toggle-participants", 15).await;
    browser.keys(ENTER).await;
    browser.wait("#participants:not([hidden])").await;
    assert!(browser.has_focus("#participant-search").await);
    browser.wait_for_text("Kay Board").await;
    browser.keys(ESCAPE).await;
    gone(&browser, "#participants:not([hidden])").await;
    assert!(browser.has_focus("#toggle-participants").await);

    // Alt+H opens the chat on its box; Enter sends; Escape closes it and the focus comes back.
    browser.chord(ALT, "h").await;
    browser.wait("#chat:not([hidden])").await;
    assert!(
        browser.has_focus("#chat-input").await,
        "the chat opens on its box"
    );
    browser.keys("Typed, not clicked").await;
    browser.keys(ENTER).await;
    browser.wait_for_text("Typed, not clicked").await;
    assert!(
        browser.has_focus("#chat-input").await,
        "the box keeps the focus"
    );
    browser.keys(ESCAPE).await;
    gone(&browser, "#chat:not([hidden])").await;
    assert!(browser.has_focus("#toggle-chat").await);

    // "?" lists the shortcuts; Escape closes the list and the focus comes back.
    browser.keys("?").await;
    browser.wait("dialog#shortcuts[open]").await;
    browser.wait_for_text("Raise or lower your hand").await;
    browser.keys(ESCAPE).await;
    gone(&browser, "dialog#shortcuts[open]").await;
    assert!(browser.has_focus("#toggle-chat").await);

    // Leave.
    browser.tab_to("#leave-button", 10).await;
    browser.keys(ENTER).await;
    browser.wait_for_path(|p| p == "/").await;
    browser.quit().await;
}

#[tokio::test]
async fn reduced_motion_stills_reactions_and_the_speaking_ring() {
    let app = spawn_app().await;
    let mut options = super::call::media_browser();
    options
        .extra_args
        .push("--force-prefers-reduced-motion".into());
    let browser = Browser::start(options).await;
    sign_up(&browser, &app, "still_one", "Still One").await;
    let meeting = start_instant_meeting(&browser, &app).await;
    join(&browser, &app, &meeting, true).await;
    browser.click_css("#reactions-button").await;
    browser.click_css(".reaction-choice[data-emoji='👍']").await;
    browser.wait(".tile .reaction").await;
    let motion = browser
        .execute(
            "const r = getComputedStyle(document.querySelector('.tile .reaction'));\
             const ring = getComputedStyle(document.querySelector('.tile'), '::after');\
             return [r.animationName, r.opacity, ring.transitionDuration];",
            vec![],
        )
        .await;
    assert_eq!(motion, json!(["none", "1", "0s"]));
    browser.quit().await;
}

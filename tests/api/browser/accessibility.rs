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
    browser
        .execute_async(
            "const done = arguments[arguments.length - 1];\
             const poll = () => document.querySelector('dialog#modal[open]') ? setTimeout(poll, 50) : done(true);\
             poll();",
            vec![],
        )
        .await;
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
    sign_up(guest, &app, "axe_guest", "Grace Hopper").await;
    join(guest, &app, &meeting, false).await;
    host.wait(".tile:not(.local)").await;
    host.snapshot("call").await;
    found.extend(violations(host, "call (host)").await);
    found.extend(violations(guest, "call (guest)").await);
    host.click_css("#toggle-participants").await;
    found.extend(violations(host, "call with participants").await);
    wait_state(host, "joined").await;

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

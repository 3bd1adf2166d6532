//! The grid's pages on the built-in media server: at most a page of tiles on screen (mine on
//! every page), page buttons only when not everyone fits, and video forwarded only for the
//! tiles of the page shown. Four browsers cannot fill a page of 25, so the pages here are
//! lowered to two tiles through the call section's `data-grid-page-size` (see tiles.js).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::call::{media_browser, start_instant_meeting, wait_remote_tiles, wait_state};
use super::sign_up;
use super::webdriver::Browser;
use crate::helpers::{TestApp, spawn_app_with};

/// Tiles per page in the paged browsers: mine and one other.
const PAGE: &str = "2";
const ENTER: &str = "\u{E007}";

/// `gridPage` (tiles.js) on its own: who each page shows, with someone featured.
const GRID_PAGE: &str = r#"
const done = arguments[arguments.length - 1];
import('/static/js/meeting/tiles.js').then(({ gridPage, GRID_PAGE_SIZE }) => {
  const keys = (...args) => gridPage(...args).keys.join(' ');
  const order = ['local', 'a', 'b', 'c', 'd', 'e'];
  done({
    size: GRID_PAGE_SIZE,
    first: keys(order, [], 3, 0),
    last: keys(order, [], 3, 2),
    clamped: gridPage(order, [], 3, 9),
    speaker: keys(order, ['d'], 3, 0),
    own_stays: keys(order, ['d'], 2, 0),
    free_place: keys(order, ['a'], 3, 2),
    two_featured: keys(order, ['e', 'd'], 4, 0),
    me_only: gridPage(['local'], ['local'], 25, 0),
  });
}).catch((e) => done('ERROR ' + e));
"#;

/// The pager as the person sees it.
const PAGER: &str = r#"
const pager = document.getElementById('grid-pager');
return {
  shown: !!pager && pager.getClientRects().length > 0,
  text: document.getElementById('grid-page').textContent,
  prev: document.getElementById('grid-prev').getAttribute('aria-disabled'),
  next: document.getElementById('grid-next').getAttribute('aria-disabled'),
};
"#;

/// The names on the tiles on screen, in their order.
const SHOWN: &str = r#"
return [...document.querySelectorAll('#strip .tile, #spotlight .tile')]
  .filter((t) => t.getClientRects().length > 0)
  .map((t) => t.querySelector('.tile-name').textContent);
"#;

/// Per remote participant (by name): tile on screen, its `<video>` fed, whether a video slot
/// of the server's shows them (null on the mesh), frames shown, width, and whether it plays
/// (the mesh's voices play from the tiles).
const PEOPLE: &str = r#"
const a = window.yoomCall?.adapter;
if (!a?.peers) return null;
const out = {};
for (const [id, peer] of a.peers) {
  const tile = document.querySelector(`.tile[data-peer-id="${id}"]`);
  const video = tile?.querySelector('video');
  out[peer.info.name] = {
    shown: !!tile && tile.getClientRects().length > 0,
    fed: !!video?.srcObject,
    slot: a.slots ? [...a.slots.values()].some((s) => s.kind === 'video' && s.peer === id) : null,
    frames: video?.getVideoPlaybackQuality?.().totalVideoFrames ?? 0,
    width: video?.videoWidth ?? 0,
    playing: !!video && !video.paused && !video.muted,
    time: video?.currentTime ?? 0,
  };
}
return out;
"#;

/// Whose video frames are decoded now: the people the server's video slots show whose
/// framesDecoded rose over half a second (a slot showing nobody counts as "nobody").
const DECODING: &str = r#"
const done = arguments[arguments.length - 1];
(async () => {
  const a = window.yoomCall.adapter;
  const sample = async () => {
    const frames = new Map();
    (await a.pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') frames.set(s.mid, s.framesDecoded || 0);
    });
    return frames;
  };
  const before = await sample();
  await new Promise((r) => setTimeout(r, 500));
  const names = [];
  for (const [mid, n] of await sample()) {
    if (n <= (before.get(mid) ?? 0)) continue;
    const peer = a.slots.get(mid)?.peer;
    names.push(peer ? a.peers.get(peer)?.info.name ?? peer : 'nobody');
  }
  done(names.sort());
})().catch((e) => done('ERROR ' + e));
"#;

/// Notes, in the page, when the next page's steps happen for the tile named arguments[0]
/// (ms after the click that this installs a listener for): the layout message sent, the
/// tile's video fed, its first frame with a size.
const WATCH_TURN: &str = r#"
const name = arguments[0];
const a = window.yoomCall.adapter;
const steps = (window.__turn = {});
document.getElementById('grid-next').addEventListener('click', () => {
  const t0 = performance.now();
  const at = () => Math.round(performance.now() - t0);
  const send = a.send.bind(a);
  a.send = (msg) => {
    if (msg.type === 'layout') steps.layout ??= at();
    return send(msg);
  };
  const tile = [...document.querySelectorAll('.tile')].find((t) => t.querySelector('.tile-name').textContent === name);
  const video = tile.querySelector('video');
  const timer = setInterval(() => {
    if (video.srcObject) steps.fed ??= at();
    if (video.videoWidth > 0) {
      steps.frame = at();
      clearInterval(timer);
    }
  }, 10);
}, { once: true });
"#;

/// axe-core's WCAG 2.0/2.1 A and AA rules on the page as it is now (as in accessibility.rs).
const AXE_RUN: &str = r#"
const done = arguments[arguments.length - 1];
axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } })
  .then((r) => done(r.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)))
  .catch((e) => done("ERROR " + e));
"#;

/// Polls `script` (sync) until `check` holds for what it returns; fails after `limit` with
/// the last value.
async fn wait_for(
    browser: &Browser,
    script: &str,
    what: &str,
    limit: Duration,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let start = Instant::now();
    loop {
        let v = browser.execute(script, vec![]).await;
        if check(&v) {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "{what}: not so after {limit:?}: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits for the pager to read `text` (shown), or to be gone (`None`).
async fn wait_pager(browser: &Browser, text: Option<&str>) -> Value {
    let what = format!("the pager at {text:?}");
    wait_for(
        browser,
        PAGER,
        &what,
        Duration::from_secs(10),
        |v| match text {
            Some(t) => v["shown"] == true && v["text"] == t,
            None => v["shown"] == false,
        },
    )
    .await
}

/// Waits until exactly `names` are the tiles on screen, in this order.
async fn wait_shown(browser: &Browser, names: &[&str]) {
    let want = json!(names);
    wait_for(
        browser,
        SHOWN,
        "the tiles on screen",
        Duration::from_secs(10),
        |v| *v == want,
    )
    .await;
}

/// Waits until `name`'s video plays in their tile (a size, frames rising); returns how long
/// that took.
async fn wait_video(browser: &Browser, name: &str, limit: Duration) -> Duration {
    let start = Instant::now();
    let mut before: Option<u64> = None;
    loop {
        let people = browser.execute(PEOPLE, vec![]).await;
        let p = &people[name];
        let frames = p["frames"].as_u64().unwrap_or(0);
        if p["shown"] == true && p["fed"] == true && p["width"].as_u64().unwrap_or(0) > 0 {
            if before.is_some_and(|b| frames > b) {
                return start.elapsed();
            }
            before = Some(frames);
        } else {
            before = None;
        }
        assert!(
            start.elapsed() < limit,
            "{name}'s video not playing after {limit:?}: {people}; console: {}",
            browser.console().await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the video decoded on the page is exactly that of `names`, and `unfed` have no
/// video (no slot, nothing in their tile's `<video>`).
async fn wait_decoding(browser: &Browser, names: &[&str], unfed: &[&str]) {
    let want = json!(names);
    let start = Instant::now();
    loop {
        let decoding = browser.execute_async(DECODING, vec![]).await;
        let people = browser.execute(PEOPLE, vec![]).await;
        let dark = unfed
            .iter()
            .all(|n| people[*n]["fed"] == false && people[*n]["slot"] == false);
        if decoding == want && dark {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "video decoded for {decoding}, wanted {want} and none for {unfed:?}: {people}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// From the setup screen: lowers the grid's pages to `PAGE` tiles (when `paged`), joins, and
/// picks the grid layout.
async fn join_grid(browser: &Browser, paged: bool) {
    browser.wait("#setup #join-button").await;
    if paged {
        browser
            .execute(
                "document.getElementById('call').dataset.gridPageSize = arguments[0]",
                vec![json!(PAGE)],
            )
            .await;
    }
    browser.click_css("#join-button").await;
    wait_state(browser, "joined").await;
    browser
        .click_css("#layout-select option[value='grid']")
        .await;
    browser.wait("#call[data-layout='grid']").await;
}

async fn enter(browser: &Browser, app: &TestApp, meeting: &str, paged: bool) {
    browser.goto(&app.url(&format!("/meeting/{meeting}"))).await;
    join_grid(browser, paged).await;
}

async fn axe_violations(browser: &Browser) -> Value {
    let path = std::env::var("AXE_CORE_JS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("target/axe/node_modules/axe-core/axe.min.js")
        });
    let source = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "axe-core not found at {} ({e}): run scripts/install-axe.sh",
            path.display()
        )
    });
    browser.execute(&source, vec![]).await;
    browser.execute_async(AXE_RUN, vec![]).await
}

#[tokio::test]
async fn grid_pages_show_a_page_of_tiles_and_only_that_page_gets_video() {
    let app = spawn_app_with(&[]).await;
    let browsers = Browser::start_many((0..4).map(|_| media_browser()).collect()).await;
    let [host, ada, ben, cy] = &browsers[..] else {
        unreachable!()
    };
    let names = [
        ("grid_host", "Pia Pager"),
        ("grid_ada", "Ada Aside"),
        ("grid_ben", "Ben Beyond"),
        ("grid_cy", "Cy Clamp"),
    ];
    for (b, (user, name)) in browsers.iter().zip(names) {
        sign_up(b, &app, user, name).await;
    }
    let meeting = start_instant_meeting(host, &app).await;

    // Who a page shows: mine on every page, then the page's share; someone featured from
    // another page takes a free place, else the last one, never all of a page's own.
    let rules = host.execute_async(GRID_PAGE, vec![]).await;
    assert_eq!(
        rules,
        json!({
            "size": 25,
            "first": "local a b",
            "last": "local e",
            "clamped": { "keys": ["local", "e"], "page": 2, "pages": 3 },
            "speaker": "local a d",
            "own_stays": "local a",
            "free_place": "local e a",
            "two_featured": "local a d e",
            "me_only": { "keys": ["local"], "page": 0, "pages": 1 },
        }),
        "gridPage's rules"
    );

    join_grid(host, true).await;
    let me = "Pia Pager (You)";
    // Ada keeps the real page size (25): four people fit, and she never sees page buttons.
    enter(ada, &app, &meeting, false).await;
    wait_remote_tiles(host, 1).await;
    // Two tiles fit the host's page of two: no buttons.
    wait_pager(host, None).await;
    wait_shown(host, &[me, "Ada Aside"]).await;
    enter(ben, &app, &meeting, true).await;
    enter(cy, &app, &meeting, true).await;
    wait_remote_tiles(host, 3).await;

    // Three others, one per page: page 1 shows me and Ada; Ben and Cy are hidden, and the
    // server forwards Ada's video only.
    let pager = wait_pager(host, Some("Page 1 of 3")).await;
    assert_eq!(
        (&pager["prev"], &pager["next"]),
        (&json!("true"), &json!("false"))
    );
    wait_shown(host, &[me, "Ada Aside"]).await;
    wait_video(host, "Ada Aside", Duration::from_secs(20)).await;
    wait_decoding(host, &["Ada Aside"], &["Ben Beyond", "Cy Clamp"]).await;
    wait_remote_tiles(ada, 3).await;
    wait_pager(ada, None).await;
    wait_shown(
        ada,
        &["Ada Aside (You)", "Pia Pager", "Ben Beyond", "Cy Clamp"],
    )
    .await;

    // Next: Ben's video starts within a few seconds, Ada's stops.
    host.execute(WATCH_TURN, vec![json!("Ben Beyond")]).await;
    host.click_css("#grid-next").await;
    wait_pager(host, Some("Page 2 of 3")).await;
    wait_shown(host, &[me, "Ben Beyond"]).await;
    wait_video(host, "Ben Beyond", Duration::from_secs(5)).await;
    let steps = host.execute("return window.__turn", vec![]).await;
    eprintln!(
        "MEASURE grid_next_page_to_video_ms={} (layout sent, video fed, first frame: {steps})",
        steps["frame"]
    );
    wait_decoding(host, &["Ben Beyond"], &["Ada Aside", "Cy Clamp"]).await;
    let found = axe_violations(host).await;
    assert_eq!(found, json!([]), "WCAG violations with the pager shown");

    // From the keyboard: Enter on the focused Next button; at the last page it stays put,
    // and so does the focus.
    host.execute("document.getElementById('grid-next').focus()", vec![])
        .await;
    host.keys(ENTER).await;
    let pager = wait_pager(host, Some("Page 3 of 3")).await;
    assert_eq!(
        (&pager["prev"], &pager["next"]),
        (&json!("false"), &json!("true"))
    );
    host.keys(ENTER).await;
    wait_shown(host, &[me, "Cy Clamp"]).await;
    assert!(
        host.has_focus("#grid-next").await,
        "the focus stays on Next"
    );
    assert_eq!(
        host.execute(PAGER, vec![]).await["text"],
        "Page 3 of 3",
        "Next at the last page"
    );
    wait_video(host, "Cy Clamp", Duration::from_secs(5)).await;
    host.snapshot("grid-last-page").await;

    // Cy, alone on the last page, leaves: the host's page clamps to the new last one, which
    // shows Ben again, with his video.
    cy.click_css("#leave-button").await;
    cy.wait_for_path(|p| p == "/").await;
    wait_remote_tiles(host, 2).await;
    wait_pager(host, Some("Page 2 of 2")).await;
    wait_shown(host, &[me, "Ben Beyond"]).await;
    wait_video(host, "Ben Beyond", Duration::from_secs(5)).await;

    // Ben leaves too: everyone fits on one page, and the buttons go.
    ben.click_css("#leave-button").await;
    ben.wait_for_path(|p| p == "/").await;
    wait_remote_tiles(host, 1).await;
    wait_pager(host, None).await;
    wait_shown(host, &[me, "Ada Aside"]).await;
    wait_video(host, "Ada Aside", Duration::from_secs(5)).await;

    for b in browsers {
        b.quit().await;
    }
}

/// Waits until `name`'s tile is off the page yet its `<video>` keeps playing (on the mesh it
/// carries their voice): fed, not paused, its time moving on.
async fn wait_heard_off_page(browser: &Browser, name: &str) {
    let start = Instant::now();
    let mut before: Option<f64> = None;
    loop {
        let people = browser.execute(PEOPLE, vec![]).await;
        let p = &people[name];
        let time = p["time"].as_f64().unwrap_or(0.0);
        if p["shown"] == false && p["fed"] == true && p["playing"] == true {
            if before.is_some_and(|b| time > b) {
                return;
            }
            before = Some(time);
        } else {
            before = None;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "{name} off the page is not playing: {people}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn on_the_mesh_grid_pages_switch_video_and_people_off_the_page_are_still_heard() {
    let app = spawn_app_with(&[("BUILTIN_MEDIA", "mesh")]).await;
    let browsers = Browser::start_many((0..3).map(|_| media_browser()).collect()).await;
    let [host, ada, ben] = &browsers[..] else {
        unreachable!()
    };
    let names = [
        ("mesh_grid_host", "Mo Mesh"),
        ("mesh_grid_ada", "Ada Aside"),
        ("mesh_grid_ben", "Ben Beyond"),
    ];
    for (b, (user, name)) in browsers.iter().zip(names) {
        sign_up(b, &app, user, name).await;
    }
    let meeting = start_instant_meeting(host, &app).await;
    join_grid(host, true).await;
    enter(ada, &app, &meeting, false).await;
    enter(ben, &app, &meeting, false).await;
    wait_remote_tiles(host, 2).await;

    let me = "Mo Mesh (You)";
    wait_pager(host, Some("Page 1 of 2")).await;
    wait_shown(host, &[me, "Ada Aside"]).await;
    wait_video(host, "Ada Aside", Duration::from_secs(20)).await;
    wait_heard_off_page(host, "Ben Beyond").await;

    host.click_css("#grid-next").await;
    wait_pager(host, Some("Page 2 of 2")).await;
    wait_shown(host, &[me, "Ben Beyond"]).await;
    wait_video(host, "Ben Beyond", Duration::from_secs(5)).await;
    wait_heard_off_page(host, "Ada Aside").await;

    for b in browsers {
        b.quit().await;
    }
}

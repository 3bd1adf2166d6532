//! The dashboard in a real browser: schedule, copy, list, join; instant meetings; the
//! personal room; local time zones.

use serde_json::json;

use super::sign_up;
use super::webdriver::{Browser, BrowserOptions};
use crate::helpers::spawn_app;

async fn clipboard(browser: &Browser) -> String {
    browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             navigator.clipboard.readText().then(done, (e) => done('ERROR ' + e));",
            vec![],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn schedule_copy_the_link_see_it_upcoming_and_join_by_pasting_it() {
    let app = spawn_app().await;
    let browser = Browser::start(BrowserOptions::default()).await;
    sign_up(&browser, &app, "scheduler", "Sam Scheduler").await;

    browser.click_css("#card-schedule").await;
    browser
        .wait("dialog#modal[open] #schedule-description")
        .await;
    browser
        .type_into("#schedule-description", "Roadmap review")
        .await;
    // The picker starts at the next quarter hour, in the future.
    let picked = browser
        .execute(
            "return document.querySelector('#schedule-when').value",
            vec![],
        )
        .await;
    assert!(picked.as_str().is_some_and(|v| v.len() == 16), "{picked}");
    browser.snapshot("schedule-modal").await;
    browser.click_css("dialog#modal button[type=submit]").await;
    browser.wait("#meeting-created").await;
    browser.wait_for_text("Meeting Created").await;
    browser.snapshot("meeting-created").await;
    let link = browser
        .execute(
            "return document.querySelector('#meeting-link').textContent",
            vec![],
        )
        .await
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        link.starts_with(&format!("{}/meeting/", app.address)),
        "{link}"
    );

    browser.click_css("#meeting-created [data-copy]").await;
    browser.wait_for_text("Link Copied").await;
    assert_eq!(clipboard(&browser).await, link);

    // The modal closes with Escape and opens fresh next time.
    browser.press_key("\u{E00C}").await;
    let open = browser
        .execute("return document.querySelector('#modal').open", vec![])
        .await;
    assert_eq!(open, false);
    browser.click_css("#card-schedule").await;
    browser
        .wait("dialog#modal[open] #schedule-description")
        .await;
    let fresh = browser
        .execute("return [document.querySelector('#schedule-description').value, !!document.querySelector('#meeting-created')]", vec![])
        .await;
    assert_eq!(fresh, json!(["", false]));
    browser.click_css("dialog#modal [data-close-modal]").await;

    browser.goto(&app.url("/upcoming")).await;
    browser.wait_for_text("Roadmap review").await;
    browser.snapshot("upcoming").await;

    browser.goto(&app.url("/")).await;
    browser.wait_for_text("Upcoming Meeting at:").await;
    browser.click_css("#card-join").await;
    browser
        .type_into("#join-link", "https://evil.example/meeting/x")
        .await;
    browser.click_css("dialog#modal button[type=submit]").await;
    browser.wait("#join-error").await;
    browser.wait_for_text("another site").await;
    browser.type_into("#join-link", &link).await;
    browser.click_css("dialog#modal button[type=submit]").await;
    let id = link.rsplit('/').next().unwrap().to_owned();
    browser
        .wait_for_path(|p| p == format!("/meeting/{id}"))
        .await;
    browser.wait("#meeting-room").await;
    browser.quit().await;
}

#[tokio::test]
async fn start_an_instant_meeting() {
    let app = spawn_app().await;
    let browser = Browser::start(BrowserOptions::default()).await;
    sign_up(&browser, &app, "instant", "Ivy Instant").await;
    browser.click_css("#card-new").await;
    browser.wait("dialog#modal[open]").await;
    browser.wait_for_text("Start an Instant Meeting").await;
    browser.click_css("dialog#modal button[type=submit]").await;
    let path = browser.wait_for_path(|p| p.starts_with("/meeting/")).await;
    assert_eq!(path.len(), "/meeting/".len() + 36);
    browser.wait("#meeting-room").await;
    browser.wait_for_text("Instant Meeting").await;
    browser.quit().await;
}

#[tokio::test]
async fn the_personal_room_starts_and_its_invitation_copies() {
    let app = spawn_app().await;
    let browser = Browser::start(BrowserOptions::default()).await;
    sign_up(&browser, &app, "roomowner", "Rita Room").await;
    browser.click_css(".sidebar a[href='/personal-room']").await;
    browser.wait_for_text("Rita Room's Meeting Room").await;
    browser.snapshot("personal-room").await;
    let invite = browser
        .execute(
            "return document.querySelector('#invite-link').textContent",
            vec![],
        )
        .await
        .as_str()
        .unwrap()
        .to_owned();
    browser.click_css("#copy-invitation").await;
    browser.wait_for_text("Link Copied").await;
    assert_eq!(clipboard(&browser).await, invite);
    browser.click_css("#start-personal").await;
    browser
        .wait_for_path(|p| p.ends_with("?personal=true"))
        .await;
    browser.wait("#meeting-room").await;
    browser.wait_for_text("Rita Room's Meeting Room").await;
    browser.quit().await;
}

#[tokio::test]
async fn times_show_in_the_browsers_time_zone() {
    let app = spawn_app().await;
    app.signed_in_as("tz_owner").await;
    let id = app.schedule_in(24 * 60, "Across the world").await;
    let browser = Browser::start(BrowserOptions {
        time_zone: Some("Asia/Kolkata".into()),
        ..Default::default()
    })
    .await;
    sign_up(&browser, &app, "tz_viewer", "Tara Zone").await;
    let zone = browser
        .execute(
            "return Intl.DateTimeFormat().resolvedOptions().timeZone",
            vec![],
        )
        .await;
    // Chromium reports the zone by its older name.
    assert!(zone == "Asia/Kolkata" || zone == "Asia/Calcutta", "{zone}");
    // The clock ticks in that zone.
    let clock = browser
        .execute(
            "const shown = document.querySelector('.hero-time').textContent;
             const expected = new Intl.DateTimeFormat(undefined, {hour: 'numeric', minute: '2-digit', timeZone: 'Asia/Kolkata'}).format(new Date());
             const utc = new Intl.DateTimeFormat(undefined, {hour: 'numeric', minute: '2-digit', timeZone: 'UTC'}).format(new Date());
             return [shown, expected, utc];",
            vec![],
        )
        .await;
    assert_eq!(clock[0], clock[1], "{clock}");
    assert_ne!(clock[0], clock[2], "not UTC: {clock}");
    let date = browser
        .execute(
            "return document.querySelector('.hero-date').textContent",
            vec![],
        )
        .await;
    assert!(date.as_str().is_some_and(|d| d.contains("20")), "{date}");

    // A meeting's time on its waiting page is local too.
    browser.goto(&app.url(&format!("/meeting/{id}"))).await;
    browser.wait("#not-started").await;
    let shown = browser
        .execute(
            "const t = document.querySelector('#not-started time');
             const expected = new Intl.DateTimeFormat(undefined, {year: 'numeric', month: 'long', day: 'numeric', hour: 'numeric', minute: '2-digit', timeZone: 'Asia/Kolkata'}).format(new Date(t.getAttribute('datetime')));
             return [t.textContent, expected];",
            vec![],
        )
        .await;
    assert_eq!(shown[0], shown[1], "{shown}");
    browser.quit().await;
}

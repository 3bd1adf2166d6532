//! Recording a real call in the browser: it lands in Recordings, plays with a real duration,
//! and deleting it removes it and its file.

use std::time::{Duration, Instant};

use super::call::{assert_receiving, join, media_browser, start_instant_meeting, wait_state};
use super::sign_up;
use super::webdriver::Browser;
use crate::helpers::spawn_app;

#[tokio::test]
async fn record_five_seconds_of_a_call_then_play_and_delete_it() {
    let app = spawn_app().await;
    let browsers = Browser::start_many(vec![media_browser(), media_browser()]).await;
    let [host, guest] = &browsers[..] else {
        unreachable!()
    };
    sign_up(host, &app, "rec_browser_host", "Remy Host").await;
    sign_up(guest, &app, "rec_browser_guest", "Gina Guest").await;
    let meeting = start_instant_meeting(host, &app).await;
    host.click_css("#join-button").await;
    wait_state(host, "joined").await;
    join(guest, &app, &meeting, false).await;
    assert_receiving(host, 1, "host").await;

    host.click_css("#toggle-record").await;
    // Everyone sees that the call is being recorded.
    guest.wait("#recording-indicator").await;
    let started = Instant::now();
    while host
        .execute("return document.body.dataset.recording", vec![])
        .await
        != "on"
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "recording never started"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    host.snapshot("recording").await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    host.click_css("#toggle-record").await;
    let stopping = Instant::now();
    while host
        .execute("return window.yoomCall.recorder.state()", vec![])
        .await
        != "idle"
    {
        assert!(
            stopping.elapsed() < Duration::from_secs(15),
            "recording never finished"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let indicator_gone = Instant::now();
    loop {
        let visible = guest
            .execute(
                "const el = document.querySelector('#recording-indicator'); return !!el && !el.hidden && el.offsetParent !== null;",
                vec![],
            )
            .await;
        if visible == false {
            break;
        }
        assert!(
            indicator_gone.elapsed() < Duration::from_secs(10),
            "the indicator stayed on"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    host.goto(&app.url("/recordings")).await;
    host.wait("article[data-recording-id]").await;
    let id = host
        .execute(
            "return document.querySelector('article[data-recording-id]').dataset.recordingId",
            vec![],
        )
        .await
        .as_str()
        .unwrap()
        .to_owned();
    host.click_css("article[data-recording-id] a.button-primary")
        .await;
    host.wait_for_path(|p| p == format!("/recordings/{id}"))
        .await;
    let duration = host
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const v = document.querySelector('#player');
             const report = () => done(v.duration);
             if (v.readyState >= 1) report(); else v.addEventListener('loadedmetadata', report, { once: true });
             setTimeout(() => done(v.duration), 10000);",
            vec![],
        )
        .await;
    let seconds = duration.as_f64().unwrap_or(0.0);
    assert!(
        seconds.is_finite() && seconds > 3.0,
        "player duration {duration}"
    );
    host.snapshot("recording-page").await;
    let file = app
        .data_dir
        .path()
        .join("recordings")
        .join(format!("{id}.webm"));
    assert!(file.exists());

    host.goto(&app.url("/recordings")).await;
    host.click_css(&format!("#recording-{id} button.button-danger"))
        .await;
    host.execute("return 1", vec![]).await; // accepts the confirm()
    let deleting = Instant::now();
    while host.find(&format!("#recording-{id}")).await.is_some() {
        assert!(
            deleting.elapsed() < Duration::from_secs(10),
            "the card stayed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    host.wait_for_text("Recording deleted").await;
    host.goto(&app.url("/recordings")).await;
    host.wait_for_text("No Recordings").await;
    assert!(!file.exists(), "the file is deleted too");
    for b in browsers {
        b.quit().await;
    }
}

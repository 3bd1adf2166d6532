//! Recordings in Stream mode, against the local Stream mock: the Record button's cloud
//! recording (start, stop, who may, what Stream's refusals become), the Recordings list merged
//! from Stream's REST API and its webhooks, deleting through Stream, and refreshed URLs.

use serde_json::{Value, json};

use crate::helpers::{TestApp, header, new_client};
use crate::stream::{
    admit, assert_server_call, id_of, post_presence, post_webhook, sign, stream_app,
};
use crate::stream_mock::{MockStream, Reply, SECRET};

async fn post_json(client: &reqwest::Client, app: &TestApp, path: &str) -> (u16, Value) {
    let res = client
        .post(app.url(path))
        .header("Origin", &app.address)
        .header("Sec-Fetch-Site", "same-origin")
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// A one-minute recording around now: people present in the meeting now were there for it.
fn recording_span() -> (String, String) {
    let now = chrono::Utc::now();
    let at = |d: chrono::Duration| (now + d).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    (
        at(chrono::Duration::seconds(-30)),
        at(chrono::Duration::seconds(30)),
    )
}

fn listing(files: &[(&str, &str, &str)]) -> Reply {
    let (start, end) = recording_span();
    let recordings: Vec<Value> = files
        .iter()
        .map(|(file, session, sig)| {
            json!({
                "filename": file, "session_id": session, "recording_type": "composite",
                "url": format!("https://cdn.example/{file}?sig={sig}"),
                "start_time": start, "end_time": end
            })
        })
        .collect();
    Reply::status(
        200,
        json!({ "recordings": recordings, "duration": "1.00ms" }),
    )
}

/// Delivers `call.recording_ready` for one file, signed as Stream signs it.
async fn recording_ready(app: &TestApp, meeting: &str, file: &str, session: &str, sig: &str) {
    let (start, end) = recording_span();
    let body = json!({
        "type": "call.recording_ready", "call_cid": format!("default:{meeting}"),
        "egress_id": "e1", "recording_type": "composite", "created_at": "2026-03-29T15:32:00Z",
        "call_recording": {
            "filename": file, "session_id": session, "recording_type": "composite",
            "url": format!("https://cdn.example/{file}?sig={sig}"),
            "start_time": start, "end_time": end
        }
    })
    .to_string();
    let res = post_webhook(
        app,
        body.as_bytes(),
        Some(&sign(body.as_bytes(), SECRET)),
        false,
    )
    .await;
    assert_eq!(res.status(), 200);
}

async fn stored(app: &TestApp, meeting: &str) -> Vec<yoom::recordings::Recording> {
    yoom::recordings::store::provider_recordings(&app.db().await, meeting, "stream")
        .await
        .unwrap()
}

fn cards(html: &str) -> usize {
    html.matches("data-recording-id=").count()
}

/// A meeting the host started and was present in (so it can have recordings).
async fn attended_meeting(app: &TestApp, title: &str) -> String {
    let meeting = app.start_instant(title).await;
    assert_eq!(post_presence(&app.client, app, &meeting).await, 204);
    meeting
}

// ---- Cloud recording: start and stop --------------------------------------------------------

#[tokio::test]
async fn the_host_starts_and_stops_streams_cloud_recording() {
    let mock = MockStream::start().await;
    let app = stream_app(&mock).await;
    app.signed_in_as("cloud_host").await;
    let meeting = app.start_instant("Cloud recorded").await;
    mock.clear();

    let (status, body) =
        post_json(&app.client, &app, &format!("/meeting/{meeting}/recordings")).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["provider"], "stream");
    let starts = mock.requests_to("/recordings/composite/start");
    assert_eq!(starts.len(), 1);
    assert_server_call(
        &starts[0],
        "POST",
        &format!("/api/v2/video/call/default/{meeting}/recordings/composite/start"),
    );
    assert_eq!(starts[0].json(), json!({}));
    assert!(
        stored(&app, &meeting).await.is_empty(),
        "nothing is uploaded to us: Stream records"
    );
    let open: i64 = sqlx::query_scalar("select count(*) from recording")
        .fetch_one(&app.db().await)
        .await
        .unwrap();
    assert_eq!(open, 0);

    let (status, body) = post_json(
        &app.client,
        &app,
        &format!("/meeting/{meeting}/recordings/stop"),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let stops = mock.requests_to("/recordings/composite/stop");
    assert_eq!(stops.len(), 1);
    assert_server_call(
        &stops[0],
        "POST",
        &format!("/api/v2/video/call/default/{meeting}/recordings/composite/stop"),
    );
}

#[tokio::test]
async fn only_the_host_or_attendees_the_host_allows_may_start_or_stop_it() {
    let mock = MockStream::start().await;
    let app = stream_app(&mock).await;
    app.signed_in_as("rule_host").await;
    let meeting = attended_meeting(&app, "Rules").await;
    let guest = app.other_client();
    guest.signed_in_as("rule_guest").await;
    let guest_id = id_of(&guest.client, &app.address).await;
    admit(&app, &meeting, &guest_id).await;
    assert_eq!(post_presence(&guest.client, &app, &meeting).await, 204);
    let stranger = app.other_client();
    stranger.signed_in_as("rule_stranger").await;
    let start = format!("/meeting/{meeting}/recordings");
    let stop = format!("/meeting/{meeting}/recordings/stop");

    for path in [&start, &stop] {
        let (status, body) = post_json(&guest.client, &app, path).await;
        assert_eq!(status, 403, "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("host"));
        assert_eq!(post_json(&new_client(), &app, path).await.0, 401);
    }
    assert!(mock.requests_to("/recordings/composite/start").is_empty());
    assert!(mock.requests_to("/recordings/composite/stop").is_empty());

    // The host lets everyone record: the attendee may, the stranger still may not.
    let res = app
        .post_form(
            &format!("/meeting/{meeting}/recording-permission"),
            &[("allowed", "true")],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(post_json(&guest.client, &app, &start).await.0, 202);
    assert_eq!(post_json(&guest.client, &app, &stop).await.0, 202);
    assert_eq!(post_json(&stranger.client, &app, &start).await.0, 403);
    assert_eq!(mock.requests_to("/recordings/composite/start").len(), 1);

    // Unknown and malformed meetings.
    let (status, _) = post_json(
        &app.client,
        &app,
        "/meeting/00000000-0000-4000-8000-000000000000/recordings/stop",
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(
        post_json(&app.client, &app, "/meeting/nope/recordings")
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn streams_refusals_are_explained_and_starting_is_never_sent_twice() {
    let mock = MockStream::start().await;
    let app = stream_app(&mock).await;
    app.signed_in_as("refused_host").await;
    let meeting = app.start_instant("Refused").await;
    let start = format!("/meeting/{meeting}/recordings");

    mock.script(
        "/recordings/composite/start",
        vec![Reply::error(
            400,
            4,
            "StartRecording failed with error: \"call is already being recorded\"",
        )],
    );
    let (status, body) = post_json(&app.client, &app, &start).await;
    assert_eq!(status, 409, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("already being recorded"), "{message}");

    // An outage: one attempt only (a second could hide the first one's success), then a clear
    // message.
    mock.clear();
    mock.script(
        "/recordings/composite/start",
        vec![Reply::error(503, 0, "down"); 3],
    );
    let (status, body) = post_json(&app.client, &app, &start).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("could not be reached")
    );
    assert_eq!(mock.requests_to("/recordings/composite/start").len(), 1);

    // A meeting that is over cannot be recorded, and Stream is not asked.
    mock.clear();
    app.post_form(&format!("/meeting/{meeting}/end"), &[]).await;
    assert_eq!(post_json(&app.client, &app, &start).await.0, 410);
    assert!(mock.requests_to("/recordings/composite/start").is_empty());
}

#[tokio::test]
async fn the_stop_endpoint_is_only_for_hosted_recording() {
    let app = crate::helpers::spawn_app().await;
    app.signed_in_as("mesh_stopper").await;
    let meeting = app.start_instant("Mesh").await;
    let (status, body) = post_json(
        &app.client,
        &app,
        &format!("/meeting/{meeting}/recordings/stop"),
    )
    .await;
    assert_eq!(status, 404, "{body}");
}

// ---- The list: REST and webhooks merged ------------------------------------------------------

#[tokio::test]
async fn the_list_merges_streams_listing_and_webhooks_without_duplicates() {
    let mock = MockStream::start().await;
    let app = stream_app(&mock).await;
    app.signed_in_as("merge_host").await;
    let meeting = attended_meeting(&app, "Merged").await;
    let guest = app.other_client();
    guest.signed_in_as("merge_guest").await;
    let guest_id = id_of(&guest.client, &app.address).await;
    admit(&app, &meeting, &guest_id).await;
    assert_eq!(post_presence(&guest.client, &app, &meeting).await, 204);
    let stranger = app.other_client();
    stranger.signed_in_as("merge_stranger").await;

    // The webhook told us about one file; Stream's listing has it (with a newer URL) and one
    // more.
    recording_ready(&app, &meeting, "rec_a.mp4", "s1", "1").await;
    mock.script(
        &format!("{meeting}/recordings"),
        vec![listing(&[
            ("rec_a.mp4", "s1", "2"),
            ("rec_b.mp4", "s2", "1"),
        ])],
    );
    mock.clear();
    let page = app.get("/recordings").await.text().await.unwrap();
    assert_eq!(cards(&page), 2, "{page}");
    let listed = mock.requests_to("/recordings");
    assert_eq!(listed.len(), 1);
    assert_server_call(
        &listed[0],
        "GET",
        &format!("/api/v2/video/call/default/{meeting}/recordings"),
    );
    let rows = stored(&app, &meeting).await;
    assert_eq!(rows.len(), 2);
    let a = rows
        .iter()
        .find(|r| r.provider_file.as_deref() == Some("rec_a.mp4"))
        .unwrap();
    assert_eq!(
        a.url.as_deref(),
        Some("https://cdn.example/rec_a.mp4?sig=2")
    );
    assert_eq!(a.duration_ms, Some(60_000));
    let b = rows
        .iter()
        .find(|r| r.provider_file.as_deref() == Some("rec_b.mp4"))
        .unwrap();
    assert_eq!(b.provider_session.as_deref(), Some("s2"));
    // Stream gives no size: the card says so instead of "1 KB".
    assert!(page.contains("1:00 · —"), "{page}");

    // Within half a minute nobody asks Stream again: not a reload, not another attendee.
    let page = app.get("/recordings").await.text().await.unwrap();
    assert_eq!(cards(&page), 2);
    let page = guest.get("/recordings").await.text().await.unwrap();
    assert_eq!(cards(&page), 2, "the attendee sees them too");
    assert_eq!(mock.requests_to("/recordings").len(), 1);
    // The same webhook again changes nothing in the list.
    recording_ready(&app, &meeting, "rec_b.mp4", "s2", "1").await;
    assert_eq!(stored(&app, &meeting).await.len(), 2);

    // Someone who was not in the meeting sees none, and Stream is not asked about it.
    mock.clear();
    let page = stranger.get("/recordings").await.text().await.unwrap();
    assert_eq!(cards(&page), 0);
    assert!(mock.requests_to("/recordings").is_empty());
}

#[tokio::test]
async fn listing_many_meetings_asks_stream_a_few_at_a_time() {
    let mock = MockStream::start().await;
    let app = stream_app(&mock).await;
    app.signed_in_as("busy_host").await;
    let mut meetings = Vec::new();
    for i in 0..10 {
        meetings.push(attended_meeting(&app, &format!("Busy {i}")).await);
    }
    mock.script(
        "/recordings",
        vec![listing(&[]).delayed(std::time::Duration::from_millis(150)); 10],
    );
    mock.clear();
    let res = app.get("/recordings").await;
    assert_eq!(res.status(), 200);
    let asked = mock.requests_to("/recordings");
    assert_eq!(asked.len(), 10, "each recent meeting once");
    let most = mock.max_in_flight();
    assert!(
        (2..=yoom::recordings::hosted::LIST_CONCURRENCY).contains(&most),
        "{most} at once"
    );
}

#[tokio::test]
async fn when_stream_does_not_answer_the_list_shows_what_it_has_and_says_so() {
    let mock = MockStream::start().await;
    let app = stream_app(&mock).await;
    app.signed_in_as("outage_host").await;
    let meeting = attended_meeting(&app, "Outage").await;
    recording_ready(&app, &meeting, "rec_kept.mp4", "s1", "1").await;
    mock.script("/recordings", vec![Reply::error(503, 0, "down"); 3]);

    let res = app.get("/recordings").await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert_eq!(cards(&page), 1, "the webhook's recording is still shown");
    assert!(page.contains("did not answer in time"), "{page}");

    // A failed listing is not remembered: the next visit asks again, and all is well.
    let page = app.get("/recordings").await.text().await.unwrap();
    assert!(!page.contains("did not answer in time"), "{page}");
}

#[tokio::test]
async fn a_recording_stream_no_longer_lists_is_removed_once_it_is_old() {
    let mock = MockStream::start().await;
    let app = stream_app(&mock).await;
    app.signed_in_as("forget_host").await;
    let meeting = attended_meeting(&app, "Forget").await;
    recording_ready(&app, &meeting, "rec_old.mp4", "s1", "1").await;
    recording_ready(&app, &meeting, "rec_new.mp4", "s2", "1").await;
    // The old one was last reported ten minutes ago; the new one just now (a listing may not
    // have it yet).
    sqlx::query("update recording set provider_seen_at = provider_seen_at - 600 where provider_file = 'rec_old.mp4'")
        .execute(&app.db().await)
        .await
        .unwrap();
    mock.script(&format!("{meeting}/recordings"), vec![listing(&[])]);
    let page = app.get("/recordings").await.text().await.unwrap();
    assert_eq!(cards(&page), 1, "{page}");
    let rows = stored(&app, &meeting).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].provider_file.as_deref(), Some("rec_new.mp4"));
}

// ---- Delete and play ------------------------------------------------------------------------

#[tokio::test]
async fn deleting_a_stream_recording_deletes_it_at_stream_first() {
    let mock = MockStream::start().await;
    let app = stream_app(&mock).await;
    app.signed_in_as("delete_host").await;
    let meeting = attended_meeting(&app, "Deleted").await;
    let guest = app.other_client();
    guest.signed_in_as("delete_guest").await;
    let guest_id = id_of(&guest.client, &app.address).await;
    admit(&app, &meeting, &guest_id).await;
    assert_eq!(post_presence(&guest.client, &app, &meeting).await, 204);
    recording_ready(&app, &meeting, "rec_1.mp4", "s1", "1").await;
    let id = stored(&app, &meeting).await[0].id.clone();
    mock.clear();

    // An attendee may watch but not delete; Stream is not asked.
    let res = guest
        .post_form(&format!("/recordings/{id}/delete"), &[])
        .await;
    assert_eq!(res.status(), 403);
    assert!(mock.requests_to("/rec_1.mp4").is_empty());

    // Stream fails: the recording stays, and the host is told in place.
    mock.script("/rec_1.mp4", vec![Reply::error(500, 0, "oops"); 3]);
    let res = app
        .post_htmx(&format!("/recordings/{id}/delete"), &[])
        .await;
    assert_eq!(res.status(), 503);
    assert_eq!(header(res.headers(), "hx-retarget"), "#toasts");
    let toast = res.text().await.unwrap();
    assert!(toast.contains("did not delete the recording"), "{toast}");
    assert_eq!(stored(&app, &meeting).await.len(), 1);

    // Then it works: exactly Stream's delete endpoint, and the row is gone.
    mock.clear();
    let res = app
        .post_htmx(&format!("/recordings/{id}/delete"), &[])
        .await;
    assert_eq!(res.status(), 200);
    let deletes = mock.requests_to("/rec_1.mp4");
    assert_eq!(deletes.len(), 1);
    assert_server_call(
        &deletes[0],
        "DELETE",
        &format!("/api/v2/video/call/default/{meeting}/s1/recordings/rec_1.mp4"),
    );
    assert!(stored(&app, &meeting).await.is_empty());
    assert_eq!(
        app.get(&format!("/recordings/{id}")).await.status(),
        404,
        "gone for everyone"
    );
}

#[tokio::test]
async fn a_recording_stream_already_deleted_is_removed_here_too() {
    let mock = MockStream::start().await;
    let app = stream_app(&mock).await;
    app.signed_in_as("gone_host").await;
    let meeting = attended_meeting(&app, "Gone").await;
    recording_ready(&app, &meeting, "rec_404.mp4", "s1", "1").await;
    recording_ready(&app, &meeting, "rec_400.mp4", "s1", "1").await;
    recording_ready(&app, &meeting, "rec_held.mp4", "s1", "1").await;
    let id_of = |rows: &[yoom::recordings::Recording], file: &str| {
        rows.iter()
            .find(|r| r.provider_file.as_deref() == Some(file))
            .unwrap()
            .id
            .clone()
    };
    let rows = stored(&app, &meeting).await;

    // 404: Stream has it no more.
    mock.script("/rec_404.mp4", vec![Reply::error(404, 16, "not found")]);
    let res = app
        .post_form(
            &format!("/recordings/{}/delete", id_of(&rows, "rec_404.mp4")),
            &[],
        )
        .await;
    assert_eq!(res.status(), 303);

    // A refusal for a file Stream no longer lists: removed here.
    mock.script(
        "/rec_400.mp4",
        vec![Reply::error(400, 4, "recording not found")],
    );
    mock.script(
        &format!("{meeting}/recordings"),
        vec![listing(&[("rec_held.mp4", "s1", "1")]); 2],
    );
    let res = app
        .post_form(
            &format!("/recordings/{}/delete", id_of(&rows, "rec_400.mp4")),
            &[],
        )
        .await;
    assert_eq!(res.status(), 303);

    // A refusal for a file Stream still lists: kept, and the host is told.
    mock.script("/rec_held.mp4", vec![Reply::error(403, 17, "not allowed")]);
    let res = app
        .post_form(
            &format!("/recordings/{}/delete", id_of(&rows, "rec_held.mp4")),
            &[],
        )
        .await;
    assert_eq!(res.status(), 503);
    let left: Vec<_> = stored(&app, &meeting)
        .await
        .into_iter()
        .filter_map(|r| r.provider_file)
        .collect();
    assert_eq!(left, ["rec_held.mp4"]);
}

#[tokio::test]
async fn an_old_stream_url_is_refreshed_before_it_is_played() {
    let mock = MockStream::start().await;
    let app = stream_app(&mock).await;
    app.signed_in_as("play_host").await;
    let meeting = attended_meeting(&app, "Played").await;
    recording_ready(&app, &meeting, "rec_p.mp4", "s1", "1").await;
    let id = stored(&app, &meeting).await[0].id.clone();

    // Fresh: played from the stored URL, Stream not asked.
    mock.clear();
    let res = app.get(&format!("/recordings/{id}/file")).await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        header(res.headers(), "location"),
        "https://cdn.example/rec_p.mp4?sig=1"
    );
    assert!(mock.requests_to("/recordings").is_empty());

    // Two days old: the listing's newer URL is used.
    sqlx::query("update recording set provider_seen_at = provider_seen_at - 172800")
        .execute(&app.db().await)
        .await
        .unwrap();
    mock.script(
        &format!("{meeting}/recordings"),
        vec![listing(&[("rec_p.mp4", "s1", "9")])],
    );
    let res = app.get(&format!("/recordings/{id}/file")).await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        header(res.headers(), "location"),
        "https://cdn.example/rec_p.mp4?sig=9"
    );
}

//! Recordings: the slice upload protocol, access rules, share links and range playback.

use reqwest::StatusCode;
use serde_json::Value;
use yoom::meetings::store as meetings;

use crate::helpers::{TestApp, TestApp2, header, spawn_app_with};

pub async fn start(app: &TestApp, meeting: &str) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/meeting/{meeting}/recordings")))
        .header("Origin", &app.address)
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap()
}

pub async fn start_ok(app: &TestApp, meeting: &str) -> String {
    let res = start(app, meeting).await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

pub async fn slice(
    client: &reqwest::Client,
    address: &str,
    rec: &str,
    seq: i64,
    bytes: Vec<u8>,
) -> (StatusCode, Value) {
    let res = client
        .put(format!("{address}/recordings/{rec}/slices/{seq}"))
        .header("Origin", address)
        .header("Accept", "application/json")
        .header("Content-Type", "video/webm")
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

pub async fn finish(client: &reqwest::Client, address: &str, rec: &str) -> (StatusCode, Value) {
    let res = client
        .post(format!("{address}/recordings/{rec}/finish"))
        .header("Origin", address)
        .header("Accept", "application/json")
        .json(&serde_json::json!({"durationMs": 5000}))
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

pub async fn file_bytes(app: &TestApp, rec: &str) -> Vec<u8> {
    let res = app.get(&format!("/recordings/{rec}/file")).await;
    assert_eq!(res.status(), 200);
    res.bytes().await.unwrap().to_vec()
}

pub fn chunk(tag: u8, len: usize) -> Vec<u8> {
    vec![tag; len]
}

pub async fn host_with_meeting(vars: &[(&str, &str)]) -> (TestApp, String) {
    let app = spawn_app_with(vars).await;
    app.signed_in_as("rec_host").await;
    let meeting = app.start_instant("Recorded meeting").await;
    (app, meeting)
}

#[tokio::test]
async fn slices_in_order_make_the_file_and_finishing_makes_it_ready() {
    let (app, meeting) = host_with_meeting(&[]).await;
    let rec = start_ok(&app, &meeting).await;
    for (seq, tag) in [(0, b'a'), (1, b'b'), (2, b'c')] {
        let (status, body) = slice(&app.client, &app.address, &rec, seq, chunk(tag, 1000)).await;
        assert_eq!(status, 200);
        assert_eq!(body["acked"], true);
        assert_eq!(body["bytes"], (seq + 1) * 1000);
    }
    let (status, body) = finish(&app.client, &app.address, &rec).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ready");
    assert_eq!(body["url"], format!("/recordings/{rec}"));
    let bytes = file_bytes(&app, &rec).await;
    assert_eq!(
        bytes,
        [chunk(b'a', 1000), chunk(b'b', 1000), chunk(b'c', 1000)].concat()
    );
    // Finishing again is harmless; slices after it are refused.
    assert_eq!(finish(&app.client, &app.address, &rec).await.0, 200);
    let (status, body) = slice(&app.client, &app.address, &rec, 3, chunk(b'd', 10)).await;
    assert_eq!(status, 409);
    assert_eq!(body["error"]["code"], "finished");
    // A second recording may start once the first is done; not two at once.
    let second = start_ok(&app, &meeting).await;
    assert_eq!(start(&app, &meeting).await.status(), 409);
    finish(&app.client, &app.address, &second).await;
}

#[tokio::test]
async fn out_of_order_and_duplicate_slices_end_up_in_order_once() {
    let (app, meeting) = host_with_meeting(&[]).await;
    let rec = start_ok(&app, &meeting).await;
    let (status, body) = slice(&app.client, &app.address, &rec, 1, chunk(b'b', 10)).await;
    assert_eq!(status, 202);
    assert_eq!(body["pending"], true);
    let (status, _) = slice(&app.client, &app.address, &rec, 2, chunk(b'c', 10)).await;
    assert_eq!(status, 202);
    let (status, body) = slice(&app.client, &app.address, &rec, 0, chunk(b'a', 10)).await;
    assert_eq!(status, 200);
    assert_eq!(body["bytes"], 30, "the waiting slices followed");
    // Duplicates (a retry whose answer was lost) are acknowledged, not written again.
    for seq in [0, 1, 2] {
        let (status, body) = slice(&app.client, &app.address, &rec, seq, chunk(b'x', 10)).await;
        assert_eq!(status, 200, "seq {seq}");
        assert_eq!(body["bytes"], 30);
    }
    finish(&app.client, &app.address, &rec).await;
    assert_eq!(
        file_bytes(&app, &rec).await,
        [chunk(b'a', 10), chunk(b'b', 10), chunk(b'c', 10)].concat()
    );
}

#[tokio::test]
async fn a_gap_keeps_only_the_unbroken_start() {
    let (app, meeting) = host_with_meeting(&[]).await;
    let rec = start_ok(&app, &meeting).await;
    slice(&app.client, &app.address, &rec, 0, chunk(b'a', 10)).await;
    assert_eq!(
        slice(&app.client, &app.address, &rec, 2, chunk(b'c', 10))
            .await
            .0,
        202
    );
    let (status, _) = slice(&app.client, &app.address, &rec, 500, chunk(b'z', 10)).await;
    assert_eq!(status, 400, "far ahead of the gap");
    finish(&app.client, &app.address, &rec).await;
    assert_eq!(file_bytes(&app, &rec).await, chunk(b'a', 10));
}

#[tokio::test]
async fn an_oversize_slice_and_the_total_limit_are_refused_and_what_was_saved_stays() {
    let (app, meeting) = host_with_meeting(&[("RECORDING_MAX_BYTES", "1000000")]).await;
    let rec = start_ok(&app, &meeting).await;
    let (status, body) = slice(
        &app.client,
        &app.address,
        &rec,
        0,
        chunk(b'x', 8 * 1024 * 1024 + 1),
    )
    .await;
    assert_eq!(status, 413);
    assert!(
        body.is_null() || body["error"]["code"] == "too_large",
        "{body}"
    );
    assert_eq!(
        slice(&app.client, &app.address, &rec, 0, chunk(b'a', 600_000))
            .await
            .0,
        200
    );
    let (status, body) = slice(&app.client, &app.address, &rec, 1, chunk(b'b', 600_000)).await;
    assert_eq!(status, 507);
    assert_eq!(body["error"]["code"], "limit_reached");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("What was recorded is saved")
    );
    // The recording was finished with its first slice.
    assert_eq!(file_bytes(&app, &rec).await, chunk(b'a', 600_000));
}

#[tokio::test]
async fn only_the_host_or_people_the_host_allows_may_record() {
    let (app, meeting) = host_with_meeting(&[]).await;
    let guest = app.other_client();
    guest.signed_in_as("rec_guest").await;
    let stranger = app.other_client();
    stranger.signed_in_as("rec_stranger").await;
    let db = app.db().await;
    let guest_id = yoom::auth::accounts::find_for_sign_in(&db, "rec_guest")
        .await
        .unwrap()
        .unwrap()
        .0
        .id;
    meetings::record_join(&db, &meeting, &guest_id, yoom::time::now())
        .await
        .unwrap();

    let try_start = |who: &TestApp2| {
        let req = who
            .client
            .post(app.url(&format!("/meeting/{meeting}/recordings")))
            .header("Origin", &app.address)
            .header("Accept", "application/json");
        async move { req.send().await.unwrap().status() }
    };
    assert_eq!(try_start(&guest).await, 403);
    // Only the host may change that.
    let res = guest
        .post_form(
            &format!("/meeting/{meeting}/recording-permission"),
            &[("allowed", "true")],
        )
        .await;
    assert_eq!(res.status(), 403);
    let res = app
        .post_form(
            &format!("/meeting/{meeting}/recording-permission"),
            &[("allowed", "true")],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        try_start(&stranger).await,
        403,
        "never someone who is not in the meeting"
    );
    assert_eq!(try_start(&guest).await, 201);
    // The guest's recording takes slices from the guest only.
    let rec = yoom::recordings::store::active_in(&db, &meeting)
        .await
        .unwrap()
        .unwrap()
        .id;
    let (status, _) = slice(&app.client, &app.address, &rec, 0, chunk(b'a', 10)).await;
    assert_eq!(status, 403);
    let (status, _) = slice(&guest.client, &app.address, &rec, 0, chunk(b'a', 10)).await;
    assert_eq!(status, 200);
    // The host may stop it.
    assert_eq!(finish(&app.client, &app.address, &rec).await.0, 200);
}

#[tokio::test]
async fn a_recording_whose_uploader_vanished_is_finalised() {
    let (app, meeting) = host_with_meeting(&[]).await;
    let rec = start_ok(&app, &meeting).await;
    slice(&app.client, &app.address, &rec, 0, chunk(b'a', 100)).await;
    // Run the same sweep the server runs, as if a minute and more had passed.
    let uploads = yoom::recordings::upload::Uploads::new(
        app.db().await,
        yoom::recordings::files::RecordingFiles::new(app.data_dir.path()).unwrap(),
        yoom::recordings::upload::Quota {
            max_bytes: 2_000_000_000,
            account_bytes: 10_000_000_000,
            open_per_account: 2,
        },
    );
    let early = uploads.sweep(yoom::time::now()).await.unwrap();
    assert!(early.is_empty(), "not before the timeout");
    let done = uploads.sweep(yoom::time::now() + 120).await.unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].status, yoom::recordings::Status::Ready);
    assert_eq!(file_bytes(&app, &rec).await, chunk(b'a', 100));
}

#[tokio::test]
async fn a_server_restart_mid_recording_loses_no_acknowledged_slice() {
    let (app, meeting) = host_with_meeting(&[]).await;
    let rec = start_ok(&app, &meeting).await;
    slice(&app.client, &app.address, &rec, 0, chunk(b'a', 50)).await;
    slice(&app.client, &app.address, &rec, 1, chunk(b'b', 50)).await;
    app.server.stop(false).await;
    let port = app.port.to_string();
    let _again = app.respawn(&[("PORT", &port)]).await;
    // The same client (cookie) carries on where it was.
    let (status, body) = slice(&app.client, &app.address, &rec, 1, chunk(b'b', 50)).await;
    assert_eq!(
        (status, body["bytes"].clone()),
        (StatusCode::OK, Value::from(100)),
        "a retried slice"
    );
    assert_eq!(
        slice(&app.client, &app.address, &rec, 2, chunk(b'c', 50))
            .await
            .0,
        200
    );
    finish(&app.client, &app.address, &rec).await;
    assert_eq!(
        file_bytes(&app, &rec).await,
        [chunk(b'a', 50), chunk(b'b', 50), chunk(b'c', 50)].concat()
    );
}

/// A finished recording of 1000 known bytes; returns its id.
pub async fn finished_recording(app: &TestApp, meeting: &str) -> String {
    let rec = start_ok(app, meeting).await;
    let bytes: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
    slice(&app.client, &app.address, &rec, 0, bytes).await;
    finish(&app.client, &app.address, &rec).await;
    rec
}

#[tokio::test]
async fn owners_and_attendees_may_watch_strangers_and_the_signed_out_may_not() {
    let (app, meeting) = host_with_meeting(&[]).await;
    let attendee = app.other_client();
    attendee.signed_in_as("watcher").await;
    let db = app.db().await;
    let attendee_id = yoom::auth::accounts::find_for_sign_in(&db, "watcher")
        .await
        .unwrap()
        .unwrap()
        .0
        .id;
    // In the meeting while it is recorded.
    meetings::record_join(&db, &meeting, &attendee_id, yoom::time::now())
        .await
        .unwrap();
    let rec = finished_recording(&app, &meeting).await;
    let stranger = app.other_client();
    stranger.signed_in_as("nosy").await;

    let list = app.get("/recordings").await.text().await.unwrap();
    assert!(
        list.contains(&format!("data-recording-id=\"{rec}\"")) && list.contains("Recorded meeting")
    );
    assert!(
        list.contains(&format!("/recordings/{rec}/delete")),
        "the owner may delete"
    );
    let list = attendee.get("/recordings").await.text().await.unwrap();
    assert!(list.contains(&format!("data-recording-id=\"{rec}\"")));
    assert!(!list.contains("/delete"), "an attendee may not delete");
    assert!(
        stranger
            .get("/recordings")
            .await
            .text()
            .await
            .unwrap()
            .contains("No Recordings")
    );

    for path in [
        format!("/recordings/{rec}"),
        format!("/recordings/{rec}/file"),
    ] {
        assert_eq!(app.get(&path).await.status(), 200, "{path}");
        assert_eq!(attendee.get(&path).await.status(), 200, "{path}");
        assert_eq!(stranger.get(&path).await.status(), 404, "{path}");
        let anonymous = crate::helpers::new_client()
            .get(app.url(&path))
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 303, "{path}");
    }
    let page = app
        .get(&format!("/recordings/{rec}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("<video id=\"player\"") && page.contains("Download"));
    assert_eq!(
        attendee
            .post_form(&format!("/recordings/{rec}/delete"), &[])
            .await
            .status(),
        403
    );
    assert_eq!(
        stranger
            .post_form(&format!("/recordings/{rec}/delete"), &[])
            .await
            .status(),
        404
    );
}

pub fn share_link_in(html: &str) -> String {
    let start = html.find("/r/").unwrap();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].replace("&amp;", "&").replace("&#38;", "&")
}

#[tokio::test]
async fn a_share_link_plays_without_an_account_until_it_expires_or_the_recording_is_deleted() {
    let (app, meeting) = host_with_meeting(&[]).await;
    let rec = finished_recording(&app, &meeting).await;
    let page = app
        .get(&format!("/recordings/{rec}"))
        .await
        .text()
        .await
        .unwrap();
    let link = share_link_in(&page);
    let anonymous = crate::helpers::new_client();
    let res = anonymous.get(app.url(&link)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let shared = res.text().await.unwrap();
    assert!(shared.contains("Recorded meeting") && shared.contains("<video"));
    let file = link.replacen(&format!("/r/{rec}"), &format!("/r/{rec}/file"), 1);
    let res = anonymous.get(app.url(&file)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().len(), 1000);

    // Tampered: another expiry, another signature, another recording.
    let tampered_exp = link.replacen("exp=", "exp=9", 1);
    // The signature's last digit changed (to another digit than it was: one in 16 ends in 0).
    let other = if link.ends_with('0') { '1' } else { '0' };
    let tampered_sig = format!("{}{other}", &link[..link.len() - 1]);
    let missing = format!("/r/{rec}");
    for bad in [
        tampered_exp.as_str(),
        tampered_sig.as_str(),
        missing.as_str(),
    ] {
        let res = anonymous.get(app.url(bad)).send().await.unwrap();
        assert_eq!(res.status(), 403, "{bad}");
    }

    // Expired: signed with the same key a week and a day ago.
    let key = app.session_key().await;
    let signer = yoom::recordings::share::ShareSigner::new(&key, 7 * 86_400);
    let old = signer.link(&rec, 0, yoom::time::now() - 8 * 86_400);
    let res = anonymous.get(app.url(&old)).send().await.unwrap();
    assert_eq!(res.status(), 410);
    assert!(res.text().await.unwrap().contains("expired"));
    let fresh = signer.link(&rec, 0, yoom::time::now());
    assert_eq!(
        anonymous
            .get(app.url(&fresh))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "the same key signs valid links"
    );

    // Deleted: the link stops working and the file is gone.
    let res = app
        .post_htmx(&format!("/recordings/{rec}/delete"), &[])
        .await;
    assert_eq!(res.status(), 200);
    assert!(header(res.headers(), "hx-trigger").contains("Recording deleted"));
    assert_eq!(
        anonymous.get(app.url(&link)).send().await.unwrap().status(),
        404
    );
    assert!(
        !app.data_dir
            .path()
            .join("recordings")
            .join(format!("{rec}.webm"))
            .exists()
    );
    assert!(
        app.get("/recordings")
            .await
            .text()
            .await
            .unwrap()
            .contains("No Recordings")
    );
}

#[tokio::test]
async fn playback_answers_range_requests() {
    let (app, meeting) = host_with_meeting(&[]).await;
    let rec = finished_recording(&app, &meeting).await;
    let all: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
    let get = |range: &'static str| {
        let req = app
            .client
            .get(app.url(&format!("/recordings/{rec}/file")))
            .header("Range", range);
        async move { req.send().await.unwrap() }
    };
    let res = get("bytes=0-9").await;
    assert_eq!(res.status(), 206);
    assert_eq!(header(res.headers(), "content-range"), "bytes 0-9/1000");
    assert_eq!(res.bytes().await.unwrap().to_vec(), all[0..10]);
    let res = get("bytes=500-599").await;
    assert_eq!(res.status(), 206);
    assert_eq!(res.bytes().await.unwrap().to_vec(), all[500..600]);
    let res = get("bytes=-5").await;
    assert_eq!(res.status(), 206);
    assert_eq!(header(res.headers(), "content-range"), "bytes 995-999/1000");
    assert_eq!(res.bytes().await.unwrap().to_vec(), all[995..]);
    let res = get("bytes=5000-6000").await;
    assert_eq!(res.status(), 416);
    let res = app.get(&format!("/recordings/{rec}/file")).await;
    assert_eq!(header(res.headers(), "accept-ranges"), "bytes");
    let res = app.get(&format!("/recordings/{rec}/file?download=1")).await;
    assert!(header(res.headers(), "content-disposition").starts_with("attachment"));
}

/// What the signalling server says to someone joining (their socket closes after).
async fn welcome_of(app: &TestApp, meeting: &str, cookie: &str) -> Value {
    let mut socket = crate::signal::open(&app.address, meeting, cookie, Some(&app.address))
        .await
        .unwrap();
    crate::signal::send(
        &mut socket,
        serde_json::json!({"type": "join", "audio": false, "video": false}),
    )
    .await;
    crate::signal::expect(&mut socket, "welcome").await
}

#[tokio::test]
async fn someone_joining_a_recorded_call_hears_who_started_the_recording() {
    use crate::signal::Peer;
    let (app, meeting) = host_with_meeting(&[]).await;
    let guest = app.other_client();
    guest.signed_in_as("rec_late").await;

    // A room that starts while a recording runs (the first to arrive, or after a restart)
    // reads it from the database.
    start_ok(&app, &meeting).await;
    let mut host = Peer::join(&app.address, &meeting, &app.cookie_header()).await;
    drop(host);
    let welcome = welcome_of(&app, &meeting, &guest.cookie_header()).await;
    assert_eq!(welcome["recording"], true, "{welcome}");
    assert_eq!(welcome["recordingBy"], "rec_host Tester", "{welcome}");

    // A room already running heard it when it started.
    host = Peer::join(&app.address, &meeting, &app.cookie_header()).await;
    let rec: String = sqlx::query_scalar("select id from recording where status = 'recording'")
        .fetch_one(&app.db().await)
        .await
        .unwrap();
    finish(&app.client, &app.address, &rec).await;
    host.expect("recording").await;
    start_ok(&app, &meeting).await;
    let started = host.expect("recording").await;
    assert_eq!(started["name"], "rec_host Tester");
    let welcome = welcome_of(&app, &meeting, &guest.cookie_header()).await;
    assert_eq!(welcome["recordingBy"], "rec_host Tester", "{welcome}");
}

//! Recording uploads under abuse: early slices, quotas per account, parallel bodies, and the
//! host taking back the permission to record.

use std::time::Duration;

use serde_json::Value;
use yoom::meetings::store as meetings;

use crate::helpers::TestApp;
use crate::recordings::{chunk, file_bytes, finish, host_with_meeting, slice, start, start_ok};

fn parts_dir(app: &TestApp, rec: &str) -> std::path::PathBuf {
    app.data_dir.path().join(format!("recordings/{rec}.parts"))
}

fn files_in(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| d.count())
}

#[tokio::test]
async fn early_slices_count_against_the_size_limit_before_they_are_kept() {
    let (app, meeting) = host_with_meeting(&[("RECORDING_MAX_BYTES", "1000000")]).await;
    let rec = start_ok(&app, &meeting).await;
    let (status, _) = slice(&app.client, &app.address, &rec, 1, chunk(b'b', 600_000)).await;
    assert_eq!(status, 202);
    // A second early slice would take the recording over its limit: refused, not parked.
    let (status, body) = slice(&app.client, &app.address, &rec, 2, chunk(b'c', 600_000)).await;
    assert_eq!(status, 507, "{body}");
    assert_eq!(body["error"]["code"], "limit_reached");
    assert_eq!(files_in(&parts_dir(&app, &rec)), 0, "nothing left parked");
}

#[tokio::test]
async fn slices_may_run_only_a_few_ahead() {
    let (app, meeting) = host_with_meeting(&[]).await;
    let rec = start_ok(&app, &meeting).await;
    let ahead = yoom::recordings::upload::MAX_AHEAD;
    let (status, _) = slice(&app.client, &app.address, &rec, ahead, chunk(b'a', 10)).await;
    assert_eq!(status, 202);
    let (status, _) = slice(&app.client, &app.address, &rec, ahead + 1, chunk(b'a', 10)).await;
    assert_eq!(status, 400, "too far ahead");
}

#[tokio::test]
async fn one_account_may_have_two_recordings_open_at_once() {
    let (app, first) = host_with_meeting(&[]).await;
    let second = app.start_instant("Second").await;
    let third = app.start_instant("Third").await;
    let a = start_ok(&app, &first).await;
    start_ok(&app, &second).await;
    let res = start(&app, &third).await;
    assert_eq!(res.status(), 409);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already recording 2 meetings"),
        "{body}"
    );
    // Finishing one frees its place.
    finish(&app.client, &app.address, &a).await;
    start_ok(&app, &third).await;
}

#[tokio::test]
async fn an_accounts_recordings_together_stay_within_its_quota() {
    let (app, first) = host_with_meeting(&[
        ("RECORDING_MAX_BYTES", "1000000"),
        ("RECORDING_QUOTA_BYTES", "1000000"),
    ])
    .await;
    let a = start_ok(&app, &first).await;
    assert_eq!(
        slice(&app.client, &app.address, &a, 0, chunk(b'a', 700_000))
            .await
            .0,
        200
    );
    finish(&app.client, &app.address, &a).await;
    let second = app.start_instant("Second").await;
    let b = start_ok(&app, &second).await;
    let (status, body) = slice(&app.client, &app.address, &b, 0, chunk(b'b', 400_000)).await;
    assert_eq!(status, 507, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("space you have here"),
        "{body}"
    );
    // The first recording is untouched; a full account cannot start another.
    assert_eq!(file_bytes(&app, &a).await, chunk(b'a', 700_000));
    let filler = start_ok(&app, &app.start_instant("Third").await).await;
    slice(&app.client, &app.address, &filler, 0, chunk(b'c', 300_000)).await;
    finish(&app.client, &app.address, &filler).await;
    let res = start(&app, &app.start_instant("Fourth").await).await;
    assert_eq!(res.status(), 409);
}

/// A slice body that arrives slowly, 10 KB every 100 ms.
fn slow_body(total: usize) -> reqwest::Body {
    let chunks = (0..total / 10_000).map(|_| Ok::<_, std::io::Error>(vec![b's'; 10_000]));
    let stream = futures_util::StreamExt::then(futures_util::stream::iter(chunks), |c| async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        c
    });
    reqwest::Body::wrap_stream(stream)
}

async fn put_slow(app: &TestApp, rec: &str, seq: i64, total: usize) -> u16 {
    app.client
        .put(app.url(&format!("/recordings/{rec}/slices/{seq}")))
        .header("Origin", &app.address)
        .header("Accept", "application/json")
        .body(slow_body(total))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn only_two_bodies_of_one_recording_arrive_at_once() {
    let (app, meeting) = host_with_meeting(&[]).await;
    let rec = start_ok(&app, &meeting).await;
    let slow = futures_util::future::join(
        put_slow(&app, &rec, 0, 100_000),
        put_slow(&app, &rec, 1, 100_000),
    );
    let third = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        slice(&app.client, &app.address, &rec, 2, chunk(b'x', 10)).await
    };
    let ((a, b), (status, body)) = futures_util::future::join(slow, third).await;
    assert_eq!(a, 200);
    assert!(b == 200 || b == 202, "{b}");
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "busy");
    // Nothing was kept of the refused body.
    assert_eq!(
        files_in(&app.data_dir.path().join("recordings/incoming")),
        0
    );
}

#[tokio::test]
async fn deleting_a_recording_while_a_slice_arrives_leaves_no_file_behind() {
    let (app, meeting) = host_with_meeting(&[]).await;
    let rec = start_ok(&app, &meeting).await;
    slice(&app.client, &app.address, &rec, 0, chunk(b'a', 10)).await;
    finish(&app.client, &app.address, &rec).await;
    let second = app.start_instant("Second").await;
    let live = start_ok(&app, &second).await;
    let upload = put_slow(&app, &live, 0, 200_000);
    let delete = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        // Deleting needs a ready recording: finish it under the slice, then delete.
        finish(&app.client, &app.address, &live).await;
        app.post_form(&format!("/recordings/{live}/delete"), &[])
            .await
            .status()
            .as_u16()
    };
    let (status, deleted) = futures_util::future::join(upload, delete).await;
    assert_eq!(deleted, 303);
    assert_eq!(status, 409, "the slice came after the end");
    assert!(
        !app.data_dir
            .path()
            .join(format!("recordings/{live}.webm"))
            .exists()
    );
    // The other recording is still there.
    assert_eq!(file_bytes(&app, &rec).await, chunk(b'a', 10));
}

#[tokio::test]
async fn withdrawing_let_everyone_record_stops_a_guests_recording() {
    let (app, meeting) = host_with_meeting(&[]).await;
    let guest = app.other_client();
    guest.signed_in_as("rec_guest").await;
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
    let permission = format!("/meeting/{meeting}/recording-permission");
    assert_eq!(
        app.post_form(&permission, &[("allowed", "true")])
            .await
            .status(),
        200
    );
    let res = guest
        .client
        .post(app.url(&format!("/meeting/{meeting}/recordings")))
        .header("Origin", &app.address)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let rec = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        slice(&guest.client, &app.address, &rec, 0, chunk(b'g', 10))
            .await
            .0,
        200
    );
    assert_eq!(
        app.post_form(&permission, &[("allowed", "false")])
            .await
            .status(),
        200
    );
    let (status, body) = slice(&guest.client, &app.address, &rec, 1, chunk(b'g', 10)).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "finished");
    let kept = yoom::recordings::store::find(&db, &rec)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        kept.status,
        yoom::recordings::Status::Ready,
        "what was made is kept"
    );
}

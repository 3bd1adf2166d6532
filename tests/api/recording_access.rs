//! Who may watch a recording (the host, whoever recorded it, and people who were in the
//! meeting while it was made), who may share it, and meetings that end by themselves.

use std::time::Duration;

use yoom::meetings::store as meetings;

use crate::helpers::{TestApp, TestApp2};
use crate::recordings::{finished_recording, host_with_meeting, share_link_in};

async fn account_id(app: &TestApp, username: &str) -> String {
    yoom::auth::accounts::find_for_sign_in(&app.db().await, username)
        .await
        .unwrap()
        .unwrap()
        .0
        .id
}

async fn person<'a>(app: &'a TestApp, username: &str) -> (TestApp2<'a>, String) {
    let client = app.other_client();
    client.signed_in_as(username).await;
    let id = account_id(app, username).await;
    (client, id)
}

async fn sees(client: &TestApp2<'_>, rec: &str) -> (bool, u16, u16) {
    let list = client.get("/recordings").await.text().await.unwrap();
    let listed = list.contains(&format!("data-recording-id=\"{rec}\""));
    let page = client
        .get(&format!("/recordings/{rec}"))
        .await
        .status()
        .as_u16();
    let file = client
        .get(&format!("/recordings/{rec}/file"))
        .await
        .status()
        .as_u16();
    (listed, page, file)
}

#[tokio::test]
async fn only_people_there_while_it_was_recorded_may_watch_it() {
    let (app, meeting) = host_with_meeting(&[]).await;
    let db = app.db().await;
    let now = yoom::time::now();
    // Came and went before the recording started.
    let (early, early_id) = person(&app, "early_bird").await;
    meetings::record_join(&db, &meeting, &early_id, now - 600)
        .await
        .unwrap();
    meetings::record_leave(&db, &meeting, &early_id, now - 300)
        .await
        .unwrap();
    // In the meeting while it is recorded.
    let (present, present_id) = person(&app, "present").await;
    meetings::record_join(&db, &meeting, &present_id, now - 5)
        .await
        .unwrap();
    let rec = finished_recording(&app, &meeting).await;
    // Came after it ended, and someone who only ever had the link.
    let (late, late_id) = person(&app, "latecomer").await;
    meetings::record_join(&db, &meeting, &late_id, now + 120)
        .await
        .unwrap();
    let (linked, _) = person(&app, "link_holder").await;
    assert_eq!(
        linked.get(&format!("/meeting/{meeting}")).await.status(),
        200
    );

    assert_eq!(sees(&present, &rec).await, (true, 200, 200));
    for (who, client) in [("early", &early), ("late", &late), ("link", &linked)] {
        assert_eq!(sees(client, &rec).await, (false, 404, 404), "{who}");
    }
    let host = app.get("/recordings").await.text().await.unwrap();
    assert!(host.contains(&format!("data-recording-id=\"{rec}\"")));
}

#[tokio::test]
async fn the_guest_who_recorded_keeps_it_and_a_guest_who_left_before_cannot_record() {
    let (app, meeting) = host_with_meeting(&[]).await;
    let db = app.db().await;
    let now = yoom::time::now();
    let (recorder, recorder_id) = person(&app, "recorder").await;
    let (gone, gone_id) = person(&app, "gone_guest").await;
    meetings::record_join(&db, &meeting, &recorder_id, now)
        .await
        .unwrap();
    meetings::record_join(&db, &meeting, &gone_id, now - 120)
        .await
        .unwrap();
    meetings::record_leave(&db, &meeting, &gone_id, now - 60)
        .await
        .unwrap();
    let permission = format!("/meeting/{meeting}/recording-permission");
    assert_eq!(
        app.post_form(&permission, &[("allowed", "true")])
            .await
            .status(),
        200
    );
    let start = |c: &TestApp2| {
        c.client
            .post(app.url(&format!("/meeting/{meeting}/recordings")))
            .header("Origin", &app.address)
            .send()
    };
    assert_eq!(
        start(&gone).await.unwrap().status(),
        403,
        "not in the meeting now"
    );
    let res = start(&recorder).await.unwrap();
    assert_eq!(res.status(), 201);
    let rec = res.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    crate::recordings::slice(&recorder.client, &app.address, &rec, 0, vec![1; 100]).await;
    crate::recordings::finish(&recorder.client, &app.address, &rec).await;
    // Even after leaving, the one who recorded it may watch it.
    meetings::record_leave(&db, &meeting, &recorder_id, yoom::time::now())
        .await
        .unwrap();
    assert_eq!(sees(&recorder, &rec).await, (true, 200, 200));
}

#[tokio::test]
async fn presence_reports_are_refused_on_built_in_media() {
    let (app, meeting) = host_with_meeting(&[]).await;
    let (guest, guest_id) = person(&app, "reporter").await;
    let res = guest
        .post_form(&format!("/meeting/{meeting}/presence"), &[])
        .await;
    assert_eq!(res.status(), 404);
    let yoom::db::Flag(attended) = sqlx::query_scalar(
        "select exists (select 1 from attendance where meeting_id = $1 and account_id = $2)",
    )
    .bind(&meeting)
    .bind(&guest_id)
    .fetch_one(&app.db().await)
    .await
    .unwrap();
    assert!(!attended, "no attendance from a report");
}

#[tokio::test]
async fn a_meeting_whose_room_emptied_long_ago_ends_by_itself() {
    let (app, emptied) = host_with_meeting(&[]).await;
    let never_joined = app.start_instant("Nobody came").await;
    let still_going = app.start_instant("Still going").await;
    let db = app.db().await;
    let host = account_id(&app, "rec_host").await;
    let now = yoom::time::now();
    meetings::record_join(&db, &emptied, &host, now)
        .await
        .unwrap();
    meetings::record_leave(&db, &emptied, &host, now + 60)
        .await
        .unwrap();
    meetings::record_join(&db, &still_going, &host, now)
        .await
        .unwrap();
    meetings::record_seen(&db, &still_going, &host, now + 31 * 60 - 20)
        .await
        .unwrap();

    let media = yoom::video::Media::Mesh(yoom::video::mesh::Hub::new(
        db.clone(),
        serde_json::json!([]),
        8,
        yoom::cluster::Cluster::single(),
    ));
    let idle = Duration::from_secs(30 * 60);
    // Not before thirty minutes of an empty room.
    let ended = yoom::jobs::end_idle_meetings(&db, &media, idle, now + 20 * 60)
        .await
        .unwrap();
    assert!(ended.is_empty(), "{ended:?}");
    let ended = yoom::jobs::end_idle_meetings(&db, &media, idle, now + 32 * 60)
        .await
        .unwrap();
    assert_eq!(ended, vec![emptied.clone()]);
    let page = app.get(&format!("/meeting/{emptied}")).await;
    assert_eq!(page.status(), 410, "ended");
    for open in [&never_joined, &still_going] {
        assert!(
            meetings::find(&db, open)
                .await
                .unwrap()
                .unwrap()
                .ended_at
                .is_none()
        );
    }
}

#[tokio::test]
async fn only_the_host_hands_out_share_links_and_can_stop_them() {
    let (app, meeting) = host_with_meeting(&[]).await;
    let db = app.db().await;
    let (guest, guest_id) = person(&app, "sharer").await;
    meetings::record_join(&db, &meeting, &guest_id, yoom::time::now())
        .await
        .unwrap();
    let rec = finished_recording(&app, &meeting).await;
    for path in ["/recordings".to_owned(), format!("/recordings/{rec}")] {
        let html = guest.get(&path).await.text().await.unwrap();
        assert!(html.contains(&rec), "{path}: the guest sees the recording");
        assert!(
            !html.contains("/r/"),
            "{path}: but no link that plays without an account"
        );
        assert!(!html.contains("Stop sharing"));
    }
    let page = app
        .get(&format!("/recordings/{rec}"))
        .await
        .text()
        .await
        .unwrap();
    let link = share_link_in(&page);
    let anonymous = crate::helpers::new_client();
    assert_eq!(
        anonymous.get(app.url(&link)).send().await.unwrap().status(),
        200
    );

    // A guest cannot stop sharing; the host can, and every link so far stops playing.
    let revoke = format!("/recordings/{rec}/share/revoke");
    assert_eq!(guest.post_form(&revoke, &[]).await.status(), 403);
    assert_eq!(
        anonymous.get(app.url(&link)).send().await.unwrap().status(),
        200
    );
    let res = app.post_htmx(&revoke, &[]).await;
    assert_eq!(res.status(), 200);
    assert!(crate::helpers::header(res.headers(), "hx-trigger").contains("no longer play"));
    let res = anonymous.get(app.url(&link)).send().await.unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("stopped sharing"));
    // A link copied now plays.
    let page = app
        .get(&format!("/recordings/{rec}"))
        .await
        .text()
        .await
        .unwrap();
    let fresh = share_link_in(&page);
    assert_ne!(fresh, link);
    assert_eq!(
        anonymous
            .get(app.url(&fresh))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

//! Stream webhook deliveries: a delivery Stream retries is applied once.

use serde_json::Value;

use crate::helpers::TestApp;
use crate::stream::{admit, id_of, post_webhook, sign, stream_app};
use crate::stream_mock::{MockStream, SECRET};

async fn post_delivery(app: &TestApp, body: &str, webhook_id: Option<&str>) -> Value {
    let mut req = app
        .client
        .post(app.url("/webhooks/stream"))
        .header("Content-Type", "application/json")
        .header("X-Signature", sign(body.as_bytes(), SECRET))
        .body(body.to_owned());
    if let Some(id) = webhook_id {
        req = req
            .header("X-Webhook-Id", id)
            .header("X-Webhook-Attempt", "1");
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

fn participant_event(kind: &str, meeting: &str, user: &str, at: &str) -> String {
    format!(
        r#"{{"type":"call.session_participant_{kind}","call_cid":"default:{meeting}","session_id":"s1",
            "created_at":"{at}","participant":{{"user_session_id":"us1","role":"user",
            "joined_at":"2026-01-01T00:00:00Z","user":{{"id":"{user}"}}}}}}"#
    )
}

async fn open_spans(app: &TestApp, meeting: &str) -> i64 {
    sqlx::query_scalar(
        "select count(*) from attendance_span where meeting_id = ? and left_at is null",
    )
    .bind(meeting)
    .fetch_one(&app.db().await)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_retried_join_after_the_leave_does_not_put_someone_back_in_the_meeting() {
    let mock = MockStream::start().await;
    let app = stream_app(&mock).await;
    app.signed_in_as("dedupe_host").await;
    let meeting = app.start_instant("Retries").await;
    let guest = app.other_client();
    guest.signed_in_as("dedupe_guest").await;
    let guest_id = id_of(&guest.client, &app.address).await;
    admit(&app, &meeting, &guest_id).await;

    let joined = participant_event("joined", &meeting, &guest_id, "2026-01-01T00:00:00Z");
    let left = participant_event("left", &meeting, &guest_id, "2026-01-01T00:05:00Z");
    assert_eq!(post_delivery(&app, &joined, Some("wh-1")).await["ok"], true);
    assert_eq!(open_spans(&app, &meeting).await, 1);
    post_delivery(&app, &left, Some("wh-2")).await;
    assert_eq!(open_spans(&app, &meeting).await, 0);

    // Stream retries the first delivery (its answer was lost): same ID, same body.
    let again = post_delivery(&app, &joined, Some("wh-1")).await;
    assert_eq!(again["duplicate"], true);
    assert_eq!(open_spans(&app, &meeting).await, 0, "still gone");

    // Without X-Webhook-Id, the same bytes are the same delivery.
    let rejoined = participant_event("joined", &meeting, &guest_id, "2026-01-01T00:10:00Z");
    post_delivery(&app, &rejoined, None).await;
    post_delivery(&app, &left.replace("00:05:00", "00:15:00"), None).await;
    let repeat = post_delivery(&app, &rejoined, None).await;
    assert_eq!(repeat["duplicate"], true);
    assert_eq!(open_spans(&app, &meeting).await, 0);
}

#[tokio::test]
async fn a_delivery_that_failed_is_applied_when_stream_retries_it() {
    let mock = MockStream::start().await;
    let app = stream_app(&mock).await;
    app.signed_in_as("retry_host").await;
    let meeting = app.start_instant("Retried after a failure").await;
    let ended = format!(
        r#"{{"type":"call.ended","call_cid":"default:{meeting}","created_at":"2026-01-01T00:00:00Z"}}"#
    );
    // The first attempt fails inside (the database refuses writes to the meeting table).
    let db = app.db().await;
    sqlx::query(
        "create trigger refuse_end before update on meeting begin select raise(fail, 'down'); end",
    )
    .execute(&db)
    .await
    .unwrap();
    let res = post_webhook(
        &app,
        ended.as_bytes(),
        Some(&sign(ended.as_bytes(), SECRET)),
        false,
    )
    .await;
    assert_eq!(res.status(), 500);
    sqlx::query("drop trigger refuse_end")
        .execute(&db)
        .await
        .unwrap();
    let retry = post_delivery(&app, &ended, None).await;
    assert!(retry.get("duplicate").is_none(), "{retry}");
    let ended_at: Option<i64> = sqlx::query_scalar("select ended_at from meeting where id = ?")
        .bind(&meeting)
        .fetch_one(&db)
        .await
        .unwrap();
    assert!(ended_at.is_some());
}

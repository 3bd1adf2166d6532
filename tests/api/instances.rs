//! Two instances on one PostgreSQL database, as behind a load balancer: what one does, the
//! other sees; limits count once for both; a meeting's room is one room whichever instance
//! its people reach; and when an instance goes away, the other takes its people in.
//!
//! These need the test PostgreSQL server (`YOOM_TEST_POSTGRES`) whatever database the rest
//! of the suite runs on.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{TestApp, fresh_postgres_database, spawn_app_with};
use crate::processes::Process;
use crate::signal::{Peer, Socket, next, open, send};

/// Two instances on one fresh database, with these extra variables each.
pub async fn two_instances(extra: &[(&str, &str)]) -> (TestApp, TestApp) {
    let database = fresh_postgres_database().await;
    let mut vars = vec![("DATABASE_URL", database.as_str())];
    vars.extend_from_slice(extra);
    let a = spawn_app_with(&vars).await;
    let b = spawn_app_with(&vars).await;
    (a, b)
}

/// A second person, signed up on `app`; returns their cookie.
pub async fn person(app: &TestApp, name: &str) -> String {
    let other = app.other_client();
    other.signed_in_as(name).await;
    other.cookie_header()
}

/// Joins the meeting's room through `address`, retrying while the room is between instances
/// (503, or a socket closed before the welcome) for up to `patience`; returns the welcome too.
async fn join_through(
    address: &str,
    meeting: &str,
    cookie: &str,
    patience: Duration,
) -> (Peer, serde_json::Value) {
    let start = Instant::now();
    loop {
        if let Ok(mut socket) = open(address, meeting, cookie, Some(address)).await {
            send(
                &mut socket,
                json!({"type": "join", "audio": true, "video": true}),
            )
            .await;
            if let Some(welcome) = next(&mut socket, Duration::from_secs(5)).await
                && welcome["type"] == "welcome"
            {
                let peer = Peer {
                    id: welcome["you"].as_str().unwrap().to_owned(),
                    socket,
                };
                return (peer, welcome);
            }
        }
        assert!(
            start.elapsed() < patience,
            "no room for {meeting} through {address} after {patience:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn closed(socket: &mut Socket) -> bool {
    for _ in 0..50 {
        if next(socket, Duration::from_millis(200)).await.is_none() {
            return true;
        }
    }
    false
}

#[tokio::test]
async fn a_meeting_scheduled_on_one_instance_is_listed_and_opened_on_the_other() {
    let (a, b) = two_instances(&[]).await;
    a.signed_in_as("ada").await;
    let meeting = a.schedule_in(30, "Planned on A").await;
    // Cookies go by host, not port: the browser's cookie from A reaches B.
    let res = a.client.get(b.url("/upcoming")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains(&meeting));
    let res = a
        .client
        .get(b.url(&format!("/meeting/{meeting}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Planned on A"));
}

#[tokio::test]
async fn a_session_from_one_instance_works_on_the_other_until_signed_out_on_either() {
    let (a, b) = two_instances(&[]).await;
    a.signed_in_as("steady").await;
    let res = a.client.get(b.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 200, "signed in on B with A's cookie");
    assert!(res.text().await.unwrap().contains("steady Tester"));
    // Signing out on B ends the session everywhere: a copy of the cookie stops working on A.
    let cookie = a.cookie_header();
    let res = a
        .client
        .post(b.url("/sign-out"))
        .header("Origin", &b.address)
        .header("Sec-Fetch-Site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let res = crate::helpers::new_client()
        .get(a.url("/"))
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "the old cookie is signed out on A too");
}

#[tokio::test]
async fn sign_in_attempts_spread_over_two_instances_meet_one_limit() {
    let (a, b) = two_instances(&[]).await;
    a.signed_in_as("target").await;
    let attacker = crate::helpers::new_client();
    let mut refused = 0;
    for attempt in 0..8 {
        let app = if attempt % 2 == 0 { &a } else { &b };
        let res = attacker
            .post(app.url("/sign-in"))
            .header("Origin", &app.address)
            .header("Sec-Fetch-Site", "same-origin")
            .form(&[("username", "target"), ("password", "wrong password!")])
            .send()
            .await
            .unwrap();
        if res.status() == 429 {
            refused += 1;
        } else {
            assert_eq!(res.status(), 422, "attempt {attempt}");
        }
    }
    assert_eq!(
        refused,
        8 - yoom::auth::local::SIGN_IN_ATTEMPTS_PER_USERNAME,
        "five wrong passwords in all, not five per instance"
    );
}

#[tokio::test]
async fn meetings_created_through_two_instances_meet_one_limit() {
    let (a, b) = two_instances(&[("MEETING_CREATE_RATE_LIMIT", "3")]).await;
    a.signed_in_as("busy").await;
    let mut statuses = Vec::new();
    for attempt in 0..6 {
        let app = if attempt % 2 == 0 { &a } else { &b };
        let res = a
            .client
            .post(app.url("/meetings/instant"))
            .header("Origin", &app.address)
            .header("Sec-Fetch-Site", "same-origin")
            .form(&[("description", "one more")])
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
    }
    assert_eq!(statuses, [303, 303, 303, 429, 429, 429]);
}

#[tokio::test]
async fn people_who_reach_different_instances_meet_in_one_room() {
    // The mesh, whose signalling (offers between browsers) shows order through the relay;
    // the media server across instances has a browser test (browser::instances).
    let (a, b) = two_instances(&[("BUILTIN_MEDIA", "mesh")]).await;
    a.signed_in_as("host").await;
    let meeting = a.start_instant("One room").await;
    let guest = person(&b, "guest").await;
    let mut host = Peer::join(&a.address, &meeting, &a.cookie_header()).await;
    // The guest's socket reaches B; the room is on A, which B relays it to.
    let mut visitor = Peer::join(&b.address, &meeting, &guest).await;
    let joined = host.expect("peer-joined").await;
    assert_eq!(joined["peer"]["id"], visitor.id.as_str());
    // Signalling flows both ways through the relay, in order.
    visitor
        .send(json!({"type": "offer", "to": host.id, "sdp": "v=0 from the guest"}))
        .await;
    let offer = host.expect("offer").await;
    assert_eq!(offer["from"], visitor.id.as_str());
    assert_eq!(offer["sdp"], "v=0 from the guest");
    host.send(json!({"type": "chat", "text": "welcome, from A"}))
        .await;
    assert_eq!(
        visitor.expect("chat").await["message"]["text"],
        "welcome, from A"
    );
    // Someone new through B lands in the same room too.
    let third = person(&b, "third").await;
    let late = Peer::join(&b.address, &meeting, &third).await;
    let joined = visitor.expect("peer-joined").await;
    assert_eq!(joined["peer"]["id"], late.id.as_str());
    // The host ends it: everyone on every instance is told.
    host.send(json!({"type": "end"})).await;
    assert_eq!(visitor.expect("ended").await["type"], "ended");
    assert!(closed(&mut visitor.socket).await);
}

#[tokio::test]
async fn a_meeting_ended_through_one_instance_ends_its_room_on_the_other() {
    let (a, b) = two_instances(&[]).await;
    a.signed_in_as("host").await;
    let meeting = a.start_instant("Ended from afar").await;
    let guest = person(&a, "guest").await;
    let mut visitor = Peer::join(&a.address, &meeting, &guest).await;
    // The host presses "End for everyone" on a page that B served.
    let res = a
        .client
        .post(b.url(&format!("/meeting/{meeting}/end")))
        .header("Origin", &b.address)
        .header("Sec-Fetch-Site", "same-origin")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success() || res.status().is_redirection());
    assert_eq!(visitor.expect("ended").await["type"], "ended");
    assert!(closed(&mut visitor.socket).await);
}

#[tokio::test]
async fn a_stopping_instance_hands_its_rooms_over_and_fails_its_health_check() {
    let (a, b) = two_instances(&[("SHUTDOWN_DRAIN_SECS", "2")]).await;
    a.signed_in_as("host").await;
    let meeting = a.start_instant("Rolling restart").await;
    let guest = person(&b, "guest").await;
    let mut host = Peer::join(&a.address, &meeting, &a.cookie_header()).await;
    let mut visitor = Peer::join(&b.address, &meeting, &guest).await;
    host.expect("peer-joined").await;

    let stopping = tokio::spawn(a.stopper.clone().stop());
    // Both sockets close (the relayed one too) and their people reconnect to B at once.
    assert!(closed(&mut host.socket).await);
    assert!(closed(&mut visitor.socket).await);
    let res = reqwest::get(a.url("/healthz")).await.unwrap();
    assert_eq!(
        res.status(),
        503,
        "A fails its health check while it drains"
    );
    let started = Instant::now();
    let (mut host, _) = join_through(
        &b.address,
        &meeting,
        &a.cookie_header(),
        Duration::from_secs(5),
    )
    .await;
    let (visitor, _) = join_through(&b.address, &meeting, &guest, Duration::from_secs(5)).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "no wait for a dead instance"
    );
    assert_eq!(
        host.expect("peer-joined").await["peer"]["id"],
        visitor.id.as_str()
    );
    // Signed in all along: the session lives in the database, the key is shared.
    let res = a.client.get(b.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    stopping.await.unwrap();
}

#[tokio::test]
async fn a_stream_webhook_that_reaches_one_instance_ends_a_meeting_whose_people_are_on_the_other() {
    let mock = crate::stream_mock::MockStream::start().await;
    let vars = mock.vars();
    let extra: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (a, b) = two_instances(&extra).await;
    a.signed_in_as("stream_host").await;
    let meeting = a.start_instant("Ended at Stream").await;
    let mut host = Peer::join(&a.address, &meeting, &a.cookie_header()).await;
    let ended = format!(
        r#"{{"type":"call.ended","call_cid":"default:{meeting}","created_at":"2026-01-01T00:00:00Z"}}"#
    );
    let res = crate::stream::post_webhook(
        &b,
        ended.as_bytes(),
        Some(&crate::stream::sign(
            ended.as_bytes(),
            crate::stream_mock::SECRET,
        )),
        false,
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(host.expect("ended").await["type"], "ended");
    assert!(closed(&mut host.socket).await);
    let res = a.get(&format!("/meeting/{meeting}")).await;
    assert!(
        res.text().await.unwrap().contains("ended"),
        "A knows it ended"
    );
}

#[tokio::test]
async fn instances_starting_together_on_a_fresh_database_migrate_it_once() {
    let database = fresh_postgres_database().await;
    let vars = [("DATABASE_URL", database.as_str())];
    let (a, b, c) = tokio::join!(
        spawn_app_with(&vars),
        spawn_app_with(&vars),
        spawn_app_with(&vars)
    );
    let applied: i64 = sqlx::query_scalar("select count(*) from _sqlx_migrations")
        .fetch_one(&a.db().await)
        .await
        .unwrap();
    let versions: i64 = sqlx::query_scalar("select count(distinct version) from _sqlx_migrations")
        .fetch_one(&a.db().await)
        .await
        .unwrap();
    assert_eq!(applied, versions);
    // One session key for all of them: a cookie from one is good on the others.
    a.signed_in_as("early").await;
    for other in [&b, &c] {
        let res = a.client.get(other.url("/")).send().await.unwrap();
        assert_eq!(res.status(), 200);
    }
    let keys: i64 = sqlx::query_scalar("select count(*) from app_secret")
        .fetch_one(&a.db().await)
        .await
        .unwrap();
    assert_eq!(keys, 1);
}

/// Reads the next message of a type within a long wait (rooms moving take seconds).
async fn expect_within(socket: &mut Socket, kind: &str, wait: Duration) -> serde_json::Value {
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        if let Some(msg) = next(socket, Duration::from_millis(500)).await
            && msg["type"] == kind
        {
            return msg;
        }
    }
    panic!("no {kind} within {wait:?}");
}

#[tokio::test]
async fn killing_the_instance_that_holds_a_room_lets_its_people_rejoin_through_the_other() {
    let database = fresh_postgres_database().await;
    let mut a = Process::start(&database).await;
    let b = Process::start(&database).await;
    let host_cookie = a.sign_up("host").await;
    let meeting = a.start_instant(&host_cookie, "Survives a crash").await;
    let guest_cookie = b.sign_up("guest").await;
    // Both through A, where the room is.
    let mut host = Peer::join(&a.address, &meeting, &host_cookie).await;
    let mut visitor = Peer::join(&a.address, &meeting, &guest_cookie).await;
    host.expect("peer-joined").await;
    host.send(json!({"type": "chat", "text": "said before the crash"}))
        .await;
    visitor.expect("chat").await;
    // The room's writer is asynchronous; give it a moment before the crash.
    tokio::time::sleep(Duration::from_millis(300)).await;

    a.kill();
    let killed = Instant::now();
    assert!(closed(&mut host.socket).await);
    assert!(closed(&mut visitor.socket).await);
    // The proxy now sends everyone to B, which takes the room once A's heartbeat is late.
    let (mut host, _) =
        join_through(&b.address, &meeting, &host_cookie, Duration::from_secs(15)).await;
    let (visitor, welcome) =
        join_through(&b.address, &meeting, &guest_cookie, Duration::from_secs(5)).await;
    let rejoined = killed.elapsed();
    let joined = expect_within(&mut host.socket, "peer-joined", Duration::from_secs(5)).await;
    assert_eq!(joined["peer"]["id"], visitor.id.as_str());
    println!("MEASURE rejoin_after_kill_ms={}", rejoined.as_millis());
    assert!(rejoined < Duration::from_secs(8), "took {rejoined:?}");
    // Only the live state was lost: the chat was kept in the database.
    assert_eq!(welcome["chat"][0]["text"], "said before the crash");
}

//! The host in charge, spoken by plain WebSocket clients: the waiting room, the lock, removing,
//! muting, lowering hands, and the chat, all checked by the server whatever a page shows.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, enter_personal_room, spawn_app};
use crate::signal::{Peer, Socket, expect, next, open, send};

/// Connects and sends `join`; returns the socket and the first answer (welcome, waiting, or an
/// error).
async fn knock(app: &TestApp, meeting: &str, cookie: &str) -> (Socket, Value) {
    let mut socket = open(&app.address, meeting, cookie, Some(&app.address))
        .await
        .expect("upgrade");
    send(
        &mut socket,
        json!({"type": "join", "audio": true, "video": true}),
    )
    .await;
    let first = next(&mut socket, Duration::from_secs(5))
        .await
        .expect("an answer to join");
    (socket, first)
}

/// A guest's cookie on the same server.
async fn guest(app: &TestApp, name: &str) -> String {
    let guest = app.other_client();
    guest.signed_in_as(name).await;
    guest.cookie_header()
}

/// True once the server closed the socket (after any messages still queued).
async fn closed(socket: &mut Socket) -> bool {
    for _ in 0..20 {
        if next(socket, Duration::from_millis(500)).await.is_none() {
            return true;
        }
    }
    false
}

/// A host in an instant meeting with the waiting room turned on.
async fn host_with_waiting_room(app: &TestApp) -> (String, Peer) {
    app.signed_in_as("host").await;
    let meeting = app.start_instant("Controlled").await;
    let mut host = Peer::join(&app.address, &meeting, &app.cookie_header()).await;
    host.send(json!({"type": "waiting-room", "enabled": true}))
        .await;
    let state = host.expect("room-state").await;
    assert_eq!(state["waitingRoom"], true);
    (meeting, host)
}

#[tokio::test]
async fn a_waiting_guest_learns_nothing_until_the_host_lets_them_in() {
    let app = spawn_app().await;
    let (meeting, mut host) = host_with_waiting_room(&app).await;
    host.send(json!({"type": "chat", "text": "before anyone came"}))
        .await;
    host.expect("chat").await;

    let cookie = guest(&app, "waiter").await;
    let (mut waiter, first) = knock(&app, &meeting, &cookie).await;
    assert_eq!(first, json!({"type": "waiting"}), "nothing about the room");
    let knocked = host.expect("knock").await;
    assert_eq!(knocked["peer"]["name"], "waiter Tester");
    let waiter_id = knocked["peer"]["id"].as_str().unwrap().to_owned();

    // While waiting: no peers, no chat, no media state, and nothing they send gets through.
    host.send(json!({"type": "chat", "text": "still private"}))
        .await;
    host.send(json!({"type": "hand", "raised": true})).await;
    send(&mut waiter, json!({"type": "chat", "text": "let me in"})).await;
    let refused = expect(&mut waiter, "error").await;
    assert_eq!(refused["code"], "forbidden");
    assert!(
        next(&mut waiter, Duration::from_millis(400))
            .await
            .is_none(),
        "a waiting guest hears nothing"
    );
    send(
        &mut waiter,
        json!({"type": "offer", "to": host.id, "sdp": "v=0"}),
    )
    .await;
    expect(&mut waiter, "error").await;

    host.send(json!({"type": "admit", "id": waiter_id})).await;
    let welcome = expect(&mut waiter, "welcome").await;
    assert_eq!(welcome["peers"].as_array().unwrap().len(), 1);
    assert_eq!(welcome["owner"], false);
    assert_eq!(
        welcome["waiting"],
        json!([]),
        "only the host sees the queue"
    );
    let texts: Vec<&str> = welcome["chat"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["before anyone came", "still private"]);
    host.expect("knock-gone").await;
    let joined = host.expect("peer-joined").await;
    assert_eq!(joined["peer"]["id"], waiter_id.as_str());
    // Let in once, in again straight away after a drop.
    drop(waiter);
    host.expect("peer-left").await;
    let (_again, first) = knock(&app, &meeting, &cookie).await;
    assert_eq!(first["type"], "welcome");
}

#[tokio::test]
async fn deny_turns_a_guest_away_and_admit_all_lets_the_rest_in() {
    let app = spawn_app().await;
    let (meeting, mut host) = host_with_waiting_room(&app).await;
    let mut waiting = Vec::new();
    for name in ["first", "second", "third"] {
        let cookie = guest(&app, name).await;
        let (socket, first) = knock(&app, &meeting, &cookie).await;
        assert_eq!(first["type"], "waiting");
        let id = host.expect("knock").await["peer"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        waiting.push((socket, id));
    }
    let (mut denied, denied_id) = waiting.remove(0);
    host.send(json!({"type": "deny", "id": denied_id})).await;
    assert_eq!(expect(&mut denied, "denied").await["type"], "denied");
    assert!(closed(&mut denied).await, "the socket closes");
    assert_eq!(host.expect("knock-gone").await["id"], denied_id.as_str());
    // Turned away and knocking again at once: listed for the host, but quietly (no toast), so
    // nobody can keep interrupting the call.
    let cookie = guest(&app, "persistent").await;
    let (_socket, first) = knock(&app, &meeting, &cookie).await;
    assert_eq!(first["type"], "waiting");
    let knocked = host.expect("knock").await;
    assert!(knocked["peer"].get("quiet").is_none(), "{knocked}");
    host.send(json!({"type": "deny", "id": knocked["peer"]["id"]}))
        .await;
    host.expect("knock-gone").await;
    let (_socket, again) = knock(&app, &meeting, &cookie).await;
    assert_eq!(again["type"], "waiting");
    assert_eq!(host.expect("knock").await["peer"]["quiet"], true);

    host.send(json!({"type": "admit-all"})).await;
    for (socket, _) in &mut waiting {
        expect(socket, "welcome").await;
    }
    // Turning the waiting room off lets whoever waits in, too.
    let cookie = guest(&app, "late").await;
    let (mut late, _) = knock(&app, &meeting, &cookie).await;
    host.expect("knock").await;
    host.send(json!({"type": "waiting-room", "enabled": false}))
        .await;
    expect(&mut late, "welcome").await;
}

#[tokio::test]
async fn a_host_arriving_later_sees_who_waits_in_their_personal_room() {
    let app = spawn_app().await;
    app.signed_in_as("roomhost").await;
    let room = app.personal_room_id().await;
    let meeting = enter_personal_room(&app.client, &app.address, &room).await;
    // The personal room's waiting room is on by default; the host is not in yet.
    let cookie = guest(&app, "early").await;
    let (mut early, first) = knock(&app, &meeting, &cookie).await;
    assert_eq!(first["type"], "waiting");
    let (_host, welcome) = knock(&app, &meeting, &app.cookie_header()).await;
    assert_eq!(welcome["type"], "welcome");
    assert_eq!(welcome["waitingRoom"], true);
    assert_eq!(welcome["waiting"][0]["name"], "early Tester");
    assert!(next(&mut early, Duration::from_millis(300)).await.is_none());
}

#[tokio::test]
async fn a_locked_meeting_refuses_newcomers_but_not_someone_let_in_before() {
    let app = spawn_app().await;
    app.signed_in_as("host").await;
    let meeting = app.start_instant("Locked").await;
    let mut host = Peer::join(&app.address, &meeting, &app.cookie_header()).await;
    let known = guest(&app, "known").await;
    let (socket, first) = knock(&app, &meeting, &known).await;
    assert_eq!(first["type"], "welcome");
    drop(socket);

    host.send(json!({"type": "lock", "locked": true})).await;
    assert_eq!(host.expect("room-state").await["locked"], true);
    let stranger = guest(&app, "stranger").await;
    let (mut refused, first) = knock(&app, &meeting, &stranger).await;
    assert_eq!(first["code"], "locked");
    assert_eq!(first["message"], "This meeting is locked by the host.");
    assert!(closed(&mut refused).await);
    // Not even into the waiting room.
    host.send(json!({"type": "waiting-room", "enabled": true}))
        .await;
    let (_, first) = knock(&app, &meeting, &stranger).await;
    assert_eq!(first["code"], "locked");
    let (_, first) = knock(&app, &meeting, &known).await;
    assert_eq!(first["type"], "welcome", "let in before: back in");
}

#[tokio::test]
async fn a_removed_guest_is_disconnected_and_refused_until_the_host_lets_them_back() {
    let app = spawn_app().await;
    app.signed_in_as("host").await;
    let meeting = app.start_instant("Removal").await;
    let mut host = Peer::join(&app.address, &meeting, &app.cookie_header()).await;
    let cookie = guest(&app, "rowdy").await;
    let mut rowdy = Peer::join(&app.address, &meeting, &cookie).await;
    let mut second_tab = Peer::join(&app.address, &meeting, &cookie).await;
    host.expect("peer-joined").await;
    rowdy
        .send(json!({"type": "chat", "text": "a message that stays"}))
        .await;
    // The room has the message before the host acts (two sockets: no order between them).
    host.expect("chat").await;

    host.send(json!({"type": "remove", "id": rowdy.id})).await;
    for tab in [&mut rowdy, &mut second_tab] {
        assert_eq!(tab.expect("removed").await["type"], "removed");
        assert!(
            closed(&mut tab.socket).await,
            "every connection of theirs closes"
        );
    }
    let list = host.expect("removed-list").await;
    assert_eq!(list["removed"][0]["name"], "rowdy Tester");
    let user_id = list["removed"][0]["userId"].as_str().unwrap().to_owned();
    let (mut again, first) = knock(&app, &meeting, &cookie).await;
    assert_eq!(first["code"], "removed");
    assert_eq!(first["message"], "You were removed from the meeting.");
    assert!(closed(&mut again).await);
    // Their message stays, with their name.
    let (_, welcome) = knock(&app, &meeting, &app.cookie_header()).await;
    assert_eq!(welcome["chat"][0]["name"], "rowdy Tester");
    assert_eq!(welcome["chat"][0]["text"], "a message that stays");

    host.send(json!({"type": "allow-back", "userId": user_id}))
        .await;
    assert_eq!(host.expect("removed-list").await["removed"], json!([]));
    let (_, first) = knock(&app, &meeting, &cookie).await;
    assert_eq!(first["type"], "welcome");
}

#[tokio::test]
async fn nobody_but_the_host_may_admit_lock_remove_mute_or_delete() {
    let app = spawn_app().await;
    let (meeting, mut host) = host_with_waiting_room(&app).await;
    let insider = guest(&app, "insider").await;
    let (_first_tab, waiting) = knock(&app, &meeting, &insider).await;
    assert_eq!(waiting["type"], "waiting");
    let insider_id = host.expect("knock").await["peer"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    host.send(json!({"type": "admit", "id": insider_id})).await;
    host.expect("peer-joined").await;
    host.send(json!({"type": "chat", "text": "host's words"}))
        .await;
    let seq = host.expect("chat").await["message"]["seq"].clone();
    // The insider is in; another waits.
    let (mut insider, welcome) = knock(&app, &meeting, &insider).await;
    assert_eq!(welcome["type"], "welcome");
    let outsider = guest(&app, "outsider").await;
    let (_outsider_socket, _) = knock(&app, &meeting, &outsider).await;
    let outsider_id = host.expect("knock").await["peer"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for attempt in [
        json!({"type": "admit", "id": outsider_id}),
        json!({"type": "deny", "id": outsider_id}),
        json!({"type": "admit-all"}),
        json!({"type": "lock", "locked": true}),
        json!({"type": "waiting-room", "enabled": false}),
        json!({"type": "remove", "id": host.id}),
        json!({"type": "mute", "id": host.id}),
        json!({"type": "mute-all"}),
        json!({"type": "lower-hands"}),
        json!({"type": "chat-delete", "seq": seq}),
    ] {
        send(&mut insider, attempt.clone()).await;
        let refused = expect(&mut insider, "error").await;
        assert_eq!(refused["code"], "forbidden", "{attempt}");
    }
    // The room is unharmed: the outsider still waits, nothing changed, the host heard nothing.
    let (_, state) = knock(&app, &meeting, &app.cookie_header()).await;
    assert_eq!(state["locked"], false);
    assert_eq!(state["waitingRoom"], true);
    assert_eq!(state["waiting"][0]["id"], outsider_id.as_str());
    assert_eq!(state["chat"][0]["deleted"], false);
    while let Some(msg) = next(&mut host.socket, Duration::from_millis(300)).await {
        assert!(
            !["muted", "removed", "room-state", "chat-deleted"]
                .contains(&msg["type"].as_str().unwrap_or("")),
            "{msg}"
        );
    }
}

#[tokio::test]
async fn mute_requests_reach_their_target_and_mute_all_spares_the_host() {
    let app = spawn_app().await;
    app.signed_in_as("host").await;
    let meeting = app.start_instant("Quiet please").await;
    let mut host = Peer::join(&app.address, &meeting, &app.cookie_header()).await;
    let mut loud = Peer::join(&app.address, &meeting, &guest(&app, "loud").await).await;
    let mut calm = Peer::join(&app.address, &meeting, &guest(&app, "calm").await).await;
    host.send(json!({"type": "mute", "id": loud.id})).await;
    assert_eq!(loud.expect("muted").await["by"], "host Tester");
    calm.expect_silence().await;

    loud.send(json!({"type": "hand", "raised": true})).await;
    calm.expect("hand").await;
    host.send(json!({"type": "mute-all"})).await;
    loud.expect("muted").await;
    calm.expect("muted").await;
    host.send(json!({"type": "lower-hands"})).await;
    let lowered = calm.expect("hand").await;
    assert_eq!(
        (lowered["id"].clone(), lowered["raised"].clone()),
        (json!(loud.id), json!(false))
    );
    while let Some(msg) = next(&mut host.socket, Duration::from_millis(300)).await {
        assert_ne!(msg["type"], "muted", "the host is not muted");
    }
}

#[tokio::test]
async fn chat_keeps_order_history_limits_and_deletions() {
    let app = spawn_app().await;
    app.signed_in_as("host").await;
    let meeting = app.start_instant("Chatty").await;
    let mut host = Peer::join(&app.address, &meeting, &app.cookie_header()).await;
    let mut ann = Peer::join(&app.address, &meeting, &guest(&app, "ann").await).await;
    for text in ["one", "two", "three"] {
        ann.send(json!({"type": "chat", "text": text})).await;
    }
    let mut seen = Vec::new();
    for _ in 0..3 {
        let m = host.expect("chat").await["message"].clone();
        assert_eq!(m["name"], "ann Tester");
        seen.push((
            m["seq"].as_i64().unwrap(),
            m["text"].as_str().unwrap().to_owned(),
        ));
    }
    assert_eq!(
        seen,
        [(1, "one".into()), (2, "two".into()), (3, "three".into())]
    );
    // Too long, empty: refused with a reason, nothing sent.
    ann.send(json!({"type": "chat", "text": "x".repeat(2001)}))
        .await;
    assert_eq!(ann.expect("error").await["code"], "too_large");
    ann.send(json!({"type": "chat", "text": "  \n "})).await;
    assert_eq!(ann.expect("error").await["code"], "bad_message");
    // Exactly 2,000 characters (accented, so more bytes) is fine.
    ann.send(json!({"type": "chat", "text": "é".repeat(2000)}))
        .await;
    assert_eq!(
        host.expect("chat").await["message"]["text"]
            .as_str()
            .unwrap()
            .chars()
            .count(),
        2000
    );
    // Five at once, then one every two seconds: the sixth in a row waits.
    let mut refused = 0;
    for i in 0..3 {
        ann.send(json!({"type": "chat", "text": format!("burst {i}")}))
            .await;
    }
    while let Some(msg) = next(&mut ann.socket, Duration::from_millis(300)).await {
        if msg["type"] == "error" {
            assert_eq!(msg["code"], "rate_limited");
            refused += 1;
        }
    }
    assert!(refused >= 1, "the burst was limited");

    host.send(json!({"type": "chat-delete", "seq": 2})).await;
    assert_eq!(ann.expect("chat-deleted").await["seq"], 2);
    let late = Peer::join(&app.address, &meeting, &guest(&app, "late").await).await;
    let _ = late;
    let (_, welcome) = knock(&app, &meeting, &guest(&app, "later").await).await;
    let history = welcome["chat"].as_array().unwrap();
    assert_eq!(history[0]["text"], "one");
    assert_eq!(
        (history[1]["deleted"].clone(), history[1]["text"].clone()),
        (json!(true), json!(""))
    );
    assert_eq!(history[2]["text"], "three");
    let _ = host.expect("peer-joined").await;
}

#[tokio::test]
async fn what_the_host_decided_and_the_chat_survive_a_restart() {
    let app = spawn_app().await;
    let (meeting, mut host) = host_with_waiting_room(&app).await;
    let admitted = guest(&app, "admitted").await;
    let (_admitted_socket, _) = knock(&app, &meeting, &admitted).await;
    let id = host.expect("knock").await["peer"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    host.send(json!({"type": "admit", "id": id})).await;
    host.expect("peer-joined").await;
    let removed = guest(&app, "removed").await;
    let (_removed_socket, _) = knock(&app, &meeting, &removed).await;
    let removed_id = host.expect("knock").await["peer"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    host.send(json!({"type": "remove", "id": removed_id})).await;
    host.expect("removed-list").await;
    host.send(json!({"type": "chat", "text": "kept"})).await;
    host.expect("chat").await;
    host.send(json!({"type": "lock", "locked": true})).await;
    host.expect("room-state").await;
    // The writer is asynchronous; give it a moment before the server goes.
    tokio::time::sleep(Duration::from_millis(300)).await;

    app.server.stop(false).await;
    let port = app.port.to_string();
    let again = app.respawn(&[("PORT", &port)]).await;
    let (_, welcome) = knock(&again, &meeting, &app.cookie_header()).await;
    assert_eq!(welcome["type"], "welcome");
    assert_eq!(welcome["locked"], true);
    assert_eq!(welcome["waitingRoom"], true);
    assert_eq!(welcome["removed"][0]["name"], "removed Tester");
    assert_eq!(welcome["chat"][0]["text"], "kept");
    let (_, first) = knock(&again, &meeting, &removed).await;
    assert_eq!(first["code"], "removed");
    let (_, first) = knock(&again, &meeting, &admitted).await;
    assert_eq!(
        first["type"], "welcome",
        "let in before the restart, let in after"
    );
}

/// Waits until the mock has seen `n` requests to a path ending in `suffix`.
async fn stream_calls(
    mock: &crate::stream_mock::MockStream,
    suffix: &str,
    n: usize,
) -> Vec<crate::stream_mock::Recorded> {
    for _ in 0..60 {
        let seen = mock.requests_to(suffix);
        if seen.len() >= n {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("Stream never got {n} × {suffix}: {:?}", mock.requests());
}

#[tokio::test]
async fn in_stream_mode_the_room_is_the_door_and_stream_enforces_removal_and_mute() {
    use crate::stream::{assert_server_call, id_of, stream_app, token_for};
    let mock = crate::stream_mock::MockStream::start().await;
    let app = stream_app(&mock).await;
    app.signed_in_as("host").await;
    let meeting = app.start_instant("Hosted at Stream").await;
    let mut host = Peer::join(&app.address, &meeting, &app.cookie_header()).await;
    let guest = app.other_client();
    guest.signed_in_as("guest").await;
    let guest_id = id_of(&guest.client, &app.address).await;
    assert_eq!(
        token_for(&guest.client, &app.address, &meeting)
            .await
            .status(),
        403,
        "no token before the room lets them in"
    );
    let mut inside = Peer::join(&app.address, &meeting, &guest.cookie_header()).await;
    assert_eq!(
        token_for(&guest.client, &app.address, &meeting)
            .await
            .status(),
        200
    );
    // Media goes through Stream: the room relays no offers.
    inside
        .send(json!({"type": "offer", "to": host.id, "sdp": "v=0"}))
        .await;
    assert_eq!(inside.expect("error").await["code"], "bad_message");
    host.expect("peer-joined").await;

    mock.clear();
    host.send(json!({"type": "mute", "id": inside.id})).await;
    inside.expect("muted").await;
    let mutes = stream_calls(&mock, "/mute_users", 1).await;
    assert_server_call(
        &mutes[0],
        "POST",
        &format!("/api/v2/video/call/default/{meeting}/mute_users"),
    );
    assert_eq!(
        mutes[0].json(),
        json!({"user_ids": [guest_id], "audio": true})
    );

    host.send(json!({"type": "remove", "id": inside.id})).await;
    inside.expect("removed").await;
    let kicks = stream_calls(&mock, "/kick", 1).await;
    assert_server_call(
        &kicks[0],
        "POST",
        &format!("/api/v2/video/call/default/{meeting}/kick"),
    );
    assert_eq!(kicks[0].json(), json!({"user_id": guest_id, "block": true}));
    assert_eq!(
        token_for(&guest.client, &app.address, &meeting)
            .await
            .status(),
        403,
        "removed: no token"
    );
    host.send(json!({"type": "allow-back", "userId": guest_id}))
        .await;
    let unblocks = stream_calls(&mock, "/unblock", 1).await;
    assert_eq!(unblocks[0].json(), json!({"user_id": guest_id}));
}

#[tokio::test]
async fn the_waiting_room_is_chosen_when_scheduling_and_on_by_default_in_the_form() {
    let app = spawn_app().await;
    app.signed_in_as("planner").await;
    let modal = app
        .get_htmx("/meetings/schedule")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        modal.contains(
            r#"name="waiting_room" value="on" aria-describedby="waiting-room-help" checked"#
        ),
        "ticked by default: {modal}"
    );
    let when = (chrono::Utc::now() + chrono::Duration::minutes(1)).format("%Y-%m-%dT%H:%M");
    let mut meetings = Vec::new();
    for waiting_room in [true, false] {
        let mut form = vec![
            ("description", "Planned".to_owned()),
            ("starts_at", when.to_string()),
            ("tz_offset", "0".to_owned()),
        ];
        if waiting_room {
            form.push(("waiting_room", "on".to_owned()));
        }
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let html = app
            .post_htmx("/meetings/schedule", &form)
            .await
            .text()
            .await
            .unwrap();
        meetings.push(crate::helpers::meeting_id_in(&html));
    }
    for (meeting, waits) in meetings.iter().zip([true, false]) {
        let (_host, welcome) = knock(&app, meeting, &app.cookie_header()).await;
        assert_eq!(welcome["waitingRoom"], waits, "{meeting}");
        let cookie = guest(
            &app,
            if waits {
                "guest_waits"
            } else {
                "guest_walks_in"
            },
        )
        .await;
        let (_guest, first) = knock(&app, meeting, &cookie).await;
        assert_eq!(
            first["type"],
            if waits { "waiting" } else { "welcome" },
            "{meeting}"
        );
    }
}

#[tokio::test]
async fn after_the_call_its_host_and_attendees_read_the_chat_and_download_it() {
    let app = spawn_app().await;
    app.signed_in_as("host").await;
    let meeting = app.start_instant("Retro").await;
    let mut host = Peer::join(&app.address, &meeting, &app.cookie_header()).await;
    let attendee = app.other_client();
    attendee.signed_in_as("attendee").await;
    let mut ann = Peer::join(&app.address, &meeting, &attendee.cookie_header()).await;
    let rowdy = app.other_client();
    rowdy.signed_in_as("rowdy").await;
    let rowdy_peer = Peer::join(&app.address, &meeting, &rowdy.cookie_header()).await;
    ann.send(json!({"type": "chat", "text": "notes at https://example.com/notes, thanks"}))
        .await;
    ann.send(json!({"type": "chat", "text": "<script>alert(1)</script>"}))
        .await;
    ann.send(json!({"type": "chat", "text": "oops, a secret"}))
        .await;
    for _ in 0..3 {
        host.expect("chat").await;
    }
    host.send(json!({"type": "chat-delete", "seq": 3})).await;
    host.expect("chat-deleted").await;
    host.send(json!({"type": "remove", "id": rowdy_peer.id}))
        .await;
    host.expect("removed-list").await;
    host.send(json!({"type": "end"})).await;
    host.expect("ended").await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let previous = attendee.get("/previous").await.text().await.unwrap();
    assert!(
        previous.contains(&format!(
            r#"href="/meeting/{meeting}/chat">Chat (3 messages)"#
        )),
        "{previous}"
    );
    let page = attendee
        .get(&format!("/meeting/{meeting}/chat"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(r#"<a href="https://example.com/notes" target="_blank" rel="noopener noreferrer">https://example.com/notes</a>, thanks"#), "{page}");
    assert!(
        page.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{page}"
    );
    assert!(!page.contains("<script>alert"));
    assert!(page.contains("Message deleted by the host"));
    assert!(!page.contains("oops, a secret"));
    assert!(page.contains("attendee Tester"));
    let res = app.get(&format!("/meeting/{meeting}/chat.txt")).await;
    assert_eq!(res.status(), 200);
    assert!(
        crate::helpers::header(res.headers(), "content-disposition")
            .starts_with("attachment; filename=\"yoom-chat-")
    );
    assert_eq!(
        crate::helpers::header(res.headers(), "content-type"),
        "text/plain; charset=utf-8"
    );
    let text = res.text().await.unwrap();
    assert!(text.starts_with("Chat of “Retro”"), "{text}");
    assert!(text.contains("attendee Tester:\n    <script>alert(1)</script>"));
    assert!(text.contains("(deleted by the host)") && !text.contains("oops"));

    // Someone removed, or never there: as if the meeting did not exist.
    let stranger = app.other_client();
    stranger.signed_in_as("stranger").await;
    for who in [&rowdy, &stranger] {
        for path in [
            format!("/meeting/{meeting}/chat"),
            format!("/meeting/{meeting}/chat.txt"),
        ] {
            assert_eq!(who.get(&path).await.status(), 404, "{path}");
        }
    }
    let previous = rowdy.get("/previous").await.text().await.unwrap();
    assert!(!previous.contains(&meeting), "removed: not an attendee");
}

//! Finding meetings by trying IDs is limited, unknown and not-yours rooms look the same,
//! room IDs are far too many to guess, and creating meetings is limited per person.

use crate::helpers::{TestApp, header, spawn_app, spawn_app_with};

async fn try_join(app: &TestApp, link: &str) -> (u16, String) {
    let res = app.post_htmx("/meetings/join", &[("link", link)]).await;
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test]
async fn guessing_room_ids_is_refused_after_ten_tries_whatever_was_typed() {
    let app = spawn_app().await;
    let owner = app.other_client();
    owner.signed_in_as("roomowner").await;
    let real = {
        let html = owner.get("/personal-room").await.text().await.unwrap();
        let start = html.find("id=\"room-id\">").unwrap() + 13;
        html[start..start + 12].to_owned()
    };
    app.signed_in_as("prober").await;
    let unknown = uuid::Uuid::new_v4().to_string();
    let tries = [
        "aaa-aaaa-aaa",
        "abc defg hij",
        "",
        "garbage",
        "https://evil.example/meeting/x",
        unknown.as_str(),
        "/meeting/qqq-qqqq-qqq",
        "zzzzzzzzzz",
    ];
    for link in tries {
        assert_eq!(try_join(&app, link).await.0, 422, "{link:?}");
    }
    // Looking at meeting pages by ID counts against the same limit.
    for path in ["/meeting/bbb-bbbb-bbb", "/meeting/not-an-id"] {
        assert_eq!(app.get(path).await.status(), 404);
    }
    let (status, html) = try_join(&app, &real).await;
    assert_eq!(
        status, 429,
        "even a right guess waits once the limit is reached"
    );
    assert!(html.contains("Too many tries"), "{html}");
    let res = app.get(&format!("/meeting/{real}?personal=true")).await;
    assert_eq!(res.status(), 429);
    // The room's owner, another account on another client, is not affected.
    let res = owner.get(&format!("/meeting/{real}?personal=true")).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_try_that_finds_a_meeting_does_not_count() {
    let app = spawn_app().await;
    app.signed_in_as("regular").await;
    let room = app.personal_room_id().await;
    let meeting = app.start_instant("Daily").await;
    for _ in 0..30 {
        let res = app.post_htmx("/meetings/join", &[("link", &meeting)]).await;
        assert_eq!(
            header(res.headers(), "hx-redirect"),
            format!("/meeting/{meeting}")
        );
        assert_eq!(app.get(&format!("/meeting/{room}")).await.status(), 200);
    }
}

/// Three letters from a number, for room-shaped guesses.
fn letters(i: usize) -> String {
    [i / 676, i / 26 % 26, i % 26]
        .iter()
        .map(|n| char::from(b'a' + *n as u8))
        .collect()
}

#[tokio::test]
async fn parallel_guesses_are_counted_before_they_are_looked_up() {
    let app = spawn_app().await;
    app.signed_in_as("racer").await;
    let guesses: Vec<String> = (0..40)
        .map(|i| format!("abc-defg-{}", letters(i)))
        .collect();
    let app = &app;
    let requests = guesses.iter().map(|g| async move {
        app.post_htmx("/meetings/join", &[("link", g.as_str())])
            .await
            .status()
            .as_u16()
    });
    let statuses: Vec<u16> = futures_util::future::join_all(requests).await;
    let looked_up = statuses.iter().filter(|s| **s == 422).count();
    assert!(
        looked_up <= yoom::limits::JOIN_TRIES_PER_ACCOUNT as usize,
        "{looked_up} of 40 were looked up"
    );
}

#[tokio::test]
async fn many_accounts_from_one_address_share_a_limit() {
    let app = spawn_app().await;
    let mut refused = 0;
    for i in 0..4 {
        let prober = app.other_client();
        prober.signed_in_as(&format!("sybil{i}")).await;
        for j in 0..10 {
            let res = prober
                .client
                .post(app.url("/meetings/join"))
                .header("Origin", &app.address)
                .header("HX-Request", "true")
                .form(&[("link", format!("zzz-zzzz-{}", letters(i * 10 + j)))])
                .send()
                .await
                .unwrap();
            if res.status() == 429 {
                refused += 1;
            }
        }
    }
    assert_eq!(refused, 40 - yoom::limits::JOIN_TRIES_PER_ADDRESS as usize);
}

#[tokio::test]
async fn an_unknown_id_and_a_meeting_that_was_never_yours_get_the_same_answer() {
    let app = spawn_app().await;
    app.signed_in_as("host").await;
    let ended = app.start_instant("Over").await;
    let cancelled = app.schedule_in(60, "Called off").await;
    app.post_form(&format!("/meeting/{ended}/end"), &[]).await;
    app.post_form(&format!("/meeting/{cancelled}/cancel"), &[])
        .await;
    let stranger = app.other_client();
    stranger.signed_in_as("stranger").await;
    let unknown = uuid::Uuid::new_v4().to_string();
    let answer = |id: String| {
        let stranger = &stranger;
        async move {
            let res = stranger
                .client
                .post(stranger.app.url("/meetings/join"))
                .header("Origin", &stranger.app.address)
                .header("HX-Request", "true")
                .form(&[("link", id.as_str())])
                .send()
                .await
                .unwrap();
            let form = (res.status().as_u16(), res.text().await.unwrap());
            let page = stranger.get(&format!("/meeting/{id}")).await;
            let page = (page.status().as_u16(), page.text().await.unwrap());
            (form, page)
        }
    };
    let nothing = answer(unknown.clone()).await;
    assert_eq!(nothing.0.0, 422);
    assert!(nothing.0.1.contains("No meeting has that link or ID"));
    assert_eq!(nothing.1.0, 404);
    for id in [&ended, &cancelled] {
        let got = answer(id.clone()).await;
        assert_eq!(
            got.0,
            (nothing.0.0, nothing.0.1.replace(&unknown, id)),
            "{id}"
        );
        assert_eq!(got.1.0, 404, "{id}");
        assert!(
            !got.1.1.contains(id),
            "the page says nothing of this meeting"
        );
    }
}

#[tokio::test]
async fn old_ten_digit_room_ids_are_replaced_at_start() {
    let app = spawn_app().await;
    app.signed_in_as("oldtimer").await;
    let before = app.personal_room_id().await;
    let db = app.db().await;
    sqlx::query("update personal_room set room_id = '4821937561'")
        .execute(&db)
        .await
        .unwrap();
    let again = app.respawn(&[]).await;
    let res = app
        .client
        .get(again.url("/personal-room"))
        .send()
        .await
        .unwrap();
    let html = res.text().await.unwrap();
    let start = html.find("id=\"room-id\">").unwrap() + 13;
    let after = &html[start..start + 12];
    assert_ne!(after, before);
    assert!(
        yoom::meetings::personal::normalize_room_id(after).is_some(),
        "{after}"
    );
    assert!(!html.contains("4821937561"));
}

#[tokio::test]
async fn meeting_creation_is_limited_per_person() {
    let app = spawn_app_with(&[("MEETING_CREATE_RATE_LIMIT", "3")]).await;
    app.signed_in_as("busy_bee").await;
    for i in 0..3 {
        app.start_instant(&format!("Meeting {i}")).await;
    }
    let res = app
        .post_htmx("/meetings/instant", &[("description", "One more")])
        .await;
    assert_eq!(res.status(), 429);
    let html = res.text().await.unwrap();
    assert!(html.contains("created many meetings"), "{html}");
    assert!(html.contains("One more"), "what was typed is kept");
    let when = (chrono::Utc::now() + chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let res = app
        .post_htmx(
            "/meetings/schedule",
            &[
                ("description", "Later"),
                ("starts_at", &when),
                ("tz_offset", "0"),
            ],
        )
        .await;
    assert_eq!(res.status(), 429);
    // Opening a personal room's session is creating a meeting too.
    let room = app.personal_room_id().await;
    let res = app
        .client
        .post(app.url(&format!("/meeting/{room}/enter")))
        .header("Origin", &app.address)
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    // Someone else is not affected.
    let other = app.other_client();
    other.signed_in_as("calm").await;
    let res = other
        .post_form("/meetings/instant", &[("description", "Mine")])
        .await;
    assert_eq!(res.status(), 303);
}

//! Meetings: instant, scheduled, joined; the lists; cancel and end; the gate; calendar files.

use yoom::meetings::store;

use crate::helpers::{header, location, meeting_id_in, meeting_ids_in, spawn_app};

fn future_local(minutes: i64, offset_minutes: i64) -> String {
    // The picker shows local time: local = UTC − offset.
    let utc = chrono::Utc::now() + chrono::Duration::minutes(minutes);
    (utc - chrono::Duration::minutes(offset_minutes))
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

#[tokio::test]
async fn an_instant_meeting_starts_now_and_goes_straight_to_its_page() {
    let app = spawn_app().await;
    app.signed_in_as("host").await;
    let res = app
        .client
        .post(app.url("/meetings/instant"))
        .header("HX-Request", "true")
        .header("Origin", &app.address)
        .form(&[("description", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let target = header(res.headers(), "hx-redirect").to_owned();
    assert!(target.starts_with("/meeting/"), "{target}");
    let page = app.get(&target).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Instant Meeting"), "default description");
    assert!(html.contains("id=\"meeting-room\""));

    let id = app.start_instant("Quick sync").await;
    let html = app
        .get(&format!("/meeting/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Quick sync"));
}

#[tokio::test]
async fn an_oversize_instant_description_comes_back_in_place() {
    let app = spawn_app().await;
    app.signed_in_as("host").await;
    let long = "x".repeat(501);
    let res = app
        .client
        .post(app.url("/meetings/instant"))
        .header("HX-Request", "true")
        .form(&[("description", long.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("at most 500 characters"));
    assert!(html.contains(&long), "what was typed is kept");
}

#[tokio::test]
async fn scheduling_shows_meeting_created_with_the_link_and_a_toast() {
    let app = spawn_app().await;
    app.signed_in_as("planner").await;
    let when = future_local(60, 0);
    let res = app
        .post_htmx(
            "/meetings/schedule",
            &[
                ("description", "Design review"),
                ("starts_at", &when),
                ("tz_offset", "0"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(res.headers(), "hx-retarget"), "#modal");
    assert!(header(res.headers(), "hx-trigger").contains("Meeting Created"));
    let html = res.text().await.unwrap();
    assert!(html.contains("Meeting Created"));
    assert!(html.contains("Copy Meeting Link"));
    let id = meeting_id_in(&html);
    assert!(html.contains(&format!("data-copy=\"{}/meeting/{id}\"", app.address)));
    assert!(html.contains(&format!("/meeting/{id}/calendar.ics")));

    let upcoming = app.get("/upcoming").await.text().await.unwrap();
    assert_eq!(meeting_ids_in(&upcoming), vec![id]);
    assert!(upcoming.contains("Design review"));
}

#[tokio::test]
async fn bad_schedule_input_comes_back_in_place_and_creates_nothing() {
    let app = spawn_app().await;
    app.signed_in_as("planner").await;
    let past = future_local(-120, 0);
    let future = future_local(60, 0);
    let long = "d".repeat(501);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("description", "x")], "Please select a date and time"),
        (
            vec![("description", "x"), ("starts_at", ""), ("tz_offset", "0")],
            "Please select a date and time",
        ),
        (
            vec![
                ("description", "x"),
                ("starts_at", &past),
                ("tz_offset", "0"),
            ],
            "already passed",
        ),
        (
            vec![
                ("description", "x"),
                ("starts_at", "next tuesday"),
                ("tz_offset", "0"),
            ],
            "could not be read",
        ),
        (
            vec![
                ("description", "x"),
                ("starts_at", "2026-02-30T10:00"),
                ("tz_offset", "0"),
            ],
            "could not be read",
        ),
        (
            vec![
                ("description", &long),
                ("starts_at", &future),
                ("tz_offset", "0"),
            ],
            "at most 500 characters",
        ),
        (
            vec![
                ("description", "x"),
                ("starts_at", &future),
                ("tz_offset", "100000"),
            ],
            "time zone",
        ),
    ];
    for (form, message) in &cases {
        let res = app.post_htmx("/meetings/schedule", form).await;
        assert_eq!(res.status(), 422, "{form:?}");
        assert!(
            header(res.headers(), "hx-trigger").contains("toast"),
            "{form:?} also toasts"
        );
        let html = res.text().await.unwrap();
        assert!(
            html.contains(message),
            "{form:?} should say {message}: {html}"
        );
        assert!(!html.contains("<html"), "the form only");
    }
    let upcoming = app.get("/upcoming").await.text().await.unwrap();
    assert!(upcoming.contains("No Upcoming Calls"));
}

#[tokio::test]
async fn the_viewers_time_zone_offset_is_applied_on_both_sides_of_utc() {
    let app = spawn_app().await;
    app.signed_in_as("traveller").await;
    for offset in [-330_i64, 300, 0, 840, -720] {
        let local = future_local(24 * 60, offset);
        let res = app
            .post_form(
                "/meetings/schedule",
                &[
                    ("description", "tz"),
                    ("starts_at", &local),
                    ("tz_offset", &offset.to_string()),
                ],
            )
            .await;
        assert_eq!(res.status(), 201, "offset {offset}");
        let id = meeting_id_in(&res.text().await.unwrap());
        let m = store::find(&app.db().await, &id).await.unwrap().unwrap();
        let naive = chrono::NaiveDateTime::parse_from_str(&local, "%Y-%m-%dT%H:%M").unwrap();
        assert_eq!(
            m.starts_at,
            naive.and_utc().timestamp() + offset * 60,
            "offset {offset}"
        );
        let ics = app
            .get(&format!("/meeting/{id}/calendar.ics"))
            .await
            .text()
            .await
            .unwrap();
        let expected = yoom::time::to_datetime(m.starts_at)
            .format("DTSTART:%Y%m%dT%H%M%SZ")
            .to_string();
        assert!(ics.contains(&expected), "offset {offset}: {ics}");
    }
}

#[tokio::test]
async fn the_calendar_file_has_the_link_title_and_utc_times() {
    let app = spawn_app().await;
    app.signed_in_as("cal").await;
    let id = app.schedule_in(90, "Quarterly planning, part 2").await;
    let res = app.get(&format!("/meeting/{id}/calendar.ics")).await;
    assert_eq!(res.status(), 200);
    assert!(header(res.headers(), "content-type").starts_with("text/calendar"));
    assert!(header(res.headers(), "content-disposition").contains("attachment"));
    let ics = res.text().await.unwrap();
    let unfolded = ics.replace("\r\n ", "");
    assert!(unfolded.contains("SUMMARY:Quarterly planning\\, part 2\r\n"));
    assert!(unfolded.contains(&format!("URL:{}/meeting/{id}\r\n", app.address)));
    assert!(unfolded.contains("BEGIN:VEVENT") && unfolded.contains("DTEND:"));
    assert!(app.get("/meeting/not-a-uuid/calendar.ics").await.status() == 404);
}

#[tokio::test]
async fn join_accepts_a_link_a_path_an_id_and_a_personal_room_id() {
    let app = spawn_app().await;
    app.signed_in_as("joiner").await;
    let id = app.start_instant("Join me").await;
    let room_page = app.get("/personal-room").await.text().await.unwrap();
    let room_id = {
        let start = room_page.find("id=\"room-id\">").unwrap() + 13;
        room_page[start..start + 12].to_owned()
    };
    let full = format!("{}/meeting/{id}", app.address);
    let path = format!("/meeting/{id}");
    let padded = format!("   {full}   ");
    let personal_link = format!("{}/meeting/{room_id}?personal=true", app.address);
    for (input, expected) in [
        (full.as_str(), path.clone()),
        (path.as_str(), path.clone()),
        (id.as_str(), path.clone()),
        (padded.as_str(), path.clone()),
        (
            room_id.as_str(),
            format!("/meeting/{room_id}?personal=true"),
        ),
        (
            personal_link.as_str(),
            format!("/meeting/{room_id}?personal=true"),
        ),
    ] {
        let res = app.post_htmx("/meetings/join", &[("link", input)]).await;
        assert_eq!(res.status(), 200, "{input}");
        assert_eq!(header(res.headers(), "hx-redirect"), expected, "{input}");
    }
}

#[tokio::test]
async fn join_says_what_is_wrong_with_bad_input() {
    let app = spawn_app().await;
    app.signed_in_as("joiner").await;
    let unknown = uuid::Uuid::new_v4().to_string();
    let foreign = format!("https://evil.example/meeting/{unknown}");
    let unknown_path = format!("/meeting/{unknown}");
    for (input, message) in [
        ("", "Paste a meeting link or a meeting ID."),
        ("   ", "Paste a meeting link or a meeting ID."),
        (foreign.as_str(), "another site"),
        ("hello world", "not a meeting link"),
        ("/upcoming", "not a meeting link"),
        (unknown.as_str(), "No meeting has that link or ID"),
        (unknown_path.as_str(), "No meeting has that link or ID"),
        ("zzz-zzzz-zzz", "No meeting has that link or ID"),
        ("1234567890", "not a meeting link"),
    ] {
        let res = app.post_htmx("/meetings/join", &[("link", input)]).await;
        assert_eq!(res.status(), 422, "{input}");
        let html = res.text().await.unwrap();
        assert!(
            html.contains(message),
            "{input:?} should say {message}: {html}"
        );
    }
}

#[tokio::test]
async fn modals_open_fresh_every_time() {
    let app = spawn_app().await;
    app.signed_in_as("fresh").await;
    app.schedule_in(60, "Last time's meeting").await;
    let modal = app
        .get_htmx("/meetings/schedule")
        .await
        .text()
        .await
        .unwrap();
    assert!(modal.contains("Create Meeting"));
    assert!(!modal.contains("Last time's meeting"));
    assert!(!modal.contains("Meeting Created"));
    assert!(!modal.contains("<html"));
    for (path, title) in [
        ("/meetings/instant", "Start an Instant Meeting"),
        ("/meetings/join", "Type the link here"),
    ] {
        let html = app.get_htmx(path).await.text().await.unwrap();
        assert!(html.contains(title) && !html.contains("<html"), "{path}");
        // Without script, the same URL is a page in the shell.
        let html = app.get(path).await.text().await.unwrap();
        assert!(
            html.contains(title) && html.contains("class=\"sidebar\""),
            "{path}"
        );
    }
}

#[tokio::test]
async fn upcoming_is_soonest_first_and_previous_most_recent_first() {
    let app = spawn_app().await;
    app.signed_in_as("orderly").await;
    let later = app.schedule_in(180, "later").await;
    let soon = app.schedule_in(30, "soon").await;
    let middle = app.schedule_in(90, "middle").await;
    let html = app.get("/upcoming").await.text().await.unwrap();
    assert_eq!(
        meeting_ids_in(&html),
        vec![soon.clone(), middle.clone(), later.clone()]
    );

    // End them in an order unrelated to their start; previous is by start, newest first.
    for id in [&middle, &soon, &later] {
        let res = app.post_form(&format!("/meeting/{id}/end"), &[]).await;
        assert_eq!(res.status(), 303);
    }
    let html = app.get("/previous").await.text().await.unwrap();
    assert_eq!(meeting_ids_in(&html), vec![later, middle, soon]);
    let html = app.get("/upcoming").await.text().await.unwrap();
    assert!(html.contains("No Upcoming Calls"));
}

#[tokio::test]
async fn a_live_meeting_is_upcoming_with_a_badge_and_moves_to_previous_when_empty() {
    let app = spawn_app().await;
    app.signed_in_as("live").await;
    let id = app.start_instant("Happening now").await;
    let db = app.db().await;
    let owner = store::find(&db, &id).await.unwrap().unwrap().owner_id;
    // Nobody in it yet, and its start has passed: previous, not upcoming.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert!(meeting_ids_in(&app.get("/upcoming").await.text().await.unwrap()).is_empty());
    assert_eq!(
        meeting_ids_in(&app.get("/previous").await.text().await.unwrap()),
        vec![id.clone()]
    );

    store::record_join(&db, &id, &owner, yoom::time::now())
        .await
        .unwrap();
    let html = app.get("/upcoming").await.text().await.unwrap();
    assert_eq!(meeting_ids_in(&html), vec![id.clone()]);
    assert!(html.contains("badge-live"));
    assert!(meeting_ids_in(&app.get("/previous").await.text().await.unwrap()).is_empty());

    store::record_leave(&db, &id, &owner, yoom::time::now())
        .await
        .unwrap();
    assert!(meeting_ids_in(&app.get("/upcoming").await.text().await.unwrap()).is_empty());
    assert_eq!(
        meeting_ids_in(&app.get("/previous").await.text().await.unwrap()),
        vec![id]
    );
}

#[tokio::test]
async fn people_see_meetings_they_own_or_attended_and_no_others() {
    let app = spawn_app().await;
    app.signed_in_as("owner").await;
    let id = app.schedule_in(60, "Owner's meeting").await;
    let guest = app.other_client();
    guest.signed_in_as("guest").await;
    let stranger = app.other_client();
    stranger.signed_in_as("stranger").await;

    let ids = |html: String| meeting_ids_in(&html);
    assert!(ids(guest.get("/upcoming").await.text().await.unwrap()).is_empty());

    let db = app.db().await;
    let guest_id = yoom::auth::accounts::find_for_sign_in(&db, "guest")
        .await
        .unwrap()
        .unwrap()
        .0
        .id;
    store::record_join(&db, &id, &guest_id, yoom::time::now())
        .await
        .unwrap();
    store::record_leave(&db, &id, &guest_id, yoom::time::now())
        .await
        .unwrap();

    assert_eq!(
        ids(guest.get("/upcoming").await.text().await.unwrap()),
        vec![id.clone()]
    );
    assert!(ids(stranger.get("/upcoming").await.text().await.unwrap()).is_empty());
    let owner_view = app.get("/upcoming").await.text().await.unwrap();
    assert!(
        owner_view.contains("title=\"guest Tester\""),
        "the attendee's avatar"
    );
    assert!(owner_view.contains(">GT<"), "initials");
    // The guest sees Join, not Start, and no Cancel.
    let guest_view = guest.get("/upcoming").await.text().await.unwrap();
    assert!(guest_view.contains(">Join</a>") && !guest_view.contains(">Start</a>"));
    assert!(!guest_view.contains("/cancel"));
    assert!(owner_view.contains(">Start</a>") && owner_view.contains("/cancel"));
}

#[tokio::test]
async fn avatars_show_four_and_count_the_rest() {
    let app = spawn_app().await;
    app.signed_in_as("popular").await;
    let id = app.start_instant("Big call").await;
    let db = app.db().await;
    for i in 0..6 {
        let guest = app.other_client();
        guest.signed_in_as(&format!("guest{i}")).await;
        let gid = yoom::auth::accounts::find_for_sign_in(&db, &format!("guest{i}"))
            .await
            .unwrap()
            .unwrap()
            .0
            .id;
        store::record_join(&db, &id, &gid, yoom::time::now())
            .await
            .unwrap();
        store::record_leave(&db, &id, &gid, yoom::time::now())
            .await
            .unwrap();
    }
    app.post_form(&format!("/meeting/{id}/end"), &[]).await;
    let html = app.get("/previous").await.text().await.unwrap();
    assert_eq!(
        html.matches("class=\"avatar avatar-initials\" title=")
            .count(),
        4
    );
    assert!(html.contains(">+2<"));
    assert!(html.contains("Attendees (6)"));
}

#[tokio::test]
async fn pages_hold_twenty_and_load_more_appends_the_rest() {
    let app = spawn_app().await;
    app.signed_in_as("busy").await;
    let db = app.db().await;
    let owner = yoom::auth::accounts::find_for_sign_in(&db, "busy")
        .await
        .unwrap()
        .unwrap()
        .0
        .id;
    let now = yoom::time::now();
    let mut created = Vec::new();
    for i in 0..41 {
        let m = store::create(
            &db,
            &owner,
            &format!("m{i}"),
            yoom::meetings::MeetingKind::Scheduled,
            now + 3600 + i * 60,
            now,
        )
        .await
        .unwrap();
        created.push(m.id);
    }
    let first = app.get("/upcoming").await.text().await.unwrap();
    assert_eq!(meeting_ids_in(&first), created[..20].to_vec());
    let more = first
        .find("hx-get=\"/upcoming?cursor=")
        .expect("a Load more button");
    let url = &first[more + 8..];
    let url = &url[..url.find('"').unwrap()];
    let second = app.get_htmx(url).await.text().await.unwrap();
    assert!(
        !second.contains("<h1"),
        "only the cards and the next button"
    );
    assert_eq!(meeting_ids_in(&second), created[20..40].to_vec());
    let more = second
        .find("hx-get=\"/upcoming?cursor=")
        .expect("another Load more");
    let url = &second[more + 8..];
    let url = &url[..url.find('"').unwrap()];
    let third = app.get_htmx(url).await.text().await.unwrap();
    assert_eq!(meeting_ids_in(&third), created[40..].to_vec());
    assert!(!third.contains("Load more"), "the last page has no button");

    // Exactly twenty: no button at all.
    app.post_form(&format!("/meeting/{}/cancel", created[40]), &[])
        .await;
    let html = app.get("/upcoming").await.text().await.unwrap();
    assert_eq!(meeting_ids_in(&html).len(), 20);
    assert!(html.contains("Load more"), "21 are left");
    app.post_form(&format!("/meeting/{}/cancel", created[39]), &[])
        .await;
    let html = app.get("/upcoming").await.text().await.unwrap();
    assert_eq!(meeting_ids_in(&html).len(), 20);

    assert_eq!(app.get("/upcoming?cursor=garbage").await.status(), 400);
}

#[tokio::test]
async fn only_the_owner_can_cancel_or_end() {
    let app = spawn_app().await;
    app.signed_in_as("boss").await;
    let id = app.schedule_in(60, "Board meeting").await;
    let other = app.other_client();
    other.signed_in_as("intern").await;
    for action in ["cancel", "end"] {
        let res = other
            .post_form(&format!("/meeting/{id}/{action}"), &[])
            .await;
        assert_eq!(res.status(), 403, "{action}");
        assert!(res.text().await.unwrap().contains("Only the host"));
    }
    let unknown = uuid::Uuid::new_v4();
    assert_eq!(
        app.post_form(&format!("/meeting/{unknown}/end"), &[])
            .await
            .status(),
        404
    );
    assert_eq!(
        app.post_form("/meeting/garbage/cancel", &[]).await.status(),
        404
    );

    // The owner cancels (htmx: the card goes, a toast says so).
    let res = app.post_htmx(&format!("/meeting/{id}/cancel"), &[]).await;
    assert_eq!(res.status(), 200);
    assert!(header(res.headers(), "hx-trigger").contains("Meeting cancelled"));
    assert!(
        app.get("/upcoming")
            .await
            .text()
            .await
            .unwrap()
            .contains("No Upcoming Calls")
    );
    let gate = app.get(&format!("/meeting/{id}")).await;
    assert_eq!(gate.status(), 410);
    assert!(gate.text().await.unwrap().contains("cancelled"));
    // Someone who was never in it learns no more than of an ID that never existed.
    let gate = other.get(&format!("/meeting/{id}")).await;
    assert_eq!(gate.status(), 404);
    assert!(gate.text().await.unwrap().contains("Meeting not found"));
}

#[tokio::test]
async fn the_gate_handles_unknown_ended_and_not_yet_started_meetings() {
    let app = spawn_app().await;
    app.signed_in_as("gatekeeper").await;
    for path in [
        format!("/meeting/{}", uuid::Uuid::new_v4()),
        "/meeting/nonsense".into(),
        "/meeting/0000000000".into(),
    ] {
        let res = app.get(&path).await;
        assert_eq!(res.status(), 404, "{path}");
        let html = res.text().await.unwrap();
        assert!(
            html.contains("Meeting not found") && html.contains("Back to Home"),
            "{path}"
        );
    }

    let id = app.schedule_in(120, "Later today").await;
    // The owner may start early.
    let html = app
        .get(&format!("/meeting/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("id=\"meeting-room\""));
    // A guest waits, told when it starts, and the page polls for the start.
    let guest = app.other_client();
    guest.signed_in_as("early_bird").await;
    let res = guest.get(&format!("/meeting/{id}")).await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("Your Meeting has not started yet."));
    assert!(html.contains("data-format=\"datetime\""));
    assert!(html.contains(&format!("hx-get=\"/meeting/{id}/ready\"")));
    let ready = guest.get(&format!("/meeting/{id}/ready")).await;
    assert_eq!(ready.status(), 204);

    // Once the host is in, the guest may enter.
    let db = app.db().await;
    let owner = store::find(&db, &id).await.unwrap().unwrap().owner_id;
    store::record_join(&db, &id, &owner, yoom::time::now())
        .await
        .unwrap();
    let ready = guest.get(&format!("/meeting/{id}/ready")).await;
    assert_eq!(ready.status(), 200);
    assert_eq!(header(ready.headers(), "hx-refresh"), "true");
    assert!(
        guest
            .get(&format!("/meeting/{id}"))
            .await
            .text()
            .await
            .unwrap()
            .contains("id=\"meeting-room\"")
    );

    // Ended: everyone who was in it sees the notice; a stranger sees "not found".
    let guest_id = yoom::auth::accounts::find_for_sign_in(&db, "early_bird")
        .await
        .unwrap()
        .unwrap()
        .0
        .id;
    store::record_join(&db, &id, &guest_id, yoom::time::now())
        .await
        .unwrap();
    app.post_form(&format!("/meeting/{id}/end"), &[]).await;
    let stranger = app.other_client();
    stranger.signed_in_as("stranger").await;
    let res = stranger.get(&format!("/meeting/{id}")).await;
    assert_eq!(res.status(), 404);
    let res = guest.get(&format!("/meeting/{id}")).await;
    assert_eq!(res.status(), 410);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("The call has been ended by the host")
    );
    let res = app.get(&format!("/meeting/{id}")).await;
    assert_eq!(location(res.headers()), "");
    assert_eq!(res.status(), 410);
}

#[tokio::test]
async fn home_shows_the_real_next_meeting_and_a_clock() {
    let app = spawn_app().await;
    app.signed_in_as("homebody").await;
    let html = app.get("/").await.text().await.unwrap();
    assert!(html.contains("No upcoming meetings"));
    for text in [
        "New Meeting",
        "Start an instant meeting",
        "Join Meeting",
        "via invitation link",
        "Schedule Meeting",
        "Plan your meeting",
        "View Recordings",
    ] {
        assert!(html.contains(text), "{text}");
    }
    assert!(html.contains("data-clock=\"time\"") && html.contains("data-clock=\"date\""));

    let late = app.schedule_in(300, "late").await;
    let early = app.schedule_in(45, "early").await;
    let html = app.get("/").await.text().await.unwrap();
    assert!(html.contains("Upcoming Meeting at:"));
    let db = app.db().await;
    let early_m = store::find(&db, &early).await.unwrap().unwrap();
    assert!(html.contains(&format!(
        "datetime=\"{}\" data-format=\"smart\"",
        early_m.starts_iso()
    )));
    let _ = late;
}

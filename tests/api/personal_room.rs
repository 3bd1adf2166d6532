//! The personal room: a stable random room ID, an invite link, reusable sessions.

use yoom::meetings::store;

use crate::helpers::{TestApp2, enter_personal_room as enter, spawn_app};

async fn guest_enters(guest: &TestApp2<'_>, room: &str) -> String {
    enter(&guest.client, &guest.app.address, room).await
}

fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let s = html
        .find(start)
        .unwrap_or_else(|| panic!("{start} in page"))
        + start.len();
    let e = html[s..].find(end).unwrap() + s;
    &html[s..e]
}

#[tokio::test]
async fn the_personal_room_has_a_stable_random_id_and_an_invite_link() {
    let app = spawn_app().await;
    app.signed_in_as("roomy").await;
    let html = app.get("/personal-room").await.text().await.unwrap();
    assert!(html.contains("Personal Meeting Room"));
    assert_eq!(
        between(&html, "id=\"room-topic\">", "<"),
        "roomy Tester&#39;s Meeting Room"
    );
    let room_id = between(&html, "id=\"room-id\">", "<").to_owned();
    assert_eq!(room_id.len(), 12, "{room_id}");
    assert_eq!(
        yoom::meetings::personal::normalize_room_id(&room_id).as_deref(),
        Some(room_id.as_str()),
        "three groups of letters"
    );
    let db = app.db().await;
    let account = yoom::auth::accounts::find_for_sign_in(&db, "roomy")
        .await
        .unwrap()
        .unwrap()
        .0
        .id;
    assert_ne!(room_id, account, "not the account ID");
    let invite = format!("{}/meeting/{room_id}?personal=true", app.address);
    assert_eq!(between(&html, "id=\"invite-link\">", "<"), invite);
    assert!(html.contains(&format!("data-copy=\"{invite}\"")));
    assert!(html.contains(&format!("href=\"/meeting/{room_id}?personal=true\"")));

    let again = app.get("/personal-room").await.text().await.unwrap();
    assert_eq!(between(&again, "id=\"room-id\">", "<"), room_id, "stable");
    let other = app.other_client();
    other.signed_in_as("someone_else").await;
    let theirs = other.get("/personal-room").await.text().await.unwrap();
    assert_ne!(
        between(&theirs, "id=\"room-id\">", "<"),
        room_id,
        "one room each"
    );
}

#[tokio::test]
async fn ending_the_personal_room_closes_the_session_and_the_next_visit_opens_a_new_one() {
    let app = spawn_app().await;
    app.signed_in_as("host").await;
    let html = app.get("/personal-room").await.text().await.unwrap();
    let room_id = between(&html, "id=\"room-id\">", "<").to_owned();
    let link = format!("/meeting/{room_id}?personal=true");

    let page = app.get(&link).await.text().await.unwrap();
    assert!(page.contains("id=\"meeting-room\""));
    // Looking at the room opens nothing; joining does.
    let room = yoom::meetings::personal::find(&app.db().await, &room_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(room.meeting_id, None, "a page view has no side effect");
    assert!(page.contains("data-meeting-id=\"\""));
    let session = enter(&app.client, &app.address, &room_id).await;
    // A guest arriving by the link joins the same session.
    let guest = app.other_client();
    guest.signed_in_as("visitor").await;
    assert!(
        guest
            .get(&link)
            .await
            .text()
            .await
            .unwrap()
            .contains(&format!("data-meeting-id=\"{session}\""))
    );
    assert_eq!(guest_enters(&guest, &room_id).await, session);

    assert_eq!(
        guest
            .post_form(&format!("/meeting/{session}/end"), &[])
            .await
            .status(),
        403
    );
    assert_eq!(
        app.post_form(&format!("/meeting/{session}/end"), &[])
            .await
            .status(),
        303
    );
    let db = app.db().await;
    assert!(
        store::find(&db, &session)
            .await
            .unwrap()
            .unwrap()
            .ended_at
            .is_some()
    );

    // The room opens again with a fresh session.
    assert!(
        guest
            .get(&link)
            .await
            .text()
            .await
            .unwrap()
            .contains("id=\"meeting-room\"")
    );
    let next = guest_enters(&guest, &room_id).await;
    assert_ne!(next, session);
    let m = store::find(&db, &next).await.unwrap().unwrap();
    assert_eq!(m.description, "host Tester's Meeting Room");
    assert!(m.ended_at.is_none());
}

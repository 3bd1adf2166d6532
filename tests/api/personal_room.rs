//! The personal room: a stable random room ID, an invite link, reusable sessions.

use yoom::meetings::store;

use crate::helpers::spawn_app;

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
    assert_eq!(room_id.len(), 10);
    assert!(room_id.bytes().all(|b| b.is_ascii_digit()));
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
    let session = yoom::meetings::personal::find(&app.db().await, &room_id)
        .await
        .unwrap()
        .unwrap()
        .meeting_id
        .unwrap();
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
            .contains("id=\"meeting-room\"")
    );
    let same = yoom::meetings::personal::find(&app.db().await, &room_id)
        .await
        .unwrap()
        .unwrap()
        .meeting_id
        .unwrap();
    assert_eq!(same, session);

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
    let next = yoom::meetings::personal::find(&db, &room_id)
        .await
        .unwrap()
        .unwrap()
        .meeting_id
        .unwrap();
    assert_ne!(next, session);
    let m = store::find(&db, &next).await.unwrap().unwrap();
    assert_eq!(m.description, "host Tester's Meeting Room");
    assert!(m.ended_at.is_none());
}

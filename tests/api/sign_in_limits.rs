//! Sign-in limits that hold under concurrency and behind a proxy, and sessions that end on the
//! server.

use crate::helpers::{TestApp, new_client_with_jar, spawn_app, spawn_app_with};

/// Fires `n` wrong-password sign-ins for `username` at once; returns (evaluated, refused).
async fn parallel_wrong_passwords(app: &TestApp, username: &str, n: usize) -> (usize, usize) {
    let requests = (0..n).map(|_| app.post_sign_in(username, "wrong password"));
    let statuses: Vec<u16> = futures_util::future::join_all(requests)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    let evaluated = statuses.iter().filter(|s| **s == 422).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(evaluated + refused, n, "{statuses:?}");
    (evaluated, refused)
}

#[tokio::test]
async fn parallel_wrong_passwords_are_counted_before_they_are_checked() {
    let app = spawn_app().await;
    app.signed_in_as("victim").await;
    app.sign_out().await;
    let (evaluated, refused) = parallel_wrong_passwords(&app, "victim", 40).await;
    assert!(
        evaluated <= yoom::auth::local::SIGN_IN_ATTEMPTS_PER_USERNAME as usize,
        "{evaluated} guesses were checked"
    );
    assert_eq!(refused, 40 - evaluated);
    // The right password waits too: the limit is on attempts, not on wrong ones seen.
    let res = app.post_sign_in("victim", "correct horse battery").await;
    assert_eq!(res.status(), 429);
}

#[tokio::test]
async fn a_successful_sign_in_resets_the_account_and_gives_the_address_its_attempt_back() {
    let app = spawn_app().await;
    app.signed_in_as("owner").await;
    app.sign_out().await;
    for _ in 0..4 {
        assert_eq!(app.post_sign_in("owner", "wrong").await.status(), 422);
    }
    assert_eq!(
        app.post_sign_in("owner", "correct horse battery")
            .await
            .status(),
        303
    );
    app.sign_out().await;
    // Five more for the account: its counter started afresh.
    for _ in 0..5 {
        assert_eq!(app.post_sign_in("owner", "wrong").await.status(), 422);
    }
    assert_eq!(app.post_sign_in("owner", "wrong").await.status(), 429);
}

#[tokio::test]
async fn behind_a_proxy_the_address_it_appended_is_the_one_limited() {
    let app = spawn_app_with(&[("TRUST_PROXY", "true")]).await;
    let sign_in = |forwarded: String, user: String| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/sign-in"))
                .header("Origin", &app.address)
                .header("X-Forwarded-For", forwarded)
                .form(&[("username", user.as_str()), ("password", "wrong password")])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // The client writes a new left-most address each time; the proxy's (right-most) is the same.
    for i in 0..20 {
        let status = sign_in(format!("10.9.8.{i}, 198.51.100.7"), format!("user{i}")).await;
        assert_eq!(status, 422);
    }
    assert_eq!(
        sign_in("10.9.9.9, 198.51.100.7".into(), "another".into()).await,
        429,
        "a forged left-most address does not buy more attempts"
    );
    // Another client (another right-most address) is not affected.
    assert_eq!(sign_in("198.51.100.8".into(), "another".into()).await, 422);
    // IPv6 clients are one per /64: new addresses in the same network share the count.
    for i in 0..20 {
        let status = sign_in(format!("2001:db8:5:6::{i:x}"), format!("v6user{i}")).await;
        assert_eq!(status, 422);
    }
    assert_eq!(
        sign_in("2001:db8:5:6:ffff::1".into(), "v6next".into()).await,
        429
    );
    assert_eq!(
        sign_in("2001:db8:5:7::1".into(), "v6next".into()).await,
        422
    );
}

#[tokio::test]
async fn signing_out_ends_the_session_so_a_copied_cookie_stops_working() {
    let app = spawn_app().await;
    app.signed_in_as("leaver").await;
    let copied = app.cookie_header();
    let res = app
        .client
        .get(app.url("/"))
        .header("Cookie", &copied)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(app.sign_out().await.status(), 303);
    // The copy, sent from another browser, is refused: the session is gone on the server.
    let (other, _) = new_client_with_jar();
    let res = other
        .get(app.url("/"))
        .header("Cookie", &copied)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        303,
        "a signed-out session's cookie must not work"
    );
}

#[tokio::test]
async fn signing_out_one_browser_leaves_the_others_signed_in() {
    let app = spawn_app().await;
    app.signed_in_as("twodevices").await;
    let laptop = app.other_client();
    let res = laptop
        .post_form(
            "/sign-in",
            &[
                ("username", "twodevices"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    app.sign_out().await;
    assert_eq!(laptop.get("/").await.status(), 200);
}

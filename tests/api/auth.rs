//! Built-in accounts: sign-up, sign-in, sign-out, the guard on private routes, rate limits
//! and redirects.

use crate::helpers::{header, location, new_client, spawn_app};

const PRIVATE_PAGES: [&str; 5] = [
    "/",
    "/upcoming",
    "/previous",
    "/recordings",
    "/personal-room",
];

#[tokio::test]
async fn a_signed_out_visitor_is_sent_to_sign_in_with_a_return_url() {
    let app = spawn_app().await;
    for path in PRIVATE_PAGES {
        let res = app.get(path).await;
        assert_eq!(res.status(), 303, "{path}");
        let expected = if path == "/" {
            "/sign-in".to_string()
        } else {
            format!("/sign-in?redirect_url=%2F{}", &path[1..])
        };
        assert_eq!(location(res.headers()), expected, "{path}");
    }
}

#[tokio::test]
async fn a_signed_out_htmx_request_gets_hx_redirect() {
    let app = spawn_app().await;
    for path in PRIVATE_PAGES {
        let res = app.get_htmx(path).await;
        assert_eq!(res.status(), 401, "{path}");
        let target = header(res.headers(), "hx-redirect");
        assert!(target.starts_with("/sign-in"), "{path}: {target}");
    }
}

#[tokio::test]
async fn a_signed_out_api_request_gets_401_json() {
    let app = spawn_app().await;
    for path in ["/api/token", "/api/anything"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 401, "{path}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthenticated");
    }
    let res = app
        .client
        .get(app.url("/upcoming"))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn sign_up_signs_in_and_lands_on_home_inside_the_shell() {
    let app = spawn_app().await;
    let res = app
        .post_sign_up("ada", "Ada Lovelace", "analytical engine")
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(res.headers()), "/");
    let home = app.get("/").await;
    assert_eq!(home.status(), 200);
    let html = home.text().await.unwrap();
    assert!(html.contains("Ada Lovelace"));
    assert!(html.contains(r#"class="sidebar""#));
    assert!(html.contains(">AL<"), "initials avatar");
}

#[tokio::test]
async fn sign_up_with_a_taken_username_comes_back_with_the_message() {
    let app = spawn_app().await;
    app.signed_in_as("grace").await;
    let other = crate::helpers::new_client();
    let res = other
        .post(app.url("/sign-up"))
        .header("HX-Request", "true")
        .form(&[
            ("username", "GRACE"),
            ("display_name", "Another Grace"),
            ("password", "long enough pw"),
            ("confirm_password", "long enough pw"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("That username is taken"), "{html}");
    assert!(html.contains(r#"value="GRACE""#), "typed username is kept");
    assert!(
        html.contains(r#"value="Another Grace""#),
        "typed display name is kept"
    );
    assert!(!html.contains("<html"), "htmx gets the form only");
}

#[tokio::test]
async fn sign_up_refuses_bad_input_with_a_message_per_field() {
    let app = spawn_app().await;
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[], "Choose a username."),
        (
            &[
                ("username", "ok_name"),
                ("display_name", "N"),
                ("password", "short"),
                ("confirm_password", "short"),
            ],
            "at least 8 characters",
        ),
        (
            &[
                ("username", "ok_name"),
                ("display_name", "N"),
                ("password", "long enough"),
                ("confirm_password", "long enougX"),
            ],
            "do not match",
        ),
        (
            &[
                ("username", "ok_name"),
                ("display_name", "  "),
                ("password", "long enough"),
                ("confirm_password", "long enough"),
            ],
            "Enter the name people will see.",
        ),
        (
            &[
                ("username", "a b"),
                ("display_name", "N"),
                ("password", "long enough"),
                ("confirm_password", "long enough"),
            ],
            "Use only letters",
        ),
        (
            &[
                ("username", "ab"),
                ("display_name", "N"),
                ("password", "long enough"),
                ("confirm_password", "long enough"),
            ],
            "3 to 32 characters",
        ),
        (
            &[
                ("username", &"x".repeat(33)),
                ("display_name", "N"),
                ("password", "long enough"),
                ("confirm_password", "long enough"),
            ],
            "3 to 32 characters",
        ),
        (
            &[
                ("username", "ok_name"),
                ("display_name", &"n".repeat(65)),
                ("password", "long enough"),
                ("confirm_password", "long enough"),
            ],
            "at most 64",
        ),
        (
            &[
                ("username", "ok_name"),
                ("display_name", "N"),
                ("password", &"p".repeat(257)),
                ("confirm_password", &"p".repeat(257)),
            ],
            "at most 256",
        ),
        (
            &[
                ("username", "ok_name"),
                ("display_name", "N"),
                ("password", "long enough"),
            ],
            "Type the password again.",
        ),
    ];
    for (form, message) in cases {
        let res = app.post_form("/sign-up", form).await;
        assert_eq!(res.status(), 422, "{form:?}");
        let html = res.text().await.unwrap();
        assert!(html.contains(message), "{form:?} should say {message:?}");
        assert!(
            html.contains("<html"),
            "a plain form post gets the whole page back"
        );
    }
    // Nothing was created along the way.
    assert_eq!(
        app.post_sign_in("ok_name", "long enough").await.status(),
        422
    );
}

#[tokio::test]
async fn an_oversize_form_is_refused_with_a_clear_message() {
    let app = spawn_app().await;
    let huge = "x".repeat(64 * 1024);
    let res = app.post_form("/sign-up", &[("username", &huge)]).await;
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(html.contains("could not be read"), "{html}");
}

#[tokio::test]
async fn sign_in_with_a_wrong_password_or_unknown_user_says_so_in_place() {
    let app = spawn_app().await;
    app.signed_in_as("linus").await;
    app.sign_out().await;
    for (user, pw) in [
        ("linus", "wrong password"),
        ("nobody", "whatever123"),
        ("", ""),
        ("linus", ""),
    ] {
        let res = app
            .post_form("/sign-in", &[("username", user), ("password", pw)])
            .await;
        assert_eq!(res.status(), 422, "{user}/{pw}");
        let html = res.text().await.unwrap();
        assert!(
            html.contains("not right") || html.contains("Enter your username and password"),
            "{html}"
        );
    }
    assert_eq!(app.get("/").await.status(), 303, "still signed out");
}

#[tokio::test]
async fn sign_out_then_sign_in_returns_to_the_page_first_asked_for() {
    let app = spawn_app().await;
    app.signed_in_as("margaret").await;
    let res = app.sign_out().await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(res.headers()), "/sign-in");
    assert_eq!(app.get("/").await.status(), 303, "signed out");

    let res = app.get("/previous").await;
    let sign_in = location(res.headers()).to_owned();
    assert_eq!(sign_in, "/sign-in?redirect_url=%2Fprevious");
    let page = app.get(&sign_in).await.text().await.unwrap();
    assert!(page.contains(r#"name="redirect_url" value="/previous""#));
    let res = app
        .post_form(
            "/sign-in",
            &[
                ("username", "margaret"),
                ("password", "correct horse battery"),
                ("redirect_url", "/previous"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(res.headers()), "/previous");
    assert_eq!(app.get("/previous").await.status(), 200);
}

#[tokio::test]
async fn htmx_sign_in_answers_with_hx_redirect() {
    let app = spawn_app().await;
    app.signed_in_as("htmxuser").await;
    app.sign_out().await;
    let res = app
        .post_htmx(
            "/sign-in",
            &[
                ("username", "HTMXUSER"),
                ("password", "correct horse battery"),
                ("redirect_url", "/upcoming"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(res.headers(), "hx-redirect"), "/upcoming");
}

#[tokio::test]
async fn open_redirect_attempts_land_on_home() {
    let app = spawn_app().await;
    app.signed_in_as("target").await;
    app.sign_out().await;
    for evil in [
        "https://evil.example",
        "//evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        "https://evil.example/upcoming",
    ] {
        let res = app
            .post_form(
                "/sign-in",
                &[
                    ("username", "target"),
                    ("password", "correct horse battery"),
                    ("redirect_url", evil),
                ],
            )
            .await;
        assert_eq!(res.status(), 303, "{evil}");
        assert_eq!(location(res.headers()), "/", "{evil}");
        // Signed in now: the sign-in page itself redirects too, and must not follow the evil URL.
        let encoded: String = url::form_urlencoded::byte_serialize(evil.as_bytes()).collect();
        let res = app.get(&format!("/sign-in?redirect_url={encoded}")).await;
        assert_eq!(location(res.headers()), "/", "{evil}");
        app.sign_out().await;
    }
}

#[tokio::test]
async fn repeated_wrong_passwords_are_rate_limited_per_username() {
    let app = spawn_app().await;
    app.signed_in_as("victim").await;
    app.sign_out().await;
    for _ in 0..5 {
        let res = app.post_sign_in("victim", "wrong password").await;
        assert_eq!(res.status(), 422);
    }
    let res = app.post_sign_in("victim", "correct horse battery").await;
    assert_eq!(
        res.status(),
        429,
        "even the right password waits out the limit"
    );
    let html = res.text().await.unwrap();
    assert!(html.contains("Too many sign-in attempts"), "{html}");
    assert!(html.contains("minutes"), "says how long to wait");
}

#[tokio::test]
async fn many_failures_from_one_address_are_rate_limited_across_usernames() {
    let app = spawn_app().await;
    for i in 0..20 {
        let res = app
            .post_sign_in(&format!("guess{i}"), "wrong password")
            .await;
        assert_eq!(res.status(), 422);
    }
    let res = app.post_sign_in("guess-next", "wrong password").await;
    assert_eq!(res.status(), 429);
}

#[tokio::test]
async fn a_restart_does_not_sign_anyone_out() {
    let app = spawn_app().await;
    app.signed_in_as("steady").await;
    // A second server on the same data directory: the same generated session key.
    let again = app.respawn(&[]).await;
    // Cookies are per host, not per port: the first client's cookie reaches the new server.
    let res = app.client.get(again.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("steady Tester"));
    // And a stranger is still a stranger.
    let res = new_client().get(again.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 303);
}

#[tokio::test]
async fn a_forged_session_cookie_is_ignored() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/"))
        .header("Cookie", "yoom_session=forged-value-that-is-not-encrypted")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
}

#[tokio::test]
async fn signed_in_users_visiting_sign_in_go_home() {
    let app = spawn_app().await;
    app.signed_in_as("already").await;
    let res = app.get("/sign-in").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(res.headers()), "/");
    let res = app.get("/sign-up?redirect_url=%2Fupcoming").await;
    assert_eq!(location(res.headers()), "/upcoming");
}

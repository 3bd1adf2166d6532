//! Clerk mode in a real browser, with session cookies minted by the test (clerk-js itself
//! cannot load offline: these tests check our pages, not Clerk's script).

use serde_json::json;

use super::webdriver::{Browser, BrowserOptions};
use crate::clerk::{ClerkMock, KEY1, mint, spawn_clerk_app};

/// Sets Clerk's cookies for the app's origin, as clerk-js would.
async fn set_session(browser: &Browser, token: &str, client_uat: i64) {
    browser
        .execute(
            "document.cookie = `__session=${arguments[0]}; path=/`; \
             document.cookie = `__client_uat=${arguments[1]}; path=/`;",
            vec![json!(token), json!(client_uat.to_string())],
        )
        .await;
}

#[tokio::test]
async fn a_valid_clerk_session_cookie_opens_home_and_a_stale_one_gets_the_refresh_page() {
    let mock = ClerkMock::start().await;
    mock.add_user(
        "user_ada",
        json!({"username": null, "first_name": "Ada", "last_name": "Browser", "image_url": null}),
    );
    let app = spawn_clerk_app(&mock, &[]).await;
    let browser = Browser::start(BrowserOptions::default()).await;
    let now = chrono::Utc::now().timestamp();

    browser.goto(&app.url("/healthz")).await;
    set_session(
        &browser,
        &mint(KEY1, "ins_key1", "user_ada", json!({})),
        now - 60,
    )
    .await;
    browser.goto(&app.url("/")).await;
    browser.wait_for_text("New Meeting").await;
    let title = browser
        .execute(
            "return document.querySelector('[data-clerk-mount=user-button] [data-clerk-loading]').getAttribute('title')",
            vec![],
        )
        .await;
    assert_eq!(title, "Ada Browser");
    browser.snapshot("clerk-home").await;

    let expired = mint(
        KEY1,
        "ins_key1",
        "user_ada",
        json!({"iat": now - 120, "exp": now - 60}),
    );
    set_session(&browser, &expired, now - 600).await;
    browser.goto(&app.url("/upcoming")).await;
    browser.wait_for_text("Refreshing your session").await;
    let noscript_link = browser
        .execute(
            "return document.querySelector('[data-clerk-failed] a').getAttribute('href')",
            vec![],
        )
        .await;
    assert_eq!(noscript_link, "/sign-in?redirect_url=%2Fupcoming");
    assert_eq!(browser.wait_for_path(|_| true).await, "/upcoming");
    browser.snapshot("clerk-refresh").await;
    browser.quit().await;
}

#[tokio::test]
async fn clerk_js_may_only_redirect_to_our_own_origin_after_sign_in() {
    let mock = ClerkMock::start().await;
    let app = spawn_clerk_app(&mock, &[]).await;
    let browser = Browser::start(BrowserOptions::default()).await;
    browser
        .goto(&app.url("/sign-in?redirect_url=https%3A%2F%2Fevil.example%2Fphish"))
        .await;
    // clerk-js cannot load offline; stand in for it and record what the page asks of it.
    browser
        .execute(
            "window.__internal_ClerkUICtor = function () {};\
             window.Clerk = { user: null, \
               load: async (options) => { window.loadOptions = options; }, \
               mountSignIn: (el, options) => { window.mountOptions = options; } };",
            vec![],
        )
        .await;
    let seen = browser
        .execute_async(
            "const done = arguments[arguments.length - 1];\
             const poll = () => window.mountOptions \
               ? done({ allowed: window.loadOptions.allowedRedirectOrigins, \
                        redirect: window.mountOptions.fallbackRedirectUrl, \
                        origin: window.location.origin }) \
               : setTimeout(poll, 50);\
             poll();",
            vec![],
        )
        .await;
    assert_eq!(seen["allowed"], json!([seen["origin"]]), "{seen}");
    assert_eq!(seen["redirect"], "/", "a foreign redirect_url becomes Home");
    browser.quit().await;
}

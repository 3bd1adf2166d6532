//! Sign-up, sign-out, sign-in with a return URL, and the phone menu, in a real browser.

use super::sign_up;
use super::webdriver::{Browser, BrowserOptions};
use crate::helpers::spawn_app;

#[tokio::test]
async fn sign_up_home_sign_out_and_sign_in_returns_to_the_page_asked_for() {
    let app = spawn_app().await;
    let browser = Browser::start(BrowserOptions::default()).await;
    sign_up(&browser, &app, "browser_ada", "Ada Browser").await;
    browser.wait_for_text("New Meeting").await;
    // Its name starts with what is seen (the initials), then says what it opens.
    let menu = browser
        .execute(
            "return document.querySelector('.user-menu summary').textContent.replace(/\\s+/g, ' ').trim()",
            vec![],
        )
        .await;
    assert_eq!(menu, "AB, account menu for Ada Browser");
    browser.snapshot("home").await;

    // A taken name comes back in place, without a page load.
    // (Sign out first through the user menu.)
    browser.click_css(".user-menu summary").await;
    browser.click_css(".user-menu button[type=submit]").await;
    browser.wait_for_path(|p| p == "/sign-in").await;

    browser.goto(&app.url("/recordings")).await;
    let path = browser.wait_for_path(|p| p.starts_with("/sign-in")).await;
    assert_eq!(path, "/sign-in?redirect_url=%2Frecordings");

    // A wrong password shows the message in place.
    browser.type_into("#username", "browser_ada").await;
    browser.type_into("#password", "not the password").await;
    browser
        .click_css("form.auth-form button[type=submit]")
        .await;
    browser.wait(".form-error").await;
    browser
        .wait_for_text("That username or password is not right.")
        .await;

    browser
        .type_into("#password", "correct horse battery")
        .await;
    browser
        .click_css("form.auth-form button[type=submit]")
        .await;
    browser.wait_for_path(|p| p == "/recordings").await;
    browser.wait_for_text("Recordings").await;
    browser.quit().await;
}

#[tokio::test]
async fn a_taken_username_is_reported_in_place() {
    let app = spawn_app().await;
    app.signed_in_as("taken_name").await;
    let browser = Browser::start(BrowserOptions::default()).await;
    browser.goto(&app.url("/sign-up")).await;
    browser.type_into("#username", "taken_name").await;
    browser.type_into("#display_name", "Someone Else").await;
    browser
        .type_into("#password", "correct horse battery")
        .await;
    browser
        .type_into("#confirm_password", "correct horse battery")
        .await;
    browser
        .click_css("form.auth-form button[type=submit]")
        .await;
    browser.wait("#username-error").await;
    browser.wait_for_text("That username is taken").await;
    let kept = browser
        .execute(
            "return document.querySelector('#display_name').value",
            vec![],
        )
        .await;
    assert_eq!(kept, "Someone Else");
    assert_eq!(browser.wait_for_path(|_| true).await, "/sign-up");
    browser.quit().await;
}

#[tokio::test]
async fn the_phone_menu_opens_and_navigates() {
    let app = spawn_app().await;
    let browser = Browser::start(BrowserOptions {
        mobile: true,
        ..Default::default()
    })
    .await;
    sign_up(&browser, &app, "phone_user", "Phone User").await;
    let sidebar_visible = browser
        .execute(
            "return getComputedStyle(document.querySelector('.sidebar')).display",
            vec![],
        )
        .await;
    assert_eq!(sidebar_visible, "none", "no sidebar on a phone");
    let width = browser.execute("return window.innerWidth", vec![]).await;
    assert_eq!(width, 390);
    browser.click_css(".mobile-nav summary").await;
    browser.snapshot("phone-menu").await;
    let link = browser.wait(".mobile-sheet a[href='/upcoming']").await;
    browser.click(&link).await;
    browser.wait_for_path(|p| p == "/upcoming").await;
    browser.wait_for_text("Upcoming Meeting").await;
    browser.quit().await;
}

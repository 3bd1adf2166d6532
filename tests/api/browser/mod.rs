//! Browser flows in headless Chromium.

pub mod webdriver;

mod accessibility;
mod accounts;
pub mod call;
mod clerk;
mod dashboard;
mod grid;
mod host_controls;
mod instances;
mod recording;
mod sfu;
mod stream;

use webdriver::Browser;

use crate::helpers::TestApp;

/// Signs up through the real form and waits for Home.
pub async fn sign_up(browser: &Browser, app: &TestApp, username: &str, display_name: &str) {
    browser.goto(&app.url("/sign-up")).await;
    browser.type_into("#username", username).await;
    browser.type_into("#display_name", display_name).await;
    browser
        .type_into("#password", "correct horse battery")
        .await;
    browser
        .type_into("#confirm_password", "correct horse battery")
        .await;
    browser
        .click_css("form.auth-form button[type=submit]")
        .await;
    browser.wait_for_path(|p| p == "/").await;
}

//! The app shell: navbar, sidebar, user menu, and partial rendering for htmx.

use crate::helpers::{header, spawn_app};

#[tokio::test]
async fn every_page_renders_in_the_shell_with_its_link_highlighted() {
    let app = spawn_app().await;
    app.signed_in_as("shelly").await;
    for (path, heading) in [
        ("/", "Home"),
        ("/upcoming", "Upcoming Meeting"),
        ("/previous", "Previous Calls"),
        ("/recordings", "Recordings"),
        ("/personal-room", "Personal Meeting Room"),
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        let html = res.text().await.unwrap();
        assert!(
            html.contains("<span class=\"brand-name\">YOOM</span>"),
            "{path}"
        );
        assert!(html.contains(heading), "{path} shows {heading}");
        let active = format!("<a href=\"{path}\" class=\"nav-link active\" aria-current=\"page\"");
        assert!(html.contains(&active), "{path} is highlighted");
        assert_eq!(
            html.matches("nav-link active").count(),
            2,
            "{path}: sidebar + mobile menu"
        );
        assert!(
            html.contains("action=\"/sign-out\""),
            "{path}: user menu has sign out"
        );
    }
}

#[tokio::test]
async fn htmx_gets_the_page_content_without_the_shell() {
    let app = spawn_app().await;
    app.signed_in_as("partial").await;
    let res = app.get_htmx("/upcoming").await;
    assert_eq!(res.status(), 200);
    assert!(header(res.headers(), "vary").contains("HX-Request"));
    let html = res.text().await.unwrap();
    assert!(html.contains("Upcoming Meeting"));
    assert!(!html.contains("<html"));
    assert!(!html.contains("class=\"sidebar\""));
}

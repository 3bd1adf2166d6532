//! The security baseline: headers on every response, cookie flags, the same-origin check,
//! asset caching and error rendering.

use crate::helpers::{header, spawn_app, spawn_app_with};

#[tokio::test]
async fn security_headers_are_on_every_response() {
    let app = spawn_app().await;
    app.signed_in_as("headers").await;
    let css = yoom::assets::url("css/app.css");
    for path in [
        "/",
        "/sign-in",
        "/healthz",
        "/no-such-page",
        css.as_str(),
        "/static/nope.js",
    ] {
        let res = app.get(path).await;
        let h = res.headers();
        let csp = header(h, "content-security-policy");
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: no inline script");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}");
        assert_eq!(header(h, "x-content-type-options"), "nosniff", "{path}");
        assert_eq!(
            header(h, "referrer-policy"),
            "strict-origin-when-cross-origin",
            "{path}"
        );
        let pp = header(h, "permissions-policy");
        for feature in [
            "camera=(self)",
            "microphone=(self)",
            "display-capture=(self)",
        ] {
            assert!(pp.contains(feature), "{path}: {pp}");
        }
    }
}

#[tokio::test]
async fn the_session_cookie_is_http_only_and_same_site_lax() {
    let app = spawn_app().await;
    let res = app
        .post_sign_up("cookie", "Cookie Monster", "om nom nom nom")
        .await;
    let cookie = header(res.headers(), "set-cookie").to_owned();
    assert!(cookie.starts_with("yoom_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain http base URL: {cookie}");
}

#[tokio::test]
async fn the_session_cookie_is_secure_behind_https() {
    let app = spawn_app_with(&[("BASE_URL", "https://127.0.0.1")]).await;
    let res = app
        .post_sign_up("secure", "Secure Person", "om nom nom nom")
        .await;
    let cookie = header(res.headers(), "set-cookie");
    assert!(cookie.contains("Secure"), "{cookie}");
}

#[tokio::test]
async fn a_cross_site_post_is_refused() {
    let app = spawn_app().await;
    app.signed_in_as("csrf").await;
    for (origin, site) in [
        (Some("https://evil.example"), None),
        (None, Some("cross-site")),
        (Some("https://evil.example"), Some("cross-site")),
        (Some("null"), None),
        (Some(app.address.as_str()), Some("same-site")),
    ] {
        let mut req = app.client.post(app.url("/sign-out")).form(&[("x", "1")]);
        if let Some(o) = origin {
            req = req.header("Origin", o);
        }
        if let Some(s) = site {
            req = req.header("Sec-Fetch-Site", s);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 403, "{origin:?} {site:?}");
        let html = res.text().await.unwrap();
        assert!(html.contains("another site"), "{html}");
    }
    // Still signed in: none of those went through.
    assert_eq!(app.get("/").await.status(), 200);
    // Our own origin goes through.
    assert_eq!(app.sign_out().await.status(), 303);
}

#[tokio::test]
async fn hashed_assets_are_cached_for_a_year_and_compressed() {
    let app = spawn_app().await;
    let page = app.get("/sign-in").await.text().await.unwrap();
    let css = yoom::assets::url("css/app.css");
    assert!(page.contains(&css), "pages link the hashed URL");
    let res = app
        .client
        .get(app.url(&css))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(header(res.headers(), "cache-control").contains("immutable"));
    assert_eq!(header(res.headers(), "content-encoding"), "gzip");
    assert!(header(res.headers(), "content-type").starts_with("text/css"));

    // Without (or with a stale) hash: always revalidated, and 304 when unchanged.
    let res = app.get("/static/css/app.css?v=old").await;
    assert_eq!(header(res.headers(), "cache-control"), "no-cache");
    let etag = header(res.headers(), "etag").to_owned();
    let res = app
        .client
        .get(app.url("/static/css/app.css"))
        .header("If-None-Match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);
}

#[tokio::test]
async fn errors_are_rendered_for_each_kind_of_request() {
    let app = spawn_app().await;
    app.signed_in_as("lost").await;
    let res = app.get("/no-such-page").await;
    assert_eq!(res.status(), 404);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("Page not found") && html.contains("Back to Home"),
        "{html}"
    );
    assert!(html.contains("app.css"), "styled like the app");

    let res = app.get_htmx("/no-such-page").await;
    assert_eq!(res.status(), 404);
    assert_eq!(header(res.headers(), "hx-retarget"), "#toasts");
    assert_eq!(header(res.headers(), "hx-reswap"), "beforeend");
    let html = res.text().await.unwrap();
    assert!(html.contains("class=\"toast toast-error\""), "{html}");

    let res = app.get("/static/missing.png").await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn health_reports_the_database() {
    let app = spawn_app().await;
    let res = app.get("/healthz").await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["database"], "ok");
}

#[tokio::test]
async fn https_deployments_send_strict_transport_security_and_plain_http_does_not() {
    let app = spawn_app_with(&[("BASE_URL", "https://127.0.0.1")]).await;
    for path in ["/sign-in", "/healthz", "/no-such-page"] {
        let res = app.get(path).await;
        assert_eq!(
            header(res.headers(), "strict-transport-security"),
            yoom::security::HSTS,
            "{path}"
        );
    }
    let plain = spawn_app().await;
    let res = plain.get("/sign-in").await;
    assert!(res.headers().get("strict-transport-security").is_none());
}

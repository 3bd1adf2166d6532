//! Clerk mode against a local mock of Clerk's Backend API (JWKS and users), with session
//! tokens minted from the test keys in `tests/fixtures/clerk/`.
#![allow(dead_code)] // Shared with the browser tests: not every helper is used by each suite.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};

use crate::helpers::{TestApp, header, location, spawn_app_with};

pub const KEY1: &str = include_str!("../fixtures/clerk/key1.pem");
pub const KEY1_PUBLIC: &str = include_str!("../fixtures/clerk/key1.pub.pem");
pub const KEY2: &str = include_str!("../fixtures/clerk/key2.pem");
/// Frontend API `clerk.clerk.dev`; cookie suffix `QvfNY2dr`.
pub const PUBLISHABLE_KEY: &str = "pk_test_Y2xlcmsuY2xlcmsuZGV2JA";
pub const ISSUER: &str = "https://clerk.clerk.dev";
/// The test app's `BASE_URL` origin, the default authorized party.
pub const AZP: &str = "http://127.0.0.1";

/// What the mock serves and counts.
#[derive(Default)]
pub struct MockState {
    pub jwks: Mutex<Value>,
    pub users: Mutex<HashMap<String, Value>>,
    pub jwks_hits: AtomicUsize,
    pub user_hits: AtomicUsize,
    pub jwks_down: AtomicBool,
    pub users_down: AtomicBool,
    /// Seconds the users endpoint waits before answering.
    pub users_delay: AtomicUsize,
}

/// A mock of Clerk's Backend API on a free port.
pub struct ClerkMock {
    pub url: String,
    pub state: Arc<MockState>,
}

async fn jwks(state: web::Data<MockState>, req: actix_web::HttpRequest) -> HttpResponse {
    state.jwks_hits.fetch_add(1, Ordering::SeqCst);
    if header_value(&req, "authorization") != "Bearer sk_test_mock" {
        return HttpResponse::Unauthorized()
            .json(json!({"errors": [{"code": "clerk_key_invalid"}]}));
    }
    if state.jwks_down.load(Ordering::SeqCst) {
        return HttpResponse::ServiceUnavailable().finish();
    }
    HttpResponse::Ok().json(state.jwks.lock().unwrap().clone())
}

async fn user(
    state: web::Data<MockState>,
    id: web::Path<String>,
    req: actix_web::HttpRequest,
) -> HttpResponse {
    state.user_hits.fetch_add(1, Ordering::SeqCst);
    let delay = state.users_delay.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_secs(delay as u64)).await;
    }
    if header_value(&req, "authorization") != "Bearer sk_test_mock" {
        return HttpResponse::Unauthorized().finish();
    }
    if state.users_down.load(Ordering::SeqCst) {
        return HttpResponse::ServiceUnavailable().finish();
    }
    match state.users.lock().unwrap().get(id.as_str()) {
        Some(user) => HttpResponse::Ok().json(user),
        None => HttpResponse::NotFound().finish(),
    }
}

fn header_value(req: &actix_web::HttpRequest, name: &str) -> String {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

impl ClerkMock {
    /// Starts the mock serving `key1` as `ins_key1`.
    pub async fn start() -> Self {
        let state = Arc::new(MockState::default());
        *state.jwks.lock().unwrap() = jwks_of(&[(KEY1, "ins_key1")]);
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/v1/jwks", web::get().to(jwks))
                .route("/v1/users/{id}", web::get().to(user))
        })
        .workers(1)
        .bind(("127.0.0.1", 0))
        .expect("mock binds");
        let port = server.addrs()[0].port();
        tokio::spawn(server.run());
        Self {
            url: format!("http://127.0.0.1:{port}"),
            state,
        }
    }

    pub fn add_user(&self, id: &str, user: Value) {
        let mut user = user;
        user["id"] = json!(id);
        self.state.users.lock().unwrap().insert(id.to_owned(), user);
    }

    pub fn serve_keys(&self, keys: &[(&str, &str)]) {
        *self.state.jwks.lock().unwrap() = jwks_of(keys);
    }

    pub fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }

    pub fn user_hits(&self) -> usize {
        self.state.user_hits.load(Ordering::SeqCst)
    }
}

/// A JWKS with the public halves of these (private PEM, kid) pairs.
pub fn jwks_of(keys: &[(&str, &str)]) -> Value {
    let keys: Vec<Value> = keys
        .iter()
        .map(|(pem, kid)| {
            let key = EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
            let mut jwk =
                serde_json::to_value(Jwk::from_encoding_key(&key, Algorithm::RS256).unwrap())
                    .unwrap();
            jwk["kid"] = json!(kid);
            jwk["use"] = json!("sig");
            jwk
        })
        .collect();
    json!({ "keys": keys })
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// A session token for `user_id`, signed with `pem` under `kid`; `changes` replace claims
/// (`null` removes one).
pub fn mint(pem: &str, kid: &str, user_id: &str, changes: Value) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "sub": user_id, "sid": "sess_test", "azp": AZP, "iss": ISSUER,
        "iat": now - 5, "nbf": now - 15, "exp": now + 55,
    });
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": kid, "cat": "cl_B7d4PD111AAA"});
    let message = format!("{}.{}", b64(&header), b64(&claims));
    let key = EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::RS256).unwrap();
    format!("{message}.{signature}")
}

/// The cookies clerk-js leaves for a signed-in browser: the token and a `__client_uat` from a
/// minute before it was issued.
pub fn session_cookies(token: &str) -> String {
    let uat = chrono::Utc::now().timestamp() - 60;
    format!("__session={token}; __client_uat={uat}")
}

/// The app in Clerk mode, talking to `mock`.
pub async fn spawn_clerk_app(mock: &ClerkMock, extra: &[(&str, &str)]) -> TestApp {
    let mut vars = vec![
        ("CLERK_PUBLISHABLE_KEY", PUBLISHABLE_KEY),
        ("CLERK_SECRET_KEY", "sk_test_mock"),
        ("CLERK_API_URL", mock.url.as_str()),
    ];
    vars.extend_from_slice(extra);
    spawn_app_with(&vars).await
}

impl TestApp {
    /// A GET carrying Clerk session cookies.
    pub async fn get_as(&self, path: &str, cookies: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .header("Cookie", cookies)
            .send()
            .await
            .expect("GET")
    }
}

fn ada(mock: &ClerkMock) -> String {
    mock.add_user(
        "user_ada",
        json!({"username": null, "first_name": "Ada", "last_name": "Lovelace",
               "image_url": "https://img.clerk.com/ada.png"}),
    );
    mint(KEY1, "ins_key1", "user_ada", json!({}))
}

#[tokio::test]
async fn a_signed_in_clerk_user_sees_pages_with_their_clerk_name() {
    let mock = ClerkMock::start().await;
    let app = spawn_clerk_app(&mock, &[]).await;
    let cookies = session_cookies(&ada(&mock));

    let res = app.get_as("/", &cookies).await;
    assert_eq!(res.status(), 200);
    let csp = header(res.headers(), "content-security-policy").to_owned();
    assert!(
        csp.contains("script-src 'self' https://clerk.clerk.dev"),
        "{csp}"
    );
    assert!(
        csp.contains("connect-src 'self' https://clerk.clerk.dev"),
        "{csp}"
    );
    assert!(csp.contains("https://img.clerk.com"), "{csp}");
    let html = res.text().await.unwrap();
    assert!(html.contains("Ada Lovelace"), "the Clerk name is shown");
    assert!(
        html.contains(r#"data-clerk-mount="user-button""#),
        "Clerk's user button"
    );
    assert!(html.contains("https://clerk.clerk.dev/npm/@clerk/clerk-js@6/dist/clerk.browser.js"));
    assert!(html.contains(&format!(
        r#"data-clerk-publishable-key="{PUBLISHABLE_KEY}""#
    )));
    assert!(
        !html.contains(r#"action="/sign-out""#),
        "no built-in account menu"
    );

    let room = app
        .get_as("/personal-room", &cookies)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        room.contains("Ada Lovelace&#39;s Meeting Room"),
        "personal room topic"
    );

    // The profile is stored for meeting cards and lists, and fetched once.
    let row: (String, Option<String>, Option<i64>) = sqlx::query_as(
        "select display_name, image_url, profile_fetched_at from account where id = 'user_ada'",
    )
    .fetch_one(&app.db().await)
    .await
    .unwrap();
    assert_eq!(row.0, "Ada Lovelace");
    assert_eq!(row.1.as_deref(), Some("https://img.clerk.com/ada.png"));
    assert!(row.2.is_some());
    assert_eq!(mock.user_hits(), 1);
    assert_eq!(mock.jwks_hits(), 1, "the JWKS is cached");
}

#[tokio::test]
async fn meetings_are_owned_by_the_clerk_user_and_show_their_name() {
    let mock = ClerkMock::start().await;
    let app = spawn_clerk_app(&mock, &[]).await;
    let cookies = session_cookies(&ada(&mock));
    let res = app
        .client
        .post(app.url("/meetings/instant"))
        .header("Cookie", &cookies)
        .header("Origin", &app.address)
        .header("Sec-Fetch-Site", "same-origin")
        .form(&[("description", "Clerk standup")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let owner: String = sqlx::query_scalar(
        "select a.display_name from meeting m join account a on a.id = m.owner_id \
         where m.description = 'Clerk standup'",
    )
    .fetch_one(&app.db().await)
    .await
    .unwrap();
    assert_eq!(owner, "Ada Lovelace");
}

#[tokio::test]
async fn a_signed_out_visitor_in_clerk_mode_is_sent_to_sign_in() {
    let mock = ClerkMock::start().await;
    let app = spawn_clerk_app(&mock, &[]).await;
    let res = app.get("/upcoming").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(res.headers()), "/sign-in?redirect_url=%2Fupcoming");
    let res = app.get_htmx("/upcoming").await;
    assert_eq!(res.status(), 401);
    assert!(header(res.headers(), "hx-redirect").starts_with("/sign-in"));
    let res = app.get("/api/token").await;
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthenticated");
    // A forged or foreign token is no better than none.
    let forged = mint(KEY2, "ins_key1", "user_ada", json!({}));
    let res = app.get_as("/", &session_cookies(&forged)).await;
    assert_eq!(location(res.headers()), "/sign-in");
}

#[tokio::test]
async fn sign_in_and_sign_up_mount_clerks_components_and_the_built_in_forms_are_off() {
    let mock = ClerkMock::start().await;
    let app = spawn_clerk_app(&mock, &[]).await;
    let res = app.get("/sign-in?redirect_url=%2Fupcoming").await;
    assert_eq!(res.status(), 200);
    assert!(header(res.headers(), "content-security-policy").contains("https://clerk.clerk.dev"));
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"data-clerk-mount="sign-in""#));
    assert!(html.contains(r#"data-redirect-url="/upcoming""#));
    assert!(html.contains("https://clerk.clerk.dev/npm/@clerk/ui@1/dist/ui.browser.js"));
    assert!(html.contains("https://clerk.clerk.dev/npm/@clerk/clerk-js@6/dist/clerk.browser.js"));
    assert!(html.contains("/static/js/clerk.js"));
    assert!(!html.contains("<script>"), "no inline script");

    let html = app.get("/sign-up").await.text().await.unwrap();
    assert!(html.contains(r#"data-clerk-mount="sign-up""#));

    // The built-in account forms are not routed: a post is just a signed-out request.
    for path in ["/sign-in", "/sign-up"] {
        let res = app
            .post_form(path, &[("username", "x"), ("password", "y")])
            .await;
        assert_eq!(res.status(), 303, "{path}");
        assert!(location(res.headers()).starts_with("/sign-in"), "{path}");
    }
    let accounts: i64 = sqlx::query_scalar("select count(*) from account")
        .fetch_one(&app.db().await)
        .await
        .unwrap();
    assert_eq!(accounts, 0);

    // Already signed in: the sign-in page sends you on.
    let res = app
        .client
        .get(app.url("/sign-in?redirect_url=%2Fprevious"))
        .header("Cookie", session_cookies(&ada(&mock)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(location(res.headers()), "/previous");
}

#[tokio::test]
async fn a_stale_session_gets_a_refresh_page_an_htmx_reload_or_a_401() {
    let mock = ClerkMock::start().await;
    let app = spawn_clerk_app(&mock, &[]).await;
    ada(&mock);
    let now = chrono::Utc::now().timestamp();
    let expired = mint(
        KEY1,
        "ins_key1",
        "user_ada",
        json!({"iat": now - 70, "exp": now - 10}),
    );
    let cookies = format!("__session={expired}; __client_uat={}", now - 3600);

    let res = app.get_as("/upcoming", &cookies).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(res.headers(), "cache-control"), "no-store");
    assert!(header(res.headers(), "set-cookie").starts_with("yoom_clerk_refresh=1"));
    let html = res.text().await.unwrap();
    assert!(html.contains("Refreshing your session"));
    assert!(html.contains(r#"data-clerk-mount="refresh""#));
    assert!(html.contains("<noscript>"));
    assert!(html.contains("/sign-in?redirect_url=%2Fupcoming"));
    assert!(html.contains("clerk.browser.js"));

    let res = app
        .client
        .get(app.url("/upcoming"))
        .header("Cookie", &cookies)
        .header("HX-Request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(header(res.headers(), "hx-refresh"), "true");

    let res = app.get_as("/api/token", &cookies).await;
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "session_stale");

    // Missing token while __client_uat says signed in, and a token older than __client_uat.
    let fresh = mint(KEY1, "ins_key1", "user_ada", json!({}));
    for cookies in [
        format!("__client_uat={now}"),
        format!("__session={fresh}; __client_uat={}", now + 1),
    ] {
        let html = app.get_as("/", &cookies).await.text().await.unwrap();
        assert!(html.contains("Refreshing your session"), "{cookies}");
    }

    // The loop guard: after three refresh pages in a row, sign in again.
    let res = app
        .get_as("/upcoming", &format!("{cookies}; yoom_clerk_refresh=3"))
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(res.headers()), "/sign-in?redirect_url=%2Fupcoming");
}

#[tokio::test]
async fn when_the_jwks_endpoint_is_down_visitors_are_signed_out_never_shown_a_500() {
    let mock = ClerkMock::start().await;
    mock.state.jwks_down.store(true, Ordering::SeqCst);
    let app = spawn_clerk_app(&mock, &[]).await;
    let cookies = session_cookies(&ada(&mock));
    let res = app.get_as("/", &cookies).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(res.headers()), "/sign-in");
    // Nothing listening at all.
    let app = spawn_app_with(&[
        ("CLERK_PUBLISHABLE_KEY", PUBLISHABLE_KEY),
        ("CLERK_SECRET_KEY", "sk_test_mock"),
        ("CLERK_API_URL", "http://127.0.0.1:9"),
    ])
    .await;
    let res = app.get_as("/upcoming", &cookies).await;
    assert_eq!(res.status(), 303);
    let res = app.get_as("/api/token", &cookies).await;
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn a_jwks_outage_after_keys_were_fetched_keeps_people_signed_in() {
    let mock = ClerkMock::start().await;
    let app = spawn_clerk_app(&mock, &[]).await;
    let cookies = session_cookies(&ada(&mock));
    assert_eq!(app.get_as("/", &cookies).await.status(), 200);
    mock.state.jwks_down.store(true, Ordering::SeqCst);
    assert_eq!(app.get_as("/", &cookies).await.status(), 200);
}

#[tokio::test]
async fn when_the_profile_endpoint_is_down_pages_still_render() {
    let mock = ClerkMock::start().await;
    mock.state.users_down.store(true, Ordering::SeqCst);
    let app = spawn_clerk_app(&mock, &[]).await;
    let cookies = session_cookies(&ada(&mock));
    // Never seen before: the ID stands in for the name.
    let res = app.get_as("/", &cookies).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("user_ada"));

    // Seen before (an old stored profile): that name, at once, even with Clerk slow.
    let pool = app.db().await;
    sqlx::query(
        "insert into account (id, display_name, created_at, updated_at, profile_fetched_at) \
         values ('user_grace', 'Grace Stored', 0, 0, 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    mock.add_user("user_grace", json!({"username": "grace"}));
    mock.state.users_down.store(false, Ordering::SeqCst);
    mock.state.users_delay.store(10, Ordering::SeqCst);
    let grace = session_cookies(&mint(KEY1, "ins_key1", "user_grace", json!({})));
    let started = Instant::now();
    let res = app.get_as("/", &grace).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Grace Stored"));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_new_signing_key_is_picked_up_when_clerk_rotates() {
    let mock = ClerkMock::start().await;
    let app = spawn_clerk_app(&mock, &[]).await;
    ada(&mock);
    let old = session_cookies(&mint(KEY1, "ins_key1", "user_ada", json!({})));
    assert_eq!(app.get_as("/", &old).await.status(), 200);
    assert_eq!(mock.jwks_hits(), 1);

    mock.serve_keys(&[(KEY1, "ins_key1"), (KEY2, "ins_key2")]);
    let new = session_cookies(&mint(KEY2, "ins_key2", "user_ada", json!({})));
    assert_eq!(app.get_as("/", &new).await.status(), 200);
    assert_eq!(mock.jwks_hits(), 2, "one refetch for the new kid");
    assert_eq!(app.get_as("/", &new).await.status(), 200);
    assert_eq!(mock.jwks_hits(), 2);
}

#[tokio::test]
async fn an_unknown_kid_costs_one_jwks_refetch_and_is_refused() {
    let mock = ClerkMock::start().await;
    let app = spawn_clerk_app(&mock, &[]).await;
    ada(&mock);
    let good = session_cookies(&mint(KEY1, "ins_key1", "user_ada", json!({})));
    assert_eq!(app.get_as("/", &good).await.status(), 200);
    assert_eq!(mock.jwks_hits(), 1);

    let unknown = session_cookies(&mint(KEY2, "ins_unknown", "user_ada", json!({})));
    let res = app.get_as("/", &unknown).await;
    assert_eq!(location(res.headers()), "/sign-in");
    assert_eq!(mock.jwks_hits(), 2, "refetched once");
    for _ in 0..3 {
        let res = app.get_as("/", &unknown).await;
        assert_eq!(location(res.headers()), "/sign-in");
    }
    assert_eq!(mock.jwks_hits(), 2, "rate limited: no more refetches");
}

#[tokio::test]
async fn clerk_jwt_key_verifies_without_the_network() {
    let mock = ClerkMock::start().await;
    mock.state.jwks_down.store(true, Ordering::SeqCst);
    let app = spawn_clerk_app(&mock, &[("CLERK_JWT_KEY", KEY1_PUBLIC)]).await;
    let cookies = session_cookies(&ada(&mock));
    assert_eq!(app.get_as("/", &cookies).await.status(), 200);
    assert_eq!(mock.jwks_hits(), 0);
}

#[tokio::test]
async fn sign_out_clears_clerks_cookies_and_signs_clerk_js_out_on_the_sign_in_page() {
    let mock = ClerkMock::start().await;
    let app = spawn_clerk_app(&mock, &[]).await;
    let res = app.post_form("/sign-out", &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(res.headers()), "/sign-in");
    let cleared: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    for name in [
        "__session=",
        "__client_uat=",
        "__session_QvfNY2dr=",
        "__client_uat_QvfNY2dr=",
    ] {
        assert!(
            cleared
                .iter()
                .any(|c| c.starts_with(name) && c.contains("Max-Age=0")),
            "{name} cleared: {cleared:?}"
        );
    }
    let html = app.get("/sign-in").await.text().await.unwrap();
    assert!(html.contains(r#"data-sign-out="true""#));
}

#[tokio::test]
async fn behind_https_every_cookie_clerk_mode_sets_is_secure() {
    let mock = ClerkMock::start().await;
    let app = spawn_clerk_app(&mock, &[("BASE_URL", "https://meet.example.com")]).await;
    let res = app
        .client
        .post(app.url("/sign-out"))
        .header("Origin", "https://meet.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let cookies: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(cookies.len(), 5, "{cookies:?}");
    for cookie in &cookies {
        assert!(cookie.contains("; Secure"), "{cookie}");
    }
    assert_eq!(
        res.headers()
            .get("strict-transport-security")
            .and_then(|v| v.to_str().ok()),
        Some("max-age=31536000")
    );
}

//! Stream mode against a local mock of Stream's REST API: tokens, the server-side calls (their
//! exact requests, retries and failures), webhooks, and that the secret is never served.

use std::io::Write;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::{TestApp, header, spawn_app, spawn_app_with};
use crate::stream_mock::{API_KEY, MockStream, Recorded, Reply, SECRET};

pub(crate) async fn stream_app(mock: &MockStream) -> TestApp {
    stream_app_with(mock, &[]).await
}

pub(crate) async fn stream_app_with(mock: &MockStream, extra: &[(&str, &str)]) -> TestApp {
    let vars = mock.vars();
    let mut all: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend_from_slice(extra);
    spawn_app_with(&all).await
}

fn hmac_sha256(secret: &str, data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The claims of an HS256 token after checking its header and signature with `secret`.
fn verify_jwt(token: &str, secret: &str) -> Value {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    let header = URL_SAFE_NO_PAD.decode(parts[0]).unwrap();
    assert_eq!(header, br#"{"alg":"HS256","typ":"JWT"}"#);
    let signed = format!("{}.{}", parts[0], parts[1]);
    let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    assert_eq!(
        signature,
        hmac_sha256(secret, signed.as_bytes()),
        "the token does not verify with the secret"
    );
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap()
}

pub(crate) fn sign(body: &[u8], secret: &str) -> String {
    hex::encode(hmac_sha256(secret, body))
}

/// The account ID of the signed-in user, read from their personal room's page (a page view
/// that asks nothing of Stream).
pub(crate) async fn my_id(app: &TestApp) -> String {
    id_of(&app.client, &app.address).await
}

/// The account ID of whoever `client` is signed in as.
pub(crate) async fn id_of(client: &reqwest::Client, address: &str) -> String {
    let get = |path: String| async move {
        client
            .get(format!("{address}{path}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let personal = get("/personal-room".into()).await;
    let at = personal.find("?personal=true").expect("invite link");
    let room = personal[at - 12..at].to_owned();
    let html = get(format!("/meeting/{room}?personal=true")).await;
    let at = html.find("data-user-id=\"").expect("data-user-id") + "data-user-id=\"".len();
    html[at..].split('"').next().unwrap().to_owned()
}

/// A token for the call of `meeting`, as the meeting page asks for it.
pub(crate) async fn token_for(
    client: &reqwest::Client,
    address: &str,
    meeting: &str,
) -> reqwest::Response {
    client
        .get(format!("{address}/api/token?meeting={meeting}"))
        .send()
        .await
        .unwrap()
}

/// Lets `account` into `meeting`, as its room does when the host admits them.
pub(crate) async fn admit(app: &TestApp, meeting: &str, account: &str) {
    yoom::meetings::access::decide(
        &app.db().await,
        meeting,
        account,
        "Admitted Tester",
        yoom::meetings::access::Decision::Admitted,
        chrono::Utc::now().timestamp(),
    )
    .await
    .unwrap();
}

/// Checks what every server-side call must carry: the API key as the only query parameter,
/// the server token (no "Bearer") that verifies with the secret, and `stream-auth-type: jwt`.
pub(crate) fn assert_server_call(r: &Recorded, method: &str, path: &str) {
    assert_eq!(r.method, method, "{r:?}");
    assert_eq!(r.path, path);
    assert_eq!(r.query, format!("api_key={API_KEY}"));
    let auth = r.header("authorization").expect("Authorization");
    assert!(!auth.starts_with("Bearer"), "no Bearer prefix: {auth}");
    assert_eq!(verify_jwt(auth, SECRET), json!({ "server": true }));
    assert_eq!(r.header("stream-auth-type"), Some("jwt"));
    assert_eq!(
        r.header("x-stream-client"),
        Some(concat!("yoom-", env!("CARGO_PKG_VERSION")))
    );
    if method == "POST" {
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
}

async fn meeting_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from meeting")
        .fetch_one(&app.db().await)
        .await
        .unwrap()
}

// ---- /api/token -----------------------------------------------------------------------------

#[tokio::test]
async fn a_signed_out_visitor_gets_401_json_from_the_token_endpoint() {
    let mock = MockStream::start().await;
    let app = stream_app(&mock).await;
    let res = app.get("/api/token").await;
    assert_eq!(res.status(), 401);
    assert_eq!(header(res.headers(), "cache-control"), "no-store");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthenticated");
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn the_host_gets_a_one_hour_token_for_their_meetings_call_only() {
    let mock = MockStream::start().await;
    let app = stream_app(&mock).await;
    app.signed_in_as("alice").await;
    let meeting = app.start_instant("Tokens").await;
    let before = chrono::Utc::now().timestamp();
    let res = token_for(&app.client, &app.address, &meeting).await;
    let after = chrono::Utc::now().timestamp();
    assert_eq!(res.status(), 200);
    assert_eq!(header(res.headers(), "cache-control"), "no-store");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["api_key"], API_KEY);
    let id = body["user"]["id"].as_str().unwrap();
    assert_eq!(body["user"]["name"], "alice Tester");
    assert_eq!(body["user"]["image"], Value::Null);
    let claims = verify_jwt(body["token"].as_str().unwrap(), SECRET);
    let iat = claims["iat"].as_i64().unwrap();
    let exp = claims["exp"].as_i64().unwrap();
    assert!(
        (before - 60..=after - 60).contains(&iat),
        "iat {iat} is backdated 60 s"
    );
    assert_eq!(exp - iat, 3600 + 60, "an hour from now");
    assert_eq!(body["expires_at"], exp);
    // Stream's call token: the user token's claims plus the one call it admits to, in the
    // order Stream's generateCallToken writes them.
    let payload = body["token"].as_str().unwrap().split('.').nth(1).unwrap();
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(
        raw,
        format!(
            r#"{{"user_id":"{id}","call_cids":["default:{meeting}"],"iat":{iat},"exp":{exp}}}"#
        )
    );
}

#[tokio::test]
async fn a_token_is_only_for_someone_let_into_an_open_meeting() {
    let mock = MockStream::start().await;
    let app = stream_app(&mock).await;
    app.signed_in_as("doorkeeper").await;
    let meeting = app.start_instant("Members only").await;
    let guest = app.other_client();
    guest.signed_in_as("knocker").await;
    let guest_id = id_of(&guest.client, &app.address).await;
    let status = |res: reqwest::Response| res.status().as_u16();
    // No meeting named, a malformed one, an unknown one.
    for (query, expected) in [
        ("".to_owned(), 400),
        ("nope".to_owned(), 400),
        (uuid::Uuid::new_v4().to_string(), 404),
    ] {
        let res = guest
            .client
            .get(app.url(&format!("/api/token?meeting={query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(status(res), expected, "meeting={query}");
    }
    // Not let in (yet): no token, and Stream is not asked for anything.
    mock.clear();
    let res = token_for(&guest.client, &app.address, &meeting).await;
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["error"]["message"],
        "You have not been let into this meeting."
    );
    assert!(mock.requests().is_empty());
    // Let in: a token for this call.
    admit(&app, &meeting, &guest_id).await;
    let res = token_for(&guest.client, &app.address, &meeting).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let claims = verify_jwt(body["token"].as_str().unwrap(), SECRET);
    assert_eq!(claims["call_cids"], json!([format!("default:{meeting}")]));
    // Removed: none again.
    yoom::meetings::access::decide(
        &app.db().await,
        &meeting,
        &guest_id,
        "knocker Tester",
        yoom::meetings::access::Decision::Removed,
        0,
    )
    .await
    .unwrap();
    assert_eq!(
        status(token_for(&guest.client, &app.address, &meeting).await),
        403
    );
    // Over: none for anyone.
    app.post_form(&format!("/meeting/{meeting}/end"), &[]).await;
    assert_eq!(
        status(token_for(&app.client, &app.address, &meeting).await),
        410
    );
}

#[tokio::test]
async fn tokens_upsert_the_user_once_and_a_changed_profile_upserts_again() {
    let mock = MockStream::start().await;
    let app = stream_app(&mock).await;
    app.signed_in_as("upsert").await;
    let id = my_id(&app).await;
    // Creating the call upserts its host first (Stream refuses calls by unknown users).
    let meeting = app.start_instant("Upserts").await;
    for _ in 0..3 {
        assert_eq!(
            token_for(&app.client, &app.address, &meeting)
                .await
                .status(),
            200
        );
    }
    let upserts = mock.requests_to("/api/v2/users");
    assert_eq!(upserts.len(), 1, "one upsert for a call and three tokens");
    assert_server_call(&upserts[0], "POST", "/api/v2/users");
    assert_eq!(
        String::from_utf8(upserts[0].body.clone()).unwrap(),
        format!(r#"{{"users":{{"{id}":{{"id":"{id}","name":"upsert Tester"}}}}}}"#)
    );

    sqlx::query("update account set display_name = 'Ursula Upsert', image_url = 'https://img.example/u.png' where id = $1")
        .bind(&id)
        .execute(&app.db().await)
        .await
        .unwrap();
    let body: Value = token_for(&app.client, &app.address, &meeting)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["user"]["name"], "Ursula Upsert");
    let upserts = mock.requests_to("/api/v2/users");
    assert_eq!(upserts.len(), 2);
    assert_eq!(
        upserts[1].json(),
        json!({ "users": { id.as_str(): { "id": id, "name": "Ursula Upsert", "image": "https://img.example/u.png" } } })
    );
}

#[tokio::test]
async fn a_token_is_still_issued_when_the_upsert_fails() {
    let mock = MockStream::start().await;
    let app = stream_app(&mock).await;
    app.signed_in_as("upsertfail").await;
    let id = my_id(&app).await;
    let meeting = app.start_instant("Upsert fails").await;
    sqlx::query("update account set display_name = 'Changed Name' where id = $1")
        .bind(&id)
        .execute(&app.db().await)
        .await
        .unwrap();
    mock.clear();
    mock.script("/api/v2/users", vec![Reply::error(500, -1, "down"); 3]);
    let res = token_for(&app.client, &app.address, &meeting).await;
    assert_eq!(res.status(), 200);
    assert_eq!(mock.requests_to("/api/v2/users").len(), 3, "retried twice");
    // Not tried again on the very next request.
    assert_eq!(
        token_for(&app.client, &app.address, &meeting)
            .await
            .status(),
        200
    );
    assert_eq!(mock.requests_to("/api/v2/users").len(), 3);
}

#[tokio::test]
async fn the_token_endpoint_is_rate_limited_per_user() {
    let mock = MockStream::start().await;
    let app = stream_app(&mock).await;
    app.signed_in_as("greedy").await;
    let meeting = app.start_instant("Greedy").await;
    for i in 0..60 {
        assert_eq!(
            token_for(&app.client, &app.address, &meeting)
                .await
                .status(),
            200,
            "request {i}"
        );
    }
    let res = token_for(&app.client, &app.address, &meeting).await;
    assert_eq!(res.status(), 429);
    assert!(header(res.headers(), "retry-after").parse::<u64>().unwrap() >= 1);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    // Someone else is not held back.
    let other = app.other_client();
    other.signed_in_as("patient").await;
    let other_id = id_of(&other.client, &app.address).await;
    admit(&app, &meeting, &other_id).await;
    assert_eq!(
        token_for(&other.client, &app.address, &meeting)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn the_token_endpoint_is_not_there_in_mesh_mode() {
    let app = spawn_app().await;
    app.signed_in_as("meshy").await;
    let res = app.get("/api/token").await;
    assert_eq!(res.status(), 404);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
}

// ---- Server-side calls ----------------------------------------------------------------------

#[tokio::test]
async fn an_instant_meeting_creates_its_stream_call_with_exactly_these_requests() {
    let mock = MockStream::start().await;
    let app = stream_app(&mock).await;
    app.signed_in_as("host").await;
    let owner = my_id(&app).await;
    mock.clear();
    let meeting = app.start_instant("Standup").await;
    let requests = mock.requests();
    assert_eq!(
        requests.len(),
        2,
        "the owner is upserted first (Stream refuses calls by unknown users), then the call"
    );
    assert_server_call(&requests[0], "POST", "/api/v2/users");
    let create = &requests[1];
    assert_server_call(
        create,
        "POST",
        &format!("/api/v2/video/call/default/{meeting}"),
    );
    let body = create.json();
    assert_eq!(body["data"]["created_by_id"], owner);
    assert_eq!(body["data"]["custom"], json!({ "description": "Standup" }));
    let starts = body["data"]["starts_at"].as_str().unwrap();
    let starts = chrono::DateTime::parse_from_rfc3339(starts).unwrap();
    assert!((chrono::Utc::now().timestamp() - starts.timestamp()).abs() < 10);
    assert_eq!(
        String::from_utf8(create.body.clone()).unwrap(),
        format!(
            r#"{{"data":{{"created_by_id":"{owner}","starts_at":"{}","custom":{{"description":"Standup"}}}}}}"#,
            body["data"]["starts_at"].as_str().unwrap()
        )
    );
}

#[tokio::test]
async fn a_new_host_is_upserted_before_their_first_call_is_created() {
    let mock = MockStream::start().await;
    let app = stream_app(&mock).await;
    app.signed_in_as("fresh").await;
    let meeting = app.start_instant("").await;
    let paths: Vec<String> = mock.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        vec![
            "/api/v2/users".to_owned(),
            format!("/api/v2/video/call/default/{meeting}")
        ]
    );
    let create = &mock.requests()[1];
    assert_eq!(
        create.json()["data"]["custom"]["description"],
        "Instant Meeting"
    );
}

#[tokio::test]
async fn a_scheduled_meeting_creates_its_call_with_the_scheduled_start() {
    let mock = MockStream::start().await;
    let app = stream_app(&mock).await;
    app.signed_in_as("planner").await;
    let meeting = app.schedule_in(120, "Planning").await;
    let create = mock
        .requests_to(&format!("/call/default/{meeting}"))
        .pop()
        .expect("get-or-create");
    let stored: i64 = sqlx::query_scalar("select starts_at from meeting where id = $1")
        .bind(&meeting)
        .fetch_one(&app.db().await)
        .await
        .unwrap();
    assert_eq!(
        create.json()["data"]["starts_at"],
        yoom::time::iso(stored),
        "RFC 3339, UTC"
    );
    assert_eq!(create.json()["data"]["custom"]["description"], "Planning");
}

#[tokio::test]
async fn opening_a_personal_room_creates_its_call_once() {
    let mock = MockStream::start().await;
    let app = stream_app(&mock).await;
    app.signed_in_as("roomy").await;
    let page = app.get("/personal-room").await.text().await.unwrap();
    let start = page.find("?personal=true").expect("invite link");
    let room = &page[start - 12..start];
    let res = app.get(&format!("/meeting/{room}?personal=true")).await;
    assert_eq!(res.status(), 200);
    assert!(
        mock.requests().is_empty(),
        "looking at the room calls nobody"
    );
    for _ in 0..2 {
        let res = app
            .client
            .post(app.url(&format!("/meeting/{room}/enter")))
            .header("Origin", &app.address)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let creates: Vec<Recorded> = mock
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/api/v2/video/call/default/"))
        .collect();
    assert_eq!(creates.len(), 1, "the second visit reuses the open session");
    assert_eq!(
        creates[0].json()["data"]["custom"]["description"],
        "roomy Tester's Meeting Room"
    );
}

#[tokio::test]
async fn ending_a_meeting_marks_its_stream_call_ended_and_only_the_owner_may() {
    let mock = MockStream::start().await;
    let app = stream_app(&mock).await;
    app.signed_in_as("ender").await;
    let meeting = app.start_instant("To end").await;
    let guest = app.other_client();
    guest.signed_in_as("notowner").await;
    let res = guest
        .post_form(&format!("/meeting/{meeting}/end"), &[])
        .await;
    assert_eq!(res.status(), 403);
    assert!(mock.requests_to("/mark_ended").is_empty());

    let res = app.post_form(&format!("/meeting/{meeting}/end"), &[]).await;
    assert_eq!(res.status(), 303);
    let ends = mock.requests_to("/mark_ended");
    assert_eq!(ends.len(), 1);
    assert_server_call(
        &ends[0],
        "POST",
        &format!("/api/v2/video/call/default/{meeting}/mark_ended"),
    );
    assert_eq!(ends[0].json(), json!({}));
    assert_eq!(app.get(&format!("/meeting/{meeting}")).await.status(), 410);
}

#[tokio::test]
async fn when_stream_cannot_end_the_call_the_host_is_told_and_may_retry() {
    let mock = MockStream::start().await;
    mock.script("/mark_ended", vec![Reply::error(400, 4, "nope")]);
    let app = stream_app(&mock).await;
    app.signed_in_as("retryend").await;
    let meeting = app.start_instant("x").await;
    let res = app
        .client
        .post(app.url(&format!("/meeting/{meeting}/end")))
        .header("Origin", &app.address)
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("video service"),
        "{body}"
    );
    let res = app.post_form(&format!("/meeting/{meeting}/end"), &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(mock.requests_to("/mark_ended").len(), 2);
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff_until_stream_answers() {
    let mock = MockStream::start().await;
    let app = stream_app(&mock).await;
    app.signed_in_as("retry5xx").await;
    let _ = my_id(&app).await;
    mock.script(
        "/video/call/",
        vec![
            Reply::error(503, -1, "unavailable"),
            Reply::status(502, json!("bad gateway")),
        ],
    );
    let meeting = app.start_instant("Third time lucky").await;
    let creates = mock.requests_to(&meeting);
    assert_eq!(creates.len(), 3);
    let gaps: Vec<Duration> = creates.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert!(gaps[0] >= Duration::from_millis(180), "{gaps:?}");
    assert!(
        gaps[1] >= Duration::from_millis(380),
        "backoff doubles: {gaps:?}"
    );
    for r in &creates {
        assert_eq!(r.body, creates[0].body, "the same request each time");
    }
    assert_eq!(meeting_count(&app).await, 1);
}

#[tokio::test]
async fn a_429_is_retried_when_the_rate_limit_resets() {
    let mock = MockStream::start().await;
    let app = stream_app(&mock).await;
    app.signed_in_as("retry429").await;
    let _ = my_id(&app).await;
    let reset = chrono::Utc::now().timestamp() + 2;
    mock.script(
        "/video/call/",
        vec![
            Reply::error(429, 9, "Too many requests")
                .header("X-RateLimit-Limit", "100")
                .header("X-RateLimit-Remaining", "0")
                .header("X-RateLimit-Reset", &reset.to_string()),
        ],
    );
    let meeting = app.start_instant("Patience").await;
    let creates = mock.requests_to(&meeting);
    assert_eq!(creates.len(), 2);
    let gap = creates[1].at - creates[0].at;
    assert!(
        gap >= Duration::from_millis(900),
        "waited for the reset: {gap:?}"
    );
    assert!(
        chrono::Utc::now().timestamp() >= reset - 1,
        "not before the reset second"
    );
}

#[tokio::test]
async fn a_refused_call_is_not_retried_and_leaves_no_half_made_meeting() {
    let mock = MockStream::start().await;
    let app = stream_app(&mock).await;
    app.signed_in_as("refused").await;
    let _ = my_id(&app).await;
    mock.script(
        "/video/call/",
        vec![Reply::error(403, 17, "User is not allowed to create calls")],
    );
    let res = app
        .post_htmx("/meetings/instant", &[("description", "Doomed")])
        .await;
    assert_eq!(res.status(), 503);
    assert!(header(res.headers(), "hx-trigger").contains("Failed to create Meeting"));
    let html = res.text().await.unwrap();
    assert!(html.contains("Failed to create Meeting"), "{html}");
    assert!(html.contains("Doomed"), "the form keeps what was typed");
    let creates: Vec<_> = mock
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/video/call/"))
        .collect();
    assert_eq!(creates.len(), 1, "4xx is not retried");
    assert_eq!(meeting_count(&app).await, 0);
    let upcoming = app.get("/upcoming").await.text().await.unwrap();
    assert!(upcoming.contains("No Upcoming Calls"));
}

#[tokio::test]
async fn a_scheduled_meeting_stream_refuses_is_not_kept() {
    let mock = MockStream::start().await;
    let app = stream_app(&mock).await;
    app.signed_in_as("refused2").await;
    let _ = my_id(&app).await;
    mock.script("/video/call/", vec![Reply::error(400, 4, "bad starts_at")]);
    let when = (chrono::Utc::now() + chrono::Duration::hours(2))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let res = app
        .post_form(
            "/meetings/schedule",
            &[
                ("description", "Never"),
                ("starts_at", &when),
                ("tz_offset", "0"),
            ],
        )
        .await;
    assert_eq!(res.status(), 503);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Failed to create Meeting")
    );
    assert_eq!(meeting_count(&app).await, 0);
}

#[tokio::test]
async fn a_stream_timeout_leaves_no_half_made_meeting() {
    let mock = MockStream::start().await;
    let app = stream_app(&mock).await;
    app.signed_in_as("slow").await;
    let _ = my_id(&app).await;
    mock.script(
        "/video/call/",
        vec![Reply::status(201, json!({})).delayed(Duration::from_secs(5))],
    );
    let started = std::time::Instant::now();
    let res = app
        .post_form("/meetings/instant", &[("description", "Too slow")])
        .await;
    let took = started.elapsed();
    assert_eq!(res.status(), 503);
    assert!(
        took >= Duration::from_millis(2900) && took < Duration::from_millis(4500),
        "gave up after the 3 s timeout, without retrying: {took:?}"
    );
    assert_eq!(
        mock.requests()
            .iter()
            .filter(|r| r.path.contains("/video/call/"))
            .count(),
        1
    );
    assert_eq!(meeting_count(&app).await, 0);
}

#[tokio::test]
async fn an_unreachable_stream_leaves_no_half_made_meeting() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let app = spawn_app_with(&[
        ("STREAM_API_KEY", API_KEY),
        ("STREAM_SECRET_KEY", SECRET),
        ("STREAM_BASE_URL", &base),
    ])
    .await;
    app.signed_in_as("offline").await;
    let res = app
        .post_form("/meetings/instant", &[("description", "Nowhere")])
        .await;
    assert_eq!(res.status(), 503);
    assert_eq!(meeting_count(&app).await, 0);
}

#[tokio::test]
async fn recordings_are_listed_with_both_date_formats() {
    let mock = MockStream::start().await;
    mock.script(
        "/recordings",
        vec![Reply::status(
            200,
            json!({ "duration": "1ms", "recordings": [
                { "filename": "a.mp4", "url": "https://cdn.example/a.mp4", "session_id": "s1",
                  "recording_type": "composite",
                  "start_time": "2026-03-29T15:30:00.123Z", "end_time": 1774798260000000000_i64 },
            ]}),
        )],
    );
    let settings = yoom::config::StreamSettings {
        api_key: API_KEY.into(),
        secret: SECRET.to_owned().into(),
        base_url: mock.url.parse().unwrap(),
        token_requests_per_minute: 60,
        restrict_calls: false,
    };
    let app = crate::helpers::spawn_app().await;
    let stream = yoom::video::stream::StreamMedia::new(
        &settings,
        &app.db().await,
        yoom::cluster::Cluster::single(),
    )
    .unwrap();
    let id = "6f1c1f1e-5d0a-4d0b-9a57-1f0b1b2b3c4d";
    let recordings = stream.list_recordings(id).await.unwrap();
    assert_eq!(recordings.len(), 1);
    assert_eq!(recordings[0].filename, "a.mp4");
    assert_eq!(recordings[0].start_time.timestamp(), 1_774_798_200);
    assert_eq!(recordings[0].end_time.timestamp(), 1_774_798_260);
    let list = mock.requests_to("/recordings");
    assert_eq!(list.len(), 1);
    assert_server_call(
        &list[0],
        "GET",
        &format!("/api/v2/video/call/default/{id}/recordings"),
    );
    assert!(list[0].body.is_empty());

    // A call Stream does not know has no recordings; other refusals are typed errors.
    mock.script(
        "/recordings",
        vec![
            Reply::error(404, 16, "Can't find call with id"),
            Reply::error(400, 4, "ListRecordings failed"),
        ],
    );
    assert_eq!(stream.list_recordings(id).await.unwrap(), vec![]);
    match stream.list_recordings(id).await {
        Err(yoom::video::stream::StreamError::Api {
            status,
            code,
            message,
            ..
        }) => {
            assert_eq!((status, code), (400, Some(4)));
            assert_eq!(message, "ListRecordings failed");
        }
        other => panic!("{other:?}"),
    }
}

// ---- Webhooks -------------------------------------------------------------------------------

pub(crate) async fn post_webhook(
    app: &TestApp,
    body: &[u8],
    signature: Option<&str>,
    gzip: bool,
) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url("/webhooks/stream"))
        .header("Content-Type", "application/json")
        .body(body.to_vec());
    if let Some(s) = signature {
        req = req.header("X-Signature", s);
    }
    if gzip {
        req = req.header("Content-Encoding", "gzip");
    }
    req.send().await.unwrap()
}

fn gzipped(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[tokio::test]
async fn the_webhook_signature_known_answer_is_accepted() {
    let mock = MockStream::start().await;
    let app = stream_app(&mock).await;
    let body = br#"{"type":"call.ended"}"#;
    let signature = "2c2ff1cfaa5aa174ddca2767ead5fd9025a3c31cdb95372ac8ba8502e7373ae0";
    assert_eq!(sign(body, "secret456"), signature);
    let res = post_webhook(&app, body, Some(signature), false).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn webhooks_with_a_missing_or_bad_signature_get_401() {
    let mock = MockStream::start().await;
    let app = stream_app(&mock).await;
    let body = br#"{"type":"call.ended"}"#;
    let good = sign(body, SECRET);
    let other_secret = sign(body, "another-secret");
    let other_body = sign(br#"{"type":"call.created"}"#, SECRET);
    let truncated = good[..good.len() - 2].to_owned();
    let flipped = format!(
        "{}{}",
        &good[..63],
        if good.ends_with('0') { "1" } else { "0" }
    );
    for (signature, why) in [
        (None, "missing"),
        (Some(""), "empty"),
        (Some("zz"), "not hex"),
        (Some(other_secret.as_str()), "another secret"),
        (Some(other_body.as_str()), "another body"),
        (Some(truncated.as_str()), "truncated"),
        (Some(flipped.as_str()), "one digit off"),
    ] {
        let res = post_webhook(&app, body, signature, false).await;
        assert_eq!(res.status(), 401, "{why}");
        let json: Value = res.json().await.unwrap();
        assert_eq!(json["error"]["code"], "bad_signature", "{why}");
    }
}

#[tokio::test]
async fn gzip_webhook_bodies_are_verified_after_decompression() {
    let mock = MockStream::start().await;
    let app = stream_app(&mock).await;
    app.signed_in_as("gzipper").await;
    let meeting = app.start_instant("Zipped").await;
    let body = format!(r#"{{"type":"call.ended","call_cid":"default:{meeting}"}}"#);
    let compressed = gzipped(body.as_bytes());
    // Signed over the compressed bytes: refused.
    let res = post_webhook(&app, &compressed, Some(&sign(&compressed, SECRET)), true).await;
    assert_eq!(res.status(), 401);
    assert_eq!(app.get(&format!("/meeting/{meeting}")).await.status(), 200);
    // Signed over the JSON, as Stream does: accepted and applied.
    let res = post_webhook(
        &app,
        &compressed,
        Some(&sign(body.as_bytes(), SECRET)),
        true,
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.get(&format!("/meeting/{meeting}")).await.status(), 410);
    // A broken gzip body is a bad request.
    let res = post_webhook(&app, b"\x1f\x8bnot gzip", Some("00"), true).await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn call_ended_marks_the_meeting_ended() {
    let mock = MockStream::start().await;
    let app = stream_app(&mock).await;
    app.signed_in_as("endhook").await;
    let meeting = app.start_instant("Ends by webhook").await;
    let body = format!(
        r#"{{"type":"call.ended","call_cid":"default:{meeting}","created_at":"2026-01-01T00:00:00Z","call":{{"id":"{meeting}"}}}}"#
    );
    let res = post_webhook(
        &app,
        body.as_bytes(),
        Some(&sign(body.as_bytes(), SECRET)),
        false,
    )
    .await;
    assert_eq!(res.status(), 200);
    let res = app.get(&format!("/meeting/{meeting}")).await;
    assert_eq!(res.status(), 410);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("The call has been ended by the host")
    );
    assert!(
        mock.requests_to("/mark_ended").is_empty(),
        "no echo back to Stream"
    );
}

#[tokio::test]
async fn a_participant_joined_event_records_attendance() {
    let mock = MockStream::start().await;
    let app = stream_app(&mock).await;
    app.signed_in_as("attended_host").await;
    let meeting = app.schedule_in(60, "Join me").await;
    let guest = app.other_client();
    guest.signed_in_as("attendee").await;
    let guest_id = id_of(&guest.client, &app.address).await;
    let upcoming = guest.get("/upcoming").await.text().await.unwrap();
    assert!(!upcoming.contains(&meeting));
    let body = format!(
        r#"{{"type":"call.session_participant_joined","call_cid":"default:{meeting}","session_id":"sess1",
            "created_at":"2026-01-01T00:00:00Z","participant":{{"user_session_id":"us1","role":"user",
            "joined_at":"2026-01-01T00:00:00Z","user":{{"id":"{guest_id}","name":"attendee Tester"}}}}}}"#
    );
    let res = post_webhook(
        &app,
        body.as_bytes(),
        Some(&sign(body.as_bytes(), SECRET)),
        false,
    )
    .await;
    assert_eq!(res.status(), 200);
    // Reaching the call is not being let in: someone the meeting's room never admitted (who
    // joined the call with a token from elsewhere) does not become an attendee.
    let upcoming = guest.get("/upcoming").await.text().await.unwrap();
    assert!(!upcoming.contains(&meeting), "not let in, not an attendee");
    admit(&app, &meeting, &guest_id).await;
    // A later event (a retry of the first would be the same delivery, applied once).
    let body = body.replace(
        "\"created_at\":\"2026-01-01T00:00:00Z\"",
        "\"created_at\":\"2026-01-01T00:01:00Z\"",
    );
    let res = post_webhook(
        &app,
        body.as_bytes(),
        Some(&sign(body.as_bytes(), SECRET)),
        false,
    )
    .await;
    assert_eq!(res.status(), 200);
    let upcoming = guest.get("/upcoming").await.text().await.unwrap();
    assert!(upcoming.contains(&meeting), "the guest's list shows it now");
    // Someone we do not know, or a meeting we do not have, changes nothing and is acknowledged.
    let stranger = body.replace(&guest_id, "not-an-account");
    let res = post_webhook(
        &app,
        stranger.as_bytes(),
        Some(&sign(stranger.as_bytes(), SECRET)),
        false,
    )
    .await;
    assert_eq!(res.status(), 200);
    let count: i64 = sqlx::query_scalar("select count(*) from attendance")
        .fetch_one(&app.db().await)
        .await
        .unwrap();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn a_recording_ready_event_stores_the_recording_once() {
    let mock = MockStream::start().await;
    let app = stream_app(&mock).await;
    app.signed_in_as("recorder").await;
    let meeting = app.start_instant("Recorded").await;
    let body = format!(
        r#"{{"type":"call.recording_ready","call_cid":"default:{meeting}","egress_id":"e1",
            "recording_type":"composite","created_at":"2026-01-01T00:00:00Z",
            "call_recording":{{"filename":"rec_1.mp4","url":"https://cdn.example/rec_1.mp4?sig=1",
            "session_id":"s1","recording_type":"composite",
            "start_time":"2026-03-29T15:30:00Z","end_time":1774798260000000000}}}}"#
    );
    for _ in 0..2 {
        let res = post_webhook(
            &app,
            body.as_bytes(),
            Some(&sign(body.as_bytes(), SECRET)),
            false,
        )
        .await;
        assert_eq!(res.status(), 200);
    }
    let rows = yoom::recordings::store::provider_recordings(&app.db().await, &meeting, "stream")
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "delivered twice, stored once");
    let r = &rows[0];
    assert_eq!(r.provider, "stream");
    assert_eq!(r.status, yoom::recordings::Status::Ready);
    assert_eq!(
        r.external_id.as_deref(),
        Some(format!("{meeting}/rec_1.mp4").as_str())
    );
    assert_eq!(
        r.url.as_deref(),
        Some("https://cdn.example/rec_1.mp4?sig=1")
    );
    assert_eq!(r.started_at, 1_774_798_200);
    assert_eq!(r.ended_at, Some(1_774_798_260));
    assert_eq!(r.duration_ms, Some(60_000));

    // It is listed on Recordings and plays from Stream's URL.
    let list = app.get("/recordings").await.text().await.unwrap();
    assert!(list.contains(&r.id), "listed: {list}");
    let res = app.get(&format!("/recordings/{}/file", r.id)).await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        header(res.headers(), "location"),
        "https://cdn.example/rec_1.mp4?sig=1"
    );
    // A newer URL for the same file replaces the old one.
    let renewed = body.replace("sig=1", "sig=2");
    let res = post_webhook(
        &app,
        renewed.as_bytes(),
        Some(&sign(renewed.as_bytes(), SECRET)),
        false,
    )
    .await;
    assert_eq!(res.status(), 200);
    let rows = yoom::recordings::store::provider_recordings(&app.db().await, &meeting, "stream")
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].url.as_deref(),
        Some("https://cdn.example/rec_1.mp4?sig=2")
    );
}

#[tokio::test]
async fn unknown_webhook_events_are_acknowledged_and_ignored() {
    let mock = MockStream::start().await;
    let app = stream_app(&mock).await;
    for body in [
        r#"{"type":"call.member_added","call_cid":"default:6f1c1f1e-5d0a-4d0b-9a57-1f0b1b2b3c4d"}"#,
        r#"{"type":"user.updated","user":{"id":"x"}}"#,
        r#"{"type":"call.ended","call_cid":"livestream:abc"}"#,
    ] {
        let res = post_webhook(
            &app,
            body.as_bytes(),
            Some(&sign(body.as_bytes(), SECRET)),
            false,
        )
        .await;
        assert_eq!(res.status(), 200, "{body}");
    }
    let res = post_webhook(&app, b"not json", Some(&sign(b"not json", SECRET)), false).await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn the_webhook_is_not_there_in_mesh_mode() {
    let app = spawn_app().await;
    let body = br#"{"type":"call.ended"}"#;
    let res = post_webhook(&app, body, Some(&sign(body, SECRET)), false).await;
    assert_eq!(res.status(), 404);
}

// ---- Pages, CSP, the secret -----------------------------------------------------------------

#[tokio::test]
async fn the_meeting_page_names_the_stream_adapter_key_and_coordinator() {
    let mock = MockStream::start().await;
    let app = stream_app(&mock).await;
    app.signed_in_as("pager").await;
    let meeting = app.start_instant("Paged").await;
    let html = app
        .get(&format!("/meeting/{meeting}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"data-adapter="stream""#));
    assert!(html.contains(&format!(r#"data-stream-api-key="{API_KEY}""#)));
    assert!(html.contains(&format!(r#"data-stream-url="{}/video""#, mock.url)));
    assert!(html.contains("data-stream-bundle=\"/static/vendor/stream/stream-video-client.js?v="));
}

/// stream.js takes the host from the page, not from the call's creator at Stream: a guest's
/// page names the meeting's owner, and a personal room's account before any session is open.
#[tokio::test]
async fn a_guests_meeting_page_names_the_host() {
    let mock = MockStream::start().await;
    let app = stream_app(&mock).await;
    app.signed_in_as("hostess").await;
    let host = my_id(&app).await;
    let meeting = app.start_instant("Hosted").await;
    let personal = app.get("/personal-room").await.text().await.unwrap();
    let at = personal.find("?personal=true").expect("invite link");
    let room = personal[at - 12..at].to_owned();
    let guest = app.other_client();
    guest.signed_in_as("visitor").await;
    let guest_id = id_of(&guest.client, &app.address).await;
    assert_ne!(guest_id, host);
    for path in [
        format!("/meeting/{meeting}"),
        format!("/meeting/{room}?personal=true"),
    ] {
        let res = guest.get(&path).await;
        assert_eq!(res.status(), 200, "{path}");
        let html = res.text().await.unwrap();
        assert!(html.contains(r#"id="meeting-room""#), "{path}");
        assert!(
            html.contains(&format!(r#"data-user-id="{guest_id}""#)),
            "{path}"
        );
        assert!(html.contains(r#"data-owner="false""#), "{path}");
        assert!(
            html.contains(&format!(r#"data-host-id="{host}""#)),
            "{path} names the host"
        );
    }
}

#[tokio::test]
async fn the_csp_allows_stream_hosts_only_in_stream_mode() {
    let mock = MockStream::start().await;
    let app = stream_app(&mock).await;
    let csp = header(
        app.get("/sign-in").await.headers(),
        "content-security-policy",
    )
    .to_owned();
    let connect = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("connect-src"))
        .unwrap()
        .to_owned();
    for host in [
        "'self'",
        "https://*.stream-io-api.com",
        "wss://*.stream-io-api.com",
        "https://*.stream-io-video.com",
        "wss://*.stream-io-video.com",
    ] {
        assert!(connect.split(' ').any(|h| h == host), "{host} in {connect}");
    }
    let ws = mock.url.replace("http://", "ws://");
    assert!(connect.split(' ').any(|h| h == mock.url), "{connect}");
    assert!(connect.split(' ').any(|h| h == ws), "{connect}");
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(
        csp.contains("media-src 'self' blob: https://*.stream-io-cdn.com;"),
        "recordings play from Stream's CDN: {csp}"
    );

    let mesh = spawn_app().await;
    let csp = header(
        mesh.get("/sign-in").await.headers(),
        "content-security-policy",
    )
    .to_owned();
    assert!(csp.contains("connect-src 'self';"), "{csp}");
    assert!(!csp.contains("stream-io"), "{csp}");
    assert!(csp.contains("media-src 'self' blob:;"), "{csp}");
}

/// Every embedded static file, by walking the repository's static/ folder.
fn static_files() -> Vec<String> {
    fn walk(dir: &std::path::Path, base: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, base, out);
            } else {
                out.push(path.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("static");
    let mut out = Vec::new();
    walk(&base, &base, &mut out);
    out
}

#[tokio::test]
async fn the_secret_is_never_served_by_any_page_script_or_answer() {
    const SECRET_HERE: &str = "sk-never-served-4f9a8e7d6c5b";
    let mock = MockStream::start().await;
    let app = spawn_app_with(&[
        ("STREAM_API_KEY", API_KEY),
        ("STREAM_SECRET_KEY", SECRET_HERE),
        ("STREAM_BASE_URL", &mock.url),
    ])
    .await;
    let mut checked = 0;
    let mut check = |path: &str, status: u16, headers: String, body: String| {
        assert!(
            !body.contains(SECRET_HERE) && !headers.contains(SECRET_HERE),
            "{path} ({status}) served the secret"
        );
        checked += 1;
    };
    // Signed out first, then signed in.
    for path in ["/sign-in", "/sign-up", "/healthz", "/", "/api/token"] {
        let res = app.get(path).await;
        let (s, h) = (res.status().as_u16(), format!("{:?}", res.headers()));
        check(path, s, h, res.text().await.unwrap());
    }
    app.signed_in_as("scanner").await;
    let meeting = app.start_instant("Scanned").await;
    let scheduled = app.schedule_in(30, "Later").await;
    let room = app.personal_room_id().await;
    let pages = vec![
        "/".to_owned(),
        "/upcoming".into(),
        "/previous".into(),
        "/recordings".into(),
        "/personal-room".into(),
        "/meetings/instant".into(),
        "/meetings/schedule".into(),
        "/meetings/join".into(),
        format!("/meeting/{meeting}"),
        format!("/meeting/{scheduled}"),
        format!("/meeting/{scheduled}/calendar.ics"),
        format!("/meeting/{room}?personal=true"),
        "/api/token".into(),
        "/no-such-page".into(),
    ];
    for path in &pages {
        let res = app.get(path).await;
        let (s, h) = (res.status().as_u16(), format!("{:?}", res.headers()));
        check(path, s, h, res.text().await.unwrap());
    }
    let files = static_files();
    assert!(files.iter().any(|f| f == "js/meeting/stream.js"));
    assert!(
        files
            .iter()
            .any(|f| f == "vendor/stream/stream-video-client.js")
    );
    for file in &files {
        let path = format!("/static/{file}");
        let res = app.get(&path).await;
        assert_eq!(res.status(), 200, "{path}");
        let (s, h) = (res.status().as_u16(), format!("{:?}", res.headers()));
        let bytes = res.bytes().await.unwrap();
        check(&path, s, h, String::from_utf8_lossy(&bytes).into_owned());
    }
    // And what went to Stream: the secret signs, it is never sent.
    for r in mock.requests() {
        assert!(!format!("{r:?}").contains(SECRET_HERE));
    }
    assert!(checked > 20 + files.len() / 2);
}

// ---- Presence from the Stream meeting page -------------------------------------------------

pub(crate) async fn post_presence(client: &reqwest::Client, app: &TestApp, meeting: &str) -> u16 {
    client
        .post(app.url(&format!("/meeting/{meeting}/presence")))
        .header("Origin", &app.address)
        .header("Sec-Fetch-Site", "same-origin")
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn presence_from_the_meeting_page_records_attendance_and_keeps_the_meeting_live() {
    let mock = MockStream::start().await;
    let app = stream_app(&mock).await;
    app.signed_in_as("present_host").await;
    let meeting = app.schedule_in(90, "Early start").await;
    let guest = app.other_client();
    guest.signed_in_as("present_guest").await;

    // Not started and nobody in it: the guest may not be there yet.
    assert_eq!(post_presence(&guest.client, &app, &meeting).await, 403);
    // The host starts early; now it is live and the guest may come to the door.
    assert_eq!(post_presence(&app.client, &app, &meeting).await, 204);
    assert_eq!(
        guest.get(&format!("/meeting/{meeting}")).await.status(),
        200
    );
    // Being at the door is not being in: only someone let in reports presence.
    assert_eq!(post_presence(&guest.client, &app, &meeting).await, 403);
    let guest_id = id_of(&guest.client, &app.address).await;
    admit(&app, &meeting, &guest_id).await;
    assert_eq!(post_presence(&guest.client, &app, &meeting).await, 204);
    let upcoming = guest.get("/upcoming").await.text().await.unwrap();
    assert!(upcoming.contains(&meeting), "attended, so listed");

    // Signed out: 401; from another site: refused.
    let stranger = crate::helpers::new_client();
    assert_eq!(post_presence(&stranger, &app, &meeting).await, 401);
    let res = app
        .client
        .post(app.url(&format!("/meeting/{meeting}/presence")))
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    // Once it is over, the page hears 410 and shows the ended notice.
    app.post_form(&format!("/meeting/{meeting}/end"), &[]).await;
    assert_eq!(post_presence(&guest.client, &app, &meeting).await, 410);
}

#[tokio::test]
async fn at_start_only_call_members_are_let_join_calls_of_the_default_call_type() {
    let mock = MockStream::start().await;
    let _app = stream_app_with(&mock, &[("STREAM_RESTRICT_CALLS", "true")]).await;
    let mut updates = Vec::new();
    for _ in 0..60 {
        updates = mock.requests_to("/api/v2/video/calltypes/default");
        if updates.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(updates.len(), 2, "{:?}", mock.requests());
    assert_server_call(&updates[0], "GET", "/api/v2/video/calltypes/default");
    assert_eq!(updates[1].method, "PUT");
    assert_eq!(updates[1].query, format!("api_key={API_KEY}"));
    assert_eq!(
        updates[1].json(),
        json!({ "grants": {
            "user": ["send-audio", "send-video", "screenshare"],
            "call_member": ["join-call", "send-audio", "send-video", "screenshare"]
        } })
    );
    // Already restricted: only looked at.
    let mock = MockStream::start().await;
    mock.script(
        "/calltypes/default",
        vec![Reply::status(
            200,
            json!({ "name": "default", "grants": {
                "user": ["send-audio"], "call_member": ["join-call", "send-audio"] } }),
        )],
    );
    let _app = stream_app_with(&mock, &[("STREAM_RESTRICT_CALLS", "true")]).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let seen = mock.requests_to("/calltypes/default");
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "GET");
}

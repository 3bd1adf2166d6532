//! `spawn_app()` and the per-endpoint helpers every test uses.
#![allow(dead_code)] // A shared test library: not every helper is used by every suite.

use std::collections::HashMap;
use std::sync::Arc;

use reqwest::header::HeaderMap;
use reqwest::{Client, Response, redirect};
use yoom::config::Settings;
use yoom::startup::Application;

/// A PostgreSQL server the tests may create databases on, as a URL such as
/// `postgres://postgres@127.0.0.1:5433/postgres` (`scripts/test.sh` starts a throw-away one).
/// Tests of several instances on one database need it.
pub const TEST_POSTGRES_VAR: &str = "YOOM_TEST_POSTGRES";
/// `postgres` runs every test app on a fresh PostgreSQL database of its own (on the server in
/// [`TEST_POSTGRES_VAR`]) instead of a SQLite file; `scripts/test.sh` runs the suite both ways.
pub const TEST_DATABASE_VAR: &str = "YOOM_TEST_DATABASE";

/// True when test apps run on PostgreSQL.
pub fn on_postgres() -> bool {
    std::env::var(TEST_DATABASE_VAR).is_ok_and(|v| v == "postgres")
}

/// The PostgreSQL server for tests; a test that needs one fails (never skips) without it.
pub fn test_postgres() -> String {
    std::env::var(TEST_POSTGRES_VAR).unwrap_or_else(|_| {
        panic!(
            "{TEST_POSTGRES_VAR} must name a PostgreSQL server for this test \
             (scripts/test.sh starts one)"
        )
    })
}

/// A running server with its own data directory, and a client with its own cookie jar.
pub struct TestApp {
    pub address: String,
    pub client: Client,
    /// The client's cookies, for WebSocket handshakes made outside reqwest.
    pub jar: Arc<reqwest::cookie::Jar>,
    /// Kept so the directory (database, session key) lives as long as the app.
    pub data_dir: tempfile::TempDir,
    pub server: actix_web::dev::ServerHandle,
    pub port: u16,
    /// The app's database.
    pub database_url: String,
    /// Stops the app as a rolling restart does (hands its rooms over, drains, stops).
    pub stopper: yoom::startup::Stopper,
}

/// A fresh database for one test app: a SQLite file in its data directory, or a new database
/// on the test PostgreSQL server (see [`TEST_DATABASE_VAR`]).
pub async fn fresh_database(data_dir: &std::path::Path) -> String {
    if on_postgres() {
        fresh_postgres_database().await
    } else {
        format!("sqlite://{}/yoom.db", data_dir.display())
    }
}

/// A new, empty database on the test PostgreSQL server; returns its URL.
pub async fn fresh_postgres_database() -> String {
    let admin = test_postgres();
    let name = format!("yoom_test_{}", uuid::Uuid::new_v4().simple());
    let pool = yoom::db::open(
        &admin,
        yoom::db::PoolSettings {
            max_connections: 1,
            acquire_timeout: std::time::Duration::from_secs(30),
        },
    )
    .await
    .expect("the test PostgreSQL server answers");
    sqlx::query(sqlx::AssertSqlSafe(format!("create database {name}")))
        .execute(&pool)
        .await
        .expect("create a test database");
    pool.close().await;
    let mut url = url::Url::parse(&admin).expect("YOOM_TEST_POSTGRES is a URL");
    url.set_path(&name);
    url.to_string()
}

/// Starts the app on a free port with a fresh database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Starts the app with extra configuration variables.
pub async fn spawn_app_with(vars: &[(&str, &str)]) -> TestApp {
    // `TEST_LOG=1 RUST_LOG=yoom=debug cargo test …` shows the server's log.
    if std::env::var_os("TEST_LOG").is_some() {
        yoom::telemetry::init();
    }
    let data_dir = tempfile::tempdir().expect("temp dir");
    let data_path = match vars.iter().find(|(k, _)| *k == "DATA_DIR") {
        Some((_, dir)) => std::path::PathBuf::from(dir),
        None => data_dir.path().to_owned(),
    };
    let database_url = match vars.iter().find(|(k, _)| *k == "DATABASE_URL") {
        Some((_, url)) => url.to_string(),
        None => fresh_database(&data_path).await,
    };
    let mut map: HashMap<String, String> = HashMap::from([
        ("PORT".into(), "0".into()),
        ("BIND".into(), "127.0.0.1".into()),
        ("BASE_URL".into(), "http://127.0.0.1".into()),
        ("DATA_DIR".into(), data_dir.path().display().to_string()),
        ("DATABASE_URL".into(), database_url.clone()),
    ]);
    for (k, v) in vars {
        map.insert(k.to_string(), v.to_string());
    }
    let settings = Settings::from_lookup(|k| map.get(k).cloned()).expect("valid test settings");
    let app = Application::build(settings).await.expect("app builds");
    let port = app.port();
    let address = format!("http://127.0.0.1:{port}");
    let server = app.handle();
    let stopper = app.stopper();
    tokio::spawn(app.run_until_stopped());
    let (client, jar) = new_client_with_jar();
    TestApp {
        address,
        client,
        jar,
        data_dir,
        server,
        port,
        database_url,
        stopper,
    }
}

/// A client that keeps cookies and does not follow redirects (tests look at them).
pub fn new_client() -> Client {
    new_client_with_jar().0
}

pub fn new_client_with_jar() -> (Client, Arc<reqwest::cookie::Jar>) {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let client = Client::builder()
        .cookie_provider(jar.clone())
        .redirect(redirect::Policy::none())
        .build()
        .expect("client builds");
    (client, jar)
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    /// A GET as htmx makes it.
    pub async fn get_htmx(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .header("HX-Request", "true")
            .header("HX-Current-URL", self.url(path))
            .send()
            .await
            .expect("GET (htmx)")
    }

    /// A POST as the browser makes it from one of our pages (same-origin).
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.client
            .post(self.url(path))
            .header("Origin", &self.address)
            .header("Sec-Fetch-Site", "same-origin")
            .form(form)
            .send()
            .await
            .expect("POST")
    }

    /// A POST as htmx makes it.
    pub async fn post_htmx(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.client
            .post(self.url(path))
            .header("Origin", &self.address)
            .header("Sec-Fetch-Site", "same-origin")
            .header("HX-Request", "true")
            .form(form)
            .send()
            .await
            .expect("POST (htmx)")
    }

    pub async fn post_sign_up(
        &self,
        username: &str,
        display_name: &str,
        password: &str,
    ) -> Response {
        self.post_form(
            "/sign-up",
            &[
                ("username", username),
                ("display_name", display_name),
                ("password", password),
                ("confirm_password", password),
            ],
        )
        .await
    }

    pub async fn post_sign_in(&self, username: &str, password: &str) -> Response {
        self.post_form(
            "/sign-in",
            &[("username", username), ("password", password)],
        )
        .await
    }

    /// Creates an account and leaves this app's client signed in as it.
    pub async fn signed_in_as(&self, username: &str) -> &Self {
        let res = self
            .post_sign_up(
                username,
                &format!("{username} Tester"),
                "correct horse battery",
            )
            .await;
        assert_eq!(res.status(), 303, "sign-up of {username} failed");
        self
    }

    /// This account's personal room ID, as its page shows it.
    pub async fn personal_room_id(&self) -> String {
        let html = self.get("/personal-room").await.text().await.unwrap();
        let start = html.find("id=\"room-id\">").unwrap() + 13;
        html[start..start + 12].to_owned()
    }

    pub async fn sign_out(&self) -> Response {
        self.post_form("/sign-out", &[]).await
    }

    /// Another client (another browser) on the same server.
    pub fn other_client(&self) -> TestApp2<'_> {
        let (client, jar) = new_client_with_jar();
        TestApp2 {
            app: self,
            client,
            jar,
        }
    }

    /// The Cookie header this client would send.
    pub fn cookie_header(&self) -> String {
        cookie_header(&self.jar, &self.address)
    }
}

/// A second person on the same server, with their own cookies.
pub struct TestApp2<'a> {
    pub app: &'a TestApp,
    pub client: Client,
    pub jar: Arc<reqwest::cookie::Jar>,
}

pub fn cookie_header(jar: &reqwest::cookie::Jar, address: &str) -> String {
    use reqwest::cookie::CookieStore;
    jar.cookies(&address.parse().unwrap())
        .and_then(|v| v.to_str().ok().map(str::to_owned))
        .unwrap_or_default()
}

impl TestApp2<'_> {
    pub fn cookie_header(&self) -> String {
        cookie_header(&self.jar, &self.app.address)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(self.app.url(path))
            .send()
            .await
            .expect("GET")
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.client
            .post(self.app.url(path))
            .header("Origin", &self.app.address)
            .header("Sec-Fetch-Site", "same-origin")
            .form(form)
            .send()
            .await
            .expect("POST")
    }

    pub async fn signed_in_as(&self, username: &str) -> &Self {
        let res = self
            .post_form(
                "/sign-up",
                &[
                    ("username", username),
                    ("display_name", &format!("{username} Tester")),
                    ("password", "correct horse battery"),
                    ("confirm_password", "correct horse battery"),
                ],
            )
            .await;
        assert_eq!(res.status(), 303, "sign-up of {username} failed");
        self
    }
}

pub fn location(headers: &HeaderMap) -> &str {
    headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

impl TestApp {
    /// The app's own database, for seeding what only later steps (joining a call) produce.
    pub async fn db(&self) -> yoom::db::Pool {
        yoom::db::open(
            &self.database_url,
            yoom::db::PoolSettings {
                max_connections: 2,
                acquire_timeout: std::time::Duration::from_secs(30),
            },
        )
        .await
        .expect("test database")
    }

    /// A second server on this one's data (its directory and its database), as after a
    /// restart.
    pub async fn respawn(&self, extra: &[(&str, &str)]) -> TestApp {
        let dir = self.data_dir.path().display().to_string();
        // The media ports follow PORT's number unless set: a restart on the same PORT would
        // then need PORT + 1 free for ICE over TCP, which another test may hold by now.
        let mut vars: Vec<(&str, &str)> = vec![
            ("DATA_DIR", &dir),
            ("DATABASE_URL", &self.database_url),
            ("MEDIA_UDP_PORT", "0"),
            ("MEDIA_TCP_PORT", "0"),
        ];
        vars.extend_from_slice(extra);
        spawn_app_with(&vars).await
    }

    /// The session key the server generated (in its data directory, or in the database).
    pub async fn session_key(&self) -> Vec<u8> {
        let key = if self.is_postgres() {
            sqlx::query_scalar("select value from app_secret where name = 'session_key'")
                .fetch_one(&self.db().await)
                .await
                .expect("a stored session key")
        } else {
            std::fs::read_to_string(self.data_dir.path().join("session.key")).expect("key file")
        };
        hex::decode(key.trim()).expect("a hex key")
    }

    /// True when this app runs on PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.database_url.starts_with("postgres")
    }

    /// Schedules a meeting `minutes_from_now` ahead (UTC picker, offset 0); returns its ID.
    pub async fn schedule_in(&self, minutes_from_now: i64, description: &str) -> String {
        let when = chrono::Utc::now() + chrono::Duration::minutes(minutes_from_now);
        let local = when.format("%Y-%m-%dT%H:%M").to_string();
        let res = self
            .post_form(
                "/meetings/schedule",
                &[
                    ("description", description),
                    ("starts_at", &local),
                    ("tz_offset", "0"),
                ],
            )
            .await;
        assert_eq!(res.status(), 201, "scheduling failed");
        meeting_id_in(&res.text().await.unwrap())
    }

    /// Starts an instant meeting; returns its ID.
    pub async fn start_instant(&self, description: &str) -> String {
        let res = self
            .post_form("/meetings/instant", &[("description", description)])
            .await;
        assert_eq!(res.status(), 303);
        location(res.headers())
            .strip_prefix("/meeting/")
            .expect("redirect to the meeting")
            .to_owned()
    }
}

/// The first `data-meeting-id="…"` in a page.
pub fn meeting_id_in(html: &str) -> String {
    let start = html
        .find("data-meeting-id=\"")
        .expect("a meeting ID in the page")
        + 17;
    html[start..start + 36].to_owned()
}

/// Every meeting ID on a list page, in order.
pub fn meeting_ids_in(html: &str) -> Vec<String> {
    html.match_indices("<article class=\"meeting-card\" id=\"meeting-")
        .map(|(i, m)| html[i + m.len()..i + m.len() + 36].to_owned())
        .collect()
}

/// Enters a personal room as its page does (a POST that opens a session if none is open);
/// returns the session's meeting ID.
pub async fn enter_personal_room(client: &Client, address: &str, room: &str) -> String {
    let res = client
        .post(format!("{address}/meeting/{room}/enter"))
        .header("Origin", address)
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json::<serde_json::Value>().await.unwrap()["meetingId"]
        .as_str()
        .unwrap()
        .to_owned()
}

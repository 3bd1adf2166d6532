//! A local stand-in for Stream's REST API (and the browser client's coordinator WebSocket):
//! an actix-web server on port 0 that records every request and answers as each test scripts.
#![allow(dead_code)] // A shared test library: not every helper is used by every suite.

use std::collections::{BTreeMap, VecDeque};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use futures_util::StreamExt;
use serde_json::{Value, json};

pub const API_KEY: &str = "key123";
pub const SECRET: &str = "secret456";

/// One request as the mock saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    /// Lower-case names; the last value when repeated.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Recorded {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// A scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: Vec<(String, String)>,
    pub delay: Duration,
}

impl Reply {
    pub fn status(status: u16, body: Value) -> Self {
        Self {
            status,
            body,
            headers: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    /// Stream's error body.
    pub fn error(status: u16, code: i64, message: &str) -> Self {
        Self::status(
            status,
            json!({ "code": code, "message": message, "StatusCode": status, "duration": "0.01ms",
                    "more_info": "https://getstream.io/video/docs/api/errors/" }),
        )
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

#[derive(Default)]
struct State {
    requests: Mutex<Vec<Recorded>>,
    /// (path fragment, answers to give in turn) — the first rule with answers left wins.
    script: Mutex<Vec<(String, VecDeque<Reply>)>>,
    /// First text message on each coordinator WebSocket (the browser client's auth message).
    ws_messages: Mutex<Vec<String>>,
    /// Answer the coordinator's auth message with `connection.ok` (else stay silent).
    coordinator_answers: std::sync::atomic::AtomicBool,
    /// REST requests being answered now, and the most there ever were at once.
    in_flight: std::sync::atomic::AtomicUsize,
    max_in_flight: std::sync::atomic::AtomicUsize,
}

/// The running mock.
pub struct MockStream {
    pub url: String,
    state: Arc<State>,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for MockStream {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        tokio::spawn(async move { handle.stop(false).await });
    }
}

impl MockStream {
    pub async fn start() -> Self {
        let state = Arc::new(State::default());
        let listener = TcpListener::bind("127.0.0.1:0").expect("mock port");
        let port = listener.local_addr().unwrap().port();
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/video/connect", web::get().to(coordinator))
                .default_service(web::to(answer))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("mock listens")
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            url: format!("http://127.0.0.1:{port}"),
            state,
            handle,
        }
    }

    /// Answers the next requests whose path contains `fragment` with `replies`, in order;
    /// after that the usual success answer.
    pub fn script(&self, fragment: &str, replies: Vec<Reply>) {
        self.state
            .script
            .lock()
            .unwrap()
            .push((fragment.into(), replies.into()));
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }

    /// Requests whose path ends with `suffix`.
    pub fn requests_to(&self, suffix: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.ends_with(suffix))
            .collect()
    }

    pub fn clear(&self) {
        self.state.requests.lock().unwrap().clear();
    }

    /// Makes the coordinator WebSocket accept the client (`connection.ok`), so the browser
    /// client goes on to ask to join the call.
    pub fn accept_connections(&self) {
        self.state
            .coordinator_answers
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// The most REST requests the mock was answering at the same time.
    pub fn max_in_flight(&self) -> usize {
        self.state
            .max_in_flight
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn ws_messages(&self) -> Vec<String> {
        self.state.ws_messages.lock().unwrap().clone()
    }

    /// The Stream settings for `spawn_app_with`.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("STREAM_API_KEY", API_KEY.to_owned()),
            ("STREAM_SECRET_KEY", SECRET.to_owned()),
            ("STREAM_BASE_URL", self.url.clone()),
            // The call-type check at start has its own test; elsewhere it would add requests
            // that tests counting Stream's requests do not expect.
            ("STREAM_RESTRICT_CALLS", "false".to_owned()),
        ]
    }
}

fn record(state: &State, req: &HttpRequest, body: Vec<u8>) {
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                v.to_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    state.requests.lock().unwrap().push(Recorded {
        method: req.method().to_string(),
        path: req.path().to_owned(),
        query: req.query_string().to_owned(),
        headers,
        body,
        at: Instant::now(),
    });
}

/// The usual success answer for each endpoint, shaped like Stream's.
fn success(path: &str, body: &Value) -> Reply {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["api", "v2", "users"] => {
            let users = body["users"].clone();
            Reply::status(201, json!({ "users": users, "duration": "1.00ms" }))
        }
        ["api", "v2", "video", "call", kind, id] => Reply::status(
            201,
            json!({
                "created": true, "duration": "2.00ms", "members": [], "own_capabilities": [],
                "call": {
                    "id": id, "type": kind, "cid": format!("{kind}:{id}"),
                    "created_at": "2026-01-01T00:00:00.000000Z",
                    "starts_at": body["data"]["starts_at"], "custom": body["data"]["custom"],
                    "created_by": { "id": body["data"]["created_by_id"] }
                }
            }),
        ),
        [
            "api",
            "v2",
            "video",
            "call",
            _,
            _,
            "mark_ended" | "kick" | "unblock" | "mute_users",
        ]
        | [
            "api",
            "v2",
            "video",
            "call",
            _,
            _,
            "recordings",
            _,
            "start" | "stop",
        ] => Reply::status(201, json!({ "duration": "1.00ms" })),
        ["api", "v2", "video", "call", _, _, _, "recordings", _] => {
            Reply::status(200, json!({ "duration": "1.00ms" }))
        }
        ["api", "v2", "video", "calltypes", name] => Reply::status(
            200,
            json!({
                "name": name, "duration": "1.00ms",
                // Stream's defaults: every user may join every call.
                "grants": {
                    "user": ["join-call", "send-audio", "send-video", "screenshare"],
                    "call_member": ["join-call", "send-audio", "send-video", "screenshare"],
                    "admin": ["join-call", "end-call", "mute-users", "kick-user"]
                },
                "settings": {}, "notification_settings": {}
            }),
        ),
        ["api", "v2", "video", "call", _, _, "recordings"] => {
            Reply::status(200, json!({ "recordings": [], "duration": "1.00ms" }))
        }
        _ => Reply::error(404, 16, "not found"),
    }
}

async fn answer(req: HttpRequest, body: web::Bytes, state: web::Data<State>) -> HttpResponse {
    // The browser client calls the coordinator cross-origin, as it calls Stream: answer the
    // preflight as Stream does (it is browser plumbing, so it is not recorded).
    if req.method() == actix_web::http::Method::OPTIONS {
        return HttpResponse::NoContent()
            .insert_header(("Access-Control-Allow-Origin", "*"))
            .insert_header((
                "Access-Control-Allow-Methods",
                "GET, POST, PUT, PATCH, DELETE",
            ))
            .insert_header(("Access-Control-Allow-Headers", "*"))
            .insert_header(("Access-Control-Max-Age", "600"))
            .finish();
    }
    record(&state, &req, body.to_vec());
    let path = req.path().to_owned();
    let scripted = {
        let mut script = state.script.lock().unwrap();
        script
            .iter_mut()
            .find(|(fragment, replies)| path.contains(fragment.as_str()) && !replies.is_empty())
            .and_then(|(_, replies)| replies.pop_front())
    };
    let reply = scripted.unwrap_or_else(|| {
        let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
        success(&path, &json)
    });
    use std::sync::atomic::Ordering::SeqCst;
    let now = state.in_flight.fetch_add(1, SeqCst) + 1;
    state.max_in_flight.fetch_max(now, SeqCst);
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    state.in_flight.fetch_sub(1, SeqCst);
    let mut res = HttpResponse::build(actix_web::http::StatusCode::from_u16(reply.status).unwrap());
    res.insert_header(("Access-Control-Allow-Origin", "*"));
    for (k, v) in &reply.headers {
        res.insert_header((k.as_str(), v.as_str()));
    }
    res.json(reply.body)
}

/// The coordinator WebSocket: records the handshake and the client's messages (the first is
/// its token and user). Then it says nothing, like a service that cannot be reached, or, after
/// [`MockStream::accept_connections`], answers `connection.ok`.
async fn coordinator(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<State>,
) -> Result<HttpResponse, actix_web::Error> {
    record(&state, &req, Vec::new());
    let (response, mut session, mut stream) = actix_ws::handle(&req, body)?;
    let state = state.into_inner();
    actix_web::rt::spawn(async move {
        while let Some(Ok(msg)) = stream.next().await {
            if let actix_ws::Message::Text(text) = msg {
                let first = {
                    let mut messages = state.ws_messages.lock().unwrap();
                    messages.push(text.to_string());
                    messages.len() == 1
                };
                let answers = state
                    .coordinator_answers
                    .load(std::sync::atomic::Ordering::SeqCst);
                if first && answers {
                    let auth: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    let me = json!({
                        "id": auth["user_details"]["id"], "name": auth["user_details"]["name"],
                        "role": "user", "created_at": "2026-01-01T00:00:00Z",
                        "updated_at": "2026-01-01T00:00:00Z", "custom": {}, "teams": [],
                        "devices": [], "blocked_user_ids": [], "total_unread_count": 0,
                        "unread_channels": 0, "unread_threads": 0, "language": "",
                        "banned": false, "online": true
                    });
                    let ok = json!({ "type": "connection.ok", "connection_id": "conn-1",
                        "created_at": "2026-01-01T00:00:00Z", "me": me });
                    if session.text(ok.to_string()).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
    Ok(response)
}

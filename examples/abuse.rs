//! The attacks of an outside review, run against a server to show what gets through.
//!
//! ```sh
//! cargo run --release --example abuse -- http://127.0.0.1:8080 <server-pid> <data-dir>
//! ```
//!
//! `scripts/abuse.sh` starts a fresh release server on loopback for it. Every attack is bounded
//! in count and time, and only the address given is talked to. Prints one table row per
//! attack: what was tried, what got through, and the goal.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const PASSWORD: &str = "abuse run password";

struct Person {
    client: reqwest::Client,
    cookie: String,
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn client(jar: Arc<reqwest::cookie::Jar>) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_provider(jar)
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(256)
        .build()
        .expect("client")
}

async fn person(base: &str, name: &str) -> Person {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let client = client(jar.clone());
    let res = client
        .post(format!("{base}/sign-up"))
        .header("Origin", base)
        .form(&[
            ("username", name),
            ("display_name", name),
            ("password", PASSWORD),
            ("confirm_password", PASSWORD),
        ])
        .send()
        .await
        .expect("sign-up");
    assert_eq!(res.status(), 303, "cannot sign up {name}");
    use reqwest::cookie::CookieStore;
    let cookie = jar
        .cookies(&base.parse().expect("base URL"))
        .and_then(|v| v.to_str().ok().map(str::to_owned))
        .expect("a session cookie");
    Person { client, cookie }
}

impl Person {
    async fn post(&self, base: &str, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(format!("{base}{path}"))
            .header("Origin", base)
            .header("HX-Request", "true")
            .form(form)
            .send()
            .await
            .expect("POST")
    }

    async fn instant(&self, base: &str) -> String {
        let res = self
            .post(base, "/meetings/instant", &[("description", "abuse")])
            .await;
        let location = res
            .headers()
            .get("hx-redirect")
            .and_then(|v| v.to_str().ok())
            .expect("a new meeting");
        location.trim_start_matches("/meeting/").to_owned()
    }
}

struct Row {
    attack: &'static str,
    tried: String,
    through: String,
    goal: String,
    ok: bool,
}

/// 1,000 wrong passwords for one account, 100 at a time.
async fn parallel_passwords(base: &str) -> Row {
    person(base, "victim").await;
    let anonymous = client(Arc::default());
    let mut checked = 0;
    let mut refused = 0;
    for _ in 0..10 {
        let batch = (0..100).map(|i| {
            let anonymous = anonymous.clone();
            async move {
                anonymous
                    .post(format!("{base}/sign-in"))
                    .header("Origin", base)
                    .form(&[("username", "victim"), ("password", &format!("guess {i}"))])
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            }
        });
        for status in futures_util::future::join_all(batch).await {
            match status {
                422 => checked += 1,
                429 => refused += 1,
                _ => {}
            }
        }
    }
    let limit = yoom::auth::local::SIGN_IN_ATTEMPTS_PER_USERNAME as usize;
    Row {
        attack: "parallel wrong passwords, one account",
        tried: "1000 (100 at a time)".into(),
        through: format!("{checked} checked, {refused} refused"),
        goal: format!("≤ {limit} checked"),
        ok: checked <= limit,
    }
}

/// Room IDs guessed through the join form and meeting pages, by one account and by several
/// accounts from one address.
async fn room_probing(base: &str) -> Row {
    let mut looked_up = 0;
    let mut refused = 0;
    let mut tried = 0;
    for account in 0..5 {
        let prober = person(base, &format!("prober{account}")).await;
        let guesses = (0..100).map(|i| {
            let prober = &prober;
            async move {
                let guess = format!("qzx-{}-zzz", four_letters(account * 100 + i));
                if i % 2 == 0 {
                    prober
                        .post(base, "/meetings/join", &[("link", &guess)])
                        .await
                        .status()
                        .as_u16()
                } else {
                    prober
                        .client
                        .get(format!("{base}/meeting/{guess}"))
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0)
                }
            }
        });
        for status in futures_util::future::join_all(guesses).await {
            tried += 1;
            match status {
                422 | 404 => looked_up += 1,
                429 => refused += 1,
                _ => {}
            }
        }
    }
    let limit = yoom::limits::JOIN_TRIES_PER_ADDRESS as usize;
    Row {
        attack: "room-ID probing (5 accounts, 1 address)",
        tried: format!("{tried}"),
        through: format!("{looked_up} looked up, {refused} refused"),
        goal: format!(
            "≤ {} per account, ≤ {limit} per address",
            yoom::limits::JOIN_TRIES_PER_ACCOUNT
        ),
        ok: looked_up <= limit,
    }
}

/// Four letters from a number, for room-shaped guesses.
fn four_letters(i: usize) -> String {
    [i / 17576 % 26, i / 676 % 26, i / 26 % 26, i % 26]
        .iter()
        .map(|n| char::from(b'a' + *n as u8))
        .collect()
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Early slices far beyond the recording's byte limit (the server runs with a 5 MB limit),
/// and the server's memory while eight 8 MiB bodies arrive at once.
async fn early_slices(base: &str, pid: u32, data: &std::path::Path) -> Vec<Row> {
    let host = person(base, "recorder").await;
    let mut rows = Vec::new();
    let mut accepted = 0;
    let mut refused = 0;
    let mut parked_max = 0;
    for round in 0..3 {
        let meeting = host.instant(base).await;
        let res = host
            .client
            .post(format!("{base}/meeting/{meeting}/recordings"))
            .header("Origin", base)
            .send()
            .await
            .expect("start");
        let Ok(body) = res.json::<Value>().await else {
            break;
        };
        let Some(rec) = body["id"].as_str().map(str::to_owned) else {
            refused += 64;
            continue;
        };
        for seq in 1..=64 {
            let res = host
                .client
                .put(format!("{base}/recordings/{rec}/slices/{seq}"))
                .header("Origin", base)
                .body(vec![round as u8; 2_000_000])
                .send()
                .await
                .expect("slice");
            if res.status() == 202 {
                accepted += 1;
            } else {
                refused += 1;
            }
            let parked = dir_bytes(&data.join(format!("recordings/{rec}.parts")));
            parked_max = parked_max.max(parked);
        }
    }
    rows.push(Row {
        attack: "early slices past the byte limit",
        tried: "3 recordings × 64 early slices of 2 MB".into(),
        through: format!(
            "{accepted} kept, {refused} refused; at most {:.1} MB parked per recording",
            parked_max as f64 / 1e6
        ),
        goal: "≤ 5 MB parked (RECORDING_MAX_BYTES)".into(),
        ok: parked_max <= 5_000_000,
    });

    // Memory: eight full-size slices arriving at once, to eight recordings of two accounts.
    let before = rss_kb(pid);
    let mut recs = Vec::new();
    for name in ["memory1", "memory2", "memory3", "memory4"] {
        let p = person(base, name).await;
        for _ in 0..2 {
            let meeting = p.instant(base).await;
            let res = p
                .client
                .post(format!("{base}/meeting/{meeting}/recordings"))
                .header("Origin", base)
                .send()
                .await
                .expect("start");
            let id = res.json::<Value>().await.expect("json")["id"]
                .as_str()
                .expect("id")
                .to_owned();
            recs.push((p.client.clone(), id));
        }
    }
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(before));
    let watcher = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(rss_kb(pid), std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let uploads = recs.iter().map(|(c, id)| {
        c.put(format!("{base}/recordings/{id}/slices/0"))
            .header("Origin", base)
            .body(vec![7u8; 8 * 1024 * 1024 - 1024])
            .send()
    });
    let statuses: Vec<u16> = futures_util::future::join_all(uploads)
        .await
        .into_iter()
        .map(|r| r.map(|r| r.status().as_u16()).unwrap_or(0))
        .collect();
    watcher.abort();
    let grew = peak
        .load(std::sync::atomic::Ordering::Relaxed)
        .saturating_sub(before);
    rows.push(Row {
        attack: "8 slice bodies of 8 MiB at once",
        tried: format!("statuses {statuses:?}"),
        through: format!("server RSS +{:.1} MB at the peak", grew as f64 / 1024.0),
        goal: "far below 8 × 8 MiB = 64 MiB (bodies stream to disk)".into(),
        ok: grew < 32 * 1024,
    });
    rows
}

async fn socket(base: &str, meeting: &str, cookie: &str) -> Option<(SocketStream, Value)> {
    let url = format!(
        "{}/meeting/{meeting}/signal",
        base.replacen("http", "ws", 1)
    );
    let mut request = url.into_client_request().ok()?;
    request.headers_mut().insert("Cookie", cookie.parse().ok()?);
    request.headers_mut().insert("Origin", base.parse().ok()?);
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.ok()?;
    ws.send(Message::text(json!({"type": "join"}).to_string()))
        .await
        .ok()?;
    let first = next_json(&mut ws, Duration::from_secs(3)).await?;
    Some((ws, first))
}

type SocketStream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next_json(ws: &mut SocketStream, wait: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await.ok()?? {
            Ok(Message::Text(t)) => return serde_json::from_str(&t).ok(),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

/// One account opening 50 sockets into one room, then a flood of frames from one socket.
async fn sockets(base: &str) -> Vec<Row> {
    let host = person(base, "roomhost").await;
    let meeting = host.instant(base).await;
    let (mut host_ws, _) = socket(base, &meeting, &host.cookie)
        .await
        .expect("host joins");
    let flooder = person(base, "sockets").await;
    let mut held = Vec::new();
    for _ in 0..50 {
        if let Some((ws, first)) = socket(base, &meeting, &flooder.cookie).await
            && first["type"] == "welcome"
        {
            held.push(ws);
        }
    }
    let cap = yoom::video::mesh::MAX_CONNECTIONS_PER_ACCOUNT;
    let mut rows = vec![Row {
        attack: "one account's sockets into one room",
        tried: "50".into(),
        through: format!("{} in the room", held.len()),
        goal: format!("{cap} (the cap per account)"),
        ok: held.len() <= cap,
    }];
    drop(held);

    let pinger = person(base, "pinger").await;
    let (mut flood_ws, _) = socket(base, &meeting, &pinger.cookie).await.expect("joins");
    let started = Instant::now();
    let mut sent = 0;
    while sent < 20_000 && started.elapsed() < Duration::from_secs(10) {
        let frame = match sent % 3 {
            0 => Message::Ping(vec![0u8; 64].into()),
            1 => Message::binary(vec![1u8; 64]),
            _ => Message::text(r#"{"type":"ping"}"#),
        };
        if flood_ws.send(frame).await.is_err() {
            break;
        }
        sent += 1;
    }
    // Did the server close it, and does the room still work?
    let closed = loop {
        match tokio::time::timeout(Duration::from_secs(3), flood_ws.next()).await {
            Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => break true,
            Ok(Some(Ok(_))) => continue,
            Err(_) => break false,
        }
    };
    let witness = person(base, "witness").await;
    let (mut witness_ws, _) = socket(base, &meeting, &witness.cookie)
        .await
        .expect("joins");
    witness_ws
        .send(Message::text(
            json!({"type": "hand", "raised": true}).to_string(),
        ))
        .await
        .ok();
    let mut room_ok = false;
    while let Some(msg) = next_json(&mut host_ws, Duration::from_secs(3)).await {
        if msg["type"] == "hand" {
            room_ok = true;
            break;
        }
    }
    rows.push(Row {
        attack: "flood of frames (ping, binary, text)",
        tried: format!("{sent} frames in {:.1} s", started.elapsed().as_secs_f64()),
        through: format!(
            "connection {}; room {}",
            if closed { "closed" } else { "still open" },
            if room_ok { "unharmed" } else { "HARMED" }
        ),
        goal: "connection closed, room unharmed".into(),
        ok: closed && room_ok,
    });
    rows
}

/// 200 instant meetings as fast as one account can ask.
async fn meeting_flood(base: &str) -> Row {
    let creator = person(base, "creator").await;
    let mut created = 0;
    let mut refused = 0;
    for _ in 0..4 {
        let batch = (0..50).map(|_| creator.post(base, "/meetings/instant", &[]));
        for res in futures_util::future::join_all(batch).await {
            match res.status().as_u16() {
                200 if res.headers().contains_key("hx-redirect") => created += 1,
                429 => refused += 1,
                _ => {}
            }
        }
    }
    Row {
        attack: "meeting creation flood, one account",
        tried: "200".into(),
        through: format!("{created} created, {refused} refused"),
        goal: "≤ 30 an hour (MEETING_CREATE_RATE_LIMIT)".into(),
        ok: created <= 30,
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(base), Some(pid), Some(data)) = (args.get(1), args.get(2), args.get(3)) else {
        eprintln!("usage: abuse <base-url> <server-pid> <data-dir>");
        std::process::exit(2);
    };
    let base = base.trim_end_matches('/');
    let pid: u32 = pid.parse().expect("a pid");
    let data = std::path::Path::new(data);
    let mut rows = vec![parallel_passwords(base).await, room_probing(base).await];
    rows.extend(early_slices(base, pid, data).await);
    rows.extend(sockets(base).await);
    rows.push(meeting_flood(base).await);
    println!("| attack | tried | got through | goal | |");
    println!("|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | {} |",
            r.attack,
            r.tried,
            r.through,
            r.goal,
            if r.ok { "held" } else { "FAILED" }
        );
    }
    if rows.iter().any(|r| !r.ok) {
        std::process::exit(1);
    }
}

//! Load for the mesh signalling server: many rooms of several participants, offers relayed
//! between them, relay latency and server memory per connection measured.
//!
//! ```sh
//! cargo run --release --example mesh_load -- http://127.0.0.1:8080 <server-pid> [rooms] [size] [seconds] [rate]
//! ```
//!
//! It signs up `size` accounts (or signs them in), has the first create `rooms` instant
//! meetings, connects every account to every room (rooms × size WebSockets), then in each
//! room has participant 0 send `rate` offers a second to participant 1 carrying a send
//! timestamp; participant 1 measures the relay latency. The server's RSS is read from
//! /proc/<pid>/status before and after connecting. Only talks to the address it is given.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const PASSWORD: &str = "mesh load password";

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

async fn account(base: &str, name: &str) -> String {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = [
        ("username", name),
        ("display_name", name),
        ("password", PASSWORD),
        ("confirm_password", PASSWORD),
    ];
    let res = client
        .post(format!("{base}/sign-up"))
        .header("Origin", base)
        .form(&form)
        .send()
        .await
        .expect("sign-up");
    if res.status() != 303 {
        let res = client
            .post(format!("{base}/sign-in"))
            .header("Origin", base)
            .form(&[("username", name), ("password", PASSWORD)])
            .send()
            .await
            .expect("sign-in");
        assert_eq!(res.status(), 303, "cannot sign in as {name}");
    }
    use reqwest::cookie::CookieStore;
    jar.cookies(&base.parse().unwrap())
        .and_then(|v| v.to_str().ok().map(str::to_owned))
        .expect("a session cookie")
}

async fn create_meeting(base: &str, cookie: &str) -> String {
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{base}/meetings/instant"))
        .header("Origin", base)
        .header("Cookie", cookie)
        .form(&[("description", "load")])
        .send()
        .await
        .expect("create meeting");
    let location = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("redirect to the meeting");
    location.trim_start_matches("/meeting/").to_owned()
}

type Sink = futures_util::stream::SplitSink<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    Message,
>;

/// Connects and joins; returns the sink, the peer id, and spawns a reader that records the
/// latency of offers it receives.
async fn connect(
    base: &str,
    meeting: &str,
    cookie: &str,
    epoch: Instant,
    latencies: Arc<Mutex<Vec<u64>>>,
) -> (Sink, String) {
    let url = format!(
        "{}/meeting/{meeting}/signal",
        base.replacen("http", "ws", 1)
    );
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Cookie", cookie.parse().unwrap());
    request
        .headers_mut()
        .insert("Origin", base.parse().unwrap());
    let (socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("websocket");
    let (mut sink, mut stream) = socket.split();
    sink.send(Message::text(
        json!({"type": "join", "audio": true, "video": true}).to_string(),
    ))
    .await
    .unwrap();
    let you = loop {
        match stream.next().await {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["type"] == "welcome" {
                    break v["you"].as_str().unwrap().to_owned();
                }
                if v["type"] == "error" {
                    panic!("join refused: {v}");
                }
            }
            Some(Ok(_)) => continue,
            other => panic!("connection ended before welcome: {other:?}"),
        }
    };
    tokio::spawn(async move {
        while let Some(Ok(frame)) = stream.next().await {
            if let Message::Text(t) = frame
                && t.contains("\"offer\"")
                && let Ok(v) = serde_json::from_str::<Value>(&t)
                && let Some(sent) = v["sdp"].as_str().and_then(|s| s.parse::<u64>().ok())
            {
                let now = epoch.elapsed().as_micros() as u64;
                latencies.lock().unwrap().push(now.saturating_sub(sent));
            }
        }
    });
    (sink, you)
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let base = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let pid: u32 = args
        .get(2)
        .and_then(|a| a.parse().ok())
        .expect("server pid");
    let rooms: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(200);
    let size: usize = args.get(4).and_then(|a| a.parse().ok()).unwrap_or(5);
    let seconds: u64 = args.get(5).and_then(|a| a.parse().ok()).unwrap_or(10);
    let rate: u64 = args.get(6).and_then(|a| a.parse().ok()).unwrap_or(2);

    let mut cookies = Vec::new();
    for i in 0..size {
        cookies.push(account(&base, &format!("load{i}")).await);
    }
    let mut meetings = Vec::new();
    for _ in 0..rooms {
        meetings.push(create_meeting(&base, &cookies[0]).await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = rss_kb(pid);

    let epoch = Instant::now();
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let mut senders = Vec::new();
    let started = Instant::now();
    for meeting in &meetings {
        let mut room = Vec::new();
        for cookie in &cookies {
            room.push(connect(&base, meeting, cookie, epoch, latencies.clone()).await);
        }
        senders.push(room);
    }
    let connect_time = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after = rss_kb(pid);
    let connections = rooms * size;

    // In every room, participant 0 sends offers to participant 1.
    // Rooms start at staggered moments, as real calls do, instead of all in the same tick.
    let sent_total = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    for (i, room) in senders.iter_mut().enumerate() {
        let (mut sink, _) = room.remove(0);
        let to = room[0].1.clone();
        let sent_total = sent_total.clone();
        let offset = Duration::from_micros(1_000_000 / rate * i as u64 / rooms as u64);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(offset).await;
            let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
            let end = Instant::now() + Duration::from_secs(seconds);
            while Instant::now() < end {
                tick.tick().await;
                let sent = epoch.elapsed().as_micros() as u64;
                let msg = json!({"type": "offer", "to": to, "sdp": sent.to_string()});
                if sink.send(Message::text(msg.to_string())).await.is_err() {
                    break;
                }
                sent_total.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            sink
        }));
    }
    let mut kept = Vec::new();
    for t in tasks {
        kept.push(t.await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut lat = latencies.lock().unwrap().clone();
    lat.sort_unstable();
    let expected = sent_total.load(std::sync::atomic::Ordering::Relaxed);
    println!("| measure | value |");
    println!("|---|---|");
    println!("| connections | {connections} ({rooms} rooms × {size}) |");
    println!(
        "| time to connect and join all | {:.1} s |",
        connect_time.as_secs_f64()
    );
    println!(
        "| server RSS before / after | {:.1} MB / {:.1} MB |",
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0
    );
    println!(
        "| server memory per connection | {:.1} KB |",
        rss_after.saturating_sub(rss_before) as f64 / connections as f64
    );
    println!("| offers relayed (sent) | {} ({expected}) |", lat.len());
    println!(
        "| relay latency p50 / p99 / max | {:.2} / {:.2} / {:.2} ms |",
        percentile(&lat, 0.50),
        percentile(&lat, 0.99),
        lat.last().copied().unwrap_or(0) as f64 / 1000.0
    );
    drop(kept);
    drop(senders);
}

//! Load benchmark for the built-in media server (SFU), without browsers.
//!
//! ```sh
//! cargo run --release --example sfu_load                 # both scenarios, 8 s warm-up, 10 s measured
//! cargo run --release --example sfu_load -- 1to50 20     # one scenario, 20 s measured
//! ```
//!
//! The server (the real `Sfu` and one room's real engine) runs as a child process of this one
//! (`--serve`), so its CPU time and memory are read from /proc for it alone; this process runs
//! the synthetic participants (str0m peer connections, one UDP socket each, see `client.rs`)
//! over loopback. Scenarios:
//!
//! - `25`: a 25-person meeting, 5 of them publishing 720p simulcast and a microphone, everyone
//!   watching in speaker view (the first publisher in the spotlight, the others as thumbnails).
//! - `1to50`: one publisher in the spotlight of 50 subscribers.
//!
//! Reported: what the server forwarded (Mbit/s on the wire, media packets/s received by the
//! participants), the server's CPU seconds per forwarded Gbit and the Mbit/s one core of it
//! forwards, its memory per participant, and the forwarding delay p50/p99: from a packet's
//! arrival on the server's socket to each forwarded copy's hand-over to the kernel, measured
//! by the server. On stderr, the same delay seen from outside (publisher's write to the
//! subscriber's read, see `client.rs`), which also counts this process's own scheduling.
//! Both processes share this machine's cores.

mod client;
mod server;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};
use tokio::sync::{oneshot, watch};

use client::{Participant, Stats};

const WARM_UP: Duration = Duration::from_secs(8);
const DEFAULT_MEASURE: Duration = Duration::from_secs(10);
const SPOTLIGHT: u32 = 720;
const THUMBNAIL: u32 = 135;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--serve") {
        return server::serve();
    }
    let measure = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_MEASURE);
    let scenarios: Vec<&str> = match args.first().map(String::as_str) {
        Some(one) => vec![one],
        None => vec!["25", "1to50"],
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    println!(
        "| scenario | forwarded | media packets/s | server CPU | CPU s per Gbit | Mbit/s per core | memory per participant | delay p50 / p99 |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for name in scenarios {
        let people = scenario(name)?;
        let row = runtime.block_on(run(name, people, measure))?;
        println!("{row}");
    }
    Ok(())
}

/// The participants of a scenario.
fn scenario(name: &str) -> anyhow::Result<Vec<Participant>> {
    let (total, publishers) = match name {
        "25" => (25, 5),
        other => match other
            .strip_prefix("1to")
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(n) if n >= 1 => (n + 1, 1),
            _ => anyhow::bail!("unknown scenario {other} (25, or 1toN such as 1to50)"),
        },
    };
    let id = |i: usize| format!("p{i}");
    Ok((0..total)
        .map(|i| {
            let tiles: Vec<(String, u32)> = (0..publishers)
                .filter(|&p| p != i)
                .map(|p| {
                    (
                        id(p),
                        if p == 0 || (i == 0 && p == 1) {
                            SPOTLIGHT
                        } else {
                            THUMBNAIL
                        },
                    )
                })
                .collect();
            Participant {
                id: id(i),
                publish: i < publishers,
                video_slots: tiles.len().max(1).div_ceil(4) * 4,
                tiles,
            }
        })
        .collect())
}

/// The child server's signalling: JSON lines in, answers matched back to their offers.
pub struct Signalling {
    stdin: Mutex<ChildStdin>,
    answers: Mutex<HashMap<String, oneshot::Sender<String>>>,
    stats: Mutex<Option<oneshot::Sender<Value>>>,
}

impl Signalling {
    fn say(&self, value: Value) {
        let mut stdin = self.stdin.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(stdin, "{value}");
        let _ = stdin.flush();
    }

    pub async fn offer(&self, id: &str, publish: bool, sdp: &str) -> anyhow::Result<String> {
        let (tx, rx) = oneshot::channel();
        self.answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_owned(), tx);
        self.say(json!({ "do": "add", "id": id, "publish": publish }));
        self.say(json!({ "do": "offer", "id": id, "sdp": sdp }));
        tokio::time::timeout(Duration::from_secs(10), rx)
            .await
            .context("no answer in 10 s")?
            .context("the server went away")
    }

    pub fn layout(&self, id: &str, tiles: &[(String, u32)]) {
        let tiles: Vec<Value> = tiles
            .iter()
            .map(|(peer, h)| json!({ "id": peer, "height": h }))
            .collect();
        self.say(json!({ "do": "layout", "id": id, "tiles": tiles }));
    }

    /// The server's counters; `reset` starts its delay measurement afresh.
    async fn counters(&self, reset: bool) -> anyhow::Result<Value> {
        let (tx, rx) = oneshot::channel();
        *self.stats.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
        self.say(json!({ "do": "stats", "reset": reset }));
        Ok(tokio::time::timeout(Duration::from_secs(5), rx).await??)
    }
}

fn spawn_server() -> anyhow::Result<(Child, Arc<Signalling>)> {
    let mut child = Command::new(std::env::current_exe()?)
        .arg("--serve")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("starting the server process")?;
    let stdin = child.stdin.take().context("no stdin")?;
    let mut stdout = BufReader::new(child.stdout.take().context("no stdout")?);
    let mut first = String::new();
    stdout.read_line(&mut first)?;
    let ready: Value = serde_json::from_str(&first).context("server did not start")?;
    if ready.get("ready").is_none() {
        anyhow::bail!("server did not start: {first}");
    }
    let signalling = Arc::new(Signalling {
        stdin: Mutex::new(stdin),
        answers: Mutex::new(HashMap::new()),
        stats: Mutex::new(None),
    });
    let reader = signalling.clone();
    std::thread::spawn(move || {
        for line in stdout.lines() {
            let Ok(line) = line else { break };
            let Ok(v) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if let Some(id) = v["answer"].as_str() {
                let waiting = reader
                    .answers
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(id);
                if let Some(tx) = waiting {
                    let _ = tx.send(v["sdp"].as_str().unwrap_or_default().to_owned());
                }
            } else if v.get("stats").is_some() {
                let waiting = reader
                    .stats
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take();
                if let Some(tx) = waiting {
                    let _ = tx.send(v["stats"].clone());
                }
            } else if v.get("error").is_some() {
                eprintln!("server refused an offer: {v}");
            }
        }
    });
    Ok((child, signalling))
}

/// CPU seconds (user + system) a process used so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after ") ".
    let after = stat.rsplit_once(") ").map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 here.
    // SAFETY: sysconf only reads a system constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    (ticks(11) + ticks(12)) / hz
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

async fn run(name: &str, people: Vec<Participant>, measure: Duration) -> anyhow::Result<String> {
    let (mut child, signalling) = spawn_server()?;
    let pid = child.id();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_before = rss_kib(pid);
    let stats = Arc::new(Stats::new());
    let (stop_tx, stop) = watch::channel(false);
    let count = people.len();
    let mut tasks = Vec::new();
    for who in people {
        let (signalling, stats, stop) = (signalling.clone(), stats.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let id = who.id.clone();
            if let Err(e) = client::run(who, signalling, stats, stop).await {
                eprintln!("participant {id}: {e:#}");
            }
        }));
        // Joins a few milliseconds apart, as people do.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(WARM_UP).await;
    let connected = stats.connected.load(Ordering::Relaxed);
    let rss_after = rss_kib(pid);
    stats.reset();
    let before = signalling.counters(true).await?;
    let cpu_before = cpu_seconds(pid);
    let started = Instant::now();
    tokio::time::sleep(measure).await;
    let cpu = cpu_seconds(pid) - cpu_before;
    let after = signalling.counters(false).await?;
    let seconds = started.elapsed().as_secs_f64();
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    let _ = child.kill();
    let _ = child.wait();

    let delta = |k: &str| after[k].as_u64().unwrap_or(0) - before[k].as_u64().unwrap_or(0);
    let mbps = delta("sent_bytes") as f64 * 8.0 / seconds / 1e6;
    let pps = stats.media_packets.load(Ordering::Relaxed) as f64 / seconds;
    let cpu_share = cpu / seconds;
    let per_gbit = cpu / (delta("sent_bytes") as f64 * 8.0 / 1e9);
    let per_core = mbps / cpu_share.max(1e-9);
    let memory = rss_after.saturating_sub(rss_before) as f64 / count as f64;
    let ms = |k: &str| after[k].as_u64().unwrap_or(0) as f64 / 1000.0;
    let (p50, p99) = (ms("delay_p50_us"), ms("delay_p99_us"));
    // The same, seen from outside: publisher's write to subscriber's socket read, in this
    // process (so it also counts this process's own scheduling on the shared cores).
    let e2e = |q| stats.delay_quantile(q).unwrap_or(0) as f64 / 1000.0;
    eprintln!(
        "{name}: {connected}/{count} connected; server sent {} packets ({} dropped sending, {} dropped queueing, {} over a publisher's budget); video slots by layer q/h/f {}; median estimate {} bit/s; {} copies forwarded; publisher to subscriber through loopback p50 {:.2} ms, p99 {:.2} ms",
        delta("sent"),
        delta("dropped_send"),
        delta("dropped_room_full"),
        delta("over_budget"),
        after["layers"],
        after["median_estimate"],
        after["forwarded"],
        e2e(0.5),
        e2e(0.99),
    );
    Ok(format!(
        "| {name} ({count} people) | {mbps:.1} Mbit/s | {pps:.0} | {:.0} % of a core | {per_gbit:.2} | {per_core:.0} | {memory:.0} KiB | {p50:.2} / {p99:.2} ms |",
        cpu_share * 100.0
    ))
}

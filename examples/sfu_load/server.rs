//! The server side of the load benchmark, run as its own process (`sfu_load --serve`) so its
//! CPU time and memory are its own: the real media server (`Sfu`: UDP socket, media I/O
//! thread) and one room's real engine, driven by one task as a meeting room drives it.
//! Signalling is JSON lines on stdin and stdout instead of the meeting WebSocket.

use std::io::{BufRead, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::Ordering;

use serde_json::{Value, json};
use tokio::sync::mpsc;
use yoom::config::SfuSettings;
use yoom::video::mesh::protocol::ServerMessage;
use yoom::video::sfu::Sfu;
use yoom::video::sfu::engine::{MediaState, RoomEngine, Tile};

fn say(value: Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{value}");
    let _ = out.flush();
}

pub fn serve() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let settings = SfuSettings {
            udp_port: Some(0),
            tcp_port: None,
            public_ip: Some(loopback),
            max_participants: 200,
        };
        let sfu = Sfu::start(&settings, loopback)?;
        let Some(udp) = sfu.transport.udp_public else {
            anyhow::bail!("no UDP socket");
        };
        let mut engine = RoomEngine::new(sfu.clone());
        let (lines_tx, mut lines) = mpsc::channel::<String>(1024);
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if lines_tx.blocking_send(line).is_err() {
                    break;
                }
            }
        });
        say(json!({ "ready": udp.port() }));
        loop {
            tokio::select! {
                line = lines.recv() => {
                    let Some(line) = line else { break };
                    let Ok(command) = serde_json::from_str::<Value>(&line) else { continue };
                    let id = command["id"].as_str().unwrap_or_default().to_owned();
                    match command["do"].as_str() {
                        Some("add") => engine.add_peer(&id, MediaState {
                            audio: command["publish"].as_bool().unwrap_or(false),
                            video: command["publish"].as_bool().unwrap_or(false),
                            screen: false,
                        }),
                        Some("offer") => {
                            let effects = engine.offer(&id, command["sdp"].as_str().unwrap_or_default());
                            for (to, message) in effects.messages {
                                match message {
                                    ServerMessage::SfuAnswer { sdp } => say(json!({ "answer": to, "sdp": sdp })),
                                    ServerMessage::Error { message, .. } => say(json!({ "error": to, "message": message })),
                                    _ => {}
                                }
                            }
                        }
                        Some("layout") => {
                            let tiles = command["tiles"].as_array().map(|tiles| tiles.iter().map(|t| Tile {
                                peer: t["id"].as_str().unwrap_or_default().to_owned(),
                                height: t["height"].as_u64().unwrap_or(0) as u32,
                            }).collect()).unwrap_or_default();
                            engine.layout(&id, tiles);
                        }
                        Some("stats") => {
                            let c = &sfu.transport.counters;
                            let summary = engine.summary();
                            let median = summary.estimates.get(summary.estimates.len() / 2).copied();
                            say(json!({ "stats": {
                                "received": c.received.load(Ordering::Relaxed),
                                "sent": c.sent.load(Ordering::Relaxed),
                                "sent_bytes": c.sent_bytes.load(Ordering::Relaxed),
                                "dropped_room_full": c.dropped_room_full.load(Ordering::Relaxed),
                                "over_budget": c.over_budget.load(Ordering::Relaxed),
                                "dropped_send": c.dropped_send.load(Ordering::Relaxed),
                                "peers": engine.peer_count(),
                                "layers": summary.video_slots_by_layer,
                                "median_estimate": median,
                                "forwarded": summary.forwarded,
                                "delay_p50_us": summary.delay_p50.map(|d| d.as_micros() as u64),
                                "delay_p99_us": summary.delay_p99.map(|d| d.as_micros() as u64),
                            }}));
                            if command["reset"].as_bool() == Some(true) {
                                engine.reset_delays();
                            }
                        }
                        _ => break,
                    }
                }
                wake = engine.wake() => {
                    let effects = engine.handle(wake);
                    for gone in effects.gone {
                        eprintln!("server: peer {gone} failed");
                    }
                }
            }
        }
        sfu.stop();
        Ok(())
    })
}

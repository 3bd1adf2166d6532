//! A synthetic participant: a str0m peer connection on its own UDP socket that offers like the
//! meeting page does (microphone and a three-layer simulcast camera when it publishes, three
//! audio and some video slots to receive into), sends 720p-sized simulcast at 30 frames a
//! second and Opus-sized audio at 50 packets a second, answers keyframe requests, and measures
//! what it receives.
//!
//! Every packet carries the time it was written (nanoseconds since the benchmark started)
//! behind the VP8 payload descriptor, which the server forwards untouched; the receiver takes
//! the time its socket read the packet, so a packet's delay covers the sender's encryption,
//! two loopback hops and everything the server does with it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use str0m::change::SdpAnswer;
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, Mid, Pt, Rid, Simulcast, SimulcastLayer};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{ExtensionValues, RtpWrite};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};
use tokio::net::UdpSocket;
use tokio::sync::watch;

use crate::Signalling;

/// Layers as the page sends them: rid, bits per second.
const LAYERS: [(&str, u64); 3] = [("q", 150_000), ("h", 500_000), ("f", 1_500_000)];
const FRAME: Duration = Duration::from_micros(33_333);
const AUDIO: Duration = Duration::from_millis(20);
const AUDIO_PAYLOAD: usize = 160;
const PACKET: usize = 1_100;
const KEYFRAME_EVERY: Duration = Duration::from_secs(3);
/// A mark before the send time in each payload.
const MAGIC: u8 = 0xA5;
/// Where the send time sits: behind the 4-byte VP8 descriptor and the VP8 header byte.
const VIDEO_STAMP_AT: usize = 5;

/// What every participant adds up, shared.
pub struct Stats {
    pub start: Instant,
    pub media_packets: AtomicU64,
    pub media_bytes: AtomicU64,
    pub video_packets: AtomicU64,
    /// Packet delays in 10 µs buckets, up to one second.
    pub delays: Vec<AtomicU64>,
    pub connected: AtomicU64,
}

pub const DELAY_BUCKET_US: u64 = 10;

impl Stats {
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
            media_packets: AtomicU64::new(0),
            media_bytes: AtomicU64::new(0),
            video_packets: AtomicU64::new(0),
            delays: (0..100_000).map(|_| AtomicU64::new(0)).collect(),
            connected: AtomicU64::new(0),
        }
    }

    fn record(&self, sent_nanos: u64, received: Instant) {
        let sent = self.start + Duration::from_nanos(sent_nanos);
        let us = received.saturating_duration_since(sent).as_micros() as u64;
        let bucket = ((us / DELAY_BUCKET_US) as usize).min(self.delays.len() - 1);
        self.delays[bucket].fetch_add(1, Ordering::Relaxed);
    }

    /// Forgets what was counted (after the warm-up).
    pub fn reset(&self) {
        self.media_packets.store(0, Ordering::Relaxed);
        self.media_bytes.store(0, Ordering::Relaxed);
        self.video_packets.store(0, Ordering::Relaxed);
        for d in &self.delays {
            d.store(0, Ordering::Relaxed);
        }
    }

    /// The delay (µs) under which `q` of the packets arrived.
    pub fn delay_quantile(&self, q: f64) -> Option<u64> {
        let counts: Vec<u64> = self
            .delays
            .iter()
            .map(|d| d.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let want = (total as f64 * q).ceil() as u64;
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= want {
                return Some((i as u64 + 1) * DELAY_BUCKET_US);
            }
        }
        None
    }
}

/// One participant of a scenario.
pub struct Participant {
    pub id: String,
    pub publish: bool,
    pub video_slots: usize,
    /// The tiles its page would show: (peer id, height in device pixels).
    pub tiles: Vec<(String, u32)>,
}

struct Layer {
    rid: Rid,
    bytes_per_frame: usize,
    seq: u64,
    keyframe_due: bool,
}

struct Publishing {
    audio: Mid,
    video: Mid,
    audio_pt: Pt,
    video_pt: Pt,
    layers: Vec<Layer>,
    audio_seq: u64,
    picture_id: u16,
    next_frame: Instant,
    next_audio: Instant,
    last_keyframe: Instant,
    time: u32,
    audio_time: u32,
}

pub async fn run(
    who: Participant,
    signalling: Arc<Signalling>,
    stats: Arc<Stats>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let socket = UdpSocket::bind("127.0.0.1:0").await?;
    let local = socket.local_addr()?;
    let mut rtc = RtcConfig::new()
        .set_rtp_mode(true)
        .clear_codecs()
        .enable_opus(true, false)
        .enable_vp8(true)
        .build(Instant::now());
    rtc.add_local_candidate(Candidate::host(local, "udp")?);
    let mut api = rtc.sdp_api();
    let sending = who.publish.then(|| {
        let audio = api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
        let mut simulcast = Simulcast::new();
        for (rid, _) in LAYERS {
            simulcast.add_send_layer(SimulcastLayer::new(rid));
        }
        let video = api.add_media(
            MediaKind::Video,
            Direction::SendOnly,
            None,
            None,
            Some(simulcast),
        );
        (audio, video)
    });
    for _ in 0..3 {
        api.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
    }
    let mut video_slots = Vec::new();
    for _ in 0..who.video_slots {
        video_slots.push(api.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None));
    }
    let Some((offer, pending)) = api.apply() else {
        anyhow::bail!("nothing to offer");
    };
    let answer = signalling
        .offer(&who.id, who.publish, &offer.to_sdp_string())
        .await?;
    rtc.sdp_api()
        .accept_answer(pending, SdpAnswer::from_sdp_string(&answer)?)?;
    signalling.layout(&who.id, &who.tiles);

    let now = Instant::now();
    let mut publishing = match sending {
        Some((audio, video)) => Some(Publishing {
            audio,
            video,
            audio_pt: pt_for(&rtc, audio, Codec::Opus)?,
            video_pt: pt_for(&rtc, video, Codec::Vp8)?,
            layers: LAYERS
                .iter()
                .map(|(rid, bps)| Layer {
                    rid: Rid::from(*rid),
                    bytes_per_frame: (*bps / 8 / 30) as usize,
                    seq: 1,
                    keyframe_due: true,
                })
                .collect(),
            audio_seq: 1,
            picture_id: 1,
            next_frame: now,
            next_audio: now,
            last_keyframe: now,
            time: 0,
            audio_time: 0,
        }),
        None => None,
    };
    let mut connected = false;
    let mut buf = vec![0u8; 2048];
    let mut out = Outputs::default();
    let mut timeout = drain(&mut rtc, &mut out)?;
    loop {
        for (destination, contents) in out.transmits.drain(..) {
            let _ = socket.send_to(&contents, destination).await;
        }
        for event in out.events.drain(..) {
            match event {
                Event::Connected => {
                    connected = true;
                    stats.connected.fetch_add(1, Ordering::Relaxed);
                }
                Event::RtpPacket(packet) => {
                    let video = video_slots.contains(&packet_mid(&mut rtc, &packet));
                    let at = if video { VIDEO_STAMP_AT } else { 0 };
                    if let Some(stamp) = packet.payload.get(at..at + 9)
                        && stamp[0] == MAGIC
                    {
                        let mut nanos = [0u8; 8];
                        nanos.copy_from_slice(&stamp[1..9]);
                        stats.record(u64::from_be_bytes(nanos), packet.timestamp);
                    }
                    stats.media_packets.fetch_add(1, Ordering::Relaxed);
                    stats
                        .media_bytes
                        .fetch_add(packet.payload.len() as u64, Ordering::Relaxed);
                    if video {
                        stats.video_packets.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Event::KeyframeRequest(request) => {
                    if let Some(p) = publishing.as_mut() {
                        for layer in &mut p.layers {
                            if request.rid.is_none() || request.rid == Some(layer.rid) {
                                layer.keyframe_due = true;
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        let mut wake = timeout;
        if let Some(p) = &publishing
            && connected
        {
            wake = wake.min(p.next_frame).min(p.next_audio);
        }
        let input = tokio::select! {
            read = socket.recv_from(&mut buf) => {
                let (n, source) = read?;
                Some((n, source, Instant::now()))
            }
            _ = tokio::time::sleep_until(wake.into()) => None,
            _ = stop.changed() => return Ok(()),
        };
        match input {
            Some((n, source, received)) => {
                if let Ok(receive) = Receive::new(Protocol::Udp, source, local, &buf[..n]) {
                    rtc.handle_input(Input::Receive(received, receive))?;
                    timeout = drain(&mut rtc, &mut out)?;
                }
            }
            None => {
                let now = Instant::now();
                if let Some(p) = publishing.as_mut()
                    && connected
                {
                    send_due(&mut rtc, p, &stats, now, &mut out)?;
                }
                rtc.handle_input(Input::Timeout(now))?;
                timeout = drain(&mut rtc, &mut out)?;
            }
        }
    }
}

/// What a drain produced, handled after it.
#[derive(Default)]
struct Outputs {
    transmits: Vec<(SocketAddr, Vec<u8>)>,
    events: Vec<Event>,
}

/// Polls the peer connection to its next timeout (str0m's rule after every mutation).
fn drain(rtc: &mut Rtc, out: &mut Outputs) -> anyhow::Result<Instant> {
    loop {
        match rtc.poll_output()? {
            Output::Timeout(t) => return Ok(t),
            Output::Transmit(t) => out.transmits.push((t.destination, t.contents.to_vec())),
            Output::Event(e) => out.events.push(e),
        }
    }
}

fn packet_mid(rtc: &mut Rtc, packet: &str0m::rtp::RtpPacket) -> Mid {
    let mut direct = rtc.direct_api();
    direct
        .stream_rx(&packet.header.ssrc)
        .map(|s| s.mid())
        .unwrap_or_else(|| Mid::from("?"))
}

fn pt_for(rtc: &Rtc, mid: Mid, codec: Codec) -> anyhow::Result<Pt> {
    let media = rtc
        .media(mid)
        .ok_or_else(|| anyhow::anyhow!("no media {mid}"))?;
    rtc.codec_config()
        .params()
        .iter()
        .find(|p| p.spec().codec == codec && media.remote_pts().contains(&p.pt()))
        .map(|p| p.pt())
        .ok_or_else(|| anyhow::anyhow!("no {codec:?} on {mid}"))
}

/// Writes the audio packet and the video frames that are due, draining after each write.
fn send_due(
    rtc: &mut Rtc,
    p: &mut Publishing,
    stats: &Stats,
    now: Instant,
    out: &mut Outputs,
) -> anyhow::Result<()> {
    let stamp = |at: Instant| {
        let mut s = vec![MAGIC];
        s.extend_from_slice(&(at.duration_since(stats.start).as_nanos() as u64).to_be_bytes());
        s
    };
    if now >= p.next_audio {
        p.next_audio += AUDIO;
        p.audio_time = p.audio_time.wrapping_add(960);
        let mut payload = stamp(now);
        payload.resize(AUDIO_PAYLOAD, 0x11);
        let ext = ExtensionValues {
            audio_level: Some(-30),
            voice_activity: Some(true),
            ..Default::default()
        };
        let seq = p.audio_seq;
        p.audio_seq += 1;
        if let Some(tx) = rtc.direct_api().stream_tx_by_mid(p.audio, None) {
            tx.write_rtp(
                RtpWrite::new(p.audio_pt, seq.into(), p.audio_time, now, payload).ext_vals(ext),
            );
        }
        drain(rtc, out)?;
    }
    if now >= p.next_frame {
        p.next_frame += FRAME;
        p.time = p.time.wrapping_add(3000);
        p.picture_id = (p.picture_id + 1) & 0x7fff;
        let periodic = now.duration_since(p.last_keyframe) >= KEYFRAME_EVERY;
        if periodic {
            p.last_keyframe = now;
        }
        for layer in &mut p.layers {
            let key = layer.keyframe_due || periodic;
            layer.keyframe_due = false;
            let size = if key {
                layer.bytes_per_frame * 4
            } else {
                layer.bytes_per_frame
            };
            let packets = size.div_ceil(PACKET).max(1);
            for i in 0..packets {
                // VP8 descriptor: X, S on the first packet, PID 0; I; 15-bit picture id.
                let mut payload = vec![
                    if i == 0 { 0x90 } else { 0x80 },
                    0x80,
                    0x80 | (p.picture_id >> 8) as u8,
                    p.picture_id as u8,
                    // VP8 payload header: P = 0 is a keyframe.
                    if key { 0x00 } else { 0x01 },
                ];
                payload.extend(stamp(now));
                payload.resize(PACKET.min(size / packets + 16), 0x22);
                let seq = layer.seq;
                layer.seq += 1;
                if let Some(tx) = rtc.direct_api().stream_tx_by_mid(p.video, Some(layer.rid)) {
                    tx.write_rtp(
                        RtpWrite::new(p.video_pt, seq.into(), p.time, now, payload)
                            .marker(i + 1 == packets)
                            .nackable(true),
                    );
                }
                drain(rtc, out)?;
            }
        }
    }
    Ok(())
}

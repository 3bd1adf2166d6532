//! One browser's connection as the room's engine holds it: its `Rtc` (ICE, DTLS, SRTP, RTCP,
//! bandwidth estimate), what it publishes and the slots it receives into.
//!
//! The `Rtc` is private to this module: every call into it goes through [`Peer::mutate`]
//! (which then drains its output to the next timeout) or [`Peer::inspect`], both inside
//! `catch_unwind`: str0m panics on its own internal bugs, and such a panic must end this peer
//! only. A panic or error marks the peer broken, and the engine drops it. Events are queued
//! for the engine, which acts on them after the drain.

use std::collections::{HashMap, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use str0m::format::Codec;
use str0m::media::{Direction, MediaAdded, MediaKind, Mid, Rid};
use str0m::rtp::Ssrc;
use str0m::{Event, Output, Rtc};

use super::forward::Slot;
use super::layers::{NOMINAL_BITRATES, Rank, rank_of};
use crate::video::sfu::transport::{Outbox, Transport};

/// Index of a peer in its room's engine.
pub type PeerIdx = usize;

/// Where a slot's packets come from: a publisher, its media line, its simulcast layer.
pub type SourceKey = (PeerIdx, Mid, Option<Rid>);

/// What drains produce: events for the engine to handle (peer, event), and UDP datagrams to
/// send together (see `transport::Outbox`).
#[derive(Default)]
pub struct Work {
    pub events: VecDeque<(PeerIdx, Event)>,
    pub outbox: Outbox,
}

/// A str0m panic or error ended this peer.
#[derive(Debug)]
pub struct Broken;

/// The keyframe requests of one layer a publisher sends.
#[derive(Debug, Clone, Copy)]
pub struct KeyframeAsk {
    /// When the last request went out.
    pub sent: Instant,
    /// One was asked for that must not be dropped (a subscriber just connected) while the
    /// throttle held it back: it goes out when the throttle opens.
    pub owed: bool,
}

/// What a peer says it sends (the page's mic, camera and screen buttons).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaState {
    pub audio: bool,
    pub video: bool,
    pub screen: bool,
}

/// A visible tile on a subscriber's page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tile {
    pub peer: String,
    pub height: u32,
}

/// One simulcast layer of a publisher's camera, as received.
#[derive(Debug, Clone, Copy, Default)]
pub struct LayerStat {
    pub rid: Option<Rid>,
    pub last_packet: Option<Instant>,
    /// Bytes in the current measuring window, and the rate measured over the last one.
    pub bytes: u64,
    pub bitrate: Option<u64>,
    pub paused: bool,
}

/// One receiving media line of a subscriber and what it shows.
#[derive(Debug)]
pub struct OutSlot {
    pub mid: Mid,
    pub slot: Slot<SourceKey>,
    /// The publisher the page was last told this slot shows.
    pub shown: Option<PeerIdx>,
}

pub struct Peer {
    pub id: String,
    /// Its name in the transport's routing tables.
    pub token: u64,
    /// Its connection, from its first offer on. Reached only through [`Peer::mutate`] and
    /// [`Peer::inspect`].
    rtc: Option<Rtc>,
    pub ufrag: Option<String>,
    pub next_timeout: Option<Instant>,
    pub connected: bool,
    /// When a packet from this peer last arrived (its liveness).
    pub last_heard: Instant,
    /// Whether any packet arrived yet.
    pub heard: bool,
    pub state: MediaState,
    /// What it publishes: its first sending audio and video lines.
    pub audio_in: Option<Mid>,
    pub video_in: Option<Mid>,
    /// Camera layers by rank (`q`, `h`, `f`).
    pub layers: [LayerStat; 3],
    pub streams: HashMap<Ssrc, (Mid, Option<Rid>)>,
    /// Keyframe requests per layer of what it publishes (see `RoomEngine::request_keyframe`).
    pub keyframe_asked: HashMap<(Mid, Option<Rid>), KeyframeAsk>,
    /// Keyframe requests made of it so far, all layers (one for a layer that has not arrived
    /// yet goes nowhere).
    pub keyframe_requests: u64,
    /// What it receives into.
    pub audio_slots: Vec<OutSlot>,
    pub video_slots: Vec<OutSlot>,
    /// Its page's visible tiles, biggest first; `None` until it says.
    pub layout: Option<Vec<Tile>>,
    /// Egress bandwidth estimate towards it, bits per second.
    pub estimate: Option<u64>,
    /// What its estimator was last told to probe for.
    pub desired: u64,
    pub audio_pt: Option<str0m::media::Pt>,
    pub video_pt: Option<str0m::media::Pt>,
    pub broken: bool,
    /// Tests make the call into the `Rtc` with this name panic, as a str0m bug would.
    #[cfg(test)]
    pub panic_in: Option<&'static str>,
}

impl Peer {
    pub fn new(id: String, token: u64, now: Instant) -> Self {
        Self {
            id,
            token,
            rtc: None,
            ufrag: None,
            next_timeout: None,
            connected: false,
            last_heard: now,
            heard: false,
            state: MediaState::default(),
            audio_in: None,
            video_in: None,
            layers: Default::default(),
            streams: HashMap::new(),
            keyframe_asked: HashMap::new(),
            keyframe_requests: 0,
            audio_slots: Vec::new(),
            video_slots: Vec::new(),
            layout: None,
            estimate: None,
            desired: 0,
            audio_pt: None,
            video_pt: None,
            broken: false,
            #[cfg(test)]
            panic_in: None,
        }
    }

    /// Whether it has a connection yet (it has offered).
    pub fn has_rtc(&self) -> bool {
        self.rtc.is_some()
    }

    /// Gives it its connection (at its first offer).
    pub fn set_rtc(&mut self, rtc: Rtc) {
        self.rtc = Some(rtc);
    }

    /// Runs `change` on the `Rtc`, then drains it: UDP packets into `work`'s outbox (the
    /// engine flushes it), TCP ones out through `transport`, events into `work`. A panic or
    /// error marks the peer broken. `call` names the call (for the log).
    pub fn mutate<R>(
        &mut self,
        call: &'static str,
        me: PeerIdx,
        transport: &Transport,
        work: &mut Work,
        change: impl FnOnce(&mut Rtc) -> Result<R, str0m::RtcError>,
    ) -> Result<R, Broken> {
        let (value, timeout) = self.isolated(call, |rtc| {
            let value = change(rtc)?;
            let timeout = drain(rtc, me, transport, work)?;
            Ok((value, timeout))
        })?;
        self.next_timeout = timeout;
        Ok(value)
    }

    /// Runs `look` on the `Rtc` with no drain after it, for calls that only read or look
    /// something up (they queue no output). A panic marks the peer broken.
    pub fn inspect<R>(
        &mut self,
        call: &'static str,
        look: impl FnOnce(&mut Rtc) -> R,
    ) -> Result<R, Broken> {
        self.isolated(call, |rtc| Ok(look(rtc)))
    }

    /// The one way into the `Rtc`: `f` runs inside `catch_unwind`; a panic or error marks the
    /// peer broken. A broken peer, or one with no connection yet, is not called.
    fn isolated<R>(
        &mut self,
        call: &'static str,
        f: impl FnOnce(&mut Rtc) -> Result<R, str0m::RtcError>,
    ) -> Result<R, Broken> {
        if self.broken {
            return Err(Broken);
        }
        let Some(rtc) = self.rtc.as_mut() else {
            return Err(Broken);
        };
        #[cfg(test)]
        let panic_in = self.panic_in;
        let result = catch_unwind(AssertUnwindSafe(|| {
            #[cfg(test)]
            if panic_in == Some(call) {
                panic!("a bug inside the WebRTC stack ({call})");
            }
            f(rtc)
        }));
        match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => {
                tracing::debug!(peer = %self.id, call, error = %e, "media connection failed");
                self.broken = true;
                Err(Broken)
            }
            Err(_) => {
                tracing::error!(peer = %self.id, call, "media engine panicked; ending this peer");
                self.broken = true;
                Err(Broken)
            }
        }
    }

    /// Takes note of a media line the browser's offer added.
    pub fn media_added(&mut self, added: &MediaAdded) {
        let known = |slots: &[OutSlot]| slots.iter().any(|s| s.mid == added.mid);
        if known(&self.audio_slots) || known(&self.video_slots) {
            return;
        }
        // Directions are ours: the browser's sendonly is our recvonly.
        match (added.direction, added.kind) {
            (Direction::RecvOnly | Direction::SendRecv, MediaKind::Audio)
                if self.audio_in.is_none() =>
            {
                self.audio_in = Some(added.mid);
            }
            (Direction::RecvOnly | Direction::SendRecv, MediaKind::Video)
                if self.video_in.is_none() =>
            {
                self.video_in = Some(added.mid);
                let rids: Vec<Rid> = added
                    .simulcast
                    .as_ref()
                    .map(|s| s.recv.iter().map(|l| l.rid).collect())
                    .unwrap_or_default();
                if rids.is_empty() {
                    self.layers[2].rid = None;
                }
                for rid in rids {
                    self.layers[rank_of(Some(&rid))].rid = Some(rid);
                }
            }
            (Direction::SendOnly, MediaKind::Audio) => self.audio_slots.push(OutSlot {
                mid: added.mid,
                slot: Slot::new(48_000),
                shown: None,
            }),
            (Direction::SendOnly, MediaKind::Video) => self.video_slots.push(OutSlot {
                mid: added.mid,
                slot: Slot::new(90_000),
                shown: None,
            }),
            _ => {}
        }
    }

    /// The media line and layer an incoming SSRC belongs to.
    pub fn stream_of(&mut self, ssrc: Ssrc) -> Result<Option<(Mid, Option<Rid>)>, Broken> {
        if let Some(known) = self.streams.get(&ssrc) {
            return Ok(Some(*known));
        }
        let found = self.inspect("stream_rx", |rtc| {
            let mut direct = rtc.direct_api();
            let stream = direct.stream_rx(&ssrc)?;
            Some((stream.mid(), stream.rid()))
        })?;
        let Some(found) = found else {
            return Ok(None);
        };
        tracing::debug!(peer = %self.id, ?ssrc, mid = %found.0, rid = ?found.1, "incoming stream");
        // A browser has a handful of SSRCs; a flood of new ones is not kept.
        if self.streams.len() < MAX_STREAMS_PER_PEER {
            self.streams.insert(ssrc, found);
        }
        Ok(Some(found))
    }

    /// When the throttle lets its first owed keyframe request out (`None`: none owed, or
    /// none can be sent: it is not connected, or broken).
    pub fn keyframe_due(&self) -> Option<Instant> {
        if self.broken || !self.connected {
            return None;
        }
        self.keyframe_asked
            .values()
            .filter(|ask| ask.owed)
            .map(|ask| ask.sent + super::KEYFRAME_REQUEST_INTERVAL)
            .min()
    }

    /// Bits per second each camera layer sends (`None`: not arriving now).
    pub fn layer_rates(&self, now: Instant) -> [Option<u64>; 3] {
        let mut out = [None; 3];
        for (rank, layer) in self.layers.iter().enumerate() {
            let fresh = layer
                .last_packet
                .is_some_and(|t| now.saturating_duration_since(t) < super::LAYER_STALE_AFTER);
            if fresh && !layer.paused {
                out[rank] = Some(layer.bitrate.unwrap_or(NOMINAL_BITRATES[rank]).max(1));
            }
        }
        out
    }

    /// The rid that carries a rank, for this publisher.
    pub fn rid_of(&self, rank: Rank) -> Option<Rid> {
        self.layers[rank].rid
    }

    /// The payload type this subscriber's line uses for a codec (its browser chose it).
    pub fn payload_type(
        &mut self,
        mid: Mid,
        codec: Codec,
    ) -> Result<Option<str0m::media::Pt>, Broken> {
        self.inspect("codec_config", |rtc| {
            let media = rtc.media(mid)?;
            rtc.codec_config()
                .params()
                .iter()
                .find(|p| p.spec().codec == codec && media.remote_pts().contains(&p.pt()))
                .map(|p| p.pt())
        })
    }
}

/// SSRCs remembered per peer (a browser sends about seven: audio, three layers, their RTX).
pub const MAX_STREAMS_PER_PEER: usize = 32;

fn drain(
    rtc: &mut Rtc,
    me: PeerIdx,
    transport: &Transport,
    work: &mut Work,
) -> Result<Option<Instant>, str0m::RtcError> {
    loop {
        if !rtc.is_alive() {
            return Ok(None);
        }
        match rtc.poll_output()? {
            Output::Timeout(t) => return Ok(Some(t)),
            Output::Transmit(t) if t.proto == str0m::net::Protocol::Udp => {
                work.outbox.push(t.destination, t.contents.into());
            }
            Output::Transmit(t) => transport.send(t.proto, t.destination, &t.contents),
            Output::Event(e) => work.events.push_back((me, e)),
        }
    }
}

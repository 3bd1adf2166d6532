//! The SFU engine of one meeting room: every participant's WebRTC connection, owned by the
//! room's task, and the forwarding between them.
//!
//! Packets arrive on the room's channel from the media I/O thread ([`super::transport`]).
//! Each goes into its peer's `Rtc`; the RTP that comes out is forwarded right there, in the
//! same loop, to every subscriber slot showing that source: rewritten ([`forward`]), written to
//! the subscriber's `Rtc` and sent. No lock and no channel hop per packet, and a room costs at
//! most one core. Which source each slot shows is decided every [`TICK`] and whenever
//! something changes ([`assign`]): visible tiles and their sizes as the page reports them,
//! simulcast layers and the bandwidth estimate ([`layers`]), the loudest speakers
//! ([`speakers`]).

mod assign;
pub mod delays;
pub mod forward;
pub mod layers;
mod peer;
mod relay;
mod signal;
pub mod speakers;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::bwe::BweKind;
use str0m::media::Mid;
use str0m::net::Receive;
use str0m::{Event, IceConnectionState, Input};
use tokio::sync::mpsc;

use super::Sfu;
use super::transport::{Datagram, ROOM_PACKET_QUEUE};
use crate::video::mesh::protocol::{ServerMessage, SlotShown};
use peer::{Broken, Peer, PeerIdx, SourceKey, Work};
pub use peer::{MediaState, Tile};
use speakers::Speakers;

/// How often slots are reassigned (speakers change, layers come and go) and peers checked.
pub const TICK: Duration = Duration::from_millis(250);
/// A layer with no packet for this long is not there (the browser stopped sending it).
pub const LAYER_STALE_AFTER: Duration = Duration::from_millis(1500);
/// A connected peer with no packet at all for this long is gone: browsers check the
/// connection every 2.5 s and send RTCP every second even when they send no media.
pub const PEER_SILENCE_TIMEOUT: Duration = Duration::from_secs(6);
/// Keyframe requests per publisher layer: at most one this often.
pub const KEYFRAME_REQUEST_INTERVAL: Duration = Duration::from_millis(500);
/// Media lines one browser may offer: microphone, camera, 3 audio and 25 video slots, spare.
pub const MAX_MEDIA_LINES: usize = 32;
/// Packets taken from the room's channel per turn, so signalling is never kept waiting long.
const PACKET_BATCH: usize = 64;
/// Layer bitrates are measured over this window.
const RATE_WINDOW: Duration = Duration::from_secs(1);

/// Why the engine woke up.
pub enum Wake {
    Packets,
    Timer,
}

/// What the room must do after the engine ran: messages to send, peers to drop.
#[derive(Debug, Default)]
pub struct Effects {
    pub messages: Vec<(String, ServerMessage)>,
    /// Peers whose connection failed (ICE timed out, or their engine state broke).
    pub gone: Vec<String>,
}

impl Effects {
    /// Reports a peer gone (once).
    fn lost(&mut self, id: &str) {
        if !self.gone.iter().any(|g| g == id) {
            self.gone.push(id.to_owned());
        }
    }
}

/// The media of one room.
pub struct RoomEngine {
    sfu: Arc<Sfu>,
    packets_tx: mpsc::Sender<Datagram>,
    packets_rx: mpsc::Receiver<Datagram>,
    batch: Vec<Datagram>,
    peers: Vec<Option<Peer>>,
    by_id: HashMap<String, PeerIdx>,
    by_token: HashMap<u64, PeerIdx>,
    /// For each source, the subscriber slots that show it now or are switching to it.
    routes: HashMap<SourceKey, Vec<(PeerIdx, assign::Kind, usize)>>,
    speakers: Speakers<PeerIdx>,
    work: Work,
    effects: Effects,
    /// Slot changes to tell each subscriber's page.
    announce: HashMap<PeerIdx, Vec<(Mid, Option<PeerIdx>)>>,
    dirty: bool,
    next_tick: Instant,
    window_start: Instant,
    /// Wakes and packets since the last rate window (for the debug log).
    wakes: u64,
    packets: u64,
    /// Arrival to hand-over of every forwarded copy.
    delays: delays::Delays,
}

impl RoomEngine {
    pub fn new(sfu: Arc<Sfu>) -> Self {
        let (packets_tx, packets_rx) = mpsc::channel(ROOM_PACKET_QUEUE);
        let now = Instant::now();
        Self {
            sfu,
            packets_tx,
            packets_rx,
            batch: Vec::with_capacity(PACKET_BATCH),
            peers: Vec::new(),
            by_id: HashMap::new(),
            by_token: HashMap::new(),
            routes: HashMap::new(),
            speakers: Speakers::default(),
            work: Work::default(),
            effects: Effects::default(),
            announce: HashMap::new(),
            dirty: false,
            next_tick: now + TICK,
            window_start: now,
            wakes: 0,
            packets: 0,
            delays: delays::Delays::default(),
        }
    }

    fn peer(&mut self, id: &str) -> Option<(PeerIdx, &mut Peer)> {
        let idx = *self.by_id.get(id)?;
        self.peers.get_mut(idx)?.as_mut().map(|p| (idx, p))
    }

    /// Waits for packets or the next timer.
    pub async fn wake(&mut self) -> Wake {
        let deadline = self.deadline();
        tokio::select! {
            _ = self.packets_rx.recv_many(&mut self.batch, PACKET_BATCH) => Wake::Packets,
            _ = tokio::time::sleep_until(deadline.into()) => Wake::Timer,
        }
    }

    /// The earliest timeout any peer asked for, or keyframe request owed. (Handling timers in
    /// coarser steps saves wake-ups but makes the bandwidth estimates of the subscribers drop:
    /// measured, it cost more than it saved.)
    fn deadline(&self) -> Instant {
        self.peers
            .iter()
            .flatten()
            .filter(|p| !p.broken)
            .flat_map(|p| [p.next_timeout, p.keyframe_due()])
            .flatten()
            .fold(self.next_tick, Instant::min)
    }

    /// Handles what woke the engine.
    pub fn handle(&mut self, wake: Wake) -> Effects {
        self.wakes += 1;
        match wake {
            Wake::Packets => {
                self.packets += self.batch.len() as u64;
                let mut batch = std::mem::take(&mut self.batch);
                for datagram in batch.drain(..) {
                    self.receive(datagram);
                    self.run_work();
                }
                self.batch = batch;
            }
            Wake::Timer => {}
        }
        let now = Instant::now();
        self.timeouts(now);
        self.send_owed_keyframes(now);
        self.run_work();
        if now >= self.next_tick {
            self.next_tick = now + TICK;
            self.tick(now);
        }
        self.settle(now);
        self.take_effects()
    }

    fn receive(&mut self, datagram: Datagram) {
        let Some(&idx) = self.by_token.get(&datagram.peer) else {
            return;
        };
        let transport = self.sfu.transport.clone();
        let Some(peer) = self.peers.get_mut(idx).and_then(Option::as_mut) else {
            return;
        };
        if !peer.has_rtc() {
            return;
        }
        let Ok(receive) = Receive::new(
            datagram.proto,
            datagram.source,
            datagram.destination,
            &datagram.data,
        ) else {
            return;
        };
        let input = Input::Receive(datagram.received, receive);
        match peer.inspect("accepts", |rtc| rtc.accepts(&input)) {
            Ok(true) => {}
            Ok(false) => return,
            Err(Broken) => return self.fail(idx),
        }
        if !peer.heard {
            peer.heard = true;
            tracing::debug!(peer = %peer.id, "first media packet");
        }
        peer.last_heard = datagram.received;
        if peer
            .mutate("handle_input", idx, &transport, &mut self.work, |rtc| {
                rtc.handle_input(input)
            })
            .is_err()
        {
            self.fail(idx);
        }
    }

    /// Feeds due timeouts to the peers that asked for them.
    fn timeouts(&mut self, now: Instant) {
        let transport = self.sfu.transport.clone();
        for idx in 0..self.peers.len() {
            let Some(peer) = self.peers[idx].as_mut() else {
                continue;
            };
            if peer.broken || peer.next_timeout.is_none_or(|t| t > now) {
                continue;
            }
            if peer
                .mutate("handle_input", idx, &transport, &mut self.work, |rtc| {
                    rtc.handle_input(Input::Timeout(now))
                })
                .is_err()
            {
                self.fail(idx);
            }
        }
    }

    /// Handles the events drains produced (which may produce more), then sends what is
    /// waiting to go out.
    fn run_work(&mut self) {
        while let Some((idx, event)) = self.work.events.pop_front() {
            self.on_event(idx, event);
        }
        self.sfu.transport.flush(&mut self.work.outbox);
    }

    fn on_event(&mut self, idx: PeerIdx, event: Event) {
        match event {
            Event::RtpPacket(packet) => self.forward(idx, &packet),
            Event::MediaAdded(added) => {
                let transport = self.sfu.transport.clone();
                let Some(peer) = self.peers[idx].as_mut() else {
                    return;
                };
                peer.media_added(&added);
                self.dirty = true;
                if added.direction == str0m::media::Direction::SendOnly {
                    // Forwarded packets leave at once, as they came: a pacer would hold a
                    // keyframe's burst back for tens of milliseconds. The estimate still
                    // comes from the receiver's feedback and caps the layers chosen.
                    let unpaced =
                        peer.mutate("set_unpaced", idx, &transport, &mut self.work, |rtc| {
                            if let Some(stream) = rtc.direct_api().stream_tx_by_mid(added.mid, None)
                            {
                                stream.set_unpaced(true);
                            }
                            Ok(())
                        });
                    if unpaced.is_err() {
                        self.fail(idx);
                    }
                }
            }
            Event::Connected => {
                if let Some(peer) = self.peers[idx].as_mut() {
                    peer.connected = true;
                    tracing::debug!(peer = %peer.id, "media connected");
                }
                // Its slots (and what it publishes) take part from now on; what it was sent
                // before was lost, so its slots start from a keyframe, asked for at once (or
                // when the layer's throttle opens, if others just asked).
                self.dirty = true;
                self.request_slot_keyframes(idx, true);
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) | Event::Closed => {
                self.fail(idx)
            }
            Event::KeyframeRequest(request) => self.subscriber_keyframe(idx, request.mid),
            Event::EgressBitrateEstimate(BweKind::Twcc { estimate, .. }) => {
                if let Some(peer) = self.peers[idx].as_mut() {
                    let estimate = estimate.as_u64();
                    let before = peer.estimate.unwrap_or(0);
                    if estimate.abs_diff(before) > before / 5 {
                        tracing::debug!(peer = %peer.id, estimate, "bandwidth estimate");
                    }
                    peer.estimate = Some(estimate);
                    self.dirty = true;
                }
            }
            Event::StreamPaused(paused) => {
                if let Some(peer) = self.peers[idx].as_mut()
                    && peer.video_in == Some(paused.mid)
                {
                    peer.layers[layers::rank_of(paused.rid.as_deref())].paused = paused.paused;
                    self.dirty = true;
                }
            }
            _ => {}
        }
    }

    /// Marks a peer failed: nothing more is forwarded to or from it, and the room drops it.
    fn fail(&mut self, idx: PeerIdx) {
        if let Some(peer) = self.peers[idx].as_mut() {
            peer.broken = true;
            self.effects.lost(&peer.id);
            self.dirty = true;
        }
    }

    /// Every [`TICK`]: liveness, layer bitrates, and a fresh look at every slot.
    fn tick(&mut self, now: Instant) {
        let measure = now.saturating_duration_since(self.window_start) >= RATE_WINDOW;
        let seconds = now
            .saturating_duration_since(self.window_start)
            .as_secs_f64();
        let mut silent = Vec::new();
        for (idx, peer) in self.peers.iter_mut().enumerate() {
            let Some(peer) = peer else { continue };
            if peer.connected
                && !peer.broken
                && now.saturating_duration_since(peer.last_heard) > PEER_SILENCE_TIMEOUT
            {
                silent.push(idx);
            }
            if measure {
                for layer in &mut peer.layers {
                    layer.bitrate =
                        (layer.bytes > 0).then(|| (layer.bytes as f64 * 8.0 / seconds) as u64);
                    layer.bytes = 0;
                }
            }
        }
        if measure {
            tracing::trace!(
                wakes = self.wakes,
                packets = self.packets,
                peers = self.by_id.len(),
                "media engine over the last {:.1} s",
                seconds
            );
            (self.wakes, self.packets) = (0, 0);
            self.window_start = now;
        }
        for idx in silent {
            tracing::info!(peer = ?self.peers[idx].as_ref().map(|p| &p.id), "no media packets for a while; dropping the peer");
            self.fail(idx);
        }
        self.dirty = true;
        // Switches still waiting for a keyframe ask again (the first request may be lost).
        for sub in 0..self.peers.len() {
            self.request_slot_keyframes(sub, false);
        }
    }

    /// Reassigns slots if anything changed, and queues the page notices.
    fn settle(&mut self, now: Instant) {
        if self.dirty {
            self.dirty = false;
            self.reassign(now);
            self.run_work();
        }
        for (sub, changes) in self.announce.drain() {
            let Some(peer) = self.peers.get(sub).and_then(Option::as_ref) else {
                continue;
            };
            let slots = changes
                .into_iter()
                .map(|(mid, shown)| SlotShown {
                    mid: mid.to_string(),
                    peer: shown
                        .and_then(|p| self.peers.get(p).and_then(Option::as_ref))
                        .map(|p| p.id.clone()),
                })
                .collect();
            self.effects
                .messages
                .push((peer.id.clone(), ServerMessage::SfuSlots { slots }));
        }
    }

    fn take_effects(&mut self) -> Effects {
        self.sfu.transport.flush(&mut self.work.outbox);
        std::mem::take(&mut self.effects)
    }

    /// Number of peers (for tests and the benchmark).
    pub fn peer_count(&self) -> usize {
        self.by_id.len()
    }

    /// Starts measuring forwarding delays afresh.
    pub fn reset_delays(&mut self) {
        self.delays.reset();
    }

    /// What the room forwards now: video slots per layer rank (q, h, f) and the subscribers'
    /// bandwidth estimates (bits per second), for logs and the load benchmark.
    pub fn summary(&self) -> Summary {
        let mut summary = Summary {
            forwarded: self.delays.count(),
            delay_p50: self.delays.quantile(0.5),
            delay_p99: self.delays.quantile(0.99),
            ..Summary::default()
        };
        for peer in self.peers.iter().flatten() {
            for slot in &peer.video_slots {
                if let Some((_, _, rid)) = slot.slot.current() {
                    summary.video_slots_by_layer[layers::rank_of(rid.as_deref())] += 1;
                }
            }
            summary.estimates.extend(peer.estimate);
        }
        summary.estimates.sort_unstable();
        summary
    }
}

/// See [`RoomEngine::summary`].
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub video_slots_by_layer: [usize; 3],
    pub estimates: Vec<u64>,
    /// Copies forwarded since the last [`RoomEngine::reset_delays`], and how long they took
    /// from arrival to hand-over (median, 99th percentile).
    pub forwarded: u64,
    pub delay_p50: Option<std::time::Duration>,
    pub delay_p99: Option<std::time::Duration>,
}

#[cfg(test)]
mod tests;

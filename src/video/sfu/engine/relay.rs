//! The hot path: one incoming RTP packet forwarded to every slot that shows its source
//! (rewritten by [`super::forward`], written to the subscriber's `Rtc` and sent at once), and
//! the keyframe requests that let slots start and switch.

use std::time::Instant;

use str0m::media::{KeyframeRequestKind, Mid};
use str0m::rtp::{ExtensionValues, RtpPacket, RtpWrite, Vp8Descriptor};

use super::forward::{Incoming, Vp8Ids};
use super::peer::{Broken, KeyframeAsk, PeerIdx, SourceKey};
use super::{KEYFRAME_REQUEST_INTERVAL, RoomEngine, layers};

/// What becomes of a keyframe request the throttle holds back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Held {
    /// Dropped: another comes anyway (the tick asks again for slots still switching; browsers
    /// repeat their requests).
    Dropped,
    /// Owed, and sent when the throttle opens (a subscriber that just connected needs one).
    Owed,
}

impl RoomEngine {
    /// Forwards one RTP packet of publisher `from` to every slot showing it.
    pub(super) fn forward(&mut self, from: PeerIdx, packet: &RtpPacket) {
        let Self {
            peers,
            routes,
            speakers,
            work,
            announce,
            sfu,
            effects,
            delays,
            dirty,
            ..
        } = self;
        let now = packet.timestamp;
        let Some(publisher) = peers.get_mut(from).and_then(Option::as_mut) else {
            return;
        };
        if publisher.broken {
            return;
        }
        let (mid, rid) = match publisher.stream_of(packet.header.ssrc) {
            Ok(Some(found)) => found,
            Ok(None) => return,
            Err(Broken) => {
                effects.lost(&publisher.id);
                *dirty = true;
                return;
            }
        };
        let is_audio = publisher.audio_in == Some(mid);
        if is_audio {
            speakers.observe(from, packet.header.ext_vals.audio_level, now);
        } else if publisher.video_in == Some(mid) {
            let layer = &mut publisher.layers[layers::rank_of(rid.as_deref())];
            layer.last_packet = Some(now);
            layer.bytes += packet.payload.len() as u64;
            if layer.rid.is_none() {
                layer.rid = rid;
            }
        } else {
            return;
        }
        let key = (from, mid, rid);
        let Some(slots) = routes.get(&key) else {
            return;
        };
        let descriptor = if is_audio {
            None
        } else {
            match Vp8Descriptor::parse(&packet.payload) {
                Ok(d) => Some(d),
                Err(_) => return,
            }
        };
        let incoming = Incoming {
            seq: *packet.seq_no,
            time: packet.header.timestamp,
            starts_keyframe: descriptor
                .as_ref()
                .is_none_or(|d| d.starts_keyframe(&packet.payload)),
            vp8: descriptor.as_ref().map_or(Vp8Ids::default(), |d| Vp8Ids {
                picture_id: d.picture_id(),
                tl0_pic_idx: d.tl0_pic_idx(),
                key_idx: d.key_idx(),
            }),
            arrived: now,
        };
        for &(sub, kind, slot) in slots {
            let Some(subscriber) = peers.get_mut(sub).and_then(Option::as_mut) else {
                continue;
            };
            if subscriber.broken || !subscriber.connected {
                continue;
            }
            let Some(out_slot) = kind.slots_mut(subscriber).get_mut(slot) else {
                continue;
            };
            let Some(out) = out_slot.slot.forward(key, &incoming) else {
                continue;
            };
            let out_mid = out_slot.mid;
            if out.switched && out_slot.shown != Some(from) {
                out_slot.shown = Some(from);
                announce.entry(sub).or_default().push((out_mid, Some(from)));
            }
            let pt = match kind.payload_type(subscriber, out_mid) {
                Ok(Some(pt)) => pt,
                Ok(None) => continue,
                Err(Broken) => {
                    effects.lost(&subscriber.id);
                    *dirty = true;
                    continue;
                }
            };
            let mut write =
                RtpWrite::new(pt, out.seq.into(), out.time, now, packet.payload.clone())
                    .marker(packet.header.marker);
            if let Some(d) = &descriptor {
                write = write.nackable(true);
                let mut patch = d.patch();
                if let Some(p) = out.vp8.picture_id {
                    patch = patch.picture_id(p);
                }
                if let Some(t) = out.vp8.tl0_pic_idx {
                    patch = patch.tl0_pic_idx(t);
                }
                if let Some(k) = out.vp8.key_idx {
                    patch = patch.key_idx(k);
                }
                if let Ok(patch) = patch.build() {
                    write = write.vp8_patch(patch);
                }
            } else {
                let ext = ExtensionValues {
                    audio_level: packet.header.ext_vals.audio_level,
                    voice_activity: packet.header.ext_vals.voice_activity,
                    ..Default::default()
                };
                write = write.ext_vals(ext);
            }
            let written = subscriber.mutate("write_rtp", sub, &sfu.transport, work, |rtc| {
                if let Some(stream) = rtc.direct_api().stream_tx_by_mid(out_mid, None) {
                    stream.write_rtp(write);
                }
                Ok(())
            });
            match written {
                Ok(()) => delays.record(Instant::now().saturating_duration_since(now)),
                Err(Broken) => {
                    effects.lost(&subscriber.id);
                    *dirty = true;
                }
            }
        }
    }

    /// A subscriber's browser lost a picture: ask the publisher of what that slot shows.
    pub(super) fn subscriber_keyframe(&mut self, sub: PeerIdx, mid: Mid) {
        let source = self.peers[sub].as_ref().and_then(|p| {
            p.video_slots
                .iter()
                .find(|s| s.mid == mid)
                .and_then(|s| s.slot.current().or(s.slot.target()))
        });
        if let Some(source) = source {
            self.request_keyframe(source, Instant::now(), Held::Dropped);
        }
    }

    /// Asks for keyframes for a subscriber's video slots: those switching (a request the
    /// throttle holds back is dropped: the next tick asks again), or, for a subscriber that
    /// just connected, all of them (one held back is owed, and sent when the throttle opens).
    pub(super) fn request_slot_keyframes(&mut self, sub: PeerIdx, all: bool) {
        let sources: Vec<SourceKey> = self.peers[sub]
            .as_ref()
            .map(|p| {
                p.video_slots
                    .iter()
                    .filter(|s| all || s.slot.switching())
                    .filter_map(|s| s.slot.target())
                    .collect()
            })
            .unwrap_or_default();
        let held = if all { Held::Owed } else { Held::Dropped };
        let now = Instant::now();
        for source in sources {
            self.request_keyframe(source, now, held);
        }
    }

    /// Sends the owed keyframe requests whose throttle has opened (see `Peer::keyframe_due`;
    /// those still held stay owed).
    pub(super) fn send_owed_keyframes(&mut self, now: Instant) {
        let mut due = Vec::new();
        for (idx, peer) in self.peers.iter().enumerate() {
            let Some(peer) = peer else { continue };
            if peer.keyframe_due().is_some_and(|t| t <= now) {
                let owed = peer.keyframe_asked.iter().filter(|(_, ask)| ask.owed);
                due.extend(owed.map(|(&(mid, rid), _)| (idx, mid, rid)));
            }
        }
        for source in due {
            self.request_keyframe(source, now, Held::Owed);
        }
    }

    /// Asks a publisher for a keyframe on one layer, at most every
    /// [`KEYFRAME_REQUEST_INTERVAL`]: however many subscribers ask within that window, one
    /// request goes out, and `held` says whether one held back is sent when it opens.
    pub(super) fn request_keyframe(
        &mut self,
        (publisher, mid, rid): SourceKey,
        now: Instant,
        held: Held,
    ) {
        let transport = self.sfu.transport.clone();
        let Some(peer) = self.peers.get_mut(publisher).and_then(Option::as_mut) else {
            return;
        };
        if peer.broken || !peer.connected {
            return;
        }
        if let Some(ask) = peer.keyframe_asked.get_mut(&(mid, rid))
            && now.saturating_duration_since(ask.sent) < KEYFRAME_REQUEST_INTERVAL
        {
            ask.owed |= held == Held::Owed;
            return;
        }
        let ask = KeyframeAsk {
            sent: now,
            owed: false,
        };
        peer.keyframe_asked.insert((mid, rid), ask);
        peer.keyframe_requests += 1;
        let result = peer.mutate(
            "request_keyframe",
            publisher,
            &transport,
            &mut self.work,
            |rtc| {
                // No stream yet for that layer (it has not arrived): nothing to ask.
                if let Some(stream) = rtc.direct_api().stream_rx_by_mid(mid, rid) {
                    stream.request_keyframe(KeyframeRequestKind::Pli);
                }
                Ok(())
            },
        );
        if result.is_err() {
            self.fail(publisher);
        }
    }
}

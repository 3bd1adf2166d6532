//! One outgoing media line of a subscriber ("slot") and the packets it forwards.
//!
//! A slot shows one source at a time: one simulcast layer of one publisher's camera, or one
//! publisher's microphone. When the source changes (another layer, another person), the
//! browser must still see one continuous stream: sequence numbers without gaps or jumps, RTP
//! time moving forward, VP8 picture ids that follow on. So the slot rewrites them: each source
//! run ("epoch") gets its own offsets, chosen so it continues where the previous one stopped.
//! Video switches only at a keyframe of the new source (nothing before it could be decoded);
//! until then the old source keeps flowing.

use std::time::Instant;

/// Sequence numbers after a switch continue from the highest one sent.
const SEQ_STEP: u64 = 1;
/// VP8 picture ids are 15 bits.
const PICTURE_ID_MASK: u16 = 0x7fff;
/// VP8 KEYIDX is 5 bits.
const KEY_IDX_MASK: u8 = 0x1f;

/// VP8 payload descriptor fields that must continue across switches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Vp8Ids {
    pub picture_id: Option<u16>,
    pub tl0_pic_idx: Option<u8>,
    pub key_idx: Option<u8>,
}

/// One incoming packet, as far as forwarding cares.
#[derive(Debug, Clone, Copy)]
pub struct Incoming {
    /// Extended sequence number of the source stream.
    pub seq: u64,
    /// RTP time.
    pub time: u32,
    /// First packet of a keyframe (always true for audio: every packet stands alone).
    pub starts_keyframe: bool,
    pub vp8: Vp8Ids,
    pub arrived: Instant,
}

/// How to send a forwarded packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outgoing {
    pub seq: u64,
    pub time: u32,
    pub vp8: Vp8Ids,
    /// This packet began a new source (the page may want to know who it shows now).
    pub switched: bool,
}

#[derive(Debug, Clone, Copy)]
struct Epoch<S> {
    source: S,
    began: Instant,
    first_seq_in: u64,
    seq_out_minus_in: u64,
    time_offset: u32,
    picture_id_offset: u16,
    tl0_offset: u8,
    key_idx_offset: u8,
}

/// The forwarding state of one slot. `S` names a source (publisher, media line, layer).
#[derive(Debug)]
pub struct Slot<S> {
    clock_rate: u32,
    /// What the slot should show; `None` forwards nothing.
    target: Option<S>,
    epoch: Option<Epoch<S>>,
    /// Highest sequence number sent, and the time and VP8 ids of that packet.
    last: Option<(u64, u32, Vp8Ids, Instant)>,
}

impl<S: Copy + PartialEq> Slot<S> {
    pub fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate,
            target: None,
            epoch: None,
            last: None,
        }
    }

    /// The source wanted now.
    pub fn target(&self) -> Option<S> {
        self.target
    }

    /// The source being forwarded now.
    pub fn current(&self) -> Option<S> {
        self.epoch.map(|e| e.source)
    }

    /// Since when the current source has been forwarded.
    pub fn current_since(&self) -> Option<Instant> {
        self.epoch.map(|e| e.began)
    }

    /// True while a new target waits for its first keyframe.
    pub fn switching(&self) -> bool {
        self.target.is_some() && self.target != self.current()
    }

    /// Asks for another source. `None` stops forwarding at once; a source keeps flowing until
    /// the new one can take over.
    pub fn set_target(&mut self, target: Option<S>) {
        self.target = target;
        if target.is_none() {
            self.epoch = None;
        }
    }

    /// Decides what to do with a packet of `source`: `None` drops it.
    pub fn forward(&mut self, source: S, packet: &Incoming) -> Option<Outgoing> {
        let mut switched = false;
        if Some(source) == self.target && self.current() != self.target {
            if !packet.starts_keyframe {
                // The old source (if any) goes on until the new one can be decoded.
                return self.forward_current(source, packet, false);
            }
            self.epoch = Some(self.begin(source, packet));
            switched = true;
        }
        self.forward_current(source, packet, switched)
    }

    fn forward_current(
        &mut self,
        source: S,
        packet: &Incoming,
        switched: bool,
    ) -> Option<Outgoing> {
        let epoch = self.epoch.filter(|e| e.source == source)?;
        // A late packet from before the switch belongs to frames the browser never saw start.
        if packet.seq < epoch.first_seq_in {
            return None;
        }
        let seq = packet.seq.wrapping_add(epoch.seq_out_minus_in);
        let time = packet.time.wrapping_add(epoch.time_offset);
        let vp8 = Vp8Ids {
            picture_id: packet
                .vp8
                .picture_id
                .map(|p| p.wrapping_add(epoch.picture_id_offset) & PICTURE_ID_MASK),
            tl0_pic_idx: packet
                .vp8
                .tl0_pic_idx
                .map(|t| t.wrapping_add(epoch.tl0_offset)),
            key_idx: packet
                .vp8
                .key_idx
                .map(|k| k.wrapping_add(epoch.key_idx_offset) & KEY_IDX_MASK),
        };
        if self.last.is_none_or(|(last_seq, ..)| seq > last_seq) {
            self.last = Some((seq, time, vp8, packet.arrived));
        }
        Some(Outgoing {
            seq,
            time,
            vp8,
            switched,
        })
    }

    /// Offsets that make `packet` (the first of a new source) follow what was sent last.
    fn begin(&self, source: S, packet: &Incoming) -> Epoch<S> {
        let Some((last_seq, last_time, last_vp8, last_at)) = self.last else {
            // The first source ever: its numbers go out unchanged (starting low enough that
            // the receiver needs no rollover counter signalled).
            return Epoch {
                source,
                began: packet.arrived,
                first_seq_in: packet.seq,
                seq_out_minus_in: (packet.seq & 0x7fff).wrapping_sub(packet.seq),
                time_offset: 0,
                picture_id_offset: 0,
                tl0_offset: 0,
                key_idx_offset: 0,
            };
        };
        let seq_out = last_seq + SEQ_STEP;
        // RTP time moves on by the wall-clock time since the last packet (at least one tick).
        let elapsed = packet.arrived.saturating_duration_since(last_at);
        let ticks = (elapsed.as_secs_f64() * f64::from(self.clock_rate)).max(1.0) as u32;
        let time_out = last_time.wrapping_add(ticks);
        let follow_u16 = |last: Option<u16>, now: Option<u16>, mask: u16| match (last, now) {
            (Some(l), Some(n)) => l.wrapping_add(1).wrapping_sub(n) & mask,
            _ => 0,
        };
        let follow_u8 = |last: Option<u8>, now: Option<u8>| match (last, now) {
            (Some(l), Some(n)) => l.wrapping_add(1).wrapping_sub(n),
            _ => 0,
        };
        Epoch {
            source,
            began: packet.arrived,
            first_seq_in: packet.seq,
            seq_out_minus_in: seq_out.wrapping_sub(packet.seq),
            time_offset: time_out.wrapping_sub(packet.time),
            picture_id_offset: follow_u16(
                last_vp8.picture_id,
                packet.vp8.picture_id,
                PICTURE_ID_MASK,
            ),
            tl0_offset: follow_u8(last_vp8.tl0_pic_idx, packet.vp8.tl0_pic_idx),
            key_idx_offset: follow_u8(last_vp8.key_idx, packet.vp8.key_idx) & KEY_IDX_MASK,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn packet(seq: u64, time: u32, key: bool, pid: u16, at: Instant) -> Incoming {
        Incoming {
            seq,
            time,
            starts_keyframe: key,
            vp8: Vp8Ids {
                picture_id: Some(pid),
                tl0_pic_idx: Some((pid % 256) as u8),
                key_idx: None,
            },
            arrived: at,
        }
    }

    #[test]
    fn nothing_is_forwarded_before_a_keyframe_of_the_target() {
        let t0 = Instant::now();
        let mut slot = Slot::new(90_000);
        slot.set_target(Some("low"));
        assert_eq!(slot.forward("low", &packet(10, 1000, false, 5, t0)), None);
        assert_eq!(slot.forward("high", &packet(99, 1000, true, 5, t0)), None);
        let first = slot.forward("low", &packet(11, 4000, true, 6, t0)).unwrap();
        assert!(first.switched);
        assert_eq!(
            (first.seq, first.time, first.vp8.picture_id),
            (11, 4000, Some(6))
        );
        let next = slot
            .forward("low", &packet(12, 4000, false, 6, t0))
            .unwrap();
        assert!(!next.switched);
        assert_eq!(next.seq, 12);
    }

    #[test]
    fn a_layer_switch_waits_for_a_keyframe_and_continues_every_counter() {
        let t0 = Instant::now();
        let mut slot = Slot::new(90_000);
        slot.set_target(Some("low"));
        for i in 0..5u64 {
            slot.forward(
                "low",
                &packet(100 + i, 3000 * i as u32, i == 0, 40 + i as u16, t0),
            )
            .unwrap();
        }
        // Sent: seq 100..=104, time 12000, picture id 44.
        slot.set_target(Some("high"));
        assert!(slot.switching());
        // The high layer's delta frames are not forwarded; the low layer still is.
        assert_eq!(
            slot.forward("high", &packet(7000, 500_000, false, 9000, t0)),
            None
        );
        let low = slot
            .forward("low", &packet(105, 15000, false, 45, t0))
            .unwrap();
        assert_eq!(low.seq, 105);
        // The high layer's keyframe takes over 40 ms later.
        let at = t0 + Duration::from_millis(40);
        let key = slot
            .forward("high", &packet(7001, 510_000, true, 9001, at))
            .unwrap();
        assert!(key.switched && !slot.switching());
        assert_eq!(key.seq, 106, "no gap, no jump");
        assert_eq!(
            key.time,
            15000 + 3600,
            "time moves on by the 40 ms that passed"
        );
        assert_eq!(key.vp8.picture_id, Some(46));
        assert_eq!(key.vp8.tl0_pic_idx, Some(46));
        // Reordered packets of the new source keep their relative order.
        let later = slot
            .forward("high", &packet(7003, 513_000, false, 9002, at))
            .unwrap();
        let between = slot
            .forward("high", &packet(7002, 510_000, false, 9001, at))
            .unwrap();
        assert_eq!((between.seq, later.seq), (107, 108));
        assert_eq!(later.time, key.time + 3000);
        // The old layer is no longer forwarded, and nothing from before the switch either.
        assert_eq!(
            slot.forward("low", &packet(106, 18000, false, 46, at)),
            None
        );
        assert_eq!(
            slot.forward("high", &packet(7000, 500_000, false, 9000, at)),
            None
        );
    }

    #[test]
    fn picture_ids_wrap_at_fifteen_bits() {
        let t0 = Instant::now();
        let mut slot = Slot::new(90_000);
        slot.set_target(Some(1));
        slot.forward(1, &packet(1, 0, true, 0x7ffe, t0)).unwrap();
        slot.set_target(Some(2));
        let out = slot.forward(2, &packet(50, 0, true, 3, t0)).unwrap();
        assert_eq!(out.vp8.picture_id, Some(0x7fff));
        let out = slot.forward(2, &packet(51, 0, true, 4, t0)).unwrap();
        assert_eq!(out.vp8.picture_id, Some(0));
    }

    #[test]
    fn no_target_stops_at_once_and_a_restart_follows_on() {
        let t0 = Instant::now();
        let mut slot = Slot::new(48_000);
        slot.set_target(Some("alice"));
        slot.forward("alice", &packet(70_000, 960, true, 0, t0))
            .unwrap();
        slot.set_target(None);
        assert_eq!(
            slot.forward("alice", &packet(70_001, 1920, true, 0, t0)),
            None
        );
        slot.set_target(Some("bob"));
        let out = slot
            .forward(
                "bob",
                &packet(5, 77, true, 0, t0 + Duration::from_millis(20)),
            )
            .unwrap();
        // The first source went out below 32768 (no rollover counter to signal); the next
        // follows it.
        assert_eq!(out.seq, (70_000 & 0x7fff) + 1);
        assert_eq!(out.time, 960 + 960);
    }
}

//! What one peer may send the server: a budget of bytes and packets per second, charged for
//! every packet before it reaches the room. A browser sends its three camera layers, its
//! microphone and their control traffic well within it; a client that floods is cut back to
//! it, so it cannot fill its room's queue (which every peer of the room shares) or make the
//! room decrypt more than a real participant would need.

use std::time::Instant;

/// Bytes per second one peer may send: 8 Mbit/s, about three times what a camera's three
/// layers, a shared screen's and the microphone need together (bandwidth probes included).
pub const PEER_INGRESS_BYTES_PER_SEC: f64 = 1_000_000.0;
/// Packets per second one peer may send: media, retransmissions, RTCP and STUN of a browser
/// publishing at full quality stay under a third of it.
pub const PEER_INGRESS_PACKETS_PER_SEC: f64 = 3_000.0;
/// How much of a second's budget may arrive at once (a keyframe is a burst of packets).
const BURST_SECONDS: f64 = 1.0;

/// Token buckets of bytes and packets for one peer.
#[derive(Debug)]
pub struct Budget {
    bytes: f64,
    packets: f64,
    refilled: Instant,
}

impl Budget {
    pub fn new(now: Instant) -> Self {
        Self {
            bytes: PEER_INGRESS_BYTES_PER_SEC * BURST_SECONDS,
            packets: PEER_INGRESS_PACKETS_PER_SEC * BURST_SECONDS,
            refilled: now,
        }
    }

    /// Charges a packet of `len` bytes; false (nothing charged) when the budget is spent.
    pub fn charge(&mut self, len: usize, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.refilled = now;
        self.bytes = (self.bytes + elapsed * PEER_INGRESS_BYTES_PER_SEC)
            .min(PEER_INGRESS_BYTES_PER_SEC * BURST_SECONDS);
        self.packets = (self.packets + elapsed * PEER_INGRESS_PACKETS_PER_SEC)
            .min(PEER_INGRESS_PACKETS_PER_SEC * BURST_SECONDS);
        let len = len as f64;
        if self.packets < 1.0 || self.bytes < len {
            return false;
        }
        self.packets -= 1.0;
        self.bytes -= len;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_flood_is_cut_to_the_budget_and_the_budget_comes_back_with_time() {
        let start = Instant::now();
        let mut budget = Budget::new(start);
        // Small packets: the packet budget binds.
        let passed = (0..10_000).filter(|_| budget.charge(100, start)).count();
        assert_eq!(passed, PEER_INGRESS_PACKETS_PER_SEC as usize);
        // Half a second later, half a second's worth again.
        let later = start + Duration::from_millis(500);
        let passed = (0..10_000).filter(|_| budget.charge(100, later)).count();
        assert_eq!(passed, PEER_INGRESS_PACKETS_PER_SEC as usize / 2);

        // Big packets: the byte budget binds.
        let mut budget = Budget::new(start);
        let passed = (0..10_000).filter(|_| budget.charge(1_200, start)).count();
        assert_eq!(passed, (PEER_INGRESS_BYTES_PER_SEC / 1_200.0) as usize);
    }

    #[test]
    fn a_browser_at_full_quality_stays_well_within_it() {
        // Three layers and the microphone: 2.2 Mbit/s in ~1,100-byte packets, plus 50 audio
        // packets and some RTCP a second, for ten seconds.
        let start = Instant::now();
        let mut budget = Budget::new(start);
        let mut refused = 0;
        for ms in 0..10_000u64 {
            let now = start + Duration::from_millis(ms);
            let video_packets = if ms % 4 == 0 { 1 } else { 0 };
            for _ in 0..video_packets {
                refused += usize::from(!budget.charge(1_100, now));
            }
            if ms % 20 == 0 {
                refused += usize::from(!budget.charge(120, now));
                refused += usize::from(!budget.charge(80, now));
            }
        }
        assert_eq!(refused, 0);
    }
}

//! Which source each subscriber slot shows: video slots follow the page's visible tiles
//! (biggest first) and their sizes, capped by the bandwidth estimate; audio slots follow the
//! loudest speakers. A publisher whose camera is off, who is gone, or whose connection broke
//! is shown nowhere. A publisher keeps the slot it had, so the page's tiles do not shuffle.

use std::time::Instant;

use str0m::bwe::Bitrate;
use str0m::format::Codec;
use str0m::media::{Mid, Pt};

use super::layers::{self, Showing, Want};
use super::peer::{Broken, OutSlot, Peer, PeerIdx, SourceKey};
use super::relay::Held;
use super::{RoomEngine, layers::NOMINAL_BITRATES};

/// Before the page says how big its tiles are, assume thumbnails: the smallest layer starts
/// fastest.
pub const DEFAULT_TILE_HEIGHT: u32 = 180;
/// Bits per second one forwarded audio stream takes (Opus in a call: 32–40 kbit/s).
pub const AUDIO_BITRATE: u64 = 40_000;
/// Share of a subscriber's estimate given to video (the rest absorbs RTCP and estimate noise).
pub const VIDEO_SHARE: f64 = 0.9;
/// The most one publisher's layers may add up to before its top layer is no longer
/// forwarded (the page asks for 2.15 Mbit/s in all).
pub const MAX_PUBLISH_BITRATE: u64 = 4_000_000;
/// The least bandwidth the estimator keeps probing for.
const MIN_DESIRED: u64 = 300_000;
/// Video budget however low the estimate: enough for a half-size spotlight and four
/// thumbnails. An estimate only grows while something is sent, and one made on a busy machine
/// or a bursty link dips far below what the path carries, so below this it is not trusted to
/// leave tiles dark.
pub const BUDGET_FLOOR: u64 = 1_100_000;

/// Audio or video slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Audio,
    Video,
}

impl Kind {
    pub fn slots_mut(self, peer: &mut Peer) -> &mut Vec<OutSlot> {
        match self {
            Kind::Audio => &mut peer.audio_slots,
            Kind::Video => &mut peer.video_slots,
        }
    }

    /// The payload type the subscriber's browser chose for this kind (asked once).
    pub fn payload_type(self, peer: &mut Peer, mid: Mid) -> Result<Option<Pt>, Broken> {
        let (cached, codec) = match self {
            Kind::Audio => (peer.audio_pt, Codec::Opus),
            Kind::Video => (peer.video_pt, Codec::Vp8),
        };
        if cached.is_some() {
            return Ok(cached);
        }
        let pt = peer.payload_type(mid, codec)?;
        match self {
            Kind::Audio => peer.audio_pt = pt,
            Kind::Video => peer.video_pt = pt,
        }
        Ok(pt)
    }
}

impl RoomEngine {
    /// Recomputes every slot's target, the routes and the estimators' goals.
    pub(super) fn reassign(&mut self, now: Instant) {
        let most_audio = self
            .peers
            .iter()
            .flatten()
            .map(|p| p.audio_slots.len())
            .max()
            .unwrap_or(0);
        let loudest = self.speakers.loudest(most_audio + 1, now);
        let mut keyframes = Vec::new();
        for sub in 0..self.peers.len() {
            let Some(peer) = self.peers[sub].as_ref() else {
                continue;
            };
            if peer.broken {
                continue;
            }
            let (video, desired) = self.video_targets(sub, peer, now);
            let audio: Vec<SourceKey> = loudest
                .iter()
                .copied()
                .filter(|&p| p != sub)
                .filter_map(|p| {
                    let publisher = self.publisher(p)?;
                    if !publisher.state.audio {
                        return None;
                    }
                    Some((p, publisher.audio_in?, None))
                })
                .take(peer.audio_slots.len())
                .collect();
            let Some(peer) = self.peers[sub].as_mut() else {
                continue;
            };
            let mut cleared = Vec::new();
            place(&mut peer.audio_slots, &audio, &mut cleared);
            for key in place(&mut peer.video_slots, &video, &mut cleared) {
                tracing::debug!(subscriber = %peer.id, publisher = key.0, rid = ?key.2, "video slot target");
                keyframes.push(key);
            }
            for mid in cleared {
                self.announce.entry(sub).or_default().push((mid, None));
            }
            self.set_desired(sub, desired);
        }
        self.rebuild_routes();
        for key in keyframes {
            self.request_keyframe(key, now, Held::Dropped);
        }
    }

    /// A peer whose media may be forwarded: connected, not failed, with media lines.
    fn publisher(&self, idx: PeerIdx) -> Option<&Peer> {
        self.peers
            .get(idx)?
            .as_ref()
            .filter(|p| p.connected && !p.broken)
    }

    /// The sources a subscriber's video slots should show, and the bitrate it would take.
    fn video_targets(&self, sub: PeerIdx, peer: &Peer, now: Instant) -> (Vec<SourceKey>, u64) {
        let tiles: Vec<(PeerIdx, u32)> = match &peer.layout {
            Some(tiles) => tiles
                .iter()
                .filter_map(|t| self.by_id.get(&t.peer).map(|&i| (i, t.height)))
                .collect(),
            None => (0..self.peers.len())
                .map(|i| (i, DEFAULT_TILE_HEIGHT))
                .collect(),
        };
        let mut shown = Vec::new();
        for (idx, height) in tiles {
            if shown.len() >= peer.video_slots.len() {
                break;
            }
            if idx == sub || shown.iter().any(|(i, _, _)| *i == idx) {
                continue;
            }
            let Some(publisher) = self.publisher(idx) else {
                continue;
            };
            if !(publisher.state.video || publisher.state.screen) {
                continue;
            }
            let Some(mid) = publisher.video_in else {
                continue;
            };
            let rates = capped(publisher.layer_rates(now));
            if rates.iter().all(Option::is_none) {
                continue;
            }
            shown.push((
                idx,
                mid,
                Want {
                    tile_height: height,
                    layers: rates,
                },
            ));
        }
        let wants: Vec<Want> = shown.iter().map(|(_, _, w)| *w).collect();
        let showing: Vec<Option<Showing>> = shown
            .iter()
            .map(|(idx, _, _)| {
                peer.video_slots.iter().find_map(|s| {
                    let current = s.slot.current().filter(|k| k.0 == *idx)?;
                    Some(Showing {
                        rank: layers::rank_of(current.2.as_deref()),
                        held: now.saturating_duration_since(s.slot.current_since()?),
                    })
                })
            })
            .collect();
        let audio = AUDIO_BITRATE * peer.audio_slots.len() as u64;
        let budget = peer.estimate.map(|e| {
            ((e as f64 * VIDEO_SHARE) as u64)
                .saturating_sub(audio)
                .max(BUDGET_FLOOR)
        });
        let ranks = layers::plan(&wants, &showing, budget);
        let desired = audio
            + wants
                .iter()
                .map(|w| NOMINAL_BITRATES[layers::ideal_rank(w.tile_height)])
                .sum::<u64>();
        let keys = shown
            .iter()
            .zip(ranks)
            .filter_map(|((idx, mid, _), rank)| {
                let rid = self.peers[*idx].as_ref()?.rid_of(rank?);
                Some((*idx, *mid, rid))
            })
            .collect();
        (keys, desired)
    }

    /// Tells a subscriber's estimator how much to probe for, when that changed.
    fn set_desired(&mut self, sub: PeerIdx, desired: u64) {
        let desired = desired.max(MIN_DESIRED);
        let transport = self.sfu.transport.clone();
        let Some(peer) = self.peers[sub].as_mut() else {
            return;
        };
        if peer.desired == desired || !peer.has_rtc() || !peer.connected {
            return;
        }
        peer.desired = desired;
        let minimum = Bitrate::bps(MIN_DESIRED);
        let result = peer.mutate("set_bitrate", sub, &transport, &mut self.work, |rtc| {
            rtc.bwe().set_bitrate(minimum, Bitrate::bps(desired));
            Ok(())
        });
        if result.is_err() {
            self.fail(sub);
        }
    }

    /// Every slot's current and next source, so each packet finds its slots in one lookup.
    fn rebuild_routes(&mut self) {
        self.routes.clear();
        for (sub, peer) in self.peers.iter().enumerate() {
            let Some(peer) = peer else { continue };
            for (kind, slots) in [
                (Kind::Audio, &peer.audio_slots),
                (Kind::Video, &peer.video_slots),
            ] {
                for (i, s) in slots.iter().enumerate() {
                    let keys = [s.slot.current(), s.slot.target()];
                    for key in keys.into_iter().flatten() {
                        let entry = self.routes.entry(key).or_default();
                        if !entry.contains(&(sub, kind, i)) {
                            entry.push((sub, kind, i));
                        }
                    }
                }
            }
        }
    }
}

/// A publisher's layers without those over [`MAX_PUBLISH_BITRATE`] (top layer first).
fn capped(mut rates: [Option<u64>; 3]) -> [Option<u64>; 3] {
    for top in (1..3).rev() {
        if rates.iter().flatten().sum::<u64>() <= MAX_PUBLISH_BITRATE {
            break;
        }
        rates[top] = None;
    }
    rates
}

/// Gives each wanted source a slot, keeping the slot a publisher already has. Returns the
/// sources newly targeted (they need a keyframe); media lines that lost their source are
/// added to `cleared`.
fn place(slots: &mut [OutSlot], wanted: &[SourceKey], cleared: &mut Vec<Mid>) -> Vec<SourceKey> {
    let publisher_of = |s: &OutSlot| s.slot.target().or(s.slot.current()).map(|k| k.0);
    let mut taken = vec![false; slots.len()];
    let mut assignment: Vec<Option<SourceKey>> = vec![None; slots.len()];
    let mut homeless = Vec::new();
    for &key in wanted {
        match slots
            .iter()
            .enumerate()
            .find(|(i, s)| !taken[*i] && publisher_of(s) == Some(key.0))
        {
            Some((i, _)) => {
                taken[i] = true;
                assignment[i] = Some(key);
            }
            None => homeless.push(key),
        }
    }
    for key in homeless {
        if let Some(i) = taken.iter().position(|t| !t) {
            taken[i] = true;
            assignment[i] = Some(key);
        }
    }
    let mut new = Vec::new();
    for (slot, target) in slots.iter_mut().zip(assignment) {
        if slot.slot.target() == target {
            continue;
        }
        // Someone else (or no one) from now on: the one shown so far stops at once, before
        // the newcomer's first keyframe, and the page hears so.
        if target.map(|k| k.0) != publisher_of(slot) {
            slot.slot.set_target(None);
            if slot.shown.take().is_some() {
                cleared.push(slot.mid);
            }
        }
        slot.slot.set_target(target);
        if let Some(key) = target {
            new.push(key);
        }
    }
    new
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::video::sfu::engine::forward::Slot;
    use str0m::media::Rid;

    fn slots(n: usize) -> Vec<OutSlot> {
        (0..n)
            .map(|i| OutSlot {
                mid: Mid::from(i.to_string().as_str()),
                slot: Slot::new(90_000),
                shown: None,
            })
            .collect()
    }

    fn key(peer: PeerIdx, rid: &str) -> SourceKey {
        (peer, Mid::from("1"), Some(Rid::from(rid)))
    }

    fn targets(slots: &[OutSlot]) -> Vec<Option<PeerIdx>> {
        slots.iter().map(|s| s.slot.target().map(|k| k.0)).collect()
    }

    #[test]
    fn publishers_keep_their_slot_and_newcomers_take_free_ones() {
        let mut s = slots(3);
        let mut cleared = Vec::new();
        let new = place(&mut s, &[key(7, "q"), key(8, "q")], &mut cleared);
        assert_eq!(new.len(), 2);
        assert_eq!(targets(&s), vec![Some(7), Some(8), None]);
        s[0].shown = Some(7);
        // 8 now first and on a bigger layer, 9 new, 7 gone.
        let new = place(&mut s, &[key(8, "f"), key(9, "q")], &mut cleared);
        assert_eq!(targets(&s), vec![Some(9), Some(8), None]);
        assert_eq!(new, vec![key(9, "q"), key(8, "f")]);
        assert_eq!(
            cleared,
            vec![Mid::from("0")],
            "the page hears 7 is no longer shown there"
        );
        // Nothing changed: nothing new.
        assert!(place(&mut s, &[key(8, "f"), key(9, "q")], &mut cleared).is_empty());
    }

    #[test]
    fn a_publisher_over_the_cap_loses_its_top_layers_first() {
        let rates = [Some(200_000), Some(800_000), Some(2_500_000)];
        assert_eq!(capped(rates), rates);
        let greedy = [Some(200_000), Some(1_000_000), Some(3_500_000)];
        assert_eq!(capped(greedy), [Some(200_000), Some(1_000_000), None]);
        let absurd = [Some(200_000), Some(5_000_000), Some(9_000_000)];
        assert_eq!(capped(absurd), [Some(200_000), None, None]);
    }
}
